"""iMessage / SMS history: the Messages `chat.db` of a Mac, or `sms.db` from an iPhone backup.

How a person gets it:
- Mac: the database is ~/Library/Messages/chat.db (with chat.db-wal and chat.db-shm beside it, and
  the files in ~/Library/Messages/Attachments). Give the terminal Full Disk Access (System
  Settings → Privacy & Security), then import that folder or chat.db itself; quitting Messages
  first makes sure the newest messages have been written to chat.db.
- iPhone: import the backup folder, which importers/iphone_backup reads whole (encrypted too,
  attachments included) through `read_database()` here; given `--format imessage`, an unencrypted
  backup's `3d/3d0d7e5fb2ce288813306e4d4636395e047a3d28` is read alone, without attachments.

Versions: the schema of macOS 10.13 and later / iOS 11 and later (dates in nanoseconds), and older
databases (dates in seconds); columns a version lacks are read as empty. Tested against the
macOS 15 schema of imessage-exporter's test.db (corpus/imessage).

What goes in: every chat (Chat.key = chat.guid; title = its name, else its members), each message
(source_id = message.guid) with its text (from `text`, else decoded from `attributedBody`),
sender ("me" or the phone number / e-mail), tapbacks as reactions on their target (added and
removed), edits (edited time; earlier versions in extra["edit_history"]), unsent messages (kind
DELETED), replies (thread_originator_guid), attachments (bytes copied in when the file is present
next to the database), and group events (added/removed/left, renames, icon changes) as Events.
The database is opened read-only; nothing is written beside it.
"""

from __future__ import annotations

import mimetypes
import plistlib
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import IO, Any

from importers.base import Format, ParseOptions, file_opener
from importers.imessage.db import (
    REQUIRED_TABLES,
    STICKER_PLACED,
    TAPBACK_ADDED,
    TAPBACK_REMOVED,
    ChatDb,
    connect,
    find_db,
    is_chat_db,
    table_names,
)
from importers.imessage.typedstream import TypedStreamError, attributed_string_text, salvage_text
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    GROUP,
    IMAGE,
    OTHER,
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
    Note,
    Problem,
    Reaction,
    Record,
)

SOURCE = "imessage"

# Apple's reference date (Core Foundation's CFAbsoluteTime epoch), 978307200 s after the Unix epoch.
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
# message.date is nanoseconds since APPLE_EPOCH from macOS 10.13 on, seconds before. A value in
# seconds stays below 10**11 until the year 5170; one in nanoseconds passes it 100 s after 2001.
NANOSECONDS_ABOVE = 10**11

# chat.style (imessage-exporter tables/chat.rs; group chats are 43, one-to-one chats 45).
CHAT_STYLE_GROUP = 43
CHAT_STYLE_DIRECT = 45

# Tapbacks: associated_message_type 2000 + n adds, 3000 + n removes (variants.rs).
TAPBACK_EMOJI = {0: "❤️", 1: "👍", 2: "👎", 3: "😂", 4: "‼️", 5: "❓"}
TAPBACK_CUSTOM_EMOJI = 6  # the emoji is in associated_message_emoji (iOS 18)
TAPBACK_STICKER = 7  # a sticker used as a tapback (iOS 18)
STICKER_REACTION = ":sticker:"

# message.item_type / group_action_type (imessage-exporter tables/messages/models.rs GroupAction).
ITEM_MEMBERSHIP = 1  # group_action_type 0 = added other_handle, 1 = removed other_handle
ITEM_RENAME = 2  # group_title holds the new name
ITEM_GROUP_ACTION = 3  # 0 left, 1 icon changed, 2 icon removed, 4 background changed, 6 removed
ITEM_LOCATION_SHARING = 4  # share_status 0 started, 1 stopped
ITEM_KEPT_AUDIO = 5  # "kept" an expiring audio message
ITEM_SHAREPLAY = 6  # a FaceTime / SharePlay session
GROUP_ACTIONS: dict[int, tuple[EventKind, str]] = {
    0: (EV_LEAVE, "left the conversation"),
    1: (EV_SYSTEM, "changed the group photo"),
    2: (EV_SYSTEM, "removed the group photo"),
    4: (EV_SYSTEM, "changed the chat background"),
    6: (EV_SYSTEM, "removed the chat background"),
}

