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
from typing import IO, Any

# Message kinds (a person sent it: counts as a message).
TEXT = "text"
IMAGE = "image"
VIDEO = "video"
AUDIO = "audio"  # voice notes included
STICKER = "sticker"
GIF = "gif"
FILE = "file"
CONTACT = "contact"
LOCATION = "location"
POLL = "poll"
CALL = "call"
DELETED = "deleted"  # "This message was deleted" placeholders, unsent messages
MEDIA = "media"  # media whose type the export does not say ("<Media omitted>")
OTHER = "other"
MESSAGE_KINDS = frozenset(
    {TEXT, IMAGE, VIDEO, AUDIO, STICKER, GIF, FILE, CONTACT, LOCATION, POLL, CALL, DELETED, MEDIA, OTHER}
)

# Event kinds (system and service entries: count as events).
EV_SYSTEM = "system"  # anything else the app printed
EV_JOIN = "join"
EV_LEAVE = "leave"
EV_TITLE = "title"
EV_CALL = "call"  # call notices the app prints as service entries
EV_ENCRYPTION = "encryption"
EV_PIN = "pin"
EVENT_KINDS = frozenset({EV_SYSTEM, EV_JOIN, EV_LEAVE, EV_TITLE, EV_CALL, EV_ENCRYPTION, EV_PIN})

# Chat kinds.
DIRECT = "direct"
GROUP = "group"
CHANNEL = "channel"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Chat:
    """A conversation. `key` is stable across exports of the same chat.

    Use the export's own id (Telegram chat id, Discord channel id, ...) where it has one; otherwise
    `title_key(title)`.
    """

    source: str
    key: str
    title: str
    kind: str = UNKNOWN
    participants: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class Attachment:
    """A file sent with a message. `open` is None when the export names the file but lacks its bytes."""

    name: str
    kind: str = FILE
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
    kind: str = TEXT
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
    kind: str = EV_SYSTEM
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


def title_key(title: str) -> str:
    """The chat key for exports without a chat id: derived from the chat's title."""
    return "title:" + " ".join(title.split()).casefold()
