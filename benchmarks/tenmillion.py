"""Ten million messages (issue 22 item 6): a heavy user's ten years, end to end, each step beside its baseline.

Data: datagen.write_account(N), one Telegram Desktop full-account export (result.json, `chats.list`)
of about 1,500 chats over 2016-2026, 30% Chinese: "Big chat" with N/10 messages (the one deleted),
ten more of N/100 to N/20 ("Benchmark group", the chat of search.py's `in:` queries, among them)
and the rest in small chats; with a plaintext dump of the same messages (for rg and the delete
baseline), both written in one streaming pass into a directory under --dir, removed at the end.

Steps, each run in its own process so that its peak RSS (VmHWM) is its own:
  1. import: `Vault.import_path` of the export (import.py's TALKVAULT: the parse-ahead child's peak
     RSS added to the writer's, CPU of both) beside import.py's bare baseline (ijson, unencrypted
     sqlite3, FTS5) on the same file: wall and CPU time, messages/s, peak RSS.
  2. size on disk of the vault beside the baseline's database.
  3. search: search.py's queries (search.measure: p50/p95 newest-first and by relevance) on the vault,
     beside ripgrep over the dump when rg is installed.
  4. delete, on a copy of the vault, through its API (delete.vault_deletes): one message, then Big
     chat; beside delete.baseline (the same rows in bare sqlite3 with an external-content FTS5).
  5. backup and verify: backup.py's measurement (cp, cp + fsync and two floors beside them).
  6. check: `Vault.check` (what `talkvault check` runs), time and peak RSS.

    python benchmarks/tenmillion.py [--messages N] [--repeat R] [--dir DIR] [--json OUT] [--keep]

--repeat R runs R interleaved rounds of each step (talkvault, baseline, talkvault, ...; default 1: at
10,000,000 messages one round of each, and the output says so); a figure is then the median of the
rounds with their range (the import also gives each side's best). Writes benchmarks/out/tenmillion.json
(or OUT) and benchmarks/out/tenmillion.md, a table to paste into docs/performance.md.
Needs about 1.6 KB of free disk per message at the peak (16 GB at 10M).
"""

from __future__ import annotations

import json
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path
from typing import Any

import datagen
from common import OUT, arguments, copy_vault, messages

_imp = import_module("import")  # benchmarks/import.py (a keyword as a module name)
backup = import_module("backup")
delete = import_module("delete")

HERE = Path(__file__).resolve().parent
PASSPHRASE = "benchmark"  # import.py's TALKVAULT creates the vault with it
ITEMS = "chats.list.item.messages.item"  # where a full-account export's messages are, for the baseline
DISK_PER_MESSAGE = 1600  # bytes: export, dump, vault, its copy, backup, the floors' plaintext copy

# A step's child: the seconds of what it times, its CPU seconds and its peak RSS, as one JSON line.
SEARCH = (
    _imp.PEAK
    + r"""
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[4])
import vault
from search import measure
path, plain, repeat = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
with vault.open(path, "benchmark") as v:
    index_bytes = v.conn.execute("SELECT sum(length(block)) FROM fts_data").fetchone()[0]
    rows = measure(v, plain, repeat)
print(json.dumps({"rows": rows, "index_bytes": index_bytes, "peak_kb": peak_kb()}))
"""
)
DELETE = (
    _imp.PEAK
    + r"""
import json, sys, time
sys.path.insert(0, sys.argv[3])
import vault
from delete import vault_deletes
c0 = cpu_s()
with vault.open(sys.argv[1], "benchmark") as v:
    one, chat, deleted = vault_deletes(v, sys.argv[2])
print(json.dumps({"one_s": one, "chat_s": chat, "deleted": deleted, "cpu_s": cpu_s() - c0, "peak_kb": peak_kb()}))
"""
)
CHECK = (
    _imp.PEAK
    + r"""
import json, sys, time
import vault
with vault.open(sys.argv[1], "benchmark") as v:
    t, c0 = time.perf_counter(), cpu_s()
    rep = v.check()
    dt, cpu = time.perf_counter() - t, cpu_s() - c0
print(json.dumps({"ok": rep["ok"], "s": dt, "cpu_s": cpu, "peak_kb": peak_kb()}))
"""
)

T0 = time.perf_counter()
_here: dict[str, Any] = {}
exec(_imp.PEAK, _here)  # peak_kb() of this process: the generator's peak


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:8.1f} s] {msg}", flush=True)


