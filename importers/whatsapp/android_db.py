"""WhatsApp Android's own database: msgstore.db (decrypted, or a .crypt14/.crypt15 backup with the
person's key) and wa.db beside it for contact names; both schemas (legacy `messages`, modern `message`).

Tables read, legacy (before 2022): `messages` (key_remote_jid, key_from_me, key_id, data, timestamp
in ms, media_wa_type, media_name, media_caption, remote_resource = the group sender, status 6 =
a system entry, quoted_row_id → `messages_quotes`.key_id), `chat_list` or `chat`+`jid` (subjects),
`message_media` (file_path) and `message_system` (action_type) when present. Modern: `message`
(chat_row_id → `chat` (jid_row_id → `jid`, subject), from_me, key_id, sender_jid_row_id, timestamp,
message_type, text_data), `message_media` (file_path, mime_type, media_caption), `message_quoted`
(key_id), `message_edit_info` (edited_timestamp), `message_add_on` + `message_add_on_reaction`
(reactions), `message_system` (action_type), `call_log` (calls), `jid_map` (LID → phone jid).
wa.db: `wa_contacts` (jid, display_name, wa_name).

Chats are keyed by their jid (`4915…@s.whatsapp.net`, `1203…@g.us`), messages by WhatsApp's key_id;
times are epoch milliseconds (aware UTC). Status updates (status@broadcast) are not chats and are
left out. Media files are looked up in a WhatsApp/Media folder: `--param media=PATH`, or found
beside the database (WhatsApp/Databases/msgstore.db → WhatsApp/Media).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from importers.base import ParseOptions, file_opener, read_head
from importers.foreign_db import db_errors, finish, open_plain
from importers.whatsapp.body import kind_of_file, mime_of_file
from importers.whatsapp.crypt import crypt_version, decrypt, looks_encrypted_backup
from importers.whatsapp.kinds import ANDROID_TYPES, MEDIA_KINDS, message_kind, type_of
from vault.errors import ExportError
from vault.records import (
    CONTACT,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GROUP,
    OTHER,
    Attachment,
    Chat,
    Event,
    EventKind,
    Message,
    MessageKind,
    Note,
    Problem,
    Reaction,
    Record,
)

SOURCE = "whatsapp"
SQLITE_MAGIC = b"SQLite format 3\x00"
MSGSTORE = "msgstore.db"
WA_DB = "wa.db"
GROUP_SERVER = "g.us"
STATUS_JID = "status@broadcast"
OWNER = "You"  # the phone's owner, as other importers name them

STATUS_SYSTEM = 6  # legacy: status 6 marks a system entry
# message_system.action_type (WhatsApp-Chat-Exporter utility.determine_metadata).
ACTION_KIND: dict[int, EventKind] = {
    1: EV_TITLE,  # changed the group name
    4: EV_JOIN,  # was added
    5: EV_LEAVE,  # left
    7: EV_LEAVE,  # you were removed
    11: EV_SYSTEM,  # created the group
    12: EV_JOIN,  # added someone
    13: EV_LEAVE,  # someone left
    14: EV_LEAVE,  # removed someone
    18: EV_ENCRYPTION,  # security code changed
    19: EV_ENCRYPTION,  # end-to-end encrypted
    20: EV_JOIN,  # joined with an invite link
    57: EV_ENCRYPTION,  # security code changed
}
ACTION_TEXT = {
    1: "changed the group name",
    4: "was added",
    5: "left",
    6: "changed the group icon",
    7: "you were removed",
    11: "created the group",
    12: "added a participant",
    13: "a participant left",
    14: "removed a participant",
    15: "made a participant admin",
    18: "the security code changed",
    19: "messages are end-to-end encrypted",
    20: "joined with an invite link",
    27: "changed the group description",
    56: "the disappearing-message timer changed",
    57: "the security code changed",
    58: "you blocked this contact",
}
# call_log.call_result (WhatsApp-Chat-Exporter _construct_call_description).
CALL_RESULT = {0: "cancelled", 2: "not answered", 3: "unavailable", 4: "cancelled", 5: "answered", 7: "cancelled"}
CALL_ANSWERED = 5

_BATCH = 2000


def _ms(value: Any) -> datetime | None:
    try:
        ms = int(value)
        if ms <= 0:
            return None
        return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


# --- detection --------------------------------------------------------------------------------


def _tables(conn: Any) -> dict[str, set[str]]:
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    out: dict[str, set[str]] = {}
    for name in names:
        if isinstance(name, str):
            out[name] = {str(r[1]) for r in conn.execute(f'PRAGMA table_info("{name.replace(chr(34), "")}")')}
    return out


def schema_of(tables: dict[str, set[str]]) -> str | None:
    """ "modern", "legacy" or None: which msgstore schema these tables are."""
    modern = tables.get("message", set())
    if {"chat_row_id", "key_id", "from_me", "timestamp"} <= modern and "chat" in tables and "jid" in tables:
        return "modern"
    legacy = tables.get("messages", set())
    if {"key_remote_jid", "key_from_me", "key_id", "timestamp"} <= legacy:
        return "legacy"
    return None


def _database_in(path: Path, *, strict: bool = False) -> Path | None:
    """The msgstore database a path stands for: the file, or in a folder (WhatsApp/ or its Databases/)
    msgstore.db, else the newest backup msgstore.db.crypt15 (or .crypt14).

    `strict` (detection) takes a folder only when it is a Databases folder or holds one, so that a
    Downloads folder with a msgstore.db among other exports is not claimed whole."""
    if path.is_dir():
        folders = [path / "Databases", path / "databases"]
        if not strict or path.name.casefold() == "databases":
            folders.insert(0, path)
        for folder in folders:
            for name in (MSGSTORE, MSGSTORE + ".crypt15", MSGSTORE + ".crypt14"):
                if (folder / name).is_file():
                    return folder / name
        return None
    return path if path.is_file() else None


def detect(path: Path) -> bool:
    """A msgstore database (either schema), a folder holding msgstore.db, or a .crypt14/.crypt15 backup."""
    try:
        db = _database_in(path, strict=True)
        if db is None:
            return False
        if looks_encrypted_backup(db):
            return db.name.casefold().startswith("msgstore")
        if read_head(db, 16) != SQLITE_MAGIC:
            return False
        conn = open_plain(db)
        try:
            return schema_of(_tables(conn)) is not None
        finally:
            conn.close()
    except Exception:  # detect() never raises
        return False


# --- opening ----------------------------------------------------------------------------------


def open_in_memory(data: bytearray, label: str) -> sqlite3.Connection:
    """A read-only connection to a database held in memory (never written to disk)."""
    if len(data) > 19 and data[18] == 2 and data[19] == 2:
        data[18] = data[19] = 1  # a WAL-mode header: read it as rollback-journal (memory has no -shm)
    conn = sqlite3.connect(":memory:")
    deserialize = getattr(conn, "deserialize", None)
    if deserialize is None:  # pragma: no cover - Python 3.10
        conn.close()
        raise ExportError(
            "decrypting a WhatsApp backup in memory needs Python 3.11 or later; or decrypt it with "
            "wa-crypt-tools and import the msgstore.db",
            path=label,
        )
    try:
        deserialize(data)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return finish(conn, lenient_text=True)
    except sqlite3.Error as exc:
        conn.close()
        raise ExportError("the decrypted backup is not a readable database", path=label) from exc


def _wipe(data: bytearray) -> None:
    """Overwrite the plaintext copy outside SQLite (SQLite holds its own), without a second copy."""
    zeros = bytes(1 << 20)
    for start in range(0, len(data), len(zeros)):
        end = min(start + len(zeros), len(data))
        data[start:end] = zeros[: end - start]


def _open(db: Path, options: ParseOptions) -> sqlite3.Connection:
    label = str(db)
    if crypt_version(db) is not None:
        data = decrypt(db, options.keys.get("whatsapp"))
        try:
            return open_in_memory(data, label)
        finally:
            _wipe(data)
    try:
        return open_plain(db, lenient_text=True)
    except db_errors() as exc:
        raise ExportError("the database cannot be opened (damaged, or not a SQLite file?)", path=label) from exc


def _contacts_db(db: Path, options: ParseOptions) -> tuple[Path | None, list[Record]]:
    given = options.params.get("wa_db")
    if given:
        p = Path(given).expanduser()
        if not p.is_file():
            raise ExportError("the wa.db given with --param wa_db= does not exist", path=str(p))
        return p, []
    for name in (WA_DB, WA_DB + ".crypt15", WA_DB + ".crypt14"):
        p = db.parent / name
        if p.is_file():
            return p, []
    return None, [Note("no wa.db beside the database: contacts are named by their numbers")]


def _contact_names(path: Path, options: ParseOptions) -> tuple[dict[str, str], list[Record]]:
    try:
        conn = _open(path, options)
    except ExportError:
        return {}, [Problem(str(path), None, "wa.db could not be opened; contacts are named by their numbers")]
    names: dict[str, str] = {}
    try:
        tables = _tables(conn)
        cols = tables.get("wa_contacts", set())
        if "jid" not in cols:
            return {}, [Problem(str(path), None, "wa.db has no wa_contacts table; contacts are named by their numbers")]
        pick = [c for c in ("display_name", "wa_name") if c in cols]
        if not pick:
            return {}, []
        expr = "COALESCE(" + ", ".join([*pick, "NULL"]) + ")"
        for jid, name in conn.execute(f"SELECT jid, {expr} FROM wa_contacts"):
            if isinstance(jid, str) and isinstance(name, str) and name.strip():
                names[jid] = name.strip()
    except sqlite3.Error:
        return names, [Problem(str(path), None, "wa.db could not be read to the end")]
    finally:
        conn.close()
    return names, []


# --- media ------------------------------------------------------------------------------------


@dataclass
class Media:
    """Files of a WhatsApp/Media folder, found by the path the database stores, or by name."""

    root: Path | None
    _by_name: dict[str, Path] | None = None

    def find(self, stored: str | None, name: str | None) -> Path | None:
        if self.root is None:
            return None
        root = self.root.resolve()
        if stored:
            rel = PurePosixPath(stored.replace("\\", "/"))
            parts = [p for p in rel.parts if p not in ("", "/")]
            if not rel.is_absolute() and ".." not in parts and parts:
                tries = [parts]
                if parts[0].casefold() == "media":
                    tries.append(parts[1:])
                for t in tries:
                    if t:
                        candidate = root.joinpath(*t)
                        if candidate.is_file() and candidate.resolve().is_relative_to(root):
                            return candidate
        base = PurePosixPath((stored or "").replace("\\", "/")).name or (name or "")
        if not base or "/" in base or base in (".", ".."):
            return None
        return self._index().get(base)

    def _index(self) -> dict[str, Path]:
        if self._by_name is None:
            self._by_name = {}
            assert self.root is not None
            root = self.root.resolve()
            for dirpath, _dirs, files in os.walk(root):
                for f in files:
                    p = Path(dirpath) / f
                    if not p.is_symlink():
                        self._by_name.setdefault(f, p)
        return self._by_name


def _media_root(db: Path, options: ParseOptions) -> Media:
    given = options.params.get("media")
    if given:
        p = Path(given).expanduser()
        if not p.is_dir():
            raise ExportError("the media folder given with --param media= does not exist", path=str(p))
        return Media(p)
    for base in (db.parent, db.parent.parent):
        if (base / "Media").is_dir():
            return Media(base)
    return Media(None)


# --- the records ------------------------------------------------------------------------------


@dataclass
class People:
    """Jids → display names (wa.db, else the number) and the chats' titles."""

    names: dict[str, str]
    jids: dict[int, str] = field(default_factory=dict)  # jid._id -> raw_string (modern)

    def name(self, jid: str | None) -> str | None:
        if not jid:
            return None
        if jid in self.names:
            return self.names[jid]
        user = jid.split("@", 1)[0]
        return "+" + user if user.isdigit() else user

    def raw(self, row_id: Any) -> str | None:
        if isinstance(row_id, int) and row_id > 0:
            return self.jids.get(row_id)
        return None


