"""Backups: one encrypted file that restores a vault (`backup`), proof that it does (`verify`), and the
way back (`restore`).

A backup file (docs/backups.md has the byte layout) is a fixed header, the vault's key slots
(`keyslots.json`, as wrapped under the passphrase and the recovery key), a manifest of counts, the
ciphertext of `vault.db` as it is on disk, and a trailer: the sha256 of everything before it, and an
HMAC of that digest under a key derived from the data key. The manifest holds counts, the vault id
and a time, never a title, name or message.

The snapshot is taken inside one read transaction: with the rollback journal the vault uses, no
other process can commit while it lasts, so every import (one transaction each) is wholly in the
backup or wholly out, and the manifest's counts are those of the same snapshot. The pages are
copied as they are (no decryption, no re-encryption: the cost of a backup is reading the file and
checking its HMACs), and every page's HMAC is verified on its way in, so a backup of a vault with a
damaged page fails at once rather than on the day it is restored.

Nothing is ever written in the clear: the file is written under a temporary name (0600, beside the
destination), fsynced, and renamed into place only when complete. The writer holds an exclusive
flock(2) on its temp file for as long as it lives, so a later backup (or `--keep`) can tell a temp
that a killed backup left (no lock: removed) from one another backup is writing now (locked: kept).
`verify` and `restore` stream the file once, checking the trailer and every page's HMAC in Python
(an independent implementation of SQLCipher 4's page MAC, security.md section 9) while they copy
the database part out; that copy is
the same ciphertext, which SQLite then opens for integrity_check, the FTS5 integrity-check and the
counts.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import stat
import struct
import tempfile
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.errors import (
    AuthenticationError,
    BackupError,
    DiskFullError,
    TalkvaultError,
    UsageError,
    VaultBusyError,
    VaultDamagedError,
    VaultExistsError,
)
from vault.operations.rows import BackupReport, RestoreReport
from vault.secret import Secret, wipe
from vault.store import db, keys
from vault.store.hardening import harden_process
from vault.store.keys import KeyFile

if TYPE_CHECKING:
    from vault.store.handle import Store

# -- the container (docs/backups.md "The file") --------------------------------------------------
MAGIC = b"TALKVAULT-BACKUP"
TRAILER_MAGIC = b"TALKVAULT-SHA256"
FORMAT_VERSION = 1
# magic, format version, flags (0), key slots length, manifest length, database length; big-endian.
HEADER = struct.Struct(">16sHHIIQ")
TRAILER_SIZE = 16 + 32 + 32  # marker, sha256 of everything before the trailer, HMAC-SHA256 of that digest
MAX_PART = 1024 * 1024  # bound on the key slots and manifest lengths read from a file
MANIFEST_FORMAT = "talkvault-backup"
MAC_INFO = b"talkvault backup v1: container MAC"

# SQLCipher 4 defaults (security.md section 0 and 9): 4096-byte pages ending in IV (16) + HMAC-SHA512 (64);
# page 1 starts with the file's 16-byte salt; the HMAC key is PBKDF2-HMAC-SHA512(key, salt ^ 0x3a, 2).
PAGE_SIZE = 4096
RESERVE = 80
SALT_BYTES = 16
#: SQLite's lock-byte page: the page holding the file's byte 2^30 is never used (file locks are taken
#: there on some systems), so SQLCipher never writes it and it carries no HMAC. Only a vault of more
#: than 1 GiB has one (the 10M benchmark's backup stopped there: "page 262145 does not authenticate").
LOCK_BYTE_PAGE = (1 << 30) // PAGE_SIZE + 1
HMAC_SALT_MASK = 0x3A
HMAC_KDF_ITERATIONS = 2

CHUNK = 256 * PAGE_SIZE  # 1 MiB reads and writes
SUFFIX = ".tvbackup"
NAME_FORMAT = "talkvault-%Y%m%d-%H%M%S" + SUFFIX  # UTC, so that names sort in time order
CREATED_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NAME_RE = re.compile(r"^talkvault-\d{8}-\d{6}\.tvbackup$")
TEMP_PREFIX = ".talkvault-backup-"
TEMP_SUFFIX = ".tmp"
MAX_PAGE_PROBLEMS = 10


# -- results ---------------------------------------------------------------------------------------
@dataclass
class Report:
    """What `verify` found. `problems` empty means the file is whole and opens."""

    problems: list[str] = field(default_factory=list)
    bytes: int = 0
    sha256: str = ""
    messages: int = 0
    counts: dict[str, int] | None = None
    manifest: dict[str, Any] | None = None
    keyfile: KeyFile | None = None
    generation: int | None = None  # the key generation whose key opens the database

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        man = self.manifest or {}
        return {
            "ok": self.ok,
            "messages": self.messages,
            "problems": list(self.problems),
            "bytes": self.bytes,
            "sha256": self.sha256,
            "created": man.get("created"),
            "counts": self.counts,
        }


@dataclass
class _Layout:
    version: int
    keyslots: bytes
    manifest: bytes
    db_len: int
    hasher: Any  # sha256 fed with everything read so far


class _Snapshot:
    """What `checking.check` and `reading.counts` read of a vault: its connection, its file and its key."""

    def __init__(self, conn: db.Connection, db_path: Path, key: bytearray) -> None:
        self.conn, self.db_path, self._dek = conn, db_path, key


# -- backup ----------------------------------------------------------------------------------------
def backup(v: Store, dest: str | os.PathLike[str], *, keep: int | None = None) -> BackupReport:
    """Write a verified backup of the open vault `v` to `dest` (a file, or a directory that gets a dated file).

    With `keep`, only the newest `keep` dated backups (`talkvault-YYYYmmdd-HHMMSS.tvbackup`) stay in that
    directory. Returns {"path", "bytes", "messages", "sha256", "created", "counts", "pruned"}.
    """
    if keep is not None and keep < 1:
        raise UsageError("--keep needs a number of 1 or more")
    created = datetime.now(timezone.utc).replace(microsecond=0)
    target, dated = _target(v, dest, created)
    if keep is not None and not dated:
        raise UsageError("--keep prunes dated backups in a directory: give a directory as DEST")
    ddir = target.parent
    remove_stale_temps(ddir)
    tmp = ddir / f"{TEMP_PREFIX}{secrets.token_hex(6)}{TEMP_SUFFIX}"
    try:
        fd = _create_locked(tmp)
    except OSError as exc:
        raise _os_error(exc, ddir) from None
    try:
        try:
            counts, nbytes, sha = _write_backup(v, fd, created)
            _publish(tmp, target, replace=not dated)
        except OSError as exc:
            raise _os_error(exc, ddir) from None
    finally:
        tmp.unlink(missing_ok=True)
        os.close(fd)  # the lock goes with the last descriptor
    pruned = prune(ddir, keep, protect=target.name) if keep is not None else []
    return {
        "path": str(target),
        "bytes": nbytes,
        "messages": counts["messages"],
        "sha256": sha,
        "created": created.strftime(CREATED_FORMAT),
        "counts": counts,
        "pruned": pruned,
    }


def _target(v: Store, dest: str | os.PathLike[str], created: datetime) -> tuple[Path, bool]:
    """The backup's final path, and whether it is a dated file in a directory."""
    raw = os.fspath(dest)
    path = Path(raw).expanduser()
    as_dir = path.is_dir() or raw.endswith(("/", os.sep))
    if as_dir:
        if not path.exists():
            try:
                path.mkdir(mode=0o700, parents=True)
            except OSError as exc:
                raise _os_error(exc, path) from None
        ddir = path
    else:
        ddir = path.parent
        if not ddir.is_dir():
            raise UsageError(f"{ddir} is not a directory; create it first, or give an existing directory as DEST")
    vdir = v.path.resolve()
    real = ddir.resolve()
    if real == vdir or vdir in real.parents:
        raise UsageError("choose a backup destination outside the vault directory")
    if as_dir:
        target = ddir / created.strftime(NAME_FORMAT)
        if target.exists():
            raise UsageError(f"{target} already exists (backups are named to the second); run the backup again")
        return target, True
    if path.exists() and not _is_backup_file(path):
        raise UsageError(f"{path} exists and is not a talkvault backup; choose another name (it is never overwritten)")
    return path, False


