"""Where the import time goes: the baseline of benchmarks/import.py, then the same loop with each
thing talkvault must do added in turn, all on one generated Telegram export in one run.

    B0  baseline: ijson, unencrypted stdlib sqlite3, FTS5 unicode61, one transaction
    B1  + encryption: the same rows through SQLCipher in raw-key mode with the vault's pragmas
        (vault/store/db.py: secure_delete, synchronous FULL, rollback journal) and a contentless FTS5
        table with secure-delete on (deletion that really deletes, security.md)
    B2  + search in every language: the FTS body is vault/normalize.index_text (NFKC, OpenCC
        traditional-to-simplified, case and diacritic folding, CJK bigrams)
    B3  + identity and dedup: a 128-bit identity hash per message under a UNIQUE index (the same
        export twice adds nothing), and time-ordered ids (newest-first search walks rowids)
    W0  only the writes of a vault import, into the vault's own schema with ingest's SQL, one execute
        per row (the writer before issue 22); all the rest done beforehand, untimed
    W   the same writes through the vault's own batched writer (Ingestor._flush: executemany per
        batch in a SAVEPOINT, bytes bound as bytearray, NULL literals): the least a single writer
        needs, whatever runs beside it
    WR  W with the identity keyed as before schema 4 (random 128-bit keys under the UNIQUE index)
        instead of by time bucket (vault/store/identity.py); with --cache-kib 2048 at 300,000
        messages, W and WR show what the key layout does at 10M (the index 33 times the cache)
    TV0 with --before TREE: the import of another checkout (the code before a change), same rounds
    TV  talkvault's own import (Vault.import_path)

Each row runs in its own subprocess. Every step from B1 on is a requirement of the design, not a
choice of implementation: B3/B0 is the floor for an import in one process on these parts, and W/B0
the floor for one that moves everything but the writes to another core. Issue 2's ratio target
(<= 1.5) is measured against B0.

    python benchmarks/import_floor.py [--messages N] [--quick] [--repeat R] [--stages B0,W0,W,WR,TV]
                                      [--before TREE] [--cache-kib K] [--json OUT]

Each stage reports its best round, its median and range, and its median CPU time (the process and
the children it waited for: talkvault's parse-ahead child counts) beside the wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from importlib import import_module  # noqa: E402

_imp = import_module("import")  # benchmarks/import.py (a keyword as a module name)

STAGE = (
    _imp.PEAK
    + r"""
import hashlib, os, sys, time
import ijson
from vault.store import db
from vault.text import normalize
from vault.store.schema import FTS_TOKENIZE
src, path, stage = sys.argv[1], sys.argv[2], int(sys.argv[3])
t, c0 = time.perf_counter(), cpu_s()
db.create_file(path)
con = db.connect(path, os.urandom(32))
con.execute(
    "CREATE TABLE messages (id INTEGER PRIMARY KEY, uid BLOB" + (" NOT NULL UNIQUE" if stage >= 3 else "")
    + ", ts INTEGER, sender TEXT, text TEXT)"
)
con.execute(f"CREATE VIRTUAL TABLE fts USING fts5(body, content='', tokenize=\"{FTS_TOKENIZE}\")")
con.execute("INSERT INTO fts(fts, rank) VALUES ('secure-delete', 1)")
con.execute("BEGIN")
n = 0
last = {}
with open(src, "rb") as fh:
    for m in ijson.items(fh, "messages.item"):
        text = m.get("text") if isinstance(m.get("text"), str) else ""
        ts = int(m["date_unixtime"])
        sender = m.get("from")
        uid = rowid = None
        if stage >= 3:
            uid = hashlib.blake2b(f"{m.get('id')}:{sender}:{text}".encode(), digest_size=16).digest()
            base = ts * 1000 * 65536
            rowid = last[base] = last.get(base, base - 1) + 1
            if len(last) > 4096:
                last.clear()
        cur = con.execute("INSERT INTO messages(id, uid, ts, sender, text) VALUES (?, ?, ?, ?, ?)",
                          (rowid, uid, ts, sender, text))
        body = normalize.index_text(text) if stage >= 2 else text
        if body:
            con.execute("INSERT INTO fts(rowid, body) VALUES (?, ?)", (cur.lastrowid, body))
        n += 1
