"""Importers: pure, streaming parsers of chat exports, and the registry that finds the right one.

`formats()` lists every Format; `detect(path)` picks the one that recognises a file or folder;
`get(name)` looks one up by its `--format` name. Importer modules are imported lazily so that the
CLI starts fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

from importers.base import Format, ParseOptions
from vault.errors import ExportError, UnknownFormatError, UsageError

# Order matters only where two detectors could both say yes: more specific first.
_MODULES = (
    "importers.iphone_backup",  # before signal/wechat/imessage: a backup folder holds their databases
    "importers.jsonl",
    "importers.chatlab",
    "importers.qq",
    "importers.telegram",
    "importers.telegram_html",
    "importers.signal",
    "importers.wechat",
    "importers.imessage",
    "importers.discord",
    "importers.slack",
    "importers.google_chat",
    "importers.twitter",
    "importers.skype",
    "importers.matrix",
    "importers.meta",
    "importers.android_sms",
    "importers.whatsapp",
    "importers.line",
    "importers.kakaotalk",
)

__all__ = ["Format", "ParseOptions", "detect", "exports_in", "formats", "get"]


@cache
def _module_formats(name: str) -> tuple[Format, ...]:
    try:
        module = importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name == name:  # a module listed but not (yet) shipped
            return ()
        raise
    return tuple(module.FORMATS)


def _iter_formats() -> Iterator[Format]:
    for name in _MODULES:
        yield from _module_formats(name)


def formats() -> tuple[Format, ...]:
    return tuple(_iter_formats())


def get(name: str) -> Format:
    for fmt in _iter_formats():
        if fmt.name == name:
            return fmt
    for fmt in _iter_formats():
        if fmt.source == name:
            return fmt
    names = ", ".join(f.name for f in formats())
    raise UsageError(f"unknown format {name!r}; 'talkvault formats' lists them: {names}")


def detect(path: Path) -> Format:
    refused: ExportError | None = None
    for fmt in _iter_formats():
        try:
            if fmt.detect(path):
                return fmt
        except OSError:
            continue
        except (ExportError, RecursionError) as exc:  # e.g. JSON nested too deeply to look into
            if refused is None:
                refused = exc if isinstance(exc, ExportError) else ExportError("nests too deeply to be read")
            continue
    if refused is not None:
        raise UnknownFormatError(f"could not be recognised: it {refused.reason}", path=str(path))
    if path.is_file() and path.stat().st_size == 0:
        raise UnknownFormatError("this file is empty: there is nothing in it to import", path=str(path))
    what = "folder (nor anything in it)" if path.is_dir() else "file"
    raise UnknownFormatError(
        f"no importer recognises this {what}; 'talkvault formats' lists what can be read, "
        "and --format NAME chooses one",
        path=str(path),
    )


def exports_in(path: Path) -> list[Path]:
    """The exports a path stands for: itself if an importer recognises it; else, for a folder that
    holds several exports (a Downloads folder, say), each of its entries that one recognises.

    A folder in which nothing is recognised is returned as it is, so that importing it reports why.
    """
    try:
        detect(path)
        return [path]
    except UnknownFormatError:
        pass
    if not path.is_dir():
        return [path]
    found = []
    for child in sorted(path.iterdir()):
        if child.name.startswith("."):
            continue
        try:
            detect(child)
        except UnknownFormatError:
            continue
        found.append(child)
    return found or [path]
