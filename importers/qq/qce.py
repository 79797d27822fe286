"""QQ Chat Exporter (QCE) messages → records: senders, times, kinds, replies, recalls, gray tips, calls, files.

Two generations of the message object (shuakami/qq-chat-exporter):

- V6+ (the Rust core, qq-chat-export-core/src/types.rs `CleanMessage`): `id`, `seq`, `timestamp`
  (epoch ms), `time` (RFC 3339), `sender {uid, uin, name, nickname, groupCard, remark}`, `type`
  ("text", "system", "reply", "type_19", ...), `content {text, elements [{type, data}], resources
  [{type, filename, size, url, localPath}], mentions}`, `recalled`, `system`.
- V4/V5 (TypeScript, as ChatLab's parser reads them): `messageId`, `timestamp` (ISO string),
  `messageType` (NTQQ msgType), `isSystemMessage`, `isRecalled`, `content.reply {messageId,
  referencedMessageId}`, `content.emojis`, `rawMessage {senderUin, sendNickName, sendMemberName}`.

A recalled message is a record whose text QQ replaced by "X 撤回了一条消息": it becomes a DELETED
message of its sender. Other system records (gray tips) are events; `av_record` elements are
calls. Resource files are looked up in the export folder, where QCE copies them
(`resources/images|videos|audios|files/<name>`, base.rs `resource_type_dir`); URLs are not kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import PurePosixPath
from typing import Any

from importers.qq.notices import duration_seconds, notice_kind
from importers.tree import FolderTree, mime_for_name
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    UNKNOWN,
    VIDEO,
    Attachment,
    Chat,
    ChatKind,
    Event,
    Message,
    MessageKind,
    title_key,
)

SOURCE = "qq"
# chatInfo.type (classify_chat_type_binary: "temp" chats are private-like).
CHAT_KINDS: dict[str, ChatKind] = {"group": GROUP, "private": DIRECT, "temp": DIRECT}
# The sender QCE puts on records without one (simple_parser.rs: uid "未知", name "系统消息";
# NapCat's raw senderUin "0").
PLACEHOLDER_IDS = frozenset({"", "0", "未知"})
SYSTEM_SENDER_NAME = "系统消息"
# V4/V5 `messageType` is NTQQ's msgType; 5 is a gray tip.
NT_MSG_TYPE_GRAY_TIP = 5
# Epoch numbers at least this large are milliseconds (V6 writes ms; a seconds value is far below).
MS_THRESHOLD = 100_000_000_000
# Resource kinds and the folders QCE copies them into (base.rs `resource_type_dir`).
RESOURCE_KINDS: dict[str, MessageKind] = {"image": IMAGE, "video": VIDEO, "audio": AUDIO, "voice": AUDIO, "file": FILE}
RESOURCE_DIRS = {"image": "images", "video": "videos", "audio": "audios", "voice": "audios"}
RESOURCES_DIR = "resources"
# Element types (simple_parser.rs `parse_element`).
EL_REPLY = "reply"
EL_CALL = "av_record"
EL_STICKER = ("market_face", "marketFace")
EL_LOCATION = "location"
# What QCE writes into `content.text` for a reply element (simple_parser.rs `element_to_text`);
# the quoted message is linked by reply_to instead.
REPLY_PLACEHOLDER = "[回复消息]"
# image element `data.subType` for a custom sticker (issue #510).
IMAGE_SUBTYPE_STICKER = "sticker"


def _id(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return None


def _real_id(value: Any) -> str | None:
    v = _id(value)
    return None if v is None or v in PLACEHOLDER_IDS else v


def _dict(obj: Any, key: str) -> dict[str, Any]:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, dict) else {}


def _list(obj: Any, key: str) -> list[Any]:
    v = obj.get(key) if isinstance(obj, dict) else None
    return v if isinstance(v, list) else []


def epoch(value: Any) -> datetime | None:
    """An epoch number or numeric string (ms or s), or an ISO 8601 string, as an aware UTC time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        v = value.strip()
        if not v:
            return None
        if v.isdigit():
            value = int(v)
        else:
            if v.endswith(("Z", "z")):
                v = v[:-1] + "+00:00"
            try:
                ts = datetime.fromisoformat(v)
            except ValueError:
                return None
            return ts.astimezone(timezone.utc) if ts.tzinfo is not None else ts
    if isinstance(value, (int, float, Decimal)):
        seconds = float(value)
        if seconds <= 0:
            return None
        if seconds >= MS_THRESHOLD:
            seconds /= 1000
        return datetime.fromtimestamp(seconds, timezone.utc)
    return None


