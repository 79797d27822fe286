"""The unlocked store: creating, opening and closing a vault's files, and the handle operations take.

A vault is a directory (0700) holding `vault.db` (SQLCipher 4, keyed with a random 256-bit raw
key) and `keyslots.json` (the key wrapped under the passphrase and the recovery key). Opening
never writes unless the passphrase opened the key and the database matched it; nothing here ever
creates a vault by accident.
"""

from __future__ import annotations

import os
import secrets
import stat
import warnings
from contextlib import suppress
from pathlib import Path
from types import TracebackType

from vault.errors import (
    NotAVaultError,
    TalkvaultError,
    UsageError,
    VaultDamagedError,
    VaultExistsError,
    VaultLockedError,
)
from vault.secret import Secret, check_new_passphrase, wipe
from vault.store import db, keys, schema
from vault.store.hardening import harden_process
from vault.store.keys import DEFAULT_KDF, FLOOR_KDF, KdfParams, KeyFile

DB_NAME = "vault.db"


def as_secret(value: Secret | str | bytes) -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def vault_paths(path: Path) -> tuple[Path, Path]:
    return path / DB_NAME, path / keys.KEYSLOTS_NAME


def is_vault(path: Path) -> bool:
    dbp, kp = vault_paths(Path(path))
    return dbp.exists() or kp.exists()


def _check_permissions(path: Path) -> None:
    """Warn (as ssh does for keys) when other users could read the vault."""
    for p in (path, *vault_paths(path)):
        with suppress(OSError):
            if os.stat(p).st_mode & (stat.S_IRWXG | stat.S_IRWXO):
                warnings.warn(
                    f"{p} is accessible to other users; run 'chmod -R go-rwx {path}'",
                    stacklevel=3,
                )
                return


def create(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes,
    *,
    kdf: KdfParams = DEFAULT_KDF,
    kdf_chosen: bool = False,
    normaliser_version: str,
    allow_weak_passphrase: bool = False,
) -> Store:
    """Create a new vault at `path` and return its store open. `store.recovery_key` is shown once.

    `normaliser_version` is the fingerprint of the text rules the (empty) index is built with. A
    passphrase that is too easy to guess is refused (UsageError) unless `allow_weak_passphrase`."""
    harden_process()
    path = Path(path)
    secret = as_secret(passphrase)
    keys.check_params(kdf)
    if not allow_weak_passphrase:
        check_new_passphrase(secret)
    if is_vault(path):
        raise VaultExistsError(f"a vault already exists in {path}; open it, or choose another directory")
    if path.exists() and (not path.is_dir() or any(path.iterdir())):
        raise UsageError(f"{path} exists and is not an empty directory; choose a new directory for the vault")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(path, 0o700)
    dbp, kp = vault_paths(path)
    dek = bytearray(secrets.token_bytes(keys.DEK_BYTES))
    vault_id = secrets.token_hex(keys.VAULT_ID_BYTES)
    recovery = keys.new_recovery_key()
    db.create_file(dbp)
    conn = db.connect(dbp, dek)
    try:
        schema.migrate(conn)
        with db.transaction(conn):
            for name, value in (
                ("vault_id", vault_id),
                ("mac_key", secrets.token_hex(32)),
                ("normaliser_version", normaliser_version),
                ("created", schema.now_iso()),
            ):
                conn.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (name, value))
    finally:
        conn.close()
    slots = [
        keys.wrap(dek, secret, "passphrase", kdf, vault_id, chosen=kdf_chosen),
        keys.wrap(dek, recovery, "recovery", kdf, vault_id, chosen=kdf_chosen),
    ]
    KeyFile(vault_id=vault_id, slots=slots).save(kp)
    keys.fsync_dir(path)
    store = Store._open_with_key(path, dek, KeyFile.load(kp), kdf)
    store.recovery_key = recovery
    return store


