"""Helpers shared by the readers of WeChat tool exports (CSV, TXT, HTML, JSON files).

The tools write UTF-8 (MemoTrace with a BOM); a file re-saved by a spreadsheet on a Chinese
Windows is GB18030 instead, which `sniff_encoding()` recognises from the first 64 KiB. Times in
these exports are the exporting machine's wall-clock time without a zone, so they are returned
naive; the vault applies the import's --tz.
"""

from __future__ import annotations

import csv
import functools
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from importers.base import SNIFF_BYTES, ParseOptions, Parser, guard_json, loads_json, read_head
from importers.wechat.common import ME, display_name, event_kind, is_recall, strip_markup
from vault.errors import ExportError
from vault.records import DELETED, Attachment, Event, Message, MessageKind, Problem, Record

UTF8 = "utf-8-sig"
GB18030 = "gb18030"

# users.json beside a PyWxDump export holds the contacts of that chat; larger files are not read.
MAX_USERS_JSON = 16 * 1024 * 1024

# Local times as the tools print them: "2023-08-12 23:22:41", and as a spreadsheet re-saves them:
# "2024/10/4 11:42" (corpus/EXPECTED.md, WeClone test CSV).
_LOCAL_TIME = re.compile(r"^\s*(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*$")


def parse_local_time(value: str) -> datetime | None:
    """A naive datetime from a tool's local time text, or None."""
    match = _LOCAL_TIME.match(value or "")
    if not match:
        return None
    y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
    try:
        return datetime(y, mo, d, h, mi, s)
    except ValueError:
        return None


def _decodes(data: bytes, encoding: str) -> bool:
    # The sniffed head may end inside a multi-byte character: allow 3 bytes of slack.
    for cut in range(4):
        try:
            data[: len(data) - cut].decode(encoding)
            return True
        except UnicodeDecodeError:
            continue
    return False


def sniff_encoding(path: Path) -> str:
    """UTF-8 (BOM tolerated) unless the head only decodes as GB18030."""
    head = read_head(path, SNIFF_BYTES)
    if _decodes(head, "utf-8") or not _decodes(head, GB18030):
        return UTF8
    return GB18030


def open_text(path: Path, encoding: str) -> IO[str]:
    try:
        return open(path, encoding=encoding, errors="strict", newline="")
    except OSError as exc:
        raise ExportError("cannot open this file", path=str(path)) from exc


def csv_rows(path: Path, encoding: str) -> Iterator[tuple[int, list[str] | None]]:
    """(first line of the row, fields) of a CSV file, streaming; fields None for a broken row.

    Quoted fields may span lines (quote replies do), so the line number is where the row starts.
    Undecodable bytes raise ExportError naming the line.
    """
    with open_text(path, encoding) as text:
        reader = csv.reader(text)
        last = 0
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error:
                yield last + 1, None
                last = reader.line_num
                continue
            except UnicodeDecodeError as exc:
                raise ExportError(
                    f"not valid {encoding} text (was the file converted?); export it again",
                    path=str(path),
                    line=last + 1,
                ) from exc
            start, last = last + 1, reader.line_num
            yield start, row


def csv_dicts(path: Path, header: list[str]) -> Iterator[tuple[int, dict[str, str] | Problem]]:
    """(line, row as {column: value}) of a CSV export below its header line, streaming (the
    encoding sniffed); a broken row, or one with another number of fields than the header, is a
    Problem in the row's place; empty rows are passed over."""
    for line, fields in csv_rows(path, sniff_encoding(path)):
        if line == 1:
            continue
        if fields is None:
            yield line, Problem(str(path), line, "broken CSV row (unbalanced quotes?)")
        elif fields and fields != [""]:
            if len(fields) != len(header):
                yield (
                    line,
                    Problem(str(path), line, f"row has {len(fields)} fields, expected {len(header)}"),
                )
            else:
                yield line, dict(zip(header, fields))


def text_lines(path: Path, encoding: str) -> Iterator[tuple[int, str]]:
    """(line number, line without its line end) of a text file, streaming."""
    with open_text(path, encoding) as text:
        number = 0
        try:
            for number, line in enumerate(text, 1):
                if number == 1:
                    line = line.lstrip("\ufeff")
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as exc:
            raise ExportError(
                f"not valid {encoding} text (was the file converted?); export it again",
                path=str(path),
                line=number + 1,
            ) from exc


def owner_name(options: ParseOptions) -> str | None:
    """The name the owner appears under (parameter `wechat_me`), for exports that do not say."""
    me = options.params.get("wechat_me")
    return me.strip() if me and me.strip() else None


# A recall notice that starts with 你 ("you") is the owner's own recall.
OWN_RECALL_PREFIX = "你"


def system_entry(chat: str, ts: datetime, text: str, line: int, me: str | None) -> Message | Event:
    """A system line of a text export: a recall becomes a deleted-message placeholder."""
    text = strip_markup(text)
    if is_recall(text):
        mine = text.startswith(OWN_RECALL_PREFIX) or None
        sender = (me or ME) if mine else None
        return Message(chat, ts, sender, text, DELETED, from_me=mine, line=line)
    return Event(chat, ts, text, event_kind(text), line=line)


def guarded(parse: Parser) -> Parser:
    """`parse` with any unexpected structure turned into one ExportError naming the file.

    The readers check what they can and report bad records as Problems; this is the last line,
    so that no input whatsoever makes an importer raise anything but ExportError.
    """

    @functools.wraps(parse)
    def run(path: Path, options: ParseOptions) -> Iterator[Record]:
        try:
            yield from parse(path, options)
        except ExportError:
            raise
        except Exception as exc:
            raise ExportError(
                f"unexpected content ({type(exc).__name__}); is the file complete and unchanged?",
                path=str(path),
            ) from exc

    return run


