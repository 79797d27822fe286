"""Reading an export as a tree of files (a folder or a zip) and streaming JSON out of it.

Meta's "Download your information" archives, DiscordChatExporter output folders and Discord's
data package all arrive either as a zip or as the folder a person unpacked it into. `ExportTree`
gives both the same face: relative posix names, `open()`, and an opener for attachments. Names
that would escape the tree (`../x`, absolute paths, symlinks pointing outside) are refused.

The JSON helpers stream with ijson (numbers come back as `int`/`Decimal`, never `float`, so ids
above 2^53 stay exact) and skip a UTF-8 byte-order mark, which ijson rejects.

Shared by the Meta (importers/meta*.py) and Discord (importers/discord*.py) importers.
"""

from __future__ import annotations

import codecs
import csv
import mimetypes
import os
import zipfile
import zlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any

import ijson

from importers.base import file_opener, guard_json, open_zip, safe_member_name, zip_members, zip_opener
from vault.records import AUDIO, FILE, GIF, IMAGE, VIDEO, MessageKind, Problem, Record

# Errors that reading a file or a zip member can raise besides OSError: damaged zip data
# (BadZipFile for a CRC mismatch, zlib.error for a broken deflate stream), encrypted members
# (RuntimeError) and decoding problems.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    RuntimeError,
    ValueError,  # UnicodeDecodeError and json.JSONDecodeError among them
    zlib.error,
)

# What csv raises on top of the read errors (a NUL byte, a field over the size limit).
CSV_ERRORS: tuple[type[BaseException], ...] = (*READ_ERRORS, csv.Error)

# What ijson raises on bad JSON (IncompleteJSONError subclasses JSONError). Its messages quote
# the file's bytes, so callers must never show them.
JSON_ERRORS: tuple[type[BaseException], ...] = (ijson.JSONError, *READ_ERRORS)

_MIME = mimetypes.MimeTypes()  # built-in table only: the same answer on every machine

# File name suffixes and the attachment kind they mean.
_KIND_BY_SUFFIX: dict[str, MessageKind] = {
    **dict.fromkeys((".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif", ".bmp", ".tif", ".tiff"), IMAGE),
    **dict.fromkeys((".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi", ".3gp"), VIDEO),
    **dict.fromkeys((".mp3", ".m4a", ".aac", ".wav", ".ogg", ".oga", ".opus", ".flac", ".amr"), AUDIO),
    ".gif": GIF,
}


def kind_for_name(name: str) -> MessageKind:
    """The attachment kind a file name suggests (IMAGE, VIDEO, AUDIO, GIF or FILE)."""
    return _KIND_BY_SUFFIX.get(PurePosixPath(name.lower()).suffix, FILE)


def mime_for_name(name: str) -> str | None:
    return _MIME.guess_type(name, strict=False)[0]


class ExportTree(ABC):
    """Files of an export, addressed by relative posix names."""

    def __init__(self, label: str) -> None:
        self.label = label  # the path as the person gave it, for reports

    @abstractmethod
    def names(self, under: str = "") -> Iterator[str]:
        """The names of the files (under a folder of the tree), sorted: records come out in the
        same order on every run."""
        ...

    @abstractmethod
    def exists(self, name: str) -> bool: ...

    @abstractmethod
    def open(self, name: str) -> IO[bytes]: ...

    @abstractmethod
    def opener(self, name: str) -> Callable[[], IO[bytes]] | None:
        """A callable that opens the file, or None when it is not in the tree."""
        ...

    @abstractmethod
    def size(self, name: str) -> int | None: ...

    @abstractmethod
    def where(self, name: str) -> str:
        """How to name a file of the tree in a Problem or an error."""
        ...


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
        try:
            candidate = (self.root / safe).resolve()
            inside = candidate.is_relative_to(self._resolved_root) and candidate.is_file()
        except (OSError, RuntimeError):  # unreadable, or a symlink loop
            return None
        return candidate if inside else None

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


def json_events(fh: IO[bytes], where: str | None = None) -> Iterator[tuple[str, str, Any]]:
    """ijson's (prefix, event, value) stream of a JSON document, BOM skipped, nesting and string
    length bounded (importers.base.JsonGuard: ExportError naming `where`)."""
    return ijson.parse(guard_json(without_bom(fh), where))


def json_items(fh: IO[bytes], prefix: str, where: str | None = None) -> Iterator[Any]:
    """The values at `prefix` (e.g. "item" for a top-level array), built one at a time, bounded
    like json_events."""
    return ijson.items(guard_json(without_bom(fh), where), prefix)


_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")


class WrongShape(ValueError):
    """Valid JSON so far, but not shaped as the caller expects (e.g. an array, not an object)."""


def object_head(fh: IO[bytes], stop_key: str) -> dict[str, Any]:
    """The top-level keys of a JSON object that come before `stop_key`, with their values.

    Reading stops at `stop_key`, so a header written before a huge array (DiscordChatExporter's
    guild and channel before its messages) costs only the header; the array is then streamed
    with `json_items(..., stop_key + ".item")` from a fresh stream. Raises WrongShape when the
    document is not an object or the value of `stop_key` not an array.
    """
    head: dict[str, Any] = {}
    builder: ijson.ObjectBuilder | None = None
    key = ""
    depth = 0
    events = json_events(fh)
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            depth += 1 if event in _STARTS else -1 if event in _ENDS else 0
            if depth == 0:
                head[key] = builder.value
                builder = None
        elif prefix == "" and event == "map_key":
            if value == stop_key:
                if next(events, ("", "", None))[1] != "start_array":
                    raise WrongShape(f"{stop_key!r} is not an array")
                break
            key = value
        elif prefix == "" and event in ("start_map", "end_map"):
            continue
        elif prefix == "":
            raise WrongShape("the JSON document is not an object")
        else:  # the value of `key` begins
            builder = ijson.ObjectBuilder()
            builder.event(event, value)
            depth = 1 if event in _STARTS else 0
            if depth == 0:
                head[key] = builder.value
                builder = None
    return head


def str_at(obj: Any, key: str) -> str | None:
    """obj[key] when obj is a JSON object and the value a string, else None."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, str) else None


def dict_at(obj: Any, key: str) -> dict[str, Any]:
    """obj[key] when obj is a JSON object and the value an object, else {}."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, dict) else {}


def list_at(obj: Any, key: str) -> list[Any]:
    """obj[key] when obj is a JSON object and the value a list, else []."""
    value = obj.get(key) if isinstance(obj, dict) else None
    return value if isinstance(value, list) else []


def int_at(obj: Any, key: str) -> int | None:
    """obj[key] when it is an integral JSON number (never a bool), else None."""
    value = obj.get(key) if isinstance(obj, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        return None
    return int(value) if value == int(value) else None


def in_zip_tree(path: Path, body: Callable[[ZipTree], Iterator[Record]]) -> Iterator[Record]:
    """Open a zipped export as a tree, report the members left out for unsafe names, parse with `body`."""
    with open_zip(path) as zf:
        tree = ZipTree(zf, path)
        problem = unsafe_members_problem(tree)
        if problem is not None:
            yield problem
        yield from body(tree)


def unsafe_members_problem(tree: ZipTree) -> Problem | None:
    """A Problem counting the zip members left out because their names escape the archive."""
    if not tree.unsafe:
        return None
    return Problem(
        tree.label,
        None,
        f"{tree.unsafe} archive entries with unsafe names (../ or absolute) ignored",
    )
