"""What schema migration 4 (identity keyed by time bucket) costs an existing vault, beside the import
that filled it, in the same run.

A vault of N generated Telegram messages is imported, put back into version 3's form (each key's
identity alone, migration 4 forgotten), and opened: the open migrates it. Reports the import's time,
the migration's time and CPU, and their ratio; then checks that every key is what a new import gives.

    python benchmarks/migration.py [--messages N] [--quick] [--json OUT]
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def cpu() -> float:
    u = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime + c.ru_utime + c.ru_stime


def main() -> dict[str, object]:
    from common import PASSPHRASE, arguments, kdf, messages
    from datagen import write_telegram

    import vault
    from vault.store import identity

    ap = arguments(__doc__)
    a = ap.parse_args()
    n = messages(a)
    with tempfile.TemporaryDirectory(dir=HERE / "out" if (HERE / "out").is_dir() else None) as tmp:
        d = Path(tmp)
        src = write_telegram(d / "export" / "result.json", n)
        t0 = time.perf_counter()
        with vault.create(d / "vault", PASSPHRASE, kdf=kdf(), kdf_chosen=True) as v:
            assert v.import_path(src).added == n
        imp = time.perf_counter() - t0
        with vault.open(d / "vault", PASSPHRASE) as v:  # back to version 3's form
            c = v.conn
            expect = sorted(bytes(k) for (k,) in c.execute("SELECT uid FROM messages"))
            c.execute("BEGIN")
            c.execute(f"UPDATE messages SET uid = substr(uid, {identity.PREFIX + 1})")
            c.execute("DELETE FROM migrations WHERE version = 4")
            c.execute("COMMIT")
        t0, c0 = time.perf_counter(), cpu()
        with vault.open(d / "vault", PASSPHRASE) as v:
            mig, mig_cpu = time.perf_counter() - t0, cpu() - c0
            got = sorted(bytes(k) for (k,) in v.conn.execute("SELECT uid FROM messages"))
        assert got == expect, "the migration gave other keys than an import does"
    res = {
        "benchmark": "migration 4",
        "messages": n,
        "import_s": round(imp, 2),
        "migration_s": round(mig, 2),
        "migration_cpu_s": round(mig_cpu, 2),
        "ratio_to_import": round(mig / imp, 3),
    }
    print(
        f"{n:,} messages: import {res['import_s']} s; migration 4 {res['migration_s']} s"
        f" (CPU {res['migration_cpu_s']} s), {res['ratio_to_import']:.1%} of the import"
    )
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
