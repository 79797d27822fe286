"""One backup element (<sms>, <mms>, <call>) turned into records, and the chats they belong to."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import IO, Any

from importers.android_sms.phones import (
    OWN_ADDRESS_TOKEN,
    chat_key,
    clean,
    display_name,
    normalise,
    split_addresses,
)
from vault.records import (
    AUDIO,
    CONTACT,
    DIRECT,
    EV_CALL,
    FILE,
    GROUP,
    IMAGE,
    TEXT,
    VIDEO,
    Attachment,
    Chat,
    ChatKind,
    Event,
    Message,
    MessageKind,
    Problem,
    Record,
)

SOURCE = "sms"
OWNER = "You"  # the phone's owner, as other importers name them

# <sms type>: Android's Telephony.TextBasedSmsColumns.MESSAGE_TYPE_* values.
SMS_RECEIVED = 1
SMS_SENT = 2
SMS_DRAFT = 3
SMS_OUTBOX = 4
SMS_FAILED = 5
SMS_QUEUED = 6
SMS_BOX = {
    SMS_RECEIVED: "received",
    SMS_SENT: "sent",
    SMS_DRAFT: "draft",
    SMS_OUTBOX: "outbox",
    SMS_FAILED: "failed",
    SMS_QUEUED: "queued",
}
# <mms msg_box>: Telephony.BaseMmsColumns.MESSAGE_BOX_* values.
MMS_BOX = {1: "received", 2: "sent", 3: "draft", 4: "outbox", 5: "failed"}
MMS_RECEIVED = 1
# <addr type>: PduHeaders FROM / TO / CC / BCC.
ADDR_FROM = 137
ADDR_TO = 151
ADDR_CC = 130
ADDR_BCC = 129
# <call type>: CallLog.Calls.*_TYPE values.
CALL_TYPES = {
    1: "incoming",
    2: "outgoing",
    3: "missed",
    4: "voicemail",
    5: "rejected",
    6: "refused",  # the number was on the block list
}
# MMS parts that are the message's layout or text, not attachments.
SMIL = "application/smil"
TEXT_PLAIN = "text/plain"

#: The largest MMS part whose base64 this importer decodes (in bytes, after decoding). Carriers cap
#: MMS at about 1 MB, and phones at a few MB; a bigger part is reported and left out.
MAX_PART_BYTES = 32 * 1024 * 1024
#: The most media one MMS may carry in all (its parts are held until the message is complete).
MAX_MMS_BYTES = 64 * 1024 * 1024


def epoch_ms(value: str | None) -> datetime | None:
    value = clean(value)
    if value is None:
        return None
    try:
        ms = int(value)
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None


def as_int(value: str | None) -> int | None:
    value = clean(value)
    if value is None:
        return None
    try:
        return int(value)
    except ValueError:
        return None


class BytesOpener:
    """Opens an MMS part's decoded bytes (picklable, for vault/parse_ahead.py)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __call__(self) -> IO[bytes]:
        import io

        return io.BytesIO(self.data)

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return (BytesOpener, (self.data,))


def kind_of_mime(mime: str | None) -> MessageKind:
    m = (mime or "").casefold()
    if m.startswith("image/"):
        return IMAGE
    if m.startswith("video/"):
        return VIDEO
    if m.startswith("audio/"):
        return AUDIO
    if m in ("text/x-vcard", "text/vcard"):
        return CONTACT
    return FILE


@dataclass
class Chats:
    """The chats seen so far, the names learnt for numbers, and the Chat records still to emit."""

    seen: dict[str, str] = field(default_factory=dict)  # key -> title
    names: dict[str, str] = field(default_factory=dict)  # normalised number -> contact name

    def learn(self, number: str, contact_name: str | None) -> None:
        name = display_name(contact_name, number)
        if name != number:
            self.names[number] = name

    def name_of(self, number: str) -> str:
        return self.names.get(number, number)

    def chat(self, participants: list[str], title: str, extra: dict[str, Any] | None = None) -> tuple[str, Chat | None]:
        """The key of the chat with these participants, and its Chat record the first time."""
        key = chat_key(participants)
        if key in self.seen:
            return key, None
        self.seen[key] = title
        kind: ChatKind = GROUP if len(participants) > 1 else DIRECT
        people = tuple(self.name_of(p) for p in sorted(set(participants)))
        return key, Chat(source=SOURCE, key=key, title=title, kind=kind, participants=people, extra=extra or {})