def open(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
    kdf: KdfParams = DEFAULT_KDF,
    busy_timeout_ms: int = db.BUSY_TIMEOUT_MS,
) -> tuple[Store, keys.Slot]:
    """Unlock the vault at `path` with its passphrase (or recovery key): the store and the slot that opened it.

    A passphrase slot whose KDF cost is below the floor is re-wrapped at the current cost (unless
    the person chose it). The caller settles an interrupted key rotation (operations/rotate.py)."""
    harden_process()
    path = Path(path)
    dbp, kp = vault_paths(path)
    if not dbp.exists() and not kp.exists():
        raise NotAVaultError(
            f"no vault in {path}; create one with 'talkvault init' (or point --vault / TALKVAULT_DIR at yours)"
        )
    if not dbp.exists():
        raise VaultDamagedError(
            f"{path} has a key file but no {DB_NAME}; restore the vault from a backup ('talkvault restore')"
        )
    _check_permissions(path)
    keyfile = KeyFile.load(kp)
    if recovery_key is not None:
        secret, kind = keys.normalise_recovery_key(as_secret(recovery_key)), "recovery"
    elif passphrase is not None:
        secret, kind = as_secret(passphrase), "passphrase"
    else:
        raise UsageError("a passphrase or a recovery key is needed to open the vault")
    dek, slot = unlock_database(path, keyfile, secret, kind, busy_timeout_ms=busy_timeout_ms)
    store = Store._open_with_key(path, dek, keyfile, kdf, busy_timeout_ms=busy_timeout_ms)
    try:
        if passphrase is not None and recovery_key is None:
            store.maybe_upgrade_slot(slot, as_secret(passphrase))
    except BaseException:
        store.close()
        raise
    return store, slot


def unlock_database(
    path: Path, keyfile: KeyFile, secret: Secret, kind: str, *, busy_timeout_ms: int = db.BUSY_TIMEOUT_MS
) -> tuple[bytearray, keys.Slot]:
    """The data key this secret opens *and* that opens this vault's database (a reading check).

    Normally the secret opens one slot. Between the steps of rotate-key it may open two key
    generations; the one whose key opens vault.db is the vault's key."""
    dbp, _ = vault_paths(path)
    candidates = keyfile.unlock_all(secret, kind)
    chosen: tuple[bytearray, keys.Slot] | None = None
    failure: TalkvaultError | None = None
    for dek, slot in candidates:
        if chosen is not None:
            wipe(dek)
            continue
        try:
            # Not read-only: after a crash, the first connection must roll back the hot journal
            # (a read-only one cannot, and the vault would look damaged). Nothing else is written.
            conn = db.connect(dbp, dek, busy_timeout_ms=busy_timeout_ms)
        except VaultDamagedError as exc:
            failure = exc
            wipe(dek)
            continue
        try:
            check_binding(conn, keyfile)
        except VaultDamagedError as exc:
            failure = exc
            wipe(dek)
            continue
        finally:
            conn.close()
        chosen = (dek, slot)
    if chosen is None:
        raise failure or VaultDamagedError()
    return chosen


def check_binding(conn: db.Connection, keyfile: KeyFile) -> None:
    """The key file and the database belong together: the vault ids they hold are the same."""
    try:
        row = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()
    except db.Error:
        row = None
    if row is None or row[0] != keyfile.vault_id:
        raise VaultDamagedError(
            "the key file does not belong to this vault's database (vault ids differ); nothing "
            "was changed. Put the right keyslots.json back, or restore from a backup"
        )


