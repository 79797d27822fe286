"""Slack workspace export (the .zip from "Export data", or its unzipped folder).

How a person gets it: a workspace Owner or Admin opens Settings & administration → Workspace
settings → Import/Export Data → Export, picks a date range and downloads the zip when Slack
e-mails the link. Free and Pro plans export public channels; Business+ and Enterprise exports
(and some third-party exporters such as slackdump, which imitate the layout) can also include
private channels (groups.json), group DMs (mpims.json) and DMs (dms.json).

Read: users.json for names (display name, else real name, else user name), the conversation
lists, and every `<folder>/YYYY-MM-DD.json` day file, one message at a time (ijson). Seen and
tested: the 2016 official export layout (singular `file`, string `created`), the 2024–2026 one
(`files[]`, `blocks`, threads, `thread_broadcast`) and slackdump's (`"blocks": null`, tombstone
thread parents, messages without `text`).

Identity: Chat.key = the conversation id (C…, G…, D…); Message.source_id = the message `ts`,
which Slack uses as the message id within a conversation. A thread reply's reply_to is its
`thread_ts`, the parent's ts, wherever the parent sits (replies are often in later day files).
Times are epoch seconds with microseconds, so they are stored as UTC instants.
File bytes are not part of a Slack export: attachments carry name, type and size only, and
the file URLs (which embed an access token) are never kept.
"""

from __future__ import annotations

import itertools
import lzma
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Any

import ijson

from importers.base import Format, ParseOptions, guard_json
from importers.slack.export import (
    LIST_FILES,
    USERS_FILE,
    SlackExport,
    detect_folder,
    detect_zip,
    open_export,
)
from importers.slack.text import attachments_text, blocks_text, render
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CHANNEL,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GROUP,
    IMAGE,
    OTHER,
    TEXT,
    VIDEO,
    Attachment,
    Chat,
    ChatKind,
    Event,
    EventKind,
    Message,
    MessageKind,
    Note,
    Problem,
    Reaction,
    Record,
    title_key,
)

SOURCE = "slack"

# Which list file holds which kind of conversation (Slack export documentation; slackdump).
LIST_KINDS: dict[str, ChatKind] = {
    "channels.json": CHANNEL,
    "groups.json": CHANNEL,
    "mpims.json": GROUP,
    "dms.json": DIRECT,
}

# Message subtypes that are system entries, not something a person wrote
# (api.slack.com/events/message#subtypes, plus huddle and canvas notices seen in newer exports).
EVENT_SUBTYPES: dict[str, EventKind] = {
    "channel_join": EV_JOIN,
    "group_join": EV_JOIN,
    "channel_leave": EV_LEAVE,
    "group_leave": EV_LEAVE,
    "channel_name": EV_TITLE,
    "group_name": EV_TITLE,
    "channel_topic": EV_SYSTEM,
    "group_topic": EV_SYSTEM,
    "channel_purpose": EV_SYSTEM,
    "group_purpose": EV_SYSTEM,
    "channel_archive": EV_SYSTEM,
    "channel_unarchive": EV_SYSTEM,
    "group_archive": EV_SYSTEM,
    "group_unarchive": EV_SYSTEM,
    "channel_convert_to_private": EV_SYSTEM,
    "channel_convert_to_public": EV_SYSTEM,
    "channel_posting_permissions": EV_SYSTEM,
    "channel_canvas_updated": EV_SYSTEM,
    "pinned_item": EV_PIN,
    "unpinned_item": EV_PIN,
    "bot_add": EV_SYSTEM,
    "bot_remove": EV_SYSTEM,
    "bot_enable": EV_SYSTEM,
    "bot_disable": EV_SYSTEM,
    "reminder_add": EV_SYSTEM,
    "joiner_notification": EV_SYSTEM,
    "ekm_access_denied": EV_SYSTEM,
    "sh_room_created": EV_CALL,
    "sh_room_shared": EV_CALL,
    "huddle_thread": EV_CALL,
}
# Real-time change notifications; an export should not contain them (the change is already
# applied to the message itself), so they are skipped and counted.
NOTIFICATION_SUBTYPES = frozenset({"message_changed", "message_deleted", "message_replied"})
# A thread parent that was deleted while its replies remain (slackdump fixture).
TOMBSTONE = "tombstone"
THREAD_BROADCAST = frozenset({"thread_broadcast", "reply_broadcast"})
# File entries without a file behind them (deleted, or beyond the free plan's limit).
ABSENT_FILE_MODES = frozenset({"tombstone", "hidden_by_limit"})
# `ts` / `edited.ts`: "1452837352.000006" = epoch seconds "." microseconds.
TS_RE = re.compile(r"^(\d{1,12})(?:\.(\d{1,6})\d*)?$")


