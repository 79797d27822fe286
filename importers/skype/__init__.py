"""Skype "Export files and chat history" (messages.json, in the .tar Skype delivered, or unpacked).

How a person got it: until Skype closed on 5 May 2025, go.skype.com/export (or Settings →
Account & profile → Export) → tick Conversations (and Files) → Submit, then download
`<account>_export.tar` from the same page when Skype said it was ready. Microsoft kept the export
page open for a while after the shutdown. talkvault takes the .tar itself, the folder it was
unpacked into, or `messages.json` alone.

Read: every conversation (`id`, `displayName`, `threadProperties.topic`) and every entry of its
`MessageList`: texts with their markup turned into plain text, photos, videos, voice messages
and files (bytes from the tar's `media/` folder when present), quotes (→ reply_to when the
quoted message id is given), edits (`properties.edittime`, the `<e_m>` mark), deletions
(`properties.deletetime`), reactions (`properties.emotions`), calls (`Event/Call` → a call event
with its duration) and thread activity (members added and removed, topic changes). Written by
Skype's export from 2018 to 2025; the layout never got a version number. Streamed with ijson
straight out of the tar, twice (conversation headers and sizes first, then the messages, built by
ijson's C backend), so a messages.json of several GB imports in bounded memory.

Identity: Chat.key = the conversation id (`8:live:…`, `19:…@thread.skype`); Message.source_id =
the message `id`. `originalarrivaltime` is UTC, so times are instants.
"""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from importers.base import Format, ParseOptions, decode_head, read_head
from importers.skype.archive import MESSAGES_JSON, Media, Opener, is_tar, open_export, tar_messages_head
from importers.skype.convert import ChatState, Skip, convert, strip_prefix
from importers.tree import without_bom
from vault.errors import ExportError
from vault.records import DIRECT, GROUP, UNKNOWN, Chat, ChatKind, Note, Problem, Record

SOURCE = "skype"
# The three top-level keys that every Skype export opens with (in some order).
HEAD_KEYS = ('"userId"', '"exportDate"', '"conversations"')
# Skype's own lists (48:calllogs, 48:notifications…), not conversations (Skyperious skips them too).
SPECIAL_PREFIX = "48:"
_CONV = "conversations.item"
_MESSAGES = _CONV + ".MessageList"
_MESSAGE = _MESSAGES + ".item"
_MESSAGE_INNER = _MESSAGE + "."


def _looks_like_skype(head: bytes) -> bool:
    text = decode_head(head).lstrip()
    return text.startswith("{") and all(k in text for k in HEAD_KEYS)


def detect(path: Path) -> bool:
    if path.is_dir():
        p = path / MESSAGES_JSON
        return p.is_file() and _looks_like_skype(read_head(p, 4096))
    if not path.is_file():
        return False
    if is_tar(path):
        return _looks_like_skype(tar_messages_head(path, 4096))
    return path.suffix.lower() == ".json" and _looks_like_skype(read_head(path, 4096))


def chat_kind(cid: str) -> ChatKind:
    if cid.startswith("19:"):
        return GROUP
    if cid.startswith(("8:", "28:")):
        return DIRECT
    return UNKNOWN


class _Conversation:
    def __init__(self, no: int) -> None:
        self.no = no
        self.fields: dict[str, Any] = {}
        self.count = 0  # entries in its MessageList
        self.state: ChatState | None = None
        self.skip = False
        self.messages = 0


_VALUE_EVENTS = frozenset({"start_map", "start_array", "string", "number", "boolean", "null"})
_SCALARS = frozenset({"string", "number", "boolean", "null"})
_HEADER_FIELDS = {
    _CONV + ".id": "id",
    _CONV + ".displayName": "displayName",
    _CONV + ".threadProperties.topic": "topic",
}


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    with open_export(path) as (opener, media, label):
        owner, convs = _guarded(lambda: _scan(opener, label), label)
        yield from _guarded_iter(_messages(opener, media, label, owner, convs), label)


def _json_error(label: str, exc: BaseException) -> ExportError:
    if isinstance(exc, UnicodeDecodeError):
        return ExportError("is not UTF-8 JSON; give the messages.json of a Skype export", path=label)
    if isinstance(exc, OSError):
        return ExportError(f"cannot be read ({exc.strerror or exc})", path=label)
    return ExportError(
        "is not complete, valid JSON (truncated or damaged?); download the Skype export again", path=label
    )


_STREAM_ERRORS = (ijson.JSONError, UnicodeDecodeError, OSError, tarfile.TarError, EOFError)


def _guarded(fn: Any, label: str) -> Any:
    try:
        return fn()
    except _STREAM_ERRORS as exc:
        raise _json_error(label, exc) from exc