con.execute("COMMIT")
con.close()
print(n, time.perf_counter() - t, peak_kb(), cpu_s() - c0)
"""
)

# W: only the writes a vault import must make, into the vault's own schema (vault/store/schema.py: the
# messages table with its identity, chat and sender indexes, the contentless secure-delete FTS
# table), with the same SQL as vault/operations/ingest.py. Everything else (parsing, normalising, hashing,
# ids) is done first for each chunk of rows and is not timed: this is the time a writer would
# need if all the rest ran on the other core for free.
WRITES = (
    _imp.PEAK
    + r"""
import hashlib, itertools, os, sys, time
from zoneinfo import ZoneInfo
import ijson
from vault.store import db, identity, schema
from vault.text import normalize
from vault.operations import ingest
from vault.operations.ingest import FileReport, Ingestor
src, path, batched, keyed = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4] == "1"
cache_kib = int(sys.argv[5])
db.create_file(path)
con = db.connect(path, os.urandom(32))
if cache_kib:  # a smaller page cache: N messages with cache C behave like N*k with k*C (the 10M simulation)
    con.execute(f"PRAGMA cache_size = -{cache_kib}")
for version in sorted(schema.MIGRATIONS):
    for stmt in schema.MIGRATIONS[version]:
        stmt(con) if callable(stmt) else con.execute(stmt)
con.execute("INSERT INTO imports(id, format, file_name, started, status) VALUES (1, 'b', 'b', 'b', 'running')")
con.execute("INSERT INTO chats(id, source, key, title, kind) VALUES (1, 'b', 'b', 'b', 'group')")
people, last, n, timed, cpu = {}, {}, 0, 0.0, 0.0
con.execute("BEGIN")
ing = Ingestor(con, mac_key=os.urandom(32), import_id=1, source="b", tz=ZoneInfo("UTC"), report=FileReport("b"))
with open(src, "rb") as fh:
    items = ijson.items(fh, "messages.item")
    while chunk := list(itertools.islice(items, 20000)):
        rows = []
        for m in chunk:
            text = m.get("text") if isinstance(m.get("text"), str) else ""
            sender = m.get("from")
            if sender not in people:
                people[sender] = len(people) + 1
                con.execute("INSERT INTO people(id, source, key, name) VALUES (?, 'b', ?, ?)",
                            (people[sender], sender, sender))
            ts_ms = int(m["date_unixtime"]) * 1000
            base = ts_ms * 65536
            rowid = last[base] = last.get(base, base - 1) + 1
            uid = hashlib.blake2b(f"{m.get('id')}".encode(), digest_size=16).digest()
            key = identity.key(ts_ms, uid) if keyed else uid  # time-bucketed, or random as before schema 4
            row = [rowid, key, 1, people[sender], ts_ms, "text", 0, None, text, str(m.get("id")), 1]
            body = normalize.index_text(text)
            rows.append(ingest._Pending(None, "b", body, Ingestor._INSERT_LEAN, row, ts_ms, uid, 1, people[sender],
                                        "b", False) if batched else (row, body))
        t, c0 = time.perf_counter(), time.process_time()
        if batched:  # the vault's writer itself: batches of ingest.BATCH through Ingestor._flush
            for i in range(0, len(rows), ingest.BATCH):
                ing._batch = rows[i : i + ingest.BATCH]
                ing._flush()
        else:  # the writer before issue 22: one execute per row, bytes and None bound
            for row, body in rows:
                con.execute(Ingestor._INSERT_LEAN, row)
                if body:
                    con.execute("INSERT INTO fts(rowid, body) VALUES (?, ?)", (row[0], body))
        timed += time.perf_counter() - t
        cpu += time.process_time() - c0
        n += len(rows)