def users_json_names(folder: Path) -> dict[str, str]:
    """Display names from PyWxDump's users.json beside an export ({} when absent or unreadable)."""
    path = folder / "users.json"
    try:
        if not path.is_file() or path.stat().st_size > MAX_USERS_JSON:
            return {}
        with open(path, encoding="utf-8-sig") as fh:
            data: Any = loads_json(fh.read(), str(path))
    except (OSError, ValueError, ExportError):
        return {}
    entries = data.values() if isinstance(data, dict) else data if isinstance(data, list) else []
    names: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        wxid = entry.get("wxid") or entry.get("username")
        if not isinstance(wxid, str) or not wxid:
            continue
        name = display_name(_str(entry.get("remark")), _str(entry.get("nickname")), _str(entry.get("account")), wxid)
        names[wxid] = name
    return names


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# --- The 2026 JSON exporters (WeFlow, EchoTrace, CipherTalk, chatlog) ----------------------

# WeChat's server message ids are unsigned 64-bit numbers; SQLite keeps them as signed 64-bit
# integers, and the database readers use `str()` of what SQLite returns. Ids the tools print
# unsigned (WeFlow's normalizeUnsignedIntToken) are brought to that same form, so that the same
# message read from a tool's file and from the database has one source_id.
_U64 = 1 << 64
_I64_MAX = (1 << 63) - 1


def server_id(value: Any) -> str | None:
    """A server message id in the database readers' string form, or None (absent, 0, not a number)."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,20}\s*", value):
        number = int(value)
    else:
        return None
    if number == 0 or not -(1 << 63) <= number < _U64:
        return None
    if number > _I64_MAX:
        number -= _U64
    return str(number)


def iter_json_items(
    path: Path, prefix: str = "item", *, noun: str = "message", use_float: bool = True
) -> Iterator[tuple[int, Any]]:
    """(number, item) of the values at `prefix` of a JSON file, streaming: "item" for a top-level
    list (chatlog, PyWxDump), "messages.item" for the `messages` of a top-level object (WeFlow,
    EchoTrace, CipherTalk). A file that cannot be read, or is damaged, raises ExportError saying
    after which `noun` it broke. `use_float`: non-integer numbers as float, else Decimal."""
    import ijson

    number = 0
    try:
        with open(path, "rb") as fh:
            for number, item in enumerate(ijson.items(guard_json(fh, str(path)), prefix, use_float=use_float), 1):
                yield number, item
    except OSError as exc:
        raise ExportError("cannot read this file", path=str(path)) from exc
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        raise ExportError(
            f"the JSON is damaged after {noun} {number} (truncated?); export it again",
            path=str(path),
        ) from exc


def json_head_events(path: Path, size: int = SNIFF_BYTES) -> list[tuple[str, str, Any]]:
    """The ijson (prefix, event, value) triples of a JSON file's head, up to where the head ends.

    For detection: a few top-level keys and the first values are enough to be certain, and
    reading them never needs more than the head.
    """
    import io

    import ijson

    head = read_head(path, size)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if head.lstrip()[:1] not in (b"{", b"["):
        return []
    out: list[tuple[str, str, Any]] = []
    try:
        for item in ijson.parse(guard_json(io.BytesIO(head), str(path))):
            out.append(item)
    except Exception:  # the head ends mid-document, or it is not JSON at all
        pass
    return out


def top_level_keys(events: list[tuple[str, str, Any]]) -> list[str]:
    """The keys of a top-level object, in file order, as far as the events reach."""
    return [value for prefix, event, value in events if prefix == "" and event == "map_key"]


def scalar_at(events: list[tuple[str, str, Any]], prefix: str) -> Any:
    """The first scalar value at `prefix` (e.g. "session.wxid"), or None."""
    for p, event, value in events:
        if p == prefix and event in ("string", "number", "boolean"):
            return value
    return None


def keys_at(events: list[tuple[str, str, Any]], prefix: str) -> set[str]:
    """The keys of the object(s) at `prefix` that the events reach."""
    return {value for p, event, value in events if p == prefix and event == "map_key"}


# A zstd frame (magic 28 B5 2F FD) decoded as UTF-8 with replacement characters: how WeChat
# 8.0.5x's compressed message bodies appear in WechatExporter's TXT and HTML.
ZSTD_AS_TEXT = "(\ufffd/\ufffd"
COMPRESSED_BODY = (
    "message body is zstd-compressed data that WechatExporter printed as text; not imported. "
    "Only reading the iPhone backup's own database can recover it"
)


def is_compressed_body(text: str) -> bool:
    """Whether a printed message body is a compressed blob rather than text."""
    return ZSTD_AS_TEXT in text


def forward_text(title: str, items: list[tuple[str, str]]) -> str:
    """A merged forward as readable text: its title, then one "name: text" line per record."""
    lines = [title] if title else []
    lines.extend(f"{name}: {text}" if name else text for name, text in items)
    return "\n".join(lines)


def safe_media(finder: Any, rel: str, kind: MessageKind) -> Attachment:
    """The attachment a tool's relative media path names: readable when it is inside the export
    folder, else named without bytes (`MediaFinder` refuses `..` and absolute paths)."""
    found = finder.attachment(rel, kind) if _looks_relative(rel) else None
    return found or Attachment(media_name(rel), kind)


def _looks_relative(rel: str) -> bool:
    norm = rel.replace("\\", "/")
    return bool(norm) and not norm.startswith("/") and ":" not in norm.split("/", 1)[0] and ".." not in norm.split("/")


def media_name(rel: str) -> str:
    return rel.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or rel
