"""The one driver seam: the only module that imports sqlcipher3 for the vault.

Every connection is keyed in raw-key mode (`x'<64 hex>'`, security.md 2.1: `set_key(bytes)` alone
silently falls back to PBKDF2) and gets the pragmas of security.md 2.4, each asserted after it is
set. SQLite errors are translated into the error hierarchy here, so callers see "busy", "disk full",
"damaged" and never a driver exception.
"""

from __future__ import annotations

import binascii
import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlcipher3

from vault.errors import DiskFullError, TalkvaultError, VaultBusyError, VaultDamagedError
from vault.secret import wipe

if TYPE_CHECKING:  # sqlcipher3 ships no type stubs; its Connection has sqlite3's API
    from sqlite3 import Connection
else:
    Connection = sqlcipher3.Connection
Error = sqlcipher3.Error
DatabaseError = sqlcipher3.DatabaseError
OperationalError = sqlcipher3.OperationalError
IntegrityError = sqlcipher3.IntegrityError

BUSY_TIMEOUT_MS = 30_000
CACHE_KIB = 64 * 1024  # page cache per connection (measured: half of it made 300k-message imports 14% slower)

# The pragmas we set on every connection, and what each must read back (security.md 2.4, 8.11).
_PRAGMAS: tuple[tuple[str, Any, Any], ...] = (
    ("secure_delete", "ON", 1),
    ("temp_store", "MEMORY", 2),
    ("journal_mode", "DELETE", "delete"),
    ("synchronous", "FULL", 2),
    ("foreign_keys", "ON", 1),
    ("trusted_schema", "OFF", 0),
    ("cache_size", -CACHE_KIB, -CACHE_KIB),
)

_process_pragmas_done = False


class PragmaError(TalkvaultError):
    default_message = "the database engine refused a required security setting; reinstall talkvault"


def _key_literal(dek: bytes | bytearray) -> bytearray:
    return bytearray(b"x'" + binascii.hexlify(bytes(dek)) + b"'")


def connect(
    path: Path, dek: bytes | bytearray, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, readonly: bool = False
) -> Connection:
    """Open `path` keyed with the raw data key, pragmas set and asserted.

    Raises VaultDamagedError when the key does not open the file (wrong key file, damaged page 1)."""
    global _process_pragmas_done
    uri = f"file:{path}?mode=ro" if readonly else f"file:{path}"
    try:
        conn = sqlcipher3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
        )
    except sqlcipher3.Error as exc:
        raise translate(exc) from None
    try:
        if not _process_pragmas_done:
            # Process-wide: silence SQLCipher's stderr log (it names pages, never content).
            # cipher_memory_security stays off: measured here, it made imports 2.5-3.7x slower
            # (mlock and wipe on every allocation), and it guards only SQLCipher's own buffers
            # while Python holds the same text as str; docs/security.md says so.
            conn.execute("PRAGMA cipher_log_level = NONE")
            _process_pragmas_done = True
        key = _key_literal(dek)
        try:
            conn.set_key(key)
        finally:
            wipe(key)
        try:
            conn.execute("SELECT count(*) FROM sqlite_schema").fetchone()
        except sqlcipher3.DatabaseError as exc:
            name = getattr(exc, "sqlite_errorname", "") or ""
            if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in str(exc).lower():
                raise VaultDamagedError(
                    "the vault database does not open with this vault's key: the key file belongs to "
                    "another vault, or the database is damaged. Nothing was changed; restore from a backup"
                ) from None
            raise translate(exc) from None
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        for name, value, expect in _PRAGMAS:
            if readonly and name == "journal_mode":
                continue
            conn.execute(f"PRAGMA {name} = {value}").fetchall()
            got = conn.execute(f"PRAGMA {name}").fetchone()[0]
            if got != expect:
                raise PragmaError(f"could not set PRAGMA {name} (reads {got!r}); reinstall talkvault")
        return conn
    except BaseException:
        conn.close()
        raise


def create_file(path: Path) -> None:
    """Pre-create an empty database file 0600 (SQLite would make it 0644 under umask 022)."""
    import os

    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    os.close(fd)


def translate(exc: BaseException) -> TalkvaultError:
    """Map a driver error to the error hierarchy (never echoing SQL or data)."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    msg = str(exc).lower()
    if name in ("SQLITE_BUSY", "SQLITE_LOCKED") or "database is locked" in msg:
        return VaultBusyError()
    if name == "SQLITE_FULL" or "disk is full" in msg:
        return DiskFullError()
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in msg:
        return DiskFullError(
            "the disk could not be written (full, or a file size limit?); the operation was rolled "
            "back and the vault is unchanged. Free some space and run it again"
        )
    if name in ("SQLITE_CORRUPT", "SQLITE_NOTADB") or "malformed" in msg or "not a database" in msg:
        return VaultDamagedError()
    if name == "SQLITE_READONLY":
        return TalkvaultError("the vault is read-only here (check the directory's permissions)")
    return VaultDamagedError(f"unexpected database error ({name or type(exc).__name__}); run 'talkvault check'")


@contextlib.contextmanager
def translated() -> Iterator[None]:
    """Turn driver errors raised inside the block into TalkvaultErrors."""
    try:
        yield
    except (sqlcipher3.Error, sqlite3.Error) as exc:
        raise translate(exc) from None


@contextlib.contextmanager
def transaction(conn: Connection, *, immediate: bool = True) -> Iterator[Connection]:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (including KeyboardInterrupt)."""
    with translated():
        conn.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield conn
    except BaseException:
        if conn.in_transaction:
            with contextlib.suppress(sqlcipher3.Error):
                conn.execute("ROLLBACK")
        raise
    with translated():
        try:
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                with contextlib.suppress(sqlcipher3.Error):
                    conn.execute("ROLLBACK")
            raise


def versions() -> dict[str, str]:
    c = sqlcipher3.connect(":memory:")
    try:
        return {
            "sqlcipher": c.execute("PRAGMA cipher_version").fetchone()[0],
            "sqlite": c.execute("SELECT sqlite_version()").fetchone()[0],
        }
    finally:
        c.close()
