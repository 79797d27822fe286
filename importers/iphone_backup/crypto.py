"""Decrypting an encrypted iPhone backup in memory: the keybag, the per-file keys, the file bytes.

An encrypted backup (Manifest.plist `IsEncrypted`) protects every file with its own AES-256 key,
stored wrapped (RFC 3394) in the file's Manifest.db record; those keys are wrapped by class keys
kept in Manifest.plist's `BackupKeyBag`, which the backup password unlocks (PBKDF2-SHA256, then
PBKDF2-SHA1, the counts and salts in the keybag). Manifest.db itself is encrypted with the key in
`ManifestKey`. Files are AES-CBC with a zero IV and PKCS#7 padding.

The keybag is read and unlocked by iphone-backup-decrypt (`utils.BackupKeyBag`, the part of that
library that never touches the disk; its `EncryptedBackup` writes a decrypted Manifest.db to a temp
folder, so it is not used). Decrypted bytes stay in memory: a database is decrypted into a bytes
object and opened with `sqlite3.Connection.deserialize`; a media file is decrypted as it is read.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path
from typing import IO, Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 16
_ZERO_IV = b"\x00" * BLOCK
# Reading granularity of the streaming decryptor (a multiple of the block size).
_CHUNK = 256 * 1024


class WrongPassword(Exception):
    """The password does not unlock the keybag."""


class DecryptError(Exception):
    """A file or key that does not decrypt (damaged backup, or a record that does not fit)."""


class Keybag:
    """The unlocked class keys of a backup."""

    def __init__(self, keybag_bytes: bytes, password: str) -> None:
        try:
            from iphone_backup_decrypt import utils as ibd
        except ImportError as exc:  # pragma: no cover - a dependency of talkvault
            raise DecryptError("iphone-backup-decrypt is not installed") from exc
        try:
            bag: Any = ibd.BackupKeyBag(keybag_bytes)
            unlocked = bag.unlock_with_passphrase(password.encode("utf-8"))
        except (ValueError, KeyError, TypeError, struct.error) as exc:
            raise DecryptError("the backup's keybag cannot be read") from exc
        if not unlocked:
            raise WrongPassword
        self._bag = bag

    def unwrap(self, protection_class: int, wrapped: bytes) -> bytes:
        """A file's key from its wrapped form and protection class."""
        try:
            return bytes(self._bag.unwrap_key_for_class(protection_class, wrapped))
        except (ValueError, KeyError, TypeError) as exc:
            raise DecryptError("a file key does not unwrap") from exc


def manifest_key(keybag: Keybag, manifest_key_field: bytes) -> bytes:
    """The key of Manifest.db: ManifestKey is a little-endian class number, then the wrapped key."""
    if len(manifest_key_field) < 4 + 40:
        raise DecryptError("ManifestKey is too short")
    (protection_class,) = struct.unpack("<l", manifest_key_field[:4])
    return keybag.unwrap(protection_class, manifest_key_field[4:])


def _strip_padding(data: bytes) -> bytes:
    if not data:
        return data
    n = data[-1]
    if n == 0 or n > BLOCK or n > len(data) or data[-n:] != bytes([n]) * n:
        raise DecryptError("wrong padding after decryption")
    return data[:-n]


def decrypt_bytes(data: bytes, key: bytes) -> bytes:
    """A whole encrypted file's plaintext (in memory)."""
    if len(data) % BLOCK:
        raise DecryptError("encrypted data is not a whole number of blocks")
    if not data:
        return b""
    try:
        decryptor = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).decryptor()
    except ValueError as exc:
        raise DecryptError("a file key has the wrong length") from exc
    return _strip_padding(decryptor.update(data) + decryptor.finalize())


def decrypt_file(path: Path, key: bytes) -> bytes:
    with open(path, "rb") as fh:
        return decrypt_bytes(fh.read(), key)


class DecryptingReader(io.RawIOBase):
    """A backup file, decrypted as it is read (never written anywhere)."""

    def __init__(self, path: Path, key: bytes) -> None:
        super().__init__()
        self._fh: IO[bytes] = open(path, "rb")  # noqa: SIM115 - closed by close(), the reader's owner
        try:
            self._size = self._fh.seek(0, io.SEEK_END)
            self._fh.seek(0)
            if self._size % BLOCK:
                raise DecryptError("encrypted data is not a whole number of blocks")
            self._decryptor = Cipher(algorithms.AES(key), modes.CBC(_ZERO_IV)).decryptor()
        except BaseException:
            self._fh.close()
            raise
        self._pos = 0
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        chunk = self._fh.read(_CHUNK)
        if not chunk:
            self._pos = self._size
            return
        self._pos += len(chunk)
        plain = self._decryptor.update(chunk)
        if self._pos >= self._size:
            plain = _strip_padding(plain + self._decryptor.finalize())
        self._buffer += plain

    def readinto(self, b: Any) -> int:
        view = memoryview(b)
        while not self._buffer and self._pos < self._size:
            self._fill()
        n = min(len(view), len(self._buffer))
        view[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def open_decrypting(path: Path, key: bytes) -> IO[bytes]:
    return io.BufferedReader(DecryptingReader(path, key))
