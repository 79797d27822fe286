"""WhatsApp "Export chat": the .txt (Android, iOS), the .zip with or without media, or an unpacked folder.

How a person gets it: in WhatsApp, open the chat → ⋮ (Android) or the chat's name (iOS) → More →
Export chat → "Without media" or "Include media". Android shares "WhatsApp Chat with NAME.txt" (a
.zip with the media files when they are included); iOS shares "WhatsApp Chat - NAME.zip" holding
`_chat.txt` and the media. Versions read: every layout seen from 2016 to 2025 (formats/whatsapp-*.md
§1): Android "DATE, TIME - Name: text" and iOS "[DATE, TIME] Name: text", in any phone language and
regional format (whatsapp/header.py), with the placeholders and notices of whatsapp/phrases.py.

WhatsApp Android's own database (msgstore.db, or an encrypted .crypt14/.crypt15 backup with the
person's key) is the format `whatsapp-android-db` of whatsapp/android_db.py.

The export has no message ids and no time zone: messages get `source_id=None` (the vault
fingerprints them) and naive wall-clock times. The file is read twice, both times streaming: a
first pass settles the header grammar, the date order (a later 25/03 settles an earlier 01/03), the
senders and whether the chat is a group; the second pass yields the records.
"""

from __future__ import annotations

import locale
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from importers.base import Format, ParseOptions, is_zip, open_zip, read_head, sniff_encoding
from importers.whatsapp import android_db
from importers.whatsapp.body import classify, kind_of_file, mime_of_file, plain_text, split_sender
from importers.whatsapp.header import (
    DateEvidence,
    DateOrder,
    Shape,
    ShapeKey,
    TimestampReader,
    match_header,
    resolve_date_order,
    shape_of,
    shape_regex,
)
from importers.whatsapp.phrases import MARKS
from importers.whatsapp.source import (
    MAX_MESSAGE_CHARS,
    ChatText,
    Opener,
    file_chat,
    folder_chats,
    read_blocks,
    zip_chats,
)
from vault.errors import ExportError
from vault.records import (
    DIRECT,
    GROUP,
    TEXT,
    Attachment,
    Chat,
    ChatKind,
    Note,
    Problem,
    Record,
    new_event,
    new_message,
    title_key,
)

SOURCE = "whatsapp"
_ZIP_MAGIC = b"PK\x03\x04"
# How many lines of the first 64 KiB detect() looks at for the first header.
_DETECT_LINES = 5
# Territories whose phones write the month before the day (the rest of the world writes the day
# first, or the year first with four digits, which the file itself settles).
_MONTH_FIRST_TERRITORIES = frozenset({"US", "PH", "FM", "MH", "PW", "GU", "AS", "MP", "PR", "UM", "VI"})
_TERRITORY_NAMES = {"united states": "US", "philippines": "PH"}  # Windows locale names
_TERRITORY_RE = re.compile(r"^[A-Za-z]{2,3}[_-]([A-Za-z]{2})\b")


def detect(path: Path) -> bool:
    """A WhatsApp chat text, an export zip, or a folder holding one; False on any doubt or error."""
    try:
        if path.is_dir():
            return any(_looks_like_chat(c.open, named=c.named) for c in folder_chats(path))
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                chats, _ = zip_chats(path, zf)
                return any(_looks_like_chat(c.open, named=c.named) for c in chats)
        if path.is_file():
            chat = file_chat(path)
            return _looks_like_chat(chat.open, named=chat.named)
    except Exception:  # detect() never raises: any failure means "not this format"
        return False
    return False


