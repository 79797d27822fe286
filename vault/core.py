"""The facade: the typed public API that the CLI, the shell, the watcher and the web viewer call.

`create()` and `open()` give a `Vault`; its methods delegate each to one operation module
(vault/operations/), handing it the unlocked store (vault/store/handle.py). Nothing below imports
this module: the dependency runs one way, front ends -> facade -> operations -> text/store ->
contract (records, errors, timeutil, secret). Front ends import names from here, never from the
store or the operations.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from types import TracebackType
from zoneinfo import ZoneInfo

from importers.base import ParseOptions
from vault.errors import VaultDamagedError
from vault.operations import (
    backup as _backup,
)
from vault.operations import (
    browse,
    checking,
    deletion,
    importing,
    index,
    reading,
    rotate,
    search,
)
from vault.operations import export as _export
from vault.operations.backup import Report as VerifyReport
from vault.operations.importing import PriorImport
from vault.operations.ingest import FileReport
from vault.operations.rows import (
    Activity,
    BackupReport,
    BrowseChat,
    ChatRow,
    CheckReport,
    DeleteReport,
    Download,
    ExportReport,
    ImportLogRow,
    MediaPage,
    MessageRow,
    Page,
    PageMessage,
    Person,
    RestoreReport,
    StatsReport,
    StoredAttachment,
)
from vault.secret import Secret
from vault.store import handle
from vault.store.db import Error as DatabaseError
from vault.store.db import translate as translate_database_error
from vault.store.handle import DB_NAME, Store, as_secret, is_vault
from vault.store.hardening import harden_process
from vault.store.keys import DEFAULT_KDF, FLOOR_KDF, KEYSLOTS_NAME, KdfParams, KeyFile
from vault.text.normalize import fingerprint
from vault.timeutil import SEQ_SPAN, resolve_tz

__all__ = [
    "DB_NAME",
    "DEFAULT_KDF",
    "FLOOR_KDF",
    "KEYSLOTS_NAME",
    "SEQ_SPAN",
    "Activity",
    "BackupReport",
    "BrowseChat",
    "ChatRow",
    "CheckReport",
    "DatabaseError",
    "DeleteReport",
    "Download",
    "ExportReport",
    "FileReport",
    "ImportLogRow",
    "KdfParams",
    "MediaPage",
    "MessageRow",
    "Page",
    "PageMessage",
    "Person",
    "PriorImport",
    "RestoreReport",
    "StatsReport",
    "StoredAttachment",
    "Vault",
    "VerifyReport",
    "change_passphrase",
    "check_damaged",
    "check_export_request",
    "create",
    "harden_process",
    "is_vault",
    "open",
    "open_with_key",
    "restore_backup",
    "translate_database_error",
    "vault_id_of",
    "verify_backup",
]


def create(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    kdf_chosen: bool = False,
    allow_weak_passphrase: bool = False,
) -> Vault:
    """Create a new vault at `path` and return it open. `vault.recovery_key` is shown once.

    A passphrase that zxcvbn scores below 3 of 4 is refused (UsageError) unless `allow_weak_passphrase`."""
    store = handle.create(
        path,
        passphrase,
        kdf=kdf,
        kdf_chosen=kdf_chosen,
        normaliser_version=fingerprint(),
        allow_weak_passphrase=allow_weak_passphrase,
    )
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


def vault_id_of(path: str | os.PathLike[str]) -> str:
    """The vault's id, from its key file (no secret needed)."""
    return KeyFile.load(Path(path) / KEYSLOTS_NAME).vault_id


def open_with_key(path: str | os.PathLike[str], key: bytearray, *, busy_timeout_ms: int | None = None) -> Vault:
    """Open the vault with its data key itself (from the unlock agent); the key is wiped on close.

    The key file and the database must still belong together (VaultDamagedError otherwise), and a
    half-done key rotation is left for a passphrase open to settle.
    """
    harden_process()
    p = Path(path)
    keyfile = KeyFile.load(p / KEYSLOTS_NAME)
    if len(keyfile.generations) > 1:
        raise VaultDamagedError("a key rotation was interrupted; open with the passphrase once to settle it")
    extra = {} if busy_timeout_ms is None else {"busy_timeout_ms": busy_timeout_ms}
    store = Store._open_with_key(p, key, keyfile, DEFAULT_KDF, **extra)
    try:
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
    allow_weak_passphrase: bool = False,
) -> None:
    """`passwd`: re-wrap the key under a new passphrase; only keyslots.json is rewritten.

    A new passphrase that is too easy to guess is refused (UsageError) unless `allow_weak_passphrase`."""
    handle.change_passphrase(
        path,
        new,
        old=old,
        recovery_key=recovery_key,
        kdf=kdf,
        chosen=chosen,
        allow_weak_passphrase=allow_weak_passphrase,
    )


def verify_backup(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
) -> VerifyReport:
    """Prove that a backup file is whole and opens (with its passphrase or recovery key)."""
    return _backup.verify(path, passphrase, recovery_key=recovery_key)


def restore_backup(
    path: str | os.PathLike[str],
    to: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
) -> RestoreReport:
    """A new vault at `to` from a verified backup file."""
    return _backup.restore(path, to, passphrase, recovery_key=recovery_key)


