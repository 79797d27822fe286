"""Matrix events → records: messages by msgtype, state and call events, and what relations change.

Event types and fields follow the Matrix client-server spec (v1.x: m.room.message msgtypes,
m.room.member memberships, m.relates_to with m.in_reply_to / rel_type m.replace, m.thread and
m.annotation, m.room.redaction `redacts`, m.call.*). An entry Element exported from an encrypted
room may be `{"decrypted": {...}, "encrypted": {...}}`; the relation then sits in the encrypted
event's cleartext content.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from importers.matrix.export import Export, as_dict
from importers.tree import str_at
from vault.records import (
    AUDIO,
    DELETED,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    IMAGE,
    LOCATION,
    OTHER,
    POLL,
    STICKER,
    TEXT,
    VIDEO,
    Attachment,
    Event,
    EventKind,
    Message,
    MessageKind,
    Reaction,
)

MESSAGE = "m.room.message"
STICKER_EVENT = "m.sticker"
REACTION = "m.reaction"
REDACTION = "m.room.redaction"
ENCRYPTED = "m.room.encrypted"
MEMBER = "m.room.member"
REPLACE = "m.replace"
THREAD = "m.thread"
ANNOTATION = "m.annotation"
POLL_START = ("m.poll.start", "org.matrix.msc3381.poll.start")
POLL_RESPONSE = ("m.poll.response", "org.matrix.msc3381.poll.response")
POLL_END = ("m.poll.end", "org.matrix.msc3381.poll.end")
# msgtype → kind, and the folder Element saves that kind's file in (Exporter.ts getFilePath).
MSGTYPES: dict[str, MessageKind] = {
    "m.text": TEXT,
    "m.notice": TEXT,
    "m.emote": TEXT,
    "m.image": IMAGE,
    "m.video": VIDEO,
    "m.audio": AUDIO,
    "m.file": FILE,
    "m.location": LOCATION,
}
MEDIA_FOLDER = {IMAGE: "images", VIDEO: "videos", AUDIO: "audio", FILE: "files", STICKER: "stickers"}
# m.room.* state events and the event kind they are; other state events are EV_SYSTEM.
STATE_KINDS: dict[str, EventKind] = {
    "m.room.name": EV_TITLE,
    "m.room.encryption": EV_ENCRYPTION,
    "m.room.pinned_events": EV_PIN,
}
CALL_PREFIXES = ("m.call.", "org.matrix.msc3401.call", "org.matrix.msc4075.")
CALL_VERBS = {
    "m.call.invite": "started a call",
    "m.call.answer": "answered the call",
    "m.call.hangup": "ended the call",
    "m.call.reject": "declined the call",
}
# Call signalling that says nothing a person would look for.
CALL_NOISE = frozenset(
    {"m.call.candidates", "m.call.negotiate", "m.call.select_answer", "m.call.sdp_stream_metadata_changed"}
)


def ms_time(value: Any) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("no origin_server_ts")
    return datetime.fromtimestamp(int(value) / 1000, timezone.utc)


def clear_event(raw: Any) -> dict[str, Any] | None:
    """The event as the person saw it: the decrypted form when Element wrote both forms."""
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("decrypted"), dict):
        ev = dict(raw["encrypted"]) if isinstance(raw.get("encrypted"), dict) else {}
        ev.update(raw["decrypted"])
        content = dict(as_dict(ev.get("content")))
        relation = as_dict(as_dict(as_dict(raw.get("encrypted")).get("content")).get("m.relates_to"))
        if relation and "m.relates_to" not in content:
            content["m.relates_to"] = relation
        ev["content"] = content
        return ev
    return raw


def relation(ev: dict[str, Any]) -> dict[str, Any]:
    return as_dict(as_dict(ev.get("content")).get("m.relates_to"))


def redacts(ev: dict[str, Any]) -> str | None:
    """The event a redaction removes (top level before room version 11, in content after)."""
    target = ev.get("redacts") or as_dict(ev.get("content")).get("redacts")
    return target if isinstance(target, str) else None


def is_redacted(ev: dict[str, Any]) -> bool:
    return bool(as_dict(ev.get("unsigned")).get("redacted_because"))


@dataclass
class Edit:
    ts: datetime
    content: dict[str, Any]
    sender: str | None


@dataclass
class Room:
    """What the first pass learnt, and what the second keeps as it goes."""

    key: str
    export: Export
    edits: dict[str, Edit] = field(default_factory=dict)  # original event id → latest edit
    reactions: dict[str, list[tuple[str, str, datetime | None, str | None]]] = field(default_factory=dict)
    redacted: dict[str, datetime] = field(default_factory=dict)  # event id → redaction time
    final_names: dict[str, str] = field(default_factory=dict)  # user id → last display name
    members: set[str] = field(default_factory=set)
    names: dict[str, str] = field(default_factory=dict)  # user id → display name so far
    owner: str | None = None
    applied_edits: set[str] = field(default_factory=set)
    call_answered: dict[str, datetime] = field(default_factory=dict)

    def name(self, user: Any) -> str | None:
        if not isinstance(user, str) or not user:
            return None
        return self.names.get(user) or self.final_names.get(user) or user


def learn(room: Room, ev: dict[str, Any]) -> None:
    """First pass: edits, reactions, redactions and names, which later events change."""
    etype = ev.get("type")
    rel = relation(ev)
    content = as_dict(ev.get("content"))
    try:
        ts: datetime | None = ms_time(ev.get("origin_server_ts"))
    except ValueError:
        ts = None
    target = str_at(rel, "event_id")
    if etype == REDACTION:
        gone = redacts(ev)
        if gone and ts is not None:
            room.redacted.setdefault(gone, ts)
    elif etype == REACTION and target and rel.get("rel_type") == ANNOTATION and not is_redacted(ev):
        key = rel.get("key")
        if isinstance(key, str) and isinstance(ev.get("sender"), str):
            eid = str_at(ev, "event_id")
            room.reactions.setdefault(target, []).append((key, ev["sender"], ts, eid))
    elif etype == MESSAGE and target and rel.get("rel_type") == REPLACE and ts is not None:
        new = as_dict(content.get("m.new_content"))
        old = room.edits.get(target)
        if new and (old is None or ts >= old.ts):
            sender = str_at(ev, "sender")
            room.edits[target] = Edit(ts, new, sender)
    elif etype == MEMBER and isinstance(ev.get("state_key"), str):
        user = ev["state_key"]
        if content.get("membership") == "join":
            room.members.add(user)
            name = content.get("displayname")
            if isinstance(name, str) and name.strip():
                room.final_names[user] = name.strip()


def strip_reply_fallback(body: str) -> str:
    """The body without the `> <@user> quoted text` lines a reply starts with (spec: reply fallbacks)."""
    if not body.startswith(">"):
        return body
    lines = body.split("\n")
    i = 0
    while i < len(lines) and lines[i].startswith(">"):
        i += 1
    if i < len(lines) and lines[i] == "":
        i += 1
    return "\n".join(lines[i:])


def _attachment(room: Room, content: dict[str, Any], kind: MessageKind, voice: bool) -> Attachment:
    body = str_at(content, "filename")
    body = body or (str_at(content, "body") or "") or kind
    info = as_dict(content.get("info"))
    mime = str_at(info, "mimetype")
    size = info.get("size") if isinstance(info.get("size"), int) and not isinstance(info.get("size"), bool) else None
    ext = ".png" if kind == STICKER else ".ogg" if voice else None
    # Element names the file after `body` (not `filename`); try it first.
    names = [n for n in (content.get("body"), body) if isinstance(n, str) and n]
    found = None
    for candidate in dict.fromkeys(names):
        found = room.export.find(MEDIA_FOLDER[kind], candidate, ext, size)
        if found is not None:
            break
    if found is None:
        return Attachment(name=body.rsplit("/", 1)[-1], kind=kind, mime=mime, size=size, open=None)
    name, real_size = found
    return Attachment(name=body.rsplit("/", 1)[-1], kind=kind, mime=mime, size=real_size, open=room.export.opener(name))


def _reactions(room: Room, eid: str | None, ev: dict[str, Any]) -> tuple[Reaction, ...]:
    if eid is None:
        return ()
    listed = room.reactions.get(eid)
    if listed:
        return tuple(
            Reaction(emoji=key, sender=room.name(sender), ts=ts)
            for key, sender, ts, reid in listed
            if reid is None or reid not in room.redacted
        )
    # Older servers bundled a count per key instead (unsigned m.relations, no senders).
    chunk = as_dict(as_dict(as_dict(ev.get("unsigned")).get("m.relations")).get(ANNOTATION)).get("chunk")
    out: list[Reaction] = []
    for item in chunk if isinstance(chunk, list) else []:
        item = as_dict(item)
        count = item.get("count")
        if isinstance(item.get("key"), str) and isinstance(count, int) and 0 < count <= 1000:
            out += [Reaction(emoji=item["key"])] * count
    return tuple(out)


def message(room: Room, ev: dict[str, Any], *, source_id: str | None = None) -> Message:
    """An m.room.message / m.sticker / poll start, with its latest edit, reactions and redaction applied."""
    ts = ms_time(ev.get("origin_server_ts"))
    eid = source_id or (str_at(ev, "event_id"))
    sender_id = str_at(ev, "sender")
    content = as_dict(ev.get("content"))
    rel = relation(ev)
    edited = None
    edit = room.edits.get(eid) if eid else None
    if edit is None:
        edit = _bundled_edit(ev)
    if edit is not None and sender_id is not None and edit.sender not in (None, sender_id):
        edit = None  # only the sender may edit a message (spec: event replacements)
    if edit is not None:
        merged = dict(content)
        merged.update(edit.content)
        content, edited = merged, edit.ts
        room.applied_edits.add(eid or "")
    etype = ev.get("type")
    msgtype = str_at(content, "msgtype")
    extra: dict[str, Any] = {}
    kind: MessageKind
    if etype == STICKER_EVENT:
        kind = STICKER
    elif etype in POLL_START:
        kind = POLL
    else:
        kind = MSGTYPES.get(msgtype or "", OTHER if msgtype else TEXT)
    if msgtype and msgtype not in ("m.text",):
        extra["msgtype"] = msgtype
    body = str_at(content, "body") or ""
    reply_to = None
    in_reply = as_dict(rel.get("m.in_reply_to")).get("event_id")
    if rel.get("rel_type") == THREAD and isinstance(rel.get("event_id"), str):
        extra["thread"] = rel["event_id"]
        reply_to = None if rel.get("is_falling_back") else in_reply if isinstance(in_reply, str) else None
        reply_to = reply_to or rel["event_id"]
    elif isinstance(in_reply, str):
        reply_to = in_reply
    if reply_to is not None and not (edit is not None and edit.content):  # m.new_content has no fallback
        body = strip_reply_fallback(body)
    text = body
    attachments: tuple[Attachment, ...] = ()
    if kind in MEDIA_FOLDER:
        voice = "org.matrix.msc3245.voice" in content or "m.voice" in content
        attachments = (_attachment(room, content, kind, voice),)
        caption = content.get("filename") is not None and body != content.get("filename")
        text = body if caption else ""
    elif kind == LOCATION:
        geo = content.get("geo_uri")
        if isinstance(geo, str):
            extra["geo_uri"] = geo
    elif kind == POLL:
        text = _poll_text(content) or body
    if msgtype == "m.emote":
        text = f"* {room.name(sender_id) or ''} {text}".strip()
    deleted_at = room.redacted.get(eid) if eid else None
    if deleted_at is not None or is_redacted(ev) or not content:
        kind, text, attachments, reply_to, edited = DELETED, "", (), None, None
        extra = {}
        if deleted_at is not None:
            extra["deleted"] = deleted_at.isoformat()
    return Message(
        chat=room.key,
        ts=ts,
        sender=room.name(sender_id),
        text=text,
        kind=kind,
        source_id=eid,
        sender_id=sender_id,
        from_me=(sender_id == room.owner) if room.owner and sender_id else None,
        reply_to=reply_to,
        edited=edited,
        attachments=attachments,
        reactions=_reactions(room, eid, ev) if kind != DELETED else (),
        extra=extra,
    )


def _bundled_edit(ev: dict[str, Any]) -> Edit | None:
    """The latest edit as the server bundled it in `unsigned.m.relations.m.replace`.

    Newer servers bundle the whole edit event; older ones only its id, sender and time, and
    Element then exports the original with the edited content already in place.
    """
    bundle = as_dict(as_dict(as_dict(ev.get("unsigned")).get("m.relations")).get(REPLACE))
    ts = bundle.get("origin_server_ts")
    if not bundle or isinstance(ts, bool) or not isinstance(ts, int):
        return None
    new = as_dict(as_dict(bundle.get("content")).get("m.new_content"))
    return Edit(ms_time(ts), new, str_at(bundle, "sender"))


def _poll_text(content: dict[str, Any]) -> str:
    poll = as_dict(content.get("m.poll") or content.get("org.matrix.msc3381.poll.start"))

    def text_of(v: Any) -> str:
        if isinstance(v, str):
            return v
        d = as_dict(v)
        for key in ("m.text", "org.matrix.msc1767.text", "body"):
            if isinstance(d.get(key), str):
                return str(d[key])
            if isinstance(d.get(key), list) and d[key] and isinstance(d[key][0], dict):
                return str(d[key][0].get("body", ""))
        return ""

    question = text_of(poll.get("question"))
    answers = [text_of(a) for a in poll.get("answers", []) if isinstance(poll.get("answers"), list)]
    return "\n".join([question, *(f"- {a}" for a in answers if a)]) if question else ""


def state_event(room: Room, ev: dict[str, Any]) -> Event | None:
    """A member, name, topic, create or other state change, or a call event."""
    ts = ms_time(ev.get("origin_server_ts"))
    etype = str(ev.get("type"))
    eid = str_at(ev, "event_id")
    content = as_dict(ev.get("content"))
    actor = room.name(ev.get("sender"))
    who = actor or "Someone"
    extra: dict[str, Any] = {"type": etype}
    if etype == MEMBER:
        return _member(room, ev, ts, eid, content, who, extra)
    if etype.startswith(CALL_PREFIXES):
        if etype in CALL_NOISE:
            return None
        call_id = str_at(content, "call_id")
        if call_id:
            extra["call_id"] = call_id
        if etype == "m.call.answer" and call_id:
            room.call_answered[call_id] = ts
        if etype == "m.call.hangup" and call_id in room.call_answered:
            extra["duration_s"] = (ts - room.call_answered.pop(call_id or "")).total_seconds()
        if etype == "m.call.invite":
            offer = as_dict(content.get("offer"))
            sdp = str_at(offer, "sdp") or ""
            extra["video"] = "m=video" in sdp
        if isinstance(content.get("reason"), str):
            extra["reason"] = content["reason"]
        if etype.endswith("call.member"):  # group calls (MSC3401): an empty content means gone
            verb = "joined the call" if content else "left the call"
        else:
            verb = CALL_VERBS.get(etype, "call: " + etype.rsplit(".", 1)[-1])
        text = f"{who} {verb}"
        if "duration_s" in extra:
            text += f" ({_clock(extra['duration_s'])})"
        return Event(room.key, ts, text, EV_CALL, actor=actor, source_id=eid, extra=extra)
    if etype == "m.room.name":
        name = str_at(content, "name") or ""
        text = f"{who} changed the room name to {name}" if name else f"{who} removed the room name"
    elif etype == "m.room.topic":
        topic = str_at(content, "topic") or ""
        text = f"{who} changed the topic to {topic}" if topic else f"{who} removed the topic"
    elif etype == "m.room.create":
        text = f"{who} created the room"
        if isinstance(content.get("room_version"), str):
            extra["room_version"] = content["room_version"]
    elif etype == "m.room.encryption":
        text = f"{who} turned on end-to-end encryption"
    elif etype == "m.room.pinned_events":
        text = f"{who} changed the pinned messages"
    elif etype in POLL_END:
        text = f"{who} ended a poll"
    else:
        text = f"{who} changed {etype}"
    return Event(room.key, ts, text, STATE_KINDS.get(etype, EV_SYSTEM), actor=actor, source_id=eid, extra=extra)


def _member(
    room: Room,
    ev: dict[str, Any],
    ts: datetime,
    eid: str | None,
    content: dict[str, Any],
    who: str,
    extra: dict[str, Any],
) -> Event:
    target = str_at(ev, "state_key") or ""
    prev = as_dict(as_dict(ev.get("unsigned")).get("prev_content") or ev.get("prev_content"))
    membership = content.get("membership")
    before = prev.get("membership")
    new_name = str_at(content, "displayname")
    old_name = room.name(target) or target
    if membership == "join" and new_name and new_name.strip():
        room.names[target] = new_name.strip()
    name = room.name(target) or target
    extra["membership"] = membership
    kind: EventKind = EV_SYSTEM
    if membership == "join" and before == "join":
        if new_name and new_name.strip() != (prev.get("displayname") or "").strip():
            text = f"{old_name} changed their display name to {new_name.strip()}"
        else:
            text = f"{name} changed their profile"
    elif membership == "join":
        kind, text = EV_JOIN, f"{name} joined"
    elif membership == "invite":
        text = f"{who} invited {name}"
    elif membership == "leave" and ev.get("sender") == target:
        kind, text = EV_LEAVE, f"{name} left" if before != "invite" else f"{name} rejected the invitation"
    elif membership == "leave" and before == "invite":
        text = f"{who} withdrew {name}'s invitation"
    elif membership == "leave":
        kind, text = EV_LEAVE, f"{who} removed {name}"
    elif membership == "ban":
        kind, text = EV_LEAVE, f"{who} banned {name}"
    else:
        text = f"{name}: {membership}"
    if isinstance(content.get("reason"), str) and content["reason"]:
        extra["reason"] = content["reason"]
    return Event(room.key, ts, text, kind, actor=room.name(ev.get("sender")), source_id=eid, extra=extra)


def _clock(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
