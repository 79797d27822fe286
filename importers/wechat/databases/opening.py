"""WeChat databases: finding them in a folder, opening them read-only, plain or encrypted.

Four database generations exist (formats/wechat.md §0), each with its own file names and cipher:

| generation | files | cipher (SQLCipher 4 PRAGMAs, verified) |
|---|---|---|
| Windows 3.x | `Msg/MicroMsg.db`, `Msg/Multi/MSGn.db` | hexkey, compatibility 3, page 4096 |
| Win/macOS 4.x | `db_storage/message/message_N.db`, `contact/contact.db` | hexkey, compat. 4 |
| macOS 3.x | `Message/msg_N.db`, `Contact/wccontact_new2.db` | raw key x'…', compatibility 3 |
| Android | `EnMicroMsg.db` | 7-character key, compatibility 1 |

A database the person already decrypted (with PyWxDump, MemoTrace, wechat-dump, …) is plain
SQLite and is recognised by its tables; an encrypted one by its file name, and opened with the key
the person supplies (`--wechat-key`; for Android also the IMEI and uin it is computed from). The
key is never looked for: this project does not read WeChat's memory. Databases are opened
read-only and immutable, and SQLCipher decrypts page by page in memory: no decrypted copy is
ever written (temp_store is MEMORY on every connection).
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importers.base import ParseOptions
from importers.foreign_db import WrongKey, is_db_error, open_plain, readonly_uri, try_encrypted
from vault.errors import ExportError
from vault.records import Note, Problem, Record

SQLITE_HEADER = b"SQLite format 3\x00"

# SQLCipher page sizes of the generations (formats/wechat.md §0); an encrypted file is a whole
# number of pages.
MIN_PAGE = 1024

WIN3 = "windows-3"
V4 = "4"
MAC3 = "macos-3"
ANDROID = "android"

_MSG_DB = re.compile(r"^MSG\d+\.db$", re.I)
_MEDIA_DB = re.compile(r"^MediaMSG\d+\.db$", re.I)
_V4_MESSAGE_DB = re.compile(r"^message_\d+\.db$", re.I)
_MAC_MESSAGE_DB = re.compile(r"^msg_\d+\.db$", re.I)
MICROMSG = "MicroMsg.db"
ENMICROMSG = "EnMicroMsg.db"
V4_CONTACT = "contact.db"
MAC_CONTACT = "wccontact_new2.db"
MAC_GROUP = "group_new.db"

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX7 = re.compile(r"^[0-9a-f]{7}$")

KEY_HELP = (
    "supply it with --wechat-key: the 64 hex characters a key tool printed for the desktop "
    "databases, or the 7-character key of Android's EnMicroMsg.db (or the phone's IMEI and uin "
    "with --wechat-imei and --wechat-uin)"
)


@dataclass(frozen=True)
class Cipher:
    """One verified set of SQLCipher PRAGMAs; `{key}` stands for the key."""

    name: str
    statements: tuple[str, ...]


CIPHER_WIN3 = Cipher(
    WIN3,
    (
        "PRAGMA hexkey = '{key}'",
        "PRAGMA cipher_compatibility = 3",
        "PRAGMA cipher_page_size = 4096",
    ),
)
CIPHER_V4 = Cipher(V4, ("PRAGMA hexkey = '{key}'", "PRAGMA cipher_compatibility = 4"))
CIPHER_MAC3 = Cipher(MAC3, ("PRAGMA key = \"x'{key}'\"", "PRAGMA cipher_compatibility = 3"))
CIPHER_ANDROID = Cipher(ANDROID, ("PRAGMA key = '{key}'", "PRAGMA cipher_compatibility = 1"))

_DESKTOP_ORDER = {
    WIN3: (CIPHER_WIN3, CIPHER_MAC3, CIPHER_V4),
    V4: (CIPHER_V4, CIPHER_WIN3, CIPHER_MAC3),
    MAC3: (CIPHER_MAC3, CIPHER_WIN3, CIPHER_V4),
}


class DatabaseReadError(Exception):
    """A SQLite/SQLCipher error while reading rows (wraps either driver's error type)."""


def normalise_key(raw: str | None) -> str | None:
    """A key as the person typed it (hex, 0x…, x'…', spaces) as lower-case hex, or None."""
    if raw is None:
        return None
    key = "".join(raw.split()).lower()
    if key.startswith("x'") and key.endswith("'"):
        key = key[2:-1]
    if key.startswith("0x"):
        key = key[2:]
    return key or None


def android_key(imei: str, uin: str) -> str:
    """EnMicroMsg.db's key: md5(IMEI + uin) in lower-case hex, first 7 characters (§4)."""
    return hashlib.md5((imei.strip() + uin.strip()).encode("utf-8")).hexdigest()[:7]


def supplied_keys(options: ParseOptions) -> tuple[str | None, str | None]:
    """(64-hex desktop key, 7-character Android key) from the options; ExportError if malformed."""
    key = normalise_key(options.keys.get("wechat"))
    desktop = android = None
    if key is not None:
        if _HEX64.match(key):
            desktop = key
        elif _HEX7.match(key):
            android = key
        else:
            raise ExportError(
                "the WeChat key is not in a form WeChat uses: give 64 hex characters (desktop) "
                "or 7 hex characters (Android)"
            )
    imei, uin = options.params.get("wechat_imei"), options.params.get("wechat_uin")
    if android is None and imei and uin:
        android = android_key(imei, uin)
    return desktop, android


# ---------------------------------------------------------------------------------------------
# Finding the databases


def _head(path: Path, size: int = 16) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def is_plain_sqlite(path: Path) -> bool:
    return _head(path) == SQLITE_HEADER


def looks_encrypted(path: Path) -> bool:
    """A file that could be a SQLCipher database: whole pages, no SQLite header."""
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size >= MIN_PAGE and size % MIN_PAGE == 0 and not is_plain_sqlite(path)


def generation_by_name(path: Path) -> str | None:
    """The generation an (encrypted) database file's name says it belongs to."""
    name = path.name
    if _MSG_DB.match(name) or name.lower() == MICROMSG.lower():
        return WIN3
    if _V4_MESSAGE_DB.match(name):
        return V4
    if _MAC_MESSAGE_DB.match(name):
        return MAC3
    if name.lower() == ENMICROMSG.lower():
        return ANDROID
    return None


def table_names(path: Path) -> set[str]:
    """The tables of a plain SQLite file (empty on any error)."""
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True)
    except sqlite3.Error:
        return set()
    try:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except (sqlite3.Error, UnicodeDecodeError):
        return set()
    finally:
        conn.close()