def _looks_like_chat(open_: Opener, *, named: bool) -> bool:
    """The first lines of the text start with a WhatsApp header followed by a name or a notice.

    signal-export's Markdown (`[2019-12-24, 12:23] Jane Doe: Hello`) has the shape of a bracketed
    header with a year-first date; that shape counts only with more evidence: a WhatsApp file name,
    an invisible mark WhatsApp writes, or the word WhatsApp.
    """
    with open_() as fh:
        head = fh.read(64 * 1024)
    encoding = sniff_encoding(head)
    text = head.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = [ln for ln in text.split("\n")[:_DETECT_LINES] if ln.strip()]
    if not lines:
        return False
    hit = match_header(lines[0].rstrip("\r"))
    if hit is None:
        return False
    m, key = hit
    shape = shape_of(key)
    rest = lines[0][m.end() :].strip()
    term = shape.terminator.strip(" \u00a0\u202f\u2009")
    if not rest or (shape.family.startswith("plain") and term not in ("-", ":")):
        return False
    if shape.family.startswith("bracket") and len(m["a"]) == 4 and m["sep"] == "-":
        # signal-export writes "[2019-12-24, 12:23]" and "[2019-12-24 12:23:05]": only dashes.
        # "[2016/04/15 15:04]" (slashes or dots) is WhatsApp's alone.
        return named or any(c in text for c in MARKS[:2]) or "WhatsApp" in text
    return True


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Records of every chat in the export (see the module docstring)."""
    try:
        yield from _parse(path, options)
    except ExportError:
        raise
    except (OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, ValueError, LookupError, TypeError) as exc:
        raise ExportError(
            "the export could not be read (damaged or unreadable file?); export the chat again",
            path=str(path),
        ) from exc


def _parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    if path.is_dir():
        chats = folder_chats(path)
        if not chats:
            raise ExportError(
                "no WhatsApp chat text (_chat.txt or 'WhatsApp Chat … .txt') in this folder",
                path=str(path),
            )
        for chat in chats:
            yield from _parse_chat(chat, options)
        return
    if not path.is_file():
        raise ExportError("no such file; check the path", path=str(path))
    if is_zip(path) or path.suffix.casefold() == ".zip" or read_head(path, 4) == _ZIP_MAGIC:
        with open_zip(path) as zf:
            chats, unsafe = zip_chats(path, zf)
            if unsafe:
                yield Problem(
                    str(path),
                    None,
                    f"{unsafe} zip member(s) named outside the archive were skipped",
                )
            if not chats:
                raise ExportError(
                    "no WhatsApp chat text (_chat.txt or 'WhatsApp Chat … .txt') in this zip",
                    path=str(path),
                )
            for chat in chats:
                yield from _parse_chat(chat, options)
        return
    yield from _parse_chat(file_chat(path), options)


# ---------------------------------------------------------------------------------------------
# Pass 1: grammar, date order, senders, group or not.


@dataclass
class _ShapeScan:
    """What the first pass learns from the headers of one shape."""

    first_line: int
    headers: int = 0
    evidence: DateEvidence = field(default_factory=DateEvidence)
    dates: set[tuple[str, ...]] = field(default_factory=set)  # dates already counted as evidence
    senders: dict[str, None] = field(default_factory=dict)  # in order of first message
    names_seen: set[str] = field(default_factory=set)  # the senders' names as printed
    group_hint: bool = False


def _scan(chat: ChatText) -> dict[ShapeKey, _ShapeScan]:
    scans: dict[ShapeKey, _ShapeScan] = {}
    for first, texts, _ in read_blocks(chat.open, chat.label):
        for i, text in enumerate(texts):
            hit = match_header(text)
            if hit is not None:
                _scan_line(chat, scans, first + i, text, *hit)
    return scans


def _scan_line(
    chat: ChatText, scans: dict[ShapeKey, _ShapeScan], number: int, text: str, m: re.Match[str], key: ShapeKey
) -> None:
    scan = scans.get(key)
    if scan is None:
        scan = scans[key] = _ShapeScan(first_line=number)
    scan.headers += 1
    date = m.group("a", "b", "c", "era", "be")
    if date not in scan.dates:
        scan.dates.add(date)
        scan.evidence.add(m)
    rest = text[m.end() :]
    colon = rest.find(": ")
    if colon > 0 and rest[:colon] in scan.names_seen:
        return  # a known sender's name as printed: nothing new to learn from this line
    sender, body, _ = split_sender(rest)
    if sender is not None and sender in scan.senders:
        if colon > 0:
            scan.names_seen.add(rest[:colon])
        return
    if sender is None and scan.group_hint:
        return
    result = classify(sender, body, line_marked=bool(m["lead"]), chat_title=chat.title)
    if result.event is not None:
        scan.group_hint = scan.group_hint or result.group_hint
    elif sender is not None:
        scan.senders[sender] = None


def locale_date_order() -> tuple[str, str | None]:
    """The date order the person's locale suggests, and the locale it came from.

    The locale is the first of $LC_ALL, $LC_TIME and $LANG that is set, else Python's
    `locale.getlocale()`. Territories that write the month first (the US and a few others) give
    "mdy"; any other known locale "dmy"; none (or C/POSIX) "dmy" too, the order of most of the world.
    """
    name: str | None = None
    for var in ("LC_ALL", "LC_TIME", "LANG"):
        value = os.environ.get(var)
        if value:
            name = value
            break
    if name is None:
        try:
            name = locale.getlocale()[0]
        except ValueError:
            name = None
    if not name or name.split(".")[0] in ("C", "POSIX"):
        return "dmy", None
    m = _TERRITORY_RE.match(name)
    territory = m.group(1).upper() if m else None
    if territory is None:
        lowered = name.casefold()
        territory = next((v for k, v in _TERRITORY_NAMES.items() if k in lowered), None)
    return ("mdy" if territory in _MONTH_FIRST_TERRITORIES else "dmy"), name.split(".")[0]


def _date_order_notes(order: DateOrder, option: str | None, locale_name: str | None) -> list[Note]:
    if order.settled:
        if option and option != order.label:
            return [
                Note(
                    f"--date-order {option} was not used: the file's own dates are "
                    f"{order.words} (a number above 12 settles it)"
                )
            ]
        return []
    if order.source == "option":
        return [Note(f"date order: {order.words}, as --date-order {option} says (the file's dates fit both)")]
    why = f"the usual order for the locale {locale_name}" if locale_name else "the most common order; no locale is set"
    return [
        Note(f"date order assumed: {order.words} ({why}; nothing in the file settles it; use --date-order to choose)")
    ]


# ---------------------------------------------------------------------------------------------
# Pass 2: records.


class _Pending:
    """The record being gathered: its header and the lines that follow it."""

    __slots__ = ("cut", "first", "line", "match", "more", "size")

    def __init__(self, line: int, match: re.Match[str], first: str) -> None:
        self.line = line
        self.match = match
        self.first = first
        self.more: list[str] | None = None  # the lines after the header's, once there is one
        self.size = 0
        self.cut = False

    def add(self, text: str) -> None:
        if self.cut:
            return
        self.size += len(text) + 1
        if self.size > MAX_MESSAGE_CHARS:
            self.cut = True
            return
        if self.more is None:
            self.more = [text]
        else:
            self.more.append(text)


def _parse_chat(chat: ChatText, options: ParseOptions) -> Iterator[Record]:
    scans = _scan(chat)
    if not scans:
        raise ExportError(
            "no WhatsApp message header found; is this the .txt from WhatsApp's 'Export chat'?",
            path=chat.label,
        )
    shape_key, scan = max(scans.items(), key=lambda kv: (kv[1].headers, -kv[1].first_line))
    shape = shape_of(shape_key)
    locale_order, locale_name = locale_date_order()
    order = resolve_date_order(scan.evidence, options.date_order, locale_order)
    key = title_key(chat.title)
    participants = tuple(scan.senders)
    kind: ChatKind = GROUP if len(participants) > 2 or scan.group_hint else DIRECT
    header = shape.describe(order.label)
    yield Chat(
        source=SOURCE,
        key=key,
        title=chat.title,
        kind=kind,
        participants=participants,
        extra={
            "header": header,
            "date_order": order.label,
            "date_order_source": order.source,
        },
    )
    yield from _date_order_notes(order, options.date_order, locale_name)
    reader = TimestampReader(order)
    yield from _records(chat, key, shape, reader)
    if reader.swapped:
        yield Note(
            f"{reader.swapped} record(s) had a date that can only be {reader.swapped_order.words} "
            f"and were read so; the file's other dates were read as {order.words}"
        )


def _records(chat: ChatText, key: str, shape: Shape, reader: TimestampReader) -> Iterator[Record]:
    match = shape_regex(shape).match
    pending: _Pending | None = None
    skipped_preamble = False
    for first, texts, issues in read_blocks(chat.open, chat.label):
        for i, text in enumerate(texts):
            if issues is not None and i in issues:
                yield Problem(chat.label, first + i, issues[i])
            m = match(text)
            if m is not None:
                if pending is not None:
                    yield from _emit(chat, key, pending, reader)
                pending = _Pending(first + i, m, text[m.end() :])
            elif pending is not None:
                pending.add(text)
            elif text.strip() and not skipped_preamble:
                skipped_preamble = True
                yield Problem(chat.label, first + i, "text before the first message was skipped")
    if pending is not None:
        yield from _emit(chat, key, pending, reader)


def _emit(chat: ChatText, key: str, pending: _Pending, reader: TimestampReader) -> list[Record]:
    """The record a header and its lines make (a list: a Problem may come before it)."""
    out: list[Record] = []
    try:
        ts: datetime = reader.read(pending.match)
    except ValueError:
        return [
            Problem(
                chat.label,
                pending.line,
                "impossible date or time in the header (or a date order the file contradicts); record skipped",
            )
        ]
    if pending.cut:
        out.append(
            Problem(
                chat.label,
                pending.line,
                f"message longer than {MAX_MESSAGE_CHARS >> 20} MiB; the rest of it was left out",
            )
        )
    sender, body, not_contact = split_sender(pending.first)
    lines = pending.more
    if lines:
        while lines and not lines[-1].strip():
            lines.pop()  # WhatsApp trims messages; blank lines at the end are the file's, not the text's
    text = "\n".join([body, *lines]) if lines else body
    if sender is not None and plain_text(text):  # what classify() gives such a text, without its tests
        out.append(
            new_message(
                key,
                ts,
                sender,
                text,
                TEXT,
                line=pending.line,
                extra={"not_in_contacts": True} if not_contact else {},
            )
        )
        return out
    result = classify(sender, text, line_marked=bool(pending.match["lead"]), chat_title=chat.title)
    if result.problem is not None:
        out.append(Problem(chat.label, pending.line, result.problem))
    if result.event is not None:
        out.append(
            new_event(
                key,
                ts,
                result.text,
                result.event,
                actor=result.sender,
                line=pending.line,
                extra=result.extra,
            )
        )
        return out
    attachments: tuple[Attachment, ...] = ()
    if result.file_name:
        found = chat.media(result.file_name)
        opener, size = found if found is not None else (None, None)
        attachments = (
            Attachment(
                name=result.file_name,
                kind=kind_of_file(result.file_name),
                mime=mime_of_file(result.file_name),
                size=size,
                open=opener,
            ),
        )
    extra = result.extra
    if not_contact:
        extra["not_in_contacts"] = True
    out.append(
        new_message(
            key,
            ts,
            result.sender,
            result.text,
            result.kind,
            attachments=attachments,
            line=pending.line,
            extra=extra,
        )
    )
    return out


FORMATS: list[Format] = [
    Format(
        name="whatsapp-android-db",
        source=SOURCE,
        description=(
            "WhatsApp Android's database: msgstore.db (with wa.db beside it for names), or a "
            ".crypt14/.crypt15 backup with your key (--whatsapp-key); media from WhatsApp/Media"
        ),
        detection=(
            "a SQLite file with WhatsApp's message/chat/jid (or legacy messages) tables, a folder "
            "holding msgstore.db, or msgstore*.crypt14/.crypt15 whose header parses"
        ),
        detect=android_db.detect,
        parse=android_db.parse,
    ),
    Format(
        name="whatsapp",
        source=SOURCE,
        description=(
            "WhatsApp 'Export chat': the .txt (Android, iOS, any language and date format), "
            "the .zip with or without media, or a folder holding them"
        ),
        detection=(
            "a WhatsApp message header ('18/03/2022, 14:56 - ' or '[3/18/22, 14:56:01] ') "
            "on the first line of a .txt, of _chat.txt or 'WhatsApp Chat … .txt' in a zip or folder"
        ),
        detect=detect,
        parse=parse,
        parse_ahead=True,
        naive_times=True,
    ),
]