@dataclass(frozen=True)
class Owner:
    """The exporting account, from chatInfo (selfUin / selfUid)."""

    uin: str | None = None
    uid: str | None = None

    def known(self) -> bool:
        return bool(self.uin or self.uid)

    def is_me(self, uin: str | None, uid: str | None) -> bool:
        return bool((self.uin and uin == self.uin) or (self.uid and uid == self.uid))


def owner_of(chat_info: Mapping[str, Any]) -> Owner:
    return Owner(_real_id(chat_info.get("selfUin")), _real_id(chat_info.get("selfUid")))


def chat_of(head: Mapping[str, Any], fallback_title: str) -> Chat:
    """The Chat of an export from its `chatInfo`, `statistics` and `metadata`.

    Key: "group:<group code>" (chatInfo.peerUid of a group), "private:<QQ number>" (peerUin, else
    the peer's uid), else the title (older exports name no peer).
    """
    info = _dict(head, "chatInfo")
    title = _id(info.get("name")) or fallback_title
    ctype = _id(info.get("type")) or ""
    kind = CHAT_KINDS.get(ctype, UNKNOWN)
    peer_uid, peer_uin = _real_id(info.get("peerUid")), _real_id(info.get("peerUin"))
    if kind == GROUP and peer_uid:
        key = f"group:{peer_uid}"
    elif kind == DIRECT and (peer_uin or peer_uid):
        key = f"private:{peer_uin or peer_uid}"
    else:
        key = title_key(title)
    names = []
    for s in _list(_dict(head, "statistics"), "senders"):
        if not isinstance(s, dict):
            continue
        name, uid = _id(s.get("name")), _id(s.get("uid"))
        if name and name != SYSTEM_SENDER_NAME and uid not in PLACEHOLDER_IDS:  # the system placeholder
            names.append(name)
    extra: dict[str, Any] = {"type": ctype} if ctype else {}
    for k in ("selfUin", "selfUid", "peerUin", "peerUid", "selfName"):
        v = _real_id(info.get(k))
        if v:
            extra[k] = v
    version = _id(_dict(head, "metadata").get("version"))
    if version:
        extra["exporter_version"] = version
    return Chat(SOURCE, key, title, kind, tuple(dict.fromkeys(names)), extra)


class Resources:
    """Resolves a message's resources to files inside the export folder (never outside it)."""

    def __init__(self, tree: FolderTree) -> None:
        self.tree = tree

    def attachment(self, res: Mapping[str, Any]) -> Attachment | None:
        rtype = _id(res.get("type")) or "file"
        kind = RESOURCE_KINDS.get(rtype)
        if kind is None:
            return None
        local = (_id(res.get("localPath")) or "").replace("\\", "/")
        filename = _id(res.get("filename")) or _id(res.get("fileName"))
        base = PurePosixPath(local).name if local else None
        folder = f"{RESOURCES_DIR}/{RESOURCE_DIRS.get(rtype, 'files')}"
        candidates = [local, f"{RESOURCES_DIR}/{local}"] if local else []
        candidates += [f"{folder}/{n}" for n in (base, filename) if n]
        name = base or filename or kind
        size = res.get("size") if isinstance(res.get("size"), int) and res["size"] > 0 else None
        for rel in candidates:
            opener = self.tree.opener(rel)
            if opener is not None:
                return Attachment(name, kind, mime_for_name(name), self.tree.size(rel), opener)
        return Attachment(name, kind, mime_for_name(name), size, None)


def _sender(msg: Mapping[str, Any]) -> tuple[str | None, str | None, str | None]:
    """(name, uin, uid); name None for QCE's system placeholder."""
    s, raw = _dict(msg, "sender"), _dict(msg, "rawMessage")
    uin = _real_id(s.get("uin")) or _real_id(raw.get("senderUin"))
    uid = _real_id(s.get("uid")) or _real_id(raw.get("senderUid"))
    name = None
    for v in (
        s.get("name"),
        s.get("groupCard"),
        raw.get("sendMemberName"),
        s.get("nickname"),
        raw.get("sendNickName"),
        s.get("remark"),
    ):
        name = _id(v)
        if name and name not in PLACEHOLDER_IDS:  # V4 wrote "0" for a name it did not know
            break
        name = None
    if name == SYSTEM_SENDER_NAME and not uin:
        return None, None, None
    if name is None:
        name = uin or uid
    return name, uin, uid