# Where locks cannot be taken (some network file systems), a temp entry this old belongs to a
# backup that was killed, not a running one.
STALE_AFTER_S = 3600
# A running backup creates its temp and locks it in the next system call; an empty, unlocked temp
# younger than this may be one caught between the two, and is left for a later run.
CREATE_GRACE_S = 10


def _create_locked(tmp: Path) -> int:
    """Create the temp file (0600, new) and take its exclusive lock: the sign that a backup is alive."""
    import fcntl

    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # new and ours: nobody else can hold it
    except OSError:
        pass  # no flock here: the age rule in _abandoned protects it
    return fd


def _abandoned(entry: Path, now: float) -> bool:
    """Whether a temp file of ours was left by a backup that is no longer running."""
    import fcntl

    try:
        fd = os.open(entry, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a backup holds it: it is being written right now
        except OSError:
            return now - st.st_mtime >= STALE_AFTER_S
        return not (st.st_size == 0 and now - st.st_mtime < CREATE_GRACE_S)
    finally:
        os.close(fd)


def remove_stale_temps(directory: Path) -> list[str]:
    """Remove what killed backups left behind in `directory` (encrypted, but old copies of the vault).

    Only names of our own making (`.talkvault-backup-*.tmp`), and only those no running backup holds
    locked. Returns the names removed."""
    import time

    now = time.time()
    removed = []
    for entry in directory.glob(f"{TEMP_PREFIX}*"):
        try:
            st = entry.lstat()
            if stat.S_ISREG(st.st_mode) and entry.name.endswith(TEMP_SUFFIX):
                if not _abandoned(entry, now):
                    continue
                entry.unlink(missing_ok=True)
            elif now - st.st_mtime < STALE_AFTER_S:
                continue
            elif stat.S_ISDIR(st.st_mode):
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry.name)
        except OSError:
            continue
    return removed