def sms_records(attrs: dict[str, str], line: int, path: str, chats: Chats) -> list[Record]:
    """The Chat (the first time) and the Message of one <sms>."""
    ts = epoch_ms(attrs.get("date"))
    if ts is None:
        return [Problem(path, line, "an <sms> without a readable date was skipped")]
    addresses = split_addresses(attrs.get("address"))
    if not addresses:
        return [Problem(path, line, "an <sms> without an address was skipped")]
    box = as_int(attrs.get("type"))
    from_me = box != SMS_RECEIVED
    if len(addresses) == 1:
        chats.learn(addresses[0], attrs.get("contact_name"))
        title = chats.name_of(addresses[0])
    else:
        title = group_title(addresses, attrs.get("contact_name"), chats)
    key, chat = chats.chat(addresses, title)
    out: list[Record] = [chat] if chat is not None else []
    sender_id = None if from_me else addresses[0]
    extra: dict[str, Any] = {"box": SMS_BOX.get(box or 0, str(box))}
    subject = clean(attrs.get("subject"))
    if subject is not None:
        extra["subject"] = subject
    sent = epoch_ms(attrs.get("date_sent"))
    if sent is not None and sent.timestamp() > 0 and not from_me:
        extra["sent"] = sent.isoformat()
    out.append(
        Message(
            chat=key,
            ts=ts,
            sender=OWNER if from_me else (None if sender_id is None else chats.name_of(sender_id)),
            sender_id=sender_id,
            from_me=from_me,
            text=attrs.get("body") or "",
            kind=TEXT,
            line=line,
            extra=extra,
        )
    )
    return out


def group_title(numbers: list[str], contact_name: str | None, chats: Chats) -> str:
    """A group's title: the names the app wrote ("Ann, Bo, Cy"), else the participants' numbers.

    When the names are as many as the numbers, they are taken to be in the same order (the app
    writes both from the same list) and teach the sender names of the group's messages.
    """
    name = clean(contact_name)
    if name is not None and name != "(Unknown)":
        parts = [p.strip() for p in name.split(",")]
        if len(parts) == len(numbers):
            for number, part in zip(numbers, parts):
                chats.learn(number, part)
        return name
    return ", ".join(chats.name_of(n) for n in numbers)


@dataclass
class PendingMms:
    """An <mms> being read: its own attributes, its parts and its addresses."""

    attrs: dict[str, str]
    line: int
    texts: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    addrs: list[tuple[str, int | None]] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    held: int = 0

    def add_part(self, attrs: dict[str, str], line: int, path: str) -> None:
        ct = clean(attrs.get("ct")) or "application/octet-stream"
        if ct.casefold() == SMIL:
            return
        if ct.casefold() == TEXT_PLAIN and attrs.get("data") is None:
            text = clean(attrs.get("text"))
            if text is not None:
                self.texts.append(attrs.get("text") or "")
            return
        name = clean(attrs.get("name")) or clean(attrs.get("fn")) or clean(attrs.get("cl"))
        name = name or f"part-{clean(attrs.get('seq')) or len(self.attachments)}"
        data = attrs.get("data")
        opener: BytesOpener | None = None
        size: int | None = None
        if data is not None:
            # base64 grows by 4/3: refuse an oversize part before decoding it
            if len(data) // 4 * 3 > MAX_PART_BYTES or self.held + len(data) // 4 * 3 > MAX_MMS_BYTES:
                self.problems.append(
                    Problem(
                        path,
                        line,
                        f"an MMS part larger than {MAX_PART_BYTES >> 20} MiB (or an MMS above "
                        f"{MAX_MMS_BYTES >> 20} MiB of media) was left out",
                    )
                )
            else:
                try:
                    decoded = base64.b64decode(data)
                except (binascii.Error, ValueError):
                    self.problems.append(
                        Problem(path, line, "an MMS part's base64 data is damaged; the file was left out")
                    )
                else:
                    self.held += len(decoded)
                    opener, size = BytesOpener(decoded), len(decoded)
        self.attachments.append(Attachment(name=name, kind=kind_of_mime(ct), mime=ct, size=size, open=opener))

    def add_addr(self, attrs: dict[str, str]) -> None:
        address = clean(attrs.get("address"))
        if address is not None:
            self.addrs.append((address, as_int(attrs.get("type"))))


