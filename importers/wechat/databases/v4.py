"""WeChat 4.x databases (Windows and macOS, late 2024 on): `message_N.db` with `contact.db`.

How a person gets them: WeChat 4 keeps them under `xwechat_files\\<wxid>_<suffix>\\db_storage\\`
(`message/message_0.db`…, `contact/contact.db`), encrypted with SQLCipher 4 defaults and a key
held by the running client; tools such as chatlog or MemoTrace 2 printed the key or wrote
decrypted copies (formats/wechat.md §2).

Tables read: one `Msg_<md5 of the chat id>` table per conversation (`server_id` is the identity,
`local_type = (sub type << 32) | type`, `message_content` is text or zstd-compressed XML, group
messages from others start with `<wxid>:\\n`), `Name2Id` (row number → user name, for
`real_sender_id`), and in contact.db `contact` (remark, nick_name, alias). Media of 4.x are
AES-encrypted `.dat` files and are not read.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from importers.wechat.chat_tables import ChatTables, already_read, table_message
from importers.wechat.common import Names, RawMessage, aware_epoch, display_name, is_group, split_group_prefix
from importers.wechat.databases.opening import (
    DAMAGED_REST,
    DatabaseReadError,
    Layout,
    Opener,
    each_database,
    load_contacts,
    query,
    tables_of,
)
from vault.records import Problem, Record, title_key

# zstd frame magic (RFC 8878 §3.1.1); 4.x compresses message_content with it (chatlog
# message_v4.go, WCDB_CT_message_content = 4).
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
ZSTD_MAX_OUTPUT = 32 * 1024 * 1024

# local_type packs the app sub type above the low 32 bits (244813135921 = 57 << 32 | 49).
TYPE_MASK = 0xFFFFFFFF
SUB_TYPE_SHIFT = 32

# status of a message the owner sent (chatlog message_v4.go: "2 是已发送").
STATUS_SENT = 2

_MSG_TABLE = re.compile(r"^Msg_([0-9a-f]{32})$")
# Account folders are named "<wxid>_<4 characters>" in 4.x.
_ACCOUNT_SUFFIX = re.compile(r"^(wxid_[A-Za-z0-9]+|[A-Za-z][\w-]{5,19})_[0-9a-z]{4}$")


def decompress_zstd(data: bytes) -> str | None:
    """Text of a zstd-compressed content cell, or None (no zstandard package, or damaged)."""
    try:
        import zstandard
    except ImportError:
        return None
    try:
        with zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)) as reader:
            out = reader.read(ZSTD_MAX_OUTPUT)
    except zstandard.ZstdError:
        return None
    return out.decode("utf-8", errors="replace")


def content_text(value: Any) -> str:
    """A message_content/compress_content cell as text (zstd undone)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    data = bytes(value)
    if data.startswith(ZSTD_MAGIC):
        return decompress_zstd(data) or ""
    return data.decode("utf-8", errors="replace")


def _md5(name: str) -> str:
    return hashlib.md5(name.encode("utf-8")).hexdigest()


class Contacts4:
    """Names from contact.db's `contact` table."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def load(self, conn: Any) -> None:
        if "contact" not in tables_of(conn):
            return
        for row in query(conn, "SELECT * FROM contact"):
            user = row.get("username")
            if user:
                self.names[str(user)] = display_name(
                    row.get("remark"), row.get("nick_name"), row.get("alias"), str(user)
                )


def _quoted(table: str) -> str:
    return '"' + table.replace('"', '""') + '"'


def _infer_owner(conn: Any, tables: dict[str, str], ids: dict[int, str]) -> str | None:
    """The owner: whoever else speaks in a one-to-one chat (the other side is the contact)."""
    by_name = {v: k for k, v in ids.items()}
    for table, talker in tables.items():
        if is_group(talker) or talker not in by_name:
            continue
        sql = f"SELECT real_sender_id FROM {_quoted(table)} WHERE real_sender_id != ? LIMIT 1"
        for row in query(conn, sql, (by_name[talker],)):
            owner = ids.get(int(row["real_sender_id"] or 0))
            if owner:
                return owner
    return None


def _owner_from_folder(layout: Layout) -> str | None:
    root = layout.media_root
    if root is None:
        return None
    match = _ACCOUNT_SUFFIX.match(root.name)
    return match.group(1) if match else None


def parse_v4(layout: Layout, opener: Opener) -> Iterator[Record]:
    """Records from a 4.x layout: every Msg_ table of every message_N file."""
    contacts = Contacts4()
    yield from load_contacts(layout, opener, contacts.load)
    names = Names(contacts.names)
    seen: set[int] | None = set() if len(layout.message_dbs) > 1 else None
    chats: set[str] = set()

    def read(db: Path, conn: Any) -> Iterator[Record]:
        return _file(db, conn, layout, contacts, names, chats, seen)

    yield from each_database(layout, opener, read)


def _file(
    db: Path,
    conn: Any,
    layout: Layout,
    contacts: Contacts4,
    names: Names,
    chats: set[str],
    seen: set[int] | None,
) -> Iterator[Record]:
    reader = ChatTables(str(db), names, chats)
    skip = None if seen is None else partial(already_read, seen)
    try:
        all_tables = tables_of(conn)
        ids: dict[int, str] = {}
        if "Name2Id" in all_tables:
            for row in query(conn, "SELECT rowid AS id, user_name FROM Name2Id"):
                if row.get("user_name"):
                    ids[int(row["id"])] = str(row["user_name"])
        hashes = {_md5(n): n for n in (*ids.values(), *contacts.names)}
        tables: dict[str, str] = {}
        for table in sorted(all_tables):
            match = _MSG_TABLE.match(table)
            if match:
                tables[table] = hashes.get(match.group(1), match.group(1))
        if names.owner_id is None:
            names.owner_id = _infer_owner(conn, tables, ids) or _owner_from_folder(layout)
            if names.owner_id:
                names.owner_name = contacts.names.get(names.owner_id)
        for table, talker in tables.items():
            known = talker in hashes.values()
            key = talker if known else title_key(talker)
            rows = query(conn, f"SELECT * FROM {_quoted(table)}")
            raw_of = partial(_raw, key=key, talker=talker, ids=ids, names=names)
            yield from reader.read(rows, key, talker, known, raw_of, skip)
    except DatabaseReadError:
        yield Problem(str(db), reader.record + 1, DAMAGED_REST)


def _raw(
    row: dict[str, Any], record: int, key: str, talker: str, ids: dict[int, str], names: Names
) -> RawMessage | None:
    created = row.get("create_time")
    if created is None:
        return None
    local_type = int(row.get("local_type") or 0)
    type_, sub_type = local_type & TYPE_MASK, local_type >> SUB_TYPE_SHIFT
    content = content_text(row.get("message_content"))
    if not content:
        content = content_text(row.get("compress_content"))
    sender = ids.get(int(row.get("real_sender_id") or 0))
    if is_group(talker):
        prefixed, body = split_group_prefix(content)
        if prefixed:
            sender = prefixed
            content = body
    if names.owner_id:
        from_me = sender == names.owner_id
    else:
        from_me = int(row.get("status") or 0) == STATUS_SENT or (
            not is_group(talker) and sender is not None and sender != talker
        )
    return table_message(
        chat=key,
        ts=aware_epoch(int(created)),
        type_=type_,
        sub_type=sub_type,
        content=content,
        sender_id=None if from_me else sender,
        from_me=from_me,
        svrid=row.get("server_id"),
        record=record,
    )
