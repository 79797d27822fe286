"""Import benchmark: talkvault vs a bare baseline on the same generated Telegram export.

Baseline (same process tree, same file): stream-parse with ijson, insert into an unencrypted stdlib
sqlite3 table with a plain FTS5 unicode61 index, in one transaction. Each side runs in its own
subprocess so its peak RSS is its own. Prints messages/s, peak RSS and the ratio of the two times.

    python benchmarks/import.py [--messages N] [--quick] [--format telegram|whatsapp] [--repeat R]
                                [--before TREE] [--json OUT]

With --before, another checkout's import runs in the same rounds (before/after on one file). Each side
reports its best round, median and range, and its median CPU time (the process and the children it
waited for: the parse-ahead child counts).
Targets (issue: vault core): ratio <= 1.5; peak RSS <= 250 MB at any N. talkvault's peak RSS is
its own plus that of the parsing child a big import starts (vault/operations/parse_ahead.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

# A child's own peak memory: VmHWM (ru_maxrss is inherited across exec on Linux).
PEAK = r"""
def peak_kb():
    try:
        with open("/proc/self/status") as fh:
            return next(int(x.split()[1]) for x in fh if x.startswith("VmHWM"))
    except OSError:
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

def cpu_s():
    # CPU seconds of this process and of the children it has waited for (the parse-ahead child)
    import resource as _r, time as _t
    c = _r.getrusage(_r.RUSAGE_CHILDREN)
    return _t.process_time() + c.ru_utime + c.ru_stime
"""

BASELINE = (
    PEAK
    + r"""
import ijson, resource, sqlite3, sys, time
src, db = sys.argv[1], sys.argv[2]
items = sys.argv[3] if len(sys.argv) > 3 else "messages.item"  # "chats.list.item.messages.item": a whole account
t, c0 = time.perf_counter(), cpu_s()
con = sqlite3.connect(db, isolation_level=None)
con.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, ts INTEGER, sender TEXT, text TEXT)")
con.execute("CREATE VIRTUAL TABLE fts USING fts5(text, content='messages', content_rowid='id', tokenize='unicode61')")
con.execute("BEGIN")
n = 0
with open(src, "rb") as fh:
    for m in ijson.items(fh, items):
        text = m.get("text") if isinstance(m.get("text"), str) else ""
        row = (int(m["date_unixtime"]), m.get("from"), text)
        cur = con.execute("INSERT INTO messages(ts, sender, text) VALUES (?, ?, ?)", row)
        con.execute("INSERT INTO fts(rowid, text) VALUES (?, ?)", (cur.lastrowid, text))
        n += 1
con.execute("COMMIT")
con.close()
print(n, time.perf_counter() - t, peak_kb(), cpu_s() - c0)
"""
)

TALKVAULT = (
    PEAK
    + r"""
import resource, sys, time
import vault
from vault.store.keys import KdfParams
src, path = sys.argv[1], sys.argv[2]

# The parsing child of a big import (vault/operations/parse_ahead.py) counts too: its VmHWM, sampled while
# it runs, is added to ours (ru_maxrss of children would include our own size at the fork).
import os, threading
child_peak, done = [0], threading.Event()
def sample_children():
    me = f"\nPPid:\t{os.getpid()}\n"
    while not done.is_set():
        for d in os.listdir("/proc"):
            try:
                st = open(f"/proc/{d}/status").read() if d.isdigit() else ""
            except OSError:
                continue
            if me in st and "VmHWM:" in st:
                child_peak[0] = max(child_peak[0], int(st.split("VmHWM:")[1].split()[0]))
        done.wait(0.1)
threading.Thread(target=sample_children, daemon=True).start()
with vault.create(path, "benchmark", kdf=KdfParams(1, 8, 1), kdf_chosen=True, allow_weak_passphrase=True) as v:
    t, c0 = time.perf_counter(), cpu_s()
    r = v.import_path(src)
    dt, cpu = time.perf_counter() - t, cpu_s() - c0
