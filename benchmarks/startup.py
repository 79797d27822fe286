"""Startup benchmark: `talkvault --help` against a bare `python -c pass` in the same run. Target < 0.3 s."""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from common import ROOT, write_results


def wall(cmd: list[str], repeat: int = 10) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, cwd=ROOT)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> dict[str, object]:
    base = wall([sys.executable, "-c", "pass"])
    tv = wall([sys.executable, "-m", "vault", "--help"])
    res = {
        "benchmark": "startup",
        "talkvault_help_s": round(tv, 3),
        "python_s": round(base, 3),
        "ratio": round(tv / base, 1),
        "target_s": 0.3,
        "met": tv < 0.3,
    }
    print(res)
    write_results("startup", [res])
    return res


if __name__ == "__main__":
    main()
