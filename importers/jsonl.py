"""talkvault's own JSONL interchange format: script any source into the vault, and move a vault's contents.

One JSON object per line (docs/jsonl-format.md). The first line is the header
`{"type": "talkvault", "version": 1}`; then `chat` lines, each before the `message` and `event` lines
that name it. Attachments are files referenced by a path relative to the JSONL file. `talkvault
export --format jsonl` writes the same format, with each message's `identity`, so that importing an
export into a vault that already holds it adds nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from importers.base import Format, ParseOptions, file_opener, head_text, loads_json, text_lines
from vault.errors import ExportError
from vault.records import (
    EV_SYSTEM,
    FILE,
    TEXT,
    UNKNOWN,
    Attachment,
    Chat,
    Event,
    Message,
    Problem,
    Reaction,
    Record,
    chat_kind,
    event_kind,
    message_kind,
)

HEADER_TYPE = "talkvault"
VERSION = 1


def detect(path: Path) -> bool:
    if not path.is_file():
        return False
    first = head_text(path, 4096).split("\n", 1)[0]
    try:
        doc = loads_json(first)
    except ValueError:
        return False
    return isinstance(doc, dict) and doc.get("type") == HEADER_TYPE


def parse_time(value: Any) -> datetime:
    """ISO 8601: with Z or an offset it is an instant; without, wall-clock time (--tz applies)."""
    if not isinstance(value, str):
        raise ValueError("time must be a string")
    v = value.strip()
    if v.endswith(("Z", "z")):
        v = v[:-1] + "+00:00"
    try:
        ts = datetime.fromisoformat(v)
    except ValueError:
        raise ValueError("time is not ISO 8601") from None
    return ts.astimezone(timezone.utc) if ts.tzinfo is not None else ts


def _opt_str(d: dict[str, Any], key: str) -> str | None:
    v = d.get(key)
    if v is None:
        return None
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return str(v)
    if not isinstance(v, str):
        raise ValueError(f"{key} must be a string")
    return v


def _attachments(base: Path, items: Any) -> tuple[Attachment, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ValueError("attachments must be a list")
    out = []
    root = base.resolve()
    for a in items:
        if not isinstance(a, dict) or not isinstance(a.get("name"), str):
            raise ValueError("an attachment needs a name")
        opener = None
        rel = a.get("path")
        size = a.get("size") if isinstance(a.get("size"), int) else None
        if isinstance(rel, str) and rel:
            target = (base / rel).resolve()
            if not target.is_relative_to(root):
                raise ValueError("an attachment path leaves the export folder")
            if target.is_file():
                opener = file_opener(target)
                size = target.stat().st_size
        out.append(
            Attachment(
                name=a["name"],
                kind=message_kind(str(a.get("kind") or FILE)) or FILE,
                mime=a.get("mime") if isinstance(a.get("mime"), str) else None,
                size=size,
                open=opener,
            )
        )
    return tuple(out)


def _reactions(items: Any) -> tuple[Reaction, ...]:
    if not items:
        return ()
    if not isinstance(items, list):
        raise ValueError("reactions must be a list")
    return tuple(
        Reaction(
            emoji=str(r["emoji"]),
            sender=_opt_str(r, "sender"),
            ts=parse_time(r["ts"]) if r.get("ts") else None,
        )
        for r in items
        if isinstance(r, dict) and r.get("emoji")
    )


def _record(doc: dict[str, Any], base: Path, lineno: int) -> Record | None:
    kind_of_line = doc.get("type")
    if kind_of_line == "chat":
        parts = doc.get("participants") or []
        return Chat(
            source=str(doc["source"]),
            key=str(doc["key"]),
            title=str(doc.get("title") or doc["key"]),
            kind=chat_kind(str(doc.get("kind") or UNKNOWN)) or UNKNOWN,
            participants=tuple(str(p) for p in parts if isinstance(p, str)),
            extra=dict(doc["extra"]) if isinstance(doc.get("extra"), dict) else {},
        )
    if kind_of_line == "message":
        kind = message_kind(str(doc.get("kind") or TEXT))
        if kind is None:
            raise ValueError("unknown message kind")
        return Message(
            chat=str(doc["chat"]),
            ts=parse_time(doc["ts"]),
            sender=_opt_str(doc, "sender"),
            text=str(doc.get("text") or ""),
            kind=kind,
            source_id=_opt_str(doc, "id"),
            sender_id=_opt_str(doc, "sender_id"),
            from_me=doc.get("from_me") if isinstance(doc.get("from_me"), bool) else None,
            reply_to=_opt_str(doc, "reply_to"),
            edited=parse_time(doc["edited"]) if doc.get("edited") else None,
            forwarded_from=_opt_str(doc, "forwarded_from"),
            attachments=_attachments(base, doc.get("attachments")),
            reactions=_reactions(doc.get("reactions")),
            line=lineno,
            extra=dict(doc["extra"]) if isinstance(doc.get("extra"), dict) else {},
            identity=_opt_str(doc, "identity"),
        )
    if kind_of_line == "event":
        ev_kind = event_kind(str(doc.get("kind") or EV_SYSTEM))
        if ev_kind is None:
            raise ValueError("unknown event kind")
        return Event(
            chat=str(doc["chat"]),
            ts=parse_time(doc["ts"]),
            text=str(doc.get("text") or ""),
            kind=ev_kind,
            actor=_opt_str(doc, "actor"),
            source_id=_opt_str(doc, "id"),
            line=lineno,
            extra=dict(doc["extra"]) if isinstance(doc.get("extra"), dict) else {},
            identity=_opt_str(doc, "identity"),
        )
    raise ValueError("unknown line type")


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        with open(path, "rb") as fh:
            yield from _parse_lines(fh, path)
    except OSError as exc:
        raise ExportError(f"cannot be read ({exc.strerror})", path=str(path)) from None


def _parse_lines(fh: IO[bytes], path: Path) -> Iterator[Record]:
    base = path.parent
    header_seen = False
    for lineno, line in text_lines(fh, path=str(path)):
        if not line.strip():
            continue
        try:
            doc = loads_json(line, str(path), line=lineno)
        except ValueError:
            if not header_seen:
                raise ExportError(
                    "is not a talkvault JSONL file (no header line)", path=str(path), line=lineno
                ) from None
            yield Problem(str(path), lineno, "not valid JSON; line skipped")
            continue
        if not header_seen:
            _check_header(doc, path, lineno)
            header_seen = True
            continue
        if not isinstance(doc, dict):
            yield Problem(str(path), lineno, "not a JSON object; line skipped")
            continue
        try:
            rec = _record(doc, base, lineno)
        except (KeyError, ValueError, TypeError) as exc:
            what = f"missing {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc)
            yield Problem(str(path), lineno, f"bad record ({what}); line skipped")
            continue
        if rec is not None:
            yield rec
    if not header_seen:
        raise ExportError("is empty", path=str(path))


def _check_header(doc: Any, path: Path, lineno: int) -> None:
    if not isinstance(doc, dict) or doc.get("type") != HEADER_TYPE:
        raise ExportError('must start with {"type": "talkvault", "version": 1}', path=str(path), line=lineno)
    if doc.get("version") != VERSION:
        raise ExportError(
            f"is version {doc.get('version')!r}; this talkvault reads version {VERSION}", path=str(path), line=lineno
        )


FORMATS = [
    Format(
        name="jsonl",
        source="jsonl",
        description="talkvault's own JSONL interchange format (docs/jsonl-format.md), as 'export' writes it",
        detection='first line is {"type": "talkvault", ...}',
        detect=detect,
        parse=parse,
        parse_ahead=True,
    )
]
