"""What every importer shares: the Format descriptor, parse options and safe readers for files and zips.

An importer module defines one or more `Format`s. `detect(path)` must be cheap (read a header, a
file name, a few JSON keys) and certain (no false positives on other apps' exports). `parse(path,
options)` is a generator of records (vault/records.py); it reports a bad record as a `Problem` and
goes on, and raises `ExportError` only when the file as a whole cannot be read. Parsers never import
the vault's storage or crypto, never extract archives to disk and never write files.
"""

from __future__ import annotations

import codecs
import json
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from vault.errors import ExportError
from vault.records import Record

# How much of a file detect() may look at.
SNIFF_BYTES = 64 * 1024
# The longest line a text export may have (one message can be long; a binary file is longer).
MAX_LINE = 64 * 1024 * 1024


@dataclass(frozen=True)
class ParseOptions:
    """Per-import settings a parser may need.

    `date_order` is "dmy", "mdy" or "ymd" for exports whose dates are ambiguous; `keys` holds
    secrets the person supplied for encrypted sources (e.g. {"signal": hex, "wechat": hex}).
    """

    date_order: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict, repr=False)
    params: Mapping[str, str] = field(default_factory=dict)


Parser = Callable[[Path, ParseOptions], Iterator[Record]]


@dataclass(frozen=True)
class Format:
    name: str  # what --format takes, e.g. "telegram-json"
    source: str  # the app, e.g. "telegram"
    description: str  # what it reads
    detection: str  # how it is recognised
    detect: Callable[[Path], bool] = field(repr=False)
    parse: Parser = field(repr=False)
    #: Whether the export has wall-clock times without a zone (then --tz applies).
    naive_times: bool = False
    #: Whether a big export of this format may be parsed in a second process (vault/operations/parse_ahead.py):
    #: its parser needs no key, and its records (attachment openers included) can be pickled.
    parse_ahead: bool = False


def read_head(path: Path, size: int = SNIFF_BYTES) -> bytes:
    """The first bytes of a regular file ('' for directories or unreadable files)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def head_text(path: Path, size: int = SNIFF_BYTES) -> str:
    """The first bytes of a file as text (BOM removed, undecodable bytes replaced)."""
    return decode_head(read_head(path, size))


def decode_head(raw: bytes) -> str:
    """Leading bytes (of a file or a zip member) as text: BOM removed, undecodable bytes replaced."""
    for bom, enc in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if raw.startswith(bom):
            return raw[len(bom) :].decode(enc, errors="replace")
    return raw.decode("utf-8", errors="replace")


def sniff_encoding(head: bytes, requested: str | None = None) -> str:
    """The text encoding of a chat file from its first bytes.

    A BOM decides; else the encoding the person asked for (`--param encoding=...`); else UTF-16
    when zero bytes fill a quarter of the sample (phones save some exports so, without a BOM);
    else UTF-8. An unknown requested encoding is an ExportError.
    """
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if requested:
        try:
            codecs.lookup(requested)
        except LookupError:
            raise ExportError(f"unknown encoding {requested!r} (given with --param encoding=...)") from None
        return requested
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) * 4 >= len(sample):
        return "utf-16-le" if sample[1::2].count(0) >= sample[0::2].count(0) else "utf-16-be"
    return "utf-8"


def open_export(path: Path) -> IO[bytes]:
    """The export file opened for reading, or ExportError naming it."""
    try:
        return open(path, "rb")
    except OSError as exc:
        raise ExportError("the file cannot be opened", path=str(path)) from exc


def is_zip(path: Path) -> bool:
    return path.is_file() and zipfile.is_zipfile(path)


def safe_member_name(name: str) -> str | None:
    """A zip member name made safe to show and match, or None if it escapes the archive (`../x`, `/x`)."""
    name = name.replace("\\", "/")
    p = PurePosixPath(name)
    if p.is_absolute() or any(part == ".." for part in p.parts) or (p.parts and ":" in p.parts[0]):
        return None
    return str(p)


def open_zip(path: Path) -> zipfile.ZipFile:
    """Open a zip for reading members in memory, or raise ExportError naming the file."""
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ExportError(
            "not a readable zip archive (truncated or damaged?); download or export it again",
            path=str(path),
        ) from exc


def zip_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """The archive's safe member names (directories and escaping names left out)."""
    out: dict[str, zipfile.ZipInfo] = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        safe = safe_member_name(info.filename)
        if safe is not None:
            out[safe] = info
    return out


