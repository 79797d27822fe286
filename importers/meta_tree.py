"""Reading an export as a tree of files (a folder or a zip) and streaming JSON out of it.

Meta's "Download your information" archives, DiscordChatExporter output folders and Discord's
data package all arrive either as a zip or as the folder a person unpacked it into. `ExportTree`
gives both the same face: relative posix names, `open()`, and an opener for attachments. Names
that would escape the tree (`../x`, absolute paths, symlinks pointing outside) are refused.

The JSON helpers stream with ijson (numbers come back as `int`/`Decimal`, never `float`, so ids
above 2^53 stay exact) and skip a UTF-8 byte-order mark, which ijson rejects.

Used by importers/meta.py and the Discord importers (importers/discord*.py).
"""

from __future__ import annotations

import codecs
import mimetypes
import os
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

import ijson

from importers.base import file_opener, safe_member_name, zip_members, zip_opener
from vault.records import AUDIO, FILE, GIF, IMAGE, VIDEO

# Errors that reading a file or a zip member can raise besides OSError: damaged zip data
# (BadZipFile for a CRC mismatch, zlib.error for a broken deflate stream), encrypted members
# (RuntimeError) and decoding problems.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    RuntimeError,
    ValueError,  # UnicodeDecodeError among them
    zlib.error,
)

# What ijson raises on bad JSON (IncompleteJSONError subclasses JSONError). Its messages quote
# the file's bytes, so callers must never show them.
JSON_ERRORS: tuple[type[BaseException], ...] = (ijson.JSONError, *READ_ERRORS)

_MIME = mimetypes.MimeTypes()  # built-in table only: the same answer on every machine

_KIND_BY_SUFFIX = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff"), IMAGE),
    **dict.fromkeys((".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp"), VIDEO),
    **dict.fromkeys((".mp3", ".m4a", ".aac", ".wav", ".ogg", ".oga", ".opus", ".flac", ".amr"), AUDIO),
    ".gif": GIF,
}


def kind_for_name(name: str) -> str:
    """The attachment kind a file name suggests (IMAGE, VIDEO, AUDIO, GIF or FILE)."""
    return _KIND_BY_SUFFIX.get(PurePosixPath(name.lower()).suffix, FILE)


def mime_for_name(name: str) -> str | None:
    return _MIME.guess_type(name, strict=False)[0]


class ExportTree:
    """Files of an export, addressed by relative posix names."""

    def __init__(self, label: str) -> None:
        self.label = label  # the path as the person gave it, for reports

    def names(self, under: str = "") -> Iterator[str]:
        """The names of the files (under a folder of the tree), sorted: records come out in the
        same order on every run."""
        raise NotImplementedError

    def exists(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str) -> IO[bytes]:
        raise NotImplementedError

    def opener(self, name: str) -> Callable[[], IO[bytes]] | None:
        """A callable that opens the file, or None when it is not in the tree."""
        raise NotImplementedError

    def size(self, name: str) -> int | None:
        raise NotImplementedError

    def where(self, name: str) -> str:
        """How to name a file of the tree in a Problem or an error."""
        raise NotImplementedError


class FolderTree(ExportTree):
    """A folder on disk. Every name is resolved and must stay inside the folder."""

    def __init__(self, root: Path) -> None:
        super().__init__(str(root))
        self.root = root
        self._resolved_root = root.resolve()

    def _path(self, name: str) -> Path | None:
        safe = safe_member_name(name)
        if safe is None:
            return None
        candidate = (self.root / safe).resolve()
        if not candidate.is_relative_to(self._resolved_root) or not candidate.is_file():
            return None
        return candidate

    def names(self, under: str = "") -> Iterator[str]:
        start = self.root / under if under else self.root
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.root).as_posix()
            prefix = "" if rel == "." else rel + "/"
            for filename in sorted(filenames):
                yield prefix + filename

    def exists(self, name: str) -> bool:
        return self._path(name) is not None

    def open(self, name: str) -> IO[bytes]:
        path = self._path(name)
        if path is None:
            raise FileNotFoundError(name)
        return open(path, "rb")

    def opener(self, name: str) -> Callable[[], IO[bytes]] | None:
        path = self._path(name)
        return None if path is None else file_opener(path)

    def size(self, name: str) -> int | None:
        path = self._path(name)
        try:
            return None if path is None else path.stat().st_size
        except OSError:
            return None

    def where(self, name: str) -> str:
        return str(self.root / name)


