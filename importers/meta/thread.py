"""One Messenger or Instagram thread file (`message_N.json`, or an end-to-end-encrypted chat's
JSON) turned into records: the header scan, the mojibake repair, messages, reactions, media,
calls, unsent messages and group notices.

Two JSON shapes are read (formats/messenger-instagram-discord-slack-imessage.md §1):

- the "Download your information" shape (Facebook and Instagram, every layout so far):
  `{"participants": [{"name"}], "messages": [{"sender_name", "timestamp_ms", "content", ...}],
  "title", "thread_type", "thread_path", ...}`, every string mojibake'd (see `repair_mojibake`);
- the end-to-end-encrypted Messenger download ("secure storage"): camelCase keys,
  `{"participants": ["name"], "threadName", "messages": [{"senderName", "timestamp", "text",
  "media": [{"uri"}], "reactions": [{"actor", "reaction"}], "isUnsent", "type"}]}`, proper UTF-8.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import PurePosixPath
from typing import IO, Any

from importers.base import safe_member_name
from importers.tree import (
    ExportTree,
    dict_at,
    int_at,
    json_events,
    json_items,
    kind_for_name,
    list_at,
    mime_for_name,
    str_at,
)
from vault.records import (
    AUDIO,
    DELETED,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    IMAGE,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    Attachment,
    Event,
    EventKind,
    Message,
    MessageKind,
    Reaction,
)

LEGACY = "dyi"  # "Download your information" message_N.json
E2EE = "e2ee"  # end-to-end-encrypted Messenger download

UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
# Below this a timestamp is in seconds, above it in milliseconds (10^11 s is the year 5138;
# 10^11 ms is 1973). Real exports use ms for messages; a peer's fixture used ms where real
# files use seconds (corpus/instagram/PROVENANCE.md).
SECONDS_LIMIT = 10**11

# Media lists of a DYI message and the attachment kind each holds.
MEDIA_FIELDS: tuple[tuple[str, MessageKind], ...] = (
    ("photos", IMAGE),
    ("videos", VIDEO),
    ("gifs", GIF),
    ("audio_files", AUDIO),
    ("files", FILE),
)

# Old exports' per-message `type` (dropped in 2024 downloads, adurivault/FBMessage#5).
TYPE_JOIN = "Subscribe"
TYPE_LEAVE = "Unsubscribe"
TYPE_CALL = "Call"
TYPE_PLAIN = "Generic"

# English wording of the group notices Messenger and Instagram write as a message of the person
# who acted. They are recognised only when the text starts with that person's name (or "You"),
# so a person typing the same words is not mistaken for a notice. Other languages' notices stay
# ordinary messages.
_NOTICE_PATTERNS: tuple[tuple[EventKind, re.Pattern[str]], ...] = (
    (EV_TITLE, re.compile(r"(?:named the group|changed the group name to) (?P<title>.+?)\.?")),
    (EV_JOIN, re.compile(r"joined the group\.?|added .+ to the group\.?")),
    (EV_LEAVE, re.compile(r"left the group\.?|removed .+ from the group\.?")),
    (
        EV_SYSTEM,
        re.compile(
            r"(?:changed the group photo|created the group|changed the chat theme"
            r"|changed the theme to .+|set the emoji to .+|set the quick reaction to .+"
            r"|set (?:the|your|his own|her own|their own) nickname.*|cleared the nickname.*)\.?"
        ),
    ),
)
_SELF = "You"


def repair_mojibake(text: str) -> str:
    """Undo Meta's double encoding of one string.

    Meta writes every UTF-8 byte of a non-ASCII character as its own `\\u00XX` escape, so "é"
    reads back as "Ã©" and 😆 as "ð\\x9f\\x98\\x86". Reading the string's code points as
    Latin-1 bytes and decoding those as UTF-8 restores it. A string that is already correct
    (any character above U+00FF, or Latin-1 text such as "soñé" that is not valid UTF-8 as
    bytes) is returned unchanged (formats §1.3.2).
    """
    if text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def repair_all(value: Any) -> Any:
    """`repair_mojibake` applied to every string inside a JSON value."""
    if isinstance(value, str):
        return repair_mojibake(value)
    if isinstance(value, list):
        return [repair_all(v) for v in value]
    if isinstance(value, dict):
        return {k: repair_all(v) for k, v in value.items()}
    return value


class NotAThread(ValueError):
    """Valid JSON, but not a Messenger/Instagram message file."""


@dataclass
class ThreadHeader:
    """What a thread file says about its chat (its root keys other than `messages`)."""

    variant: str
    title: str | None = None
    thread_path: str | None = None
    thread_type: str | None = None
    participants: list[str] = field(default_factory=list)
    still_participant: bool | None = None
    camel_case: bool = False  # threadName or plain-string participants: the E2EE download
    messages: int = 0


# Keys of a message that tell the two shapes apart.
_LEGACY_KEYS = {"sender_name", "timestamp_ms"}
_E2EE_KEYS = {"senderName", "timestamp"}
_MAX_KEYS = 200  # distinct message keys remembered while scanning (bounded memory)
_MAX_PARTICIPANTS = 10_000


def scan_thread(fh: IO[bytes]) -> ThreadHeader:
    """Read a whole thread file once without building its messages: check that it is complete,
    well-formed JSON of one of the two shapes, and collect the header (which Meta writes *after*
    the messages, so it cannot be had while streaming them).

    Raises NotAThread, or ijson/IO errors for unreadable JSON.
    """
    header = ThreadHeader(variant="")
    message_keys: set[str] = set()
    has_messages = False
    first = True
    for prefix, event, value in json_events(fh):
        if first:
            if (prefix, event) != ("", "start_map"):
                raise NotAThread("not a JSON object")
            first = False
        if prefix == "messages.item":
            if event == "start_map":
                header.messages += 1
            elif event == "map_key" and len(message_keys) < _MAX_KEYS:
                message_keys.add(value)
        elif prefix == "messages":
            if event not in ("start_array", "end_array"):
                raise NotAThread("messages is not a list")
            has_messages = True
        elif event == "string":
            _header_string(header, prefix, value)
        elif prefix == "is_still_participant" and event == "boolean":
            header.still_participant = value
    if not has_messages:
        raise NotAThread("no messages list")
    if message_keys >= _LEGACY_KEYS:
        header.variant = LEGACY
    elif message_keys >= _E2EE_KEYS:
        header.variant = E2EE
    elif header.messages == 0:
        header.variant = E2EE if header.camel_case else LEGACY
    else:
        raise NotAThread("messages lack sender and time")
    return header


def _header_string(header: ThreadHeader, prefix: str, value: str) -> None:
    if prefix in ("title", "threadName"):
        header.title = value
        header.camel_case |= prefix == "threadName"
    elif prefix == "thread_path":
        header.thread_path = value
    elif prefix == "thread_type":
        header.thread_type = value
    elif prefix in ("participants.item.name", "participants.item"):
        header.camel_case |= prefix == "participants.item"
        if len(header.participants) < _MAX_PARTICIPANTS:
            header.participants.append(value)


@dataclass
class ThreadContext:
    """Where one thread's records go and where its media are looked up."""

    chat: str
    variant: str
    tree: ExportTree
    thread_dir: str  # the thread file's folder inside the tree ("" at the tree's root)
    folder_name: str | None  # the thread folder's own name, when known
    missing_media: int = 0


