"""What the text after a WhatsApp header means: who wrote it, and whether it is a message or a notice.

After the header comes either `Author: text` or a bare notice ("Dmitry S created group …"). The
text may be a placeholder WhatsApp wrote in the phone's language: media left out ("<Media omitted>",
"‎image omitted"), a file in the export ("IMG-….jpg (file attached)", "‎<attached: 00000035-PHOTO-….jpg>"),
a deleted message, a call, a location or venue, a poll, the edited marker; and iOS prints chat-level
notices under the chat's own name ("Elon Musk: ‎Messages and calls are end-to-end encrypted…"),
which must not become messages from a person. formats/whatsapp-*.md §1.1, §1.3 and §1.7 describe
each form; whatsapp/phrases.py holds the words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from importers.whatsapp import phrases as P
from vault.records import (
    AUDIO,
    CALL,
    CONTACT,
    DELETED,
    EV_CALL,
    EV_ENCRYPTION,
    EV_SYSTEM,
    FILE,
    GIF,
    IMAGE,
    LOCATION,
    MEDIA,
    OTHER,
    POLL,
    STICKER,
    TEXT,
    VIDEO,
    EventKind,
    MessageKind,
)

_LEADING_MARKS = tuple(P.MARKS)
_QUOTE_RE = re.compile('["“”«»„]')
# iOS writes a sender who is not in the address book as "~ Name" (mtln/chat-export#16).
_NOT_A_CONTACT_PREFIXES = ("~ ", "~\u00a0", "~\u202f")
# Longest document or file name considered when matching placeholders (names are at most 255 bytes).
_MAX_NAME_BODY = 600

# File-name hints WhatsApp uses for media it puts into an export.
_NAME_KINDS: tuple[tuple[str, MessageKind], ...] = (
    ("-PHOTO-", IMAGE),
    ("-VIDEO-", VIDEO),
    ("-AUDIO-", AUDIO),
    ("-STICKER-", STICKER),
    ("-GIF-", GIF),
    ("IMG-", IMAGE),
    ("VID-", VIDEO),
    ("PTT-", AUDIO),
    ("AUD-", AUDIO),
    ("STK-", STICKER),
)
_EXTENSION_KINDS: dict[str, MessageKind] = {
    "jpg": IMAGE, "jpeg": IMAGE, "png": IMAGE, "heic": IMAGE, "gif": GIF, "webp": STICKER,
    "mp4": VIDEO, "mov": VIDEO, "3gp": VIDEO, "opus": AUDIO, "ogg": AUDIO, "m4a": AUDIO,
    "mp3": AUDIO, "aac": AUDIO, "amr": AUDIO, "vcf": CONTACT,
}  # fmt: skip
_EXTENSION_MIME = {
    "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png", "heic": "image/heic",
    "gif": "image/gif", "webp": "image/webp", "mp4": "video/mp4", "mov": "video/quicktime",
    "3gp": "video/3gpp", "opus": "audio/ogg", "ogg": "audio/ogg", "m4a": "audio/mp4",
    "mp3": "audio/mpeg", "aac": "audio/aac", "amr": "audio/amr", "vcf": "text/vcard",
    "pdf": "application/pdf", "txt": "text/plain",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}  # fmt: skip


def kind_of_file(name: str) -> MessageKind:
    """The message kind a WhatsApp media file name suggests (IMG-…, 00000035-PHOTO-…, .vcf, ...)."""
    for hint, kind in _NAME_KINDS:
        if hint in name:
            return kind
    return _EXTENSION_KINDS.get(name.rpartition(".")[2].casefold(), FILE)


def mime_of_file(name: str) -> str | None:
    return _EXTENSION_MIME.get(name.rpartition(".")[2].casefold())


@dataclass
class Body:
    """A record's meaning: an Event of kind `event`, or a Message of `kind`, with the text to store."""

    text: str
    kind: MessageKind = OTHER  # a message's kind (unused for an event)
    event: EventKind | None = None  # an event's kind; None for a message
    sender: str | None = None  # who sent the message; for an event, the actor (if any)
    file_name: str | None = None  # a file the export names (present in "with media" exports)
    extra: dict[str, Any] = field(default_factory=dict)
    group_hint: bool = False  # the notice shows that the chat is a group
    problem: str | None = None  # something damaged in the record, said without its content

    @property
    def is_event(self) -> bool:
        return self.event is not None


def split_sender(rest: str) -> tuple[str | None, str, bool]:
    """(sender, body, not-a-contact) of the text after the header; sender None for a notice.

    A notice has no "Name: " before its text, or starts with a mark (iOS and the Russian Android
    notices: "‎You created group …"), or has an unbalanced quote before the first ": " (the colon is
    inside a group subject: `X changed the subject to "Trip: Paris"`).
    """
    if rest.startswith(_LEADING_MARKS[:2]):  # LRM, RLM: senders start with a letter, "+", "~" or LRE
        return None, rest, False
    i = rest.find(": ")
    if i < 0:
        if rest.endswith(":") and len(rest) > 1:
            i = len(rest) - 1
        else:
            return None, rest, False
    name = rest[:i]
    cached = _SENDERS.get(name)
    if cached is None:
        not_contact = name.startswith(_NOT_A_CONTACT_PREFIXES)
        if _QUOTE_RE.search(name) is not None and not _quotes_balanced(name):
            cached = ("", False)  # a colon inside a quote: no sender
        else:
            cached = (P.clean_name(name[2:] if not_contact else name), not_contact)
        if len(_SENDERS) >= _SENDERS_MAX:
            _SENDERS.clear()
        _SENDERS[name] = cached
    sender, not_contact = cached
    if not sender:
        return None, rest, False
    return sender, rest[i + 2 :], not_contact


