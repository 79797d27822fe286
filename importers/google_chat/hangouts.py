"""Legacy Hangouts (`Hangouts/Hangouts.json` from Google Takeout): conversations and their events, streamed."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import IO, Any
from urllib.parse import urlsplit

import ijson

from importers.tree import dict_at, json_events, list_at, str_at
from vault.records import (
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    GIF,
    GROUP,
    IMAGE,
    LOCATION,
    OTHER,
    TEXT,
    UNKNOWN,
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

SOURCE = "hangouts"

# Where the pieces sit in the two layouts Takeout has written. Since about 2018:
# {"conversations": [{"conversation": {"conversation_id", "conversation": {...}}, "events": [...]}]};
# before: {"conversation_state": [{"conversation_id", "conversation_state": {"conversation": {...},
# "event": [...]}}]} (e.g. ammgws/wynbot:build_db.py reads that older one).
_HEADERS = {
    "conversations.item.conversation": "conversations.item",
    "conversation_state.item.conversation_state.conversation": "conversation_state.item",
}
_EVENTS = {
    "conversations.item.events.item": "conversations.item",
    "conversation_state.item.conversation_state.event.item": "conversation_state.item",
}
_CONVERSATIONS = frozenset(_HEADERS.values())
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")

# conversation.type values (hangups' ConversationType).
_KINDS: dict[str, ChatKind] = {"STICKY_ONE_TO_ONE": DIRECT, "ONE_TO_ONE": DIRECT, "GROUP": GROUP}
# Event types with a chat_message (SMS and MMS through Hangouts arrive as the regular kind too).
_MESSAGE_EVENTS = frozenset({"REGULAR_CHAT_MESSAGE", "SMS", "MMS"})
_MICROS = 1_000_000


@dataclass
class _Conversation:
    """What one conversation's events need: its key, who is who, which participant is the owner."""

    key: str | None = None
    names: dict[str, str] = field(default_factory=dict)  # gaia_id -> fallback_name
    self_id: str | None = None
    ready: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)  # events seen before the header
    count: int = 0


