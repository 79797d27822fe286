"""The backup folder: recognising it, its Manifest.db index, and reading the files it names.

A Finder/iTunes backup is a folder named after the device's UDID holding `Info.plist`,
`Manifest.plist` (with `IsEncrypted` and, when encrypted, the `BackupKeyBag` and `ManifestKey`),
`Status.plist` and `Manifest.db`, an SQLite index whose table `Files(fileID, domain,
relativePath, flags, file)` lists every file: `fileID` is the SHA-1 of `"<domain>-<relativePath>"`
and the file is stored as `<first two hex digits>/<fileID>`; flags 1 is a file, 2 a folder, 4 a
symlink; `file` is an NSKeyedArchiver plist with the size, the protection class and, in an
encrypted backup, the file's wrapped key.

`Backup.open` reads all of that read-only. Databases inside the backup are opened read-only:
plain ones in place (importers/foreign_db.py), encrypted ones decrypted into memory and opened
with `sqlite3.Connection.deserialize`, so no decrypted byte is ever written to disk.
"""

from __future__ import annotations

import hashlib
import plistlib
import re
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from importers.base import file_opener, read_head
from importers.foreign_db import finish, open_plain
from importers.iphone_backup.crypto import (
    DecryptError,
    Keybag,
    decrypt_file,
    manifest_key,
    open_decrypting,
)

MANIFEST_DB = "Manifest.db"
MANIFEST_PLIST = "Manifest.plist"
INFO_PLIST = "Info.plist"
SQLITE_MAGIC = b"SQLite format 3\x00"
PLIST_MAGICS = (b"bplist00", b"<?xml")
# Keys every Manifest.plist of iOS 10 and later carries (one of them is enough to be sure).
MANIFEST_KEYS = frozenset({"BackupKeyBag", "Lockdown", "IsEncrypted"})
# The largest Manifest.plist read (they hold the list of installed apps: a few hundred KiB).
MAX_PLIST = 64 * 1024 * 1024

FLAG_FILE = 1
_FILE_ID = re.compile(r"^[0-9a-f]{40}$")


def file_id(domain: str, relative_path: str) -> str:
    """The name a backup stores a file under: sha1("<domain>-<relativePath>")."""
    return hashlib.sha1(f"{domain}-{relative_path}".encode()).hexdigest()


def backup_root(path: Path) -> Path | None:
    """The backup folder `path` stands for: the folder itself, or the folder of its Manifest file."""
    if path.is_dir():
        return path
    if path.name in (MANIFEST_DB, MANIFEST_PLIST) and path.is_file():
        return path.parent
    return None


def read_plist(path: Path) -> dict[str, Any] | None:
    """A plist file's top-level dict, or None (not a plist, too big, damaged)."""
    try:
        if path.stat().st_size > MAX_PLIST or not read_head(path, 8).startswith(PLIST_MAGICS):
            return None
        with open(path, "rb") as fh:
            value = plistlib.load(fh)
    except Exception:  # plistlib raises several types on damage (InvalidFileException, ValueError, ...)
        return None
    return value if isinstance(value, dict) else None


def is_backup(path: Path) -> bool:
    """Cheap and certain: Manifest.plist with a backup's keys, beside a Manifest.db. Never raises."""
    try:
        root = backup_root(path)
        if root is None or not (root / MANIFEST_DB).is_file():
            return False
        manifest = read_plist(root / MANIFEST_PLIST)
        return manifest is not None and bool(MANIFEST_KEYS & manifest.keys())
    except OSError:
        return False


class BackupError(Exception):
    """The backup cannot be read (the caller says what to do); `what` names the file."""

    def __init__(self, message: str, what: str) -> None:
        super().__init__(message)
        self.what = what


class PasswordNeeded(Exception):
    """The backup is encrypted and no password was given."""


@dataclass(frozen=True)
class Entry:
    """One file of the backup, as Manifest.db lists it."""

    file_id: str
    domain: str
    relative_path: str
    size: int | None
    protection_class: int | None
    wrapped_key: bytes | None

    @property
    def name(self) -> str:
        return self.relative_path.rsplit("/", 1)[-1]


