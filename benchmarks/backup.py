"""Backup benchmark: `backup` and `verify` of a generated vault, each against `cp` of vault.db in the same run.

The vault is common.build_vault(N): a Telegram export of N messages (datagen.write_telegram)
imported with a weak KDF (the key derivation is not what is measured), cached under
benchmarks/out/. Then, in one subprocess (so that its peak RSS is its own): `cp vault.db` (best of
3), `cp` + fsync of the copy, `Vault.backup` into a directory (the online-backup snapshot, the
container, and the full verification of the file before it is renamed), and `verify` of that file
with the passphrase (trailer, every page's HMAC, integrity_check, FTS5 integrity-check, counts).
Prints JSON figures like benchmarks/import.py and writes benchmarks/out/backup.json for run.py.

    python benchmarks/backup.py [--messages N] [--quick] [--json OUT]
Target (issue 10): backup and verify each <= 3x cp.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

MEASURE = r"""
import json, os, resource, subprocess, sys, time
from pathlib import Path
import vault
from vault import backup as vb
path, out, passphrase = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
out.mkdir()
db = path / "vault.db"
copy = out.parent / "cp-vault.db"

def cp() -> float:
    copy.unlink(missing_ok=True)
    t = time.perf_counter()
    subprocess.run(["cp", str(db), str(copy)], check=True)
    return time.perf_counter() - t

cp_s = min(cp() for _ in range(3))
t = time.perf_counter()
subprocess.run(["cp", str(db), str(copy)], check=True)
fd = os.open(copy, os.O_RDONLY)
os.fsync(fd)
os.close(fd)
cp_fsync_s = time.perf_counter() - t
copy.unlink()

stages = {}
def timed(name, fn):
    def run(*a, **kw):
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            stages[name] = stages.get(name, 0.0) + time.perf_counter() - t0
    return run

vb._read_ciphertext = timed("start_copy", vb._read_ciphertext)

vb._verify_into = timed("verify_before_rename", vb._verify_into)
with vault.open(path, passphrase) as v:
    t = time.perf_counter()
    res = v.backup(out)
    backup_s = time.perf_counter() - t
backup_stages = dict(stages)
stages.clear()
t = time.perf_counter()
rep = vb.verify(res["path"], passphrase, work_dir=out.parent)
verify_s = time.perf_counter() - t
assert rep.ok, rep.problems
print(json.dumps({
    "cp_s": cp_s, "cp_fsync_s": cp_fsync_s, "backup_s": backup_s, "verify_s": verify_s,
    "backup_stages": backup_stages, "db_bytes": db.stat().st_size, "backup_bytes": res["bytes"],
    "messages": res["messages"], "peak_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
}))
"""


def run(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout


def main() -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100,000 messages")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    a = ap.parse_args()
    n = 100_000 if a.quick else a.messages
    from common import PASSPHRASE, build_vault, write_results

    path, _ = build_vault(n)
    with tempfile.TemporaryDirectory() as tmp:
        m = json.loads(run(MEASURE, str(path), str(Path(tmp) / "backups"), PASSPHRASE))
    res = {
        "benchmark": "backup and verify",
        "messages": n,
        "vault_mb": round(m["db_bytes"] / 2**20, 1),
        "backup_mb": round(m["backup_bytes"] / 2**20, 1),
        "cp_s": round(m["cp_s"], 3),
        "cp_fsync_s": round(m["cp_fsync_s"], 3),
        "backup_s": round(m["backup_s"], 2),
        "backup_stages_s": {k: round(v, 2) for k, v in m["backup_stages"].items()},
        "verify_s": round(m["verify_s"], 2),
        "backup_mb_per_s": round(m["db_bytes"] / 2**20 / m["backup_s"], 1),
        "verify_mb_per_s": round(m["backup_bytes"] / 2**20 / m["verify_s"], 1),
        "backup_ratio_to_cp": round(m["backup_s"] / m["cp_s"], 1),
        "verify_ratio_to_cp": round(m["verify_s"] / m["cp_s"], 1),
        "backup_ratio_to_cp_fsync": round(m["backup_s"] / m["cp_fsync_s"], 1),
        "verify_ratio_to_cp_fsync": round(m["verify_s"] / m["cp_fsync_s"], 1),
        "target_ratio": 3,
        "peak_rss_mb": round(m["peak_rss_kb"] / 1024),
    }
    assert m["messages"] == n, (m["messages"], n)
    st = res["backup_stages_s"]
    rows = [
        {
            "benchmark": f"backup ({n:,} msgs, {res['vault_mb']} MB)",
            "figure": f"{res['backup_s']} s (snapshot {st.get('snapshot')} s, verify before rename "
            f"{st.get('verify_before_rename')} s; peak RSS {res['peak_rss_mb']} MB)",
            "baseline": f"cp {res['cp_s']} s (+fsync {res['cp_fsync_s']} s)",
            "ratio": res["backup_ratio_to_cp"],
            "target": "<= 3x cp",
            "met": res["backup_ratio_to_cp"] <= 3,
        },
        {
            "benchmark": f"verify ({n:,} msgs)",
            "figure": f"{res['verify_s']} s",
            "baseline": f"cp {res['cp_s']} s (+fsync {res['cp_fsync_s']} s)",
            "ratio": res["verify_ratio_to_cp"],
            "target": "<= 3x cp",
            "met": res["verify_ratio_to_cp"] <= 3,
        },
    ]
    write_results("backup", rows)
    print(json.dumps(res, indent=2))
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