done.set()
print(r.added, dt, peak_kb() + child_peak[0], cpu)
"""
)


def run(code: str, *args: str) -> tuple[int, float, float]:
    n, dt, rss, _ = run_cpu(code, *args)
    return n, dt, rss


def run_cpu(code: str, *args: str, pythonpath: str | None = None) -> tuple[int, float, float, float | None]:
    """(count, timed wall seconds, peak RSS MB, CPU seconds of the timed part or None) of one snippet run
    with this tree (or `pythonpath`) first on the path."""
    env = {"PYTHONPATH": pythonpath or str(HERE.parent)}
    import os

    # cwd: the tree itself, since "python -c" puts the working directory first on the path (run from
    # another checkout, its code would be imported instead of the one asked for).
    tree = pythonpath or str(HERE.parent)
    out = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env={**os.environ, **env}, cwd=tree
    )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    n, dt, rss, *cpu = out.stdout.split()
    return int(n), float(dt), int(rss) / 1024, float(cpu[0]) if cpu else None


def main() -> dict[str, object]:
    import statistics

    from common import arguments, messages

    ap = arguments(__doc__)
    ap.add_argument("--format", choices=["telegram", "whatsapp"], default="telegram")
    ap.add_argument("--repeat", type=int, default=2, help="rounds of baseline and talkvault, interleaved; best counts")
    ap.add_argument("--before", metavar="TREE", help="another checkout of talkvault, run in the same rounds")
    a = ap.parse_args()
    n = messages(a)
    from datagen import write_telegram, write_whatsapp

    sides: dict[str, list[tuple[int, float, float, float | None]]] = {"baseline": [], "talkvault": []}
    if a.before:
        sides["before"] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t = time.perf_counter()
        if a.format == "telegram":
            src, baseline = write_telegram(d / "export" / "result.json", n), BASELINE
        else:
            src, baseline = write_whatsapp(d / "WhatsApp Chat with Benchmark.txt", n), WA_BASELINE
        gen = time.perf_counter() - t
        # Interleaved rounds: a slow spell of this shared machine falls on every side alike; the best
        # round of each side is its figure, the median and range beside it.
        for _ in range(a.repeat):
            sides["baseline"].append(run_cpu(baseline, str(src), str(d / "baseline.db")))
            (d / "baseline.db").unlink()
            if a.before:
                sides["before"].append(run_cpu(TALKVAULT, str(src), str(d / "vault"), pythonpath=a.before))
                shutil.rmtree(d / "vault")
            sides["talkvault"].append(run_cpu(TALKVAULT, str(src), str(d / "vault")))
            shutil.rmtree(d / "vault")
        size = src.stat().st_size
    best = {k: min(v, key=lambda r: r[1]) for k, v in sides.items()}
    wall = {k: statistics.median(r[1] for r in v) for k, v in sides.items()}
    cpu = {k: statistics.median(r[3] or 0.0 for r in v) for k, v in sides.items()}
    base_n, base_t = best["baseline"][0], best["baseline"][1]
    tv_n, tv_t = best["talkvault"][0], best["talkvault"][1]
    res: dict[str, object] = {
        "benchmark": f"import ({a.format})",
        "messages": n,
        "export_mb": round(size / 2**20, 1),
        "generate_s": round(gen, 1),
        "baseline_s": round(base_t, 2),
        "talkvault_s": round(tv_t, 2),
        "baseline_rounds_s": [round(r[1], 2) for r in sides["baseline"]],
        "talkvault_rounds_s": [round(r[1], 2) for r in sides["talkvault"]],
        "baseline_cpu_s": round(cpu["baseline"], 2),
        "talkvault_cpu_s": round(cpu["talkvault"], 2),
        "talkvault_msgs_per_s": round(tv_n / tv_t),
        "baseline_msgs_per_s": round(base_n / base_t),
        "ratio": round(tv_t / base_t, 2),
        "median_ratio": round(wall["talkvault"] / wall["baseline"], 2),
        "cpu_ratio": round(cpu["talkvault"] / cpu["baseline"], 2) if cpu["baseline"] else None,
        "target_ratio": 1.5,
        "talkvault_peak_rss_mb": round(max(r[2] for r in sides["talkvault"])),
        "baseline_peak_rss_mb": round(max(r[2] for r in sides["baseline"])),
        "target_rss_mb": 250,
    }
    if a.before:
        b = sides["before"]
        res["before_s"] = round(best["before"][1], 2)
        res["before_rounds_s"] = [round(r[1], 2) for r in b]
        res["before_cpu_s"] = round(cpu["before"], 2)
        res["before_ratio"] = round(best["before"][1] / base_t, 2)
        res["before_median_ratio"] = round(wall["before"] / wall["baseline"], 2)
        res["before_cpu_ratio"] = round(cpu["before"] / cpu["baseline"], 2) if cpu["baseline"] else None
        assert best["before"][0] == n, (best["before"][0], n)
    assert tv_n == n and base_n == n, (tv_n, base_n, n)
    print(json.dumps(res, indent=2))
    print("side        best s  ratio  median s (range)        ratio   CPU s  ratio")
    for k, v in sides.items():
        secs = [r[1] for r in v]
        print(
            f"{k:10} {min(secs):7.2f} {min(secs) / base_t:6.2f}x {wall[k]:8.2f} ({min(secs):.2f}-{max(secs):.2f})"
            f" {wall[k] / wall['baseline']:8.2f}x {cpu[k]:7.2f} {cpu[k] / (cpu['baseline'] or 1):5.2f}x"
        )
    from common import write_results

    write_results(f"import-{a.format}", [res])
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return res


WA_BASELINE = (
    PEAK
    + r"""
import re, resource, sqlite3, sys, time
src, db = sys.argv[1], sys.argv[2]
t, c0 = time.perf_counter(), cpu_s()
con = sqlite3.connect(db, isolation_level=None)
con.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, ts TEXT, sender TEXT, text TEXT)")
con.execute("CREATE VIRTUAL TABLE fts USING fts5(text, content='messages', content_rowid='id', tokenize='unicode61')")
con.execute("BEGIN")
head = re.compile(r"^(\d\d/\d\d/\d{4}, \d\d:\d\d) - ([^:]+): (.*)$")
n = 0
with open(src, encoding="utf-8") as fh:
    for line in fh:
        m = head.match(line.rstrip("\n"))
        if not m:
            continue
        cur = con.execute("INSERT INTO messages(ts, sender, text) VALUES (?, ?, ?)", m.groups())
        con.execute("INSERT INTO fts(rowid, text) VALUES (?, ?)", (cur.lastrowid, m.group(3)))
        n += 1
con.execute("COMMIT")
con.close()
print(n, time.perf_counter() - t, peak_kb(), cpu_s() - c0)
"""
)

if __name__ == "__main__":
    main()
