"""Round trip: WhatsApp text rendered from random records, in every header variant, parses back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from importers.whatsapp.body import classify
from importers.whatsapp.header import match_header
from importers.whatsapp.phrases import MARKS
from tests.importers.util import parse
from vault.records import (
    DELETED,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    IMAGE,
    LOCATION,
    MEDIA,
    TEXT,
    Event,
    Message,
)

LRM = "\u200e"
ARABIC_DIGITS = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
TITLE = "Property Test"


def h12(t: datetime) -> int:
    return t.hour % 12 or 12


def am(t: datetime, morning: str, afternoon: str) -> str:
    return morning if t.hour < 12 else afternoon


@dataclass(frozen=True)
class Variant:
    name: str
    header: Callable[[datetime], str]
    order: str  # the ParseOptions.date_order that reads it (when its dates leave it open)
    seconds: bool
    ios: bool  # bracketed: CRLF records, LRM before notices and placeholders
    min_year: int = 2001


def _arabic(t: datetime) -> str:
    inner = f"{t.day}\u200f/{t.month}\u200f/{t.year}، {h12(t)}:{t:%M}:{t:%S}"
    return f"[{inner.translate(ARABIC_DIGITS)}\u00a0{am(t, 'ص', 'م')}] "


VARIANTS = [
    Variant("android dmy", lambda t: f"{t:%d/%m/%Y}, {t:%H:%M} - ", "dmy", False, False),
    Variant(
        "android mdy 12h NNBSP",
        lambda t: f"{t.month}/{t.day}/{t:%y}, {h12(t)}:{t:%M}\u202f{am(t, 'AM', 'PM')} - ",
        "mdy",
        False,
        False,
    ),
    Variant("android dots", lambda t: f"{t:%d.%m.%y} {t:%H:%M} - ", "dmy", False, False),
    Variant("android dashes", lambda t: f"{t:%d-%m-%Y} {t:%H:%M} - ", "dmy", False, False),
    Variant("android ymd", lambda t: f"{t:%Y-%m-%d}, {t:%H:%M} - ", "ymd", False, False),
    Variant(
        "android es 12h",
        lambda t: f"{t.day}/{t.month}/{t.year}, {h12(t)}:{t:%M}\u00a0{am(t, 'a. m.', 'p. m.')} - ",
        "dmy",
        False,
        False,
    ),
    Variant("finnish klo", lambda t: f"{t.day}.{t.month}.{t.year} klo {t:%H.%M.%S} - ", "dmy", True, False),
    Variant("ios", lambda t: f"[{t.month}/{t.day}/{t:%y}, {t:%H:%M:%S}] ", "mdy", True, True),
    Variant("ios time first", lambda t: f"[{t:%H:%M:%S}, {t.month}/{t.day}/{t:%y}] ", "mdy", True, True),
    Variant("ios dots in time", lambda t: f"[{t.day}/{t.month}/{t:%y} {t:%H.%M.%S}] ", "dmy", True, True),
    Variant("ios arabic digits", _arabic, "dmy", True, True),
    Variant(
        "ios buddhist",
        lambda t: f"[{t.month}/{t.day}/{t.year + 543} BE, {t:%H:%M:%S}] ",
        "mdy",
        True,
        True,
    ),
    Variant(
        "ios japanese era",
        lambda t: f"[{t.month}/{t.day}/R{t.year - 2018}, {t:%H:%M:%S}] ",
        "mdy",
        True,
        True,
        min_year=2019,
    ),
    Variant(
        "ios korean",
        lambda t: f"[{t.year}. {t.month}. {t.day}. {am(t, '오전', '오후')} {h12(t)}:{t:%M}:{t:%S}] ",
        "ymd",
        True,
        True,
    ),
]

_NAME_CHARS = st.characters(categories=["Lu", "Ll", "Lo", "So"], exclude_characters=MARKS)
_TEXT_CHARS = st.characters(
    categories=["Lu", "Ll", "Lo", "Nd", "Po", "So", "Zs"],
    exclude_characters=MARKS + "\u00a0\u202f\u2009\u2028\u2029\x85",
)
senders = st.one_of(
    st.sampled_from(["Anna", "+44 7700 900123", "李雷", "Zoë 🤓", "John-John Doe"]),
    st.text(_NAME_CHARS | st.just(" "), min_size=1, max_size=20)
    .map(lambda s: " ".join(s.split()))
    .filter(lambda s: s and not s.startswith("~")),
)
line_text = st.text(_TEXT_CHARS, max_size=30).map(str.strip)
filled_line = st.text(_TEXT_CHARS, min_size=1, max_size=30).map(str.strip).filter(bool)
# One line, or several (blank ones inside allowed); WhatsApp trims a message's ends.
bodies = st.one_of(
    filled_line,
    st.tuples(filled_line, st.lists(line_text, max_size=2), filled_line).map(lambda t: "\n".join([t[0], *t[1], t[2]])),
)
NOTICES = [("Carla added Dev", EV_JOIN), ("Dev left", EV_LEAVE), ("Carla changed this group's icon", EV_SYSTEM)]


@st.composite
def records(draw: st.DrawFn, variant: Variant) -> list[dict[str, Any]]:
    out = []
    for _ in range(draw(st.integers(1, 6))):
        ts = draw(st.datetimes(min_value=datetime(variant.min_year, 1, 1), max_value=datetime(2037, 12, 31))).replace(
            microsecond=0
        )
        if not variant.seconds:
            ts = ts.replace(second=0)
        what = draw(st.sampled_from(["text", "text", "edited", "deleted", "media", "location", "event"]))
        out.append({"what": what, "ts": ts, "sender": draw(senders), "body": draw(bodies)})
    return out


def render(variant: Variant, recs: list[dict[str, Any]]) -> tuple[str, list[tuple[Any, ...]]]:
    """The export's text, and the (type, sender, ts, text, kind, edited) to get back."""
    lines, want = [], []
    for r in recs:
        header, sender, body, what = variant.header(r["ts"]), r["sender"], r["body"], r["what"]
        lead = ""
        if what == "event":
            notice, kind = NOTICES[len(body) % len(NOTICES)]
            rest = (LRM if variant.ios else "") + notice
            want.append(("event", None, r["ts"], notice, kind, False))
        else:
            if what == "text":
                shown, text, kind = body, body, TEXT
            elif what == "edited":
                marker = f" {LRM}<This message was edited>" if variant.ios else " <This message was edited>"
                shown, text, kind = body + marker, body, TEXT
            elif what == "deleted":
                shown = f"{LRM}This message was deleted." if variant.ios else "This message was deleted"
                text, kind = "", DELETED
            elif what == "media" and variant.ios:
                lead, shown, text, kind = LRM, f"{LRM}image omitted", "", IMAGE
            elif what == "media":
                shown, text, kind = f"<Media omitted>\n{body}", body, MEDIA
            else:
                url = "https://maps.google.com/?q=48.8584,2.2945"
                shown = f"{LRM}Location: {url}" if variant.ios else f"location: {url}"
                text, kind = shown.lstrip(LRM), LOCATION
            rest = f"{sender}: {shown}"
            want.append(("message", sender, r["ts"], text, kind, what == "edited"))
        lines.append(lead + header + rest)
    end = "\r\n" if variant.ios else "\n"
    return end.join(lines) + end, want


