"""What every WeChat importer shares: type codes, content interpretation and name resolution.

WeChat stores a message as a type code plus a content that is plain text for text messages and a
small XML document for almost everything else (images, links, files, quotes, calls, recalls). The
databases of every generation and the exports of the tools that read them use the same codes and
the same XML, so the interpretation lives here once: `interpret()` turns (type, sub type, content)
into a kind, a searchable text and the extra facts worth keeping; `build_record()` turns that into
a `Message` or an `Event`.

Sources of the codes and layouts: formats/wechat.md §1.4 and corpus/wechat/wechat_msg_type_codes.csv
(PyWxDump `type_converter`, MemoTrace `MessageType`, wechat-dump `TYPE_*`).
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from vault.records import (
    AUDIO,
    CALL,
    CONTACT,
    DELETED,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    Attachment,
    Event,
    EventKind,
    Message,
    MessageKind,
)

SOURCE = "wechat"

# What a message from the account owner is shown as when the owner's own nickname is unknown.
ME = "me"

# --- Message type codes (MSG.Type on desktop 3.x, low 32 bits of local_type on 4.x, low 16 bits
# of message.type on Android; corpus/wechat/wechat_msg_type_codes.csv).
TYPE_TEXT = 1
TYPE_IMAGE = 3
TYPE_VOICE = 34
TYPE_FRIEND_REQUEST = 37
TYPE_CARD = 42
TYPE_VIDEO = 43
TYPE_STICKER = 47
TYPE_LOCATION = 48
TYPE_APP = 49
TYPE_CALL = 50
TYPE_MICRO_VIDEO = 62  # Android "video recorded in WeChat"
TYPE_WECOM_CARD = 66
TYPE_SYSTEM = 10000
TYPE_SYSTEM_XML = 10002  # <sysmsg> documents: recalls, pats (LC044 msg.py example "(10002, 0, 1)")

# --- App message sub types (SubType on 3.x, local_type >> 32 on 4.x, <appmsg><type> everywhere).
APP_PASTED_TEXT = 1
APP_FILE = 6
APP_GIF = 8
APP_LIVE_LOCATION = 17
APP_QUOTE = 57
APP_PAT = 62  # 4.x pat ("拍一拍") is an app message
APP_GROUP_NOTICE = 87
APP_TRANSFER = 2000

# Sub type of TYPE_SYSTEM rows that are pats (PyWxDump type table: (10000, 4) 拍一拍).
SYSTEM_PAT = 4

_APP_KINDS: dict[int, MessageKind] = {
    APP_PASTED_TEXT: TEXT,
    APP_FILE: FILE,
    APP_GIF: GIF,
    APP_LIVE_LOCATION: LOCATION,
    APP_QUOTE: TEXT,
    APP_GROUP_NOTICE: TEXT,
}

_PLAIN_KINDS: dict[int, MessageKind] = {
    TYPE_TEXT: TEXT,
    TYPE_IMAGE: IMAGE,
    TYPE_VOICE: AUDIO,
    TYPE_CARD: CONTACT,
    TYPE_WECOM_CARD: CONTACT,
    TYPE_VIDEO: VIDEO,
    TYPE_MICRO_VIDEO: VIDEO,
    TYPE_STICKER: STICKER,
    TYPE_LOCATION: LOCATION,
}

# Words WeChat uses in its own notices (zh-Hans and English clients), to tell joins, leaves and
# renames from other system entries. Matched as substrings of the notice text.
_EVENT_WORDS: tuple[tuple[EventKind, tuple[str, ...]], ...] = (
    (EV_TITLE, ("修改群名为", "changed the group name")),
    (EV_LEAVE, ("移出了群聊", "退出了群聊", "移出群聊", "removed", "left the group")),
    (EV_JOIN, ("加入了群聊", "加入群聊", "joined the group", "invited")),
)

# A recall notice ("X recalled a message"): WeChat's "this message was deleted" placeholder.
_RECALL_WORDS = ("撤回了一条消息", "recalled a message", "<revokemsg")

_TAG_RE = re.compile(r"<[^<>]*>")
_CDATA_RE = re.compile(r"<!\[CDATA\[(.*?)\]\]>", re.S)


def aware_epoch(seconds: float) -> datetime:
    """A UTC instant from Unix seconds (database CreateTime values)."""
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


def display_name(remark: str | None, nickname: str | None, alias: str | None, wxid: str | None) -> str:
    """The name WeChat shows for a contact: remark (备注), else nickname, else alias, else wxid."""
    for value in (remark, nickname, alias, wxid):
        if value and value.strip():
            return value.strip()
    return ""


def is_group(chat_id: str | None) -> bool:
    return bool(chat_id) and str(chat_id).endswith("@chatroom")


def split_group_prefix(content: str) -> tuple[str | None, str]:
    """Split `"<wxid>:\\n<body>"`, the form group messages from others take in 4.x, Android and iOS.

    Returns (wxid, body), or (None, content) when there is no such prefix. A prefix is accepted
    only when it looks like an id (no spaces, no markup), so that a text that merely starts with a
    colon line is left alone.
    """
    head, sep, body = content.partition(":\n")
    if sep and head and len(head) <= 64 and not re.search(r"[\s<>]", head):
        return head, body
    return None, content


def strip_markup(text: str) -> str:
    """Notice text without WeChat's markup: CDATA kept, tags dropped, entities decoded."""
    text = _CDATA_RE.sub(lambda m: m.group(1), text)
    text = _TAG_RE.sub("", text)
    return html.unescape(text).strip()


