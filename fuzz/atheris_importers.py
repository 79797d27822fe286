"""Long-running coverage-guided fuzzing of every importer with atheris (by hand, not in CI).

    pip install atheris
    python fuzz/atheris_importers.py [FORMAT] -atheris_runs=1000000

The property is the one tests/test_fuzz_importers.py checks with hypothesis: for any bytes, an
importer yields records or raises ExportError, nothing else. A crash report names the input file
libFuzzer writes (crash-*); it holds only the fuzzer's bytes, never a real export.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import importers
    from importers.base import ParseOptions
    from vault.errors import ExportError

    ALL_FORMATS = [f.name for f in importers.formats()]  # imports every importer module, instrumented

NAMES = ["result.json", "chat.txt", "x.csv", "messages.json", "export.zip", "chat.db", "data.jsonl"]
WORK = Path(tempfile.mkdtemp(prefix="talkvault-fuzz-"))


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    fmt = FORMATS[fdp.ConsumeIntInRange(0, len(FORMATS) - 1)]
    path = WORK / NAMES[fdp.ConsumeIntInRange(0, len(NAMES) - 1)]
    path.write_bytes(fdp.ConsumeBytes(fdp.remaining_bytes()))
    try:
        for _ in importers.get(fmt).parse(path, ParseOptions()):
            pass
    except ExportError:
        pass


if __name__ == "__main__":
    wanted = [a for a in sys.argv[1:] if not a.startswith("-")]
    FORMATS = wanted or ALL_FORMATS
    atheris.Setup([a for a in sys.argv if a not in wanted], one_input)
    atheris.Fuzz()