def hangouts_time(value: object) -> datetime | None:
    """A Hangouts `timestamp` (microseconds since the epoch, as a string) as an aware UTC datetime."""
    if isinstance(value, str) and value.strip().isdigit():
        micros = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        micros = value
    else:
        return None
    try:
        return datetime.fromtimestamp(micros // _MICROS, timezone.utc) + timedelta(microseconds=micros % _MICROS)
    except (OverflowError, OSError, ValueError):
        return None


def _gaia(obj: object) -> str | None:
    return str_at(obj, "gaia_id") or str_at(obj, "chat_id")


def _details(header: dict[str, Any]) -> dict[str, Any]:
    """The conversation's own object: nested one level deeper in the newer layout."""
    inner = dict_at(header, "conversation")
    return inner if inner else header


def read_hangouts(fh: IO[bytes], where: str) -> Iterator[Record]:
    """Every conversation of a Hangouts.json stream. ijson errors propagate to the caller."""
    conv = _Conversation()
    builder: ijson.ObjectBuilder | None = None
    depth = 0
    building = ""
    for prefix, event, value in json_events(fh):
        if builder is not None:
            builder.event(event, value)
            depth += 1 if event in _STARTS else -1 if event in _ENDS else 0
            if depth == 0:
                obj, builder = builder.value, None
                if building == "header":
                    yield from _header(conv, obj)
                    for pending in conv.pending:
                        yield from _event(conv, pending, where)
                    conv.pending.clear()
                elif conv.ready:
                    yield from _event(conv, obj, where)
                else:
                    conv.pending.append(obj)
            continue
        if event == "start_map" and (prefix in _HEADERS or prefix in _EVENTS):
            building = "header" if prefix in _HEADERS else "event"
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1
        elif event == "end_map" and prefix in _CONVERSATIONS:
            if not conv.ready and conv.pending:
                yield from _header(conv, {})  # no header at all: key from the events
                for pending in conv.pending:
                    yield from _event(conv, pending, where)
            conv = _Conversation()


def _header(conv: _Conversation, header: Any) -> Iterator[Record]:
    header = header if isinstance(header, dict) else {}
    details = _details(header)
    conv.key = (
        str_at(dict_at(details, "id"), "id")
        or str_at(dict_at(header, "conversation_id"), "id")
        or next((str_at(dict_at(e, "conversation_id"), "id") for e in conv.pending), None)
    )
    for p in list_at(details, "participant_data"):
        gaia = _gaia(dict_at(p, "id"))
        name = str_at(p, "fallback_name")
        if gaia and name and name.strip():
            conv.names[gaia] = name.strip()
    conv.self_id = _gaia(
        dict_at(dict_at(dict_at(details, "self_conversation_state"), "self_read_state"), "participant_id")
    )
    conv.ready = True
    if conv.key is None:
        return
    kind = _KINDS.get(str_at(details, "type") or "", UNKNOWN)
    others = [name for gaia, name in conv.names.items() if gaia != conv.self_id]
    title = (str_at(details, "name") or "").strip() or ", ".join(others) or conv.key
    yield Chat(
        source=SOURCE,
        key=conv.key,
        title=title,
        kind=kind,
        participants=tuple(conv.names.values()),
        extra={"type": str_at(details, "type")} if str_at(details, "type") else {},
    )


def _event(conv: _Conversation, ev: Any, where: str) -> Iterator[Record]:
    conv.count += 1
    if conv.key is None:
        yield Problem(where, None, f"event {conv.count} of a conversation without an id skipped")
        return
    if not isinstance(ev, dict):
        yield Problem(where, None, f"conversation event {conv.count} is not an object; skipped")
        return
    ts = hangouts_time(ev.get("timestamp"))
    if ts is None:
        yield Problem(where, None, f"conversation event {conv.count} has no readable timestamp; skipped")
        return
    if conv.self_id is None:
        conv.self_id = _gaia(dict_at(dict_at(ev, "self_event_state"), "user_id"))
    sender_id = _gaia(dict_at(ev, "sender_id"))
    sender = conv.names.get(sender_id) if sender_id else None
    from_me = None if conv.self_id is None or sender_id is None else sender_id == conv.self_id
    event_id = str_at(ev, "event_id")
    event_type = str_at(ev, "event_type") or ""
    chat_message = dict_at(ev, "chat_message")
    if event_type in _MESSAGE_EVENTS or (chat_message and not event_type):
        yield _message(conv, chat_message, ts, sender, sender_id, from_me, event_id, event_type)
        return
    actor = sender or sender_id
    if event_type == "HANGOUT_EVENT":
        yield _call(conv.key, dict_at(ev, "hangout_event"), ts, actor, event_id)
    elif event_type in ("ADD_USER", "REMOVE_USER"):
        change = dict_at(ev, "membership_change")
        ids = [g for g in (_gaia(p) for p in list_at(change, "participant_id")) if g]
        names = ", ".join(conv.names.get(g, g) for g in ids) or "someone"
        joined = event_type == "ADD_USER" or str_at(change, "type") == "JOIN"
        if joined:
            text = f"{actor} added {names}" if actor and ids != [sender_id] else f"{names} joined"
        else:
            text = f"{names} left" if not actor or ids == [sender_id] else f"{actor} removed {names}"
        yield Event(
            chat=conv.key,
            ts=ts,
            text=text,
            kind=EV_JOIN if joined else EV_LEAVE,
            actor=actor,
            source_id=event_id,
            extra={"participants": ids},
        )
    elif event_type == "RENAME_CONVERSATION":
        rename = dict_at(ev, "conversation_rename")
        new, old = str_at(rename, "new_name") or "", str_at(rename, "old_name") or ""
        yield Event(
            chat=conv.key,
            ts=ts,
            text=f"{actor or 'someone'} renamed the conversation to {new}"
            if new
            else "the conversation name was removed",
            kind=EV_TITLE,
            actor=actor,
            source_id=event_id,
            extra={"old_name": old, "new_name": new},
        )
    else:  # OTR_MODIFICATION, GROUP_LINK_SHARING_MODIFICATION, ... : shown as what they are
        label = event_type.lower().replace("_", " ") or "event"
        yield Event(
            chat=conv.key,
            ts=ts,
            text=label,
            kind=EV_SYSTEM,
            actor=actor,
            source_id=event_id,
            extra={"event_type": event_type},
        )


def _call(key: str, hangout: dict[str, Any], ts: datetime, actor: str | None, event_id: str | None) -> Event:
    what = str_at(hangout, "event_type") or ""
    media = str_at(hangout, "media_type") or ""
    label = "voice call" if media == "AUDIO_ONLY" else "video call" if media == "AUDIO_VIDEO" else "call"
    raw = hangout.get("hangout_duration_secs")
    duration = int(raw) if isinstance(raw, str) and raw.isdigit() else int(raw) if isinstance(raw, int) else None
    extra: dict[str, Any] = {"hangout_event": what}
    if media:
        extra["media_type"] = media
    if duration is not None:
        extra["duration_s"] = duration
    if what == "START_HANGOUT":
        text = f"{label} started"
    elif what == "END_HANGOUT":
        text = f"{label} ended" + (f" after {duration} s" if duration is not None else "")
    else:
        text = label
    return Event(chat=key, ts=ts, text=text, kind=EV_CALL, actor=actor, source_id=event_id, extra=extra)


def _message(
    conv: _Conversation,
    chat_message: dict[str, Any],
    ts: datetime,
    sender: str | None,
    sender_id: str | None,
    from_me: bool | None,
    event_id: str | None,
    event_type: str,
) -> Message:
    content = dict_at(chat_message, "message_content")
    parts: list[str] = []
    for seg in list_at(content, "segment"):
        seg_type = str_at(seg, "type")
        text = str_at(seg, "text")
        if seg_type == "LINE_BREAK":
            parts.append(text or "\n")
        elif seg_type == "LINK":
            parts.append(text or str_at(dict_at(seg, "link_data"), "link_target") or "")
        elif text:
            parts.append(text)
    attachments: list[Attachment] = []
    place = False
    for att in list_at(content, "attachment"):
        embed = dict_at(att, "embed_item")
        photo = dict_at(embed, "plus_photo")
        if photo:
            url = str_at(photo, "original_content_url") or str_at(photo, "url") or ""
            media = (str_at(photo, "media_type") or "").upper()
            att_kind: MessageKind = VIDEO if "VIDEO" in media else GIF if "ANIMATED" in media else IMAGE
            name = PurePosixPath(urlsplit(url).path).name or "photo"
            attachments.append(Attachment(name=name, kind=att_kind, open=None))  # photos live in Google Photos
        elif dict_at(embed, "place_v2"):
            place = True
            p = dict_at(embed, "place_v2")
            label = str_at(p, "name") or str_at(p, "url")
            if label and label not in parts:
                parts.append(("\n" if parts else "") + label)
    text = "".join(parts)
    kind = attachments[0].kind if attachments else LOCATION if place else TEXT if text else OTHER
    extra = {"event_type": event_type} if event_type and event_type != "REGULAR_CHAT_MESSAGE" else {}
    assert conv.key is not None
    return Message(
        chat=conv.key,
        ts=ts,
        sender=sender,
        sender_id=sender_id,
        from_me=from_me,
        text=text,
        kind=kind,
        source_id=event_id,
        attachments=tuple(attachments),
        extra=extra,
    )