def generation_by_tables(tables: set[str]) -> str | None:
    """The generation a decrypted database's tables say it belongs to (message databases only)."""
    if "MSG" in tables:
        return WIN3
    if "message" in tables and "rcontact" in tables:
        return ANDROID
    if "Name2Id" in tables and any(t.startswith("Msg_") for t in tables):
        return V4
    if any(t.startswith("Chat_") for t in tables):
        return MAC3
    return None


@dataclass
class Layout:
    """The databases of one import and where its media files live."""

    generation: str
    message_dbs: list[Path]
    contact_dbs: list[Path] = field(default_factory=list)
    media_root: Path | None = None
    voice_dbs: list[Path] = field(default_factory=list)  # Windows 3.x MediaMSGn.db


def _numbered(paths: list[Path]) -> list[Path]:
    def number(p: Path) -> int:
        digits = re.findall(r"\d+", p.stem)
        return int(digits[-1]) if digits else 0

    return sorted(paths, key=lambda p: (number(p), p.name))


def _first_file(candidates: list[Path]) -> Path | None:
    for c in candidates:
        if c.is_file():
            return c
    return None


def _files_matching(folder: Path, pattern: re.Pattern[str]) -> list[Path]:
    try:
        return [p for p in folder.iterdir() if pattern.match(p.name) and p.is_file()]
    except OSError:
        return []


def _account_root(folder: Path, marker: str) -> Path:
    """The account folder above `folder` whose child is `marker` (Msg, db_storage), else folder."""
    for candidate in (folder, *folder.parents[:3]):
        if candidate.name == marker:
            return candidate.parent
    return folder


def _win3_layout(folder: Path) -> Layout | None:
    dirs = [folder, folder / "Multi", folder / "Msg" / "Multi", folder / "Msg"]
    msgs: list[Path] = []
    for d in dirs:
        msgs.extend(_files_matching(d, _MSG_DB))
    if not msgs:
        return None
    micro = _first_file([folder / MICROMSG, folder / "Msg" / MICROMSG, folder.parent / MICROMSG])
    root = _account_root(msgs[0].parent, "Msg")
    voices = _numbered(_files_matching(msgs[0].parent, _MEDIA_DB))
    return Layout(WIN3, _numbered(msgs), [micro] if micro else [], root, voices)


