"""Telegram Desktop JSON export: one chat ("Export chat history") or the whole account ("Export Telegram data").

How a person gets it: Telegram Desktop → a chat's ⋮ menu → Export chat history, or Settings →
Advanced → Export Telegram data; choose the machine-readable JSON format. The export is a folder
with `result.json` and, if chosen, media folders (photos/, files/, video_files/, ...).

Read: every chat of `chats.list` and `left_chats.list` (or the single chat), messages and service
entries, text as a string or a list of entities, replies, edits, forwards, media references (files
present beside result.json are stored as attachments). `date_unixtime` is the truth; `date` alone
(older exports) is the exporting machine's wall-clock time, so --tz applies to it. Streamed with
ijson, so a result.json of several GB imports in bounded memory.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import ijson

from importers.base import Format, ParseOptions, file_opener, guard_json, head_text
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CHANNEL,
    CONTACT,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    GROUP,
    IMAGE,
    LOCATION,
    POLL,
    STICKER,
    TEXT,
    UNKNOWN,
    VIDEO,
    Attachment,
    Chat,
    ChatKind,
    Event,
    EventKind,
    Message,
    MessageKind,
    Problem,
    Record,
    new_event,
    new_message,
    title_key,
)

# Chat types written by tdesktop's export_output_json.cpp.
_CHAT_KINDS: dict[str, ChatKind] = {
    "personal_chat": DIRECT,
    "bot_chat": DIRECT,
    "saved_messages": DIRECT,
    "replies": DIRECT,
    "private_group": GROUP,
    "private_supergroup": GROUP,
    "public_supergroup": GROUP,
    "private_channel": CHANNEL,
    "public_channel": CHANNEL,
}
_TYPE_RE = re.compile(r'"type"\s*:\s*"(' + "|".join(_CHAT_KINDS) + r')"')
# Where chats sit in the two shapes of result.json.
_CHAT_PREFIXES = ("", "chats.list.item", "left_chats.list.item")
# tdesktop writes these instead of a path when a file was not exported.
_NOT_INCLUDED = "(File "
_MEDIA_KINDS: dict[str, MessageKind] = {
    "sticker": STICKER,
    "video_message": VIDEO,
    "video_file": VIDEO,
    "animation": GIF,
    "voice_message": AUDIO,
    "audio_file": AUDIO,
}
_ACTION_KINDS: dict[str, EventKind] = {
    "phone_call": EV_CALL,
    "group_call": EV_CALL,
    "invite_to_group_call": EV_CALL,
    "invite_members": EV_JOIN,
    "join_group_by_link": EV_JOIN,
    "join_group_by_request": EV_JOIN,
    "joined_telegram": EV_JOIN,
    "remove_members": EV_LEAVE,
    "edit_group_title": EV_TITLE,
    "create_group": EV_TITLE,
    "create_channel": EV_TITLE,
    "pin_message": EV_PIN,
}


def _result_json(path: Path) -> Path:
    return path / "result.json" if path.is_dir() else path


def detect(path: Path) -> bool:
    p = _result_json(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    head = head_text(p, 16384).lstrip()
    if not head.startswith("{"):
        return False
    if '"personal_information"' in head or '"left_chats"' in head:
        return True
    if re.search(r'"chats"\s*:\s*\{\s*"(about|list)"', head):
        return True
    if '"guild"' in head or '"messages"' not in head:
        return False
    # A chat type, or the writer's own epoch field (older and minimal exports lack the type).
    return bool(_TYPE_RE.search(head)) or '"date_unixtime"' in head


def flatten_text(text: Any) -> str:
    """Telegram's text: a string, or a list of strings and {"type", "text"} entities, concatenated."""
    if text is None:
        return ""
    if isinstance(text, str):
        return text
    if isinstance(text, list):
        return "".join(p if isinstance(p, str) else str(p.get("text", "")) if isinstance(p, dict) else "" for p in text)
    return str(text)


def _ts(msg: dict[str, Any], unix_key: str, local_key: str) -> datetime | None:
    unix = msg.get(unix_key)
    if unix not in (None, ""):
        return datetime.fromtimestamp(int(unix), timezone.utc)
    local = msg.get(local_key)
    if isinstance(local, str) and local:
        return datetime.fromisoformat(local)  # wall-clock time of the exporting machine
    return None


def _attachment(base: Path, rel: Any, kind: MessageKind, mime: Any) -> Attachment | None:
    if not isinstance(rel, str) or not rel:
        return None
    name = rel.replace("\\", "/")
    if rel.startswith(_NOT_INCLUDED):
        return Attachment(name=kind, kind=kind, mime=mime if isinstance(mime, str) else None)
    target = (base / name).resolve()
    inside = target.is_relative_to(base.resolve())
    opener = file_opener(target) if inside and target.is_file() else None
    return Attachment(
        name=name.rsplit("/", 1)[-1],
        kind=kind,
        mime=mime if isinstance(mime, str) else None,
        size=target.stat().st_size if opener else None,
        open=opener,
    )


