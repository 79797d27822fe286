"""Signal Desktop message JSON → records: shared by the Desktop database and sigtop's JSON export.

Each row of Signal Desktop's `messages` table keeps the message as JSON (the `json` column), and
sigtop's `export-messages -f json` writes exactly those values. The keys read here are those of
Signal-Desktop's `MessageAttributesType` (ts/model-types.d.ts) and of the peers in
formats/whatsapp-telegram-signal-line-kakaotalk.md §3.1: `id, conversationId, type, body,
sent_at, timestamp, received_at_ms, source, sourceUuid | sourceServiceId, attachments,
bodyAttachment, bodyRanges, quote, reactions, sticker, contact, editHistory,
editMessageTimestamp, deletedForEveryone, isViewOnce, isErased, expireTimer, groupV2Change,
group_update, expirationTimerUpdate, callId, callHistoryDetails, profileChange, storyId`.

What the caller supplies (names, files, quote look-ups, call rows) is in `SignalContext`; the
converter itself reads nothing.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from importers.signal.files import LONG_TEXT_MIME
from vault.records import (
    AUDIO,
    CONTACT,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    IMAGE,
    MEDIA,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    Attachment,
    ChatKind,
    Event,
    EventKind,
    Message,
    MessageKind,
    Reaction,
)

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Plausible epoch-millisecond range (Signal did not exist before 2010; nothing after year 3000).
MIN_MS = 1_000_000_000_000  # 2001-09-09
MAX_MS = 32_503_680_000_000  # 3000-01-01
# U+FFFC stands in the body for each @-mention (Signal-Desktop ts/types/BodyRange.ts).
MENTION_PLACEHOLDER = "\ufffc"
# AttachmentPointer.Flags.VOICE_MESSAGE in Signal's protobuf.
VOICE_MESSAGE_FLAG = 1
# Group role value of an administrator (Proto.Member.Role.ADMINISTRATOR).
ROLE_ADMINISTRATOR = 2
# Message types that are a person's message; every other type is a service entry.
PERSON_TYPES = frozenset({"incoming", "outgoing"})
# Service types with a fixed event kind and text (Signal-Desktop MessageAttributesType.type).
SERVICE_TEXT: dict[str, tuple[EventKind, str]] = {
    "group-v1-migration": (EV_SYSTEM, "The group was upgraded to a new group"),
    "chat-session-refreshed": (EV_ENCRYPTION, "Chat session refreshed"),
    "delivery-issue": (EV_SYSTEM, "A message could not be delivered"),
    "change-number-notification": (EV_SYSTEM, "changed their phone number"),
    "universal-timer-notification": (EV_SYSTEM, "Default disappearing-message timer applied"),
    "message-request-response-event": (EV_SYSTEM, "Message request answered"),
    "conversation-merge": (EV_SYSTEM, "Conversations were merged"),
    "phone-number-discovery": (EV_SYSTEM, "Phone number discovered"),
    "title-transition-notification": (EV_SYSTEM, "The chat's name changed"),
    "joined-signal-notification": (EV_JOIN, "joined Signal"),
    "contact-removed-notification": (EV_SYSTEM, "Contact removed"),
}
# Stories are not part of a chat's history (they vanish after 24 hours); they are left out.
STORY_TYPE = "story"
# Remember this many (sent_at → id) pairs per chat to resolve quotes without a database.
QUOTE_MEMORY = 50_000


def text_of(value: object) -> str:
    """A JSON value that should be a string, or "" when it is not."""
    return value if isinstance(value, str) else ""


def ms_value(value: object) -> int | None:
    """An epoch-millisecond value from JSON or a column (int, float, Decimal or digits)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, (float, Decimal)):
        return int(value)
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def ms_to_utc(value: object) -> datetime | None:
    """An aware UTC datetime from epoch milliseconds, or None when absent or implausible."""
    ms = ms_value(value)
    if ms is None or not MIN_MS <= ms <= MAX_MS:
        return None
    return EPOCH + timedelta(milliseconds=ms)


