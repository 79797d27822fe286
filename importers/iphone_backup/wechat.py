"""WeChat inside an iPhone backup: the account folders of `AppDomain-com.tencent.xin`.

Callable on its own (`read(backup)`) so that any importer holding an open `Backup` can use it.

Layout (BlueMatthew/WechatExporter's WechatParser reads the same; formats/wechat.md §5): each
account is `Documents/<md5 of the account's wxid>/`, with `DB/MM.sqlite` and `DB/message_N.sqlite`
holding one table `Chat_<md5(username)>` per conversation (`MesLocalID`, `MesSvrID`, `CreateTime`
in Unix seconds, `Message`, `Type`, `Des` = 0 when the owner sent it, 1 when received). Group
messages from others start with `<wxid>:\\n`. Newer versions store `Message` zstd-compressed (magic
28 B5 2F FD). Contacts: table `Friend` (`userName`, `dbContactRemark` = a protobuf with 1 nickname,
2 alias, 3 remark) in `DB/WCDB_Contact.sqlite` (and in MM.sqlite on older versions). Media:
`Img/<md5(username)>/<MesLocalID>.pic` (`.pic_thum` thumbnail), `Video/<h>/<id>.mp4`,
`Audio/<h>/<id>.aud` (SILK voice).

Type codes and content (XML, quotes, recalls, calls) are read by importers/wechat/common.py, as for
the desktop databases; the chat key is the username and source_id the MesSvrID as a decimal string,
as importers/wechat/databases/mac3.py does, so the same chat from two sources meets in one place.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import zstandard

from importers.iphone_backup.crypto import DecryptError
from importers.iphone_backup.manifest import Backup, Entry
from importers.wechat.chat_tables import ROW_ERRORS, ChatTables, des_message
from importers.wechat.common import (
    TYPE_IMAGE,
    TYPE_MICRO_VIDEO,
    TYPE_VIDEO,
    TYPE_VOICE,
    Names,
    RawMessage,
    display_name,
    protobuf_fields,
)
from vault.records import Attachment, MessageKind, Note, Problem, Record, title_key

DOMAIN = "AppDomain-com.tencent.xin"
CONTACT_DB = "WCDB_Contact.sqlite"
_DB_PATH = re.compile(r"^Documents/([0-9a-f]{32})/DB/(MM\.sqlite|message_(\d+)\.sqlite)$")
_CHAT_TABLE = re.compile(r"^Chat_([0-9a-f]{32})$")
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# The most a compressed body may grow to (a message is at most a few MiB of XML).
MAX_BODY = 64 * 1024 * 1024
_MEDIA = {
    TYPE_IMAGE: (("Img", ".pic"), ("Img", ".pic_thum")),
    TYPE_VIDEO: (("Video", ".mp4"), ("Video", ".video_thum")),
    TYPE_MICRO_VIDEO: (("Video", ".mp4"),),
    TYPE_VOICE: (("Audio", ".aud"),),
}


@dataclass
class Account:
    folder: str  # the md5 folder name
    databases: list[Entry] = field(default_factory=list)  # MM.sqlite first, then message_N


def accounts(backup: Backup) -> list[Account]:
    """The WeChat accounts in the backup, with their message databases."""
    found: dict[str, Account] = {}
    order: dict[str, int] = {}
    for entry in backup.files(DOMAIN, "Documents/%/DB/%.sqlite"):
        match = _DB_PATH.match(entry.relative_path)
        if not match:
            continue
        account = found.setdefault(match.group(1), Account(match.group(1)))
        account.databases.append(entry)
        order[entry.relative_path] = int(match.group(3)) if match.group(3) else -1
    for account in found.values():
        account.databases.sort(key=lambda e: order[e.relative_path])
    return [found[k] for k in sorted(found)]


def decode_body(value: object) -> str:
    """A Message cell as text: zstd-compressed bodies decompressed, bytes decoded leniently."""
    if isinstance(value, str):
        return value
    if not isinstance(value, (bytes, bytearray, memoryview)):
        return "" if value is None else str(value)
    data = bytes(value)
    if data.startswith(ZSTD_MAGIC):
        reader = zstandard.ZstdDecompressor().stream_reader(data)
        data = reader.read(MAX_BODY + 1)[:MAX_BODY]
    return data.decode("utf-8", errors="replace")


def _text_or_zstd(raw: bytes) -> Any:
    """TEXT cells as str, except zstd frames stored as TEXT, which stay bytes for decode_body."""
    return raw if raw.startswith(ZSTD_MAGIC) else raw.decode("utf-8", errors="replace")


def remark_names(blob: object) -> tuple[str | None, str | None, str | None]:
    """(nickname, alias, remark) from Friend.dbContactRemark (protobuf fields 1, 2, 3)."""
    out: dict[int, str] = {}
    if isinstance(blob, str):
        blob = blob.encode("utf-8", errors="replace")
    if isinstance(blob, bytes):
        for number, wire, value in protobuf_fields(blob):
            if wire == 2 and number in (1, 2, 3) and isinstance(value, bytes):
                out.setdefault(number, value.decode("utf-8", errors="replace"))
    return out.get(1), out.get(2), out.get(3)


def _load_friends(conn: sqlite3.Connection, contacts: dict[str, str]) -> None:
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "Friend" not in tables:
        return
    cols = {r[1] for r in conn.execute("PRAGMA table_info(Friend)")}
    if "userName" not in cols:
        return
    remark_col = "dbContactRemark" if "dbContactRemark" in cols else "NULL"
    for user, remark in conn.execute(f"SELECT userName, {remark_col} FROM Friend"):
        if isinstance(user, str) and user:
            nickname, alias, note = remark_names(remark)
            contacts.setdefault(user, display_name(note, nickname, alias, user))


def read(backup: Backup) -> Iterator[Record]:
    """The records of every WeChat account in the backup."""
    for account in accounts(backup):
        yield from _account(backup, account)


def _account(backup: Backup, account: Account) -> Iterator[Record]:
    base = f"Documents/{account.folder}"
    contacts: dict[str, str] = {}
    contact_entry = backup.find(DOMAIN, f"{base}/DB/{CONTACT_DB}")
    for entry in ([contact_entry] if contact_entry else []) + account.databases:
        try:
            conn = backup.database(entry, lenient_text=True)
        except (sqlite3.Error, OSError, DecryptError):
            yield Problem(f"WeChat/{entry.relative_path}", None, "this database could not be opened; skipped")
            continue
        try:
            _load_friends(conn, contacts)
        except sqlite3.Error:
            yield Problem(f"WeChat/{entry.relative_path}", None, "its contacts could not be read")
        finally:
            conn.close()
    hashes = {hashlib.md5(n.encode("utf-8")).hexdigest(): n for n in contacts}
    names = Names(contacts, owner_id=hashes.get(account.folder))
    if names.owner_id:
        names.owner_name = None  # shown as "me", as the other readers do
    chats: set[str] = set()
    for entry in account.databases:
        label = f"WeChat/{entry.relative_path}"
        if backup.unsaved_log(entry):
            yield Note(f"{label}-wal was not read: the newest messages may be missing")
        try:
            conn = backup.database(entry)
        except (sqlite3.Error, OSError, DecryptError):
            yield Problem(label, None, "this database could not be opened; skipped")
            continue
        conn.text_factory = _text_or_zstd
        try:
            yield from _database(conn, label, backup, base, hashes, names, chats)
        finally:
            conn.close()


def _database(
    conn: sqlite3.Connection,
    label: str,
    backup: Backup,
    base: str,
    hashes: dict[str, str],
    names: Names,
    chats: set[str],
) -> Iterator[Record]:
    def resolve(rel: str, kind: MessageKind) -> Attachment | None:
        entry = backup.find(DOMAIN, rel)
        opener = backup.opener(entry) if entry is not None else None
        if entry is None or opener is None:
            return None
        return Attachment(entry.name, kind, None, entry.size, open=opener)

    reader = ChatTables(
        label,
        names,
        chats,
        unreadable="message record without a time, or with an unreadable body",
        errors=(*ROW_ERRORS, zstandard.ZstdError),
        resolve=resolve,
    )
    try:
        tables = sorted(r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"))
        for table in tables:
            match = _CHAT_TABLE.match(table)
            if not match:
                continue
            digest = match.group(1)
            talker = hashes.get(digest)
            key = talker or title_key(digest)
            shown = talker or digest
            cursor = conn.execute(f'SELECT * FROM "{table}" ORDER BY CreateTime, MesLocalID')
            columns = [d[0] for d in cursor.description or ()]
            rows = (dict(zip(columns, values)) for values in cursor)
            raw_of = partial(_raw, key=key, talker=shown, digest=digest, base=base)
            yield from reader.read(rows, key, shown, talker is not None, raw_of)
    except sqlite3.Error:
        yield Problem(label, reader.record + 1, "the rest of this database could not be read (damaged?)")


def _raw(row: dict[str, Any], record: int, key: str, talker: str, digest: str, base: str) -> RawMessage | None:
    if row.get("CreateTime") is None:
        return None
    type_ = int(row.get("Type") or 0)
    local = row.get("MesLocalID")
    media: tuple[str, ...] = ()
    if type_ in _MEDIA and isinstance(local, int):
        media = tuple(f"{base}/{folder}/{digest}/{local}{suffix}" for folder, suffix in _MEDIA[type_])
    return des_message(
        chat=key,
        talker=talker,
        created=row.get("CreateTime"),
        type_=type_,
        des=row.get("Des"),
        content=decode_body(row.get("Message")),
        svrid=row.get("MesSvrID"),
        record=record,
        media=media,
        split_own=False,
    )