def _message(chat_key: str, msg: dict[str, Any], base: Path) -> Message | Event | None:
    if msg.get("type") not in ("message", "service"):
        return None  # "unsupported": only an id
    ts = _ts(msg, "date_unixtime", "date")
    if ts is None:
        raise ValueError("no date")
    mid = msg.get("id")
    source_id = None if mid is None else str(mid)
    text = flatten_text(msg.get("text"))
    if msg.get("type") == "service":
        action = msg.get("action")
        return new_event(
            chat=chat_key,
            ts=ts,
            text=text or _service_text(msg),
            kind=_ACTION_KINDS.get(str(action), EV_SYSTEM),
            actor=msg.get("actor") if isinstance(msg.get("actor"), str) else None,
            source_id=source_id,
            extra=_service_extra(msg),
        )
    kind: MessageKind = TEXT
    atts: list[Attachment] = []
    mime = msg.get("mime_type")
    if "photo" in msg:
        kind = IMAGE
        a = _attachment(base, msg.get("photo"), IMAGE, "image/jpeg")
        if a:
            atts.append(a)
    if "file" in msg:
        kind = _MEDIA_KINDS.get(str(msg.get("media_type")), FILE)
        a = _attachment(base, msg.get("file"), kind, mime)
        if a:
            atts.append(a)
    if "contact_information" in msg:
        kind = CONTACT
    if "location_information" in msg or "place_name" in msg:
        kind = LOCATION
    if "poll" in msg:
        kind = POLL
        poll = msg["poll"]
        if isinstance(poll, dict) and not text:
            answers = [a.get("text", "") for a in poll.get("answers", []) if isinstance(a, dict)]
            text = "\n".join([str(poll.get("question", "")), *(f"- {a}" for a in answers)])
    sender = msg.get("from")
    entities = msg.get("text_entities")
    # Plain text only: the entities repeat the text and add nothing, so they are not kept (checked on
    # the parsed JSON, before _plain copies them: most messages have them, and copying cost a fifth
    # of the parse).
    plain = isinstance(entities, list) and all(isinstance(e, dict) and e.get("type") == "plain" for e in entities)
    extra = _extra(msg, _MESSAGE_EXTRA_LEAN if plain else _MESSAGE_EXTRA)
    return new_message(
        chat=chat_key,
        ts=ts,
        sender=sender if isinstance(sender, str) else None,
        sender_id=str(msg["from_id"]) if msg.get("from_id") is not None else None,
        text=text,
        kind=kind,
        source_id=source_id,
        reply_to=str(msg["reply_to_message_id"]) if msg.get("reply_to_message_id") is not None else None,
        edited=_ts(msg, "edited_unixtime", "edited"),
        forwarded_from=msg.get("forwarded_from") if isinstance(msg.get("forwarded_from"), str) else None,
        attachments=tuple(atts),
        extra=extra,
    )


_MESSAGE_EXTRA = (
    "text_entities",
    "via_bot",
    "author",
    "sticker_emoji",
    "duration_seconds",
    "location_information",
    "contact_information",
    "place_name",
    "address",
)
_MESSAGE_EXTRA_LEAN = _MESSAGE_EXTRA[1:]  # without "text_entities"


def _service_text(msg: dict[str, Any]) -> str:
    """A readable line for a service entry (the export gives only its action and fields)."""
    actor = msg.get("actor") or "Someone"
    action = str(msg.get("action", "")).replace("_", " ")
    parts = [f"{actor}: {action}"]
    if msg.get("title"):
        parts.append(f"«{msg['title']}»")
    members = msg.get("members")
    if isinstance(members, list) and members:
        parts.append(", ".join(str(m) for m in members if m))
    if msg.get("duration_seconds") is not None:
        parts.append(f"({msg['duration_seconds']} s)")
    if not msg.get("action") and msg.get("information_text"):
        return str(msg["information_text"])
    return " ".join(parts)


def _service_extra(msg: dict[str, Any]) -> dict[str, Any]:
    """What a service entry keeps; a call's length as `duration_s`, the key every importer uses."""
    extra = _extra(msg, ("action", "duration_seconds", "discard_reason", "title", "members"))
    if "duration_seconds" in extra:
        extra["duration_s"] = extra.pop("duration_seconds")
    return extra


