"""Raw page items into records, the way importers/telegram.py (the JSON importer) makes them.

Parity with the JSON export of the same chat, so that both land on the same vault identities:
`source_id` is Telegram's message id as a decimal string; service entries and calls are Events
(the JSON writer makes phone calls service messages; the HTML writer draws them as a `media_call`
block inside an ordinary message); kinds follow the JSON importer's media mapping.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

from importers.base import file_opener
from importers.telegram_html.page import Item, Media
from vault.records import (
    AUDIO,
    CONTACT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    IMAGE,
    LOCATION,
    POLL,
    STICKER,
    TEXT,
    VIDEO,
    Attachment,
    Event,
    EventKind,
    Message,
    MessageKind,
    Problem,
    Reaction,
    Record,
)

# `title` of `.date.details`: FormatDateTime(date, true) in export_data_types.cpp; exports before
# the zone was added (tdesktop < 4.x) have no " UTC+hh:mm".
_DATE_RE = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}) (\d{1,2}):(\d{2}):(\d{2})(?: UTC([+-])(\d{1,2}):(\d{2}))?\s*$")
# The date separators (service entries with negative ids): FormatDateText, "5 January 2024".
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_DAY_RE = re.compile(r"(\d{1,2}) (" + "|".join(_MONTHS) + r") (\d{4})$")
_VIA_RE = re.compile(r" via @[A-Za-z0-9_]{3,}$")
_SECONDS_RE = re.compile(r"\((\d+) seconds\)")
# Service texts of export_output_html.cpp (pushMessage's serviceText), most specific first.
_SERVICE: list[tuple[re.Pattern[str], EventKind, str | None]] = [
    (re.compile(r"^(?P<a>.+?) invited .+ to the voice chat$"), EV_CALL, "invite_to_group_call"),
    (re.compile(r"^(?P<a>.+?) started voice chat"), EV_CALL, "group_call"),
    (re.compile(r"^Voice chat \("), EV_CALL, "group_call"),
    (re.compile(r"^(?P<a>.+?) created group «"), EV_TITLE, "create_group"),
    (re.compile(r"^(?P<a>.+?) changed group title to «"), EV_TITLE, "edit_group_title"),
    (re.compile(r"^Channel title changed to «"), EV_TITLE, "edit_group_title"),
    (re.compile(r"^Channel «.*» created$"), EV_TITLE, "create_channel"),
    (re.compile(r"^(?P<a>.+?) joined group by link from "), EV_JOIN, "join_group_by_link"),
    (re.compile(r"^(?P<a>.+?) joined group by request$"), EV_JOIN, "join_group_by_request"),
    (re.compile(r"^(?P<a>.+?) joined Telegram$"), EV_JOIN, "joined_telegram"),
    (re.compile(r"^(?P<a>.+?) (?:changed|removed) group photo$"), EV_SYSTEM, None),
    (re.compile(r"^(?P<a>.+?) invited "), EV_JOIN, "invite_members"),
    (re.compile(r"^(?P<a>.+?) removed "), EV_LEAVE, "remove_members"),
    (re.compile(r"^(?P<a>.+?) pinned "), EV_PIN, "pin_message"),
]
# What tdesktop writes for a message it cannot export (pushMessage, UnsupportedMedia).
_UNSUPPORTED = "This message is not supported by this version of Telegram Desktop"
_FILE_KINDS = frozenset({IMAGE, STICKER, GIF, VIDEO, AUDIO, FILE})


def parse_time(title: str | None, zone: ZoneInfo | None) -> datetime | None:
    """The instant a `title` names; naive when it has no offset (older exports).

    tdesktop writes the *standard* offset of the exporting machine's zone in every title
    (QTimeZone::StandardTime), also in daylight-saving months; with `zone` (the person says where
    the export was made) a time is read in that zone's rules when the zone's standard offset agrees.
    """
    if not title:
        return None
    m = _DATE_RE.search(title.strip())
    if m is None:
        return None
    d, mo, y, h, mi, s = (int(x) for x in m.groups()[:6])
    wall = datetime(y, mo, d, h, mi, s)
    if m.group(7) is None:
        return wall
    offset = timedelta(hours=int(m.group(8)), minutes=int(m.group(9)))
    if m.group(7) == "-":
        offset = -offset
    if zone is not None:
        local = wall.replace(tzinfo=zone)
        utc_off, dst = local.utcoffset(), local.dst()
        if utc_off is not None and utc_off - (dst or timedelta(0)) == offset:
            return local.astimezone(timezone.utc)
    return wall.replace(tzinfo=timezone(offset))


def parse_day(text: str | None) -> datetime | None:
    m = _DAY_RE.match((text or "").strip())
    if m is None:
        return None
    return datetime(int(m.group(3)), _MONTHS.index(m.group(2)) + 1, int(m.group(1)))


def _media_kind(m: Media) -> MessageKind:
    c = m.classes
    if "photo_wrap" in c:
        return IMAGE
    if "sticker_wrap" in c:
        return STICKER
    if "animated_wrap" in c:
        return GIF
    if "video_file_wrap" in c:
        return VIDEO
    if "media_photo" in c:
        return STICKER if m.title == "Sticker" else IMAGE
    if "media_video" in c:
        return GIF if m.title == "Animation" else VIDEO
    if "media_voice_message" in c or "media_audio_file" in c:
        return AUDIO
    if "media_file" in c:
        return FILE
    if "media_contact" in c:
        return CONTACT
    if c & {"media_location", "media_live_location", "media_venue"}:
        return LOCATION
    return TEXT  # games, invoices, paid media: the text says what there is


def _is_local(href: str) -> bool:
    return not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", href) and not href.startswith(("#", "/", "\\"))


def attachment(folder: Path, root: Path, m: Media, kind: MessageKind) -> Attachment:
    """The file a media block links to, opened only when it resolves inside the export `root`."""
    if not m.href or not _is_local(m.href):
        return Attachment(name=kind, kind=kind, mime="image/jpeg" if kind == IMAGE else None)  # "not included"
    rel = m.href.split("#", 1)[0].replace("\\", "/")
    name = rel.rsplit("/", 1)[-1] or kind
    mime = mimetypes.guess_type(name)[0] or ("image/jpeg" if kind == IMAGE else None)
    target: Path | None = None
    if "\x00" not in rel:
        try:
            base = root.resolve(strict=True)
            t = (folder / rel).resolve(strict=True)
            if base in t.parents and t.is_file():
                target = t
        except (OSError, RuntimeError):
            target = None
    if target is None:
        return Attachment(name=name, kind=kind, mime=mime)
    return Attachment(name=name, kind=kind, mime=mime, size=target.stat().st_size, open=file_opener(target))


class ChatState:
    """What carries from one item to the next within a chat: the sender of `joined` messages,
    the forwarded-from name of joined forwards, the last exact time (for service entries, which
    the HTML writer prints without one)."""

    def __init__(self) -> None:
        self.sender: str | None = None
        self.forwarded_name: str | None = None
        self.last_ts: datetime | None = None
        self.day: datetime | None = None  # the last date separator
        self.last_day: datetime | None = None  # the separator date of last_ts
        self.pending: list[tuple[Item, datetime | None]] = []  # service entries waiting for a time


def convert(
    item: Item, chat_key: str, st: ChatState, folder: Path, root: Path, zone: ZoneInfo | None, path: str
) -> Iterator[Record]:
    """Records for one item (service entries may come out later, once a time is known)."""
    if item.service:
        if item.mid < 0:  # a date separator, or "No exported messages"
            day = parse_day(item.text)
            if day is not None:
                st.day = day
            return
        if (item.text or "").lstrip().startswith(_UNSUPPORTED):
            return  # the JSON export skips these too ("type": "unsupported")
        st.pending.append((item, st.day))
        if len(st.pending) > 1000:  # a run of service entries with no message after them
            yield from flush(chat_key, st, None)
        return
    ts = parse_time(item.date_title, zone)
    if ts is None:
        yield Problem(path, item.line, "a message without a readable time; skipped")
        return
    yield from flush(chat_key, st, ts)
    st.last_ts, st.last_day = ts, st.day
    if item.joined:
        sender = st.sender
    else:
        sender = item.sender
        st.sender = sender
    extra: dict[str, object] = {}
    if sender is not None:
        via = _VIA_RE.search(sender)
        if via:
            extra["via_bot"] = sender[via.start() + len(" via ") :]
            sender = sender[: via.start()]
    if item.forwarded:
        if item.forwarded_name is not None:
            st.forwarded_name = item.forwarded_name
        fwd = item.forwarded_name or st.forwarded_name
        if item.forwarded_date:
            extra["forwarded_date"] = item.forwarded_date
    else:
        fwd = None
        st.forwarded_name = None
    calls = [m for m in item.media if "media_call" in m.classes]
    if calls:
        yield _call(item, chat_key, ts, sender, calls[0])
        return
    kind: MessageKind = TEXT
    atts: list[Attachment] = []
    for m in item.media:
        k = _media_kind(m)
        if k == TEXT:
            continue
        kind = k
        if k in _FILE_KINDS:
            atts.append(attachment(folder, root, m, k))
    text = item.text or ""
    if item.poll_question is not None:
        kind = POLL
        if not text:
            text = "\n".join([item.poll_question, *(f"- {a}" for a in item.poll_answers)])
    if item.signature:
        extra["author"] = item.signature
    reactions: list[Reaction] = []
    counts: dict[str, int] = {}
    for r in item.reactions:
        if not r.emoji:
            continue
        reactions.extend(Reaction(emoji=r.emoji, sender=n) for n in r.names)
        if not r.names:
            reactions.append(Reaction(emoji=r.emoji))
        counts[r.emoji] = r.count if r.count is not None else max(len(r.names), 1)
    if counts:
        extra["reaction_counts"] = counts
    if item.cut:
        yield Problem(path, item.line, "a text longer than 1 MiB was cut")
    yield Message(
        chat=chat_key,
        ts=ts,
        sender=sender or None,
        text=text,
        kind=kind,
        source_id=str(item.mid),
        reply_to=item.reply_id(),
        forwarded_from=fwd,
        attachments=tuple(atts),
        reactions=tuple(reactions),
        line=item.line,
        extra=extra,
    )


def _call(item: Item, chat_key: str, ts: datetime, sender: str | None, m: Media) -> Event:
    """A phone call: the JSON export's `phone_call` service entry, with its duration."""
    extra: dict[str, object] = {"action": "phone_call"}
    secs = _SECONDS_RE.search(m.status)
    if secs:
        extra["duration_s"] = int(secs.group(1))
    status = m.status.split(" (", 1)[0]
    if status in ("Missed", "Cancelled", "Declined", "Busy"):
        extra["discard_reason"] = status.lower()
    return Event(
        chat=chat_key,
        ts=ts,
        text=" ".join(x for x in ("Call", m.status) if x),
        kind=EV_CALL,
        actor=sender or None,
        source_id=str(item.mid),
        line=item.line,
        extra=extra,
    )


