"""Shared by the benchmarks: a cached generated vault, timing helpers, result tables."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

PASSPHRASE = "benchmark passphrase"


def kdf() -> Any:
    from vault.store.keys import KdfParams

    return KdfParams(t=1, m_kib=8, p=1)  # benchmarks time the work, not the unlock


def build_vault(n: int, seed: int = 1, *, fresh: bool = False) -> tuple[Path, Path]:
    """A vault of `n` generated messages (cached under benchmarks/out/) and its plaintext export."""
    from datagen import write_plaintext, write_telegram

    import vault

    base = OUT / f"vault-{n}-{seed}"
    path, plain = base / "vault", base / "export.txt"
    if fresh and base.exists():
        shutil.rmtree(base)
    if (base / "done").exists():
        return path, plain
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    src = write_telegram(base / "tg" / "result.json", n, seed)
    write_plaintext(plain, n, seed)
    t = time.perf_counter()
    with vault.create(path, PASSPHRASE, kdf=kdf(), kdf_chosen=True) as v:
        v.import_path(src)
    print(f"# built a {n:,}-message vault in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    shutil.rmtree(src.parent)
    (base / "done").write_text("ok")
    return path, plain


def copy_vault(src: Path, dst: Path) -> Path:
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(src, dst)
    return dst


def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values), 2), "p95_ms": round(pct(values, 0.95), 2)}


def write_results(name: str, rows: list[dict[str, Any]]) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(rows, indent=2, ensure_ascii=False))


def rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def env_without_tz() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "TZ"}


def arguments(doc: str | None, *, quick: str = "100,000 messages", json_out: bool = True) -> argparse.ArgumentParser:
    """The options every benchmark takes: --messages N, --quick, and --json OUT where it writes one."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help=quick)
    if json_out:
        ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    return ap


def messages(a: argparse.Namespace) -> int:
    return 100_000 if a.quick else int(a.messages)