# Placeholders inside attributedBody text: U+FFFC where an attachment sits, U+FFFD an app balloon.
OBJECT_PLACEHOLDERS = ("\ufffc", "\ufffd")
# Where Messages keeps attachment files, relative to the folder of chat.db (~/Library/Messages)
# or of an iPhone's sms.db (~/Library/SMS); filenames start with ~/Library/Messages/... or the
# absolute form of the same path.
DB_FOLDER_MARKERS = ("Library/Messages/", "Library/SMS/")
# The most body parts a tapback target is looked up for (p:0/ ... p:N/).
MAX_PARTS = 256
ME = "me"
ORPHAN_CHAT_KEY = "imessage:no-chat"
ORPHAN_CHAT_TITLE = "Messages without a conversation"


def apple_time(value: object) -> datetime | None:
    """An Apple-epoch time (ns or s, detected by magnitude; floats are seconds) as aware UTC."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        return None
    try:
        if isinstance(value, int) and value > NANOSECONDS_ABOVE:
            return APPLE_EPOCH + timedelta(microseconds=value // 1000)
        return APPLE_EPOCH + timedelta(seconds=value)
    except OverflowError:
        return None


#: Finds an attachment's bytes from its `attachment.filename` ('~/Library/SMS/Attachments/...'):
#: a callable that opens them, or None when they are not there.
AttachmentResolver = Callable[[str], Callable[[], IO[bytes]] | None]


@dataclass
class _Context:
    path: str
    db: ChatDb
    resolve: AttachmentResolver
    handles: dict[int, str]
    chat: str = ""
    #: Who "the other person" is in a one-to-one chat (its handle or chat_identifier): the
    #: sender of its incoming rows whose handle_id is 0 or names no row of the handle table.
    other: str | None = None

    def who(self, handle_id: object) -> str:
        """The sender of an incoming row: its phone number or address, never nothing."""
        if isinstance(handle_id, int) and handle_id in self.handles:
            return self.handles[handle_id]
        if self.other:
            return self.other
        return f"handle {handle_id}" if isinstance(handle_id, int) and handle_id else "unknown sender"


def detect(path: Path) -> bool:
    try:
        from importers.iphone_backup.manifest import is_backup

        if path.is_dir() and is_backup(path):
            return False  # a whole iPhone backup: importers/iphone_backup reads it (sms.db included)
        db = find_db(path)
        return db is not None and is_chat_db(db)
    except Exception:  # detect() must never raise, whatever the input
        return False


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    db_path = find_db(path)
    if db_path is None:
        raise ExportError(
            "no Messages database here: choose chat.db (Mac) or the sms.db of an iPhone backup",
            path=str(path),
        )
    conn, without_wal = connect(db_path)
    try:
        yield from _parse_db(conn, db_path, without_wal)
    except (sqlite3.Error, UnicodeDecodeError) as exc:  # damaged pages; error texts may not decode
        raise ExportError(
            "the Messages database could not be read to the end (damaged?); copy it again "
            "(with its -wal and -shm files) and retry",
            path=str(path),
        ) from exc
    finally:
        conn.close()


def _parse_db(conn: sqlite3.Connection, db_path: Path, without_wal: bool) -> Iterator[Record]:
    if without_wal:
        yield Note(
            "chat.db-wal could not be read, so the newest messages may be missing; quit Messages and import again"
        )
    folder = db_path.parent
    yield from _read(conn, str(db_path), lambda filename: _beside(filename, folder))


def read_database(conn: sqlite3.Connection, label: str, resolve: AttachmentResolver) -> Iterator[Record]:
    """Records from an open Messages database, for readers that opened it themselves.

    An iPhone backup's sms.db (importers/iphone_backup/) is opened from the backup, maybe
    decrypted in memory; `resolve` finds attachment files there. `label` names the database in
    Problems. Driver errors (sqlite3.Error) propagate to the caller; a database without the
    Messages tables is an ExportError.
    """
    conn.row_factory = sqlite3.Row
    conn.text_factory = _lenient_text
    if not table_names(conn) >= REQUIRED_TABLES:
        raise ExportError("this database has no Messages tables (message, chat, handle)", path=label)
    yield from _read(conn, label, resolve)


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")


def _beside(filename: str, folder: Path) -> Callable[[], IO[bytes]] | None:
    local = _local_file(filename, folder)
    return file_opener(local) if local else None


def _read(conn: sqlite3.Connection, label: str, resolve: AttachmentResolver) -> Iterator[Record]:
    db = ChatDb(conn, label)
    ctx = _Context(label, db, resolve, db.handles())
    for chat in db.chats():
        guid = _str(chat["guid"])
        if guid is None:
            yield Problem(ctx.path, None, f"chat row {chat['ROWID']} has no guid; its messages were skipped")
            continue
        members = [ctx.handles[h] for h in db.members(chat["ROWID"]) if h in ctx.handles]
        record = _chat(chat, guid, members)
        yield record
        ctx.chat = guid
        ctx.other = None
        if record.kind == DIRECT:
            ctx.other = members[0] if len(members) == 1 else _str(chat["chat_identifier"])
        for row in db.chat_messages(chat["ROWID"]):
            yield from _convert(row, ctx)
    if db.has_orphans():
        yield Chat(SOURCE, ORPHAN_CHAT_KEY, ORPHAN_CHAT_TITLE, UNKNOWN)
        ctx.chat = ORPHAN_CHAT_KEY
        ctx.other = None
        count = 0
        for row in db.orphan_messages():
            count += 1
            yield from _convert(row, ctx)
        yield Note(f"{count} message(s) belong to no conversation; they are kept in '{ORPHAN_CHAT_TITLE}'")
    votes = db.poll_votes()
    if votes:
        yield Note(f"{votes} poll vote(s) were not imported")
    deleted = db.recently_deleted()
    if deleted:
        yield Note(f'{deleted} message(s) in Messages\' "Recently Deleted" were not imported')


def _str(value: object) -> str | None:
    """A TEXT column's value, or None when it is empty or (SQLite being dynamically typed) not text."""
    return value if isinstance(value, str) and value else None


