"""chatlog (sjzar/chatlog) JSON and CSV output of WeChat messages.

How a person got them: chatlog reads the person's own decrypted WeChat databases (Windows/macOS
3.x and 4.x) and serves them on 127.0.0.1:5030; `GET /api/v1/chatlog?talker=…&time=…&format=json`
(or `format=csv`) saved to a file is what this reads (formats/2026-formats-and-wechat-tools.md §2).

Layouts (sjzar/chatlog internal/model/message.go, internal/chatlog/http/route.go):
- JSON: a list of `{seq, time (RFC 3339 with offset), talker, talkerName, isChatRoom, sender,
  senderName, isSelf, type, subType, content, contents}`; `type`/`subType` are WeChat's codes
  (split already), `content` the text (quotes: the reply; pats: the template; system entries:
  the notice, with sender "系统消息"), `contents` media facts (md5, title, url, recordInfo,
  refer).
- CSV: `Time,SenderName,Sender,TalkerName,Talker,Content` (forks put `MessageID` first), the
  time as local wall-clock `YYYY-MM-DD HH:MM:SS`, the content as chatlog's plain text
  (`![图片](http://host/image/…)`, `[语音通话]`, `> [引用]` blocks …).

`seq` is chatlog's sort key (the creation time in seconds times 1000 plus a sequence number),
not WeChat's server id, so it is kept in `extra["seq"]` and messages have no source id.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, head_text
from importers.wechat.common import (
    APP_FILE,
    APP_GIF,
    APP_PAT,
    APP_QUOTE,
    APP_TRANSFER,
    ME,
    SOURCE,
    TYPE_APP,
    TYPE_CALL,
    TYPE_CARD,
    TYPE_IMAGE,
    TYPE_LOCATION,
    TYPE_STICKER,
    TYPE_SYSTEM,
    TYPE_SYSTEM_XML,
    TYPE_TEXT,
    TYPE_VIDEO,
    TYPE_VOICE,
    call_duration,
    event_kind,
    is_group,
    is_recall,
    strip_markup,
)
from importers.wechat.tools.shared import (
    OWN_RECALL_PREFIX,
    csv_dicts,
    forward_text,
    iter_json_items,
    json_head_events,
    keys_at,
    parse_local_time,
)
from importers.wechat.tools.weflow import PAT_WORD
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CONTACT,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_SYSTEM,
    FILE,
    GIF,
    GROUP,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    Attachment,
    Chat,
    Event,
    Message,
    MessageKind,
    Problem,
    Record,
)

CSV_HEADER = ["Time", "SenderName", "Sender", "TalkerName", "Talker", "Content"]
CSV_HEADER_WITH_ID = ["MessageID", *CSV_HEADER]
JSON_KEYS = frozenset({"seq", "time", "talker", "isChatRoom", "sender", "isSelf", "type"})

# What chatlog writes as the sender of system entries (message.go ParseMediaInfo).
SYSTEM_SENDER = "系统消息"

APP_FORWARD = 19
APP_RED_PACKET = 2001
APP_RED_PACKET_COVER = 2003

_PLAIN_KINDS: dict[int, MessageKind] = {
    TYPE_TEXT: TEXT,
    TYPE_IMAGE: IMAGE,
    TYPE_VOICE: AUDIO,
    TYPE_CARD: CONTACT,
    TYPE_VIDEO: VIDEO,
    TYPE_STICKER: STICKER,
    TYPE_LOCATION: LOCATION,
}
_APP_KINDS: dict[int, MessageKind] = {APP_FILE: FILE, APP_GIF: GIF, APP_QUOTE: TEXT, APP_FORWARD: TEXT}

# chatlog's plain-text renderings in the CSV (message.go PlainTextContent).
_CSV_PATTERNS: tuple[tuple[re.Pattern[str], MessageKind], ...] = (
    (re.compile(r"^!\[图片\]\(http://[^)]*\)$"), IMAGE),
    (re.compile(r"^!\[视频\]\(http://[^)]*\)$"), VIDEO),
    (re.compile(r"^\[语音\](?:\(http://[^)]*\))?$"), AUDIO),
    (re.compile(r"^\[动画表情\]$"), STICKER),
    (re.compile(r"^\[GIF表情\]$"), GIF),
    (re.compile(r"^\[名片\]$"), CONTACT),
    (re.compile(r"^\[位置\]$"), LOCATION),
)
_CSV_FILE = re.compile(r"^\[文件\|(?P<name>.*)\]\(http://[^)]*\)$")
_CSV_CALL = re.compile(r"^\[(?:语音通话|视频通话)\]$")
_CSV_RED_PACKET = re.compile(r"^\[红包(?:封面)?\]$")
_CSV_QUOTE = re.compile(r"^(?P<quoted>(?:> [^\n]*\n)+)(?P<reply>.*)$", re.S)


def detect_json(path: Path) -> bool:
    """A JSON list whose first object has chatlog's message keys."""
    try:
        if not path.is_file() or not head_text(path, 256).lstrip().startswith("["):
            return False
        return keys_at(json_head_events(path), "item") >= JSON_KEYS
    except Exception:
        return False