# Sender names as printed → (cleaned name, not-a-contact), ("", False) for none: a chat has few
# senders and many lines.
_SENDERS: dict[str, tuple[str, bool]] = {}
_SENDERS_MAX = 4096


def _quotes_balanced(name: str) -> bool:
    straight = name.count('"') % 2 == 0
    return straight and name.count("“") == name.count("”") and name.count("«") == name.count("»")


def plain_text(body: str) -> bool:
    """Whether a named sender's `body` is plain text, as classify() would find: True only when
    classify(sender, body, ...) is Body(kind=TEXT, text=body, sender=sender) whatever the other
    arguments. The parser's fast path: a handful of substring tests instead of every placeholder's
    (most messages are one line of text; tests/importers compare it with classify)."""
    if "\n" in body or not body or body[0] in P.MARKS or body.endswith((">", ")")):
        return False  # several lines, a leading mark (notice, media), edited or an attachment
    if "http" in body or body.startswith(P.POLL_PREFIX):
        return False  # a location, a poll
    if len(body) <= P.MAX_PHRASE_LEN * 2 and ("call" in body or "Call" in body or "ocation" in body):
        return False
    if len(body) <= _MAX_NAME_BODY and ("\u200e" in body or "\u200f" in body):
        return False  # an iOS document placeholder
    if len(body) <= P.MAX_PHRASE_LEN and P.phrase_key(body) in P.PLACEHOLDERS:
        return False
    return not P.is_e2e_notice(body)


def classify(sender: str | None, body: str, *, line_marked: bool, chat_title: str) -> Body:
    """What a record is. `line_marked`: the line started with a mark before the header (iOS does
    this for media lines); `chat_title`: the chat's name, under which iOS prints notices."""
    if sender is None:
        return _notice(body, actor=None)
    edited = False
    if body.endswith(">"):
        m = P.EDITED_RE.search(body)
        if m is not None:
            body = body[: m.start()]
            edited = True
    result = _message(body)
    if result is None:
        result = _sender_notice(sender, body, line_marked=line_marked, chat_title=chat_title)
    if result.event is None or result.event == EV_CALL:
        result.sender = sender
    if edited:
        result.extra["edited"] = True
    return result


def _notice(body: str, actor: str | None) -> Body:
    """A notice: its text without WhatsApp's marks, its kind from its words."""
    text = P.without_marks(body)
    kind = EV_ENCRYPTION if P.is_e2e_notice(text) else P.notice_kind(text)
    if kind is None and P.CALL_RE.fullmatch(text):
        kind = EV_CALL
    return Body(
        event=kind or EV_SYSTEM,
        text=text,
        sender=actor,
        group_hint=P.is_group_notice(text, kind),
    )


def _sender_notice(sender: str, body: str, *, line_marked: bool, chat_title: str) -> Body:
    """A body from a named sender that is no placeholder: a notice under the chat's name, or text.

    iOS prints chat-level notices under the chat's name with U+200E (or U+200F) before the text:
    the end-to-end notice (known in many languages), "‎‎Your security code with X changed. ‎Tap to
    learn more." (several marks), disappearing-message timers, ... A marked body is taken as a
    notice when it is a known notice, carries several marks, or comes under the chat's own name; a
    marked line WhatsApp also marked before the header is a media placeholder in a language the
    tables lack. Anything else stays the sender's text, exactly as written.
    """
    core = body.lstrip(P.MARKS)
    if P.is_e2e_notice(core):
        return Body(event=EV_ENCRYPTION, text=P.without_marks(body))
    if len(core) == len(body):
        return Body(kind=TEXT, text=body)
    marks = sum(body.count(c) for c in "\u200e\u200f")
    if sender == chat_title or marks >= 2 or P.NOTICE_HINTS_RE.search(core):
        return _notice(body, actor=None if sender == chat_title else sender)
    if line_marked:
        return Body(kind=MEDIA, text="", extra={"placeholder": P.without_marks(body)})
    return Body(kind=TEXT, text=body)


_CALL_LENGTH = re.compile(r"(\d+)\s*(hr|h|min|sec|s)\b", re.IGNORECASE)
_CALL_UNIT = {"hr": 3600, "h": 3600, "min": 60, "sec": 1, "s": 1}