def _chat(row: sqlite3.Row, guid: str, members: list[str]) -> Chat:
    style = row["style"]
    kind: ChatKind
    if style == CHAT_STYLE_GROUP:
        kind = GROUP
    elif style == CHAT_STYLE_DIRECT:
        kind = DIRECT
    else:
        kind = GROUP if len(members) > 1 else DIRECT if members else UNKNOWN
    name = (_str(row["display_name"]) or "").strip()
    title = name or ", ".join(members) or _str(row["chat_identifier"]) or guid
    extra = {k: v for k in ("chat_identifier", "service_name") if (v := _str(row[k]))}
    return Chat(SOURCE, guid, title, kind, tuple(members), extra)


def _convert(row: sqlite3.Row, ctx: _Context) -> Iterator[Record]:
    """One message row as its records: problems first, then the Message or Event."""
    try:
        yield from _convert_row(row, ctx)
    except (TypeError, ValueError, KeyError, AttributeError, OverflowError) as exc:
        yield Problem(ctx.path, None, f"message row {row['ROWID']}: unexpected values ({type(exc).__name__})")


def _convert_row(row: sqlite3.Row, ctx: _Context) -> Iterator[Record]:
    rowid = row["ROWID"]
    guid = _str(row["guid"])
    ts = apple_time(row["date"])
    if guid is None or ts is None:
        yield Problem(ctx.path, None, f"message row {rowid}: no guid or no date; skipped")
        return
    from_me = bool(row["is_from_me"])
    item_type = _int(row["item_type"]) or 0
    if item_type:
        actor = ME if from_me else ctx.handles.get(row["handle_id"])
        yield _event(row, ctx, guid, ts, actor, item_type)
        return
    sender = ME if from_me else ctx.who(row["handle_id"])

    problems: list[Problem] = []
    text = _body(row, ctx, problems)
    summary = _summary(row, ctx, problems)
    attachments, attachment_info = _attachments(row, ctx)
    extra: dict[str, Any] = {}
    for key in ("service", "subject", "balloon_bundle_id", "expressive_send_style_id"):
        if value := _str(row[key]):
            extra[key] = value
    if attachment_info:
        extra["attachments"] = attachment_info

    history = _edit_history(summary, ctx, rowid, problems)
    if history:
        extra["edit_history"] = history
    unsent = _unsent_parts(summary)
    retracted = apple_time(row["date_retracted"])
    visible = _visible(text)
    kind = _kind(row, visible, attachments)
    if _fully_unsent(row, summary, unsent, retracted, visible, attachments):
        kind, visible, attachments = DELETED, "", ()
        extra.pop("attachments", None)
        extra.pop("edit_history", None)
        if retracted:
            extra["unsent"] = retracted.isoformat()
    elif unsent:
        extra["unsent_parts"] = unsent

    reply_to = _str(row["thread_originator_guid"])
    if row["associated_message_type"] == STICKER_PLACED:
        reply_to = reply_to or _target_guid(row["associated_message_guid"])
    yield from problems
    yield Message(
        ctx.chat,
        ts,
        sender,
        visible,
        kind,
        source_id=guid,
        sender_id=None if from_me else sender,
        from_me=from_me,
        reply_to=reply_to,
        edited=apple_time(row["date_edited"]),
        attachments=attachments,
        reactions=_reactions(row, text, ctx),
        extra=extra,
    )