def _csv_header(path: Path) -> list[str] | None:
    first = head_text(path, 4096).split("\n", 1)[0].strip("\r\n ")
    fields = first.split(",")
    return fields if fields in (CSV_HEADER, CSV_HEADER_WITH_ID) else None


def detect_csv(path: Path) -> bool:
    try:
        return path.is_file() and _csv_header(path) is not None
    except Exception:
        return False


class _Chats:
    """The chats of one file (chatlog can answer for several talkers at once)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def chat(self, talker: str, name: str, group: bool) -> Chat | None:
        if talker in self.seen:
            return None
        self.seen.add(talker)
        title = name or talker
        if group:
            return Chat(SOURCE, talker, title, GROUP, (), extra={"wxid": talker})
        return Chat(SOURCE, talker, title, DIRECT, (title, ME), extra={"wxid": talker})


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _records(value: Any) -> list[tuple[str, str]]:
    """(name, text) of a merged forward's recordInfo, found by the item fields' names."""
    out: list[tuple[str, str]] = []

    def walk(node: Any, depth: int) -> None:
        if depth > 6 or len(out) >= 1000:
            return
        if isinstance(node, dict):
            low = {str(k).lower(): v for k, v in node.items()}
            if "sourcename" in low and ("datadesc" in low or "datatitle" in low):
                text = low.get("datadesc") or low.get("datatitle") or ""
                out.append((str(low.get("sourcename") or ""), str(text)))
                return
            for child in node.values():
                walk(child, depth + 1)
        elif isinstance(node, list):
            for child in node:
                walk(child, depth + 1)

    walk(value, 0)
    return out


def _json_record(item: Mapping[str, Any], number: int, path: Path, chats: _Chats) -> Iterator[Record]:
    talker = str(item.get("talker") or "").strip()
    try:
        ts = datetime.fromisoformat(str(item.get("time") or ""))
    except ValueError:
        ts = None
    if not talker or ts is None or ts.tzinfo is None:
        yield Problem(str(path), number, "message without a chat or a time with its offset")
        return
    group = bool(item.get("isChatRoom")) or is_group(talker)
    chat = chats.chat(talker, str(item.get("talkerName") or ""), group)
    if chat is not None:
        yield chat
    type_, sub_type = _int(item.get("type")), _int(item.get("subType"))
    content = str(item.get("content") or "")
    found = item.get("contents")
    contents: Mapping[str, Any] = found if isinstance(found, dict) else {}
    from_me = bool(item.get("isSelf"))
    sender_id = str(item.get("sender") or "").strip() or None
    name = str(item.get("senderName") or "").strip() or sender_id
    extra: dict[str, Any] = {"type": type_, "sub_type": sub_type}
    if item.get("seq") is not None:
        extra["seq"] = str(item.get("seq"))
    if sender_id == SYSTEM_SENDER or type_ in (TYPE_SYSTEM, TYPE_SYSTEM_XML):
        yield _notice(talker, ts, strip_markup(content), None, number, extra)
        return
    if from_me:
        name = name or ME
    if type_ == TYPE_CALL:
        seconds = call_duration(content)
        if seconds is not None:
            extra["duration_s"] = seconds
        yield Event(talker, ts, content, EV_CALL, name, None, number, extra)
        return
    if type_ == TYPE_APP and sub_type == APP_PAT:
        yield Event(talker, ts, content, EV_SYSTEM, name, None, number, {**extra, "pat": True})
        return
    if type_ == TYPE_APP and sub_type in (APP_RED_PACKET, APP_RED_PACKET_COVER):
        yield Event(talker, ts, content or "[红包]", EV_SYSTEM, name, None, number, {**extra, "red_packet": True})
        return
    kind = _PLAIN_KINDS.get(type_) or (_APP_KINDS.get(sub_type, OTHER) if type_ == TYPE_APP else OTHER)
    text = content if type_ in (TYPE_TEXT, TYPE_APP) else ""
    attachments: tuple[Attachment, ...] = ()
    title = str(contents.get("title") or "")
    if type_ == TYPE_APP:
        if sub_type == APP_QUOTE:
            refer = contents.get("refer")
            if isinstance(refer, dict):
                quote = {
                    "sender": str(refer.get("senderName") or refer.get("sender") or ""),
                    "text": str(refer.get("content") or ""),
                }
                extra["quote"] = {k: v for k, v in quote.items() if v}
        elif sub_type == APP_FORWARD:
            extra["forward"] = True
            lines = _records(contents.get("recordInfo"))
            if lines:
                extra["records"] = [{"sender": n, "text": t} for n, t in lines]
            text = forward_text(title, lines) or str(contents.get("desc") or "")
        elif sub_type == APP_FILE:
            text = title
            attachments = (Attachment(title or "file", FILE),)
        elif sub_type == APP_TRANSFER:
            text = content
        elif not text:
            parts = [str(contents.get(k) or "") for k in ("title", "desc", "url")]
            text = "\n".join(p for p in parts if p)
            if contents.get("url"):
                extra["url"] = str(contents["url"])
    for key in ("md5", "rawmd5"):
        if isinstance(contents.get(key), str) and contents[key]:
            extra[key] = contents[key]
    yield Message(
        chat=talker,
        ts=ts,
        sender=name,
        text=text,
        kind=kind,
        sender_id=sender_id,
        from_me=from_me,
        attachments=attachments,
        line=number,
        extra=extra,
    )


def _notice(chat: str, ts: datetime, text: str, actor: str | None, line: int, extra: dict[str, Any]) -> Message | Event:
    if is_recall(text):
        mine = text.startswith(OWN_RECALL_PREFIX)
        return Message(chat, ts, ME if mine else None, text, DELETED, from_me=mine or None, line=line, extra=extra)
    if PAT_WORD in text:
        return Event(chat, ts, text, EV_SYSTEM, actor, None, line, {**extra, "pat": True})
    return Event(chat, ts, text, event_kind(text), actor, None, line, extra)


def parse_json(path: Path, options: ParseOptions) -> Iterator[Record]:
    chats = _Chats()
    for number, item in iter_json_items(path):
        if not isinstance(item, dict):
            yield Problem(str(path), number, "message is not an object")
            continue
        yield from _json_record(item, number, path, chats)


def _csv_record(row: dict[str, str], line: int, path: Path, chats: _Chats) -> Iterator[Record]:
    talker = row["Talker"].strip()
    ts = parse_local_time(row["Time"])
    if not talker or ts is None:
        yield Problem(str(path), line, "row without a chat or a readable time")
        return
    chat = chats.chat(talker, row["TalkerName"].strip(), is_group(talker))
    if chat is not None:
        yield chat
    sender_id = row["Sender"].strip() or None
    name = row["SenderName"].strip() or sender_id
    content = row["Content"]
    extra: dict[str, Any] = {}
    if row.get("MessageID"):
        extra["seq"] = row["MessageID"].strip()
    if sender_id == SYSTEM_SENDER:
        yield _notice(talker, ts, strip_markup(content), None, line, extra)
        return
    stripped = content.strip()
    if _CSV_CALL.match(stripped):
        yield Event(talker, ts, stripped, EV_CALL, name, None, line, extra)
        return
    if _CSV_RED_PACKET.match(stripped):
        yield Event(talker, ts, stripped, EV_SYSTEM, name, None, line, {**extra, "red_packet": True})
        return
    kind: MessageKind = TEXT
    text = content
    attachments: tuple[Attachment, ...] = ()
    for pattern, found in _CSV_PATTERNS:
        if pattern.match(stripped):
            kind, text = found, ""
            break
    else:
        named = _CSV_FILE.match(stripped)
        quoted = _CSV_QUOTE.match(content) if content.startswith("> ") else None
        if named:
            kind, text = FILE, named.group("name")
            attachments = (Attachment(text or "file", FILE),)
        elif quoted:
            block = [q[2:] for q in quoted.group("quoted").splitlines()]
            extra["quote"] = {"text": "\n".join(b for b in block if b != "[引用]")}
            text = quoted.group("reply").strip()
    yield Message(
        chat=talker,
        ts=ts,
        sender=name,
        text=text,
        kind=kind,
        sender_id=sender_id,
        from_me=None,
        attachments=attachments,
        line=line,
        extra=extra,
    )


def parse_csv(path: Path, options: ParseOptions) -> Iterator[Record]:
    header = _csv_header(path)
    if header is None:
        raise ExportError("not a chatlog CSV export (unexpected header)", path=str(path))
    chats = _Chats()
    for line, row in csv_dicts(path, header):
        if isinstance(row, Problem):
            yield row
            continue
        yield from _csv_record(row, line, path, chats)
