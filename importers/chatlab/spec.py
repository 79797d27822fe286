"""The ChatLab format's magic values: message type codes, chat types, and platform slugs → talkvault sources.

Type codes are ChatLab's `MessageType` enum (ChatLab/ChatLab:packages/shared-types/index.ts and
docs/en/standard/chatlab-format.md, "Message Type Reference", format v0.0.2). Platform slugs are
ChatLab's `KNOWN_PLATFORMS` (same file) plus the spellings converters are told to use
("a stable lowercase platform slug such as `qq`, `weixin`", skills/chatlab-convert/references/
chatlab-format.md).
"""

from __future__ import annotations

import re

from vault.records import (
    AUDIO,
    CONTACT,
    DIRECT,
    EV_CALL,
    EV_SYSTEM,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    ChatKind,
    EventKind,
    MessageKind,
)

# Format versions this reader knows (CHATLAB_SUPPORTED_FORMAT_VERSIONS in shared-types).
KNOWN_VERSIONS = frozenset({"0.0.1", "0.0.2"})

# Basic message types (0-19).
TYPE_TEXT = 0
TYPE_IMAGE = 1
TYPE_VOICE = 2
TYPE_VIDEO = 3
TYPE_FILE = 4
TYPE_EMOJI = 5  # emoji / sticker
TYPE_LINK = 7  # link or card
TYPE_LOCATION = 8
# Interactive message types (20-39).
TYPE_RED_PACKET = 20
TYPE_TRANSFER = 21
TYPE_POKE = 22  # poke / nudge ("拍一拍")
TYPE_CALL = 23  # voice or video call
TYPE_SHARE = 24  # music, mini program, ...
TYPE_REPLY = 25  # quote reply
TYPE_FORWARD = 26  # forwarded (merged) messages
TYPE_CONTACT = 27  # contact card
# System message types (80+).
TYPE_SYSTEM = 80  # join / leave / announcement
TYPE_RECALL = 81  # recalled message
TYPE_OTHER = 99

# What a person sent: type code → talkvault message kind.
MESSAGE_KINDS: dict[int, MessageKind] = {
    TYPE_TEXT: TEXT,
    TYPE_IMAGE: IMAGE,
    TYPE_VOICE: AUDIO,
    TYPE_VIDEO: VIDEO,
    TYPE_FILE: FILE,
    TYPE_EMOJI: STICKER,
    TYPE_LINK: TEXT,
    TYPE_LOCATION: LOCATION,
    TYPE_RED_PACKET: OTHER,
    TYPE_TRANSFER: OTHER,
    TYPE_SHARE: TEXT,
    TYPE_REPLY: TEXT,
    TYPE_FORWARD: TEXT,
    TYPE_CONTACT: CONTACT,
    TYPE_OTHER: OTHER,
}
# Types whose message stands for a file that the format never carries (content is a placeholder).
MEDIA_TYPES = frozenset({TYPE_IMAGE, TYPE_VOICE, TYPE_VIDEO, TYPE_FILE, TYPE_EMOJI})
# Entries the app printed, not a person: type code → talkvault event kind. A poke is a notice
# in both QQ and WeChat ("A 拍了拍 B"), so it is an event too.
EVENT_KINDS: dict[int, EventKind] = {
    TYPE_SYSTEM: EV_SYSTEM,
    TYPE_POKE: EV_SYSTEM,
    TYPE_CALL: EV_CALL,
}

# meta.type
CHAT_KINDS: dict[str, ChatKind] = {"group": GROUP, "private": DIRECT}

# meta.platform → talkvault source name, so that a ChatLab file of WeChat data sits (and
# dedups) with talkvault's other WeChat imports. ChatLab itself writes "weixin".
PLATFORM_SOURCES = {
    "qq": "qq",
    "weixin": "wechat",
    "wechat": "wechat",
    "wx": "wechat",
    "telegram": "telegram",
    "whatsapp": "whatsapp",
    "discord": "discord",
    "slack": "slack",
    "line": "line",
    "instagram": "instagram",
    "messenger": "messenger",
    "facebook": "messenger",
    "signal": "signal",
    "imessage": "imessage",
    "kakaotalk": "kakaotalk",
    "kakao": "kakaotalk",
}
# Slugs that name no platform: "unknown" (KNOWN_PLATFORMS.UNKNOWN) and "mixed" (merged sessions).
GENERIC_SOURCE = "chatlab"
_NO_PLATFORM = frozenset({"", "unknown", "mixed"})
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,31}$")


def source_for(platform: object) -> str:
    """The talkvault source for a ChatLab `meta.platform`: a known app, another clean slug as it is,
    else "chatlab"."""
    slug = platform.strip().lower() if isinstance(platform, str) else ""
    if slug in PLATFORM_SOURCES:
        return PLATFORM_SOURCES[slug]
    if slug in _NO_PLATFORM or not _SLUG_RE.match(slug):
        return GENERIC_SOURCE
    return slug