def _v4_layout(folder: Path) -> Layout | None:
    dirs = [folder, folder / "message", folder / "db_storage" / "message"]
    for d in dirs:
        msgs = _files_matching(d, _V4_MESSAGE_DB)
        if msgs:
            contact = _first_file([d / V4_CONTACT, d.parent / "contact" / V4_CONTACT, folder / V4_CONTACT])
            root = _account_root(d, "db_storage")
            return Layout(V4, _numbered(msgs), [contact] if contact else [], root)
    return None


def _mac3_layout(folder: Path) -> Layout | None:
    for d in (folder, folder / "Message"):
        msgs = _files_matching(d, _MAC_MESSAGE_DB)
        if msgs:
            base = d.parent if d.name == "Message" else d
            contacts = [
                c
                for c in (
                    _first_file([base / "Contact" / MAC_CONTACT, d / MAC_CONTACT]),
                    _first_file([base / "Group" / MAC_GROUP, d / MAC_GROUP]),
                )
                if c is not None
            ]
            return Layout(MAC3, _numbered(msgs), contacts, base)
    return None


def _android_layout(folder: Path) -> Layout | None:
    db = _first_file([folder / ENMICROMSG])
    if db is None:
        return None
    return Layout(ANDROID, [db], [db], folder)


def folder_layout(folder: Path) -> Layout | None:
    """The databases a folder holds (account folder, Msg/, db_storage/, …), or None."""
    for finder in (_win3_layout, _v4_layout, _mac3_layout, _android_layout):
        layout = finder(folder)
        if layout is not None:
            return layout
    return None


def file_layout(path: Path, generation: str, tables: set[str]) -> Layout:
    """The layout around one database file the person pointed at."""
    folder = path.parent
    if generation == WIN3:
        if "Contact" in tables:  # a merged database (PyWxDump merge_all.db) holds both
            contacts = [path]
        else:
            micro = _first_file([folder / MICROMSG, folder.parent / MICROMSG, folder.parent / "Msg" / MICROMSG])
            contacts = [micro] if micro and micro != path else []
        voices = _numbered(_files_matching(folder, _MEDIA_DB))
        return Layout(WIN3, [path], contacts, _account_root(folder, "Msg"), voices)
    if generation == V4:
        contact = _first_file([folder / V4_CONTACT, folder.parent / "contact" / V4_CONTACT])
        return Layout(V4, [path], [contact] if contact else [], _account_root(folder, "db_storage"))
    if generation == MAC3:
        base = folder.parent if folder.name == "Message" else folder
        contacts = [
            c
            for c in (
                _first_file([base / "Contact" / MAC_CONTACT, folder / MAC_CONTACT]),
                _first_file([base / "Group" / MAC_GROUP, folder / MAC_GROUP]),
            )
            if c is not None
        ]
        return Layout(MAC3, [path], contacts, base)
    return Layout(ANDROID, [path], [path], folder)


def layout_of(path: Path) -> Layout | None:
    """The WeChat databases at `path` (a folder or one database file), or None."""
    if path.is_dir():
        return folder_layout(path)
    if not path.is_file():
        return None
    if is_plain_sqlite(path):
        tables = table_names(path)
        # A damaged copy may not list its tables; its name still says what it is.
        generation = generation_by_tables(tables) or (generation_by_name(path) if not tables else None)
        return file_layout(path, generation, tables) if generation else None
    generation = generation_by_name(path)
    if generation is None or not looks_encrypted(path) or path.name.lower() == MICROMSG.lower():
        return None
    return file_layout(path, generation, set())


# ---------------------------------------------------------------------------------------------
# Opening