def check_damaged(path: str | os.PathLike[str], secret: Secret, reason: str) -> CheckReport:
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

    def copy_key(self) -> bytearray:
        """A copy of the data key, for the unlock agent; the caller wipes it."""
        return bytearray(self.store._dek)

    def export_key(self) -> str:
        """The raw database key as hex, for stock SQLCipher tools (PRAGMA key = "x'...'")."""
        return self.store.export_key()

    def set_passphrase(
        self,
        new: Secret | str,
        *,
        kdf: KdfParams | None = None,
        chosen: bool = False,
        allow_weak_passphrase: bool = False,
    ) -> None:
        """Re-wrap the passphrase slot(s) under a new passphrase; vault.db is not touched (weak ones refused)."""
        self.store.set_passphrase(new, kdf=kdf, chosen=chosen, allow_weak_passphrase=allow_weak_passphrase)

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

    def check(self) -> CheckReport:
        return checking.check(self.store)

    def stats(self) -> StatsReport:
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
    ) -> ExportReport:
        return _export.export(self.store, chat, format=format, out=out, all_chats=all_chats, tz=tz, page_size=page_size)

    # -- browsing (the web front end, vault/serve/; the work is in operations/browse.py) ---------
    def chat_list(self) -> list[BrowseChat]:
        """Every chat, newest first: title, source, kind, entries (messages and events), first/last ms, people."""
        return browse.chat_list(self.store)

    def chat_info(self, chat: str) -> BrowseChat:
        """One chat (id or exact title): title, source, kind, entries, first/last time (ms), participants."""
        return browse.chat_info(self.store, chat)

    def conversation(
        self,
        chat: str,
        *,
        before: str | None = None,
        after: str | None = None,
        around: str | None = None,
        at_ms: int | None = None,
        limit: int = 60,
    ) -> Page:
        """A page of a chat by message id: the newest, before/after/around an id, or from a UTC time (ms)."""
        return browse.conversation(
            self.store, chat, before=before, after=after, around=around, at_ms=at_ms, limit=limit
        )

    def find_source(self, chat: str, source_id: str) -> str | None:
        """The message id of the message with this source (app) id in this chat, or None."""
        return browse.find_source(self.store, chat, source_id)

    def message(self, message_id: str) -> PageMessage | None:
        """One message (or event) by id, with its chat id and title; None when it is not in the vault."""
        return browse.message(self.store, message_id)

    def attachment(self, attachment_id: str) -> StoredAttachment | None:
        """A stored attachment's name, kind, mime, size, message and chat (None when it has no bytes)."""
        return browse.attachment(self.store, attachment_id)

    def attachment_bytes(self, attachment_id: str, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """A stored attachment's bytes in [start, end), streamed a chunk at a time."""
        return browse.attachment_bytes(self.store, attachment_id, start, end)

    def media(
        self, *, chat: str | None = None, kind: str | None = None, before: str | None = None, limit: int = 60
    ) -> MediaPage:
        """Stored attachments newest first, of a chat or all, of a kind; paged by message id."""
        return browse.media(self.store, chat=chat, kind=kind, before=before, limit=limit)

    def people(self) -> list[Person]:
        """People across sources (names folded), with each source's spelling and their chats."""
        return browse.people(self.store)

    def activity(self, zone: ZoneInfo, *, chat: str | None = None, year: int | None = None) -> Activity:
        """Entries per year; for `year` (default the latest) per day, hour, weekday in `zone`; top chats, senders."""
        return browse.activity(self.store, zone, chat=chat, year=year)

    def export_bytes(self, chat: str, *, format: str, tz: str | None = None) -> tuple[bytes, Download]:
        """One chat exported as one file in memory (html, jsonl, txt), for a download; nothing on disk."""
        return _export.export_bytes(self.store, chat, format=format, tz=tz)

    @staticmethod
    def time_zone(name: str | None = None) -> ZoneInfo:
        """The zone called `name`, or this machine's (UsageError for an unknown name)."""
        return resolve_tz(name)

    # -- changing what it holds ------------------------------------------------------------------
    def delete(
        self,
        message_ids: list[str] | None = None,
        chat: str | None = None,
        query: str | None = None,
        before: str | None = None,
        after: str | None = None,
        dry_run: bool = False,
    ) -> DeleteReport:
        """Securely delete messages by id, a chat, or a query (optionally within dates)."""
        return deletion.delete(self.store, message_ids, chat, query, before, after, dry_run)

    def forget_deleted(self, *, chat: str | None = None, export: str | None = None, everything: bool = False) -> int:
        """Forget tombstones so that deleted messages can be imported again, deliberately."""
        return deletion.forget_tombstones(self.store, chat=chat, export=export, everything=everything)

    def rotate_key(self, passphrase: Secret | str, kdf: KdfParams | None = None) -> Secret:
        """A new data key and a fresh database file; returns the new recovery key."""
        return rotate.rotate_key(self.store, as_secret(passphrase), kdf)

    def backup(self, dest: str | os.PathLike[str], *, keep: int | None = None) -> BackupReport:
        """A verified, encrypted one-file backup in `dest` (a file, or a directory that gets a dated file)."""
        return _backup.backup(self.store, dest, keep=keep)