def _plain_text(sender: str, body: str) -> bool:
    """The body is ordinary text: no line of it looks like a header, it is no placeholder."""
    if any(match_header(line) for line in body.split("\n")[1:]):
        return False
    result = classify(sender, body, line_marked=False, chat_title=TITLE)
    return not result.is_event and result.kind == TEXT and result.text == body


@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), bom=st.booleans())
def test_rendered_records_parse_back(tmp_path: Path, data: st.DataObject, bom: bool) -> None:
    variant = data.draw(st.sampled_from(VARIANTS), label="variant")
    recs = data.draw(records(variant), label="records")
    for r in recs:
        assume(r["sender"] != TITLE)
        assume(_plain_text(r["sender"], r["body"]))
    text, want = render(variant, recs)
    path = tmp_path / f"WhatsApp Chat with {TITLE}.txt"
    path.write_bytes(("\ufeff" if bom else "").encode() + text.encode("utf-8"))
    parsed = parse(path, "whatsapp", date_order=variant.order)
    got = []
    for rec in parsed.records:
        if isinstance(rec, Message):
            edited = bool(rec.extra.get("edited"))
            got.append(("message", rec.sender, rec.ts, rec.text, rec.kind, edited))
        elif isinstance(rec, Event):
            got.append(("event", rec.actor, rec.ts, rec.text, rec.kind, False))
    assert got == want, variant.name
    assert not parsed.problems
    assert parsed.chats[0].title == TITLE