def _file_record(blob: object) -> tuple[int | None, int | None, bytes | None]:
    """(size, protection class, wrapped key) from a Files.file plist (NSKeyedArchiver)."""
    if not isinstance(blob, bytes) or not blob:
        return None, None, None
    try:
        archive = plistlib.loads(blob)
        objects = archive["$objects"]
        root = objects[archive["$top"]["root"].data]
        size = root.get("Size")
        pclass = root.get("ProtectionClass")
        key: bytes | None = None
        if "EncryptionKey" in root:
            data = objects[root["EncryptionKey"].data]["NS.data"]
            key = bytes(data[4:]) if isinstance(data, bytes) else None
    except Exception:  # a damaged record is a file whose size and key are unknown
        return None, None, None
    return (
        size if isinstance(size, int) else None,
        pclass if isinstance(pclass, int) else None,
        key,
    )


class Backup:
    """An open backup: its index, and the files it names (decrypted in memory when encrypted)."""

    def __init__(self, root: Path, index: sqlite3.Connection, keybag: Keybag | None) -> None:
        self.root = root
        self.index = index
        self.keybag = keybag

    @property
    def encrypted(self) -> bool:
        return self.keybag is not None

    @classmethod
    def open(cls, path: Path, password: str | None) -> Backup:
        """Open a backup folder (or its Manifest file); raises BackupError, PasswordNeeded, WrongPassword."""
        root = backup_root(path)
        if root is None:
            raise BackupError("not an iPhone backup folder", str(path))
        manifest = read_plist(root / MANIFEST_PLIST)
        if manifest is None or not MANIFEST_KEYS & manifest.keys():
            raise BackupError("Manifest.plist is missing or damaged", str(root / MANIFEST_PLIST))
        db_path = root / MANIFEST_DB
        if not manifest.get("IsEncrypted"):
            try:
                index = open_plain(db_path)
            except (sqlite3.Error, OSError, UnicodeDecodeError) as exc:
                raise BackupError("Manifest.db cannot be opened (damaged?)", str(db_path)) from exc
            return cls._checked(root, index, None)
        if not password:
            raise PasswordNeeded
        if not hasattr(sqlite3.Connection, "deserialize"):
            raise BackupError("reading an encrypted backup needs Python 3.11 or later", str(root))
        keybag_bytes, key_field = manifest.get("BackupKeyBag"), manifest.get("ManifestKey")
        if not isinstance(keybag_bytes, bytes) or not isinstance(key_field, bytes):
            raise BackupError("Manifest.plist lacks the keybag of an encrypted backup", str(root / MANIFEST_PLIST))
        try:
            keybag = Keybag(keybag_bytes, password)  # WrongPassword passes through
            plain = decrypt_file(db_path, manifest_key(keybag, key_field))
        except (DecryptError, OSError) as exc:
            raise BackupError("Manifest.db does not decrypt (damaged backup?)", str(db_path)) from exc
        try:
            index = deserialized(plain)
        except (sqlite3.Error, DecryptError) as exc:
            raise BackupError("Manifest.db does not decrypt to a database (damaged backup?)", str(db_path)) from exc
        return cls._checked(root, index, keybag)

    @classmethod
    def _checked(cls, root: Path, index: sqlite3.Connection, keybag: Keybag | None) -> Backup:
        try:
            cols = {r[1] for r in index.execute("PRAGMA table_info(Files)")}
        except sqlite3.Error:
            cols = set()
        if not {"fileID", "domain", "relativePath", "flags", "file"} <= cols:
            index.close()
            raise BackupError("Manifest.db has no Files table: not an iPhone backup index", str(root / MANIFEST_DB))
        return cls(root, index, keybag)

    def close(self) -> None:
        self.index.close()

    # -- the index ---------------------------------------------------------------------------

    def _entry(self, row: tuple[Any, ...]) -> Entry | None:
        fid, domain, rel, blob = row
        if not isinstance(fid, str) or not _FILE_ID.match(fid) or not isinstance(rel, str):
            return None
        size, pclass, key = _file_record(blob)
        return Entry(fid, str(domain), rel, size, pclass, key)

    def find(self, domain: str, relative_path: str) -> Entry | None:
        """The file at (domain, relativePath), looked up by its fileID (the index's primary key)."""
        row = self.index.execute(
            "SELECT fileID, domain, relativePath, file FROM Files WHERE fileID = ? AND flags = ?",
            (file_id(domain, relative_path), FLAG_FILE),
        ).fetchone()
        return self._entry(row) if row else None

    def files(self, domain: str, like: str = "%") -> Iterator[Entry]:
        """The files of a domain whose relativePath matches the LIKE pattern."""
        rows = self.index.execute(
            "SELECT fileID, domain, relativePath, file FROM Files"
            " WHERE domain = ? AND relativePath LIKE ? AND flags = ? ORDER BY relativePath",
            (domain, like, FLAG_FILE),
        ).fetchall()
        for row in rows:
            entry = self._entry(row)
            if entry is not None:
                yield entry

    def unsaved_log(self, entry: Entry) -> bool:
        """Whether the backup also holds a non-empty `<db>-wal` beside a database.

        Its changes are not read: an in-memory copy cannot replay a write-ahead log, and a plain
        backup's file is opened immutable, in place.
        """
        wal = self.find(entry.domain, entry.relative_path + "-wal")
        return wal is not None and (wal.size is None or wal.size > 0)

    def domain_counts(self) -> dict[str, int]:
        """How many files each domain holds."""
        rows = self.index.execute("SELECT domain, COUNT(*) FROM Files WHERE flags = ? GROUP BY domain", (FLAG_FILE,))
        return {str(d): int(n) for d, n in rows}

    # -- the files ---------------------------------------------------------------------------

    def stored_path(self, entry: Entry) -> Path | None:
        """Where the backup keeps the file's bytes, if they are there."""
        path = self.root / entry.file_id[:2] / entry.file_id
        try:
            return path if path.is_file() else None
        except OSError:
            return None

    def _key(self, entry: Entry) -> bytes:
        if self.keybag is None:
            raise DecryptError("not encrypted")
        if entry.wrapped_key is None or entry.protection_class is None:
            raise DecryptError("the file's record has no key")
        return self.keybag.unwrap(entry.protection_class, entry.wrapped_key)

    def opener(self, entry: Entry) -> Callable[[], IO[bytes]] | None:
        """A callable that streams the file's (decrypted) bytes; None when the backup lacks them."""
        path = self.stored_path(entry)
        if path is None:
            return None
        if self.keybag is None:
            return file_opener(path)
        try:
            key = self._key(entry)
        except DecryptError:
            return None
        return _DecryptingOpener(path, key)

    def read_bytes(self, entry: Entry) -> bytes:
        """The whole file (decrypted), for small files; raises OSError or DecryptError."""
        path = self.stored_path(entry)
        if path is None:
            raise FileNotFoundError(entry.relative_path)
        if self.keybag is None:
            return path.read_bytes()
        return decrypt_file(path, self._key(entry))

    def database(self, entry: Entry, *, lenient_text: bool = False) -> sqlite3.Connection:
        """A read-only connection to a database in the backup; raises sqlite3.Error, OSError, DecryptError."""
        path = self.stored_path(entry)
        if path is None:
            raise FileNotFoundError(entry.relative_path)
        if self.keybag is None:
            return open_plain(path, lenient_text=lenient_text)
        return deserialized(decrypt_file(path, self._key(entry)), lenient_text=lenient_text)


class _DecryptingOpener:
    """Opens an encrypted file for reading, decrypting as it is read."""

    __slots__ = ("key", "path")

    def __init__(self, path: Path, key: bytes) -> None:
        self.path, self.key = path, key

    def __call__(self) -> IO[bytes]:
        return open_decrypting(self.path, self.key)


def deserialized(data: bytes, *, lenient_text: bool = False) -> sqlite3.Connection:
    """An in-memory, read-only connection to a database held in `data` (never written to disk).

    A database saved in WAL mode says so in its header (bytes 18 and 19 = 2); an in-memory copy
    has no -wal beside it, so it is marked as a rollback-journal database before it is opened.
    """
    if not data.startswith(SQLITE_MAGIC):
        raise DecryptError("not an SQLite database")
    if data[18:20] == b"\x02\x02":
        data = data[:18] + b"\x01\x01" + data[20:]
    conn = sqlite3.connect(":memory:")
    load = getattr(conn, "deserialize", None)  # Python 3.11 and later
    if load is None:
        conn.close()
        raise DecryptError("reading an encrypted backup needs Python 3.11 or later")
    try:
        load(data)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return finish(conn, lenient_text=lenient_text)
    except BaseException:
        conn.close()
        raise