def _reply_to(content: Mapping[str, Any], elements: list[dict[str, Any]]) -> str | None:
    replies = [e.get("data") for e in elements if e.get("type") == EL_REPLY]
    replies.append(content.get("reply"))  # V4/V5
    for data in replies:
        if isinstance(data, dict):
            for key in ("referencedMessageId", "messageId"):
                v = _real_id(data.get(key))
                if v:
                    return v
    return None


def _message_kind(content: Mapping[str, Any], elements: list[dict[str, Any]], text: str) -> MessageKind:
    for res in _list(content, "resources"):
        kind = RESOURCE_KINDS.get(str(res.get("type"))) if isinstance(res, dict) else None
        if kind is not None:
            if kind == IMAGE and any(
                e.get("type") == "image" and _dict(e, "data").get("subType") == IMAGE_SUBTYPE_STICKER for e in elements
            ):
                return STICKER
            return kind
    types = {e.get("type") for e in elements}
    if types & set(EL_STICKER):
        return STICKER
    if EL_LOCATION in types:
        return LOCATION
    if not text and _list(content, "emojis"):
        return STICKER
    return TEXT if text else OTHER


def record(
    chat_key: str, msg: Mapping[str, Any], owner: Owner, resources: Resources, line: int | None
) -> Message | Event:
    """One QCE message. Raises ValueError when it has no usable time."""
    ts = epoch(msg.get("timestamp")) or epoch(msg.get("time"))
    if ts is None:
        raise ValueError("no time")
    source_id = _id(msg.get("id")) or _id(msg.get("messageId"))
    content = _dict(msg, "content")
    elements = [e for e in _list(content, "elements") if isinstance(e, dict)]
    raw_text = content.get("text")
    text: str = raw_text if isinstance(raw_text, str) else ""
    name, uin, uid = _sender(msg)
    recalled = msg.get("recalled") is True or msg.get("isRecalled") is True
    system = (
        msg.get("system") is True
        or msg.get("isSystemMessage") is True
        or msg.get("type") == "system"
        or msg.get("messageType") == NT_MSG_TYPE_GRAY_TIP
    )
    extra: dict[str, Any] = {}
    if _id(msg.get("seq")):
        extra["seq"] = _id(msg.get("seq"))
    if recalled:
        return Message(
            chat_key,
            ts,
            name,
            "",
            DELETED,
            source_id=source_id,
            sender_id=uin or uid,
            from_me=owner.is_me(uin, uid) if owner.known() and (uin or uid) else None,
            line=line,
            extra=extra | {"recalled": True},
        )
    call = next((e for e in elements if e.get("type") == EL_CALL), None)
    if system or call is not None:
        kind = EV_CALL if call is not None else notice_kind(text)
        if call is not None:
            data = _dict(call, "data")
            if isinstance(data.get("type"), int):
                extra["call_type"] = data["type"]
            status = _id(data.get("text"))
            seconds = duration_seconds(status or "") if status else None
            raw_time = _id(data.get("time"))
            if seconds is None and raw_time and raw_time != "0":
                seconds = int(raw_time) if raw_time.isdigit() else duration_seconds(raw_time)
            if seconds is not None:
                extra["duration_s"] = seconds
        return Event(chat_key, ts, text, kind, actor=name, source_id=source_id, line=line, extra=extra)
    attachments = []
    for res in _list(content, "resources"):
        if isinstance(res, dict):
            att = resources.attachment(res)
            if att is not None:
                attachments.append(att)
    if _id(msg.get("type")):
        extra["type"] = _id(msg.get("type"))
    reply_to = _reply_to(content, elements)
    if reply_to and text.startswith(REPLY_PLACEHOLDER):
        text = text[len(REPLY_PLACEHOLDER) :].lstrip()
    return Message(
        chat_key,
        ts,
        name,
        text,
        _message_kind(content, elements, text),
        source_id=source_id,
        sender_id=uin or uid,
        from_me=owner.is_me(uin, uid) if owner.known() and (uin or uid) else None,
        reply_to=reply_to,
        attachments=tuple(attachments),
        line=line,
        extra=extra,
    )
