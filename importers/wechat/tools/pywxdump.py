"""PyWxDump exports of one WeChat chat: CSV (current and legacy layout) and JSON.

How a person got them: PyWxDump (xaoyaoo/PyWxDump, Windows WeChat 3.x; its repository was emptied
in October 2025) decrypted the desktop databases and, in its web UI or with `export_csv` /
`export_json`, wrote `<chat id>_<start>_<end>.csv` (5000 messages per file) or `.json` plus a
`users.json` with the names of the chat's people (formats/wechat.md §6.3).

Layouts read:
- CSV (2024 on): `id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime`.
- Legacy CSV (to early 2024): `id,MsgSvrID,type_name,is_sender,talker,room_name,content,
  CreateTime`, where `content` is a JSON object `{"src": …, "msg": …}`.
- JSON: a list of objects with the same keys as the current CSV (plus `extra`).

`id` is the row number of the export (kept in `extra["id"]`), `MsgSvrID` the server's message id
(the identity), `room_name` the chat id, `talker` the sender's wxid (or 我 / the owner's wxid when
`is_sender` is 1), `CreateTime` local time without a zone. `msg` is PyWxDump's rendering: text as
sent, placeholders for media (图片, 表情, 视频 — not kept as text), quote replies as
`{reply}\\n\\n[引用]({time}){name}:{quoted}` (kept whole, the quote also in `extra["quote"]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, head_text, loads_json
from importers.wechat.common import (
    ME,
    SOURCE,
    aware_epoch,
    call_as_event,
    call_duration,
    is_group,
    kind_for_type_name,
    strip_markup,
)
from importers.wechat.media import MediaFinder
from importers.wechat.tools.shared import (
    csv_dicts,
    iter_json_items,
    parse_local_time,
    users_json_names,
)
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    FILE,
    GIF,
    GROUP,
    IMAGE,
    STICKER,
    VIDEO,
    Attachment,
    Chat,
    Event,
    Message,
    Problem,
    Record,
)

HEADER = [
    "id",
    "MsgSvrID",
    "type_name",
    "is_sender",
    "talker",
    "room_name",
    "msg",
    "src",
    "CreateTime",
]
LEGACY_HEADER = [
    "id",
    "MsgSvrID",
    "type_name",
    "is_sender",
    "talker",
    "room_name",
    "content",
    "CreateTime",
]

# Beyond this a CreateTime number is not Unix seconds (year 2100).
MAX_EPOCH = 4_102_444_800

# What PyWxDump writes as `talker` for the owner's own messages when no wxid was given.
OWNER_TALKER = "我"

# Placeholders PyWxDump writes as `msg` of media rows (dbMSG.py get_msg_detail).
MEDIA_PLACEHOLDERS = frozenset({"图片", "表情", "视频", "动画表情"})

_QUOTE = re.compile(r"^(?P<reply>.*?)\n\n\[引用\]\((?P<time>[^)]*)\)(?P<rest>.*)$", re.S)
_VOICE = re.compile(r"^语音时长：(?P<seconds>[\d.]+)秒(?:\n翻译结果：(?P<text>.*))?$", re.S)
_JSON_KEYS = ('"MsgSvrID"', '"type_name"', '"room_name"')

MEDIA_KINDS = frozenset({IMAGE, VIDEO, AUDIO, FILE, GIF})


def _header_of(path: Path) -> list[str] | None:
    first = head_text(path, 4096).split("\n", 1)[0].strip("\r\n ")
    fields = first.split(",")
    if fields in (HEADER, LEGACY_HEADER):
        return fields
    return None


def detect_csv(path: Path) -> bool:
    try:
        return path.is_file() and _header_of(path) is not None
    except Exception:
        return False


def detect_json(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        head = head_text(path).lstrip()
        return head.startswith("[") and all(key in head for key in _JSON_KEYS)
    except Exception:
        return False


class _Context:
    """State of one export: names, chats already announced, media lookup."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.names = users_json_names(path.parent)
        self.finder = MediaFinder(path.parent)
        self.chats: set[str] = set()

    def name(self, wxid: str) -> str:
        return self.names.get(wxid) or wxid

    def chat(self, room: str) -> Chat | None:
        if room in self.chats:
            return None
        self.chats.add(room)
        title = self.name(room)
        if is_group(room):
            return Chat(SOURCE, room, title, GROUP, (), extra={"wxid": room})
        return Chat(SOURCE, room, title, DIRECT, (title, ME), extra={"wxid": room})