def slack_time(value: object) -> datetime | None:
    """A Slack `ts` ("seconds.micro" string; numbers tolerated) as an aware UTC datetime."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = f"{value:.6f}"
    if not isinstance(value, str):
        return None
    m = TS_RE.match(value.strip())
    if not m:
        return None
    micros = int((m.group(2) or "0").ljust(6, "0"))
    try:
        return datetime.fromtimestamp(int(m.group(1)), timezone.utc) + timedelta(microseconds=micros)
    except (OverflowError, OSError, ValueError):
        return None


def user_name(user: Mapping[str, Any]) -> str | None:
    """display_name → real_name → name, the order Slack itself shows people by."""
    profile = user.get("profile")
    if not isinstance(profile, dict):
        profile = {}
    for value in (
        profile.get("display_name"),
        profile.get("real_name"),
        user.get("real_name"),
        user.get("name"),
    ):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


@dataclass
class _Conversation:
    id: str
    name: str
    kind: ChatKind
    members: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Context:
    """What converting one message needs: the chat, the name maps, where we are (for Problems)."""

    path: str
    chat: str
    where: str
    users: dict[str, str]
    channels: dict[str, str]
    skipped_notifications: int = 0


class _NotAnArray(ValueError):
    """The file holds valid JSON, but not the list of records it should."""


def _json_items(fh: IO[bytes]) -> Iterator[Any]:
    """The elements of a top-level JSON array, one at a time (ijson: never the whole file)."""
    events = ijson.parse(guard_json(fh), use_float=True)
    first = next(events, None)
    if first is None or first[1] != "start_array":
        raise _NotAnArray("not a JSON array")
    yield from ijson.items(itertools.chain([first], events), "item")


# What reading one JSON file of the export can raise: bad JSON or UTF-8 (ijson), and damaged,
# encrypted or oddly compressed zip members (zipfile, zlib, lzma; RuntimeError/NotImplementedError).
_READ_ERRORS = (
    ijson.JSONError,
    ValueError,
    OSError,
    EOFError,
    RuntimeError,
    zipfile.BadZipFile,
    zlib.error,
    lzma.LZMAError,
)


def _read_users(export: SlackExport, path: str) -> Iterator[Record | tuple[str, str]]:
    """(user id, name) pairs from users.json, or a Problem when it cannot be read to the end."""
    if not export.has(USERS_FILE):
        yield Note("users.json is missing: people are shown by their Slack ids where messages lack names")
        return
    n = 0
    try:
        with export.open(USERS_FILE) as fh:
            for user in _json_items(fh):
                n += 1
                if isinstance(user, dict) and isinstance(user.get("id"), str):
                    name = user_name(user)
                    if name:
                        yield user["id"], name
    except _READ_ERRORS:
        yield Problem(path, None, f"users.json is damaged after record {n}; later people are shown by id")


def _read_conversations(export: SlackExport, path: str) -> Iterator[Record | _Conversation]:
    seen: set[str] = set()
    for list_file in LIST_FILES:
        if not export.has(list_file):
            continue
        n = 0
        try:
            with export.open(list_file) as fh:
                for n, raw in enumerate(_json_items(fh), 1):
                    conv = _conversation(raw, LIST_KINDS[list_file], list_file)
                    if conv is None:
                        yield Problem(path, n, f"{list_file}: record {n} has no conversation id")
                    elif conv.id not in seen:
                        seen.add(conv.id)
                        yield conv
        except _READ_ERRORS:
            yield Problem(path, None, f"{list_file} is damaged after record {n}; the rest was skipped")


def _conversation(raw: Any, kind: ChatKind, list_file: str) -> _Conversation | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str) or not raw["id"]:
        return None
    listed = raw.get("members")
    members = [m for m in listed if isinstance(m, str)] if isinstance(listed, list) else []
    extra: dict[str, Any] = {"list": list_file}
    for key in ("is_archived", "is_general", "is_private"):
        if isinstance(raw.get(key), bool):
            extra[key] = raw[key]
    for key in ("topic", "purpose"):
        value = raw.get(key)
        if isinstance(value, dict) and isinstance(value.get("value"), str) and value["value"]:
            extra[key] = value["value"]
    created = slack_time(raw.get("created")) if raw.get("created") not in (None, "", 0) else None
    if created is not None:
        extra["created"] = created.isoformat()
    name = raw.get("name") if isinstance(raw.get("name"), str) else ""
    return _Conversation(raw["id"], name or "", kind, members, extra)


def _chat(conv: _Conversation, users: Mapping[str, str]) -> Chat:
    people = tuple(dict.fromkeys(users.get(m, m) for m in conv.members))
    if conv.kind == DIRECT or (conv.kind == GROUP and people):
        title = ", ".join(people) or conv.name or conv.id
    else:
        title = conv.name or conv.id
    return Chat(SOURCE, conv.id, title, conv.kind, people, conv.extra)


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        with open_export(path) as export:
            yield from _parse_export(export, str(path))
    except ExportError:
        raise
    except (*_READ_ERRORS, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise ExportError(
            "this Slack export could not be read (damaged or incomplete?); download it again",
            path=str(path),
        ) from exc


def _parse_export(export: SlackExport, path: str) -> Iterator[Record]:
    if not any(export.has(n) for n in (USERS_FILE, *LIST_FILES)):
        raise ExportError("not a Slack export: no users.json or channels.json found", path=path)
    if export.unsafe_members:
        yield Problem(
            path,
            None,
            f"{export.unsafe_members} archive member(s) named to leave the archive were skipped",
        )
    users: dict[str, str] = {}
    for item in _read_users(export, path):
        if isinstance(item, tuple):
            users[item[0]] = item[1]
        else:
            yield item
    conversations: list[_Conversation] = []
    for conv in _read_conversations(export, path):
        if isinstance(conv, _Conversation):
            conversations.append(conv)
        else:
            yield conv
    channels = {c.id: c.name for c in conversations if c.name}
    folders = export.folders()
    used: set[str] = set()
    skipped = 0
    for conv in conversations:
        folder = next((f for f in (conv.name, conv.id) if f and f in folders and f not in used), None)
        yield _chat(conv, users)
        if folder is None:
            continue
        used.add(folder)
        ctx = _Context(path, conv.id, f"conversation {conv.id}", users, channels)
        yield from _read_days(export, folder, folders[folder], ctx)
        skipped += ctx.skipped_notifications
    unlisted = [f for f in folders if f not in used]
    for number, folder in enumerate(unlisted, 1):
        key = title_key(folder)
        yield Chat(SOURCE, key, folder, CHANNEL, (), {"unlisted": True})
        ctx = _Context(path, key, f"unlisted conversation folder {number}", users, channels)
        yield from _read_days(export, folder, folders[folder], ctx)
        skipped += ctx.skipped_notifications
    if unlisted:
        yield Note(
            f"{len(unlisted)} conversation folder(s) are not listed in the export's conversation "
            "lists; they were imported under their folder names"
        )
    if skipped:
        yield Note(f"{skipped} change notification(s) (message_changed/deleted) were skipped")


def _read_days(export: SlackExport, folder: str, days: list[str], ctx: _Context) -> Iterator[Record]:
    for day in days:
        n = 0
        try:
            with export.open_day(folder, day) as fh:
                for n, raw in enumerate(_json_items(fh), 1):
                    try:
                        record = _convert(raw, n, ctx, day)
                    except (KeyError, TypeError, ValueError, AttributeError):
                        record = Problem(ctx.path, n, f"{ctx.where}, {day}, record {n}: unexpected structure")
                    if record is not None:
                        yield record
        except _NotAnArray:
            yield Problem(ctx.path, None, f"{ctx.where}, {day}: not a JSON list of messages; skipped")
        except _READ_ERRORS:
            yield Problem(
                ctx.path,
                n + 1,
                f"{ctx.where}, {day}: not valid UTF-8 JSON at record {n + 1}; the rest of that day was skipped",
            )


def _convert(raw: Any, n: int, ctx: _Context, day: str) -> Record | None:
    where = f"{ctx.where}, {day}, record {n}"
    if not isinstance(raw, dict):
        return Problem(ctx.path, n, f"{where}: not a message object")
    ts_raw = raw.get("ts")
    ts = slack_time(ts_raw)
    if ts is None:
        return Problem(ctx.path, n, f"{where}: missing or invalid ts")
    source_id = ts_raw if isinstance(ts_raw, str) else f"{ts_raw:.6f}"
    subtype = raw.get("subtype") if isinstance(raw.get("subtype"), str) else None
    if subtype in NOTIFICATION_SUBTYPES:
        ctx.skipped_notifications += 1
        return None
    user = _author_id(raw)
    sender = _sender(raw, user, ctx.users)
    text = _text(raw, ctx)
    if subtype in EVENT_SUBTYPES:
        return Event(
            ctx.chat,
            ts,
            text,
            EVENT_SUBTYPES[subtype],
            actor=sender,
            source_id=source_id,
            line=n,
            extra={"subtype": subtype},
        )
    attachments, files_extra = _files(raw)
    kind: MessageKind = TEXT if text else OTHER
    if subtype == TOMBSTONE:
        kind, text, attachments = DELETED, "", ()
    elif attachments:
        kind = attachments[0].kind
    extra: dict[str, Any] = {}
    if subtype:
        extra["subtype"] = subtype
    if files_extra:
        extra["files"] = files_extra
    bot_id = raw.get("bot_id") if isinstance(raw.get("bot_id"), str) else None
    if bot_id:
        extra["bot_id"] = bot_id
    thread_ts = raw.get("thread_ts") if isinstance(raw.get("thread_ts"), str) else None
    reply_to = thread_ts if thread_ts and thread_ts != source_id else None
    if reply_to and subtype in THREAD_BROADCAST:
        extra["thread_broadcast"] = True
    edited = raw.get("edited")
    return Message(
        ctx.chat,
        ts,
        sender,
        text,
        kind,
        source_id=source_id,
        sender_id=user or bot_id,
        reply_to=reply_to,
        edited=slack_time(edited.get("ts")) if isinstance(edited, dict) else None,
        attachments=attachments,
        reactions=_reactions(raw.get("reactions"), ctx.users),
        line=n,
        extra=extra,
    )


def _author_id(raw: Mapping[str, Any]) -> str | None:
    """The author's user id; legacy `file_comment` messages keep it in `comment.user`."""
    user = raw.get("user")
    if isinstance(user, str) and user:
        return user
    comment = raw.get("comment")
    if isinstance(comment, dict) and isinstance(comment.get("user"), str):
        return comment["user"] or None
    return None


