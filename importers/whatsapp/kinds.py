"""WhatsApp's message type codes, on iOS and on Android, and the one kind of message each means.

The two apps number their message types differently (iOS ChatStorage `ZWAMESSAGE.ZMESSAGETYPE`,
Android msgstore `message.message_type` / legacy `messages.media_wa_type`), but they are the same
app's types. Each platform's table names the type a code stands for; what a type means as a
record (`KIND`, `MEDIA_KINDS`) is decided once, here, for both readers
(importers/iphone_backup/whatsapp.py and importers/whatsapp/android_db.py).

Codes as WhatsApp-Chat-Exporter (ios_handler.py, android_handler.py) and IPED read them, and as
seen in the databases.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from vault import records

# The types of WhatsApp message, whichever platform stored them.
WaType = Literal[
    "text",
    "link",  # a text with a link preview
    "image",
    "view once image",
    "video",
    "view once video",
    "audio",  # voice notes and audio files
    "contact",  # a contact card (vCard)
    "location",
    "live location",
    "document",
    "gif",
    "sticker",
    "poll",
    "deleted",  # revoked by its sender ("This message was deleted")
    "deleted by admin",  # deleted by a group admin
    "group event",  # iOS: a group change, its detail in ZGROUPEVENTTYPE
    "notice",  # iOS: a chat notice (missed call, encryption), its detail in ZGROUPEVENTTYPE
    "system",  # Android: a system entry, its detail in message_system.action_type
]

IOS_TYPES: dict[int, WaType] = {
    0: "text",
    1: "image",
    2: "video",
    3: "audio",
    4: "contact",
    5: "location",
    6: "group event",
    7: "link",
    8: "document",
    10: "notice",
    11: "gif",
    14: "deleted",
    15: "sticker",
    46: "poll",
}

ANDROID_TYPES: dict[int, WaType] = {
    0: "text",
    1: "image",
    2: "audio",
    3: "video",
    4: "contact",
    5: "location",
    7: "system",
    9: "document",
    13: "gif",
    15: "deleted",
    16: "live location",
    20: "sticker",
    42: "view once image",
    43: "view once video",
    64: "deleted by admin",
    66: "poll",
}

# What each type is as a message. Group events, notices and system entries are Events (each
# reader maps their detail codes), so they have no message kind.
KIND: dict[WaType, records.MessageKind] = {
    "text": records.TEXT,
    "link": records.TEXT,
    "image": records.IMAGE,
    "view once image": records.IMAGE,
    "video": records.VIDEO,
    "view once video": records.VIDEO,
    "audio": records.AUDIO,
    "contact": records.CONTACT,
    "location": records.LOCATION,
    "live location": records.LOCATION,
    "document": records.FILE,
    "gif": records.GIF,
    "sticker": records.STICKER,
    "poll": records.POLL,
    "deleted": records.DELETED,
    "deleted by admin": records.DELETED,
}

# Kinds whose file WhatsApp keeps in its media folder.
MEDIA_KINDS: frozenset[records.MessageKind] = frozenset(
    {records.IMAGE, records.VIDEO, records.AUDIO, records.FILE, records.GIF, records.STICKER}
)


def type_of(types: Mapping[int, WaType], code: object) -> WaType | None:
    """The type a stored code stands for in a platform's table (`IOS_TYPES`, `ANDROID_TYPES`);
    a missing code (NULL) is a text message, an unknown one None."""
    return types.get(code if isinstance(code, int) else 0)


def message_kind(types: Mapping[int, WaType], code: object) -> records.MessageKind:
    """The kind of message a stored code means: OTHER for codes not known as messages."""
    wa_type = type_of(types, code)
    return KIND.get(wa_type, records.OTHER) if wa_type is not None else records.OTHER
