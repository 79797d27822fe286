"""The facade: the typed public API that the CLI, the shell, the watcher and the web viewer call.

`create()` and `open()` give a `Vault`; its methods delegate each to one operation module
(vault/operations/), handing it the unlocked store (vault/store/handle.py). Nothing below imports
this module: the dependency runs one way, front ends -> facade -> operations -> text/store ->
contract (records, errors, timeutil, secret). Front ends import names from here, never from the
store or the operations.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from importers.base import ParseOptions
from vault.operations import (
    backup as _backup,
)
from vault.operations import (
    checking,
    deletion,
    importing,
    index,
    reading,
    rotate,
    search,
)
from vault.operations import export as _export
from vault.operations.backup import Report as BackupReport
from vault.operations.importing import PriorImport
from vault.operations.ingest import FileReport
from vault.operations.rows import ChatRow, MessageRow, Report
from vault.secret import Secret
from vault.store import handle
from vault.store.db import Error as DatabaseError
from vault.store.db import translate as translate_database_error
from vault.store.handle import DB_NAME, Store, as_secret, is_vault
from vault.store.keys import DEFAULT_KDF, FLOOR_KDF, KEYSLOTS_NAME, KdfParams, KeyFile
from vault.text.normalize import fingerprint
from vault.timeutil import SEQ_SPAN

__all__ = [
    "DB_NAME",
    "DEFAULT_KDF",
    "FLOOR_KDF",
    "KEYSLOTS_NAME",
    "SEQ_SPAN",
    "BackupReport",
    "ChatRow",
    "DatabaseError",
    "FileReport",
    "KdfParams",
    "MessageRow",
    "PriorImport",
    "Report",
    "Vault",
    "change_passphrase",
    "check_damaged",
    "check_export_request",
    "create",
    "is_vault",
    "open",
    "restore_backup",
    "translate_database_error",
    "verify_backup",
]


def create(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    kdf_chosen: bool = False,
) -> Vault:
    """Create a new vault at `path` and return it open. `vault.recovery_key` is shown once."""
    store = handle.create(path, passphrase, kdf=kdf, kdf_chosen=kdf_chosen, normaliser_version=fingerprint())
    return Vault(store)


def open(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
    kdf: KdfParams = DEFAULT_KDF,
    busy_timeout_ms: int | None = None,
) -> Vault:
    """Unlock the vault at `path` with its passphrase (or recovery key).

    An interrupted key rotation is settled, and an index made by other text rules is rebuilt.
    """
    extra = {} if busy_timeout_ms is None else {"busy_timeout_ms": busy_timeout_ms}
    store, slot = handle.open(path, passphrase, recovery_key=recovery_key, kdf=kdf, **extra)
    try:
        rotate.settle(store, slot)
        index.rebuild_if_stale(store)
    except BaseException:
        store.close()
        raise
    return Vault(store)


def change_passphrase(
    path: str | os.PathLike[str],
    new: Secret | str,
    *,
    old: Secret | str | None = None,
    recovery_key: Secret | str | None = None,
    kdf: KdfParams = DEFAULT_KDF,
    chosen: bool = False,
) -> None:
    """`passwd`: re-wrap the key under a new passphrase; only keyslots.json is rewritten."""
    handle.change_passphrase(path, new, old=old, recovery_key=recovery_key, kdf=kdf, chosen=chosen)


def verify_backup(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
) -> BackupReport:
    """Prove that a backup file is whole and opens (with its passphrase or recovery key)."""
    return _backup.verify(path, passphrase, recovery_key=recovery_key)


def restore_backup(
    path: str | os.PathLike[str],
    to: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
) -> Report:
    """A new vault at `to` from a verified backup file."""
    return _backup.restore(path, to, passphrase, recovery_key=recovery_key)


def check_damaged(path: str | os.PathLike[str], secret: Secret, reason: str) -> Report:
    """`check` of a vault that will not open: the pages that fail their HMAC."""
    return checking.check_damaged(path, secret, reason)


def check_export_request(chat: str | None, all_chats: bool, format: str, out: str | os.PathLike[str]) -> None:
    """Refuse a bad export request (UsageError) before the passphrase is asked for."""
    _export.check_request(chat, all_chats, format, out)


#: How far `Vault.count_matches` counts by default (front ends then say "more than COUNT_CAP").
COUNT_CAP = search.COUNT_CAP


class Vault:
    """An unlocked vault. Use as a context manager, or call close() (which wipes the key)."""

    def __init__(self, store: Store) -> None:  # use vault.open() or vault.create()
        if not isinstance(store, Store):
            raise TypeError("use vault.open() or vault.create()")
        self.store = store

    # -- plumbing ------------------------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.store.path

    @property
    def recovery_key(self) -> Secret | None:
        """Set on a vault just created: the recovery key, to be shown once."""
        return self.store.recovery_key

    @property
    def keyfile(self) -> KeyFile:
        return self.store.keyfile

    @property
    def conn(self) -> handle.db.Connection:
        """The open connection, for library users and tests; the front ends never use it."""
        return self.store.conn

    def __enter__(self) -> Vault:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Vault {self.path} {'closed' if self.closed else 'open'}>"

    def close(self) -> None:
        self.store.close()

    @property
    def closed(self) -> bool:
        return self.store.closed

    def interrupt(self) -> None:
        """Stop the statement running in another thread (it raises there)."""
        self.store.conn.interrupt()

    def meta(self, key: str) -> str | None:
        return self.store.meta(key)

    def export_key(self) -> str:
        """The raw database key as hex, for stock SQLCipher tools (PRAGMA key = "x'...'")."""
        return self.store.export_key()

    def set_passphrase(self, new: Secret | str, *, kdf: KdfParams | None = None, chosen: bool = False) -> None:
        """Re-wrap the passphrase slot(s) under a new passphrase; vault.db is not touched."""
        self.store.set_passphrase(new, kdf=kdf, chosen=chosen)

    def rebuild_index(self, progress: Callable[[int], None] | None = None) -> int:
        """Re-create the full-text index from the stored text (after a normaliser change)."""
        return index.rebuild(self.store, progress)

    # -- putting history in ----------------------------------------------------------------------
    def import_path(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        tz: str | None = None,
        dry_run: bool = False,
        options: ParseOptions | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> FileReport:
        """Import one export (file, folder or zip) in one transaction; the report of what it did."""
        return importing.import_path(
            self.store, Path(path), format=format, tz=tz, dry_run=dry_run, options=options, progress=progress
        )

    def imported_before(self, path: Path) -> PriorImport | None:
        """The successful import of exactly these bytes, or None."""
        return importing.imported_before(self.store, path)

    # -- reading ---------------------------------------------------------------------------------
    def chats(self) -> list[ChatRow]:
        return reading.chats(self.store)

    def resolve_chat(self, chat: str) -> int:
        """A chat's id from its id or exact title (UsageError naming the choices otherwise)."""
        return reading.resolve_chat(self.store, chat)

    def search(
        self,
        query: str,
        *,
        limit: int | None = 20,
        sort: str = "newest",
        context: int = 0,
        offset: int = 0,
        highlight: bool = False,
    ) -> list[MessageRow]:
        return search.search(
            self.store, query, limit=limit, sort=sort, context=context, offset=offset, highlight=highlight
        )

    def count_matches(self, query: str, *, cap: int = COUNT_CAP) -> int:
        """How many messages match `query`, counted up to `cap + 1` (more than `cap` when it returns that)."""
        return search.count_matches(self.store, query, cap=cap)

    def messages(self, ids: list[int]) -> list[MessageRow]:
        """The messages with these ids, in the order given (ids not in the vault left out), with attachments."""
        rows = search.fetch_messages(self.store, ids)
        search.add_attachments(self.store, rows)
        return rows

    def show(
        self,
        chat: str,
        *,
        around: str | None = None,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> list[MessageRow]:
        """A conversation in time order: the first `limit` messages, or those around/before/after an id."""
        return reading.show(self.store, chat, around=around, limit=limit, before=before, after=after)

    def check(self) -> Report:
        return checking.check(self.store)

    def stats(self) -> Report:
        return reading.stats(self.store)

    def counts(self) -> dict[str, int]:
        return reading.counts(self.store)

    def export(
        self,
        chat: str | None,
        *,
        format: str,
        out: str | os.PathLike[str],
        all_chats: bool = False,
        tz: str | None = None,
        page_size: int | None = None,
    ) -> Report:
        return _export.export(self.store, chat, format=format, out=out, all_chats=all_chats, tz=tz, page_size=page_size)

    # -- changing what it holds ------------------------------------------------------------------
    def delete(
        self,
        message_ids: list[str] | None = None,
        chat: str | None = None,
        query: str | None = None,
        before: str | None = None,
        after: str | None = None,
        dry_run: bool = False,
    ) -> Report:
        """Securely delete messages by id, a chat, or a query (optionally within dates)."""
        return deletion.delete(self.store, message_ids, chat, query, before, after, dry_run)

    def forget_deleted(self, *, chat: str | None = None, export: str | None = None, everything: bool = False) -> int:
        """Forget tombstones so that deleted messages can be imported again, deliberately."""
        return deletion.forget_tombstones(self.store, chat=chat, export=export, everything=everything)

    def rotate_key(self, passphrase: Secret | str, kdf: KdfParams | None = None) -> Secret:
        """A new data key and a fresh database file; returns the new recovery key."""
        return rotate.rotate_key(self.store, as_secret(passphrase), kdf)

    def backup(self, dest: str | os.PathLike[str], *, keep: int | None = None) -> Report:
        """A verified, encrypted one-file backup in `dest` (a file, or a directory that gets a dated file)."""
        return _backup.backup(self.store, dest, keep=keep)