def epoch_time(value: Any) -> datetime:
    """An epoch timestamp in milliseconds (or seconds, see SECONDS_LIMIT) as an aware UTC datetime.

    Computed with timedelta, not float division, so the milliseconds are exact.
    """
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError("timestamp is not a number")
    ms = int(value)
    if abs(ms) < SECONDS_LIMIT:
        ms *= 1000
    return UNIX_EPOCH + timedelta(milliseconds=ms)


def convert(msg: Any, ctx: ThreadContext) -> Message | Event:
    """One message of either shape as a Message or an Event. Raises ValueError/TypeError/KeyError
    for a record of unexpected structure (the caller reports it as a Problem)."""
    if not isinstance(msg, dict):
        raise TypeError("message is not an object")
    if ctx.variant == LEGACY:
        return _convert_dyi(repair_all(msg), ctx)
    return _convert_e2ee(msg, ctx)


def _convert_dyi(msg: dict[str, Any], ctx: ThreadContext) -> Message | Event:
    ts = epoch_time(msg["timestamp_ms"])
    sender = str_at(msg, "sender_name")
    text = str_at(msg, "content") or ""
    msg_type = str_at(msg, "type")
    extra: dict[str, Any] = {"type": msg_type} if msg_type and msg_type != TYPE_PLAIN else {}

    users = [name for u in list_at(msg, "users") if (name := str_at(u, "name"))]
    event = _notice(text, sender, users, msg_type)
    if event is not None:
        ev_kind, event_extra = event
        return Event(ctx.chat, ts, text, kind=ev_kind, actor=sender, extra={**extra, **event_extra})

    attachments = [
        _attachment(uri, kind, ctx)
        for key, kind in MEDIA_FIELDS
        for item in list_at(msg, key)
        if (uri := str_at(item, "uri"))
    ]
    sticker_uri = str_at(dict_at(msg, "sticker"), "uri")
    if sticker_uri:
        attachments.append(_attachment(sticker_uri, STICKER, ctx))

    share = {k: v for k, v in dict_at(msg, "share").items() if isinstance(v, str) and v}
    if share:
        extra["share"] = share
        link = share.get("link")
        if link and link not in text:  # searchable with the message
            text = f"{text}\n{link}" if text else link

    if msg.get("is_unsent") is not True and ("call_duration" in msg or msg_type == TYPE_CALL):
        # A call is an event (cli-contract.md), with its length and whether it was missed.
        duration = int_at(msg, "call_duration")
        if duration is not None:
            extra["duration_s"] = duration
        if isinstance(msg.get("missed"), bool):
            extra["missed"] = msg["missed"]
        return Event(ctx.chat, ts, text, kind=EV_CALL, actor=sender, extra=extra)
    kind: MessageKind
    if msg.get("is_unsent") is True:
        kind = DELETED
    elif attachments:
        kind = attachments[0].kind
    else:
        kind = TEXT if text else OTHER

    return Message(
        chat=ctx.chat,
        ts=ts,
        sender=sender,
        text=text,
        kind=kind,
        attachments=tuple(attachments),
        reactions=_reactions(msg),
        extra=extra,
    )