def _call_seconds(text: str) -> int | None:
    """The length of an iOS call line ("Voice call, 19 sec", "Video call, 1 hr 2 min"), if it has one."""
    parts = _CALL_LENGTH.findall(text.partition(",")[2])
    if not parts:
        return None
    return sum(int(n) * _CALL_UNIT[unit.lower()] for n, unit in parts)


def _message(body: str) -> Body | None:
    """A placeholder, attachment, location or poll message; None when the body is none of these."""
    first_line, _, caption = body.partition("\n")
    if len(first_line) <= P.MAX_PHRASE_LEN:
        hit = P.PLACEHOLDERS.get(P.phrase_key(first_line))
        if hit is not None and (not caption or hit[0] not in (DELETED, CALL)):
            kind, what = hit
            if kind == CALL:  # a call is an event (cli-contract.md); the caller is its actor
                return Body(event=EV_CALL, text=P.without_marks(body), extra={"missed": True})
            # Android puts a caption under "<Media omitted>" on the next lines.
            extra = {_FLAGS[what]: True} if what in _FLAGS else {}
            return Body(kind=kind, text=caption, extra=extra)
    if first_line.endswith(")") and "(" in first_line:
        m = P.FILE_ATTACHED_RE.match(first_line)
        if m is not None:
            name = P.clean_name(m["name"])
            return Body(kind=kind_of_file(name), text=caption, file_name=name)
    if len(body) <= P.MAX_PHRASE_LEN * 2 and ("call" in body or "Call" in body or "ocation" in body):
        core = P.without_marks(body)
        if P.CALL_RE.fullmatch(core):
            call: dict[str, Any] = {"missed": core.casefold().startswith("missed")}
            seconds = _call_seconds(core)
            if seconds is not None:
                call["duration_s"] = seconds
            return Body(event=EV_CALL, text=core, extra=call)
        if core.casefold() in P.LIVE_LOCATION:
            return Body(kind=LOCATION, text=core, extra={"live": True})
    if body.endswith(">") and "<" in body:
        attached = _attached(body)
        if attached is not None:
            return attached
    if "http" in body:
        located = _location(body)
        if located is not None:
            return located
    if len(body) <= _MAX_NAME_BODY and ("\u200e" in body or "\u200f" in body):
        omitted = _document_omitted(body)
        if omitted is not None:
            return omitted
    if body.lstrip(P.MARKS).startswith(P.POLL_PREFIX):
        return Body(kind=POLL, text=P.without_marks(body))
    return None


# What a placeholder table entry says → the flag put into Message.extra.
_FLAGS = {"omitted": "media_omitted", "view_once": "view_once"}


def _document_omitted(body: str) -> Body | None:
    """iOS "Some file.txt ‎document omitted" / "Resume.pdf • ‎2 pages ‎document omitted"."""
    m = P.DOCUMENT_OMITTED_RE.fullmatch(body.lstrip(P.MARKS))
    if m is None:
        return None
    hit = P.PLACEHOLDERS.get(P.phrase_key(m["phrase"]))
    if hit is None or hit[0] in (DELETED, CALL):
        return None
    name = P.clean_name(m["name"])
    kind = FILE if hit[0] == MEDIA else hit[0]
    return Body(kind=kind, text="", file_name=name or None, extra={"media_omitted": True})


def _attached(body: str) -> Body | None:
    """iOS "‎<attached: NAME>" (localized labels) and the old "NAME <‎attached>"."""
    i = body.rfind("<")
    m = P.ATTACHED_RE.match(body, i)
    if m is None:
        old = P.OLD_ATTACHED_RE.fullmatch(body)
        if old is None:
            return None
        name = P.clean_name(old["name"])
        return Body(kind=kind_of_file(name), text="", file_name=name)
    label = P.clean_name(m["label"]).casefold()
    if label not in P.ATTACHED_LABELS and not body[:i].endswith(_LEADING_MARKS):
        return None  # "<note: x>" typed by a person, not an iOS placeholder
    # A name broken over lines by a damaged export is joined again (ios_EN_bad_edited_asserted.txt).
    name = P.clean_name(m["name"].replace("\n", ""))
    if not name:
        return Body(
            kind=MEDIA,
            text="",
            problem="attachment placeholder without a file name",
        )
    return Body(kind=kind_of_file(name), text="", file_name=name)


def _location(body: str) -> Body | None:
    """Google Maps pins ("Location: https://maps.google.com/?q=lat,lon") and Foursquare venues."""
    if "maps.google." in body and len(body) <= _MAX_NAME_BODY:
        core = P.without_marks(body)
        m = P.LOCATION_RE.fullmatch(core)
        if m is not None:
            extra = {"url": m["url"], "latitude": float(m["lat"]), "longitude": float(m["lon"])}
            return Body(kind=LOCATION, text=core, extra=extra)
    if "foursquare.com" in body and len(body) <= _MAX_NAME_BODY * 2:
        m = P.VENUE_LINE_RE.fullmatch(body) or P.VENUE_LINES_RE.fullmatch(body)
        if m is not None:
            extra = {"url": m["url"], "venue": m["name"]}
            if m["address"]:
                extra["address"] = m["address"]
            return Body(kind=LOCATION, text=body, extra=extra)
    return None