def _body(row: sqlite3.Row, ctx: _Context, problems: list[Problem]) -> str:
    """`text`, else the text decoded from `attributedBody` (empty `text` since macOS Ventura)."""
    text = row["text"]
    if isinstance(text, str) and text:
        return text
    blob = row["attributedBody"]
    if not isinstance(blob, bytes) or not blob:
        return ""
    try:
        return attributed_string_text(blob)
    except TypedStreamError:
        salvaged = salvage_text(blob)
        note = "kept the part that could be read" if salvaged else "its text is missing"
        problems.append(Problem(ctx.path, None, f"message row {row['ROWID']}: damaged attributedBody; {note}"))
        return salvaged or ""


def _visible(text: str) -> str:
    """The text a person sees: attachment/app placeholders removed; whitespace-only → ''."""
    for placeholder in OBJECT_PLACEHOLDERS:
        text = text.replace(placeholder, "")
    return text if text.strip() else ""


def _kind(row: sqlite3.Row, visible: str, attachments: tuple[Attachment, ...]) -> MessageKind:
    if row["associated_message_type"] == STICKER_PLACED:
        return STICKER
    if row["is_audio_message"]:
        return AUDIO
    if attachments and not visible:
        return attachments[0].kind
    return TEXT if visible or attachments else OTHER


def _summary(row: sqlite3.Row, ctx: _Context, problems: list[Problem]) -> dict[str, Any]:
    """message_summary_info, a binary plist: ec = edit history, rp = unsent parts, otr = ranges."""
    blob = row["message_summary_info"]
    if not isinstance(blob, bytes) or not blob:
        return {}
    try:
        value = plistlib.loads(blob)
    except Exception:  # plistlib raises several types (InvalidFileException, ValueError, ...)
        problems.append(Problem(ctx.path, None, f"message row {row['ROWID']}: damaged edit information"))
        return {}
    return value if isinstance(value, dict) else {}


