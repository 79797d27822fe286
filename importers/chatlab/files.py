"""Reading ChatLab files: detection and streaming of the JSON document and of the JSONL lines."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from importers.base import (
    SNIFF_BYTES,
    ParseOptions,
    decode_head,
    head_text,
    loads_json,
    open_export,
    read_head,
    text_lines,
)
from importers.chatlab.convert import Header, add_member, chat, record
from importers.tree import JSON_ERRORS, WrongShape, json_items, object_head
from vault.errors import ExportError
from vault.records import Chat, Problem, Record

_JSON_HEAD_RE = re.compile(r'^\s*\{.*?"chatlab"\s*:\s*\{[^{}]*"version"\s*:', re.DOTALL)
# A JSONL header line too long for the sniffed bytes (a data-URL group avatar): its opening.
_JSONL_HEADER_RE = re.compile(r'^\s*\{(?=[^\n]*"_type"\s*:\s*"header")(?=[^\n]*"chatlab"\s*:\s*\{)')
_AGAIN = "export it again from ChatLab (or the tool that wrote it)"


def _title(path: Path) -> str:
    return path.stem or "ChatLab chat"


# --- JSON ---------------------------------------------------------------------------------------


def detect_json(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    return bool(_JSON_HEAD_RE.match(head_text(path)))


def _bad_json(path: Path) -> ExportError:
    return ExportError(f"is not complete, valid ChatLab JSON (truncated or damaged?); {_AGAIN}", path=str(path))


def parse_json(path: Path, options: ParseOptions) -> Iterator[Record]:
    header = Header()
    try:
        with open_export(path) as fh:
            head = object_head(fh, "messages")
        found = head.get("chatlab")
        header.chatlab = found if isinstance(found, dict) else {}
        meta = head.get("meta")
        if meta is None:  # written after the messages: look further (rare; the spec puts it first)
            with open_export(path) as fh:
                meta = next(json_items(fh, "meta"), None)
        header.meta = meta if isinstance(meta, dict) else {}
        members: Any = head.get("members")
        if members is None:
            with open_export(path) as fh:
                members = list(json_items(fh, "members.item"))
        for n, member in enumerate(members if isinstance(members, list) else [], 1):
            if not add_member(header, member):
                yield Problem(str(path), None, f"member {n} has no platformId; skipped")
    except WrongShape:
        raise ExportError(f"is not shaped as ChatLab JSON (no 'messages' array); {_AGAIN}", path=str(path)) from None
    except JSON_ERRORS:
        raise _bad_json(path) from None
    if "version" not in header.chatlab:
        raise ExportError(f"has no ChatLab header ('chatlab.version'); {_AGAIN}", path=str(path))
    c = chat(header, _title(path))
    yield c
    n = 0
    try:
        with open_export(path) as fh:
            for n, msg in enumerate(json_items(fh, "messages.item"), 1):
                yield _one(path, c, msg, header, None, f"message {n}")
    except JSON_ERRORS:
        raise _bad_json(path) from None


def _one(path: Path, c: Chat, msg: Any, header: Header, line: int | None, what: str) -> Record:
    if not isinstance(msg, dict):
        return Problem(str(path), line, f"{what} is not an object; skipped")
    try:
        return record(c.key, msg, header, line)
    except (ValueError, TypeError, OverflowError, OSError):
        return Problem(str(path), line, f"{what} could not be read (timestamp or type missing or invalid); skipped")


# --- JSONL --------------------------------------------------------------------------------------


def _first_data_line(path: Path) -> tuple[str, bool] | None:
    """The first line that is not blank or a comment, and whether the sniffed bytes hold all of it."""
    raw = read_head(path)
    lines = decode_head(raw).split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return stripped, i < len(lines) - 1 or len(raw) < SNIFF_BYTES
    return None


def detect_jsonl(path: Path) -> bool:
    if not path.is_file():
        return False
    found = _first_data_line(path)
    if found is None:
        return False
    first, whole = found
    if not whole:  # a header longer than the sniffed bytes (a data-URL group avatar)
        return bool(_JSONL_HEADER_RE.match(first))
    try:
        doc = loads_json(first)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("_type") == "header" and isinstance(doc.get("chatlab"), dict)


def _lines(path: Path, fh: IO[bytes]) -> Iterator[tuple[int, Any]]:
    """(line number, decoded JSON or None when the line is not JSON) for each data line."""
    for lineno, line in text_lines(fh, path=str(path)):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        try:
            yield lineno, loads_json(stripped, str(path), line=lineno)
        except ValueError:
            yield lineno, None


def parse_jsonl(path: Path, options: ParseOptions) -> Iterator[Record]:
    header = Header()
    c: Chat | None = None
    seen_header = False
    with open_export(path) as fh:
        for lineno, doc in _lines(path, fh):
            kind = doc.get("_type") if isinstance(doc, dict) else None
            if not seen_header:
                if kind != "header" or not isinstance(doc.get("chatlab"), dict):
                    raise ExportError(
                        f"does not start with a ChatLab header line; {_AGAIN}", path=str(path), line=lineno
                    )
                seen_header = True
                header.chatlab = doc["chatlab"]
                header.meta = doc["meta"] if isinstance(doc.get("meta"), dict) else {}
                continue
            if doc is None:
                yield Problem(str(path), lineno, "not valid JSON; skipped")
            elif kind == "member":
                if c is not None:
                    yield Problem(
                        str(path), lineno, "member line after the first message; its name is used from here on"
                    )
                if not add_member(header, doc):
                    yield Problem(str(path), lineno, "member has no platformId; skipped")
            elif kind == "message":
                if c is None:
                    c = chat(header, _title(path))
                    yield c
                yield _one(path, c, doc, header, lineno, "message")
            elif kind == "header":
                yield Problem(str(path), lineno, "a second header line; ignored")
            else:
                yield Problem(str(path), lineno, "unknown line type; skipped")
    if not seen_header:
        raise ExportError(f"holds no ChatLab header line; {_AGAIN}", path=str(path))
    if c is None:
        yield chat(header, _title(path))
