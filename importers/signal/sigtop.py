"""sigtop's `export-messages` output: one file per Signal conversation, JSON or text.

How a person gets it: install sigtop (github.com/tbvdm/sigtop), quit Signal Desktop, then run
`sigtop export-messages -f json DIR` (or `-f text`, the default) and import DIR or one file.
sigtop names each file after the conversation (`Alice (+15551234567).json`, `Family (group).txt`,
cmd/sigtop `recipientFilename`).

* `json`: a JSON array of the raw `messages.json` values of Signal Desktop (the richest form;
  converted by importers/signal/convert.py). It holds ids and epoch times but no names, so group
  senders appear as their Signal id.
* `text` (fmt_text.go): a `Conversation:` line, then blocks of `From:`, `Type:`,
  `Sent: Mon, 2 Jan 2006 15:04:05 -0700`, `Received:`, `Attachment: name (type, N bytes)`,
  `Reaction: 😀 from Name`, `Edited: N versions` lines, a quote prefixed `>`, a blank line and
  the body; edit history prefixed `|`. No message ids.

`text-short` (one line per message, minute precision, no zone) is not read: export with
`-f json` or `-f text` instead.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import ijson

from importers.base import ParseOptions, guard_json, head_text, open_export, text_lines
from importers.signal.convert import (
    SignalContext,
    SignalConverter,
    SignalStats,
    kind_of_mime,
)
from vault.errors import ExportError
from vault.records import (
    DIRECT,
    EV_CALL,
    EV_ENCRYPTION,
    EV_SYSTEM,
    GROUP,
    OTHER,
    TEXT,
    UNKNOWN,
    Attachment,
    Chat,
    ChatKind,
    Event,
    EventKind,
    Message,
    Note,
    Problem,
    Reaction,
    Record,
    title_key,
)

# sigtop's time layout "Mon, 2 Jan 2006 15:04:05 -0700" (Go reference time; English names).
SENT_TIME = re.compile(r"[A-Z][a-z]{2}, (\d{1,2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})")
MONTHS = {
    m: i for i, m in enumerate(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"], 1)
}
FIELD = re.compile(r"(From|Type|Sent|Received|Attachment|Reaction|Edited): (.*)")
FIELD_NAMES = ("From: ", "Type: ", "Sent: ", "Received: ", "Attachment: ", "Reaction: ", "Edited: ")
ATTACHMENT = re.compile(r"(.*) \(([^,()]*), (\d+) bytes\)")
NO_FILENAME = "no filename"  # sigtop's stand-in for an attachment without a name
REACTION = re.compile(r"(.+?) from (.*)")
VERSION = re.compile(r"\| Version: (\d+)")
# The detail sigtop appends to a name: a phone number, a username, an ACI, or "group".
DETAIL = re.compile(r"(.*) \((\+\d+|[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}|[^()\s]+\.\d+|group)\)")
EVENT_KINDS: dict[str, EventKind] = {
    "call-history": EV_CALL,
    "keychange": EV_ENCRYPTION,
    "verified-change": EV_ENCRYPTION,
    "chat-session-refreshed": EV_ENCRYPTION,
}
STORY_TYPE = "story"
JSON_KEYS = ('"conversationId"', '"sent_at"')
# How many files of a folder detect() looks at.
DETECT_FILES = 20


def split_detail(shown: str) -> tuple[str, str | None]:
    """`Alice (+15551234567)` → ("Alice", "+15551234567"); names without a detail stay whole."""
    m = DETAIL.fullmatch(shown)
    return (m.group(1), m.group(2)) if m else (shown, None)


def _title(path: Path) -> tuple[str, ChatKind]:
    name, detail = split_detail(path.stem)
    if detail == "group":
        return name, GROUP
    return name, DIRECT if detail else UNKNOWN


def _sent_time(value: str) -> datetime | None:
    m = SENT_TIME.fullmatch(value.strip())
    if not m or m.group(2) not in MONTHS:
        return None
    day, _, year, hh, mm, ss, sign, oh, om = m.groups()
    try:
        offset = timedelta(hours=int(oh), minutes=int(om)) * (1 if sign == "+" else -1)
        local = datetime(int(year), MONTHS[m.group(2)], int(day), int(hh), int(mm), int(ss))
        return (local - offset).replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        return None


# --- detection ---------------------------------------------------------------------------------
def _is_json_export(path: Path) -> bool:
    head = head_text(path).lstrip()
    if not head.startswith("["):
        return False
    body = head[1:].lstrip()
    return body.startswith("{") and all(k in head for k in JSON_KEYS)


def _is_text_export(path: Path) -> bool:
    lines = head_text(path).split("\n", 40)
    if not lines or not lines[0].startswith("Conversation: "):
        return False
    fields = [ln for ln in lines[1:40] if ln.startswith(("Type: ", "Sent: "))]
    return any(ln.startswith("Type: ") for ln in fields) and any(
        _sent_time(ln[6:]) for ln in fields if ln.startswith("Sent: ")
    )


def _file_kind(path: Path) -> str | None:
    suffix = path.suffix.lower()
    if suffix == ".json" and _is_json_export(path):
        return "json"
    if suffix == ".txt" and _is_text_export(path):
        return "text"
    return None


def _export_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".json", ".txt"))


def detect_sigtop(path: Path) -> bool:
    try:
        if path.is_file():
            return _file_kind(path) is not None
        if path.is_dir():
            return any(_file_kind(p) for p in _export_files(path)[:DETECT_FILES])
    except Exception:
        return False
    return False


# --- parsing -----------------------------------------------------------------------------------
def parse_sigtop(path: Path, options: ParseOptions) -> Iterator[Record]:
    if path.is_dir():
        try:
            files = [(p, _file_kind(p)) for p in _export_files(path)]
        except OSError as exc:
            raise ExportError("the folder cannot be read", path=str(path)) from exc
        files = [(p, k) for p, k in files if k]
        if not files:
            raise ExportError("no sigtop export files (.json or .txt) in this folder", path=str(path))
        for file, kind in files:
            yield from (_parse_json(file, options) if kind == "json" else _parse_text(file))
        return
    if path.suffix.lower() == ".json":
        yield from _parse_json(path, options)
    else:
        yield from _parse_text(path)


def _parse_json(path: Path, options: ParseOptions) -> Iterator[Record]:
    title, kind = _title(path)
    stats = SignalStats()
    converter: SignalConverter | None = None
    where = str(path)
    count = 0
    with open_export(path) as fh:
        try:
            for item in ijson.items(guard_json(fh, where), "item"):
                count += 1
                if not isinstance(item, dict):
                    yield Problem(where, count, f"record {count} is not a message object; skipped")
                    continue
                if converter is None:
                    conv_id = item.get("conversationId")
                    key = str(conv_id) if conv_id else title_key(title)
                    yield Chat(source="signal", key=key, title=title, kind=kind,
                               participants=(title,) if kind == DIRECT else ())  # fmt: skip
                    converter = SignalConverter(
                        SignalContext(
                            chat=key,
                            kind=kind,
                            own_name="You",
                            name_of=lambda ident: None,
                            peer_name=title if kind == DIRECT else None,
                            skip_disappearing=options.params.get("disappearing") == "skip",
                            stats=stats,
                        )
                    )
                try:
                    rec = converter.convert(item, count)
                except ValueError as exc:
                    yield Problem(where, count, f"record {count}: {exc}; skipped")
                    continue
                except (TypeError, KeyError, AttributeError):
                    yield Problem(where, count, f"record {count}: unexpected structure; skipped")
                    continue
                if rec is not None:
                    yield rec
        except (ijson.JSONError, UnicodeDecodeError, ValueError) as exc:
            if count == 0:
                raise ExportError(
                    "not a readable sigtop JSON export (damaged or not JSON); export it again",
                    path=where,
                ) from exc
            yield Problem(
                where,
                count,
                f"the file is damaged or cut short after record {count}; the rest could not be read",
            )
    if stats.stories:
        yield Note(f"{stats.stories} stories were left out (they are not part of a chat)")
    if stats.view_once:
        yield Note(f"{stats.view_once} view-once messages were recorded without their media")


class _Peek:
    """Numbered lines with a few lines of look-ahead."""

    def __init__(self, lines: Iterator[tuple[int, str]]) -> None:
        self._it = lines
        self._buf: deque[tuple[int, str]] = deque()

    def peek(self, n: int = 0) -> str | None:
        while len(self._buf) <= n:
            nxt = next(self._it, None)
            if nxt is None:
                return None
            self._buf.append(nxt)
        return self._buf[n][1]

    def take(self) -> tuple[int, str]:
        self.peek()
        return self._buf.popleft()


def _starts_message(first: str | None, second: str | None) -> bool:
    """Whether a message block starts here (after a blank line)."""
    if first is None:
        return False
    if first.startswith("From: "):
        return second is not None and second.startswith("Type: ")
    if first.startswith("Type: "):
        return second is None or second == "" or second.startswith(FIELD_NAMES)
    return False


def _parse_text(path: Path) -> Iterator[Record]:
    where = str(path)
    with open_export(path) as fh:
        lines = _Peek(text_lines(fh, path=where))
        first = lines.peek()
        if first is None or not first.startswith("Conversation: "):
            raise ExportError("not a sigtop text export (no 'Conversation:' line)", path=where)
        lines.take()
        shown, detail = split_detail(first[len("Conversation: ") :])
        kind: ChatKind = GROUP if detail == "group" else DIRECT if detail else UNKNOWN
        key = title_key(shown)
        yield Chat(source="signal", key=key, title=shown, kind=kind,
                   participants=(shown,) if kind == DIRECT else (),
                   extra={"detail": detail} if detail and kind == DIRECT else {})  # fmt: skip
        while lines.peek() is not None:
            if lines.peek() == "":
                lines.take()
                continue
            if not _starts_message(lines.peek(), lines.peek(1)):
                lineno, _ = lines.take()
                yield Problem(where, lineno, "text outside any message; skipped")
                continue
            rec = _text_block(lines, key, kind, shown, where)
            if rec is not None:
                yield rec


def _text_block(lines: _Peek, chat: str, kind: ChatKind, title: str, where: str) -> Record | None:
    """One message block: header fields, then a quote, a body or an edit history."""
    start = lines.take()
    fields: list[tuple[str, str]] = []
    m = FIELD.fullmatch(start[1])
    while m is not None:
        fields.append((m.group(1), m.group(2)))
        nxt = lines.peek()
        m = FIELD.fullmatch(nxt) if nxt is not None else None
        if m is not None:
            lines.take()
    values: dict[str, str] = {}
    attachments: list[Attachment] = []
    reactions: list[Reaction] = []
    for name, value in fields:
        if name == "Attachment":
            attachments.append(_attachment(value))
        elif name == "Reaction":
            r = REACTION.fullmatch(value)
            if r:
                reactions.append(Reaction(r.group(1), split_detail(r.group(2))[0]))
        else:
            values[name] = value

    quote: dict[str, Any] = {}
    versions: list[dict[str, Any]] = []
    body: list[str] = []
    if "Edited" in values:
        if lines.peek() == "" and (lines.peek(1) or "").startswith("|"):
            lines.take()
        raw = []
        while (lines.peek() or "").startswith("|"):
            raw.append(lines.take()[1])
        versions = _edit_versions(raw)
    else:
        if lines.peek() == "" and (lines.peek(1) or "").startswith(">"):
            lines.take()
            quoted = []
            while (lines.peek() or "").startswith(">"):
                quoted.append(lines.take()[1])
            quote = _quote(quoted)
        if lines.peek() == "" and lines.peek(1) is not None and not _starts_message(lines.peek(1), lines.peek(2)):
            lines.take()
            while lines.peek() is not None:
                if lines.peek() == "" and (lines.peek(1) is None or _starts_message(lines.peek(1), lines.peek(2))):
                    break
                body.append(lines.take()[1])

    mtype = values.get("Type", "unknown")
    ts = _sent_time(values.get("Sent", "")) or _sent_time(values.get("Received", ""))
    if ts is None:
        return Problem(where, start[0], "message without a readable time; skipped")
    sender_shown = values.get("From")
    text = "\n".join(body)
    if mtype not in ("incoming", "outgoing"):
        if mtype == STORY_TYPE:
            return None
        actor = split_detail(sender_shown)[0] if sender_shown else None
        return Event(chat, ts, text or mtype.replace("-", " "), EVENT_KINDS.get(mtype, EV_SYSTEM),
                     actor=actor, line=start[0], extra={"signal_type": mtype})  # fmt: skip
    outgoing = mtype == "outgoing"
    extra: dict[str, Any] = {}
    edited = None
    if versions:
        text = versions[0]["text"]
        edited = versions[0]["when"]
        extra["edit_history"] = [
            {"ts": v["when"].isoformat() if v["when"] else None, "text": v["text"]} for v in reversed(versions)
        ]
        if edited is not None and edited <= ts:
            edited = None
        if not attachments:
            attachments = versions[0]["attachments"]
    if quote:
        extra["quote"] = quote
    sender: str | None = None
    sender_id: str | None = None
    if outgoing:
        sender = "You"
    elif sender_shown:
        sender, sender_id = split_detail(sender_shown)
    elif kind == DIRECT:
        sender = title
    msg_kind = attachments[0].kind if attachments else (TEXT if text else OTHER)
    return Message(
        chat=chat,
        ts=ts,
        sender=sender,
        text=text,
        kind=msg_kind,
        sender_id=sender_id,
        from_me=outgoing,
        edited=edited,
        attachments=tuple(attachments),
        reactions=tuple(reactions),
        line=start[0],
        extra=extra,
    )


def _attachment(value: str) -> Attachment:
    m = ATTACHMENT.fullmatch(value)
    if not m:
        return Attachment(value or "attachment")
    name = "attachment" if m.group(1) == NO_FILENAME else m.group(1)
    mime = m.group(2) or None
    return Attachment(name, kind_of_mime(mime), mime, int(m.group(3)))


def _quote(quoted: list[str]) -> dict[str, Any]:
    """The `>` block: From, Sent, Attachment fields, then `>` and the quoted text."""
    info: dict[str, Any] = {}
    text: list[str] = []
    in_body = False
    for line in quoted:
        content = line[1:]
        if not in_body:
            if content == "":
                in_body = True
                continue
            m = FIELD.fullmatch(content.lstrip(" "))
            if m and m.group(1) == "From":
                info["author"] = split_detail(m.group(2))[0]
            elif m and m.group(1) == "Sent":
                when = _sent_time(m.group(2))
                if when:
                    info["sent_at"] = when.isoformat()
            continue
        text.append(content[1:] if content.startswith(" ") else content)
    if text:
        info["text"] = "\n".join(text)
    return info


def _edit_versions(raw: list[str]) -> list[dict[str, Any]]:
    """The `|` block of an edited message, newest version first."""
    versions: list[dict[str, Any]] = []
    section = "header"
    prev = ""
    for line in raw:
        m = VERSION.fullmatch(line)
        if m and (not versions or prev == "|"):
            versions.append({"when": None, "text": "", "lines": [], "attachments": []})
            section = "header"
        elif not versions:
            pass
        elif line == "|":
            section = "break"
        elif section == "header":
            f = FIELD.fullmatch(line[2:])
            if f and f.group(1) == "Sent":
                versions[-1]["when"] = _sent_time(f.group(2))
            elif f and f.group(1) == "Attachment":
                versions[-1]["attachments"].append(_attachment(f.group(2)))
        elif section in ("break", "body") and line.startswith("| >"):
            section = "quote"
        elif section in ("break", "body"):
            section = "body"
            versions[-1]["lines"].append(line[2:])
        prev = line
    for v in versions:
        v["text"] = "\n".join(v.pop("lines"))
    return versions