def mms_records(mms: PendingMms, path: str, chats: Chats) -> list[Record]:
    """The Chat (the first time) and the Message of one complete <mms>."""
    attrs, line = mms.attrs, mms.line
    out: list[Record] = list(mms.problems)
    ts = epoch_ms(attrs.get("date"))
    if ts is None:
        return [*out, Problem(path, line, "an <mms> without a readable date was skipped")]
    box = as_int(attrs.get("msg_box"))
    from_me = box != MMS_RECEIVED
    sender_raw = next((a for a, t in mms.addrs if t == ADDR_FROM), None)
    participants = split_addresses(attrs.get("address"))
    if not participants:
        # no conversation address: everyone on the message but the owner
        own = {OWN_ADDRESS_TOKEN}
        if from_me and sender_raw is not None:
            own.add(sender_raw)
        participants = list(dict.fromkeys(normalise(a) for a, _ in mms.addrs if a not in own))
    if not participants:
        return [*out, Problem(path, line, "an <mms> without addresses was skipped")]
    if len(participants) == 1:
        chats.learn(participants[0], attrs.get("contact_name"))
        title = chats.name_of(participants[0])
    else:
        title = group_title(participants, attrs.get("contact_name"), chats)
    key, chat = chats.chat(participants, title)
    if chat is not None:
        out.append(chat)
    sender_id: str | None = None
    if not from_me:
        if sender_raw is not None and sender_raw != OWN_ADDRESS_TOKEN:
            sender_id = normalise(sender_raw)
        elif len(participants) == 1:
            sender_id = participants[0]
    text = "\n".join(mms.texts)
    subject = clean(attrs.get("sub"))
    extra: dict[str, Any] = {"box": MMS_BOX.get(box or 0, str(box)), "mms": True}
    if subject is not None:
        extra["subject"] = subject
        if not text:
            text = subject
    attachments = tuple(mms.attachments)
    kind = attachments[0].kind if attachments else TEXT
    m_id = clean(attrs.get("m_id"))
    out.append(
        Message(
            chat=key,
            ts=ts,
            sender=OWNER if from_me else (None if sender_id is None else chats.name_of(sender_id)),
            sender_id=sender_id,
            from_me=from_me,
            text=text,
            kind=kind,
            source_id=None if m_id is None else "mms:" + m_id,
            attachments=attachments,
            line=line,
            extra=extra,
        )
    )
    return out


def call_records(attrs: dict[str, str], line: int, path: str, chats: Chats) -> list[Record]:
    """The Chat (the first time) and the EV_CALL Event of one <call>."""
    ts = epoch_ms(attrs.get("date"))
    if ts is None:
        return [Problem(path, line, "a <call> without a readable date was skipped")]
    numbers = split_addresses(attrs.get("number"))
    number = numbers[0] if numbers else "private"  # withheld numbers arrive empty or as -1/-2
    chats.learn(number, attrs.get("contact_name"))
    key, chat = chats.chat([number], chats.name_of(number))
    out: list[Record] = [chat] if chat is not None else []
    call_type = as_int(attrs.get("type"))
    direction = CALL_TYPES.get(call_type or 0, "call")
    duration = as_int(attrs.get("duration")) or 0
    extra: dict[str, Any] = {"duration_s": duration, "call_type": direction}
    presentation = as_int(attrs.get("presentation"))
    if presentation is not None:
        extra["presentation"] = presentation
    text = f"{direction} call" + (f" ({duration} s)" if duration else "")
    actor = None if call_type == 2 else chats.name_of(number)
    out.append(Event(chat=key, ts=ts, text=text, kind=EV_CALL, actor=actor, line=line, extra=extra))
    return out
