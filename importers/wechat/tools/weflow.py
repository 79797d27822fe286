"""WeFlow and EchoTrace JSON exports of one WeChat chat (and the shared reading of their messages).

How a person got them: WeFlow (hicccc77/WeFlow) and its predecessor EchoTrace (ycccccccy/echotrace)
are desktop apps for Windows WeChat 4.x that read the person's own databases and export a chat as
"JSON" (formats/2026-formats-and-wechat-tools.md §2). One file per chat, media (when chosen)
in folders beside it, named by relative paths in `content`.

Layout (ChatLab/ChatLab packages/parser/src/formats/weflow.ts and ycccccccy-echotrace.ts; WeFlow
electron/services/exportJsonWriter.ts): `{"weflow": {version, exportedAt}, "session": {wxid,
nickname, remark, displayName, type: 群聊/私聊, lastTimestamp, messageCount, avatar}, "messages":
[{localId, createTime (Unix s), formattedTime, type (a Chinese type name), localType, content,
isSend 1/0/null, senderUsername, senderDisplayName, senderAvatarKey, source}], "avatars"}`;
EchoTrace writes the same without the `weflow` object. Newer WeFlow adds `platformMessageId`
(the server id, unsigned), `replyToMessageId`, `quotedSender`, `quotedContent`, `emojiMd5`.

`content` is the tool's rendering (text as sent, `[图片]`-style placeholders, the media's
relative path, quotes as `reply[引用 name：quoted]`), not WeChat's XML. `localId` is the export's
row number (WeFlow) or the database's local id (EchoTrace): never an identity across tools, so it
is kept in `extra["local_id"]` and only `platformMessageId` becomes the source id. Avatars (data
URLs) are not stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, guard_json
from importers.wechat.common import (
    ME,
    SOURCE,
    aware_epoch,
    call_duration,
    event_kind,
    is_group,
    is_recall,
    strip_markup,
)
from importers.wechat.media import MediaFinder
from importers.wechat.tools.shared import (
    OWN_RECALL_PREFIX,
    forward_text,
    iter_json_items,
    json_head_events,
    keys_at,
    safe_media,
    scalar_at,
    server_id,
    top_level_keys,
)
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
    ChatKind,
    Event,
    Message,
    MessageKind,
    Problem,
    Record,
)

# Beyond this a createTime is not Unix seconds (year 2100).
MAX_EPOCH = 4_102_444_800

SESSION_TYPES = frozenset({"群聊", "私聊"})

# Type names the tools write (WeFlow/EchoTrace getMessageTypeName, CipherTalk getMessageTypeName).
_KIND_NAMES: dict[str, MessageKind] = {
    "文本消息": TEXT,
    "图片消息": IMAGE,
    "语音消息": AUDIO,
    "视频消息": VIDEO,
    "动画表情": STICKER,
    "名片消息": CONTACT,
    "位置消息": LOCATION,
    "文件消息": FILE,
    "GIF表情": GIF,
    "群公告": TEXT,
    "卡片式链接": OTHER,
    "图文消息": OTHER,
    "链接消息": OTHER,
    "小程序分享": OTHER,
    "小程序消息": OTHER,
    "音乐卡片": OTHER,
    "视频号直播卡片": OTHER,
    "转账卡片": OTHER,
    "转账消息": OTHER,
    "音乐消息": OTHER,
    "音乐分享": OTHER,
    "微信礼物": OTHER,
    "其他消息": OTHER,
}
QUOTE_NAMES = frozenset({"引用消息"})
FORWARD_NAMES = frozenset({"聊天记录合并转发", "聊天记录", "合并转发"})
CALL_NAMES = frozenset({"通话消息", "语音通话", "视频通话", "音视频通话"})
PAT_NAMES = frozenset({"拍一拍消息", "拍一拍"})
RED_PACKET_NAMES = frozenset({"红包卡片", "红包消息", "红包"})
SYSTEM_NAMES = frozenset({"系统消息", "系统通知", "撤回消息"})
# What the tools call a message they did not classify (besides "未知类型(<local_type>)").
GENERIC_NAMES = frozenset({"其他消息"})
KNOWN_NAMES = frozenset(
    {*_KIND_NAMES, *QUOTE_NAMES, *FORWARD_NAMES, *CALL_NAMES, *PAT_NAMES, *RED_PACKET_NAMES, *SYSTEM_NAMES}
)

# local_type packs the app sub type above the low 32 bits (message_N.db); the tools copy it.
TYPE_MASK = 0xFFFFFFFF
SUB_TYPE_SHIFT = 32
_LOCAL_TYPE_NAMES: dict[tuple[int, int | None], str] = {
    (49, 62): "拍一拍消息",
    (49, 2001): "红包消息",
    (49, 2003): "红包消息",
    (49, 19): "聊天记录",
    (49, 57): "引用消息",
    (50, None): "通话消息",
    (10000, None): "系统消息",
    (10002, None): "系统消息",
}

# The words of a pat notice ("A 拍了拍 B").
PAT_WORD = "拍了拍"

MEDIA_KINDS: frozenset[MessageKind] = frozenset({IMAGE, AUDIO, VIDEO, FILE, GIF})

# "[图片]", "[语音消息]", "[动画表情]": what the tools print in place of media.
_PLACEHOLDER = re.compile(r"^\[[^\[\]\n]{1,16}\]$")
_FILE_PLACEHOLDER = re.compile(r"^\[文件\]\s*(?P<name>.+)$")
# A media path the tool copied beside the export: no spaces at the ends, no newline, an extension.
_MEDIA_PATH = re.compile(r"^[^\n\[\]]{1,512}\.[A-Za-z0-9]{1,8}$")
# WeFlow's rendering of a quote reply: "reply[引用 name：quoted]".
_QUOTE = re.compile(r"^(?P<reply>.*?)\[引用 (?P<label>.*)\]$", re.S)


def _session_kind(session: Mapping[str, Any]) -> ChatKind:
    if session.get("type") == "群聊" or is_group(_str(session.get("wxid"))):
        return GROUP
    return DIRECT


def detect_weflow(path: Path) -> bool:
    """`{"weflow": {...}, "session": {...}` at the head."""
    try:
        if not path.is_file():
            return False
        events = json_head_events(path)
        keys = top_level_keys(events)
        return bool(keys) and keys[0] == "weflow" and "session" in keys and bool(keys_at(events, "weflow"))
    except Exception:
        return False


def detect_echotrace(path: Path) -> bool:
    """A top-level object opening with `"session": {wxid, type: 群聊/私聊 …}` and nothing else
    before `messages` (WeFlow and CipherTalk open with their own header objects)."""
    try:
        if not path.is_file():
            return False
        events = json_head_events(path)
        keys = top_level_keys(events)
        if not keys or keys[0] != "session" or not set(keys) <= {"session", "messages", "avatars"}:
            return False
        session = keys_at(events, "session")
        return (
            "wxid" in session
            and "platform" not in session
            and scalar_at(events, "session.type") in SESSION_TYPES
            and isinstance(scalar_at(events, "session.wxid"), str)
        )
    except Exception:
        return False


@dataclass
class ToolContext:
    """One export being read: its chat, its folder's media, the owner's name once seen."""

    path: Path
    key: str
    kind: ChatKind
    finder: MediaFinder
    owner_id: str | None = None
    owner_name: str | None = None
    senders: dict[int, tuple[str, str | None]] = field(default_factory=dict)  # arkme-json senderID


def read_session(path: Path) -> dict[str, Any]:
    """The `session` object (streamed; a large avatar in it is read and dropped)."""
    import ijson

    try:
        with open(path, "rb") as fh:
            for session in ijson.items(guard_json(fh, str(path)), "session"):
                if isinstance(session, dict):
                    session.pop("avatar", None)
                    return session
                break
    except OSError as exc:
        raise ExportError("cannot read this file", path=str(path)) from exc
    except (ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError) as exc:
        raise ExportError("the JSON is damaged (truncated?); export it again", path=str(path)) from exc
    raise ExportError("no session object: not a WeFlow/EchoTrace/CipherTalk export", path=str(path))


def read_senders(path: Path) -> dict[int, tuple[str, str | None]]:
    """WeFlow "arkme-json": the `senders` table its messages point into by `senderID`
    ({} for the other layouts, which name the sender in every message)."""
    import ijson

    events = json_head_events(path, 4096)
    if scalar_at(events, "weflow.format") != "arkme-json":
        return {}
    out: dict[int, tuple[str, str | None]] = {}

    def until_messages(fh: Any) -> Iterator[tuple[str, str, Any]]:
        for prefix, event, value in ijson.parse(guard_json(fh, str(path))):
            if prefix == "" and event == "map_key" and value == "messages":
                return  # the table comes before the messages: no need to read on
            yield prefix, event, value

    try:
        with open(path, "rb") as fh:
            for sender in ijson.items(until_messages(fh), "senders.item"):
                if isinstance(sender, dict) and isinstance(sender.get("senderID"), int) and sender.get("wxid"):
                    name = pick_name(sender.get("remark"), sender.get("groupNickname"), sender.get("nickname"))
                    out[sender["senderID"]] = (str(sender["wxid"]), name or pick_name(sender.get("displayName")))
    except (OSError, ijson.JSONError, ijson.IncompleteJSONError, UnicodeDecodeError):
        return out
    return out


def session_chat(session: Mapping[str, Any], path: Path) -> Chat:
    wxid = _str(session.get("wxid")).strip()
    if not wxid:
        raise ExportError("the session has no wxid; export the chat again", path=str(path))
    title = next(
        (
            v.strip()
            for v in (session.get(k) for k in ("displayName", "remark", "nickname"))
            if isinstance(v, str) and v.strip()
        ),
        wxid,
    )
    kind = _session_kind(session)
    participants = () if kind == GROUP else (title, ME)
    return Chat(SOURCE, wxid, title, kind, participants, extra={"wxid": wxid})


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


def pick_name(*names: Any) -> str | None:
    for name in names:
        if isinstance(name, str) and name.strip():
            return name.strip()
    return None


def message_time(item: Mapping[str, Any]) -> Any:
    created = item.get("createTime")
    if isinstance(created, bool) or not isinstance(created, int | float) or not 0 < created < MAX_EPOCH:
        return None
    return aware_epoch(int(created))


def chat_records(value: Any) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """The records of a merged forward as (name, text) lines and as extra entries."""
    if not isinstance(value, list):
        return [], []
    lines: list[tuple[str, str]] = []
    kept: list[dict[str, Any]] = []
    for record in value[:1000]:
        if not isinstance(record, dict):
            continue
        name = pick_name(record.get("senderDisplayName"), record.get("accountName"), record.get("sender")) or ""
        text = _str(record.get("content")).strip()
        lines.append((name, text))
        entry = {"sender": name, "text": text, "type": _str(record.get("type")) or record.get("datatype")}
        when = record.get("timestamp")
        if isinstance(when, int) and 0 < when < MAX_EPOCH:
            entry["ts"] = when
        kept.append({k: v for k, v in entry.items() if v not in (None, "")})
    return lines, kept


def hinted_type_name(type_name: str, local_type: Any) -> str:
    """The type name, or for a name the tools use for what they did not classify ("其他消息",
    "未知类型(…)") the name its `localType` stands for (WeFlow writes pats and red packets so)."""
    specific = type_name in KNOWN_NAMES and type_name not in GENERIC_NAMES
    if specific or isinstance(local_type, bool) or not isinstance(local_type, int):
        return type_name
    type_, sub_type = local_type & TYPE_MASK, local_type >> SUB_TYPE_SHIFT
    return _LOCAL_TYPE_NAMES.get((type_, sub_type)) or _LOCAL_TYPE_NAMES.get((type_, None)) or type_name


def tool_record(item: Mapping[str, Any], number: int, ctx: ToolContext, source_id: str | None) -> Record:
    """The record of one message of WeFlow/EchoTrace/CipherTalk, read from its type name and the
    tool's rendering of its content."""
    ts = message_time(item)
    if ts is None:
        return Problem(str(ctx.path), number, "message without a readable createTime")
    type_name = _str(item.get("type")).strip()
    content = item.get("content")
    text = content.strip() if isinstance(content, str) else ""
    is_send = item.get("isSend")
    from_me: bool | None = None if is_send is None else is_send in (1, True, "1")
    sender_id = _str(item.get("senderUsername")).strip() or None
    shown = item.get("senderDisplayName")
    if sender_id is None and isinstance(item.get("senderID"), int) and item["senderID"] in ctx.senders:
        sender_id, shown = ctx.senders[item["senderID"]]
    if is_group(ctx.key) and sender_id == ctx.key:  # the tools name the group as the sender of notices
        sender_id = None
    extra: dict[str, Any] = {"type_name": type_name}
    type_name = hinted_type_name(type_name, item.get("localType"))
    local_id = item.get("localId")
    if isinstance(local_id, int | str) and not isinstance(local_id, bool):
        extra["local_id"] = str(local_id)
    name: str | None
    if from_me:
        name = pick_name(shown, ctx.owner_name) or ME
        ctx.owner_name = ctx.owner_name or name
        ctx.owner_id = ctx.owner_id or sender_id
    else:
        name = pick_name(shown, item.get("groupNickname"), sender_id) if sender_id else None
    reply_to = server_id(item.get("replyToMessageId"))

    if type_name in SYSTEM_NAMES or (from_me is None and type_name not in _KIND_NAMES and type_name not in CALL_NAMES):
        notice = strip_markup(text)
        if is_recall(notice):
            mine = notice.startswith(OWN_RECALL_PREFIX)
            who = (ctx.owner_name or ME) if mine else name
            return Message(
                ctx.key, ts, who, notice, DELETED, source_id, sender_id, mine or from_me, line=number, extra=extra
            )
        if PAT_WORD in notice:
            extra["pat"] = True
            return Event(ctx.key, ts, notice, EV_SYSTEM, name, source_id, number, extra)
        return Event(ctx.key, ts, notice, event_kind(notice), name, source_id, number, extra)
    if type_name in PAT_NAMES:
        extra["pat"] = True
        return Event(ctx.key, ts, strip_markup(text), EV_SYSTEM, name, source_id, number, extra)
    if type_name in RED_PACKET_NAMES:
        extra["red_packet"] = True
        return Event(ctx.key, ts, text, EV_SYSTEM, name, source_id, number, extra)
    if type_name in CALL_NAMES:
        seconds = call_duration(text)
        if seconds is not None:
            extra["duration_s"] = seconds
        return Event(ctx.key, ts, text, EV_CALL, name, source_id, number, extra)

    kind = TEXT if type_name in QUOTE_NAMES or type_name in FORWARD_NAMES else _KIND_NAMES.get(type_name, OTHER)
    attachments: tuple[Attachment, ...] = ()
    if type_name in QUOTE_NAMES:
        text = _quote(text, item, extra)
    elif type_name in FORWARD_NAMES:
        lines, kept = chat_records(item.get("chatRecords"))
        title = "" if _PLACEHOLDER.match(text) else text
        if kept:
            extra["records"] = kept
            text = forward_text(title, lines)
        else:
            text = title
        extra["forward"] = True
    elif kind in MEDIA_KINDS or kind == STICKER:
        text, attachments = _media(text, kind, ctx, extra)
    elif kind == OTHER:
        for key in ("linkUrl", "linkTitle", "appMsgDesc"):
            if isinstance(item.get(key), str) and item[key]:
                extra[key] = item[key]
    elif kind in (CONTACT, LOCATION) and _PLACEHOLDER.match(text):
        text = ""
    for key in ("emojiMd5", "emojiCdnUrl", "emojiCaption"):
        if kind == STICKER and isinstance(item.get(key), str) and item[key]:
            extra[key] = item[key]
    return Message(
        chat=ctx.key,
        ts=ts,
        sender=name,
        text=text,
        kind=kind,
        source_id=source_id,
        sender_id=sender_id,
        from_me=from_me,
        reply_to=reply_to,
        attachments=attachments,
        line=number,
        extra=extra,
    )


