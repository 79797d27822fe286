"""Run every benchmark on generated data and write the table: figure, baseline, ratio, target, met.

    python benchmarks/run.py [--messages N] [--quick] [--ten-million]

Each benchmark runs in its own process against its baseline in the same run (see each script's
docstring). Results: benchmarks/out/results.json and benchmarks/out/results.md (paste into
docs/performance.md). `--ten-million` then also runs benchmarks/tenmillion.py (10,000,000 messages
in one account export, end to end; its table goes to benchmarks/out/tenmillion.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def run(script: str, *args: str) -> None:
    print(f"## {script} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, str(HERE / script), *args], check=True, cwd=HERE)


def load(name: str) -> list[dict]:
    p = OUT / f"{name}.json"
    return json.loads(p.read_text()) if p.exists() else []


def table(n: int) -> tuple[list[dict], str]:
    rows: list[dict] = []
    for fmt in ("telegram", "whatsapp"):
        for r in load(f"import-{fmt}"):
            rows.append(
                {
                    "benchmark": f"import {fmt} ({r['messages']:,} msgs)",
                    "figure": f"{r['talkvault_s']} s "
                    f"({r['talkvault_msgs_per_s']:,}/s, peak RSS {r['talkvault_peak_rss_mb']} MB)",
                    "baseline": f"{r['baseline_s']} s",
                    "ratio": r["ratio"],
                    "target": "ratio <= 1.5, RSS <= 250 MB",
                    "met": r["ratio"] <= 1.5 and r["talkvault_peak_rss_mb"] <= 250,
                }
            )
    floor = OUT / "import-floor.json"
    if floor.exists():
        f = json.loads(floor.read_text())
        st = f["stages"]
        rows.append(
            {
                "benchmark": f"import floor ({f['messages']:,} msgs, benchmarks/import_floor.py)",
                "figure": f"baseline + encryption {st['B1']['ratio_to_b0']}x, + normaliser "
                f"{st['B2']['ratio_to_b0']}x, + identity {st['B3']['ratio_to_b0']}x; the vault's writes alone "
                f"{st['W']['ratio_to_b0']}x; talkvault {st['TV']['ratio_to_b0']}x",
                "baseline": f"{st['B0']['s']} s",
                "ratio": st["W"]["ratio_to_b0"],
                "target": "(what 1.5 asks: writes alone)",
                "met": st["W"]["ratio_to_b0"] <= 1.5,
            }
        )
    search = [r for r in load("search") if not r.get("summary")]
    for r in search:
        rg = r.get("rg", {}).get("p50_ms")
        rows.append(
            {
                "benchmark": f"search: {r['query']}",
                "figure": f"p50 {r['newest']['p50_ms']} / p95 "
                f"{r['newest']['p95_ms']} ms (relevance p95 {r['relevance']['p95_ms']} ms)",
                "baseline": f"rg p50 {rg} ms" if rg else "-",
                "ratio": r.get("ratio_rg_p50", "-"),
                "target": "p95 <= 20 ms; relevance p95 <= 250 ms; >= 10x rg",
                "met": r["newest"]["p95_ms"] <= 20
                and r["relevance"]["p95_ms"] <= 250
                and (r.get("ratio_rg_p50") or 0) >= 10,
            }
        )
    for r in load("delete"):
        rows.append(
            {
                "benchmark": "delete one message",
                "figure": f"{r['one_message_s']} s",
                "baseline": f"{r['one_message_baseline_s']} s",
                "ratio": "-",
                "target": "<= 0.2 s",
                "met": r["one_message_s"] <= 0.2,
            }
        )
        rows.append(
            {
                "benchmark": f"delete a {r['chat_messages']:,}-message chat",
                "figure": f"{r['chat_s']} s",
                "baseline": f"{r['chat_baseline_s']} s",
                "ratio": r["chat_ratio"],
                "target": "<= 30 s",
                "met": r["chat_s"] <= 30,
            }
        )
    for r in load("backup"):
        rows.append(
            {
                "benchmark": r.get("benchmark", "backup"),
                "figure": str(r.get("figure", r)),
                "baseline": str(r.get("baseline", "-")),
                "ratio": r.get("ratio", "-"),
                "target": str(r.get("target", "<= 3x cp")),
                "met": r.get("met"),
            }
        )
    for r in load("startup"):
        rows.append(
            {
                "benchmark": "startup: talkvault --help",
                "figure": f"{r['talkvault_help_s']} s",
                "baseline": f"python -c pass {r['python_s']} s",
                "ratio": r["ratio"],
                "target": "< 0.3 s",
                "met": r["met"],
            }
        )
    md = ["| benchmark | figure | baseline | ratio | target | met |", "|---|---|---|---|---|---|"]
    for r in rows:
        md.append(
            f"| {r['benchmark']} | {r['figure']} | {r['baseline']} | {r['ratio']} | {r['target']} | "
            f"{'yes' if r['met'] else 'no'} |"
        )
    return rows, "\n".join(md)


def main() -> None:
    from common import arguments, messages

    ap = arguments(__doc__, json_out=False)
    ap.add_argument(
        "--ten-million",
        action="store_true",
        help="also run tenmillion.py: 10,000,000 messages end to end (hours; about 16 GB of disk)",
    )
    a = ap.parse_args()
    n = messages(a)
    size = ["--messages", str(n)]
    run("import.py", *size)
    run("import.py", *size, "--format", "whatsapp")
    run("import_floor.py", *size, "--json", str(OUT / "import-floor.json"))
    run("search.py", *size)
    run("delete.py", *size)
    if (HERE / "backup.py").exists():
        run("backup.py", *size)
    run("startup.py")
    rows, md = table(n)
    (OUT / "results.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))
    (OUT / "results.md").write_text(md + "\n")
    print(md)
    if a.ten_million:  # opt-in: its own table, benchmarks/out/tenmillion.md
        run("tenmillion.py")


if __name__ == "__main__":
    main()