def _sender(raw: Mapping[str, Any], user: str | None, users: Mapping[str, str]) -> str | None:
    """The author's name: users.json, the message's own profile copy, the bot's name, or the id."""
    if user and user in users:
        return users[user]
    profile = raw.get("user_profile")
    if isinstance(profile, dict):
        name = user_name(profile | {"profile": profile})
        if name:
            return name
    bot = raw.get("bot_profile")
    for value in (raw.get("username"), bot.get("name") if isinstance(bot, dict) else None):
        if isinstance(value, str) and value.strip():
            return value.strip()
    return user or (raw.get("bot_id") if isinstance(raw.get("bot_id"), str) else None)


def _text(raw: Mapping[str, Any], ctx: _Context) -> str:
    text = raw.get("text")
    if isinstance(text, str) and text:
        return render(text, ctx.users, ctx.channels)
    blocks = raw.get("blocks")
    if isinstance(blocks, list) and blocks:
        from_blocks = blocks_text(blocks, ctx.users, ctx.channels)
        if from_blocks:
            return from_blocks
    attachments = raw.get("attachments")
    if isinstance(attachments, list):
        return attachments_text(attachments, ctx.users, ctx.channels)
    return ""


def _files(raw: Mapping[str, Any]) -> tuple[tuple[Attachment, ...], list[dict[str, Any]]]:
    """Attachments for `files[]` (modern) or `file` (legacy); the bytes are not in the export."""
    files = raw.get("files")
    if not isinstance(files, list):
        files = [raw["file"]] if isinstance(raw.get("file"), dict) else []
    out: list[Attachment] = []
    extra: list[dict[str, Any]] = []
    for f in files:
        if not isinstance(f, dict) or f.get("mode") in ABSENT_FILE_MODES:
            continue
        name = next((f[k] for k in ("name", "title", "id") if isinstance(f.get(k), str) and f[k]), "file")
        mime = f.get("mimetype") if isinstance(f.get("mimetype"), str) and f["mimetype"] else None
        size = f.get("size") if isinstance(f.get("size"), int) and f["size"] >= 0 else None
        out.append(Attachment(name, _file_kind(mime), mime, size, open=None))
        # Only ids and labels are kept: url_private & co. carry an export access token.
        extra.append({k: f[k] for k in ("id", "title", "filetype") if isinstance(f.get(k), str)})
    return tuple(out), extra


