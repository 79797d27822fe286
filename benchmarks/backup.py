"""Backup benchmark: `backup` and `verify` of a generated vault, each against `cp` of vault.db in the same run.

The vault is common.build_vault(N): a Telegram export of N messages (datagen.write_telegram)
imported with a weak KDF (the key derivation is not what is measured), cached under
benchmarks/out/. Then, in one subprocess (so that its peak RSS is its own): `cp vault.db` (best of
3), `cp` + fsync of the copy, `Vault.backup` into a directory (the consistent copy with every page's
HMAC checked on the way in, and the fsync before it is renamed), and `verify` of that file
with the passphrase (trailer, every page's HMAC, integrity_check, FTS5 integrity-check, counts).
Two floors are measured beside them: HMAC-SHA512 of every page in memory (the least a backup that
authenticates its pages can cost in Python) and SQLite's integrity_check of the same database
unencrypted (the least a verify that runs it can cost).
Prints JSON figures like benchmarks/import.py and writes benchmarks/out/backup.json for run.py.

    python benchmarks/backup.py [--messages N] [--quick] [--json OUT]
Target (issue 10): backup and verify each <= 3x cp.
"""

from __future__ import annotations

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
from vault.operations import backup as vb
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

with vault.open(path, passphrase) as v:
    t = time.perf_counter()
    res = v.backup(out)
    backup_s = time.perf_counter() - t
backup_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the peak so far: the backup's
t = time.perf_counter()
rep = vb.verify(res["path"], passphrase, work_dir=out.parent)
verify_s = time.perf_counter() - t
assert rep.ok, rep.problems
peak_rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before the floors below

# Floors: what any backup that authenticates every page, and any verify that runs SQLite's
# integrity_check, must spend, whoever writes it. (1) HMAC-SHA512 of every page, as SQLCipher
# defines it, over the file already in memory. (2) integrity_check of the same database
# unencrypted (synthetic benchmark data, in the benchmark's temporary directory), with stdlib sqlite3.
import hashlib, hmac as _hmac, sqlite3
key = os.urandom(32)
hmac_s = 0.0
with open(db, "rb") as fh:
    while chunk := fh.read(1 << 20):
        t = time.perf_counter()
        proto = _hmac.new(key, None, "sha512")
        view = memoryview(chunk)
        for off in range(0, len(chunk), 4096):
            m = proto.copy(); m.update(view[off:off + 4032]); m.digest()
        hmac_s += time.perf_counter() - t
plain = out.parent / "plain.db"
with vault.open(path, passphrase) as v:
    v.conn.execute(f"ATTACH DATABASE '{plain}' AS plain KEY ''")
    v.conn.execute("SELECT sqlcipher_export('plain')").fetchall()
    v.conn.execute("DETACH DATABASE plain")
con = sqlite3.connect(plain)
t = time.perf_counter()
assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
plain_check_s = time.perf_counter() - t
con.close()
plain.unlink()
print(json.dumps({
    "floor_hmac_s": hmac_s, "floor_plain_integrity_check_s": plain_check_s,
    "cp_s": cp_s, "cp_fsync_s": cp_fsync_s, "backup_s": backup_s, "verify_s": verify_s,
    "db_bytes": db.stat().st_size, "backup_bytes": res["bytes"],
    "messages": res["messages"], "peak_rss_kb": peak_rss_kb, "backup_rss_kb": backup_rss_kb,
}))
"""


def run(code: str, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    out = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return out.stdout


def main() -> dict[str, object]:
    from common import arguments, messages

    ap = arguments(__doc__)
    a = ap.parse_args()
    n = messages(a)
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
        "verify_s": round(m["verify_s"], 2),
        "backup_mb_per_s": round(m["db_bytes"] / 2**20 / m["backup_s"], 1),
        "verify_mb_per_s": round(m["backup_bytes"] / 2**20 / m["verify_s"], 1),
        "backup_ratio_to_cp": round(m["backup_s"] / m["cp_s"], 1),
        "verify_ratio_to_cp": round(m["verify_s"] / m["cp_s"], 1),
        "backup_ratio_to_cp_fsync": round(m["backup_s"] / m["cp_fsync_s"], 1),
        "verify_ratio_to_cp_fsync": round(m["verify_s"] / m["cp_fsync_s"], 1),
        "floor_hmac_every_page_s": round(m["floor_hmac_s"], 2),
        "floor_plain_integrity_check_s": round(m["floor_plain_integrity_check_s"], 2),
        "target_ratio": 3,
        "peak_rss_mb": round(m["peak_rss_kb"] / 1024),
        "backup_peak_rss_mb": round(m["backup_rss_kb"] / 1024),
    }
    assert m["messages"] == n, (m["messages"], n)
    rows = [
        {
            "benchmark": f"backup ({n:,} msgs, {res['vault_mb']} MB)",
            "figure": f"{res['backup_s']} s (peak RSS {res['backup_peak_rss_mb']} MB)",
            "baseline": f"cp {res['cp_s']} s (+fsync {res['cp_fsync_s']} s); floor: HMAC of every page "
            f"{res['floor_hmac_every_page_s']} s",
            "ratio": res["backup_ratio_to_cp"],
            "target": "<= 3x cp",
            "met": res["backup_ratio_to_cp"] <= 3,
        },
        {
            "benchmark": f"verify ({n:,} msgs)",
            "figure": f"{res['verify_s']} s (peak RSS {res['peak_rss_mb']} MB)",
            "baseline": f"cp {res['cp_s']} s; floor: integrity_check of the same db unencrypted "
            f"{res['floor_plain_integrity_check_s']} s",
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
