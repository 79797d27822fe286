"""WhatsApp parsing against whatstk (https://github.com/lucasrodes/whatstk) on one generated export.

Sides, each in its own subprocess, in interleaved rounds (a slow spell of the shared machine falls on
all of them alike); the timed part of each is the parse or import alone (imports of pandas or of
talkvault are outside it):

    whatstk        WhatsAppChat.from_source(filepath=...): detects the header format, parses to a DataFrame
    whatstk-hf     the same with the header format given (hformat), no detection
    tv-parse       talkvault's WhatsApp parser alone (importers/whatsapp): every record built
    tv-child       the parser plus what the parse-ahead child adds: tokens and stamps
    tv-import      talkvault's whole import of the file into a new vault (Vault.import_path)

    python benchmarks/whatstk.py [--messages N] [--repeat R] [--json OUT]

whatstk is a benchmark-only tool, not a dependency: `pip install whatstk`; without it the benchmark
says so and exits. Target (issue 22 item 2): talkvault no slower than whatstk's parse to a DataFrame
on 100,000 messages. Each side reports its best round, median and range, and its median CPU time.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from importlib import import_module  # noqa: E402

_imp = import_module("import")  # benchmarks/import.py (a keyword as a module name)

WHATSTK = (
    _imp.PEAK
    + r"""
import sys, time
from whatstk import WhatsAppChat
src, hformat = sys.argv[1], sys.argv[2]
t, c0 = time.perf_counter(), cpu_s()
chat = WhatsAppChat.from_source(filepath=src, **({"hformat": hformat} if hformat else {}))
n = len(chat.df)
print(n, time.perf_counter() - t, peak_kb(), cpu_s() - c0)
"""
)

TV_PARSE = (
    _imp.PEAK
    + r"""
import gc, sys, time
from pathlib import Path
from zoneinfo import ZoneInfo
import importers
from importers.base import ParseOptions
from vault.records import Chat, Event, Message
src, child = sys.argv[1], sys.argv[2] == "1"
fmt = importers.get("whatsapp")
if child:
    from vault.operations.ingest import Stamper
    from vault.text.normalize import index_text
    index_text("warm 好")  # the normaliser's tables are built once per process, outside the timing
t, c0 = time.perf_counter(), cpu_s()
gc.disable()  # as the import does
n = 0
stamper = Stamper(ZoneInfo("UTC")) if child else None
for rec in fmt.parse(Path(src), ParseOptions()):
    if isinstance(rec, Message | Event):
        n += 1
        if stamper is not None:
            index_text(rec.text)
            stamper.stamp(rec)
    elif stamper is not None and isinstance(rec, Chat):
        stamper.chat(rec)
print(n, time.perf_counter() - t, peak_kb(), cpu_s() - c0)
"""
)

SIDES = ("whatstk", "whatstk-hf", "tv-parse", "tv-child", "tv-import")


def main() -> dict[str, object]:
    from common import arguments, messages

    ap = arguments(__doc__)
    ap.add_argument("--repeat", type=int, default=3, help="rounds of every side, interleaved")
    ap.set_defaults(messages=100_000)
    a = ap.parse_args()
    if importlib.util.find_spec("whatstk") is None:
        print("whatstk is not installed (pip install whatstk): nothing to compare with; skipped")
        return {"benchmark": "whatstk", "skipped": "whatstk not installed"}
    n = messages(a)
    from datagen import write_whatsapp

    rounds: dict[str, list[tuple[int, float, float, float | None]]] = {s: [] for s in SIDES}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        src = write_whatsapp(d / "WhatsApp Chat with Benchmark.txt", n)
        for _ in range(a.repeat):
            rounds["whatstk"].append(_imp.run_cpu(WHATSTK, str(src), ""))
            rounds["whatstk-hf"].append(_imp.run_cpu(WHATSTK, str(src), "%d/%m/%Y, %H:%M - %name:"))
            rounds["tv-parse"].append(_imp.run_cpu(TV_PARSE, str(src), "0"))
            rounds["tv-child"].append(_imp.run_cpu(TV_PARSE, str(src), "1"))
            rounds["tv-import"].append(_imp.run_cpu(_imp.TALKVAULT, str(src), str(d / "vault")))
            shutil.rmtree(d / "vault")
        size = src.stat().st_size
    for side, rs in rounds.items():
        assert all(r[0] == n for r in rs), (side, [r[0] for r in rs], n)
    base = statistics.median(r[1] for r in rounds["whatstk"])
    base_cpu = statistics.median(r[3] or 0.0 for r in rounds["whatstk"])
    sides: dict[str, dict[str, object]] = {}
    print(f"{n:,} WhatsApp messages ({size / 2**20:.1f} MiB), {a.repeat} interleaved rounds")
    print("side         best s  median s (range)      ratio  CPU s  ratio   (ratios: medians against whatstk)")
    for side, rs in rounds.items():
        secs = [r[1] for r in rs]
        med, cpu = statistics.median(secs), statistics.median(r[3] or 0.0 for r in rs)
        sides[side] = {
            "best_s": round(min(secs), 2),
            "median_s": round(med, 2),
            "rounds_s": [round(x, 2) for x in secs],
            "median_cpu_s": round(cpu, 2),
            "ratio": round(med / base, 2),
            "cpu_ratio": round(cpu / base_cpu, 2) if base_cpu else None,
        }
        print(
            f"{side:11} {min(secs):7.2f} {med:8.2f} ({min(secs):.2f}-{max(secs):.2f}) {med / base:8.2f}x"
            f" {cpu:6.2f} {cpu / (base_cpu or 1):5.2f}x"
        )
    res: dict[str, object] = {"benchmark": "whatsapp vs whatstk", "messages": n, "export_mb": round(size / 2**20, 1)}
    res["sides"] = sides
    from common import write_results

    write_results("whatstk", [res])
    if a.json:
        Path(a.json).write_text(json.dumps(res, indent=2))
    return res


if __name__ == "__main__":
    main()