def _is_backup_file(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return path.is_file() and fh.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def _current_keyslots(v: Store) -> bytes:
    """keyslots.json as it is on disk now (a changed passphrase included), for this vault's current key."""
    on_disk = KeyFile.load(v.keys_path)
    if on_disk.vault_id != v.keyfile.vault_id:
        raise VaultDamagedError(
            "the key file no longer belongs to this vault (vault ids differ); run 'talkvault check'"
        )
    ours = v.keyfile.generations
    slots = [s for s in on_disk.slots if s.gen in ours]
    if not slots:
        raise VaultBusyError("the vault's key was rotated while the backup started; run the backup again")
    return KeyFile(vault_id=on_disk.vault_id, slots=slots).dumps()


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _mac_key(dek: bytes | bytearray) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=MAC_INFO).derive(bytes(dek))


def _mac(dek: bytes | bytearray, digest: bytes) -> bytes:
    return hmac.new(_mac_key(dek), digest, hashlib.sha256).digest()


def _write_backup(v: Store, fd: int, created: datetime) -> tuple[dict[str, int], int, str]:
    """Write the whole backup file into `fd` (the new, locked temp) and fsync it: (counts, bytes, sha256).

    Everything is read inside one read transaction on the vault's own connection: its shared lock
    (waiting out a committing writer up to the busy timeout) keeps every other process from
    committing until it ends, so the counts, the key slots and the copied pages are of one instant.
    The database part is vault.db's ciphertext as it is on disk: a child process reads the file
    (see _read_ciphertext for why a child) and every page's HMAC is checked here, on its way into
    the file, before anything is written of it. A page that does not authenticate stops the backup.
    """
    from vault.operations.reading import counts as vault_counts

    conn = v.conn
    if conn.in_transaction:
        raise UsageError("a backup cannot start while this vault has a transaction open")
    h = hashlib.sha256()
    with os.fdopen(os.dup(fd), "wb") as out:  # a duplicate: closing it keeps the lock on `fd`

        def put(data: bytes | memoryview) -> None:
            h.update(data)
            out.write(data)

        with db.transaction(conn, immediate=False), db.translated():
            counts = vault_counts(v)  # the first read: the shared lock is ours from here to COMMIT
            keyslots = _current_keyslots(v)
            db_len = int(conn.execute("PRAGMA page_count").fetchone()[0]) * PAGE_SIZE
            manifest = _dumps(
                {
                    "format": MANIFEST_FORMAT,
                    "version": FORMAT_VERSION,
                    "vault_id": v.keyfile.vault_id,
                    "created": created.strftime(CREATED_FORMAT),
                    "counts": counts,
                }
            )
            put(HEADER.pack(MAGIC, FORMAT_VERSION, 0, len(keyslots), len(manifest), db_len))
            put(keyslots)
            put(manifest)
            checker: _PageMac | None = None
            pgno = 0
            # Hashing and writing a chunk (both release the GIL) overlap the HMAC check of the next.
            with ThreadPoolExecutor(1) as writer:
                pending: Future[None] | None = None
                for chunk in _read_ciphertext(v.db_path, db_len):
                    if checker is None:
                        checker = _PageMac(v._dek, bytes(chunk[:SALT_BYTES]))
                    bad = checker.failures(chunk, pgno)
                    if bad:
                        raise VaultDamagedError(
                            f"page {bad[0]} of the vault does not authenticate (damaged on disk); no backup was "
                            "written. Run 'talkvault check', and restore from an older backup if it fails too"
                        )
                    pgno += len(chunk) // PAGE_SIZE
                    if pending is not None:
                        pending.result()
                    pending = writer.submit(put, chunk)
                if pending is not None:
                    pending.result()
        digest = h.digest()
        trailer = TRAILER_MAGIC + digest + _mac(v._dek, digest)
        out.write(trailer)
        out.flush()
        os.fsync(out.fileno())
    h.update(trailer)
    return counts, HEADER.size + len(keyslots) + len(manifest) + db_len + TRAILER_SIZE, h.hexdigest()


