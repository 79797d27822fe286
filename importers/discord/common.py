"""What the two Discord importers share: reading Discord's timestamps and naming chats.

Both DiscordChatExporter output and Discord's own data package key a channel by its snowflake
id, so a channel imported from both lands in the same chat (Chat.key = channel id, source
"discord") and a message seen in both is the same message (source_id = message id).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

# ISO-8601 as Discord tools write it: "2022-08-27T14:44:53.6+02:00", "2023-01-06T14:22:25.25+00:00",
# seven-digit .NET fractions, a space instead of "T" and "+00:00" or no zone in the data package.
_ISO_TIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?"
    r"\s*(Z|[+-]\d{2}(?::?\d{2})?)?"
)
# Python keeps microseconds: fraction digits beyond six are dropped.
_MICRO_DIGITS = 6


def parse_time(text: str) -> datetime:
    """A Discord timestamp: aware (converted to UTC) when it carries a zone, naive when not.

    Any number of fraction digits is accepted (Python 3.10's fromisoformat takes only 3 or 6).
    Raises ValueError for anything else.
    """
    m = _ISO_TIME.fullmatch(text.strip())
    if m is None:
        raise ValueError("not an ISO-8601 time")
    year, month, day, hour, minute = (int(m.group(i)) for i in range(1, 6))
    second = int(m.group(6) or 0)
    fraction = (m.group(7) or "")[:_MICRO_DIGITS]
    micro = int(fraction.ljust(_MICRO_DIGITS, "0")) if fraction else 0
    zone = m.group(8)
    tz: timezone | None = None
    if zone == "Z":
        tz = timezone.utc
    elif zone:
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    value = datetime(year, month, day, hour, minute, second, micro, tzinfo=tz)
    return value.astimezone(timezone.utc) if tz is not None else value


def chat_title(guild: str | None, channel: str | None, parent: str | None = None) -> str | None:
    """ "Guild / #channel" (threads: "Guild / #parent / thread"); None without a channel name."""
    if not channel:
        return None
    if not guild:
        return channel
    if parent:
        return f"{guild} / #{parent} / {channel}"
    return f"{guild} / #{channel}"
