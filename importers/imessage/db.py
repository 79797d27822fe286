"""Read-only access to a Messages `chat.db` (Mac) or `sms.db` (iPhone backup): schema and queries.

Tables used (names as in corpus/imessage/test.db.schema.sql, macOS 15 / iOS 18; older versions
lack some columns, which are then read as NULL):

- `message`: one row per message, tapback, group event. `guid` is the stable id; `date*` are
  Apple-epoch times; `attributedBody` the archived body; `associated_message_*` tie tapbacks to
  their target; `item_type`/`group_action_type` mark group events.
- `chat` (+ `chat_message_join`, `chat_handle_join`): conversations, their messages and members.
- `handle`: the other people, by phone number or e-mail (`id`).
- `attachment` (+ `message_attachment_join`): files, with `filename` under ~/Library/Messages.

Every query streams through a cursor; per-message look-ups use the indexes Messages itself keeps
(`message_idx_associated_message`, `message_attachment_join_idx_message_id`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from importers.base import read_head
from vault.errors import ExportError

SQLITE_MAGIC = b"SQLite format 3\x00"
# An iPhone backup names each file by the SHA-1 of "<domain>-<path>":
# this one is "HomeDomain-Library/SMS/sms.db".
BACKUP_SMS_DB = "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
DB_NAMES = ("chat.db", "sms.db", BACKUP_SMS_DB, f"{BACKUP_SMS_DB[:2]}/{BACKUP_SMS_DB}")
REQUIRED_TABLES = frozenset({"message", "chat", "handle", "chat_message_join"})

# associated_message_type values (imessage-exporter, message_types/variants.rs).
STICKER_PLACED = 1000  # a sticker put on a bubble: a message of its own
TAPBACK_ADDED = range(2000, 2008)
TAPBACK_REMOVED = range(3000, 3008)
POLL_VOTE = 4000

MESSAGE_COLUMNS = (
    "ROWID",
    "guid",
    "text",
    "attributedBody",
    "handle_id",
    "service",
    "subject",
    "date",
    "date_edited",
    "date_retracted",
    "is_from_me",
    "is_audio_message",
    "item_type",
    "other_handle",
    "group_title",
    "group_action_type",
    "share_status",
    "associated_message_guid",
    "associated_message_type",
    "balloon_bundle_id",
    "expressive_send_style_id",
    "message_summary_info",
    "thread_originator_guid",
    "thread_originator_part",
    "part_count",
)
TAPBACK_COLUMNS = (
    "ROWID",
    "associated_message_type",
    "associated_message_emoji",
    "is_from_me",
    "handle_id",
    "date",
)
ATTACHMENT_COLUMNS = (
    "ROWID",
    "guid",
    "filename",
    "mime_type",
    "uti",
    "transfer_name",
    "total_bytes",
    "is_sticker",
    "created_date",
)
_ASSOCIATED = "COALESCE(m.associated_message_type, 0)"
_IS_TAPBACK = (
    f"({_ASSOCIATED} BETWEEN {TAPBACK_ADDED.start} AND {TAPBACK_ADDED.stop - 1}"
    f" OR {_ASSOCIATED} BETWEEN {TAPBACK_REMOVED.start} AND {TAPBACK_REMOVED.stop - 1})"
)
# Rows that are not messages of their own: tapbacks (folded into their target) and poll votes.
_NOT_MESSAGES = f"NOT {_IS_TAPBACK} AND {_ASSOCIATED} != {POLL_VOTE}"


def find_db(path: Path) -> Path | None:
    """The database file: `path` itself, or chat.db / the backup's sms.db inside a folder."""
    if path.is_file():
        return path
    if path.is_dir():
        for name in DB_NAMES:
            if (path / name).is_file():
                return path / name
    return None