def child(code: str, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(backup.run(code, *args).strip().splitlines()[-1])
    return out


def spread(values: list[float], nd: int = 2) -> dict[str, Any]:
    """Median and range of a figure over the rounds."""
    return {
        "median": round(statistics.median(values), nd),
        "min": round(min(values), nd),
        "max": round(max(values), nd),
        "rounds": [round(x, nd) for x in values],
    }


def fmt(s: dict[str, Any], unit: str = " s") -> str:
    """'12.3 s', or '12.3 s (11.9-13.0)' over several rounds."""
    if len(s["rounds"]) == 1:
        return f"{s['median']}{unit}"
    return f"{s['median']}{unit} ({s['min']}-{s['max']})"


def dir_bytes(p: Path) -> int:
    return p.stat().st_size if p.is_file() else sum(f.stat().st_size for f in p.rglob("*") if f.is_file())


def dump_rows(dump: Path) -> Iterator[tuple[int, str]]:
    """(chat no, text) of each line of write_account's plaintext dump."""
    with dump.open(encoding="utf-8") as fh:
        for line in fh:
            _ts, chat, _sender, text = line.rstrip("\n").split("\t", 3)
            yield int(chat), text


def step_import(src: Path, d: Path, n: int, rounds: int) -> tuple[dict[str, Any], Path]:
    """Interleaved rounds of the baseline and talkvault; the last round's vault is kept for the others."""
    base, tv = [], []
    vault_path, db = d / "vault", d / "baseline.db"
    for r in range(rounds):
        log(f"import round {r + 1}/{rounds}: baseline (ijson + sqlite3 + FTS5)")
        db.unlink(missing_ok=True)
        base.append(_imp.run_cpu(_imp.BASELINE, str(src), str(db), ITEMS))
        log(f"import round {r + 1}/{rounds}: talkvault")
        if vault_path.exists():
            shutil.rmtree(vault_path)
        tv.append(_imp.run_cpu(_imp.TALKVAULT, str(src), str(vault_path)))
    assert all(x[0] == n for x in base + tv), ([x[0] for x in base + tv], n)
    res = {
        "talkvault_s": spread([x[1] for x in tv]),
        "baseline_s": spread([x[1] for x in base]),
        "talkvault_cpu_s": spread([x[3] or 0.0 for x in tv]),
        "baseline_cpu_s": spread([x[3] or 0.0 for x in base]),
        "talkvault_peak_rss_mb": round(max(x[2] for x in tv)),
        "baseline_peak_rss_mb": round(max(x[2] for x in base)),
        "talkvault_best_s": round(min(x[1] for x in tv), 2),
        "baseline_best_s": round(min(x[1] for x in base), 2),
    }
    res["talkvault_msgs_per_s"] = round(n / res["talkvault_s"]["median"])
    res["baseline_msgs_per_s"] = round(n / res["baseline_s"]["median"])
    res["ratio"] = round(res["talkvault_s"]["median"] / res["baseline_s"]["median"], 2)
    res["ratio_best"] = round(res["talkvault_best_s"] / res["baseline_best_s"], 2)
    res["cpu_ratio"] = round(res["talkvault_cpu_s"]["median"] / max(res["baseline_cpu_s"]["median"], 1e-6), 2)
    res["vault_bytes"] = dir_bytes(vault_path)
    res["baseline_db_bytes"] = db.stat().st_size
    db.unlink()
    return res, vault_path


def step_search(vault_path: Path, dump: Path, rounds: int, repeat: int) -> dict[str, Any]:
    runs = []
    for r in range(rounds):
        log(f"search round {r + 1}/{rounds}: {repeat} runs of each query newest-first, fewer by relevance")
        runs.append(child(SEARCH, str(vault_path), str(dump), str(repeat), str(HERE)))
    queries = []
    for i, row in enumerate(runs[0]["rows"]):
        got = [run["rows"][i] for run in runs]
        q: dict[str, Any] = {"query": row["query"], "text": row["text"]}
        for side in ("newest", "relevance", "rg"):
            if side in row:
                q[side] = {k: spread([g[side][k] for g in got]) for k in ("p50_ms", "p95_ms")}
        queries.append(q)
    return {
        "queries": queries,
        "index_bytes": runs[-1]["index_bytes"],
        "peak_rss_mb": round(max(run["peak_kb"] for run in runs) / 1024),
        "raw": [run["rows"] for run in runs],
        "rg": bool(shutil.which("rg")),
    }


def step_delete(vault_path: Path, dump: Path, d: Path, big: datagen.ChatPlan, n: int, rounds: int) -> dict[str, Any]:
    tv, base = [], []
    one = min(12345, n)
    for r in range(rounds):
        log(f"delete round {r + 1}/{rounds}: talkvault, on a copy of the vault: one message, then {big.count:,}")
        copy = copy_vault(vault_path, d / "vault-copy")
        got = child(DELETE, str(copy), big.name, str(HERE))
        shutil.rmtree(copy)
        assert got["deleted"] == [1, big.count], (got["deleted"], big.count)
        tv.append(got)
        log(f"delete round {r + 1}/{rounds}: baseline (load the dump into sqlite3 + FTS5 untimed, then delete)")
        base.append(delete.baseline(dump_rows(dump), d, chat=big.no, one=one))
    res = {
        "chat_messages": big.count,
        "chat_s": spread([x["chat_s"] for x in tv]),
        "one_message_s": spread([x["one_s"] for x in tv], 4),
        "cpu_s": spread([x["cpu_s"] for x in tv]),
        "peak_rss_mb": round(max(x["peak_kb"] for x in tv) / 1024),
        "chat_baseline_s": spread([x[1] for x in base]),
        "one_message_baseline_s": spread([x[0] for x in base], 4),
    }
    res["chat_ratio"] = round(res["chat_s"]["median"] / max(res["chat_baseline_s"]["median"], 1e-6), 1)
    return res


def step_backup(vault_path: Path, d: Path, rounds: int) -> dict[str, Any]:
    ms = []
    for r in range(rounds):
        log(f"backup and verify round {r + 1}/{rounds} (with cp, cp + fsync and the floors)")
        out = d / "backups"
        ms.append(json.loads(backup.run(backup.MEASURE, str(vault_path), str(out), PASSPHRASE)))
        shutil.rmtree(out)
    keys = ("cp_s", "cp_fsync_s", "backup_s", "verify_s", "floor_hmac_s", "floor_plain_integrity_check_s")
    res: dict[str, Any] = {k: spread([m[k] for m in ms], 3) for k in keys}
    res["backup_peak_rss_mb"] = round(max(m["backup_rss_kb"] for m in ms) / 1024)
    res["verify_peak_rss_mb"] = round(max(m["peak_rss_kb"] for m in ms) / 1024)
    res["backup_bytes"] = ms[-1]["backup_bytes"]
    for k in ("backup", "verify"):
        res[f"{k}_ratio_to_cp"] = round(res[f"{k}_s"]["median"] / res["cp_s"]["median"], 1)
        res[f"{k}_ratio_to_cp_fsync"] = round(res[f"{k}_s"]["median"] / res["cp_fsync_s"]["median"], 1)
    return res


def step_check(vault_path: Path, rounds: int) -> dict[str, Any]:
    got = []
    for r in range(rounds):
        log(f"check round {r + 1}/{rounds}")
        got.append(child(CHECK, str(vault_path)))
    assert all(g["ok"] for g in got)
    return {
        "s": spread([g["s"] for g in got]),
        "cpu_s": spread([g["cpu_s"] for g in got]),
        "peak_rss_mb": round(max(g["peak_kb"] for g in got) / 1024),
    }


def table(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the result table: benchmark, figure, baseline, ratio, target, met."""
    n, im, se, de, bk, ck = (res[k] for k in ("messages", "import", "search", "delete", "backup", "check"))
    rows: list[dict[str, Any]] = [
        {
            "benchmark": "generate (datagen.write_account, in the benchmark's process)",
            "figure": f"{res['step_s']['generate']} s (peak RSS {res['generate_peak_rss_mb']} MB): export "
            f"{res['export_bytes'] / 2**20:,.0f} MiB, dump {res['dump_bytes'] / 2**20:,.0f} MiB",
            "baseline": "-",
            "ratio": "-",
            "target": "-",
            "met": None,
        },
        {
            "benchmark": f"import, {n:,} msgs in {res['chats']:,} chats (one Telegram account export)",
            "figure": f"{fmt(im['talkvault_s'])}, CPU {fmt(im['talkvault_cpu_s'])} "
            f"({im['talkvault_msgs_per_s']:,}/s, peak RSS {im['talkvault_peak_rss_mb']} MB)",
            "baseline": f"{fmt(im['baseline_s'])}, CPU {fmt(im['baseline_cpu_s'])} "
            f"({im['baseline_msgs_per_s']:,}/s, peak RSS {im['baseline_peak_rss_mb']} MB)",
            "ratio": f"{im['ratio']} (CPU {im['cpu_ratio']})",
            "target": "<= 2.0x, CPU <= 4x, RSS <= 250 MB",
            "met": im["ratio"] <= 2.0 and im["cpu_ratio"] <= 4 and im["talkvault_peak_rss_mb"] <= 250,
        },
        {
            "benchmark": "size on disk",
            "figure": f"{im['vault_bytes'] / 2**20:,.0f} MiB ({im['vault_bytes'] / n:.0f} bytes/msg; "
            f"index {se['index_bytes'] / n:.0f} bytes/msg)",
            "baseline": f"{im['baseline_db_bytes'] / 2**20:,.0f} MiB ({im['baseline_db_bytes'] / n:.0f} bytes/msg)",
            "ratio": round(im["vault_bytes"] / im["baseline_db_bytes"], 2),
            "target": "-",
            "met": None,
        },
    ]
    rows.append(
        {
            "benchmark": f"search: the searching process ({len(se['queries'])} queries, newest-first and relevance)",
            "figure": f"peak RSS {se['peak_rss_mb']} MB",
            "baseline": "-",
            "ratio": "-",
            "target": "-",
            "met": None,
        }
    )
    for q in se["queries"]:
        nw, rl, rg = q["newest"], q["relevance"], q.get("rg")
        ratio = round(rg["p50_ms"]["median"] / max(nw["p50_ms"]["median"], 0.01), 1) if rg else "-"
        rows.append(
            {
                "benchmark": f"search: {q['query']} `{q['text']}`",
                "figure": f"p50 {fmt(nw['p50_ms'], '')} / p95 {fmt(nw['p95_ms'], '')} ms "
                f"(relevance p95 {fmt(rl['p95_ms'], '')} ms)",
                "baseline": f"rg p50 {fmt(rg['p50_ms'], ' ms')}" if rg else ("-" if se["rg"] else "rg not installed"),
                "ratio": ratio,
                "target": "p95 <= 20 ms, relevance p95 <= 250 ms",
                "met": nw["p95_ms"]["median"] <= 20 and rl["p95_ms"]["median"] <= 250,
            }
        )
    rows += [
        {
            "benchmark": f"delete one message (vault of {n:,})",
            "figure": fmt(de["one_message_s"]),
            "baseline": fmt(de["one_message_baseline_s"]),
            "ratio": "-",
            "target": "<= 0.2 s",
            "met": de["one_message_s"]["median"] <= 0.2,
        },
        {
            "benchmark": f"delete a {de['chat_messages']:,}-message chat",
            "figure": f"{fmt(de['chat_s'])} (peak RSS {de['peak_rss_mb']} MB)",
            "baseline": fmt(de["chat_baseline_s"]),
            "ratio": de["chat_ratio"],
            "target": "-",
            "met": None,
        },
        {
            "benchmark": f"backup ({bk['backup_bytes'] / 2**20:,.0f} MiB)",
            "figure": f"{fmt(bk['backup_s'])} (peak RSS {bk['backup_peak_rss_mb']} MB)",
            "baseline": f"cp {fmt(bk['cp_s'])} (+fsync {fmt(bk['cp_fsync_s'])}); floor: HMAC of every page "
            f"{fmt(bk['floor_hmac_s'])}",
            "ratio": bk["backup_ratio_to_cp"],
            "target": "<= 3x cp",
            "met": bk["backup_ratio_to_cp"] <= 3,
        },
        {
            "benchmark": "verify (the backup)",
            "figure": f"{fmt(bk['verify_s'])} (peak RSS {bk['verify_peak_rss_mb']} MB)",
            "baseline": f"cp {fmt(bk['cp_s'])}; floor: integrity_check unencrypted "
            f"{fmt(bk['floor_plain_integrity_check_s'])}",
            "ratio": bk["verify_ratio_to_cp"],
            "target": "<= 3x cp",
            "met": bk["verify_ratio_to_cp"] <= 3,
        },
        {
            "benchmark": "check",
            "figure": f"{fmt(ck['s'])}, CPU {fmt(ck['cpu_s'])} (peak RSS {ck['peak_rss_mb']} MB)",
            "baseline": "-",
            "ratio": "-",
            "target": "-",
            "met": None,
        },
    ]
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    md = ["| benchmark | figure | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    met = {True: "yes", False: "no", None: "-"}
    for r in rows:
        md.append(
            f"| {r['benchmark']} | {r['figure']} | {r['baseline']} | {r['ratio']} | {r['target']} | {met[r['met']]} |"
        )
    return "\n".join(md)


def timed_step(name: str, fn: Callable[[], Any], took: dict[str, float]) -> Any:
    t = time.perf_counter()
    out = fn()
    took[name] = round(time.perf_counter() - t, 1)
    log(f"{name}: done in {took[name]} s")
    return out


def main() -> dict[str, Any]:
    ap = arguments(__doc__, quick="100,000 messages")
    ap.set_defaults(messages=10_000_000)
    ap.add_argument("--repeat", type=int, default=1, help="interleaved rounds of each step (default 1)")
    ap.add_argument("--search-repeat", type=int, default=30, help="runs of each query newest-first, per round")
    ap.add_argument("--dir", type=Path, default=OUT, help="where the data goes (a temporary directory in it)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", action="store_true", help="keep the data directory (the vault, the dump)")
    a = ap.parse_args()
    n, rounds = messages(a), a.repeat
    a.dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(a.dir).free
    if free < n * DISK_PER_MESSAGE:
        raise SystemExit(f"{a.dir} has {free / 2**30:.1f} GiB free; {n:,} messages need about {n * 1.6e-6:.1f} GB")
    plan = datagen.account_plan(n, a.seed)
    big = next(c for c in plan if c.name == datagen.BIG_CHAT)
    sizes = sorted((c.count for c in plan), reverse=True)
    print(
        f"# {n:,} messages in {len(plan):,} chats (largest {sizes[:4]}, median {sizes[len(sizes) // 2]}); "
        f"{rounds} round{'s' * (rounds > 1)} of each step{' (one round: no range)' if rounds == 1 else ''}; "
        f"{free / 2**30:.0f} GiB free in {a.dir}",
        flush=True,
    )
    d = Path(tempfile.mkdtemp(prefix="tenmillion-", dir=a.dir))
    took: dict[str, float] = {}
    res: dict[str, Any] = {"benchmark": "ten million", "messages": n, "chats": len(plan), "rounds": rounds}
    try:
        src, dump = d / "export" / "result.json", d / "dump.txt"
        log(f"generate: a Telegram account export and a plaintext dump in {d}")
        timed_step("generate", lambda: datagen.write_account(src, n, a.seed, plain=dump), took)
        res["export_bytes"], res["dump_bytes"] = src.stat().st_size, dump.stat().st_size
        res["generate_peak_rss_mb"] = round(_here["peak_kb"]() / 1024)
        res["import"], path = timed_step("import", lambda: step_import(src, d, n, rounds), took)
        shutil.rmtree(src.parent)  # the export is needed no more: disk for the copies below
        res["search"] = timed_step("search", lambda: step_search(path, dump, rounds, a.search_repeat), took)
        res["delete"] = timed_step("delete", lambda: step_delete(path, dump, d, big, n, rounds), took)
        res["backup"] = timed_step("backup", lambda: step_backup(path, d, rounds), took)
        res["check"] = timed_step("check", lambda: step_check(path, rounds), took)
    finally:  # what was measured survives a step that fails (a whole run takes about an hour)
        OUT.mkdir(exist_ok=True)
        (OUT / "tenmillion.partial.json").write_text(json.dumps({**res, "step_s": took}, indent=2, default=str))
        if not a.keep:
            shutil.rmtree(d, ignore_errors=True)
    res["step_s"], res["wall_s"] = took, round(time.perf_counter() - T0, 1)
    res["rows"] = rows = table(res)
    md = markdown(rows)
    OUT.mkdir(exist_ok=True)
    Path(a.json or OUT / "tenmillion.json").write_text(json.dumps(res, indent=2, ensure_ascii=False))
    note = f"{n:,} messages, {len(plan):,} chats, {rounds} round{'s' * (rounds > 1)} of each step"
    (OUT / "tenmillion.md").write_text(f"{md}\n\n({note}; whole run {res['wall_s']} s)\n")
    print(md)
    print(f"\n{note}; whole run {res['wall_s']} s; steps {took}")
    return res


if __name__ == "__main__":
    main()
