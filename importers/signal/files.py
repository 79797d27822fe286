"""Signal Desktop's attachment files at rest: safe paths, streaming decryption, long-message text.

Signal Desktop keeps each attachment under `attachments.noindex/<path>` (stickers under
`stickers.noindex/<path>`) beside `sql/db.sqlite`. Files of attachment `version` >= 2 are encrypted
with the attachment's own `localKey` (base64 of a 32-byte AES key followed by a 32-byte HMAC key):

    IV (16 bytes) || AES-256-CBC ciphertext || HMAC-SHA256(mac key, IV || ciphertext) (32 bytes)

and the plaintext is cut to the attachment's `size` after decryption (the same scheme in
tbvdm/sigtop and carderne/signal-export:sigexport/files.py). Older files are plaintext.

Nothing here writes a file: decryption streams into the reader the vault consumes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import io
from collections.abc import Callable
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

# Layout of an encrypted attachment file (sigtop, signal-export: files.py).
IV_SIZE = 16
MAC_SIZE = 32  # HMAC-SHA256
CIPHER_KEY_SIZE = 32  # AES-256
MAC_KEY_SIZE = 32
AES_BLOCK = 16
# The first attachment `version` whose file is encrypted with `localKey`.
ENCRYPTED_VERSION = 2
# Long messages: the full text is an attachment of this content type (sigtop's constant).
LONG_TEXT_MIME = "text/x-signal-plain"
# A long message is at most a few tens of KiB; refuse to read a larger "text" into memory.
MAX_LONG_TEXT_BYTES = 1 << 20
CHUNK = 1 << 16


def resolve_inside(root: Path, rel: str) -> Path | None:
    """`root / rel` when it is an existing regular file that stays inside `root`, else None.

    `rel` comes from the database, so it is untrusted: absolute paths, `..` and symlinks that
    lead out of `root` are refused.
    """
    if not rel or "\x00" in rel:
        return None
    rel = rel.replace("\\", "/")
    try:
        base = root.resolve(strict=True)
        target = (base / rel).resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if target == base or base not in target.parents or not target.is_file():
        return None
    return target


def _split_local_key(local_key: str) -> tuple[bytes, bytes] | None:
    try:
        keys = base64.b64decode(local_key, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(keys) != CIPHER_KEY_SIZE + MAC_KEY_SIZE:
        return None
    return keys[:CIPHER_KEY_SIZE], keys[CIPHER_KEY_SIZE:]


class _DecryptingReader(io.RawIOBase):
    """Streams the plaintext of an encrypted attachment file (already authenticated)."""

    def __init__(self, fh: IO[bytes], cipher_key: bytes, ct_len: int, size: int | None) -> None:
        super().__init__()
        self._fh = fh
        iv = fh.read(IV_SIZE)
        self._decryptor = Cipher(algorithms.AES(cipher_key), modes.CBC(iv)).decryptor()
        self._ct_left = ct_len
        self._size_left = size
        self._buf = b""
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    def _fill(self) -> None:
        while not self._buf and not self._done:
            chunk = self._fh.read(min(CHUNK, self._ct_left))
            if not chunk:
                raise OSError("attachment file ended early")
            self._ct_left -= len(chunk)
            out = self._pending + self._decryptor.update(chunk)
            self._pending = b""
            if self._ct_left == 0:
                out += self._decryptor.finalize()
                if self._size_left is None:
                    out = _strip_pkcs7(out)
                self._done = True
            elif self._size_left is None:
                # Hold the last block back: its padding can only be removed at the end.
                self._pending, out = out[-AES_BLOCK:], out[:-AES_BLOCK]
            if self._size_left is not None:
                out = out[: self._size_left]
                self._size_left -= len(out)
                if self._size_left == 0:
                    self._done = True
            self._buf = out

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        self._fill()
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        try:
            self._fh.close()
        finally:
            super().close()


def _strip_pkcs7(data: bytes) -> bytes:
    if data and 1 <= data[-1] <= AES_BLOCK and data.endswith(bytes([data[-1]]) * data[-1]):
        return data[: -data[-1]]
    return data


class AttachmentDamaged(Exception):
    """An encrypted attachment file failed its integrity check (holds no content)."""


def _authenticate(path: Path, mac_key: bytes) -> int:
    """Check the file's HMAC in one streaming pass; return the ciphertext length."""
    total = path.stat().st_size
    ct_len = total - IV_SIZE - MAC_SIZE
    if ct_len <= 0 or ct_len % AES_BLOCK:
        raise AttachmentDamaged("attachment file has an impossible length")
    mac = hmac.new(mac_key, digestmod=hashlib.sha256)
    with open(path, "rb") as fh:
        left = total - MAC_SIZE
        while left:
            chunk = fh.read(min(CHUNK, left))
            if not chunk:
                raise AttachmentDamaged("attachment file ended early")
            mac.update(chunk)
            left -= len(chunk)
        theirs = fh.read(MAC_SIZE)
    if not hmac.compare_digest(mac.digest(), theirs):
        raise AttachmentDamaged("attachment file failed its integrity check")
    return ct_len


def attachment_opener(
    root: Path, rel: str | None, version: object, local_key: object, size: int | None
) -> Callable[[], IO[bytes]] | None:
    """An opener for an attachment file under `root`, or None when the file is not there.

    An encrypted file is authenticated here, in one streaming pass, and raises AttachmentDamaged
    when it fails (so the vault never meets a broken stream); the opener then decrypts it while
    the caller reads.
    """
    if not rel:
        return None
    path = resolve_inside(root, rel)
    if path is None:
        return None
    encrypted = isinstance(version, int) and version >= ENCRYPTED_VERSION
    if not encrypted:
        return lambda: open(path, "rb")
    keys = _split_local_key(local_key) if isinstance(local_key, str) else None
    if keys is None:
        return None
    cipher_key, mac_key = keys
    try:
        ct_len = _authenticate(path, mac_key)
    except OSError:
        return None

    def opener() -> IO[bytes]:
        raw = _DecryptingReader(open(path, "rb"), cipher_key, ct_len, size)  # noqa: SIM115 (the reader closes it)
        return io.BufferedReader(raw, CHUNK)

    return opener


def read_long_text(opener: Callable[[], IO[bytes]] | None) -> str | None:
    """The full text of a long message from its attachment, or None if it cannot be read."""
    if opener is None:
        return None
    try:
        with opener() as fh:
            data = fh.read(MAX_LONG_TEXT_BYTES + 1)
    except (OSError, ValueError):
        return None
    if len(data) > MAX_LONG_TEXT_BYTES:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None