# The child that reads vault.db. POSIX record locks belong to a process, and closing any descriptor
# of a file drops every lock the process holds on it: if this process opened and closed vault.db
# itself, it would silently drop the shared lock SQLite holds for the snapshot (and any lock of
# another connection in the process). A child's descriptors and locks are its own. It is given a
# path and a length, never a key; it sends ciphertext down a pipe and exits 3 if the file is short.
_CAT = """
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
left = int(sys.argv[2])
while left:
    data = os.read(fd, min(left, 1 << 20))
    if not data:
        sys.exit(3)
    view = memoryview(data)
    while view:
        view = view[os.write(1, view):]
    left -= len(data)
"""


def _read_ciphertext(path: Path, length: int) -> Iterator[bytes]:
    """The first `length` bytes of the file at `path`, in whole pages, read by a child process."""
    import subprocess
    import sys

    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", _CAT, os.fspath(path), str(length)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={},
    )
    try:
        assert proc.stdout is not None
        left = length
        while left:
            chunk = proc.stdout.read(min(CHUNK, left))
            if not chunk or len(chunk) % PAGE_SIZE:
                break
            left -= len(chunk)
            yield chunk
        if proc.wait() != 0 or left:
            raise VaultDamagedError(
                "the vault's database could not be read whole (shorter than it says, or unreadable); no "
                "backup was written. Run 'talkvault check'"
            )
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def _publish(tmp: Path, target: Path, *, replace: bool) -> None:
    """Give the finished file its name: replacing an older backup file, or never overwriting anything."""
    if replace:
        os.replace(tmp, target)
    else:
        try:
            os.link(tmp, target)  # fails if the name exists: never overwrites
        except FileExistsError:
            raise UsageError(f"{target} appeared while the backup ran; nothing was overwritten") from None
        except OSError:  # file systems without hard links (FAT, some network shares)
            if target.exists():
                raise UsageError(f"{target} appeared while the backup ran; nothing was overwritten") from None
            os.rename(tmp, target)
        else:
            tmp.unlink()
    keys.fsync_dir(target.parent)