def kind_of_mime(mime: str | None, flags: object = None) -> MessageKind:
    """The record kind of an attachment from its content type (and the voice-note flag)."""
    if isinstance(flags, int) and flags & VOICE_MESSAGE_FLAG:
        return AUDIO
    mime = (mime or "").lower()
    if mime == "image/gif":
        return GIF
    if mime.startswith("image/"):
        return IMAGE
    if mime.startswith("video/"):
        return VIDEO
    if mime.startswith("audio/"):
        return AUDIO
    return FILE


def insert_mentions(body: str, ranges: object, name_of: Callable[[object], str | None]) -> str:
    """Replace each mention placeholder with `@Name`.

    `bodyRanges` count in UTF-16 code units (JavaScript string indices), so the body is
    edited as UTF-16. Ranges that do not fit the body are left alone.
    """
    if not isinstance(ranges, list) or MENTION_PLACEHOLDER not in body:
        return body
    mentions = []
    for r in ranges:
        if not isinstance(r, Mapping):
            continue
        who = r.get("mentionAci") or r.get("mentionUuid") or r.get("mentionId")
        start, length = r.get("start"), r.get("length")
        if who and isinstance(start, int) and isinstance(length, int) and start >= 0 < length:
            mentions.append((start, length, who))
    units = body.encode("utf-16-le")
    for start, length, who in sorted(mentions, reverse=True):
        if 2 * (start + length) > len(units):
            continue
        name = "@" + (name_of(who) or "someone")
        units = units[: 2 * start] + name.encode("utf-16-le") + units[2 * (start + length) :]
    return units.decode("utf-16-le", errors="replace")


def plain_attachment(att: Mapping[str, Any], view_once: bool) -> Attachment:
    """An attachment known only by its metadata (no file to read)."""
    mime = att.get("contentType") if isinstance(att.get("contentType"), str) else None
    size = att.get("size") if isinstance(att.get("size"), int) else None
    name = att.get("fileName") if isinstance(att.get("fileName"), str) else None
    return Attachment(name=name or "attachment", kind=kind_of_mime(mime, att.get("flags")), mime=mime, size=size)


class QuoteMemory:
    """Resolves a quote (the quoted message's sent_at) to a message id seen earlier in the chat.

    Bounded: only the most recent QUOTE_MEMORY messages are remembered.
    """

    def __init__(self) -> None:
        self._seen: OrderedDict[int, str] = OrderedDict()

    def remember(self, sent_at: int | None, msg_id: str | None) -> None:
        if sent_at is None or not msg_id:
            return
        self._seen[sent_at] = msg_id
        self._seen.move_to_end(sent_at)
        if len(self._seen) > QUOTE_MEMORY:
            self._seen.popitem(last=False)

    def find(self, sent_at: int, author: str | None) -> str | None:
        return self._seen.get(sent_at)


@dataclass
class SignalStats:
    """What the person should be told after the import (counts only, never content)."""

    disappearing: int = 0
    disappearing_skipped: int = 0
    view_once: int = 0
    stories: int = 0
    long_text_truncated: int = 0
    damaged_attachments: int = 0


@dataclass
class SignalContext:
    """What the converter needs to know about one conversation and its surroundings."""

    chat: str
    kind: ChatKind
    own_name: str
    name_of: Callable[[object], str | None]
    own_ids: frozenset[str] = frozenset()
    own_id: str | None = None
    peer_name: str | None = None
    make_attachment: Callable[[Mapping[str, Any], bool], Attachment] = plain_attachment
    long_text: Callable[[Mapping[str, Any]], str | None] = lambda att: None
    find_quoted: Callable[[int, str | None], str | None] | None = None
    call_row: Callable[[object], Mapping[str, Any] | None] = lambda call_id: None
    skip_disappearing: bool = False
    stats: SignalStats = field(default_factory=SignalStats)