_FILE_KINDS: dict[str, MessageKind] = {"image": IMAGE, "video": VIDEO, "audio": AUDIO}


def _file_kind(mime: str | None) -> MessageKind:
    major = (mime or "").split("/", 1)[0]
    return _FILE_KINDS.get(major, FILE)


def _reactions(raw: Any, users: Mapping[str, str]) -> tuple[Reaction, ...]:
    """One Reaction per reacting person: shortcode names (`:thumbsup:`), no times in exports."""
    out: list[Reaction] = []
    for r in raw if isinstance(raw, list) else ():
        if not isinstance(r, dict) or not isinstance(r.get("name"), str):
            continue
        for uid in r.get("users") or ():
            if isinstance(uid, str):
                out.append(Reaction(f":{r['name']}:", users.get(uid, uid)))
    return tuple(out)


def detect(path: Path) -> bool:
    try:
        if path.is_dir():
            return detect_folder(path)
        if path.is_file() and zipfile.is_zipfile(path):
            return detect_zip(path)
    except Exception:  # detect() must never raise, whatever the input
        return False
    return False


FORMATS = [
    Format(
        name="slack",
        source=SOURCE,
        description="Slack workspace export (.zip or folder): channels, private channels, DMs",
        detection="users.json beside channels.json/groups.json/dms.json/mpims.json (zip or folder)",
        detect=detect,
        parse=parse,
    )
]