def prune(directory: str | os.PathLike[str], keep: int, *, protect: str | None = None) -> list[str]:
    """Delete the oldest dated backups (`talkvault-YYYYmmdd-HHMMSS.tvbackup`) beyond the newest `keep`.

    Only regular files whose names match that pattern exactly are considered; `protect` (the backup
    just written) always stays. Returns the paths deleted, oldest first."""
    if keep < 1:
        raise UsageError("--keep needs a number of 1 or more")
    d = Path(directory)
    names = sorted(
        p.name
        for p in d.iterdir()
        if NAME_RE.match(p.name) and p.is_file() and not p.is_symlink() and p.name != protect
    )
    remove_stale_temps(d)
    room = keep - (1 if protect is not None else 0)
    old = names[: max(len(names) - room, 0)]
    for name in old:
        (d / name).unlink()
    if old:
        keys.fsync_dir(d)
    return [str(d / n) for n in old]


def _os_error(exc: OSError, where: Path) -> TalkvaultError:
    import errno

    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return DiskFullError(
            f"{where}: no space left for the backup; nothing was kept. Free some space and run it again"
        )
    return UsageError(f"cannot write in {where} ({exc.strerror or type(exc).__name__}); nothing was kept")


# -- verify ----------------------------------------------------------------------------------------
def verify(
    path: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
    work_dir: str | os.PathLike[str] | None = None,
) -> Report:
    """Prove that a backup file is whole and opens: container, trailer checksum and MAC, every page's HMAC,
    SQLite's integrity_check, the FTS5 integrity-check, the recorded counts, and the key slots (with the
    passphrase or recovery key). Damage is reported in `problems`; a wrong passphrase on an intact file
    raises AuthenticationError.

    The database part is copied into a private temporary directory (0700, removed afterwards) so that
    SQLite can open it; that copy is the same ciphertext as the backup, never plaintext.
    """
    harden_process()
    path = Path(path)
    secret, kind = _secret(passphrase, recovery_key)
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    with tempfile.TemporaryDirectory(prefix=".talkvault-verify-", dir=work_dir) as tmp:
        return _verify_into(path, Path(tmp) / "verify.db", secret=secret, kind=kind)


def _secret(passphrase: Secret | str | bytes | None, recovery_key: Secret | str | None) -> tuple[Secret, str]:
    if recovery_key is not None:
        rk = recovery_key if isinstance(recovery_key, Secret) else Secret(recovery_key)
        return keys.normalise_recovery_key(rk), "recovery"
    if passphrase is not None:
        return (passphrase if isinstance(passphrase, Secret) else Secret(passphrase)), "passphrase"
    raise UsageError("a passphrase or a recovery key is needed to verify or restore a backup")


def _verify_into(path: Path, copy: Path, *, secret: Secret, kind: str, durable: bool = False) -> Report:
    """Check the backup at `path`, leaving its database part (ciphertext) at `copy`.

    `secret` of `kind` must open the key slots. `durable`: the copy is to be kept (restore), so it is
    fsynced; verify's throwaway copy is not."""
    rep = Report()
    owned: list[bytearray] = []
    try:
        with open(path, "rb") as fh:
            rep.bytes = os.fstat(fh.fileno()).st_size
            layout = _read_layout(fh, rep)
            if layout is None:
                return rep
            rep.keyfile = _parse_keyslots(layout.keyslots, rep)
            rep.manifest = _parse_manifest(layout.manifest, rep)
            candidates: list[tuple[bytearray, int | None]] = []
            auth_failed = False
            if rep.keyfile is not None:
                try:
                    found = rep.keyfile.unlock_all(secret, kind)
                except AuthenticationError:
                    auth_failed = True
                else:
                    owned = [k for k, _ in found]
                    candidates = [(k, s.gen) for k, s in found]
            key = _stream_database(fh, layout, copy, candidates, rep, durable=durable)
            _check_trailer(fh, layout, key, rep)
        if auth_failed:
            if rep.ok:
                raise AuthenticationError(
                    "wrong passphrase (or recovery key) for this backup; nothing was changed. It opens with the "
                    "passphrase the vault had when the backup was made, or with its recovery key (--recovery-key)"
                )
            rep.problems.append(
                f"key slots: the {'recovery key' if kind == 'recovery' else 'passphrase'} given does not open "
                "them (the damage above may be why)"
            )
            return rep
        if key is not None and not any(p.startswith("encryption:") for p in rep.problems):
            _check_database(copy, key, rep)
        return rep
    finally:
        for k in owned:
            wipe(k)