class ZipTree(ExportTree):
    """A zip read in memory, member by member. Members with unsafe names are left out."""

    def __init__(self, zf: zipfile.ZipFile, path: Path) -> None:
        super().__init__(str(path))
        self.zf = zf
        self.members = zip_members(zf)
        files = [info for info in zf.infolist() if not info.is_dir()]
        #: How many members were left out because their names escape the archive.
        self.unsafe = sum(1 for info in files if safe_member_name(info.filename) is None)

    def names(self, under: str = "") -> Iterator[str]:
        return iter(sorted(n for n in self.members if n.startswith(under)))

    def exists(self, name: str) -> bool:
        return name in self.members

    def open(self, name: str) -> IO[bytes]:
        return self.zf.open(self.members[name])

    def opener(self, name: str) -> Callable[[], IO[bytes]] | None:
        info = self.members.get(name)
        return None if info is None else zip_opener(self.zf, info)

    def size(self, name: str) -> int | None:
        info = self.members.get(name)
        return None if info is None else info.file_size

    def where(self, name: str) -> str:
        return f"{self.label}:{name}"


class _Prefixed:
    """A byte stream that first returns `head`, then the rest of `rest` (an 'unread' of a peek)."""

    def __init__(self, head: bytes, rest: IO[bytes]) -> None:
        self._head = head
        self._rest = rest

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._rest.read(size)
        if size is None or size < 0:
            out, self._head = self._head + self._rest.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        if len(out) < size:
            out += self._rest.read(size - len(out))
        return out


def without_bom(fh: IO[bytes]) -> _Prefixed:
    """The stream with a leading UTF-8 byte-order mark removed (ijson refuses one)."""
    head = fh.read(len(codecs.BOM_UTF8))
    if head == codecs.BOM_UTF8:
        head = b""
    return _Prefixed(head, fh)


def json_events(fh: IO[bytes]) -> Iterator[tuple[str, str, Any]]:
    """ijson's (prefix, event, value) stream of a JSON document, BOM skipped."""
    return ijson.parse(without_bom(fh))


def json_items(fh: IO[bytes], prefix: str) -> Iterator[Any]:
    """The values at `prefix` (e.g. "item" for a top-level array), built one at a time."""
    return ijson.items(without_bom(fh), prefix)


_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")


def stream_object(fh: IO[bytes], array_key: str) -> Iterator[tuple[str, Any]]:
    """Walk a top-level JSON object: `(key, value)` for each key, except that the items of the
    array under `array_key` come one by one as `(array_key, item)`.

    Only one item (or one other top-level value) is held at a time, so a channel of millions of
    messages streams in bounded memory. Raises ValueError when the document is not an object.
    """
    item_prefix = array_key + ".item"
    builder: ijson.ObjectBuilder | None = None
    target = ""
    depth = 0
    for prefix, event, value in json_events(fh):
        if builder is not None:
            builder.event(event, value)
            if event in _STARTS:
                depth += 1
            elif event in _ENDS:
                depth -= 1
            if depth == 0:
                yield target, builder.value
                builder = None
            continue
        if prefix == "":
            if event in ("start_map", "map_key", "end_map"):
                continue
            raise ValueError("the JSON document is not an object")
        if prefix == array_key:
            if event in ("start_array", "end_array"):
                continue
            raise ValueError(f"{array_key!r} is not an array")
        target = array_key if prefix == item_prefix else prefix
        builder = ijson.ObjectBuilder()
        builder.event(event, value)
        depth = 1 if event in _STARTS else 0
        if depth == 0:
            yield target, builder.value
            builder = None