def _guarded_iter(records: Iterator[Record], label: str) -> Iterator[Record]:
    try:
        yield from records
    except _STREAM_ERRORS as exc:
        raise _json_error(label, exc) from exc


def _scan(opener: Opener, label: str) -> tuple[str | None, list[_Conversation]]:
    """First pass, events only: the account, and each conversation's id, name, topic and size.

    Nothing of a message is built here; the second pass lets ijson's C backend build them, which
    is several times faster than assembling them from events in Python.
    """
    owner: str | None = None
    convs: list[_Conversation] = []
    conv: _Conversation | None = None
    seen_top = False
    with opener() as fh:
        for prefix, event, value in ijson.parse(without_bom(fh)):
            if prefix.startswith(_MESSAGE_INNER):
                continue  # the hot path: inside a message
            if prefix == _MESSAGE:
                if event in _VALUE_EVENTS and conv is not None:
                    conv.count += 1
            elif prefix == "":
                if event == "start_map":
                    seen_top = True
                elif event != "end_map" and event != "map_key":
                    break  # not an object
            elif prefix == _CONV and event == "start_map":
                conv = _Conversation(len(convs) + 1)
                convs.append(conv)
            elif conv is not None and prefix in _HEADER_FIELDS and event in _SCALARS:
                conv.fields[_HEADER_FIELDS[prefix]] = value
            elif prefix == "userId" and isinstance(value, str):
                owner = strip_prefix(value)
    if not seen_top or (not convs and owner is None):
        raise ExportError("holds no Skype conversations; give the Skype export's .tar or messages.json", path=label)
    return owner, convs


def _messages(
    opener: Opener, media: Media, label: str, owner: str | None, convs: list[_Conversation]
) -> Iterator[Record]:
    names: dict[str, str] = {}  # id → display name, across conversations (one entry per contact)
    special = skipped_versions = 0
    with opener() as fh:
        items = ijson.items(without_bom(fh), _MESSAGE, use_float=True)
        for conv in convs:
            cid = conv.fields.get("id")
            conv.skip = isinstance(cid, str) and cid.startswith(SPECIAL_PREFIX)
            special += conv.skip
            if not conv.skip and conv.count == 0:
                chat = _chat(conv, owner, media, names, None)
                if chat is not None:
                    yield chat
            for _ in range(conv.count):
                try:
                    obj = next(items)
                except StopIteration:
                    raise ExportError("changed while it was being read; import it again", path=label) from None
                conv.messages += 1
                yield from _message(obj, conv, owner, media, names, label)
            skipped_versions += conv.state.skipped_versions if conv.state else 0
    if special:
        yield Note(f"{special} of Skype's own lists (call logs, notifications) were not imported")
    if skipped_versions:
        yield Note(f"{skipped_versions} earlier version(s) of edited messages were left out; the edited text is kept")


def _chat(
    conv: _Conversation, owner: str | None, media: Media, names: dict[str, str], fallback_id: str | None
) -> Chat | None:
    cid = conv.fields.get("id")
    if not isinstance(cid, str) or not cid:
        cid = fallback_id
    if not cid:
        return None
    title = conv.fields.get("displayName")
    topic = conv.fields.get("topic") if isinstance(conv.fields.get("topic"), str) else None
    if not isinstance(title, str) or not title.strip():
        title = topic or strip_prefix(cid)
    extra: dict[str, Any] = {}
    if topic:
        extra["topic"] = topic
    conv.state = ChatState(key=cid, owner=owner, media=media, names=names)
    return Chat(source=SOURCE, key=cid, title=title.strip(), kind=chat_kind(cid), extra=extra)


def _message(
    obj: Any, conv: _Conversation, owner: str | None, media: Media, names: dict[str, str], label: str
) -> Iterator[Record]:
    if conv.skip:
        return
    where = f"conversation {conv.no}, message {conv.messages}"
    if not isinstance(obj, dict):
        yield Problem(label, None, f"{where} is not an object; skipped")
        return
    if conv.state is None:
        cid = obj.get("conversationid") if isinstance(obj.get("conversationid"), str) else None
        chat = _chat(conv, owner, media, names, cid)
        if chat is None:
            conv.skip = True
            yield Problem(label, None, f"conversation {conv.no} has no id; its messages were skipped")
            return
        yield chat
    assert conv.state is not None
    try:
        yield convert(obj, conv.state)
    except Skip:
        return
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, AssertionError):
        yield Problem(label, None, f"{where} could not be read; skipped")


FORMATS = [
    Format(
        name="skype",
        source=SOURCE,
        description="Skype export (the .tar with messages.json and media/, its folder, or messages.json)",
        detection="a plain .tar, folder or .json whose messages.json opens with userId, exportDate and conversations",
        detect=detect,
        parse=parse,
    )
]
