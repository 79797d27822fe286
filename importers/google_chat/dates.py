"""Google Chat's `created_date` / `updated_date` prose ("Monday, January 8, 2024 at 10:03:41 AM UTC") as instants."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ),
        start=1,
    )
    for name in names
}

# Zone abbreviations Takeout prints after the time (it writes the account's zone, UTC by default).
# Offsets in hours; an abbreviation not listed here (or ambiguous, such as IST or CST outside the
# Americas) is reported rather than guessed.
_ZONES = {
    "UTC": 0.0,
    "GMT": 0.0,
    "Z": 0.0,
    "WET": 0.0,
    "WEST": 1.0,
    "BST": 1.0,
    "CET": 1.0,
    "CEST": 2.0,
    "MEZ": 1.0,
    "MESZ": 2.0,
    "EET": 2.0,
    "EEST": 3.0,
    "MSK": 3.0,
    "IST": 5.5,  # India Standard Time: what Google prints for Asia/Kolkata
    "PKT": 5.0,
    "ICT": 7.0,
    "WIB": 7.0,
    "HKT": 8.0,
    "SGT": 8.0,
    "AWST": 8.0,
    "JST": 9.0,
    "KST": 9.0,
    "ACST": 9.5,
    "ACDT": 10.5,
    "AEST": 10.0,
    "AEDT": 11.0,
    "NZST": 12.0,
    "NZDT": 13.0,
    "HST": -10.0,
    "AKST": -9.0,
    "AKDT": -8.0,
    "PST": -8.0,
    "PDT": -7.0,
    "MST": -7.0,
    "MDT": -6.0,
    "CST": -6.0,
    "CDT": -5.0,
    "EST": -5.0,
    "EDT": -4.0,
    "AST": -4.0,
    "ADT": -3.0,
    "NST": -3.5,
    "NDT": -2.5,
    "BRT": -3.0,
    "ART": -3.0,
}

# [Weekday,] Month D, YYYY at H:MM[:SS] [AM|PM] ZONE     (en-US)
# [Weekday,] D Month YYYY at HH:MM[:SS] ZONE              (en-GB and others)
_TIME = r"(?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2}))?(?:\s*(?P<ampm>[AaPp]\.?[Mm]\.?))?"
_ZONE = r"(?P<zone>[A-Za-z]{1,5}(?:[+-]\d{1,2}(?::?\d{2})?)?|[+-]\d{2}:?\d{2})"
_MONTH_FIRST = re.compile(
    rf"^(?:[A-Za-z]+,?\s+)?(?P<mon>[A-Za-z]+)\.?\s+(?P<d>\d{{1,2}}),?\s+(?P<y>\d{{4}}),?\s+(?:at\s+)?{_TIME}\s+{_ZONE}$"
)
_DAY_FIRST = re.compile(
    rf"^(?:[A-Za-z]+,?\s+)?(?P<d>\d{{1,2}})\s+(?P<mon>[A-Za-z]+)\.?,?\s+(?P<y>\d{{4}}),?\s+(?:at\s+)?{_TIME}\s+{_ZONE}$"
)
_OFFSET = re.compile(r"^(?P<name>[A-Za-z]*)(?:(?P<sign>[+-])(?P<hh>\d{1,2})(?::?(?P<mm>\d{2}))?)?$")
# Unicode spaces Takeout puts in dates: U+202F (narrow no-break) before AM/PM in newer exports, U+00A0.
_SPACES = re.compile(r"[\u00a0\u2007\u202f\u2009\s]+")


def _zone(text: str) -> timezone | None:
    m = _OFFSET.match(text)
    if m is None:
        return None
    name = m["name"].upper()
    if name and name not in ("UTC", "GMT") and m["sign"]:
        return None  # "PST+1" is nothing Google writes
    base = _ZONES.get(name) if name else 0.0
    if base is None:
        return None
    minutes = round(base * 60)
    if m["sign"]:
        extra = int(m["hh"]) * 60 + int(m["mm"] or 0)
        if extra > 14 * 60:
            return None
        minutes += extra if m["sign"] == "+" else -extra
    return timezone(timedelta(minutes=minutes))


def parse_chat_date(value: str) -> datetime | None:
    """The instant a Google Chat date string names, or None when it is not one this reader knows."""
    text = _SPACES.sub(" ", value).strip()
    m = _MONTH_FIRST.match(text) or _DAY_FIRST.match(text)
    if m is None:
        iso = _iso(text)
        return iso
    month = _MONTHS.get(m["mon"].lower())
    zone = _zone(m["zone"])
    if month is None or zone is None:
        return None
    hour = int(m["h"])
    if m["ampm"]:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if m["ampm"][0] in "Pp" else 0)
    try:
        local = datetime(int(m["y"]), month, int(m["d"]), hour, int(m["mi"]), int(m["s"] or 0), tzinfo=zone)
    except ValueError:
        return None
    return local.astimezone(timezone.utc)


def _iso(text: str) -> datetime | None:
    """An ISO 8601 instant with a zone (some tools rewrite the dates so); naive ones are refused."""
    if "T" not in text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo is not None else None