class Store:
    """An unlocked vault's files: the open connection, the data key, the key file. Operations take one.

    Only the facade (vault/core.py) makes one, with `create()` or `open()` here; close() wipes the key.
    """

    recovery_key: Secret | None = None
    path: Path
    db_path: Path
    keys_path: Path
    keyfile: KeyFile
    kdf: KdfParams
    _dek: bytearray
    _mac_key: bytes
    _conn: db.Connection | None

    def __init__(self) -> None:  # use vault.open() or vault.create()
        raise TypeError("use vault.open() or vault.create()")

    @classmethod
    def _open_with_key(
        cls,
        path: Path,
        dek: bytearray,
        keyfile: KeyFile,
        kdf: KdfParams,
        busy_timeout_ms: int = db.BUSY_TIMEOUT_MS,
    ) -> Store:
        self = object.__new__(cls)
        self.path = path
        self.db_path, self.keys_path = vault_paths(path)
        self._dek = dek
        self.keyfile = keyfile
        self.kdf = kdf
        self.recovery_key = None
        self._conn = db.connect(self.db_path, dek, busy_timeout_ms=busy_timeout_ms)
        try:
            check_binding(self.conn, self.keyfile)
            version = schema.current_version(self._conn)
            if version > schema.SCHEMA_VERSION:
                raise TalkvaultError("this vault was written by a newer talkvault; upgrade talkvault to open it")
            if version < schema.SCHEMA_VERSION:
                schema.migrate(self._conn)
            self._check_fts()
            self._mac_key = bytes.fromhex(self.meta("mac_key") or "")
        except db.Error as exc:
            self.close()
            raise db.translate(exc) from None
        except BaseException:
            self.close()
            raise
        return self

    # -- plumbing --------------------------------------------------------------------------
    @property
    def conn(self) -> db.Connection:
        if self._conn is None:
            raise VaultLockedError()
        return self._conn

    def __enter__(self) -> Store:
        return self

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Store {self.path} {'open' if self._conn else 'closed'}>"

    def close(self) -> None:
        conn, self._conn = getattr(self, "_conn", None), None
        if conn is not None:
            with suppress(db.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            conn.close()
        dek = getattr(self, "_dek", None)
        if dek is not None:
            wipe(dek)

    @property
    def closed(self) -> bool:
        return self._conn is None

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _check_fts(self) -> None:
        for table in ("fts", "names_fts"):
            if not schema.fts_secure_delete_on(self.conn, table):
                raise VaultDamagedError(
                    f"the search index lost its secure-delete setting ({table}); run 'talkvault check'"
                )

    def maybe_upgrade_slot(self, slot: keys.Slot, secret: Secret) -> None:
        """Re-wrap a passphrase slot whose KDF cost is below the floor (unless the person chose it)."""
        if slot.chosen or not slot.params.below(FLOOR_KDF) or self.kdf.below(FLOOR_KDF):
            return
        new = keys.wrap(
            self._dek, secret, slot.kind, self.kdf, self.keyfile.vault_id, slot_id=slot.slot_id, gen=slot.gen
        )
        self.keyfile.replace_slot(slot, new)
        self.keyfile.save(self.keys_path)

    def export_key(self) -> str:
        """The raw database key as hex, for stock SQLCipher tools (PRAGMA key = "x'...'")."""
        return bytes(self._dek).hex()

    # -- key slots -------------------------------------------------------------------------
    def set_passphrase(
        self,
        new: Secret | str,
        *,
        kdf: KdfParams | None = None,
        chosen: bool = False,
        allow_weak_passphrase: bool = False,
    ) -> None:
        """Re-wrap the passphrase slot(s) under a new passphrase; vault.db is not touched."""
        secret = as_secret(new)
        if not allow_weak_passphrase:
            check_new_passphrase(secret)
        gen = max(self.keyfile.generations)
        set_slot(self.keyfile, self._dek, "passphrase", secret, kdf or self.kdf, chosen=chosen, gen=gen)
        self.keyfile.save(self.keys_path)


def set_slot(
    keyfile: KeyFile,
    dek: bytes | bytearray,
    kind: str,
    secret: Secret,
    kdf: KdfParams,
    *,
    chosen: bool = False,
    gen: int = 0,
) -> None:
    """Replace the slot(s) of `kind` with one wrapping `dek` under `secret`."""
    new = keys.wrap(dek, secret, kind, kdf, keyfile.vault_id, chosen=chosen, gen=gen)
    others = [s for s in keyfile.slots if s.kind != kind]
    keyfile.slots = [*others, new]


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
    """`passwd`: unwrap with the old passphrase (or the recovery key), re-wrap under the new one.

    Only keyslots.json is rewritten (atomically); vault.db is neither written nor opened for writing.
    A new passphrase that is too easy to guess is refused first, unless `allow_weak_passphrase`.
    """
    harden_process()
    path = Path(path)
    if not allow_weak_passphrase:
        check_new_passphrase(as_secret(new))
    dbp, kp = vault_paths(path)
    if not dbp.exists() and not kp.exists():
        raise NotAVaultError(f"no vault in {path}; create one with 'talkvault init'")
    keyfile = KeyFile.load(kp)
    # The key must open this database before the key file is touched (checked read-only).
    if recovery_key is not None:
        dek, slot = unlock_database(path, keyfile, keys.normalise_recovery_key(as_secret(recovery_key)), "recovery")
    elif old is not None:
        dek, slot = unlock_database(path, keyfile, as_secret(old), "passphrase")
    else:
        raise UsageError("the current passphrase or the recovery key is needed")
    try:
        keyfile.slots = [s for s in keyfile.slots if s.gen == slot.gen]  # finish any interrupted rotation
        set_slot(keyfile, dek, "passphrase", as_secret(new), kdf, chosen=chosen, gen=slot.gen)
        keyfile.save(kp)
    finally:
        wipe(dek)
