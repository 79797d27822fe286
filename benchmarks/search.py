"""Search benchmark: p50/p95 per query kind on a generated vault, against ripgrep over the plaintext export.

    python benchmarks/search.py [--messages N] [--quick] [--repeat R]

Targets (issue: search), measured in-process: newest-first p95 <= 20 ms, relevance p95 <= 250 ms;
goal: at least 10x faster than `rg` at p50. Also prints the index's bytes per message.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from common import build_vault, summary, timed, write_results

QUERIES = [
    ("common term", "time", "time"),
    ("rare term", "quokka", "quokka"),
    ("1-char CJK", "警", "警"),
    ("2-char CJK", "腾讯", "腾讯"),
    ("phrase", '"thanks sorry"', "thanks sorry"),
    ("from: + term", "from:Mei dinner", "dinner"),
    ("date range", "after:2019-01 before:2019-03 time", "time"),
    # Filters alone and with a word (issue 22 item 4). The generated vault has one Telegram chat and
    # no links, images or attachments: has: matches nothing, the worst case for a scan (and for a
    # word whose every match must be checked); source: and in: match every message.
    ("has:attachment", "has:attachment", None),
    ("has:link", "has:link", "://"),
    ("has:image", "has:image", None),
    ("source:", "source:telegram", None),
    ("in:", 'in:"Benchmark group"', None),
    ("from:", "from:Mei", None),
    ("word has:attach.", "time has:attachment", None),
    ("word has:link", "time has:link", None),
    ("word has:image", "time has:image", None),
    ("word source:", "time source:telegram", None),
    ("word in:", 'dinner in:"Benchmark group"', None),
]


def measure(v: Any, plain: Path, repeat: int, only: str | None = None) -> list[dict[str, Any]]:
    """p50/p95 of each query of QUERIES on an open vault, newest-first and by relevance, and of `rg`
    over the plaintext export `plain` where rg is installed."""
    rg = shutil.which("rg")
    rows: list[dict[str, Any]] = []
    for name, q, rg_pattern in QUERIES:
        if only and only not in name:
            continue
        v.search(q, limit=20)  # warm
        newest = summary(timed(lambda q=q: v.search(q, limit=20), repeat))
        rel = summary(timed(lambda q=q: v.search(q, limit=20, sort="relevance"), max(5, repeat // 3)))
        row: dict[str, Any] = {"query": name, "text": q, "newest": newest, "relevance": rel}
        if rg and rg_pattern:
            times = timed(
                lambda p=rg_pattern: subprocess.run(
                    [rg, "-i", "-F", p, str(plain)], stdout=subprocess.DEVNULL, check=False
                ),
                max(5, repeat // 3),
            )
            row["rg"] = summary(times)
            row["ratio_rg_p50"] = round(row["rg"]["p50_ms"] / max(newest["p50_ms"], 0.01), 1)
        rows.append(row)
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"{'query':<18}{'newest p50':>11}{'p95':>8}{'relev. p50':>12}{'p95':>8}{'rg p50':>9}{'x faster':>9}")
    for r in rows:
        nw, rl = r["newest"], r["relevance"]
        rgp = r.get("rg", {}).get("p50_ms", float("nan"))
        print(
            f"{r['query']:<18}{nw['p50_ms']:>11}{nw['p95_ms']:>8}{rl['p50_ms']:>12}{rl['p95_ms']:>8}"
            f"{rgp:>9}{r.get('ratio_rg_p50', '-'):>9}"
        )


def main() -> list[dict[str, object]]:
    from common import arguments, messages

    ap = arguments(__doc__, json_out=False)
    ap.add_argument("--repeat", type=int, default=30)
    ap.add_argument("--only", help="run only the queries whose name contains this")
    a = ap.parse_args()
    n = messages(a)
    from common import PASSPHRASE

    import vault

    path, plain = build_vault(n)
    with vault.open(path, PASSPHRASE) as v:
        index_bytes = v.conn.execute("SELECT sum(length(block)) FROM fts_data").fetchone()[0]
        rows: list[dict[str, Any]] = measure(v, plain, a.repeat, a.only)
    print_table(rows)
    worst_newest = max(r["newest"]["p95_ms"] for r in rows)
    worst_rel = max(r["relevance"]["p95_ms"] for r in rows)
    print(
        f"messages {n:,}; index {index_bytes / n:.0f} bytes/message; worst newest-first p95 {worst_newest} ms "
        f"(target 20); worst relevance p95 {worst_rel} ms (target 250)"
    )
    rows.append(
        {
            "summary": True,
            "messages": n,
            "index_bytes_per_message": round(index_bytes / n),
            "worst_newest_p95_ms": worst_newest,
            "worst_relevance_p95_ms": worst_rel,
        }
    )
    write_results("search", rows)
    return rows


if __name__ == "__main__":
    main()