class Opener:
    """Opens the databases of one import with the supplied keys, remembering what worked."""

    def __init__(self, options: ParseOptions) -> None:
        self.desktop_key, self.android_key = supplied_keys(options)
        self._worked: Cipher | None = None

    def open(self, path: Path, generation: str) -> Any:
        """A read-only connection to `path`; ExportError when it cannot be opened."""
        if is_plain_sqlite(path):
            return self._open_plain(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise ExportError("cannot read this file", path=str(path)) from exc
        if size < MIN_PAGE or size % MIN_PAGE:
            raise ExportError(
                "not a whole WeChat database (truncated or damaged?); copy it again",
                path=str(path),
            )
        return self._open_encrypted(path, generation)

    def _open_plain(self, path: Path) -> sqlite3.Connection:
        try:
            return open_plain(path, lenient_text=True)
        except (sqlite3.Error, UnicodeDecodeError) as exc:
            raise ExportError(
                "this database is damaged or truncated; copy it again from the device",
                path=str(path),
            ) from exc

    def _ciphers(self, generation: str) -> list[tuple[Cipher, str]]:
        tries: list[tuple[Cipher, str]] = []
        if generation == ANDROID:
            if self.android_key:
                tries.append((CIPHER_ANDROID, self.android_key))
            return tries
        if self.desktop_key:
            order = list(_DESKTOP_ORDER.get(generation, _DESKTOP_ORDER[WIN3]))
            if self._worked in order:
                order.remove(self._worked)
                order.insert(0, self._worked)
            tries.extend((c, self.desktop_key) for c in order)
        return tries

    def _open_encrypted(self, path: Path, generation: str) -> Any:
        tries = self._ciphers(generation)
        if not tries:
            raise ExportError(f"this WeChat database is encrypted; {KEY_HELP}", path=str(path))
        attempts = [[statement.format(key=key) for statement in cipher.statements] for cipher, key in tries]
        try:
            conn, worked = try_encrypted(path, attempts, lenient_text=True)
        except WrongKey:
            raise ExportError(
                "the key does not open this database: check that it is the key of this WeChat "
                "account on this device (keys differ per account and device, and a desktop key "
                "is 64 hex characters, Android's 7), and that the file was copied whole",
                path=str(path),
            ) from None
        self._worked = tries[worked][0]
        return conn


def query(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
    """Rows of a query as dicts, streaming; driver errors become DatabaseReadError."""
    try:
        cursor = conn.execute(sql, params)
        columns = [d[0] for d in cursor.description or ()]
        for row in cursor:
            yield dict(zip(columns, row))
    except Exception as exc:
        if is_db_error(exc):
            raise DatabaseReadError(str(type(exc).__name__)) from exc
        raise


def tables_of(conn: Any) -> set[str]:
    return {r["name"] for r in query(conn, "SELECT name FROM sqlite_master WHERE type='table'")}


def close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        pass


def wal_note(path: Path) -> str | None:
    """A note when a database has a non-empty -wal file beside it (its recent pages are unread)."""
    wal = path.with_name(path.name + "-wal")
    try:
        if wal.is_file() and wal.stat().st_size > 0:
            return (
                f"{path.name} has a -wal file beside it; changes still in it were not read. "
                "Quit WeChat before copying its databases to include them"
            )
    except OSError:
        return None
    return None


# ---------------------------------------------------------------------------------------------
# Reading a layout

# The contact database each generation keeps names in (for the note when it is missing).
CONTACT_DB_NAMES = {WIN3: MICROMSG, V4: V4_CONTACT, MAC3: MAC_CONTACT, ANDROID: ENMICROMSG}

# The Problem for a database that turns out damaged part-way.
DAMAGED_REST = "the database is damaged from here on; the rest of it was skipped"


def load_contacts(layout: Layout, opener: Opener, load: Callable[[Any], None]) -> Iterator[Note]:
    """`load(connection)` for each contact database of the layout; a Note when there is none."""
    if not layout.contact_dbs:
        expected = CONTACT_DB_NAMES.get(layout.generation, "the contact database")
        yield Note(
            f"{expected} was not found beside the message databases; people and groups are shown by their WeChat ids"
        )
        return
    for db in layout.contact_dbs:
        conn = opener.open(db, layout.generation)
        try:
            load(conn)
        except DatabaseReadError as exc:
            raise ExportError(f"{db.name} is damaged; copy it again", path=str(db)) from exc
        finally:
            close_quietly(conn)


def each_database(layout: Layout, opener: Opener, read: Callable[[Path, Any], Iterator[Record]]) -> Iterator[Record]:
    """`read(path, connection)` for every message database of the layout, in order.

    The first one must open (its error is the import's error); a later one that does not is
    reported as a Problem and the others are read. A note says when a -wal file stays unread.
    """
    for index, db in enumerate(layout.message_dbs):
        note = wal_note(db)
        if note:
            yield Note(note)
        try:
            conn = opener.open(db, layout.generation)
        except ExportError as exc:
            if index == 0:
                raise
            yield Problem(str(db), None, exc.reason)
            continue
        try:
            yield from read(db, conn)
        finally:
            close_quietly(conn)