def flush(chat_key: str, st: ChatState, next_ts: datetime | None) -> Iterator[Record]:
    """The waiting service entries, each at the time of the message before it when that was on
    the same day, else of the message after it (the HTML gives service entries no time)."""
    pending, st.pending = st.pending, []
    for item, day in pending:
        if st.last_ts is not None and (day is None or st.last_day == day or next_ts is None):
            ts = st.last_ts
        elif next_ts is not None:
            ts = next_ts
        elif day is not None:
            ts = day
        else:
            continue
        yield service_event(item, chat_key, ts)


def service_event(item: Item, chat_key: str, ts: datetime) -> Event:
    text = " ".join((item.text or "").split())
    kind: EventKind = EV_SYSTEM
    actor, action = None, None
    for rx, k, act in _SERVICE:
        m = rx.search(text)
        if m:
            kind, action = k, act
            actor = m.groupdict().get("a")
            break
    extra: dict[str, object] = {"time": "estimated"}
    if action:
        extra["action"] = action
    secs = _SECONDS_RE.search(text)
    if secs and kind == EV_CALL:
        extra["duration_s"] = int(secs.group(1))
    return Event(
        chat=chat_key,
        ts=ts,
        text=text,
        kind=kind,
        actor=actor,
        source_id=str(item.mid),
        line=item.line,
        extra=extra,
    )