def _quote(text: str) -> dict[str, Any]:
    match = _QUOTE.match(text)
    if not match:
        return {}
    name, _, quoted = match.group("rest").partition(":")
    return {"quote": {"sender": name, "text": quoted, "time": match.group("time")}}


def _flag(value: Any) -> bool:
    return str(value).strip() in ("1", "True", "true")


def row_record(row: Mapping[str, Any], line: int, ctx: _Context) -> Iterator[Record]:
    """The records of one export row (a Chat first when the row opens a new chat)."""
    room = str(row.get("room_name") or "").strip()
    created = row.get("CreateTime")
    ts: datetime | None
    if isinstance(created, int) and not isinstance(created, bool):  # some JSON versions: epoch
        ts = aware_epoch(created) if 0 < created < MAX_EPOCH else None
    else:
        ts = parse_local_time(str(created or ""))
    if not room or ts is None:
        yield Problem(str(ctx.path), line, "row without a chat id or a readable time")
        return
    chat = ctx.chat(room)
    if chat is not None:
        yield chat
    text = str(row.get("msg") or "")
    src = str(row.get("src") or "")
    type_name = str(row.get("type_name") or "")
    kind, event = kind_for_type_name(type_name, text)
    from_me = _flag(row.get("is_sender"))
    talker = str(row.get("talker") or "").strip()
    svrid = str(row.get("MsgSvrID") or "").strip()
    extra: dict[str, Any] = {"id": str(row.get("id") or "").strip(), "type_name": type_name}
    if from_me:
        sender_id = talker if talker and talker != OWNER_TALKER else None
        sender = ctx.names.get(sender_id or "") or ME
    else:
        # The contact in a one-to-one chat; the member in a group (`talker`).
        sender_id = talker if is_group(room) and talker else room
        sender = ctx.name(sender_id)
    if event is not None:
        seconds = call_duration(text) if event == EV_CALL else None
        if seconds is not None:
            extra["duration_s"] = seconds
        yield Event(room, ts, strip_markup(text), event, sender, svrid or None, line, extra)
        return
    if kind == DELETED:
        text = strip_markup(text)
    elif kind in (IMAGE, VIDEO, STICKER) and text.strip() in MEDIA_PLACEHOLDERS:
        text = ""
    elif kind == AUDIO:
        voice = _VOICE.match(text)
        if voice:
            try:
                extra["duration_s"] = float(voice.group("seconds"))
            except ValueError:
                pass
            text = (voice.group("text") or "").strip()
    extra.update(_quote(text) if "[引用]" in text else {})
    attachments: tuple[Attachment, ...] = ()
    if src and kind in MEDIA_KINDS:
        found = ctx.finder.attachment(src, kind)
        if found is None:
            name = text if kind == FILE and text else src.replace("\\", "/").rsplit("/", 1)[-1]
            found = Attachment(name, kind)
        attachments = (found,)
    elif src:
        extra["src"] = src
    yield call_as_event(
        Message(
            chat=room,
            ts=ts,
            sender=sender,
            text=text,
            kind=kind,
            source_id=svrid or None,
            sender_id=sender_id,
            from_me=from_me,
            attachments=attachments,
            line=line,
            extra=extra,
        )
    )


def parse_csv(path: Path, options: ParseOptions) -> Iterator[Record]:
    header = _header_of(path)
    if header is None:
        raise ExportError("not a PyWxDump CSV export (unexpected header)", path=str(path))
    ctx = _Context(path)
    legacy = header == LEGACY_HEADER
    for line, cells in csv_dicts(path, header):
        if isinstance(cells, Problem):
            yield cells
            continue
        row: dict[str, Any] = cells
        if legacy:
            try:
                content = loads_json(row.pop("content"), str(path), line=line)
            except ValueError:
                content = None
            if not isinstance(content, dict):
                yield Problem(str(path), line, "the content cell is not the expected JSON object")
                continue
            row["msg"] = content.get("msg") if isinstance(content.get("msg"), str) else ""
            row["src"] = content.get("src") if isinstance(content.get("src"), str) else ""
        yield from row_record(row, line, ctx)


def parse_json(path: Path, options: ParseOptions) -> Iterator[Record]:
    ctx = _Context(path)
    for number, item in iter_json_items(path, noun="record", use_float=False):
        if not isinstance(item, dict):
            yield Problem(str(path), number, "record is not an object")
            continue
        yield from row_record(item, number, ctx)
