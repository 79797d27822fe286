"""WhatsApp Android's encrypted backups (.crypt14, .crypt15) decrypted in memory with the person's own key.

Layout (as wa-crypt-tools and WhatsApp-Chat-Exporter read it): one byte giving the size N of a
protobuf header, optionally a 0x01 byte (the msgstore "feature table" flag), then N bytes of the
`BackupPrefix` protobuf, whose field 2 (crypt14: `C14_cipher`, IV in its field 5) or field 3
(crypt15: `C15_IV`, IV in its field 1) carries the 16-byte IV. Then the zlib-compressed SQLite
database encrypted with AES-256-GCM, its 16-byte tag, and (in most files) the MD5 of everything
before it.

Keys: crypt15 is encrypted with a key derived from the 32-byte end-to-end backup key (the 64 hex
digits WhatsApp shows once, or the `encrypted_backup.key` file) by HKDF-SHA256 with a zero salt
and the info "backup encryption"; crypt14 with the last 32 bytes of the `key` file (a Java
serialised byte array) from /data/data/com.whatsapp/files/key. The crypto is the `cryptography`
package's; this module only parses the framing. Nothing decrypted is ever written to disk.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from vault.errors import ExportError, ExportKeyError

CRYPT14 = 14
CRYPT15 = 15
_SUFFIX = re.compile(r"\.crypt(14|15)$", re.I)
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# BackupPrefix field numbers (wa-crypt-tools proto/backup_prefix.proto).
_FIELD_C14 = 2
_FIELD_C15 = 3
_C14_IV = 5
_C15_IV = 1
_FEATURE_FLAG = 0x01
_IV_BYTES = 16
_TAG_BYTES = 16
_MD5_BYTES = 16
_CRYPT15_INFO = b"backup encryption"
# A Java ObjectOutputStream holding one byte[]: magic, TC_ARRAY, TC_CLASSDESC "[B", serialVersionUID,
# flags, no fields, TC_ENDBLOCKDATA, no superclass; then a 4-byte length and the bytes.
_JAVA_BYTE_ARRAY = bytes.fromhex("aced0005757200025b42acf317f8060854e00200007870")
_CRYPT14_KEY_ARRAY = 131  # cipher version 2, key version 1, salt 32, google id 16, hash 32, iv 16, key 32
_CRYPT15_KEY_ARRAY = 32
#: The largest decompressed database decrypted into memory.
MAX_DB_BYTES = 4 << 30
_CHUNK = 1 << 20

KEY_HELP = (
    "give your key with --whatsapp-key: for .crypt15 the 64-digit end-to-end backup key (or the "
    "path of encrypted_backup.key), for .crypt14 the path of the 'key' file from "
    "/data/data/com.whatsapp/files/key; see docs/importers/whatsapp.md"
)


def crypt_version(path: Path) -> int | None:
    m = _SUFFIX.search(path.name)
    return int(m.group(1)) if m else None


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise ValueError("truncated varint")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        if not b & 0x80:
            return value, pos
        shift += 7


def _fields(buf: bytes) -> dict[int, bytes]:
    """The length-delimited fields of one protobuf message (the last of each number); other wire
    types are skipped. ValueError on malformed input."""
    out: dict[int, bytes] = {}
    pos = 0
    while pos < len(buf):
        tag, pos = _varint(buf, pos)
        number, wire = tag >> 3, tag & 7
        if number == 0:
            raise ValueError("field 0")
        if wire == 0:
            _, pos = _varint(buf, pos)
        elif wire == 1:
            pos += 8
        elif wire == 5:
            pos += 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            if pos + size > len(buf):
                raise ValueError("truncated field")
            out[number] = buf[pos : pos + size]
            pos += size
        else:
            raise ValueError("unsupported wire type")
        if pos > len(buf):
            raise ValueError("truncated")
    return out


def read_header(head: bytes) -> tuple[int, bytes, int]:
    """(crypt version, IV, offset of the ciphertext) from a backup's first bytes; ValueError if the
    bytes are not a crypt14/15 header."""
    if len(head) < 2:
        raise ValueError("too short")
    size = head[0]
    pos = 1
    if head[1] == _FEATURE_FLAG:
        pos = 2
    prefix = head[pos : pos + size]
    if size == 0 or len(prefix) != size:
        raise ValueError("truncated header")
    fields = _fields(prefix)
    if _FIELD_C15 in fields:
        iv = _fields(fields[_FIELD_C15]).get(_C15_IV, b"")
        version = CRYPT15
    elif _FIELD_C14 in fields:
        iv = _fields(fields[_FIELD_C14]).get(_C14_IV, b"")
        version = CRYPT14
    else:
        raise ValueError("no cipher field")
    if len(iv) != _IV_BYTES:
        raise ValueError("bad IV")
    return version, iv, pos + size


def looks_encrypted_backup(path: Path) -> bool:
    """A .crypt14/.crypt15 file name and a header that parses."""
    if crypt_version(path) is None or not path.is_file():
        return False
    try:
        with open(path, "rb") as fh:
            head = fh.read(512)
        read_header(head)
    except (OSError, ValueError):
        return False
    return True


def _java_byte_array(data: bytes) -> bytes | None:
    if not data.startswith(_JAVA_BYTE_ARRAY) or len(data) < len(_JAVA_BYTE_ARRAY) + 4:
        return None
    start = len(_JAVA_BYTE_ARRAY)
    size = int.from_bytes(data[start : start + 4], "big")
    payload = data[start + 4 : start + 4 + size]
    return payload if len(payload) == size else None


def aes_key(given: str | None, version: int, path: Path) -> bytes:
    """The AES-256 key for this backup from what the person gave (hex, or a key file's path)."""
    if not given:
        raise ExportKeyError(f"this backup is encrypted; {KEY_HELP}", path=str(path))
    text = "".join(given.split())
    if _HEX64.fullmatch(text):
        raw = bytes.fromhex(text)
        return _crypt15_key(raw) if version == CRYPT15 else raw
    key_file = Path(given.strip()).expanduser()
    try:
        with open(key_file, "rb") as fh:
            data = fh.read(4096)
    except OSError:
        raise ExportKeyError(
            "the WhatsApp key is neither 64 hexadecimal digits nor the path of a readable key file; " + KEY_HELP,
            path=str(path),
        ) from None
    stripped = data.strip()
    if _HEX64.fullmatch(stripped.decode("ascii", "replace")):
        raw = bytes.fromhex(stripped.decode("ascii"))
        return _crypt15_key(raw) if version == CRYPT15 else raw
    payload = _java_byte_array(data)
    if payload is not None and len(payload) == _CRYPT14_KEY_ARRAY:
        return payload[-32:]
    if payload is not None and len(payload) == _CRYPT15_KEY_ARRAY:
        return _crypt15_key(payload)
    raise ExportKeyError("the key file is not a WhatsApp key file; " + KEY_HELP, path=str(path))


def _crypt15_key(root: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00" * 32, info=_CRYPT15_INFO).derive(root)


def _wrong_key(path: Path) -> ExportKeyError:
    return ExportKeyError(
        "the key does not open this backup (a wrong key, the key of another phone number or "
        "backup, or a damaged file); nothing was imported. " + KEY_HELP,
        path=str(path),
    )


def decrypt(path: Path, given_key: str | None) -> bytearray:
    """The decrypted, decompressed SQLite database of a .crypt14/.crypt15 backup, in memory.

    ExportKeyError (exit 3) when the key is missing or wrong, ExportError when the file is not
    such a backup."""
    label = str(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(512)
            version, iv, offset = read_header(head)
            key = aes_key(given_key, version, path)
            # The MD5 trailer is there when the MD5 of everything before it matches.
            md5 = hashlib.md5()
            fh.seek(0)
            remaining = size - _MD5_BYTES
            while remaining > 0:
                block = fh.read(min(_CHUNK, remaining))
                if not block:
                    break
                md5.update(block)
                remaining -= len(block)
            trailer = fh.read(_MD5_BYTES)
            end = size - _MD5_BYTES if md5.digest() == trailer else size
            if end - offset < _TAG_BYTES:
                raise ValueError("no ciphertext")
            fh.seek(end - _TAG_BYTES)
            tag = fh.read(_TAG_BYTES)
            decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()
            inflate = zlib.decompressobj()
            out = bytearray()
            fh.seek(offset)
            remaining = end - _TAG_BYTES - offset
            first = True
            while remaining > 0:
                block = fh.read(min(_CHUNK, remaining))
                if not block:
                    raise ValueError("cut short")
                remaining -= len(block)
                plain = decryptor.update(block)
                try:
                    out += inflate.decompress(plain, MAX_DB_BYTES + 1 - len(out))
                except zlib.error:
                    raise _wrong_key(path) from None
                if first and out and not out.startswith(b"SQLite format 3\x00"[: len(out)]):
                    raise _wrong_key(path)
                first = False
                if len(out) > MAX_DB_BYTES:
                    raise ExportError(
                        f"the decrypted database is larger than {MAX_DB_BYTES >> 30} GiB; decrypt it "
                        "with wa-crypt-tools and import the msgstore.db",
                        path=label,
                    )
            try:
                decryptor.finalize()
            except InvalidTag:
                raise _wrong_key(path) from None
            out += inflate.flush()
    except ValueError:
        raise ExportError(
            "not a WhatsApp .crypt14/.crypt15 backup (its header does not parse), or it is cut short",
            path=label,
        ) from None
    except OSError as exc:
        raise ExportError(f"cannot be read ({exc.strerror})", path=label) from None
    if not out.startswith(b"SQLite format 3\x00"):
        raise _wrong_key(path)
    return out