def _quote(text: str, item: Mapping[str, Any], extra: dict[str, Any]) -> str:
    match = _QUOTE.match(text)
    quote: dict[str, str] = {}
    if match:
        text = match.group("reply").strip()
        label = match.group("label")
        sender, sep, quoted = label.partition("：")
        quote = {"sender": sender, "text": quoted} if sep else {"text": label}
    sender_field, quoted_field = _str(item.get("quotedSender")), _str(item.get("quotedContent"))
    if sender_field:
        quote["sender"] = sender_field
    if quoted_field:
        quote["text"] = quoted_field
    if quote:
        extra["quote"] = {k: v for k, v in quote.items() if v}
    return text


def _media(text: str, kind: MessageKind, ctx: ToolContext, extra: dict[str, Any]) -> tuple[str, tuple[Attachment, ...]]:
    """(text, attachments) of a media message: a placeholder is dropped, a path is resolved."""
    if not text or _PLACEHOLDER.match(text):
        return "", ()
    named = _FILE_PLACEHOLDER.match(text)
    if named:
        name = named.group("name").strip()
        return name, (Attachment(name, FILE),)
    if _MEDIA_PATH.match(text) and not text[:1].isspace():
        return "", (safe_media(ctx.finder, text, kind),)
    if kind == AUDIO:  # a transcript ("export voice as text")
        extra["transcript"] = True
        return text, ()
    return text, ()


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Records of a WeFlow or EchoTrace export."""
    session = read_session(path)
    chat = session_chat(session, path)
    yield chat
    ctx = ToolContext(path, chat.key, chat.kind, MediaFinder(path.parent), senders=read_senders(path))
    for number, item in iter_json_items(path, "messages.item"):
        if not isinstance(item, dict):
            yield Problem(str(path), number, "message is not an object")
            continue
        yield tool_record(item, number, ctx, server_id(item.get("platformMessageId")))