def _edit_history(
    summary: Mapping[str, Any], ctx: _Context, rowid: int, problems: list[Problem]
) -> list[dict[str, Any]]:
    """Every version of every edited part, oldest first per part: [{part, ts, text}]."""
    out: list[dict[str, Any]] = []
    ec = summary.get("ec")
    if not isinstance(ec, dict):
        return out
    for part, versions in sorted(ec.items(), key=lambda kv: str(kv[0])):
        for version in versions if isinstance(versions, list) else ():
            if not isinstance(version, dict):
                continue
            when = apple_time(version.get("d"))
            entry: dict[str, Any] = {"part": _int(part), "ts": when.isoformat() if when else None}
            blob = version.get("t")
            if isinstance(blob, bytes):
                try:
                    entry["text"] = _visible(attributed_string_text(blob))
                except TypedStreamError:
                    problems.append(Problem(ctx.path, None, f"message row {rowid}: an earlier version is damaged"))
                    continue
            out.append(entry)
    return out


def _unsent_parts(summary: Mapping[str, Any]) -> list[int]:
    rp = summary.get("rp")
    return sorted({p for p in (_int(x) for x in rp) if p is not None}) if isinstance(rp, list) else []


def _fully_unsent(
    row: sqlite3.Row,
    summary: Mapping[str, Any],
    unsent: list[int],
    retracted: datetime | None,
    visible: str,
    attachments: tuple[Attachment, ...],
) -> bool:
    """Whether nothing of the message is left: every part unsent, or retracted and empty."""
    otr = summary.get("otr")
    parts = max(_int(row["part_count"]) or 0, len(otr) if isinstance(otr, dict) else 0)
    if unsent and parts and set(range(parts)) <= set(unsent):
        return True
    if unsent and not parts:
        return not visible and not attachments
    return retracted is not None and not visible and not attachments


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        return None


def _target_guid(associated: object) -> str | None:
    """The target of a tapback or sticker: 'p:0/GUID', 'bp:GUID' or a bare GUID.

    As imessage-exporter's `clean_associated_guid` (tables/messages/message.rs) reads it.
    """
    if not isinstance(associated, str) or not associated:
        return None
    if associated.startswith("p:") and "/" in associated:
        return associated.split("/", 1)[1] or None
    if associated.startswith("bp:"):
        return associated[3:] or None
    return associated


def _reactions(row: sqlite3.Row, text: str, ctx: _Context) -> tuple[Reaction, ...]:
    """Tapbacks on this message, one per (person, emoji), in their latest state (added or removed).

    Messages keeps only the latest tapback row of a person on a part (imessage-exporter,
    variants.rs), so replaying the rows in date order and keeping the last one per (person,
    emoji) gives the current state; a removal is reported with removed=True so that a re-import
    can drop it.
    """
    guid = row["guid"]
    parts = max(_int(row["part_count"]) or 0, sum(text.count(p) for p in OBJECT_PLACEHOLDERS) + 1)
    targets = [guid, f"bp:{guid}", *(f"p:{i}/{guid}" for i in range(min(parts, MAX_PARTS)))]
    state: dict[tuple[str | None, str], Reaction] = {}
    for tb in ctx.db.tapbacks(targets):
        code = tb["associated_message_type"]
        removed = code in TAPBACK_REMOVED
        n = code - (TAPBACK_REMOVED.start if removed else TAPBACK_ADDED.start)
        if n == TAPBACK_CUSTOM_EMOJI:
            emoji = tb["associated_message_emoji"] or ""
        elif n == TAPBACK_STICKER:
            emoji = STICKER_REACTION
        else:
            emoji = TAPBACK_EMOJI.get(n, "")
        if not emoji:
            continue
        who = ME if tb["is_from_me"] else ctx.who(tb["handle_id"])
        state[(who, emoji)] = Reaction(emoji, who, apple_time(tb["date"]), removed)
    return tuple(state.values())