class SignalConverter:
    """Turns one Signal message JSON object into a Message or an Event (or None to skip)."""

    def __init__(self, ctx: SignalContext) -> None:
        self.ctx = ctx
        self._quotes = QuoteMemory() if ctx.find_quoted is None else None

    # -- names ---------------------------------------------------------------------------------
    def _is_me(self, ident: object) -> bool:
        return isinstance(ident, str) and ident.lower() in self.ctx.own_ids

    def name(self, ident: object) -> str | None:
        """A display name for a service id, phone number or conversation id."""
        if ident is None or ident == "":
            return None
        if self._is_me(ident) or ident == "You":
            return self.ctx.own_name
        return self.ctx.name_of(ident)

    def _who(self, ident: object, fallback: str = "Someone") -> str:
        name = self.name(ident)
        if name:
            return name
        return ident if isinstance(ident, str) and ident else fallback

    # -- entry point ---------------------------------------------------------------------------
    def convert(self, msg: Mapping[str, Any], line: int | None = None) -> Message | Event | None:
        """Raises ValueError (no content in the text) when the record cannot be read."""
        mtype = msg.get("type")
        if mtype == STORY_TYPE or msg.get("isStory"):
            self.ctx.stats.stories += 1
            return None
        ts = (
            ms_to_utc(msg.get("sent_at"))
            or ms_to_utc(msg.get("timestamp"))
            or ms_to_utc(msg.get("received_at_ms"))
            or ms_to_utc(msg.get("serverTimestamp"))
        )
        if ts is None:
            raise ValueError("message without a usable time")
        msg_id = msg.get("id")
        source_id = str(msg_id) if isinstance(msg_id, (str, int)) and msg_id != "" else None
        if self._quotes is not None:
            self._quotes.remember(ms_value(msg.get("sent_at")), source_id)
        if mtype in PERSON_TYPES:
            return self._message(msg, mtype == "outgoing", ts, source_id, line)
        return self._event(msg, mtype if isinstance(mtype, str) else "", ts, source_id, line)

    # -- a person's message --------------------------------------------------------------------
    def _message(
        self,
        msg: Mapping[str, Any],
        outgoing: bool,
        ts: datetime,
        source_id: str | None,
        line: int | None,
    ) -> Message | None:
        ctx = self.ctx
        extra: dict[str, Any] = {}
        sender_id = msg.get("sourceServiceId") or msg.get("sourceUuid") or msg.get("source")
        sender_id = sender_id if isinstance(sender_id, str) and sender_id else None
        if outgoing:
            sender: str | None = ctx.own_name
        else:
            sender = self.name(sender_id) or (ctx.peer_name if ctx.kind == DIRECT else None)
            sender = sender or sender_id
        expire = msg.get("expireTimer")
        if isinstance(expire, (int, Decimal)) and expire > 0:
            if ctx.skip_disappearing:
                ctx.stats.disappearing_skipped += 1
                return None
            ctx.stats.disappearing += 1
            extra["expire_timer_s"] = int(expire)
        view_once = bool(msg.get("isViewOnce"))
        if view_once:
            ctx.stats.view_once += 1
            extra["view_once"] = True
            if msg.get("isErased"):
                extra["erased"] = True

        body = text_of(msg.get("body"))
        raw_atts = [a for a in (msg.get("attachments") or []) if isinstance(a, Mapping)]
        body_att = msg.get("bodyAttachment")
        long_atts = [a for a in raw_atts if a.get("contentType") == LONG_TEXT_MIME]
        if isinstance(body_att, Mapping):
            long_atts.insert(0, body_att)
        raw_atts = [a for a in raw_atts if a.get("contentType") != LONG_TEXT_MIME]
        if long_atts:
            full = ctx.long_text(long_atts[0])
            if full is not None:
                body = full
            else:
                ctx.stats.long_text_truncated += 1
                extra["text_truncated"] = True
        text = insert_mentions(body, msg.get("bodyRanges"), self.name)
        attachments = tuple(ctx.make_attachment(a, view_once) for a in raw_atts)

        kind: MessageKind = TEXT
        if msg.get("deletedForEveryone"):
            kind, text, attachments = DELETED, "", ()
        elif isinstance(msg.get("sticker"), Mapping):
            kind, text, attachments = self._sticker(msg["sticker"], text, attachments)
        elif isinstance(msg.get("contact"), list) and msg["contact"]:
            kind = CONTACT
            if not text:
                text = ", ".join(_contact_names(msg["contact"]))
        elif attachments:
            kind = attachments[0].kind
        elif view_once:
            kind = MEDIA
        elif not text and (msg.get("payment") or msg.get("giftBadge")):
            kind = OTHER
        if msg.get("storyId"):
            extra["story_reply"] = True

        edited = None
        history = msg.get("editHistory")
        if isinstance(history, list) and len(history) > 1:
            versions = []
            for version in history:
                if isinstance(version, Mapping):
                    when = ms_to_utc(version.get("timestamp"))
                    vbody = text_of(version.get("body"))
                    versions.append({"ts": when.isoformat() if when else None, "text": vbody})
            extra["edit_history"] = list(reversed(versions))  # oldest first
            edited = ms_to_utc(msg.get("editMessageTimestamp")) or ms_to_utc(
                history[0].get("timestamp") if isinstance(history[0], Mapping) else None
            )
            if edited is not None and edited <= ts:
                edited = None

        reply_to = None
        quote = msg.get("quote")
        if isinstance(quote, Mapping):
            reply_to, extra["quote"] = self._quote(quote)

        reactions = tuple(self._reactions(msg.get("reactions")))
        return Message(
            chat=ctx.chat,
            ts=ts,
            sender=sender,
            text=text,
            kind=kind,
            source_id=source_id,
            sender_id=ctx.own_id if outgoing else sender_id,
            from_me=outgoing,
            reply_to=reply_to,
            edited=edited,
            attachments=attachments,
            reactions=reactions,
            line=line,
            extra=extra,
        )

    def _sticker(
        self, sticker: Mapping[str, Any], text: str, attachments: tuple[Attachment, ...]
    ) -> tuple[MessageKind, str, tuple[Attachment, ...]]:
        emoji = text_of(sticker.get("emoji"))
        data = sticker.get("data")
        if isinstance(data, Mapping):
            emoji = emoji or text_of(data.get("emoji"))
            att = dict(data)
            att.setdefault("contentType", "image/webp")
            att["fileName"] = f"sticker-{sticker.get('packId', '')}-{sticker.get('stickerId', '')}"
            att["_sticker"] = True
            made = self.ctx.make_attachment(att, False)
            attachments = (
                Attachment(made.name, STICKER, made.mime, made.size, made.open),
                *attachments,
            )
        return STICKER, text or emoji, attachments

    def _quote(self, quote: Mapping[str, Any]) -> tuple[str | None, dict[str, Any]]:
        author = quote.get("authorAci") or quote.get("authorUuid") or quote.get("author")
        qid = ms_value(quote.get("id"))
        info: dict[str, Any] = {}
        when = ms_to_utc(qid)
        if when is not None:
            info["sent_at"] = when.isoformat()
        if author:
            info["author"] = self._who(author)
        if isinstance(quote.get("text"), str):
            info["text"] = insert_mentions(quote["text"], quote.get("bodyRanges"), self.name)
        if quote.get("referencedMessageNotFound"):
            info["not_found"] = True
        reply_to = None
        if qid is not None:
            author_s = author if isinstance(author, str) else None
            if self.ctx.find_quoted is not None:
                reply_to = self.ctx.find_quoted(qid, author_s)
            elif self._quotes is not None:
                reply_to = self._quotes.find(qid, author_s)
        return reply_to, info

    def _reactions(self, reactions: object) -> list[Reaction]:
        out = []
        for r in reactions if isinstance(reactions, list) else []:
            if not isinstance(r, Mapping) or not isinstance(r.get("emoji"), str):
                continue
            if not r["emoji"]:
                continue
            out.append(Reaction(r["emoji"], self.name(r.get("fromId")), ms_to_utc(r.get("timestamp"))))
        return out

    # -- service entries -----------------------------------------------------------------------
    def _event(
        self,
        msg: Mapping[str, Any],
        mtype: str,
        ts: datetime,
        source_id: str | None,
        line: int | None,
    ) -> Event:
        ctx = self.ctx
        actor_id = msg.get("sourceServiceId") or msg.get("sourceUuid") or msg.get("source")
        actor = self.name(actor_id)
        extra: dict[str, Any] = {"signal_type": mtype}
        kind: EventKind = EV_SYSTEM
        text = mtype.replace("-", " ") or "notice"
        if mtype == "group-v2-change" and isinstance(msg.get("groupV2Change"), Mapping):
            change = msg["groupV2Change"]
            actor = self.name(change.get("from")) or actor
            kind, text = self._group_v2(change, actor or "A member")
        elif mtype == "group" and isinstance(msg.get("group_update"), Mapping):
            kind, text = self._group_v1(msg["group_update"], actor or "A member")
        elif mtype == "call-history":
            kind, text, actor = self._call(msg, extra)
        elif mtype == "keychange":
            actor = self._who(msg.get("key_changed"))
            kind, text = EV_ENCRYPTION, f"Safety number with {actor} changed"
        elif mtype == "verified-change":
            actor = self._who(msg.get("verifiedChanged"))
            state = "verified" if msg.get("verified") else "marked as not verified"
            kind, text = EV_ENCRYPTION, f"Safety number with {actor} {state}"
        elif mtype == "timer-notification":
            update = msg.get("expirationTimerUpdate")
            update = update if isinstance(update, Mapping) else {}
            who = update.get("sourceServiceId") or update.get("sourceUuid") or update.get("source")
            actor = self.name(who) or actor
            seconds = update.get("expireTimer")
            if isinstance(seconds, (int, Decimal)) and seconds > 0:
                text = f"{actor or 'Someone'} set disappearing messages to {_timer(int(seconds))}"
                extra["expire_timer_s"] = int(seconds)
            else:
                text = f"{actor or 'Someone'} turned off disappearing messages"
        elif mtype == "profile-change" and isinstance(msg.get("profileChange"), Mapping):
            change = msg["profileChange"]
            actor = self.name(msg.get("changedId")) or actor
            new = change.get("newName")
            text = f"{actor or 'Someone'} changed their profile name"
            if isinstance(new, str) and new:
                text += f" to {new}"
        elif mtype in SERVICE_TEXT:
            kind, text = SERVICE_TEXT[mtype]
            if text[0].islower():
                text = f"{actor or 'Someone'} {text}"
        return Event(
            chat=ctx.chat,
            ts=ts,
            text=text,
            kind=kind,
            actor=actor,
            source_id=source_id,
            line=line,
            extra=extra,
        )

    def _group_v2(self, change: Mapping[str, Any], actor: str) -> tuple[EventKind, str]:
        parts: list[tuple[EventKind, str]] = []
        for d in change.get("details") or []:
            if isinstance(d, Mapping):
                parts.append(self._group_detail(d, actor))
        if not parts:
            return EV_SYSTEM, f"{actor} updated the group"
        kinds = [k for k, _ in parts if k != EV_SYSTEM]
        return (kinds[0] if kinds else EV_SYSTEM), "; ".join(t for _, t in parts)

    def _group_detail(self, d: Mapping[str, Any], actor: str) -> tuple[EventKind, str]:
        dtype = d.get("type")
        member_id = d.get("aci") or d.get("uuid") or d.get("serviceId") or d.get("conversationId")
        who = self._who(member_id, "a member")
        if dtype == "create":
            return EV_SYSTEM, f"{actor} created the group"
        if dtype == "title":
            title = d.get("newTitle")
            if isinstance(title, str) and title:
                return EV_TITLE, f"{actor} changed the group name to “{title}”"
            return EV_TITLE, f"{actor} removed the group name"
        if dtype == "member-add":
            return EV_JOIN, f"{who} joined the group" if who == actor else f"{actor} added {who}"
        if dtype in ("member-add-from-invite", "member-add-from-link"):
            return EV_JOIN, f"{who} joined the group"
        if dtype == "member-add-from-admin-approval":
            return EV_JOIN, f"{who} was approved to join the group"
        if dtype == "member-remove":
            if who == actor:
                return EV_LEAVE, f"{who} left the group"
            return EV_LEAVE, f"{actor} removed {who}"
        if dtype == "member-privilege":
            if d.get("newPrivilege") == ROLE_ADMINISTRATOR:
                return EV_SYSTEM, f"{actor} made {who} an admin"
            return EV_SYSTEM, f"{actor} revoked admin privileges from {who}"
        if dtype in ("pending-add-one", "pending-add-many"):
            return EV_SYSTEM, f"{actor} invited people to the group"
        if dtype in ("pending-remove-one", "pending-remove-many"):
            return EV_SYSTEM, "An invitation to the group was declined or revoked"
        if dtype == "admin-approval-add-one":
            return EV_SYSTEM, f"{who} asked to join the group"
        if dtype == "avatar":
            return EV_SYSTEM, f"{actor} changed the group avatar"
        if dtype == "description":
            return EV_SYSTEM, f"{actor} changed the group description"
        label = dtype.replace("-", " ") if isinstance(dtype, str) else "settings"
        return EV_SYSTEM, f"{actor} changed the group ({label})"

    def _group_v1(self, update: Mapping[str, Any], actor: str) -> tuple[EventKind, str]:
        if update.get("joined"):
            joined = update["joined"] if isinstance(update["joined"], list) else []
            names = ", ".join(self._who(j) for j in joined) or "Someone"
            return EV_JOIN, f"{names} joined the group"
        if update.get("left"):
            return EV_LEAVE, f"{self._who(update['left'])} left the group"
        if isinstance(update.get("name"), str):
            return EV_TITLE, f"{actor} changed the group name to “{update['name']}”"
        return EV_SYSTEM, f"{actor} updated the group"

    def _call(self, msg: Mapping[str, Any], extra: dict[str, Any]) -> tuple[EventKind, str, str | None]:
        ctx = self.ctx
        row = ctx.call_row(msg.get("callId")) if msg.get("callId") is not None else None
        legacy = msg.get("callHistoryDetails")
        details: dict[str, Any] = dict(legacy) if isinstance(legacy, Mapping) else {}
        if row:
            details.update({k: v for k, v in row.items() if v is not None})
        direction = details.get("direction")
        if direction is None and "wasIncoming" in details:
            direction = "Incoming" if details.get("wasIncoming") else "Outgoing"
        ctype = details.get("type")
        if ctype is None and "wasVideoCall" in details:
            ctype = "Video" if details.get("wasVideoCall") else "Audio"
        status = details.get("status")
        if status is None and details.get("wasDeclined"):
            status = "Declined"
        label = {"Video": "video call", "Group": "group call", "Adhoc": "call link call"}.get(str(ctype), "voice call")
        text = f"{direction or 'A'} {label}".strip()
        text = text[0].upper() + text[1:]
        if isinstance(status, str) and status:
            text += f" ({status.lower()})"
        started = ms_value(details.get("acceptedTime") or details.get("timestamp"))
        ended = ms_value(details.get("endedTimestamp") or details.get("endedTime"))
        if started and ended and ended > started and status in (None, "Accepted"):
            seconds = (ended - started) // 1000
            extra["duration_s"] = seconds
            text += f", {_call_length(seconds)}"
        for key, value in (("direction", direction), ("status", status), ("call_type", ctype)):
            if isinstance(value, str):
                extra[key] = value
        if direction == "Outgoing":
            actor: str | None = ctx.own_name
        else:
            peer = details.get("ringerId") or details.get("peerId") or details.get("creatorUuid")
            actor = self.name(peer) or (ctx.peer_name if ctx.kind == DIRECT else None)
        return EV_CALL, text, actor


def _contact_names(contacts: list[Any]) -> list[str]:
    names = []
    for c in contacts:
        name = c.get("name") if isinstance(c, Mapping) else None
        if isinstance(name, Mapping):
            shown = name.get("displayName") or " ".join(
                str(name[k]) for k in ("givenName", "familyName") if name.get(k)
            )
            if shown:
                names.append(str(shown))
    return names or ["Contact"]


def _timer(seconds: int) -> str:
    """A disappearing-message timer in the largest whole unit: 30 seconds, 8 hours, 1 week."""
    for unit, size in (("week", 604800), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def _call_length(seconds: int) -> str:
    """A call's length: 45 s, 3 min 5 s, 1 h 2 min."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {secs} s"
    return f"{secs} s"
