"""Opening other apps' SQLite databases read-only, plain or SQLCipher-encrypted (WeChat's, Signal's).

This is the one importer module that imports `sqlcipher3`, and only when a database is opened:
start-up, which loads every importer to detect a file, does not pay for it. Every connection it
makes reads a file the person already has without ever writing to it: `mode=ro&immutable=1` (no
journal, no -wal or -shm file, no locks), `query_only`, and sorting in memory, never in a temp
file. SQLCipher's log of failed key attempts is silenced while keys are tried, since trying the
documented cipher settings in turn is expected to fail before one works.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vault.errors import ExportError


def readonly_uri(path: Path) -> str:
    return path.resolve().as_uri() + "?mode=ro&immutable=1"


def is_db_error(exc: BaseException) -> bool:
    """A driver error, from either driver.

    A UnicodeDecodeError counts: the drivers raise it when a damaged file garbles a column name or
    an error message.
    """
    if isinstance(exc, (sqlite3.Error, UnicodeDecodeError)):
        return True
    return type(exc).__module__.startswith("sqlcipher3")


@functools.cache
def db_errors() -> tuple[type[Exception], ...]:
    """The exception types a connection from this module raises for a database that cannot be read.

    A function, so that sqlcipher3 is imported only when a database is opened: the registry loads
    every importer to detect a file, and most never open one (`except db_errors()` evaluates it
    only when an exception is being matched).
    """
    try:
        import sqlcipher3
    except ImportError:  # pragma: no cover - sqlcipher3 is a dependency of talkvault
        return (sqlite3.Error,)
    return (sqlite3.Error, sqlcipher3.Error)


def _driver() -> Any:
    try:
        import sqlcipher3  # lazily: only encrypted databases need it
    except ImportError as exc:  # pragma: no cover - sqlcipher3 is a dependency of talkvault
        raise ExportError("reading an encrypted database needs the sqlcipher3 package; reinstall talkvault") from exc
    return sqlcipher3


def _replacing(value: bytes) -> str:
    """TEXT cells as str even when the app stored invalid UTF-8 (undecodable bytes replaced)."""
    return value.decode("utf-8", errors="replace")


def finish(conn: Any, *, lenient_text: bool = False) -> Any:
    """Make a fresh connection read-only and keep its sorting in memory."""
    if lenient_text:
        conn.text_factory = _replacing
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    return conn


def open_plain(path: Path, *, lenient_text: bool = False) -> sqlite3.Connection:
    """A read-only connection to an unencrypted database, checked to be readable; driver errors raise."""
    conn = sqlite3.connect(readonly_uri(path), uri=True)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return finish(conn, lenient_text=lenient_text)
    except BaseException:
        conn.close()
        raise


def try_encrypted(path: Path, attempts: Sequence[Sequence[str]], *, lenient_text: bool = False) -> tuple[Any, int]:
    """Open an encrypted database with the first of `attempts` (each a list of PRAGMA statements,
    the key among them) that reads its schema: (connection, index of the attempt that worked).

    Raises WrongKey when none does. The statements are the caller's, built from a key it checked
    to be hex (a key is never interpolated unchecked).
    """
    driver = _driver()
    with _QuietLog(driver):
        for index, statements in enumerate(attempts):
            try:
                conn = driver.connect(readonly_uri(path), uri=True)
            except Exception as exc:
                if is_db_error(exc):
                    raise ExportError("the database cannot be opened", path=str(path)) from exc
                raise
            try:
                for statement in statements:
                    conn.execute(statement)
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except Exception as exc:
                conn.close()
                if is_db_error(exc):
                    continue
                raise
            return finish(conn, lenient_text=lenient_text), index
    raise WrongKey


class WrongKey(Exception):
    """No supplied key and cipher setting opens the database (the caller says what to check)."""


class _QuietLog:
    """Silences SQLCipher's stderr log (level WARN: "hmac check failed") while keys are tried.

    The level is global to the library, so it is restored afterwards.
    """

    def __init__(self, module: Any) -> None:
        self._module = module
        self._level: str | None = None

    def __enter__(self) -> None:
        try:
            conn = self._module.connect(":memory:")
            row = conn.execute("PRAGMA cipher_log_level").fetchone()
            self._level = str(row[0]) if row else None
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.close()
        except Exception:
            self._level = None

    def __exit__(self, *exc: object) -> None:
        if self._level and re.fullmatch(r"[A-Z]+", self._level):
            try:
                conn = self._module.connect(":memory:")
                conn.execute(f"PRAGMA cipher_log_level = {self._level}")
                conn.close()
            except Exception:
                pass