def parse_xml(text: str | None) -> ET.Element | None:
    """Parse a message's XML content; None when it is not XML (or carries a DOCTYPE).

    Documents with a DOCTYPE are refused rather than parsed: WeChat never writes one, and entity
    declarations are how XML bombs work.
    """
    if not text:
        return None
    text = text.replace("\x00", "").strip()
    start = text.find("<")
    if start < 0:
        return None
    text = text[start:]
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        return ET.fromstring(text)
    except (ET.ParseError, ValueError):
        return None


def _find_text(root: ET.Element, path: str) -> str:
    node = root.find(path)
    if node is None or node.text is None:
        return ""
    return node.text.strip()


def _app_node(root: ET.Element) -> ET.Element | None:
    if root.tag == "appmsg":
        return root
    return root.find("appmsg")


def _to_int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _to_float(value: Any) -> float | None:
    try:
        return float(str(value).strip())
    except (TypeError, ValueError):
        return None


def _join(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


@dataclass
class Interpretation:
    """What a (type, sub type, content) triple means."""

    kind: MessageKind  # OTHER (and unused) for a system entry
    text: str
    event: EventKind | None = None  # a system entry's kind: not something a person sent
    reply_to: str | None = None
    attachment: Attachment | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def event_kind(text: str) -> EventKind:
    """The EV_* kind of a system notice, from the words WeChat uses in it."""
    low = text.casefold()
    for kind, words in _EVENT_WORDS:
        if any(w.casefold() in low for w in words):
            return kind
    return EV_SYSTEM


def is_recall(text: str) -> bool:
    """Whether a system entry is a recall notice ("X 撤回了一条消息", <revokemsg>)."""
    return any(w in text for w in _RECALL_WORDS)


def _system_text(content: str) -> str:
    root = parse_xml(content) if content.lstrip().startswith("<sysmsg") else None
    if root is not None:
        for path in (".//replacemsg", ".//content", ".//template"):
            value = _find_text(root, path)
            if value:
                return strip_markup(value)
        return strip_markup("".join(root.itertext()))
    return strip_markup(content)


def _interpret_system(sub_type: int, content: str) -> Interpretation:
    text = _system_text(content)
    if is_recall(content) or is_recall(text):
        return Interpretation(DELETED, text)
    if sub_type == SYSTEM_PAT:
        return Interpretation(OTHER, text, event=EV_SYSTEM, extra={"pat": True})
    return Interpretation(OTHER, text, event=event_kind(text))


def _quote(app: ET.Element) -> tuple[str | None, dict[str, Any]]:
    refer = app.find("refermsg")
    if refer is None:
        return None, {}
    quoted = _find_text(refer, "content")
    inner = parse_xml(quoted) if quoted.startswith("<") else None
    if inner is not None:
        inner_app = _app_node(inner)
        if inner_app is not None and _find_text(inner_app, "title"):
            quoted = _find_text(inner_app, "title")
        elif inner.find(".//img") is not None or inner.tag == "img":
            quoted = "[image]"
        else:
            quoted = ""
    svrid = _find_text(refer, "svrid") or None
    info = {
        "sender": _find_text(refer, "displayname"),
        "sender_id": _find_text(refer, "fromusr") or _find_text(refer, "chatusr"),
        "text": quoted,
    }
    return svrid, {"quote": {k: v for k, v in info.items() if v}}


def _interpret_app(sub_type: int, content: str) -> Interpretation:
    root = parse_xml(content)
    app = _app_node(root) if root is not None else None
    if app is None:  # content lost (tool exports leave quotes' XML out)
        return Interpretation(_APP_KINDS.get(sub_type, OTHER), "", extra={"app_type": sub_type})
    xml_type = _to_int(_find_text(app, "type"))
    if xml_type is not None:
        sub_type = xml_type
    title = _find_text(app, "title")
    des = _find_text(app, "des")
    url = _find_text(app, "url")
    extra: dict[str, Any] = {"app_type": sub_type}
    if url:
        extra["url"] = url
    if sub_type == APP_QUOTE:
        reply_to, quote = _quote(app)
        extra.update(quote)
        return Interpretation(TEXT, title, reply_to=reply_to, extra=extra)
    if sub_type == APP_FILE:
        size = _to_int(_find_text(app, "appattach/totallen"))
        name = title or "file"
        return Interpretation(FILE, title, attachment=Attachment(name, FILE, None, size), extra=extra)
    if sub_type == APP_PAT:
        return Interpretation(OTHER, title, event=EV_SYSTEM, extra={"pat": True})
    if sub_type == APP_TRANSFER:
        fee = _find_text(app, "wcpayinfo/feedesc")
        memo = _find_text(app, "wcpayinfo/pay_memo")
        pay_subtype = _to_int(_find_text(app, "wcpayinfo/paysubtype"))
        if pay_subtype is not None:
            extra["pay_subtype"] = pay_subtype
        return Interpretation(OTHER, _join(title, fee, memo), extra=extra)
    if sub_type == APP_GROUP_NOTICE:
        notice = _find_text(app, "textannouncement")
        return Interpretation(TEXT, notice or _join(title, des), extra=extra)
    kind = _APP_KINDS.get(sub_type, OTHER)
    if kind == TEXT:
        return Interpretation(TEXT, title, extra=extra)
    return Interpretation(kind, _join(title, des, url), extra=extra)


def _interpret_xml_attr(content: str, node: str, attr: str) -> str:
    root = parse_xml(content)
    if root is None:
        return ""
    target = root if root.tag == node else root.find(f".//{node}")
    if target is None:
        return ""
    return (target.get(attr) or "").strip()


def _interpret_location(content: str) -> Interpretation:
    root = parse_xml(content)
    loc = None
    if root is not None:
        loc = root if root.tag == "location" else root.find(".//location")
    if loc is None:
        return Interpretation(LOCATION, "")
    extra: dict[str, Any] = {}
    # WeChat writes latitude as x and longitude as y (<location x="39.9" y="116.4" ...>).
    lat, lon = _to_float(loc.get("x")), _to_float(loc.get("y"))
    if lat is not None and lon is not None:
        extra.update(latitude=lat, longitude=lon)
    text = _join(loc.get("poiname", "").strip(), loc.get("label", "").strip())
    return Interpretation(LOCATION, text, extra=extra)


def _interpret_call(content: str, display: str | None) -> Interpretation:
    """A call entry: an event (cli-contract.md), its length in `duration_s` when WeChat wrote one."""
    text = ""
    root = parse_xml(content)
    if root is not None:
        text = strip_markup(_find_text(root, ".//msg") or "")
    elif content and not content.lstrip().startswith("<"):
        text = content.strip()
    text = text or (display or "").strip()
    seconds = call_duration(text)
    return Interpretation(OTHER, text, event=EV_CALL, extra={"duration_s": seconds} if seconds is not None else {})


_DURATION = re.compile(r"(?<!\d)(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?!\d)")


def call_duration(text: str) -> int | None:
    """Seconds of a call notice such as "通话时长 00:25" or "Duration 1:02:03", or None."""
    match = _DURATION.search(text or "")
    if not match:
        return None
    hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return hours * 3600 + minutes * 60 + seconds


def call_as_event(record: Message) -> Message | Event:
    """A tool's call entry, read as a message of kind CALL, as the EV_CALL event the databases give."""
    if record.kind != CALL:
        return record
    extra = dict(record.extra)
    seconds = call_duration(record.text)
    if seconds is not None:
        extra.setdefault("duration_s", seconds)
    return Event(record.chat, record.ts, record.text, EV_CALL, record.sender, record.source_id, record.line, extra)


def interpret(type_: int, sub_type: int, content: str | None, display: str | None = None) -> Interpretation:
    """The meaning of one stored message: kind, text, reply link, attachment, extra facts."""
    content = content or ""
    if type_ == TYPE_TEXT:
        return Interpretation(TEXT, content)
    if type_ in (TYPE_SYSTEM, TYPE_SYSTEM_XML):
        return _interpret_system(sub_type, content)
    if type_ == TYPE_APP:
        return _interpret_app(sub_type, content)
    if type_ == TYPE_LOCATION:
        return _interpret_location(content)
    if type_ == TYPE_CALL:
        return _interpret_call(content, display)
    if type_ == TYPE_FRIEND_REQUEST:
        greeting = _interpret_xml_attr(content, "msg", "content")
        return Interpretation(OTHER, greeting, event=EV_SYSTEM, extra={"friend_request": True})
    if type_ in (TYPE_CARD, TYPE_WECOM_CARD):
        nickname = _interpret_xml_attr(content, "msg", "nickname")
        username = _interpret_xml_attr(content, "msg", "username")
        extra = {"card_username": username} if username else {}
        return Interpretation(CONTACT, nickname, extra=extra)
    if type_ == TYPE_STICKER:
        url = _interpret_xml_attr(content, "emoji", "cdnurl")
        return Interpretation(STICKER, "", extra={"url": url} if url else {})
    if type_ == TYPE_VOICE:
        length = _to_int(_interpret_xml_attr(content, "voicemsg", "voicelength"))
        return Interpretation(AUDIO, "", extra={"duration_ms": length} if length else {})
    if type_ in _PLAIN_KINDS:
        return Interpretation(_PLAIN_KINDS[type_], "")
    text = "" if content.lstrip().startswith("<") else content
    return Interpretation(OTHER, text, extra={"type": type_, "sub_type": sub_type})


# ---------------------------------------------------------------------------------------------
# Names


@dataclass
class Names:
    """Display names by wxid, and who the account owner is."""

    contacts: dict[str, str] = field(default_factory=dict)
    owner_id: str | None = None
    owner_name: str | None = None

    def name(self, wxid: str | None) -> str | None:
        if not wxid:
            return None
        if self.owner_id and wxid == self.owner_id:
            return self.me()
        return self.contacts.get(wxid) or wxid

    def me(self) -> str:
        return self.owner_name or ME


@dataclass
class RawMessage:
    """One stored message, read from any database generation, before interpretation."""

    chat: str
    ts: datetime
    type: int
    sub_type: int
    content: str
    sender_id: str | None
    from_me: bool | None
    source_id: str | None
    record: int
    display: str | None = None
    media: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


MediaResolver = Callable[[str, MessageKind], Attachment | None]

# Kinds whose files WeChat keeps beside its databases and exports.
MEDIA_KINDS: frozenset[MessageKind] = frozenset({IMAGE, VIDEO, AUDIO, GIF, FILE})


def build_record(
    raw: RawMessage,
    names: Names,
    resolve_media: MediaResolver | None = None,
    sender_name: str | None = None,
) -> Message | Event:
    """A `Message` (or `Event` for system entries) from a stored message.

    `resolve_media(relative_path, kind)` finds a media file beside the export; `sender_name`
    overrides the name looked up for `raw.sender_id` (group display names).
    """
    meaning = interpret(raw.type, raw.sub_type, raw.content, raw.display)
    extra: dict[str, Any] = dict(raw.extra)
    extra.update(meaning.extra)
    if raw.from_me:
        sender: str | None = names.me()
        sender_id = raw.sender_id or names.owner_id
    else:
        sender_id = raw.sender_id
        sender = sender_name or names.name(sender_id)
    if meaning.event is not None:
        return Event(
            chat=raw.chat,
            ts=raw.ts,
            text=meaning.text,
            kind=meaning.event,
            actor=sender,
            source_id=raw.source_id,
            line=raw.record,
            extra=extra,
        )
    attachment = meaning.attachment
    if meaning.kind in MEDIA_KINDS and raw.media:
        # The first path that is there (the image, else its thumbnail); else the first, named.
        found = None
        if resolve_media is not None:
            for rel in raw.media:
                found = resolve_media(rel, meaning.kind)
                if found is not None:
                    break
        if attachment is None:
            attachment = found or Attachment(media_basename(raw.media[0]), meaning.kind)
        elif found is not None:  # a file message: keep its own name, take the bytes found
            size = attachment.size if attachment.size is not None else found.size
            attachment = Attachment(attachment.name, attachment.kind, found.mime, size, found.open)
    return Message(
        chat=raw.chat,
        ts=raw.ts,
        sender=sender,
        text=meaning.text,
        kind=meaning.kind,
        source_id=raw.source_id,
        sender_id=sender_id,
        from_me=raw.from_me,
        reply_to=meaning.reply_to,
        attachments=(attachment,) if attachment is not None else (),
        line=raw.record,
        extra=extra,
    )


def media_basename(rel: str) -> str:
    """The file name of a WeChat media path (Windows or POSIX separators)."""
    return rel.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or rel


# ---------------------------------------------------------------------------------------------
# Protocol buffers (BytesExtra, RoomData): just enough of the wire format to read strings.


def protobuf_fields(data: bytes) -> Iterator[tuple[int, int, int | bytes]]:
    """(field number, wire type, value) of a protobuf message; stops quietly at damage."""
    pos, end = 0, len(data)

    def varint() -> int | None:
        nonlocal pos
        shift = result = 0
        while pos < end and shift < 70:
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
        return None

    while pos < end:
        key = varint()
        if key is None:
            return
        number, wire = key >> 3, key & 7
        if wire == 0:
            value = varint()
            if value is None:
                return
            yield number, wire, value
        elif wire == 2:
            length = varint()
            if length is None or pos + length > end:
                return
            yield number, wire, data[pos : pos + length]
            pos += length
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        else:
            return


def bytes_extra_items(blob: bytes | None) -> dict[int, str]:
    """BytesExtra items {type: value}: 1 = group sender wxid, 3 = thumbnail, 4 = media path.

    Layout (LC044 msg.proto, chatlog bytesextra.proto): `message { 1: header; 3: repeated
    { 1: int32 type; 2: string value } }`. The first value of each type wins.
    """
    out: dict[int, str] = {}
    if not blob:
        return out
    for number, wire, value in protobuf_fields(bytes(blob)):
        if number != 3 or wire != 2 or not isinstance(value, bytes):
            continue
        item_type: int | None = None
        item_value: str | None = None
        for n, w, v in protobuf_fields(value):
            if n == 1 and w == 0 and isinstance(v, int):
                item_type = v
            elif n == 2 and w == 2 and isinstance(v, bytes):
                item_value = v.decode("utf-8", errors="replace")
        if item_type is not None and item_value is not None:
            out.setdefault(item_type, item_value)
    return out


def room_data_members(blob: bytes | None) -> dict[str, str]:
    """Group members' own group display names {wxid: name} from ChatRoom.RoomData.

    Layout (LC044 roomdata.proto): `repeated member = 1 { 1: wxid; 2: display name; 3: state }`.
    """
    out: dict[str, str] = {}
    if not blob:
        return out
    for number, wire, value in protobuf_fields(bytes(blob)):
        if number != 1 or wire != 2 or not isinstance(value, bytes):
            continue
        wxid = name = ""
        for n, w, v in protobuf_fields(value):
            if w == 2 and isinstance(v, bytes):
                if n == 1:
                    wxid = v.decode("utf-8", errors="replace")
                elif n == 2:
                    name = v.decode("utf-8", errors="replace")
        if wxid:
            out[wxid] = name
    return out


def group_title(members: list[str], names: Mapping[str, str], owner_id: str | None) -> str:
    """A group without a name is titled as WeChat shows it: its members' names joined with 、."""
    shown = [names.get(m) or m for m in members if m and m != owner_id]
    return "、".join(shown[:10])


# ---------------------------------------------------------------------------------------------
# Type names written by the export tools (PyWxDump `type_converter`, MemoTrace 2 `MessageType`;
# corpus/wechat/wechat_msg_type_codes.csv, column name_zh_in_source).

TYPE_NAME_KINDS: dict[str, MessageKind] = {
    "文本": TEXT,
    "粘贴的文本": TEXT,
    "引用回复": TEXT,
    "引用消息": TEXT,
    "群公告": TEXT,
    "图片": IMAGE,
    "语音": AUDIO,
    "视频": VIDEO,
    "动画表情": STICKER,
    "表情包": STICKER,
    "用户上传的GIF表情": GIF,
    "位置": LOCATION,
    "位置分享": LOCATION,
    "位置共享": LOCATION,
    "文件": FILE,
    "推荐公众号": CONTACT,
    "个人/公众号名片": CONTACT,
    "企业微信名片": CONTACT,
    "语音通话": CALL,
    "音视频通话": CALL,
}

# Type names of system entries (events), unless the text is a recall notice.
TYPE_NAME_EVENTS = frozenset(
    {
        "系统通知",
        "系统消息",
        "拍一拍",
        "邀请加群",
        "添加好友",
        "企业微信打招呼(猜)",
        "企业微信添加好友(猜)",
    }
)

# PyWxDump names recalls "消息撤回1", "消息撤回5", … after the sub type.
RECALL_TYPE_PREFIX = "消息撤回"


def kind_for_type_name(name: str, text: str) -> tuple[MessageKind, EventKind | None]:
    """(message kind, event kind) for a tool's type name and the text it printed.

    The event kind is None for a message; for a system entry it is set and the message kind is
    OTHER (unused).
    """
    name = name.strip()
    if name.startswith(RECALL_TYPE_PREFIX) or (name in TYPE_NAME_EVENTS and is_recall(text)):
        return DELETED, None
    if name in TYPE_NAME_EVENTS:
        return OTHER, event_kind(strip_markup(text))
    if TYPE_NAME_KINDS.get(name) == CALL:
        return OTHER, EV_CALL
    return TYPE_NAME_KINDS.get(name, OTHER), None