class _ZipMember:
    """Opens one member of an open zip. Picklable (vault/operations/parse_ahead.py sends records between
    processes): the other side reopens the archive by its path, once per process."""

    __slots__ = ("name", "zf")

    def __init__(self, zf: zipfile.ZipFile, name: str) -> None:
        self.zf, self.name = zf, name

    def __call__(self) -> IO[bytes]:
        return self.zf.open(self.name)

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        if not self.zf.filename:
            raise TypeError("a zip opened from a stream cannot be reopened in another process")
        return (_reopened_member, (self.zf.filename, self.name))


_REOPENED: dict[str, zipfile.ZipFile] = {}  # archives reopened in this process, by path


def _reopened_member(path: str, name: str) -> _ZipMember:
    zf = _REOPENED.get(path)
    if zf is None:
        zf = _REOPENED[path] = zipfile.ZipFile(path)
    return _ZipMember(zf, name)


def close_reopened_zips() -> None:
    """Close the archives that records from another process made this one reopen."""
    while _REOPENED:
        _REOPENED.popitem()[1].close()


class _File:
    """Opens a file by its path; picklable, like _ZipMember."""

    __slots__ = ("path",)

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> IO[bytes]:
        return open(self.path, "rb")

    def __reduce__(self) -> tuple[Any, tuple[Path]]:
        return (_File, (self.path,))