def _extra(msg: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    return {k: _plain(msg[k]) for k in keys if k in msg and msg[k] not in (None, "", [])}


def _plain(v: Any) -> Any:
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_plain(x) for x in v]
    return v


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    p = _result_json(path)
    try:
        chats = _scan_chats(p)
        for prefix in dict.fromkeys(c.prefix for c in chats):
            group = [c for c in chats if c.prefix == prefix]
            yield from _messages(p, prefix, group)
    except OSError as exc:
        raise ExportError(f"cannot be read ({exc.strerror})", path=str(p)) from None


@dataclass
class _ChatInfo:
    prefix: str  # where its messages are, e.g. "chats.list.item.messages.item"
    fields: dict[str, Any]
    count: int
    no: int


def _scan_chats(p: Path) -> list[_ChatInfo]:
    """First pass (events only, nothing built): each chat's name, type, id and message count.

    The second pass then lets ijson's C backend build the messages, which is several times faster
    than assembling them from events in Python.
    """
    chats: list[_ChatInfo] = []
    current: dict[str, Any] = {}
    counting: _ChatInfo | None = None
    try:
        with open(p, "rb") as fh:
            for prefix, event, value in ijson.parse(guard_json(fh, str(p))):
                if counting is not None:
                    if prefix == counting.prefix and event == "start_map":
                        counting.count += 1
                    elif event == "end_array" and prefix == counting.prefix[: -len(".item")]:
                        counting = None
                    continue
                if prefix in _CHAT_PREFIXES and event == "start_map":
                    current = {}
                    continue
                parent, _, key = prefix.rpartition(".")
                if parent in _CHAT_PREFIXES and key in ("name", "type", "id") and event in ("string", "number", "null"):
                    current[key] = value
                elif parent in _CHAT_PREFIXES and key == "messages" and event == "start_array":
                    counting = _ChatInfo(prefix + ".item", current, 0, len(chats) + 1)
                    chats.append(counting)
                    if parent == "":  # a single-chat export: nothing else to find, no need to count
                        counting.count = -1
                        return chats
    except ijson.JSONError as exc:
        raise ExportError(
            "is not complete, valid JSON (truncated or damaged?); export it again from Telegram Desktop",
            path=str(p),
        ) from exc
    except UnicodeDecodeError as exc:
        raise ExportError("is not UTF-8 JSON; export it again from Telegram Desktop", path=str(p)) from exc
    if not chats:
        raise ExportError("holds no Telegram chats; choose the JSON format when exporting", path=str(p))
    return chats


def _guarded(items: Iterator[Any], p: Path) -> Iterator[Any]:
    try:
        yield from items
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise ExportError(
            "is not complete, valid JSON (truncated or damaged?); export it again from Telegram Desktop",
            path=str(p),
        ) from exc


def _messages(p: Path, prefix: str, chats: list[_ChatInfo]) -> Iterator[Record]:
    base = p.parent
    with open(p, "rb") as fh:
        items = _guarded(ijson.items(guard_json(fh, str(p)), prefix, use_float=True), p)
        for info in chats:
            chat = _chat(info.fields, info.no)
            yield chat
            numbers = itertools.count(1) if info.count < 0 else range(1, info.count + 1)
            for no in numbers:
                try:
                    obj = next(items)
                except StopIteration:
                    if info.count < 0:
                        break
                    raise ExportError("changed while it was being read; import it again", path=str(p)) from None
                if not isinstance(obj, dict):
                    yield Problem(str(p), None, f"message {no} of chat {info.no} is not an object; skipped")
                    continue
                try:
                    rec = _message(chat.key, obj, base)
                except (ValueError, TypeError, KeyError, OverflowError, AttributeError, OSError):
                    yield Problem(str(p), None, f"message {no} of chat {info.no} could not be read; skipped")
                    continue
                if rec is not None:
                    yield rec


def _chat(fields: dict[str, Any], no: int) -> Chat:
    ctype = fields.get("type")
    name = fields.get("name")
    if not isinstance(name, str) or not name:
        name = {"saved_messages": "Saved Messages", "replies": "Replies"}.get(str(ctype), f"Telegram chat {no}")
    cid = fields.get("id")
    key = str(int(cid)) if isinstance(cid, int | Decimal) else title_key(name)
    return Chat(
        source="telegram",
        key=key,
        title=name,
        kind=_CHAT_KINDS.get(str(ctype), UNKNOWN),
        extra={"type": ctype} if ctype else {},
    )


FORMATS = [
    Format(
        name="telegram",
        source="telegram",
        description="Telegram Desktop JSON export (result.json): one chat or the whole account",
        detection="a .json file (or a folder with result.json) with Telegram's chat types or account sections",
        detect=detect,
        parse=parse,
        parse_ahead=True,
    )
]