t, c0 = time.perf_counter(), time.process_time()
con.execute("COMMIT")
timed += time.perf_counter() - t
cpu += time.process_time() - c0
assert not batched or ing.report.added == n, (ing.report.added, n)
con.close()
print(n, timed, peak_kb(), cpu)
"""
)

LABELS = {
    "B0": "baseline (ijson, sqlite3, FTS5 unicode61)",
    "B1": "+ SQLCipher raw key, vault pragmas, secure-delete FTS",
    "B2": "+ talkvault's normaliser (CJK bigrams, OpenCC, folding)",
    "B3": "+ identity hash under UNIQUE, time-ordered ids",
    "W0": "the vault's writes alone, row by row (the writer before issue 22)",
    "W": "the vault's own writes alone (its schema and batched writer), all else untimed",
    "WR": "the same writes with random identity keys (before schema 4)",
    "TV0": "talkvault import, the tree given by --before",
    "TV": "talkvault import",
}


def main() -> dict[str, object]:
    import statistics

    from common import arguments, messages

    ap = arguments(__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every stage, interleaved; the best counts")
    ap.add_argument("--stages", default="B0,B1,B2,B3,W0,W,WR,TV", help="which stages, comma-separated")
    ap.add_argument("--before", metavar="TREE", help="another checkout of talkvault: adds stage TV0, its import")
    ap.add_argument(
        "--cache-kib",
        type=int,
        default=0,
        help="page cache of the W stages (default: the vault's 64 MiB); 2048 at 300,000 messages simulates 10M",
    )
    a = ap.parse_args()
    cache = str(a.cache_kib)
    n = messages(a)
    from datagen import write_telegram

    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = write_telegram(d / "export" / "result.json", n)
        every = {
            "B0": (_imp.BASELINE, None, str(d / "b0.db")),
            "B1": (STAGE, None, str(d / "b1.db"), "1"),
            "B2": (STAGE, None, str(d / "b2.db"), "2"),
            "B3": (STAGE, None, str(d / "b3.db"), "3"),
            "W0": (WRITES, None, str(d / "w0.db"), "0", "1", cache),
            "W": (WRITES, None, str(d / "w.db"), "1", "1", cache),
            "WR": (WRITES, None, str(d / "wr.db"), "1", "0", cache),
            "TV0": (_imp.TALKVAULT, a.before, str(d / "vault")),
            "TV": (_imp.TALKVAULT, None, str(d / "vault")),
        }
        wanted = a.stages.split(",") + (["TV0"] if a.before else [])
        runs = {k: v for k, v in every.items() if k in wanted}
        # Rounds interleave the stages, so that a slow spell of this shared machine falls on all of
        # them alike; each stage's best round is its figure, its median and range beside it.
        for _ in range(a.repeat):
            for name, (code, tree, *args) in runs.items():
                got, secs, rss, cpu = _imp.run_cpu(code, str(src), *args, pythonpath=tree)
                assert got == n, (name, got, n)
                r = rows.setdefault(name, {"rounds_s": [], "cpu_s": [], "peak_rss_mb": 0})
                r["rounds_s"].append(round(secs, 2))
                r["cpu_s"].append(round(cpu or 0.0, 2))
                r["s"] = min(r["rounds_s"])
                r["median_s"] = round(statistics.median(r["rounds_s"]), 2)
                r["median_cpu_s"] = round(statistics.median(r["cpu_s"]), 2)
                r["peak_rss_mb"] = max(r["peak_rss_mb"], round(rss))
                for f in d.glob(f"{name.lower()}.db*"):
                    os.unlink(f)
                shutil.rmtree(d / "vault", ignore_errors=True)
    b0 = rows["B0"]
    for r in rows.values():
        r["ratio_to_b0"] = round(r["s"] / b0["s"], 2)
        r["median_ratio_to_b0"] = round(r["median_s"] / b0["median_s"], 2)
        r["cpu_ratio_to_b0"] = round(r["median_cpu_s"] / b0["median_cpu_s"], 2) if b0["median_cpu_s"] else None
    res = {"benchmark": "import floor", "messages": n, "stages": rows, "labels": LABELS}
    print("stage   best s  ratio  median s (range)        ratio   CPU s  ratio  RSS MB")
    for name, r in rows.items():
        lo, hi = min(r["rounds_s"]), max(r["rounds_s"])
        print(
            f"{name:4} {r['s']:8.2f} {r['ratio_to_b0']:6.2f}x {r['median_s']:8.2f} ({lo:.2f}-{hi:.2f})"
            f" {r['median_ratio_to_b0']:8.2f}x {r['median_cpu_s']:7.2f} {r['cpu_ratio_to_b0'] or 0:5.2f}x"
            f" {r['peak_rss_mb']:5d}  {LABELS[name]}"
        )
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
