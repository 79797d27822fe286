"""The header of a WhatsApp export line ("18/03/2022, 14:56 - ", "[3/18/22, 14:56:01] ") and its date order.

WhatsApp prints each record's time in the phone's regional format, so one grammar covers every
variant seen (formats/whatsapp-*.md §1.2): brackets (iOS) or a trailing " - " (Android); the date
first or the time first (Vietnamese iOS); `/`, `.` or `-` between the date's numbers; `, `, `، `
or a space (or Finnish "klo") between date and time; `:` or `.` in the time; with or without
seconds; 24 hours or 12 with a localized AM/PM ("PM", "p. m.", "م", "오후", ...) after a space, NBSP
or NARROW NBSP; Arabic-Indic (any Unicode) digits; Buddhist years ("2565 BE") and Japanese eras
("R4"); LRM/RLM marks anywhere between the parts.

A file uses one grammar throughout. The importer's first pass runs `match_header()` on every line
and counts the *shapes* (brackets, separators, seconds, 12 h, ...) it sees, with `DateEvidence` for
the date order; the second pass then accepts only headers of the file's dominant shape
(`shape_regex()`: a quoted line of another shape inside a message stays text) and reads every date
the same way (`TimestampReader`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from importers.whatsapp.phrases import MARKS

_M = f"[{MARKS}]*"
_S = "[ \u00a0\u202f\u2009]"

# 12-hour markers after the time, and the East Asian ones that come before it.
_AMPM_AFTER = (
    rf"[AaPp]\.?{_S}?[Mm]\.?|[صم]|午前|午後|오전|오후|上午|下午|[πμ]\.{_S}?μ\.|[قب]\.ظ\.?"
    r"|पूर्वाह्न|अपराह्न|SA|CH"
)
_AMPM_BEFORE = "午前|午後|오전|오후|上午|下午"
# Normalised marker (casefolded, without dots and spaces) → whether it means afternoon.
_PM: Mapping[str, bool] = {
    "am": False, "pm": True, "ص": False, "م": True, "午前": False, "午後": True, "오전": False,
    "오후": True, "上午": False, "下午": True, "πμ": False, "μμ": True, "قظ": False, "بظ": True,
    "पूर्वाह्न": False, "अपराह्न": True, "sa": False, "ch": True,
}  # fmt: skip
_AMPM_STRIP = str.maketrans(dict.fromkeys(". \u00a0\u202f\u2009"))

# Japanese era letters → the Gregorian year before the era's year 1 (Reiwa 1 = 2019, Heisei 1 = 1989,
# Showa 1 = 1926).
ERA_BASE: Mapping[str, int] = {"R": 2018, "H": 1988, "S": 1925}
# Thai Buddhist era: 2565 BE = 2022 CE.
BUDDHIST_OFFSET = 543
# A four-digit year above this can only be a Buddhist-era year (the "BE" suffix is not always there).
BUDDHIST_YEAR_MIN = 2400

# Date orders as ParseOptions.date_order spells them.
DATE_ORDERS = ("dmy", "mdy", "ymd")


@dataclass(frozen=True)
class Shape:
    """What stays the same on every header of one file (separators as printed, spaces included)."""

    family: str
    date_sep: str
    time_sep: str
    seconds: bool
    twelve_hour: bool
    date_time_sep: str
    terminator: str

    def describe(self, date_order: str = "abc") -> str:
        """A readable pattern such as "[d/m/y, H:M:S]" (`date_order` names the date's numbers)."""
        date = self.date_sep.join(date_order)
        time = self.time_sep.join(("H", "M", "S") if self.seconds else ("H", "M"))
        if self.twelve_hour:
            time += " AM/PM"
        sep = self.date_time_sep.strip(" \u00a0\u202f\u2009")
        sep = f"{sep} " if sep else " "
        inner = f"{time}{sep}{date}" if "time-first" in self.family else f"{date}{sep}{time}"
        if self.family.startswith("bracket"):
            return f"[{inner}]"
        term = self.terminator.strip(" \u00a0\u202f\u2009")
        return inner + {"-": " - ", ":": ": ", "": " "}.get(term, " ")


# A shape as match_header() reports it (cheap to build for every line): family, date separator,
# time separator, date-time separator, terminator, seconds, 12-hour.
ShapeKey = tuple[str, str, str, str, str, bool, bool]


def shape_of(key: ShapeKey) -> Shape:
    """The Shape a key of match_header() stands for."""
    family, sep, tsep, dts, term, seconds, twelve = key
    return Shape(
        family=family,
        date_sep=sep,
        time_sep=tsep,
        seconds=seconds,
        twelve_hour=twelve,
        date_time_sep=dts,
        terminator=term,
    )


_NEVER = "(?!)"  # a group that must exist in the pattern but never matches


def _pattern(family: str, shape: Shape | None = None) -> str:
    """The regex source of a header family; with `shape`, only headers of exactly that shape."""
    if shape is None:
        sep = "(?P<sep>[./-])"
        sep2 = "(?P=sep)"
        tsep = "(?P<tsep>[:.])"
        tsep2 = "(?P=tsep)"
        seconds = rf"(?:{tsep2}(?P<ss>\d{{2}}))?"
        ampm = (
            rf"(?:(?P<ampm0>{_AMPM_BEFORE}){_S}?)?",
            rf"(?:{_S}?{_M}(?P<ampm>{_AMPM_AFTER}))?",
        )
        dts = rf"(?P<dts>[,،]{_S}*|{_S}+)"
        plain_end = rf"(?P<term>{_S}?-(?:{_S}|$)|:{_S}|{_S})"
        bracket_end = rf"(?P<term>(?:{_S}?-)?)"
    else:
        sep = f"(?P<sep>{re.escape(shape.date_sep)})"
        sep2 = re.escape(shape.date_sep)
        tsep = f"(?P<tsep>{re.escape(shape.time_sep)})"
        tsep2 = re.escape(shape.time_sep)
        seconds = rf"{tsep2}(?P<ss>\d{{2}})" if shape.seconds else rf"(?:{_NEVER}(?P<ss>\d))?"
        if shape.twelve_hour:
            ampm = (
                rf"(?:(?P<ampm0>{_AMPM_BEFORE}){_S}?)?",
                rf"(?:{_S}?{_M}(?P<ampm>{_AMPM_AFTER}))?",
            )
        else:
            ampm = (rf"(?:{_NEVER}(?P<ampm0>x))?", rf"(?:{_NEVER}(?P<ampm>x))?")
        dts = f"(?P<dts>{re.escape(shape.date_time_sep)})"
        plain_end = bracket_end = f"(?P<term>{re.escape(shape.terminator)})"
    date = (
        rf"(?P<a>\d{{1,4}}){_M}{sep}{_S}?{_M}(?P<b>\d{{1,4}}){_M}{sep2}{_S}?{_M}"
        rf"(?P<era>[RHS](?=\d))?(?P<c>\d{{1,4}})(?:{_S}?(?P<be>BE))?\.?"
    )
    time = rf"{ampm[0]}(?P<hh>\d{{1,2}}){tsep}(?P<mi>\d{{2}}){seconds}{ampm[1]}"
    date_time = rf"{date}{_M}{dts}(?:klo{_S}+)?{_M}{time}"
    time_date = rf"{time}{_M}{dts}{_M}{date}"
    inner = time_date if family.endswith("time-first") else date_time
    if family.startswith("bracket"):
        return rf"(?P<lead>{_M})\[{_M}{inner}{_M}\]{bracket_end}{_S}?"
    return rf"(?P<lead>{_M}){inner}{plain_end}"


# The four families of header; each compiled regex is matched at the start of a line.
FAMILY_NAMES = ("bracket", "bracket-time-first", "plain", "plain-time-first")
FAMILIES: Mapping[str, re.Pattern[str]] = {f: re.compile(_pattern(f)) for f in FAMILY_NAMES}
# A cheap test before the families: a header starts (after marks) with "[", a digit or a 12-hour
# marker that East Asian formats put before the time.
_MAYBE_HEADER = re.compile(rf"{_M}(?:[\[\d]|{_AMPM_BEFORE})")


def shape_regex(shape: Shape) -> re.Pattern[str]:
    """The header regex that accepts exactly one shape (used for the second pass)."""
    return re.compile(_pattern(shape.family, shape))


_BRACKETS = tuple((f, FAMILIES[f]) for f in FAMILY_NAMES if f.startswith("bracket"))
_PLAINS = tuple((f, FAMILIES[f]) for f in FAMILY_NAMES if f.startswith("plain"))
_ALL = tuple(FAMILIES.items())


def match_header(line: str) -> tuple[re.Match[str], ShapeKey] | None:
    """The header at the start of `line` and the key of its shape, in whichever family matches."""
    if _MAYBE_HEADER.match(line) is None:
        return None
    # A bracket family needs "[" after the marks and a plain one a digit or a marker there: a line
    # without a leading mark is tried only in the families that can match it (the first that
    # matches is the same).
    lead = line[0]
    families = _BRACKETS if lead == "[" else _ALL if lead in MARKS else _PLAINS
    for family, regex in families:
        m = regex.match(line)
        if m is not None:
            sep, tsep, dts, term, ss, ampm, ampm0 = m.group("sep", "tsep", "dts", "term", "ss", "ampm", "ampm0")
            key = (
                family,
                sep,
                tsep,
                dts,
                term,
                ss is not None,
                ampm is not None or ampm0 is not None,
            )
            return m, key
    return None


@dataclass
class DateEvidence:
    """What the dates of one header shape say about their order (the numbers a/b/c as printed)."""

    over_12: list[int] = field(default_factory=lambda: [0, 0, 0])
    over_31: list[int] = field(default_factory=lambda: [0, 0, 0])
    long_numbers: list[int] = field(default_factory=lambda: [0, 0, 0])  # 3-4 digits: a year
    calendar_suffix: int = 0  # "BE" or an era letter before the last number

    def add(self, m: re.Match[str]) -> None:
        """Count one distinct date of the file."""
        for i, raw in enumerate((m["a"], m["b"], m["c"])):
            if len(raw) >= 3:
                self.long_numbers[i] += 1
                continue
            value = int(raw)
            if value > 12:
                self.over_12[i] += 1
                if value > 31:
                    self.over_31[i] += 1
        if m["era"] or m["be"]:
            self.calendar_suffix += 1


@dataclass(frozen=True)
class DateOrder:
    """Which of the date's three numbers (0, 1, 2 as printed) is the year, the month and the day."""

    year: int
    month: int
    day: int
    settled: bool  # True when the file's own dates decide it
    source: str  # "file", "option" or "locale"

    @property
    def label(self) -> str:
        """ "dmy", "mdy", "ymd", ... in printed order."""
        names = {self.year: "y", self.month: "m", self.day: "d"}
        return "".join(names[i] for i in range(3))

    @property
    def words(self) -> str:
        names = {"d": "day", "m": "month", "y": "year"}
        return "/".join(names[c] for c in self.label)


def resolve_date_order(ev: DateEvidence, option: str | None, locale_order: str) -> DateOrder:
    """Decide the date order from the whole file's evidence, else the option, else the locale's order.

    The year is the number with three or four digits or a calendar suffix (else the last one, or the
    first with date_order "ymd"). Of the other two, a number above 12 anywhere in the file is the day
    (issue #237 of Pustur/whatsapp-chat-parser: decide once per file, never per line). When no date
    of the file settles it, `option` ("dmy", "mdy", "ymd") decides, else `locale_order`.
    """
    choice = option if option in DATE_ORDERS else None
    if ev.calendar_suffix:
        year = 2
    elif any(ev.long_numbers):
        year = max(range(3), key=lambda i: ev.long_numbers[i])
    elif ev.over_31[0] and not ev.over_31[2]:
        year = 0
    elif ev.over_31[2]:
        year = 2
    else:
        year = 0 if choice == "ymd" else 2
    first, second = (i for i in range(3) if i != year)
    if ev.over_12[first] or ev.over_12[second]:
        day = first if ev.over_12[first] >= ev.over_12[second] else second
        month = second if day == first else first
        return DateOrder(year=year, month=month, day=day, settled=True, source="file")
    if choice is not None:
        source, wanted = "option", choice
    else:
        source, wanted = "locale", locale_order
    # Of the two numbers around or after the year, "dmy" puts the day first; "mdy" and "ymd" the month.
    day_first = wanted == "dmy" and year != 0
    day, month = (first, second) if day_first else (second, first)
    return DateOrder(year=year, month=month, day=day, settled=False, source=source)


def year_of(raw: str, era: str | None, be: str | None) -> int:
    """The Gregorian year of a printed year: 2-digit → 20yy, Buddhist → −543, Japanese era → era base."""
    value = int(raw)
    if era:
        return ERA_BASE[era] + value
    if be or value > BUDDHIST_YEAR_MIN:
        return value - BUDDHIST_OFFSET
    if len(raw) <= 2:
        return 2000 + value
    return value


def hour_of(raw: str, marker: str | None) -> int:
    """The 24-hour hour; with a 12-hour marker, 12 AM is 0 and 1-11 PM are 13-23.

    Lenient with impossible times the exports contain (chat-miner's "00:08 a. m." stays 00:08).
    """
    hour = int(raw)
    if marker is None:
        return hour
    pm = _PM.get(marker.translate(_AMPM_STRIP).casefold())
    if pm is None:
        return hour
    return hour % 12 + (12 if pm else 0)


class TimestampReader:
    """Turns header matches into naive datetimes with a fixed date order (dates cached)."""

    _CACHE_MAX = 4096

    def __init__(self, order: DateOrder) -> None:
        self.order = order
        self._dates: dict[tuple[str, str, str, str | None, str | None], tuple[int, int, int]] = {}
        # The file's order with day and month exchanged, for a date that cannot be read the file's
        # way but is unambiguous the other way ("6/30/23" in a file read as day/month because of its
        # "30/6/2023" lines): such a line is kept, read that way, and counted.
        self.swapped_order = DateOrder(
            year=order.year, month=order.day, day=order.month, settled=order.settled, source=order.source
        )
        self.swapped = 0

    def read(self, m: re.Match[str]) -> datetime:
        """The header's time; ValueError for an impossible date or time."""
        a, b, c, era, be, hh, mi, ss, ampm, ampm0 = m.group(
            "a", "b", "c", "era", "be", "hh", "mi", "ss", "ampm", "ampm0"
        )
        key = (a, b, c, era, be)
        ymd = self._dates.get(key)
        if ymd is None:
            parts = key[:3]
            o = self.order
            year = year_of(parts[o.year], era, be)
            ymd = (year, int(parts[o.month]), int(parts[o.day]))
            try:
                datetime(*ymd)
            except ValueError:
                if int(parts[o.month]) <= 12 or int(parts[o.day]) > 12:
                    raise  # impossible either way
                ymd = (year, int(parts[o.day]), int(parts[o.month]))
                datetime(*ymd)  # raises ValueError before caching a bad date
                self.swapped += 1
                return self._at(ymd, m)  # not cached: each such line is counted
            if len(self._dates) >= self._CACHE_MAX:
                self._dates.clear()
            self._dates[key] = ymd
        marker = ampm or ampm0
        hour = int(hh) if marker is None else hour_of(hh, marker)
        return datetime(ymd[0], ymd[1], ymd[2], hour, int(mi), 0 if ss is None else int(ss))

    @staticmethod
    def _at(ymd: tuple[int, int, int], m: re.Match[str]) -> datetime:
        hour = hour_of(m["hh"], m["ampm"] or m["ampm0"])
        second = int(m["ss"]) if m["ss"] is not None else 0
        return datetime(ymd[0], ymd[1], ymd[2], hour, int(m["mi"]), second)