def _chat_record(jid: str, subject: str | None, people: People) -> Chat:
    group = jid.endswith("@" + GROUP_SERVER)
    title = (subject or "").strip() or (people.name(jid) or jid)
    return Chat(
        source=SOURCE,
        key=jid,
        title=title,
        kind=GROUP if group else DIRECT,
        participants=() if group else (title,),
        extra={"jid": jid},
    )


def _columns(tables: dict[str, set[str]], table: str, wanted: dict[str, str]) -> list[str]:
    """SELECT expressions `table.col AS alias` for the wanted columns the table has (NULL for the rest)."""
    have = tables.get(table, set())
    return [f"{table}.{col} AS {alias}" if col in have else f"NULL AS {alias}" for col, alias in wanted.items()]


@dataclass
class Row:
    """One message row, whichever schema it came from."""

    row_id: int
    chat: str
    from_me: bool
    key_id: str | None
    sender_jid: str | None
    ts: Any
    type: int | None
    text: str | None
    status: int | None
    file_path: str | None
    media_name: str | None
    mime: str | None
    caption: str | None
    quoted: str | None
    action: int | None
    edited: Any


class Reader:
    """Turns a msgstore connection into records."""

    def __init__(self, conn: sqlite3.Connection, label: str, people: People, media: Media) -> None:
        self.conn, self.label, self.people, self.media = conn, label, people, media
        self.tables = _tables(conn)
        self.schema = schema_of(self.tables)
        self.chat_of: dict[int, str] = {}  # chat._id -> jid (modern)
        self.emitted: set[str] = set()

    def records(self) -> Iterator[Record]:
        if self.schema == "modern":
            yield from self._modern()
        elif self.schema == "legacy":
            yield from self._legacy()
        else:
            raise ExportError(
                "this SQLite file is not a WhatsApp msgstore database (no message or messages table)",
                path=self.label,
            )

    # modern ------------------------------------------------------------------------------
    def _modern(self) -> Iterator[Record]:
        t = self.tables
        for row_id, raw, user, server in self.conn.execute("SELECT _id, raw_string, user, server FROM jid"):
            jid = raw if isinstance(raw, str) and raw else (f"{user}@{server}" if user and server else None)
            if isinstance(row_id, int) and jid:
                self.people.jids[row_id] = jid
        if {"lid_row_id", "jid_row_id"} <= t.get("jid_map", set()):
            for lid, phone in self.conn.execute("SELECT lid_row_id, jid_row_id FROM jid_map"):
                phone_jid = self.people.raw(phone)
                if phone_jid and isinstance(lid, int):
                    self.people.jids[lid] = phone_jid
        subject = "chat.subject" if "subject" in t["chat"] else "NULL"
        for chat_id, jid_row, subj in self.conn.execute(f"SELECT _id, jid_row_id, {subject} FROM chat"):
            jid = self.people.raw(jid_row)
            if jid is None or jid == STATUS_JID or not isinstance(chat_id, int):
                continue
            self.chat_of[chat_id] = jid
            yield from self._chat(jid, subj if isinstance(subj, str) else None)
        reactions = self._reactions()
        msg = t["message"]
        cols = [
            "message._id",
            "message.chat_row_id",
            "message.from_me",
            "message.key_id",
            "message.sender_jid_row_id" if "sender_jid_row_id" in msg else "NULL",
            "message.timestamp",
            "message.message_type" if "message_type" in msg else "NULL",
            "message.text_data" if "text_data" in msg else "NULL",
            "message.status" if "status" in msg else "NULL",
        ]
        joins = []
        for table, wanted, on in (
            (
                "message_media",
                {"file_path": "fp", "media_name": "mn", "mime_type": "mt", "media_caption": "mc"},
                "message_row_id",
            ),
            ("message_quoted", {"key_id": "qk"}, "message_row_id"),
            ("message_system", {"action_type": "at"}, "message_row_id"),
            ("message_edit_info", {"edited_timestamp": "et"}, "message_row_id"),
        ):
            if on in t.get(table, set()):
                cols += _columns(t, table, wanted)
                joins.append(f"LEFT JOIN {table} ON {table}.{on} = message._id")
            else:
                cols += [f"NULL AS {alias}" for alias in wanted.values()]
        sql = f"SELECT {', '.join(cols)} FROM message {' '.join(joins)} ORDER BY message._id"
        for r in self._rows(sql):
            chat = self.chat_of.get(r[1]) if isinstance(r[1], int) else None
            if chat is None:
                continue
            from_me = bool(r[2])
            sender = None if from_me else (self.people.raw(r[4]) or (None if chat.endswith("@g.us") else chat))
            row = Row(
                row_id=r[0], chat=chat, from_me=from_me, key_id=r[3], sender_jid=sender, ts=r[5],
                type=r[6], text=r[7], status=r[8], file_path=r[9], media_name=r[10], mime=r[11],
                caption=r[12], quoted=r[13], action=r[14], edited=r[15],
            )  # fmt: skip
            system = type_of(ANDROID_TYPES, row.type) == "system"
            yield from self._convert(row, system=system, reactions=reactions.get(row.row_id, ()))
        yield from self._calls()

    def _reactions(self) -> dict[int, tuple[Reaction, ...]]:
        t = self.tables
        add_on, reaction = t.get("message_add_on", set()), t.get("message_add_on_reaction", set())
        if not ({"_id", "parent_message_row_id"} <= add_on and {"message_add_on_row_id", "reaction"} <= reaction):
            return {}
        sender = "a.sender_jid_row_id" if "sender_jid_row_id" in add_on else "NULL"
        from_me = "a.from_me" if "from_me" in add_on else "0"
        ts = "a.timestamp" if "timestamp" in add_on else "NULL"
        out: dict[int, list[Reaction]] = {}
        sql = (
            f"SELECT a.parent_message_row_id, r.reaction, {sender}, {from_me}, {ts} FROM message_add_on a "
            "JOIN message_add_on_reaction r ON r.message_add_on_row_id = a._id ORDER BY a._id"
        )
        for parent, emoji, sender_row, mine, when in self._rows(sql):
            if not isinstance(emoji, str) or not emoji or not isinstance(parent, int):
                continue  # an empty reaction is one taken back
            who = OWNER if mine else self.people.name(self.people.raw(sender_row))
            out.setdefault(parent, []).append(Reaction(emoji=emoji, sender=who, ts=_ms(when)))
        return {k: tuple(v) for k, v in out.items()}

    def _calls(self) -> Iterator[Record]:
        cols = self.tables.get("call_log", set())
        if not {"jid_row_id", "timestamp"} <= cols:
            return
        pick = {
            c: (c if c in cols else "NULL") for c in ("call_id", "from_me", "video_call", "duration", "call_result")
        }
        sql = (
            f"SELECT _id, jid_row_id, timestamp, {pick['call_id']}, {pick['from_me']}, {pick['video_call']}, "
            f"{pick['duration']}, {pick['call_result']} FROM call_log ORDER BY _id"
        )
        for row_id, jid_row, when, call_id, from_me, video, duration, result in self._rows(sql):
            jid = self.people.raw(jid_row)
            ts = _ms(when)
            if jid is None or ts is None:
                yield Problem(self.label, None, f"call_log row {row_id}: no caller or time; skipped")
                continue
            yield from self._chat(jid, None)
            seconds = int(duration) if isinstance(duration, int) and duration > 0 else 0
            what = "video call" if video else "voice call"
            direction = "outgoing" if from_me else "incoming"
            outcome = CALL_RESULT.get(result if isinstance(result, int) else -1, "unknown")
            if result != CALL_ANSWERED and not from_me:
                outcome = "missed"
            text = f"{direction} {what}, {outcome}" + (f" ({seconds} s)" if seconds else "")
            yield Event(
                chat=jid,
                ts=ts,
                text=text,
                kind=EV_CALL,
                actor=None if from_me else self.people.name(jid),
                source_id=f"call:{call_id or row_id}",
                extra={"duration_s": seconds, "video": bool(video), "direction": direction, "result": outcome},
            )

    # legacy ------------------------------------------------------------------------------
    def _legacy(self) -> Iterator[Record]:
        t = self.tables
        subjects: dict[str, str | None] = {}
        if {"key_remote_jid", "subject"} <= t.get("chat_list", set()):
            for jid, subj in self.conn.execute("SELECT key_remote_jid, subject FROM chat_list"):
                if isinstance(jid, str):
                    subjects[jid] = subj if isinstance(subj, str) else None
        elif {"jid_row_id", "subject"} <= t.get("chat", set()) and {"_id", "raw_string"} <= t.get("jid", set()):
            for jid, subj in self.conn.execute(
                "SELECT jid.raw_string, chat.subject FROM chat JOIN jid ON jid._id = chat.jid_row_id"
            ):
                if isinstance(jid, str):
                    subjects[jid] = subj if isinstance(subj, str) else None
        for (jid,) in self.conn.execute("SELECT DISTINCT key_remote_jid FROM messages"):
            if isinstance(jid, str) and jid not in subjects:
                subjects[jid] = None
        for jid, subj in subjects.items():
            if jid and jid != "-1" and jid != STATUS_JID:
                yield from self._chat(jid, subj)
        m = t["messages"]

        def col(name: str) -> str:
            return f"messages.{name}" if name in m else "NULL"

        cols = [
            "messages._id", "messages.key_remote_jid", "messages.key_from_me", "messages.key_id",
            col("remote_resource"), "messages.timestamp", col("media_wa_type"), col("data"), col("status"),
        ]  # fmt: skip
        joins = []
        if {"message_row_id", "file_path"} <= t.get("message_media", set()):
            cols.append("message_media.file_path")
            joins.append("LEFT JOIN message_media ON message_media.message_row_id = messages._id")
        else:
            cols.append("NULL")
        cols += [col("media_name"), col("media_mime_type"), col("media_caption")]
        if "quoted_row_id" in m and {"_id", "key_id"} <= t.get("messages_quotes", set()):
            cols.append("messages_quotes.key_id")
            joins.append("LEFT JOIN messages_quotes ON messages_quotes._id = messages.quoted_row_id")
        else:
            cols.append("NULL")
        if {"message_row_id", "action_type"} <= t.get("message_system", set()):
            cols.append("message_system.action_type")
            joins.append("LEFT JOIN message_system ON message_system.message_row_id = messages._id")
        else:
            cols.append("NULL")
        cols.append("NULL")
        sql = f"SELECT {', '.join(cols)} FROM messages {' '.join(joins)} ORDER BY messages._id"
        for r in self._rows(sql):
            chat = r[1]
            if not isinstance(chat, str) or chat in ("-1", STATUS_JID) or chat not in self.emitted:
                continue
            from_me = bool(r[2])
            sender = None if from_me else (r[4] or (None if chat.endswith("@g.us") else chat))
            row = Row(
                row_id=r[0], chat=chat, from_me=from_me, key_id=r[3], sender_jid=sender, ts=r[5],
                type=r[6] if isinstance(r[6], int) else _int(r[6]), text=r[7], status=r[8], file_path=r[9],
                media_name=r[10], mime=r[11], caption=r[12], quoted=r[13], action=r[14], edited=None,
            )  # fmt: skip
            yield from self._convert(row, system=row.status == STATUS_SYSTEM, reactions=())
        if {"jid_row_id", "timestamp"} <= t.get("call_log", set()) and "jid" in t:
            for row_id, raw in self.conn.execute("SELECT _id, raw_string FROM jid"):
                if isinstance(row_id, int) and isinstance(raw, str):
                    self.people.jids[row_id] = raw
            yield from self._calls()

    # shared ------------------------------------------------------------------------------
    def _chat(self, jid: str, subject: str | None) -> Iterator[Record]:
        if jid not in self.emitted:
            self.emitted.add(jid)
            yield _chat_record(jid, subject, self.people)

    def _rows(self, sql: str) -> Iterator[tuple[Any, ...]]:
        try:
            cursor = self.conn.execute(sql)
            while True:
                batch = cursor.fetchmany(_BATCH)
                if not batch:
                    return
                yield from batch
        except sqlite3.Error as exc:
            raise ExportError(
                f"the database could not be read to the end ({type(exc).__name__}); is it damaged?",
                path=self.label,
            ) from exc

    def _convert(self, row: Row, *, system: bool, reactions: tuple[Reaction, ...]) -> Iterator[Record]:
        ts = _ms(row.ts)
        where = f"message row {row.row_id}"
        if ts is None:
            yield Problem(self.label, None, f"{where}: no readable time; skipped")
            return
        text = row.text if isinstance(row.text, str) else ""
        sender = self.people.name(row.sender_jid)
        source_id = row.key_id if isinstance(row.key_id, str) and row.key_id else None
        if system:
            action = row.action if isinstance(row.action, int) else None
            what = ACTION_TEXT.get(action or -1, "system message")
            yield Event(
                chat=row.chat,
                ts=ts,
                text=f"{what}: {text}" if text else what,
                kind=ACTION_KIND.get(action or -1, EV_SYSTEM),
                actor=OWNER if row.from_me else sender,
                source_id=source_id,
                extra={"action_type": action} if action is not None else {},
            )
            return
        kind = message_kind(ANDROID_TYPES, row.type)
        if kind == DELETED:
            text = ""
        elif not text and isinstance(row.caption, str):
            text = row.caption
        attachments: tuple[Attachment, ...] = ()
        stored = row.file_path if isinstance(row.file_path, str) else None
        name = row.media_name if isinstance(row.media_name, str) else None
        # A contact card's .vcf too, when the database names one.
        if (kind in MEDIA_KINDS or kind == CONTACT) and (stored or name):
            attachments = (self._attachment(stored, name, row.mime if isinstance(row.mime, str) else None, kind),)
        yield Message(
            chat=row.chat,
            ts=ts,
            sender=OWNER if row.from_me else sender,
            sender_id=None if row.from_me else row.sender_jid,
            from_me=row.from_me,
            text=text,
            kind=kind,
            source_id=source_id,
            reply_to=row.quoted if isinstance(row.quoted, str) and row.quoted else None,
            edited=_ms(row.edited),
            attachments=attachments,
            reactions=reactions,
            extra={"message_type": row.type} if kind == OTHER else {},
        )

    def _attachment(self, stored: str | None, name: str | None, mime: str | None, kind: MessageKind) -> Attachment:
        found = self.media.find(stored, name)
        display = PurePosixPath((stored or "").replace("\\", "/")).name or name or "media"
        opener: Callable[[], Any] | None = None
        size: int | None = None
        if found is not None:
            opener = file_opener(found)
            try:
                size = found.stat().st_size
            except OSError:
                opener = None
        return Attachment(
            name=display,
            kind=kind if kind != FILE else kind_of_file(display),
            mime=mime or mime_of_file(display),
            size=size,
            open=opener,
        )


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Records of every chat in the database (see the module docstring)."""
    db = _database_in(path)
    if db is None:
        raise ExportError(
            "no msgstore.db here: choose msgstore.db, its folder, or a .crypt14/.crypt15 backup", path=str(path)
        )
    media = _media_root(db, options)
    names: dict[str, str] = {}
    wa_path, notes = _contacts_db(db, options)
    yield from notes
    conn = _open(db, options)
    try:
        if wa_path is not None:
            names, problems = _contact_names(wa_path, options)
            yield from problems
        reader = Reader(conn, str(db), People(names), media)
        yield from reader.records()
    except sqlite3.Error as exc:
        raise ExportError(
            f"the database could not be read ({type(exc).__name__}); is it damaged?", path=str(db)
        ) from exc
    finally:
        conn.close()