def _read_layout(fh: IO[bytes], rep: Report) -> _Layout | None:
    head = fh.read(HEADER.size)
    if len(head) < HEADER.size or head[: len(MAGIC)] != MAGIC:
        rep.problems.append("container: not a talkvault backup (the file does not start with TALKVAULT-BACKUP)")
        return None
    _, version, flags, ks_len, man_len, db_len = HEADER.unpack(head)
    if version != FORMAT_VERSION:
        rep.problems.append(f"container: unknown format version {version} (damaged, or written by a newer talkvault)")
        return None
    if flags != 0 or ks_len > MAX_PART or man_len > MAX_PART or db_len < PAGE_SIZE or db_len % PAGE_SIZE:
        rep.problems.append("container: the header is damaged (impossible flags or lengths)")
        return None
    expected = HEADER.size + ks_len + man_len + db_len + TRAILER_SIZE
    if rep.bytes < expected:
        rep.problems.append(f"container: truncated: the file has {rep.bytes} bytes, its header says {expected}")
        return None
    if rep.bytes > expected:
        rep.problems.append(
            f"container: the file is {rep.bytes - expected} byte(s) longer than its header says (appended to, "
            "or a damaged header)"
        )
        return None
    ks = fh.read(ks_len)
    man = fh.read(man_len)
    return _Layout(version, ks, man, db_len, hashlib.sha256(head + ks + man))


def _parse_keyslots(raw: bytes, rep: Report) -> KeyFile | None:
    if not raw:
        rep.problems.append("key slots: missing; without them nothing can open this backup")
        return None
    try:
        return KeyFile.loads(raw)  # bounded: deep nesting or edited slots are "damaged", never a crash
    except VaultDamagedError:
        rep.problems.append("key slots: damaged; they do not parse")
        return None


def _parse_manifest(raw: bytes, rep: Report) -> dict[str, Any] | None:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        rep.problems.append("manifest: damaged; it does not parse")
        return None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != MANIFEST_FORMAT
        or not isinstance(doc.get("vault_id"), str)
        or not isinstance(doc.get("created"), str)
        or not isinstance(doc.get("counts"), dict)
        or not all(isinstance(n, int) and not isinstance(n, bool) for n in doc["counts"].values())
    ):
        rep.problems.append("manifest: damaged; a field is missing or of the wrong kind")
        return None
    return doc


class _PageMac:
    """SQLCipher 4's page HMAC, computed independently (security.md section 9)."""

    def __init__(self, dek: bytes | bytearray, salt: bytes) -> None:
        hkey = hashlib.pbkdf2_hmac(
            "sha512", bytes(dek), bytes(b ^ HMAC_SALT_MASK for b in salt), HMAC_KDF_ITERATIONS, 32
        )
        # cryptography's HMAC, copied per page: the hmac module's Python wrapper costs more per page
        # than hashing the page; cryptography's is within ~10% of OpenSSL's own object (measured
        # per 4 KiB page: 57-69 us against 66-89 us for hmac.new), without a private import.
        self._proto = HMAC(hkey, hashes.SHA512())

    def ok(self, pgno: int, page: memoryview | bytes) -> bool:
        return len(page) == PAGE_SIZE and not self.failures(page, pgno - 1)

    def failures(self, chunk: bytes | memoryview, pages_before: int) -> list[int]:
        """The page numbers in `chunk` (pages after `pages_before` others) whose HMAC fails; a short last page fails."""
        mv = memoryview(chunk)
        proto, pack, end = self._proto, _PGNO.pack, PAGE_SIZE - 64
        bad = []
        pgno = pages_before
        for off in range(0, len(mv), PAGE_SIZE):
            pgno += 1
            page = mv[off : off + PAGE_SIZE]
            if len(page) != PAGE_SIZE:
                bad.append(pgno)
                break
            if pgno == LOCK_BYTE_PAGE:
                continue
            m = proto.copy()
            m.update(page[SALT_BYTES if pgno == 1 else 0 : end])  # ciphertext, then the IV
            m.update(pack(pgno))
            if not hmac.compare_digest(m.finalize(), page[end:]):
                bad.append(pgno)
        return bad


