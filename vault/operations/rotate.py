"""rotate-key: move the vault to a new random data key in a fresh database file.

security.md 2.5 step 7: after deletions, old page images may survive where the file system or the
SSD kept old blocks. Those are ciphertext under the old key; once no key slot holds that key any
more, they cannot be opened even by someone who later learns the passphrase. The steps are ordered
so that an interruption at any instant leaves a vault that opens:

1. export every table into `vault.db.next` under the new key (sqlcipher_export) and verify it;
2. add key slots of the next generation (passphrase and a new recovery key) to keyslots.json;
3. rename `vault.db.next` over `vault.db` (atomic);
4. drop the old generation's slots.

Opening the vault between any two steps finds the key generation that opens `vault.db` and
finishes (or undoes) the rotation: `settle`. A rotation killed during step 1 also leaves
`vault.db.next-journal` (SQLite's rollback journal of the half-written copy); it belongs to nothing
once the copy is gone, and `settle` removes it with the copy.

A rotation that is still running holds an exclusive flock(2) on `vault.db.next` from its creation
until just before the swap; `settle` in another process leaves a locked copy (and the key slots)
alone, so it only ever cleans up after a rotation that is dead. (flock, not SQLite's fcntl locks:
the two do not interact, and the guard descriptor is closed only while no SQLite connection has
the file open, so closing it cannot drop a lock SQLite holds.)
"""

from __future__ import annotations

import binascii
import contextlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from vault.errors import VaultBusyError, VaultDamagedError
from vault.operations.reading import counts
from vault.secret import Secret, wipe
from vault.store import db, keys
from vault.store.keys import KdfParams

if TYPE_CHECKING:
    from vault.store.handle import Store

NEXT_NAME = "vault.db.next"
# What SQLite may keep beside the copy while it is written (DELETE journal mode: the journal; the
# others only if a mode ever changes). Never vault.db's own journal: that one SQLite rolls back.
NEXT_SIDE_FILES = ("-journal", "-wal", "-shm")


def leftovers(path: Path) -> list[Path]:
    """The files an interrupted rotation left in the vault directory `path` (the copy first)."""
    nxt = path / NEXT_NAME
    side = [path / f"{NEXT_NAME}{end}" for end in NEXT_SIDE_FILES]
    pre = sorted(path.glob(f"{NEXT_NAME}.*{PRE_SUFFIX}"))  # killed in the instant before the name
    return [p for p in (nxt, *side, *pre) if os.path.lexists(p)]


PRE_SUFFIX = ".new"  # vault.db.next.<random>.new: the copy's file before it has its name


def _create_locked(path: Path) -> int:
    """Create the copy's file (0600, new), locked before it has its name: the sign that this rotation
    is alive is there from the first instant anyone can see `path`."""
    import fcntl

    pre = path.with_name(f"{path.name}.{secrets.token_hex(4)}{PRE_SUFFIX}")
    fd = os.open(pre, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with contextlib.suppress(OSError):  # no flock on this file system: nothing to hold
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            os.link(pre, path)  # never replaces: fails if a copy appeared meanwhile
        except FileExistsError:
            raise VaultBusyError("another talkvault is rotating this vault's key; wait for it to finish") from None
        except OSError:  # file systems without hard links
            os.rename(pre, path)
    except BaseException:
        os.close(fd)
        raise
    finally:
        with contextlib.suppress(OSError):
            os.unlink(pre)
    return fd


def running(path: Path) -> bool:
    """Whether another process is rotating the key of the vault at `path` right now."""
    import fcntl

    nxt = path / NEXT_NAME
    try:
        fd = os.open(nxt, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        except OSError:
            pass
        return False
    finally:
        os.close(fd)  # this process has no SQLite connection to the copy: no fcntl lock to lose


def settle(v: Store, slot: keys.Slot) -> None:
    """Finish or undo an interrupted rotation: keep only the generation that opened the database,
    and remove the half-made copy with its journal. A rotation still running is left alone."""
    if running(v.path):
        return
    if len(v.keyfile.generations) > 1:
        v.keyfile.slots = [s for s in v.keyfile.slots if s.gen == slot.gen]
        v.keyfile.save(v.keys_path)
    stale = leftovers(v.path)
    for p in stale:
        p.unlink(missing_ok=True)
    if stale:
        keys.fsync_dir(v.path)


def rotate_key(v: Store, passphrase: Secret, kdf: KdfParams | None = None) -> Secret:
    """Re-encrypt the vault under a new data key; returns the new recovery key (shown once).

    The passphrase is needed to wrap the new key (it is checked against the current slots first);
    the old recovery key stops working, which is the point.
    """
    kdf = kdf or v.kdf
    v.keyfile.unlock_all(passphrase, "passphrase")  # AuthenticationError if it is not the passphrase
    counts_before = counts(v)
    gen = max(v.keyfile.generations) + 1
    new_dek = bytearray(secrets.token_bytes(keys.DEK_BYTES))
    nxt = v.path / NEXT_NAME
    if running(v.path):
        raise VaultBusyError("another talkvault is rotating this vault's key; wait for it to finish")
    for p in leftovers(v.path):  # a copy an earlier, killed rotation left, and its journal
        p.unlink(missing_ok=True)
    guard = _create_locked(nxt)
    try:
        key_literal = "x'" + binascii.hexlify(bytes(new_dek)).decode("ascii") + "'"
        c = v.conn
        with db.translated():
            c.execute("ATTACH DATABASE ? AS rotation KEY ?", (str(nxt), key_literal))
            try:
                c.execute("SELECT sqlcipher_export('rotation')")
            finally:
                c.execute("DETACH DATABASE rotation")
        del key_literal
        _verify(nxt, new_dek, counts_before, v)
        recovery = keys.new_recovery_key()
        v.keyfile.slots = [
            *v.keyfile.slots,
            keys.wrap(new_dek, passphrase, "passphrase", kdf, v.keyfile.vault_id, gen=gen),
            keys.wrap(new_dek, recovery, "recovery", kdf, v.keyfile.vault_id, gen=gen),
        ]
        v.keyfile.save(v.keys_path)
        # Swap the files: the old connection must let go of vault.db first.
        assert v._conn is not None
        v._conn.close()
        v._conn = None
    finally:
        os.close(guard)  # no SQLite connection has the copy open here (detached, verified, closed)
    _swap(nxt, v.db_path)
    old = v._dek
    v._dek = new_dek
    wipe(old)
    v._conn = db.connect(v.db_path, v._dek)
    v.keyfile.slots = [s for s in v.keyfile.slots if s.gen == gen]
    v.keyfile.save(v.keys_path)
    return recovery


def _swap(new: os.PathLike[str], target: os.PathLike[str]) -> None:
    """Step 3: the new file takes the old one's name, atomically."""
    os.replace(new, target)
    keys.fsync_dir(Path(target).parent)


def _verify(path: os.PathLike[str], dek: bytearray, counts: dict[str, int], v: Store) -> None:
    conn = db.connect(Path(path), dek, readonly=True)
    try:
        bad = conn.execute("PRAGMA cipher_integrity_check").fetchall()
        ok = conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        n = conn.execute("SELECT count(*) FROM messages").fetchone()[0]
        vid = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()[0]
    finally:
        conn.close()
    if bad or not ok or n != counts["messages"] + counts["events"] or vid != v.keyfile.vault_id:
        Path(path).unlink(missing_ok=True)
        raise VaultDamagedError("the re-encrypted copy did not verify; nothing was changed. Run 'talkvault check'")