def _convert_e2ee(msg: dict[str, Any], ctx: ThreadContext) -> Message | Event:
    ts = epoch_time(msg["timestamp"])
    sender = str_at(msg, "senderName")
    text = str_at(msg, "text") or ""
    msg_type = str_at(msg, "type")
    extra: dict[str, Any] = {"type": msg_type} if msg_type else {}
    event = _notice(text, sender, [], None)
    if event is not None:
        ev_kind, event_extra = event
        return Event(ctx.chat, ts, text, kind=ev_kind, actor=sender, extra={**extra, **event_extra})
    attachments = [_attachment(uri, None, ctx) for item in list_at(msg, "media") if (uri := str_at(item, "uri"))]
    kind: MessageKind
    if msg.get("isUnsent") is True:
        kind = DELETED
    elif attachments:
        kind = attachments[0].kind
    else:
        kind = TEXT if text else OTHER
    return Message(
        chat=ctx.chat,
        ts=ts,
        sender=sender,
        text=text,
        kind=kind,
        attachments=tuple(attachments),
        reactions=_reactions(msg),
        extra=extra,
    )


def _reactions(msg: dict[str, Any]) -> tuple[Reaction, ...]:
    """Reactions: {reaction, actor} in both shapes; Meta records no time for them."""
    return tuple(
        Reaction(emoji, str_at(r, "actor")) for r in list_at(msg, "reactions") if (emoji := str_at(r, "reaction"))
    )


def _notice(
    text: str, sender: str | None, users: list[str], msg_type: str | None
) -> tuple[EventKind, dict[str, Any]] | None:
    """The event kind (and extra) when a message is a group notice, else None.

    Old exports mark joins and leaves with `type` Subscribe/Unsubscribe; join/leave notices carry
    the people concerned in `users`; everything else is recognised by its English wording.
    """
    extra: dict[str, Any] = {"users": users} if users else {}
    if msg_type == TYPE_JOIN:
        return EV_JOIN, extra
    if msg_type == TYPE_LEAVE:
        return EV_LEAVE, extra
    for anchor in (sender, _SELF):
        if anchor and text.startswith(anchor + " "):
            rest = text[len(anchor) + 1 :]
            for kind, pattern in _NOTICE_PATTERNS:
                match = pattern.fullmatch(rest)
                if match:
                    if kind == EV_TITLE:
                        extra["title"] = match["title"]
                    return kind, extra
    if users:
        return EV_SYSTEM, extra
    return None


def _attachment(uri: str, kind: MessageKind | None, ctx: ThreadContext) -> Attachment:
    """An attachment named by a `uri`, with its bytes when the file is in the export."""
    name = PurePosixPath(uri.replace("\\", "/").split("?", 1)[0]).name or uri
    found = resolve_uri(ctx.tree, uri, ctx.thread_dir, ctx.folder_name)
    if found is None:
        ctx.missing_media += 1
    return Attachment(
        name=name,
        kind=kind or kind_for_name(name),
        mime=mime_for_name(name),
        size=None if found is None else ctx.tree.size(found),
        open=None if found is None else ctx.tree.opener(found),
    )


def resolve_uri(tree: ExportTree, uri: str, thread_dir: str, folder_name: str | None) -> str | None:
    """The tree name of the file a media `uri` points at, or None when it is not there.

    Uris are relative to the archive's root, but the root's layout changed over the years
    (`messages/inbox/...`, `your_facebook_activity/messages/inbox/...`) and people pass a
    thread folder or an unpacked part of the archive. So the file is looked for by suffix:
    the uri from its `messages/` segment on below the tree's own `messages/` folder, the part
    after the thread folder's name inside the thread folder, then the uri below each folder
    from the tree's root down to the thread. Uris that escape (`../`) or are URLs are refused.
    """
    if "://" in uri:
        return None
    safe = safe_member_name(uri)
    if safe is None or safe == ".":
        return None
    u = PurePosixPath(safe).parts
    d = PurePosixPath(thread_dir).parts if thread_dir else ()
    candidates: list[tuple[str, ...]] = []
    if "messages" in d and "messages" in u:
        root = d[: len(d) - 1 - d[::-1].index("messages")]
        candidates.append(root + u[u.index("messages") :])
    if folder_name and folder_name in u:
        candidates.append(d + u[u.index(folder_name) + 1 :])
    candidates.extend(d[:n] + u for n in range(len(d) + 1))
    for parts in candidates:
        name = "/".join(parts)
        if tree.exists(name):
            return name
    return None


def thread_messages(fh: IO[bytes]) -> Iterator[Any]:
    """The messages of a thread file, one at a time (in file order: newest first)."""
    return json_items(fh, "messages.item")
