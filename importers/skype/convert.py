"""One Skype `MessageList` entry → a Message or an Event (kinds, calls, member activity, edits, quotes)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from importers.skype.archive import Media
from importers.skype.content import EDIT_PREFIX, Content, UriObject, call_duration, read_content
from importers.tree import str_at
from vault.records import (
    AUDIO,
    CONTACT,
    DELETED,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
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

# messagetype → the kind of message it is (Skyperious live.py, siwen-r docs/skype.md, mini-me type.ts).
MESSAGE_KINDS: dict[str, MessageKind] = {
    "Text": TEXT,
    "RichText": TEXT,
    "RichText/UriObject": IMAGE,
    "RichText/Media_Album": IMAGE,
    "RichText/Media_Video": VIDEO,
    "RichText/Media_CallRecording": VIDEO,
    "RichText/Media_AudioMsg": AUDIO,
    "RichText/Media_GenericFile": FILE,
    "RichText/Media_FlikMsg": STICKER,  # "Mojis": short clips sent like stickers
    "RichText/Media_Card": OTHER,
    "RichText/Contacts": CONTACT,
    "RichText/Location": LOCATION,
    "RichText/ScheduledCallInvite": OTHER,
    "Poll": POLL,
    "EndToEndEncryption/EncryptedText": OTHER,  # private conversations: the export holds no text
}
# messagetype → event kind; any other "ThreadActivity/…" is EV_SYSTEM.
EVENT_KINDS: dict[str, EventKind] = {
    "Event/Call": EV_CALL,
    "ThreadActivity/AddMember": EV_JOIN,
    "ThreadActivity/DeleteMember": EV_LEAVE,
    "ThreadActivity/TopicUpdate": EV_TITLE,
    "ThreadActivity/E2EEHandshakeInvite": EV_ENCRYPTION,
    "ThreadActivity/E2EEHandshakeAccept": EV_ENCRYPTION,
    "ThreadActivity/E2EEHandshakeComplete": EV_ENCRYPTION,
}
SYSTEM_TYPES = frozenset({"Notice", "PopCard", "InviteFreeRelationshipChanged/Initialized", "Event/BingBot"})
# Skype's reaction keys and the emoji they show (the common ones; others are kept as :key:).
REACTION_EMOJI = {
    "like": "👍",
    "heart": "❤️",
    "laugh": "😆",
    "surprised": "😮",
    "sad": "😢",
    "angry": "😠",
    "yes": "👍",
    "no": "👎",
}
# An id's numeric type prefix: 8: Skype user, 28: bot, 19: thread, 48: Skype's own lists.
_CONTACTS_URL = "/contacts/"


class Skip(Exception):
    """The entry is a blank server-side placeholder or a superseded version: not a record."""


def strip_prefix(identity: str) -> str:
    """'8:live:x' → 'live:x' (Skype's type prefix off); URLs of the old API → their contact id."""
    if _CONTACTS_URL in identity:
        identity = identity.rsplit(_CONTACTS_URL, 1)[1]
    head, sep, rest = identity.partition(":")
    return rest if sep and head.isdigit() else identity


# originalarrivaltime as Skype writes it: "2020-07-06T17:20:30.609Z".
_ISO_Z = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def arrival_time(value: Any) -> datetime:
    """`originalarrivaltime` as an aware UTC instant (other ISO forms with an offset accepted)."""
    if not isinstance(value, str) or not value:
        raise ValueError("no time")
    text = value.strip()
    m = _ISO_Z.fullmatch(text)
    if m is not None:
        y, mo, d, h, mi, sec, frac = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        return datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), micro, tzinfo=timezone.utc)
    ts = datetime.fromisoformat(text)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def ms_time(value: Any) -> datetime | None:
    """An epoch-milliseconds value (string or number) as a UTC instant, None if it is not one."""
    try:
        ms = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    try:
        return datetime.fromtimestamp(ms / 1000, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


@dataclass
class ChatState:
    """Per conversation: what later entries need from earlier ones."""

    key: str
    owner: str | None
    media: Media
    #: (author, original ms) of edited versions already imported: their older copies are skipped.
    edited_originals: set[tuple[str, int]] = field(default_factory=set)
    skipped_versions: int = 0
    #: Display names by id (without prefix) as messages showed them; shared by all conversations.
    names: dict[str, str] = field(default_factory=dict)

    def name(self, identity: str) -> str:
        bare = strip_prefix(identity)
        return self.names.get(bare, bare)


def _properties(msg: dict[str, Any]) -> dict[str, Any]:
    props = msg.get("properties")
    return props if isinstance(props, dict) else {}


def _reactions(props: dict[str, Any], st: ChatState) -> tuple[Reaction, ...]:
    raw = props.get("emotions")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            return ()
    if not isinstance(raw, list):
        return ()
    out: list[Reaction] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        key = item["key"]
        emoji = REACTION_EMOJI.get(key, f":{key}:")
        users = item.get("users")
        for user in users if isinstance(users, list) else []:
            if not isinstance(user, dict):
                continue
            mri = user.get("mri")
            out.append(
                Reaction(
                    emoji=emoji,
                    sender=st.name(mri) if isinstance(mri, str) else None,
                    ts=ms_time(user.get("time")),
                )
            )
    return tuple(out)


def _attachment(obj: UriObject, kind: MessageKind, media: Media) -> Attachment:
    doc = obj.doc_id or (obj.uri.rstrip("/").rsplit("/", 1)[-1] if obj.uri else None)
    opener = media.content.get(doc) if doc else None
    meta_name, mime = media.described(doc) if doc and opener is not None else (None, None)
    name = obj.name or meta_name or (media.names.get(doc) if doc else None) or kind
    return Attachment(
        name=name,
        kind=kind,
        mime=mime,
        size=media.sizes.get(doc) if opener is not None and doc else obj.size,
        open=opener,
    )


def _amsreference_attachments(msg: dict[str, Any], kind: MessageKind, media: Media, seen: set[str]) -> list[Attachment]:
    refs = msg.get("amsreferences")
    out = []
    for ref in refs if isinstance(refs, list) else []:
        if isinstance(ref, str) and ref and ref not in seen:
            seen.add(ref)
            out.append(_attachment(UriObject(doc_id=ref), kind, media))
    return out


def convert(msg: dict[str, Any], st: ChatState) -> Message | Event:
    """The record for one MessageList entry; raises Skip for entries that are not one."""
    ts = arrival_time(msg.get("originalarrivaltime"))
    source_id = str(msg["id"]) if msg.get("id") not in (None, "") else None
    mtype = str_at(msg, "messagetype") or ""
    raw_from = str_at(msg, "from") or ""
    author = strip_prefix(raw_from) if raw_from else None
    display = str_at(msg, "displayName")
    display = (display or "").strip() or None
    if author and display:
        st.names[author] = display
    sender = display or (st.name(author) if author else None)
    props = _properties(msg)
    markup = str_at(msg, "content") or ""
    if markup.startswith(EDIT_PREFIX):
        markup = markup[len(EDIT_PREFIX) :]
    content = read_content(markup)
    generated = props.get("isserversidegenerated") in (True, "true", "True")
    extra: dict[str, Any] = {"messagetype": mtype} if mtype else {}

    if mtype in EVENT_KINDS or mtype.startswith("ThreadActivity/") or mtype in SYSTEM_TYPES:
        return _event(st, mtype, content, ts, source_id, sender, extra)

    deleted = ms_time(props.get("deletetime")) if props.get("deletetime") not in (None, "") else None
    edited = ms_time(props.get("edittime")) if props.get("edittime") not in (None, "") else None
    if content.edit_mark is not None:
        # "new text<e_m ts_ms=ORIGINAL …/>": this is the edited version of the message first
        # sent at ts_ms (Skyperious live.py); an entry with the mark and nothing else was deleted.
        edited = edited or ts
        original = ms_time(content.edit_mark.get("ts_ms"))
        if author and original is not None:
            st.edited_originals.add((author, int(original.timestamp() * 1000)))
            ts = min(ts, original)
        if not content.text and not content.objects:
            deleted = deleted or ts
    elif author and (author, int(ts.timestamp() * 1000)) in st.edited_originals:
        st.skipped_versions += 1
        raise Skip  # the older version of an edited message already imported
    if generated and not markup.strip() and deleted is None and edited is None:
        raise Skip

    kind = MESSAGE_KINDS.get(mtype, OTHER if mtype else TEXT)
    attachments: list[Attachment] = []
    if kind in (IMAGE, VIDEO, AUDIO, FILE, STICKER) or content.objects:
        seen: set[str] = set()
        for obj in content.objects:
            att_kind = _object_kind(obj, kind)
            attachments.append(_attachment(obj, att_kind, st.media))
            if obj.doc_id:
                seen.add(obj.doc_id)
            elif obj.uri:
                seen.add(obj.uri.rstrip("/").rsplit("/", 1)[-1])
        attachments += _amsreference_attachments(msg, kind if kind != TEXT else FILE, st.media, seen)
    text = content.text
    if attachments and content.objects:
        text = ""  # the object's text is Skype's "To view this file, go to: …" boilerplate
    if mtype == "EndToEndEncryption/EncryptedText":
        text, extra["encrypted"] = "", True
    reply_to = None
    if content.quote is not None:
        q = content.quote
        same_chat = q.conversation in (None, "", st.key)
        if q.message_id and same_chat:
            reply_to = q.message_id
        else:
            extra["quote"] = {
                k: v
                for k, v in (
                    ("author", q.author_name or (strip_prefix(q.author) if q.author else None)),
                    ("timestamp", q.timestamp),
                    ("text", q.text),
                )
                if v
            }
    if deleted is not None:
        kind, text, attachments, reply_to = DELETED, "", [], None
        extra.pop("quote", None)
        extra["deleted"] = deleted.isoformat()
    return Message(
        chat=st.key,
        ts=ts,
        sender=sender,
        text=text,
        kind=kind,
        source_id=source_id,
        sender_id=raw_from or None,
        from_me=(author == st.owner) if author and st.owner else None,
        reply_to=reply_to,
        edited=edited if deleted is None else None,
        attachments=tuple(attachments),
        reactions=_reactions(props, st),
        extra=extra,
    )


def _object_kind(obj: UriObject, kind: MessageKind) -> MessageKind:
    t = (obj.type or "").lower()
    if t.startswith(("picture", "image")):
        return IMAGE
    if t.startswith("video"):
        return VIDEO
    if t.startswith("audio"):
        return AUDIO
    if t.startswith("file"):
        return FILE
    return kind if kind != TEXT else FILE


def _names(ids: list[str], st: ChatState) -> str:
    return ", ".join(st.name(i) for i in ids if i)


def _event(
    st: ChatState,
    mtype: str,
    content: Content,
    ts: datetime,
    source_id: str | None,
    sender: str | None,
    extra: dict[str, Any],
) -> Event:
    kind = EVENT_KINDS.get(mtype, EV_SYSTEM)
    act = content.activity
    initiator = _names(act.get("initiator", []), st) or None
    actor = initiator or sender
    if kind == EV_CALL:
        duration = call_duration(content.call_parts)
        state = content.call_type or "call"
        if duration is not None:
            extra["duration_s"] = duration
        if content.call_id:
            extra["call_id"] = content.call_id
        if content.call_type:
            extra["call_type"] = content.call_type
        people = [p.name or st.name(p.identity or "") for p in content.call_parts]
        if people:
            extra["participants"] = [p for p in people if p]
        text = f"Call {state}" + (f" ({_clock(duration)})" if duration is not None else "")
    elif kind in (EV_JOIN, EV_LEAVE):
        targets = _names(act.get("target", []), st)
        verb = "added" if kind == EV_JOIN else "removed"
        if kind == EV_LEAVE and targets and targets == initiator:
            text = f"{targets} left"
        else:
            text = f"{actor or 'Someone'} {verb} {targets or 'someone'}"
        if targets:
            extra["targets"] = targets
    elif kind == EV_TITLE:
        value = " ".join(act.get("value", []))
        text = f"{actor or 'Someone'} changed the topic to {value}"
        extra["topic"] = value
    else:
        text = content.text or mtype.replace("ThreadActivity/", "").replace("/", " ")
    return Event(chat=st.key, ts=ts, text=text, kind=kind, actor=actor, source_id=source_id, extra=extra)


def _clock(seconds: float) -> str:
    s = round(seconds)
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"