_PGNO = struct.Struct("<I")


def _stream_database(
    fh: IO[bytes],
    layout: _Layout,
    copy: Path,
    candidates: list[tuple[bytearray, int | None]],
    rep: Report,
    *,
    durable: bool,
) -> bytearray | None:
    """Hash, HMAC-check and copy out the database part; the key that opens it (or None)."""
    first = fh.read(PAGE_SIZE)
    salt = bytes(first[:SALT_BYTES])
    key: bytearray | None = None
    checker: _PageMac | None = None
    for k, gen in candidates:
        c = _PageMac(k, salt)
        if c.ok(1, first):
            key, checker, rep.generation = k, c, gen
            break
    if key is None and candidates:  # page 1 fails for every key: name the pages that fail with the newest
        key, rep.generation = candidates[0]
        checker = _PageMac(key, salt)
    bad: list[int] = []
    pgno = 0
    remaining = layout.db_len
    buf = first
    fd = os.open(copy, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        while buf:
            layout.hasher.update(buf)
            out.write(buf)
            if checker is not None:
                bad.extend(checker.failures(buf, pgno))
            pgno += len(buf) // PAGE_SIZE
            remaining -= len(buf)
            buf = fh.read(min(CHUNK, remaining)) if remaining > 0 else b""
        out.flush()
        if durable:
            os.fsync(out.fileno())
    if remaining:
        rep.problems.append("container: truncated while it was read")
    total = layout.db_len // PAGE_SIZE
    if checker is not None and bad:
        if len(bad) == total:
            rep.problems.append(
                "encryption: no page opens with the backup's key (the key slots belong to another vault?)"
            )
        else:
            rep.problems.extend(f"encryption: HMAC verification failed for page {n}" for n in bad[:MAX_PAGE_PROBLEMS])
            if len(bad) > MAX_PAGE_PROBLEMS:
                rep.problems.append(f"encryption: ... and {len(bad) - MAX_PAGE_PROBLEMS} more pages fail")
    return key


def _check_trailer(fh: IO[bytes], layout: _Layout, key: bytearray | None, rep: Report) -> None:
    trailer = fh.read(TRAILER_SIZE)
    digest = layout.hasher.digest()
    whole = layout.hasher.copy()
    whole.update(trailer)
    rep.sha256 = whole.hexdigest()
    if len(trailer) != TRAILER_SIZE:
        rep.problems.append("container: truncated while it was read")
        return
    if trailer[:16] != TRAILER_MAGIC:
        rep.problems.append("container: the end marker is damaged")
    if not hmac.compare_digest(trailer[16:48], digest):
        rep.problems.append("container: checksum mismatch: the file was damaged or changed after it was written")
    elif key is not None and not hmac.compare_digest(trailer[48:80], _mac(key, digest)):
        rep.problems.append(
            "container: the authentication code does not match: the file was altered, or not written with this key"
        )


def _check_database(copy: Path, key: bytearray, rep: Report) -> None:
    """Open the copied database part and run `check` on it; compare its counts and vault id with the file's."""
    from vault.operations.checking import check
    from vault.operations.reading import counts as vault_counts
    from vault.store import schema

    try:
        conn = db.connect(copy, key)
    except TalkvaultError as exc:
        rep.problems.append(f"database: does not open ({exc.message})")
        return
    try:
        snap = cast("Store", _Snapshot(conn, copy, key))  # all that check() and counts() read
        with db.translated():
            version = schema.current_version(conn)
            if version > schema.SCHEMA_VERSION:
                rep.problems.append(
                    f"database: schema version {version} is newer than this talkvault's; upgrade talkvault"
                )
                return
            result = check(snap, pages_authenticated=True)  # _stream_database checked every HMAC
            if version < schema.SCHEMA_VERSION:  # an older backup: opening the restored vault migrates it
                stale = f"schema: version {version}, expected {schema.SCHEMA_VERSION}"
                result["problems"] = [p for p in result["problems"] if p != stale]
            counts = vault_counts(snap)
            row = conn.execute("SELECT value FROM meta WHERE key = 'vault_id'").fetchone()
    except TalkvaultError as exc:
        rep.problems.append(f"database: could not be checked ({exc.message})")
        return
    finally:
        conn.close()
    rep.problems.extend(result["problems"])
    rep.counts = counts
    rep.messages = counts["messages"]
    vault_id = row[0] if row else None
    if rep.keyfile is not None and rep.keyfile.vault_id != vault_id:
        rep.problems.append("key slots: they belong to another vault (vault ids differ)")
    if rep.manifest is not None:
        if rep.manifest["vault_id"] != vault_id:
            rep.problems.append("manifest: it names another vault (vault ids differ)")
        for name, recorded in rep.manifest["counts"].items():
            if name in counts and counts[name] != recorded:
                rep.problems.append(f"counts: the backup recorded {recorded} {name}, the database holds {counts[name]}")


# -- restore ---------------------------------------------------------------------------------------
def restore(
    path: str | os.PathLike[str],
    to: str | os.PathLike[str],
    passphrase: Secret | str | bytes | None = None,
    *,
    recovery_key: Secret | str | None = None,
) -> RestoreReport:
    """Make a new vault in `to` (which must not exist, or be empty) from a backup file.

    The backup is verified in full (with the passphrase or the recovery key) while its database is
    written into `to` under a temporary name; only then do `vault.db` and `keyslots.json` get their
    names. An existing vault is never touched. Returns {"vault", "messages", "counts"}."""
    from vault.store.handle import DB_NAME, is_vault

    harden_process()
    src = Path(path)
    secret, kind = _secret(passphrase, recovery_key)
    if not src.is_file():
        raise UsageError(f"{src} is not a file")
    dest = Path(to).expanduser()
    if is_vault(dest):
        raise VaultExistsError(
            f"a vault already exists in {dest}; restore never overwrites one: choose a new directory"
        )
    if dest.exists() and not dest.is_dir():
        raise UsageError(f"{dest} exists and is not a directory; restore into a new or empty directory")
    if dest.exists() and any(dest.iterdir()):
        raise UsageError(f"{dest} is not empty; restore into a new or empty directory")
    made = not dest.exists()
    tmp_db = dest / f".{DB_NAME}.restore-{secrets.token_hex(6)}.tmp"
    placed = False
    try:
        try:
            dest.mkdir(mode=0o700, parents=True, exist_ok=True)
            os.chmod(dest, 0o700)
            report = _verify_into(src, tmp_db, secret=secret, kind=kind, durable=True)
            if not report.ok:
                raise BackupError(
                    "the backup did not verify (" + "; ".join(report.problems[:3]) + "); nothing was restored. "
                    "'talkvault verify' lists every problem"
                )
            assert report.keyfile is not None and report.counts is not None
            keyfile = KeyFile(
                vault_id=report.keyfile.vault_id,
                slots=[s for s in report.keyfile.slots if s.gen == report.generation],
            )
            # The database takes its name first (never over an existing file), then the key file.
            _publish(tmp_db, dest / DB_NAME, replace=False)
            placed = True
            keyfile.save(dest / keys.KEYSLOTS_NAME)
        except OSError as exc:
            raise _os_error(exc, dest) from None
    except BaseException:
        tmp_db.unlink(missing_ok=True)
        Path(f"{tmp_db}-journal").unlink(missing_ok=True)
        if placed:  # no half-restored vault: the database without its key file goes again
            (dest / DB_NAME).unlink(missing_ok=True)
        if made:
            try:
                dest.rmdir()
            except OSError:
                pass
        raise
    return {"vault": str(dest), "messages": report.messages, "counts": report.counts}
