"""Time helpers shared by every layer: the machine's zone, a zone by name, and UTC instants as text."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from vault.errors import UsageError

# Message ids are time-ordered: ts_ms * SEQ_SPAN + n (docs/vault-format.md), so FTS5 walks rowids
# newest-first and a date range is an id range.
SEQ_BITS = 16  # messages per millisecond before ids collide: 65536
SEQ_SPAN = 1 << SEQ_BITS


def now_iso() -> str:
    """Now, as an ISO 8601 UTC instant to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_z(ts_ms: int) -> str:
    """Epoch milliseconds as an ISO 8601 UTC instant to the second (`2024-01-05T13:03:12Z`)."""
    return datetime.fromtimestamp(ts_ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def local_zone() -> ZoneInfo:
    """The machine's time zone (TZ, /etc/localtime), UTC when it cannot be named."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            return ZoneInfo(link.split("zoneinfo/", 1)[1])
    except (OSError, ZoneInfoNotFoundError, ValueError):
        pass
    return ZoneInfo("UTC")


def resolve_tz(tz: str | None) -> ZoneInfo:
    if tz is None:
        return local_zone()
    try:
        return ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise UsageError(f"unknown time zone {tz!r}; use a name such as Europe/Berlin or Asia/Shanghai") from None