def zip_opener(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Callable[[], IO[bytes]]:
    return _ZipMember(zf, info.filename)


def file_opener(path: Path) -> Callable[[], IO[bytes]]:
    return _File(path)


def text_lines(raw: IO[bytes], *, path: str, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    """(line number, line without its newline) from a byte stream, streaming, BOM removed.

    Lines end at LF; a CR before it is dropped. Only '\\n' separates lines (str.splitlines would
    also split on U+2028 and friends, which chat texts may contain). Undecodable bytes, or a line
    longer than MAX_LINE (no chat export has one; a binary file might), raise ExportError naming the
    line, so memory stays bounded whatever the file holds.
    """
    lineno = 0
    while True:
        data = raw.readline(MAX_LINE + 1)
        if not data:
            return
        lineno += 1
        if len(data) > MAX_LINE:
            raise ExportError(
                f"has a line longer than {MAX_LINE // 2**20} MiB; this is not a chat export (or it was damaged)",
                path=path,
                line=lineno,
            )
        try:
            line = data.decode(encoding)
        except UnicodeDecodeError:
            raise ExportError(
                f"is not valid {encoding} text here (is this the export file, saved without conversion?)",
                path=path,
                line=lineno,
            ) from None
        if lineno == 1 and line.startswith("\ufeff"):
            line = line[1:]
        if line.endswith("\n"):
            line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
        yield lineno, line


# -- JSON, bounded -----------------------------------------------------------------------------
#: How deeply a JSON export may nest arrays and objects. Real exports nest about ten levels
#: (Hangouts, the deepest, about a dozen); a deeper document is refused before it is parsed, because
#: parsers pay for depth: ijson builds a prefix per event (quadratic memory: a few MB of `[` need
#: gigabytes) and json.loads recurses (RecursionError).
MAX_JSON_DEPTH = 128
#: The longest string one JSON value may hold, in bytes (escape sequences not counted). No chat app comes near it
#: (Telegram caps a message at 4,096 characters, Slack at 40,000); a longer one would cost about
#: ten times its size in memory by the time it is indexed, so the file is refused instead.
MAX_JSON_STRING = 16 * 2**20

_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOT_MARKS = bytes(b for b in range(256) if b not in b'"[]{}')
_BRACKETS_AS_SQUARE = bytes.maketrans(b"{}", b"[]")  # only the depth counts; the parser checks the kinds
_GUARD_SLICE = 1 << 20  # how much of a bytes object the scanner looks at in one step


class JsonGuard:
    """A byte stream for a JSON parser (ijson or json.load) that refuses what parsers choke on.

    It passes the bytes through unchanged while following the document's structure (strings
    skipped, with their escapes): nesting deeper than MAX_JSON_DEPTH, or one string longer than
    MAX_JSON_STRING, raises ExportError naming the file before the parser sees those bytes. The
    work is a few bytes methods over each chunk (C speed, no per-byte Python); memory stays one chunk.
    """

    def __init__(
        self,
        raw: IO[bytes] | None,
        *,
        path: str | None,
        max_depth: int = MAX_JSON_DEPTH,
        max_string: int = MAX_JSON_STRING,
    ) -> None:
        self._raw = raw
        self.path = path
        self.max_depth = max_depth
        self.max_string = max_string
        self._depth = 0
        self._in_string = False
        self._escaped = False  # inside a string, the chunk ended on a backslash
        self._string_len = 0

    def read(self, size: int = -1) -> bytes:
        assert self._raw is not None
        data = self._raw.read(size)
        self.check(data)
        return data

    def readline(self, size: int = -1) -> bytes:  # json.load and friends may ask
        assert self._raw is not None
        data = self._raw.readline(size)
        self.check(data)
        return data

    def check(self, data: bytes) -> None:
        """Follow `data`, the document's next bytes; ExportError when it nests or runs too far."""
        view = memoryview(data)
        for start in range(0, len(data), _GUARD_SLICE):
            self._check(bytes(view[start : start + _GUARD_SLICE]))

    def _check(self, chunk: bytes) -> None:
        start = 0
        if self._escaped:  # the previous chunk ended on a backslash inside a string: skip what it escapes
            start, self._escaped = 1, False
            self._string_len += 1
        rest = chunk[start:] if start else chunk
        if b"\\" in rest:
            # Drop the escaped backslashes, then the escaped quotes: every quote left opens or closes a
            # string (backslash runs pair up from their left, as in JSON; none stand outside strings).
            if b"\\\\" in rest:
                rest = rest.replace(b"\\\\", b"")
            if b'\\"' in rest:
                rest = rest.replace(b'\\"', b"")
        quotes = rest.count(b'"')
        if self._in_string:  # the string that went on: its length so far, and whether it ends here
            head = rest.find(b'"')
            self._string_len += len(rest) if head < 0 else head
            if self._string_len > self.max_string:
                self._too_long()
        # Keep only the quotes and brackets, then drop adjacent quote pairs: an empty string goes, and
        # two strings with no bracket between them merge, which changes no depth. What is left is small.
        marks = rest.translate(None, _NOT_MARKS).replace(b'""', b"")
        parts = marks.split(b'"')
        first = 1 if self._in_string else 0  # the index of the first part outside any string
        ends_in_string = (quotes + first) % 2 == 1
        if ends_in_string:
            tail = rest.rfind(b'"')
            if tail >= 0:
                self._string_len = len(rest) - tail - 1
            self._escaped = _ends_in_escape(rest)
            if self._string_len > self.max_string:
                self._too_long()
        else:
            self._string_len = 0
        self._in_string = ends_in_string
        rest = b"".join(parts[first::2])
        brackets = rest.translate(_BRACKETS_AS_SQUARE, _NOT_BRACKETS)
        if not brackets:
            return
        # Remove matched pairs, innermost first: each pass peels one level (replace() sees only the pairs
        # adjacent before it), so the passes count the nesting of the pairs that open and close in this
        # chunk; what is left is closers, then openers.
        passes = 0
        while True:
            shorter = brackets.replace(b"[]", b"")
            if len(shorter) == len(brackets):
                break
            brackets = shorter
            passes += 1
            if self._depth + passes > self.max_depth:
                self._too_deep()
        closers = len(brackets) - len(brackets.lstrip(b"]"))
        openers = len(brackets) - closers
        if max(self._depth, self._depth - closers + openers) + passes > self.max_depth:
            self._too_deep()
        self._depth = max(0, self._depth - closers + openers)

    def _too_deep(self) -> None:
        raise ExportError(
            f"nests JSON more than {self.max_depth} levels deep; no chat export does, so this file was not "
            "imported (is it damaged, or another kind of file?)",
            path=self.path,
        )

    def _too_long(self) -> None:
        raise ExportError(
            f"holds one JSON value longer than {self.max_string // 2**20} MiB; no chat message is that long, "
            "so this file was not imported (is it damaged, or another kind of file?)",
            path=self.path,
        )


def _ends_in_escape(body: bytes) -> bool:
    """Whether string bytes end in an unpaired backslash (it escapes the next chunk's first byte)."""
    return (len(body) - len(body.rstrip(b"\\"))) % 2 == 1


def guard_json(raw: Any, path: str | None = None) -> JsonGuard:
    """The stream to hand a JSON parser (ijson.items/parse, json.load): see JsonGuard. Without a
    path, the import names the file when the error reaches it."""
    return JsonGuard(raw, path=path)


def loads_json(data: bytes | str, path: str | None = None, *, line: int | None = None, **kw: Any) -> Any:
    """json.loads, bounded like JsonGuard: too deep or too long is an ExportError naming the file
    (and the line), never a RecursionError. Keyword arguments go to json.loads."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    guard = JsonGuard(None, path=path)
    try:
        guard.check(raw)
        return json.loads(data, **kw)
    except ExportError as exc:
        if line is None:
            raise
        raise ExportError(exc.reason, path=path, line=line) from None
    except RecursionError:  # a safety net; the guard refuses such depth first
        raise ExportError("nests JSON too deeply to be read", path=path, line=line) from None