def _attachments(row: sqlite3.Row, ctx: _Context) -> tuple[tuple[Attachment, ...], list[dict[str, Any]]]:
    out: list[Attachment] = []
    info: list[dict[str, Any]] = []
    for a in ctx.db.attachments(row["ROWID"]):
        filename = _str(a["filename"]) or ""
        name = _str(a["transfer_name"]) or PurePosixPath(filename).name or _str(a["guid"]) or "attachment"
        mime = _str(a["mime_type"]) or mimetypes.guess_type(name)[0]
        size = a["total_bytes"] if isinstance(a["total_bytes"], int) and a["total_bytes"] > 0 else None
        kind: MessageKind = STICKER if a["is_sticker"] else _mime_kind(mime)
        out.append(Attachment(name, kind, mime, size, open=ctx.resolve(filename) if filename else None))
        created = apple_time(a["created_date"])
        entry = {"guid": _str(a["guid"]), "created": created.isoformat() if created else None}
        info.append({k: v for k, v in entry.items() if v})
    return tuple(out), info


_MIME_KINDS: dict[str, MessageKind] = {"image": IMAGE, "video": VIDEO, "audio": AUDIO}


def _mime_kind(mime: str | None) -> MessageKind:
    if mime == "image/gif":
        return GIF
    major = (mime or "").split("/", 1)[0]
    return _MIME_KINDS.get(major, FILE)


def _local_file(filename: str, folder: Path) -> Path | None:
    """The attachment's file under the database's folder, if it is there (and stays inside it).

    `filename` is '~/Library/Messages/Attachments/ab/12/GUID/IMG_0001.jpeg' (or the same path
    spelled out from /Users/<name>/); we look for 'Attachments/ab/12/GUID/IMG_0001.jpeg' beside
    chat.db, which works for the live folder and for a copy of the whole Messages folder.
    """
    rel = None
    for marker in DB_FOLDER_MARKERS:
        at = filename.find(marker)
        if at >= 0:
            rel = filename[at + len(marker) :]
            break
    if not rel:
        return None
    try:
        base = folder.resolve()
        candidate = (base / rel).resolve()
        if candidate.is_relative_to(base) and candidate.is_file():
            return candidate
    except (OSError, ValueError):
        return None
    return None


def _event(row: sqlite3.Row, ctx: _Context, guid: str, ts: datetime, actor: str | None, item_type: int) -> Event:
    """Group events: members added/removed/left, renames, photo changes, location sharing, calls."""
    action = _int(row["group_action_type"]) or 0
    other = ctx.handles.get(row["other_handle"]) if row["other_handle"] else None
    who = actor or "someone"
    kind: EventKind = EV_SYSTEM
    if item_type == ITEM_MEMBERSHIP and other and row["other_handle"] == row["handle_id"] and action == 0:
        text = f"{other} changed their phone number"
    elif item_type == ITEM_MEMBERSHIP and action in (0, 1):
        kind = EV_JOIN if action == 0 else EV_LEAVE
        text = f"{who} {'added' if action == 0 else 'removed'} {other or 'someone'}"
    elif item_type == ITEM_RENAME:
        kind = EV_TITLE
        title = _str(row["group_title"])
        text = f"{who} named the conversation “{title}”" if title else f"{who} removed the conversation name"
    elif item_type == ITEM_GROUP_ACTION and action in GROUP_ACTIONS:
        kind, what = GROUP_ACTIONS[action]
        text = f"{who} {what}"
    elif item_type == ITEM_LOCATION_SHARING:
        text = f"{who} {'stopped' if row['share_status'] else 'started'} sharing their location"
    elif item_type == ITEM_KEPT_AUDIO:
        text = f"{who} kept an audio message"
    elif item_type == ITEM_SHAREPLAY:
        kind = EV_CALL
        text = f"{who} started a FaceTime or SharePlay session"
    else:
        text = f"{who}: conversation event (type {item_type}, action {action})"
    extra = {"item_type": item_type, "group_action_type": action}
    return Event(ctx.chat, ts, text, kind, actor=actor, source_id=guid, extra=extra)


FORMATS = [
    Format(
        name="imessage",
        source=SOURCE,
        description="iMessage/SMS: a Mac's chat.db, or the sms.db of an unencrypted iPhone backup",
        detection="an SQLite database with the tables message, chat, handle and chat_message_join",
        detect=detect,
        parse=parse,
    )
]
