"""ChatLab header, members and messages → talkvault records (shared by the JSON and JSONL readers)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from importers.chatlab.spec import (
    CHAT_KINDS,
    EVENT_KINDS,
    MEDIA_TYPES,
    MESSAGE_KINDS,
    TYPE_CALL,
    TYPE_RECALL,
    source_for,
)
from vault.records import DELETED, OTHER, UNKNOWN, Attachment, Chat, Event, Message, MessageKind, title_key

# Timestamps are seconds by the spec; a number this large can only be milliseconds (year 5138+).
MS_THRESHOLD = 100_000_000_000


@dataclass
class Header:
    """What the reader learnt before the first message: the file header, meta and members."""

    chatlab: dict[str, Any] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)  # platformId -> display name


def _text(value: Any) -> str | None:
    """A non-empty string, or a number as a string (ids are strings by the spec, but not always)."""
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool):
        return str(value)
    return None


def add_member(header: Header, member: Any) -> bool:
    """Remember one `members[]` entry; False when it has no platformId."""
    if not isinstance(member, dict):
        return False
    pid = _text(member.get("platformId"))
    if pid is None:
        return False
    name = _text(member.get("groupNickname")) or _text(member.get("accountName")) or pid
    header.names.setdefault(pid, name)
    return True


def _chat_key(source: str, meta: Mapping[str, Any], peer: str | None) -> str:
    """The chat key talkvault's own importer of that app would use, so that imports meet.

    QQ keys say which namespace the number is in (group codes and QQ numbers overlap), as the QQ
    importer does; other apps' ids (WeChat wxids, `…@chatroom`) are used as they are.
    """
    group_id = _text(meta.get("groupId"))
    chat_type = meta.get("type")
    if group_id:
        return f"group:{group_id}" if source == "qq" else group_id
    if chat_type == "private" and peer:
        return f"private:{peer}" if source == "qq" else peer
    return title_key(_text(meta.get("name")) or "ChatLab chat")


def chat(header: Header, fallback_title: str) -> Chat:
    meta = header.meta
    source = source_for(meta.get("platform"))
    owner = _text(meta.get("ownerId"))
    others = [pid for pid in header.names if pid != owner]
    peer = others[0] if owner and len(others) == 1 else None
    title = _text(meta.get("name")) or fallback_title
    extra: dict[str, Any] = {}
    for key in ("platform", "groupId", "ownerId"):
        v = _text(meta.get(key))
        if v:
            extra[key] = v
    for key in ("version", "generator"):
        v = _text(header.chatlab.get(key))
        if v:
            extra[f"chatlab_{key}"] = v
    return Chat(
        source=source,
        key=_chat_key(source, {**meta, "name": title}, peer),
        title=title,
        kind=CHAT_KINDS.get(str(meta.get("type")), UNKNOWN),
        participants=tuple(dict.fromkeys(header.names.values())),
        extra=extra,
    )


def timestamp(value: Any) -> datetime:
    """`timestamp`: Unix seconds (milliseconds and numeric strings tolerated), an instant in UTC."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise ValueError("timestamp is not a number")
    seconds = float(value)
    if abs(seconds) >= MS_THRESHOLD:
        seconds /= 1000
    return datetime.fromtimestamp(seconds, timezone.utc)


def record(chat_key: str, msg: Mapping[str, Any], header: Header, line: int | None) -> Message | Event:
    """One `messages[]` entry (or JSONL `message` line). Raises ValueError when it cannot be read."""
    ts = timestamp(msg.get("timestamp"))
    code = msg.get("type")
    if isinstance(code, str) and code.strip().isdigit():  # a converter's "0" for 0
        code = int(code)
    if isinstance(code, bool) or not isinstance(code, (int, Decimal)) or code != int(code):
        raise ValueError("type is not a number")
    code = int(code)
    sender_id = _text(msg.get("sender"))
    # The name at send time, else the member's (group nickname before account name), else the id.
    sender = (
        _text(msg.get("groupNickname"))
        or (header.names.get(sender_id) if sender_id else None)
        or _text(msg.get("accountName"))
        or sender_id
    )
    content = msg.get("content")
    text = content if isinstance(content, str) else ""
    source_id = _text(msg.get("platformMessageId"))
    extra: dict[str, Any] = {"chatlab_type": code}
    if code == TYPE_CALL:
        seconds = _call_seconds(text)
        if seconds is not None:
            extra["duration_s"] = seconds
    if code in EVENT_KINDS:
        return Event(chat_key, ts, text, EVENT_KINDS[code], actor=sender, source_id=source_id, line=line, extra=extra)
    owner = _text(header.meta.get("ownerId"))
    from_me = (sender_id == owner) if owner and sender_id else None
    kind: MessageKind = DELETED if code == TYPE_RECALL else MESSAGE_KINDS.get(code, OTHER)
    attachments: Iterable[Attachment] = ()
    if code in MEDIA_TYPES:
        attachments = (Attachment(name=kind, kind=kind),)  # ChatLab keeps no files
    return Message(
        chat=chat_key,
        ts=ts,
        sender=sender,
        text="" if kind == DELETED else text,
        kind=kind,
        source_id=source_id,
        sender_id=sender_id,
        from_me=from_me,
        reply_to=_text(msg.get("replyToMessageId")),
        attachments=tuple(attachments),
        line=line,
        extra=extra,
    )


_CALL_LENGTH = re.compile(r"(?<!\d)(?:(\d{1,3}):)?(\d{1,2}):(\d{2})(?!\d)")


def _call_seconds(text: str) -> int | None:
    """The length of a call entry whose text prints it ("通话时长 00:32", "1:02:03"), if it does."""
    m = _CALL_LENGTH.search(text)
    if m is None:
        return None
    return int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + int(m.group(3))
