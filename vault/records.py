"""Records: the frozen types that importers yield and the vault ingests (the only contract between them).

An importer's `parse()` yields, in any order that respects "a Chat before its messages":
`Chat`, `Message`, `Event`, `Problem` and `Note`. Times are `datetime`s: timezone-aware when the
export states the instant (Telegram `date_unixtime`, epoch milliseconds, ISO with offset), naive when it
only shows wall-clock time (WhatsApp, LINE, KakaoTalk, ...); the vault converts naive times with the
import's `--tz` and records the zone it assumed.

Attachments carry an `open` callable that streams the bytes; it is valid only until the parser is
asked for its next record (the vault consumes it at once), so parsers may hold a zip open while they
yield.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, Final, Literal, cast, get_args

#: What a person sent (counts as a message). mypy checks every importer's kinds against it.
MessageKind = Literal[
    "text",
    "image",
    "video",
    "audio",  # voice notes included
    "sticker",
    "gif",
    "file",
    "contact",
    "location",
    "poll",
    "call",
    "deleted",  # "This message was deleted" placeholders, unsent messages
    "media",  # media whose type the export does not say ("<Media omitted>")
    "other",
]
TEXT: Final = "text"
IMAGE: Final = "image"
VIDEO: Final = "video"
AUDIO: Final = "audio"
STICKER: Final = "sticker"
GIF: Final = "gif"
FILE: Final = "file"
CONTACT: Final = "contact"
LOCATION: Final = "location"
POLL: Final = "poll"
CALL: Final = "call"
DELETED: Final = "deleted"
MEDIA: Final = "media"
OTHER: Final = "other"
MESSAGE_KINDS: frozenset[str] = frozenset(get_args(MessageKind))

#: System and service entries (count as events).
EventKind = Literal[
    "system",  # anything else the app printed
    "join",
    "leave",
    "title",
    "call",  # call notices the app prints as service entries
    "encryption",
    "pin",
]
EV_SYSTEM: Final = "system"
EV_JOIN: Final = "join"
EV_LEAVE: Final = "leave"
EV_TITLE: Final = "title"
EV_CALL: Final = "call"
EV_ENCRYPTION: Final = "encryption"
EV_PIN: Final = "pin"
EVENT_KINDS: frozenset[str] = frozenset(get_args(EventKind))

#: Chat kinds.
ChatKind = Literal["direct", "group", "channel", "unknown"]
DIRECT: Final = "direct"
GROUP: Final = "group"
CHANNEL: Final = "channel"
UNKNOWN: Final = "unknown"
CHAT_KINDS: frozenset[str] = frozenset(get_args(ChatKind))


def message_kind(value: str) -> MessageKind | None:
    """`value` as a message kind, or None when it is not one (for kinds read from data)."""
    return cast(MessageKind, value) if value in MESSAGE_KINDS else None


def event_kind(value: str) -> EventKind | None:
    """`value` as an event kind, or None when it is not one (for kinds read from data)."""
    return cast(EventKind, value) if value in EVENT_KINDS else None


def chat_kind(value: str) -> ChatKind | None:
    """`value` as a chat kind, or None when it is not one (for kinds read from data)."""
    return cast(ChatKind, value) if value in CHAT_KINDS else None


@dataclass(frozen=True)
class Chat:
    """A conversation. `key` is stable across exports of the same chat.

    Use the export's own id (Telegram chat id, Discord channel id, ...) where it has one; otherwise
    `title_key(title)`.
    """

    source: str
    key: str
    title: str
    kind: ChatKind = UNKNOWN
    participants: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message. `open` is None when the export names the file but lacks its bytes."""

    name: str
    kind: MessageKind = FILE
    mime: str | None = None
    size: int | None = None
    open: Callable[[], IO[bytes]] | None = field(default=None, compare=False, hash=False, repr=False)


@dataclass(frozen=True)
class Reaction:
    emoji: str
    sender: str | None = None
    ts: datetime | None = None
    removed: bool = False


@dataclass(frozen=True)
class Message:
    """Something a person sent.

    `source_id` is the export's own message id when it has one (unique within the chat); without it
    the vault identifies the message by (chat, ts, sender, text) and its ordinal among identical
    tuples of the same export.
    """

    chat: str  # Chat.key
    ts: datetime
    sender: str | None
    text: str
    kind: MessageKind = TEXT
    source_id: str | None = None
    sender_id: str | None = None  # the export's id of the sender, if any
    from_me: bool | None = None
    reply_to: str | None = None  # source_id of the replied-to message
    edited: datetime | None = None
    forwarded_from: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reactions: tuple[Reaction, ...] = ()
    line: int | None = None  # where it starts in the export (for reports)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    #: The vault's own identity of this message (hex); only the vault's JSONL export carries it.
    identity: str | None = None


@dataclass(frozen=True)
class Event:
    """A system or service entry: joins, leaves, calls the app logged, title changes, notices."""

    chat: str
    ts: datetime
    text: str
    kind: EventKind = EV_SYSTEM
    actor: str | None = None
    source_id: str | None = None
    line: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)
    identity: str | None = None


@dataclass(frozen=True)
class Problem:
    """A record the parser could not read; the import goes on. Never holds message text."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}, line {self.line}"
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class Note:
    """Something the parser assumed that the person should know (kept with the import's report)."""

    text: str


Record = Chat | Message | Event | Problem | Note

_new = object.__new__
_set = object.__setattr__


def new_message(
    chat: str,
    ts: datetime,
    sender: str | None,
    text: str,
    kind: MessageKind = TEXT,
    source_id: str | None = None,
    sender_id: str | None = None,
    from_me: bool | None = None,
    reply_to: str | None = None,
    edited: datetime | None = None,
    forwarded_from: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    reactions: tuple[Reaction, ...] = (),
    line: int | None = None,
    extra: Mapping[str, Any] | None = None,
    identity: str | None = None,
) -> Message:
    """`Message(...)`, the same object, made without the frozen dataclass's `__setattr__` per field
    (2.5x faster; the parsers of big exports and the parse-ahead pipe make one per message)."""
    m: Message = _new(Message)
    _set(
        m,
        "__dict__",
        {
            "chat": chat,
            "ts": ts,
            "sender": sender,
            "text": text,
            "kind": kind,
            "source_id": source_id,
            "sender_id": sender_id,
            "from_me": from_me,
            "reply_to": reply_to,
            "edited": edited,
            "forwarded_from": forwarded_from,
            "attachments": attachments,
            "reactions": reactions,
            "line": line,
            "extra": {} if extra is None else extra,
            "identity": identity,
        },
    )
    return m


def new_event(
    chat: str,
    ts: datetime,
    text: str,
    kind: EventKind = EV_SYSTEM,
    actor: str | None = None,
    source_id: str | None = None,
    line: int | None = None,
    extra: Mapping[str, Any] | None = None,
    identity: str | None = None,
) -> Event:
    """`Event(...)`, the same object, made as new_message makes a Message."""
    e: Event = _new(Event)
    _set(
        e,
        "__dict__",
        {
            "chat": chat,
            "ts": ts,
            "text": text,
            "kind": kind,
            "actor": actor,
            "source_id": source_id,
            "line": line,
            "extra": {} if extra is None else extra,
            "identity": identity,
        },
    )
    return e


def title_key(title: str) -> str:
    """The chat key for exports without a chat id: derived from the chat's title."""
    return "title:" + " ".join(title.split()).casefold()
