"""Media files beside a WeChat export: finding them safely, and reading desktop `.dat` images.

WeChat names a message's image, video or file by a path relative to the account folder
(`FileStorage\\MsgAttach\\<md5>\\Image\\2023-08\\<md5>.dat`), and the tools that export chats copy
media into folders beside their output (`image/`, `video/`, `File\\...`). `MediaFinder` looks for
such a path under the export's folder, trying shorter and shorter tails of it, and never returns
a file outside that folder.

Desktop WeChat 3.x keeps received images as `.dat` files: the image bytes XORed with one byte.
The byte is found by XORing the file's first bytes with the magic numbers of the image formats
WeChat uses (the method every tool uses, e.g. PyWxDump `dat2img`); the file is then read through
`XorReader`, which undoes the XOR while streaming, so nothing is decoded to disk or into memory.
WeChat 4.x `.dat` files (header `07 08 56 31`/`07 08 56 32`) are AES-encrypted with a key this
project does not extract; they are kept as references without their bytes.
"""

from __future__ import annotations

import io
import mimetypes
from collections.abc import Callable
from pathlib import Path
from typing import IO

from importers.base import file_opener
from vault.records import Attachment, MessageKind

# Image magic numbers a `.dat` file may hide: (magic, extension, MIME type). Longest first, so a
# two-byte match (BMP) is only tried when no longer one fits.
IMAGE_MAGICS: tuple[tuple[bytes, str, str], ...] = (
    (b"\x89PNG", "png", "image/png"),
    (b"GIF8", "gif", "image/gif"),
    (b"RIFF", "webp", "image/webp"),
    (b"II*\x00", "tif", "image/tiff"),
    (b"\xff\xd8\xff", "jpg", "image/jpeg"),
    (b"BM", "bmp", "image/bmp"),
)

# Longest relative path (in components) worth trying; WeChat's are 5-7 deep.
MAX_PATH_PARTS = 16


def dat_xor_key(head: bytes) -> tuple[int, str, str] | None:
    """(xor byte, extension, MIME type) of a WeChat `.dat` image from its first bytes, or None."""
    for magic, ext, mime in IMAGE_MAGICS:
        if len(head) < len(magic):
            continue
        key = head[0] ^ magic[0]
        if all(head[i] ^ key == magic[i] for i in range(len(magic))):
            return key, ext, mime
    return None


class XorReader(io.RawIOBase):
    """A read-only stream that XORs every byte of another stream with one key byte."""

    def __init__(self, raw: IO[bytes], key: int) -> None:
        super().__init__()
        self._raw = raw
        self._table = bytes(b ^ key for b in range(256))

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        view = memoryview(buffer)
        data = self._raw.read(len(view))
        n = len(data)
        view[:n] = data.translate(self._table)
        return n

    def close(self) -> None:
        try:
            self._raw.close()
        finally:
            super().close()


def xor_opener(path: Path, key: int) -> Callable[[], IO[bytes]]:
    def open_decoded() -> IO[bytes]:
        return io.BufferedReader(XorReader(open(path, "rb"), key))

    return open_decoded


def _head(path: Path, size: int = 8) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


class MediaFinder:
    """Finds media named by WeChat paths under one folder (the export's or the account's)."""

    def __init__(self, root: Path | None) -> None:
        self.root = root.resolve() if root is not None else None

    def find(self, rel: str) -> Path | None:
        """The file a WeChat media path names, if it sits under the root folder."""
        if self.root is None or not rel:
            return None
        parts = [p for p in rel.replace("\\", "/").split("/") if p not in ("", ".")]
        if not parts or ".." in parts or len(parts) > MAX_PATH_PARTS:
            return None
        for start in range(len(parts)):
            candidate = self.root.joinpath(*parts[start:])
            try:
                if not candidate.is_file():
                    continue
                resolved = candidate.resolve()
            except (OSError, ValueError):  # ValueError: a NUL in the name
                continue
            if resolved.is_relative_to(self.root):
                return resolved
        return None

    def attachment(self, rel: str, kind: MessageKind) -> Attachment | None:
        """An Attachment for the media file `rel`, readable when it is found, else None."""
        path = self.find(rel)
        if path is None:
            return None
        try:
            size = path.stat().st_size
        except OSError:
            return None
        if path.suffix.lower() == ".dat":
            found = dat_xor_key(_head(path))
            if found is None:  # WeChat 4 encrypted image, or not an image at all
                return Attachment(path.name, kind, None, size)
            key, ext, mime = found
            return Attachment(f"{path.stem}.{ext}", kind, mime, size, xor_opener(path, key))
        guessed = mimetypes.guess_type(path.name)[0]
        return Attachment(path.name, kind, guessed, size, file_opener(path))