def table_names(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def is_chat_db(db: Path) -> bool:
    """Cheap and certain: an SQLite file holding the Messages tables. Never raises."""
    if read_head(db, len(SQLITE_MAGIC)) != SQLITE_MAGIC:
        return False
    try:
        conn = sqlite3.connect(db.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
        try:
            return table_names(conn) >= REQUIRED_TABLES
        finally:
            conn.close()
    except (sqlite3.Error, OSError, ValueError):
        return False


def connect(db: Path) -> tuple[sqlite3.Connection, bool]:
    """Open read-only; (connection, whether the write-ahead log had to be left out).

    A live chat.db keeps its newest messages in chat.db-wal until Messages checkpoints it. With a
    -wal beside it we open it `mode=ro` (SQLite then reads the log); without one, `immutable=1`
    so that SQLite neither locks nor touches anything. If the log cannot be read (no permission
    for -shm), we fall back to `immutable=1` and say so.
    """
    base = db.resolve().as_uri()
    wal = db.with_name(db.name + "-wal")
    try:
        has_wal = wal.is_file() and wal.stat().st_size > 0
    except OSError:
        has_wal = False
    attempts = [(base + "?mode=ro", False)] if has_wal else []
    attempts.append((base + "?mode=ro&immutable=1", has_wal))
    last: Exception | None = None
    for uri, without_wal in attempts:
        conn = None
        try:
            conn = sqlite3.connect(uri, uri=True)
            conn.execute("PRAGMA query_only = ON")
            conn.execute("PRAGMA temp_store = MEMORY")  # never a temp file beside the source
            conn.row_factory = sqlite3.Row
            conn.text_factory = _lenient_text
            tables = table_names(conn)
        except (
            sqlite3.Error,
            UnicodeDecodeError,
        ) as exc:  # a damaged schema's error text may not decode
            if conn is not None:
                conn.close()
            last = exc
            continue
        if not tables >= REQUIRED_TABLES:
            conn.close()
            raise ExportError(
                "this SQLite database is not a Messages chat.db (no message/chat/handle tables); "
                "choose ~/Library/Messages/chat.db or the sms.db of an iPhone backup",
                path=str(db),
            )
        return conn, without_wal
    raise ExportError(
        "cannot open this file as a Messages database: not SQLite, damaged, or encrypted (an "
        "encrypted iPhone backup must be restored or decrypted first). On a Mac, give the terminal "
        "Full Disk Access to read ~/Library/Messages/chat.db",
        path=str(db),
    ) from last


def _lenient_text(raw: bytes) -> str:
    """TEXT values as str; bytes that are not UTF-8 (a damaged page) become U+FFFD, not errors."""
    return raw.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Schema:
    """Which columns this database version has; missing ones are selected as NULL."""

    columns: dict[str, frozenset[str]]

    @classmethod
    def probe(cls, conn: sqlite3.Connection) -> Schema:
        cols: dict[str, frozenset[str]] = {}
        for table in table_names(conn):
            if table.isidentifier():
                rows = conn.execute(f"PRAGMA table_info({table})").fetchall()
                cols[table] = frozenset(r[1] for r in rows)
        return cls(cols)

    def has(self, table: str, column: str | None = None) -> bool:
        return table in self.columns and (column is None or column in self.columns[table])

    def select(self, table: str, alias: str, wanted: Sequence[str]) -> str:
        have = self.columns.get(table, frozenset())
        return ", ".join(f"{alias}.{c}" if c in have else f"NULL AS {c}" for c in wanted)


class ChatDb:
    """The queries the importer runs, each a streaming cursor or a small indexed look-up."""

    def __init__(self, conn: sqlite3.Connection, path: str) -> None:
        self.conn = conn
        self.schema = Schema.probe(conn)
        if not self.schema.has("message", "guid") or not self.schema.has("message", "date"):
            raise ExportError(
                "this database's message table has no guid/date columns: not a Messages chat.db",
                path=path,
            )
        self._message_cols = self.schema.select("message", "m", MESSAGE_COLUMNS)
        self._tapback_cols = self.schema.select("message", "m", TAPBACK_COLUMNS)
        self._attachment_cols = self.schema.select("attachment", "a", ATTACHMENT_COLUMNS)
        self._tapbacks = self.schema.has("message", "associated_message_type") and self.schema.has(
            "message", "associated_message_guid"
        )
        self._not_messages = _NOT_MESSAGES if self._tapbacks else "1"
        self._attachments = self.schema.has("attachment") and self.schema.has("message_attachment_join")

    def handles(self) -> dict[int, str]:
        rows = self.conn.execute("SELECT ROWID, id FROM handle")
        return {r["ROWID"]: r["id"] for r in rows if isinstance(r["id"], str) and r["id"]}

    def chats(self) -> Iterator[sqlite3.Row]:
        cols = self.schema.select(
            "chat",
            "c",
            ("ROWID", "guid", "style", "chat_identifier", "service_name", "display_name"),
        )
        yield from self.conn.execute(f"SELECT {cols} FROM chat c ORDER BY c.ROWID")

    def members(self, chat_rowid: int) -> list[int]:
        if not self.schema.has("chat_handle_join"):
            return []
        rows = self.conn.execute(
            "SELECT handle_id FROM chat_handle_join WHERE chat_id = ? ORDER BY handle_id",
            (chat_rowid,),
        )
        return [r[0] for r in rows]

    def chat_messages(self, chat_rowid: int) -> Iterator[sqlite3.Row]:
        """A chat's messages in the order they were stored (the join table's primary key)."""
        yield from self.conn.execute(
            f"SELECT {self._message_cols} FROM chat_message_join j"
            " JOIN message m ON m.ROWID = j.message_id"
            f" WHERE j.chat_id = ? AND {self._not_messages} ORDER BY j.chat_id, j.message_id",
            (chat_rowid,),
        )

    def _orphan_filter(self) -> str:
        """Messages in no chat, except those in "Recently Deleted" (the person deleted them)."""
        where = f"NOT EXISTS (SELECT 1 FROM chat_message_join j WHERE j.message_id = m.ROWID) AND {self._not_messages}"
        if self.schema.has("chat_recoverable_message_join"):
            where += " AND NOT EXISTS (SELECT 1 FROM chat_recoverable_message_join r WHERE r.message_id = m.ROWID)"
        return where

    def has_orphans(self) -> bool:
        query = f"SELECT 1 FROM message m WHERE {self._orphan_filter()} LIMIT 1"
        return self.conn.execute(query).fetchone() is not None

    def orphan_messages(self) -> Iterator[sqlite3.Row]:
        """Messages in no chat (left over from a deleted chat, or a test database like test.db)."""
        yield from self.conn.execute(
            f"SELECT {self._message_cols} FROM message m WHERE {self._orphan_filter()} ORDER BY m.ROWID"
        )

    def recently_deleted(self) -> int:
        """How many messages wait in "Recently Deleted" (not imported)."""
        if not self.schema.has("chat_recoverable_message_join"):
            return 0
        query = "SELECT COUNT(DISTINCT message_id) FROM chat_recoverable_message_join"
        return int(self.conn.execute(query).fetchone()[0])

    def tapbacks(self, targets: Sequence[str]) -> list[sqlite3.Row]:
        """Tapback rows aimed at any of `targets` (associated_message_guid forms), oldest first."""
        if not self._tapbacks or not targets:
            return []
        marks = ", ".join("?" * len(targets))
        return self.conn.execute(
            f"SELECT {self._tapback_cols} FROM message m"
            f" WHERE m.associated_message_guid IN ({marks}) AND {_IS_TAPBACK}"
            " ORDER BY m.date, m.ROWID",
            tuple(targets),
        ).fetchall()

    def attachments(self, message_rowid: int) -> list[sqlite3.Row]:
        if not self._attachments:
            return []
        return self.conn.execute(
            f"SELECT {self._attachment_cols} FROM message_attachment_join j"
            " JOIN attachment a ON a.ROWID = j.attachment_id"
            " WHERE j.message_id = ? ORDER BY a.ROWID",
            (message_rowid,),
        ).fetchall()

    def poll_votes(self) -> int:
        if not self._tapbacks:
            return 0
        row = self.conn.execute(
            "SELECT COUNT(*) FROM message WHERE associated_message_type = ?", (POLL_VOTE,)
        ).fetchone()
        return int(row[0])
