"""Where a WhatsApp chat text comes from: a .txt, a .zip (with or without media) or a folder.

Finds the chat texts (`_chat.txt` from iOS, "WhatsApp Chat with X.txt" from Android, localized
names), the chat's title from the file name, the media files beside the text, and reads the text as
lines: streaming, with a bounded line length, UTF-8 (BOM tolerated) or UTF-16 (with or without a
BOM, for files re-saved by other tools). Nothing is extracted to disk; zip members are read in memory.
"""

from __future__ import annotations

import codecs
import io
import re
import zipfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, NamedTuple

from importers.base import SNIFF_BYTES, file_opener, safe_member_name, sniff_encoding, zip_opener
from importers.whatsapp.phrases import clean_name
from vault.errors import ExportError

# Longest line read as one piece. A WhatsApp message holds at most 65,536 characters, so a longer
# line is damage (or not a chat at all); its rest is skipped and reported.
MAX_LINE_BYTES = 1 << 20
# How much text one message may gather over its lines before the rest is skipped and reported.
MAX_MESSAGE_CHARS = 4 << 20
# Errors that reading a damaged zip member can raise.
ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError)

_CHAT_NAME_RE = re.compile(r"(?i)(?:^_chat\.txt$|whatsapp.*\.txt$|واتساب.*\.txt$)")
# "WhatsApp Chat - X" (iOS), "WhatsApp Chat with X", "Chat WhatsApp s uživatelem X" (Czech), "Чат
# WhatsApp с контактом X" (Russian), "Chat de WhatsApp con X", "Discussion WhatsApp avec X", ...
_TITLE_DASH_RE = re.compile(r"WhatsApp[\s-]*(?:Chat|chat)?\s+-\s+(?P<t>.+)")
_TITLE_WITH_RE = re.compile(
    r"WhatsApp\S*(?:\s+\S+)?\s+(?:with|mit|met|con|com|avec|med|z|ze|cu|με|dengan|với|กับ"
    r"|s\s+uživatelem|s\s+používateľom|с\s+контактом|с\s+группой|с|з)\s+(?P<t>.+)",
    re.IGNORECASE,
)
_TITLE_BEFORE_RE = re.compile(r"(?P<t>.+?)\s+ile\s+WhatsApp\s+Sohbeti", re.IGNORECASE)  # Turkish
_COPY_SUFFIX_RE = re.compile(r"\s*\(\d+\)$")  # "… (1).txt" from a repeated download


def title_from_name(stem: str) -> str:
    """The chat's name in an export's file name ("WhatsApp Chat with Dmitry S" → "Dmitry S").

    A name that follows none of WhatsApp's patterns is the title as it is. A " (1)" that a second
    download adds is dropped, so that both copies name the same chat.
    """
    stem = _COPY_SUFFIX_RE.sub("", stem.strip())
    for regex in (_TITLE_DASH_RE, _TITLE_WITH_RE, _TITLE_BEFORE_RE):
        m = regex.search(stem)
        if m is not None and m["t"].strip():
            return clean_name(m["t"])
    return clean_name(stem) or stem


def is_chat_name(name: str) -> bool:
    """Whether a file name is one WhatsApp gives a chat text."""
    return _CHAT_NAME_RE.search(name) is not None


Opener = Callable[[], IO[bytes]]


@dataclass
class ChatText:
    """One chat text to parse: how to open it, what to call it, and where its media files are."""

    label: str  # the path shown in problems
    title: str
    open: Opener
    media: Callable[[str], tuple[Opener, int | None] | None]  # file name → (opener, size) if present
    named: bool = True  # the file has a name WhatsApp gives chat texts


def folder_media(folder: Path) -> Callable[[str], tuple[Opener, int | None] | None]:
    """Media beside a .txt: plain file names in the same folder, never a path that leads elsewhere."""
    root = folder.resolve()

    def find(name: str) -> tuple[Opener, int | None] | None:
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            return None
        candidate = folder / name
        try:
            resolved = candidate.resolve()
            if resolved.parent != root or not resolved.is_file():
                return None
            return file_opener(resolved), resolved.stat().st_size
        except (OSError, RuntimeError):
            return None

    return find


def zip_media(
    zf: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], folder: str
) -> Callable[[str], tuple[Opener, int | None] | None]:
    """Media inside a zip, in the same folder of the archive as the chat text."""
    prefix = f"{folder}/" if folder else ""

    def find(name: str) -> tuple[Opener, int | None] | None:
        if not name or "/" in name or "\\" in name:
            return None
        info = members.get(prefix + name)
        if info is None:
            return None
        return zip_opener(zf, info), info.file_size

    return find


def zip_chats(path: Path, zf: zipfile.ZipFile) -> tuple[list[ChatText], int]:
    """The chat texts of an export zip, and how many members were skipped for unsafe names."""
    members: dict[str, zipfile.ZipInfo] = {}
    unsafe = 0
    for info in zf.infolist():
        if info.is_dir():
            continue
        safe = safe_member_name(info.filename)
        if safe is None:
            unsafe += 1
            continue
        members[safe] = info
    names = [n for n in members if is_chat_name(PurePosixPath(n).name)]
    if not names:  # a zip someone made of a chat text with another name
        names = [n for n in members if n.casefold().endswith(".txt") and "/" not in n]
        if len(names) != 1:
            names = []
    chats = []
    for name in sorted(names):
        member = PurePosixPath(name)
        folder = str(member.parent) if str(member.parent) != "." else ""
        if member.name == "_chat.txt" or not is_chat_name(member.name):
            title = title_from_name(PurePosixPath(folder).name if folder else Path(path).stem)
        else:
            title = title_from_name(member.stem)
        info = members[name]
        chats.append(
            ChatText(
                label=f"{path}:{name}",
                title=title,
                open=zip_opener(zf, info),
                media=zip_media(zf, members, folder),
                named=is_chat_name(member.name),
            )
        )
    return chats, unsafe


def file_chat(path: Path) -> ChatText:
    """A chat .txt on disk; `_chat.txt` takes its title from its folder (an unpacked iOS zip)."""
    stem = path.parent.name if path.name == "_chat.txt" else path.stem
    return ChatText(
        label=str(path),
        title=title_from_name(stem),
        open=file_opener(path),
        media=folder_media(path.parent),
        named=is_chat_name(path.name),
    )


def folder_chats(folder: Path) -> list[ChatText]:
    """The chat texts directly inside a folder."""
    try:
        entries = sorted(p for p in folder.iterdir() if p.is_file() and is_chat_name(p.name))
    except OSError:
        return []
    return [file_chat(p) for p in entries]


class Line(NamedTuple):
    number: int
    text: str
    issue: str | None  # what was wrong with the line's bytes (said without its content)


def read_lines(open_: Opener, label: str) -> Iterator[Line]:
    """The lines of a chat text (without line ends), streaming, each at most MAX_LINE_BYTES long."""
    for first, texts, issues in read_blocks(open_, label):
        for i, text in enumerate(texts):
            yield Line(first + i, text, issues.get(i) if issues else None)


#: Lines of a chat text by the block: (number of the first line, the lines' texts, what was wrong
#: with some of them by index in the block, or None when nothing was).
Block = tuple[int, list[str], dict[int, str] | None]
_BLOCK_BYTES = 32 * 1024  # read at a time, then completed to the end of its last line (memory: a few times this)


def read_blocks(open_: Opener, label: str) -> Iterator[Block]:
    """read_lines() by the block: the same lines, made with one read, one decode and one split per
    32 KiB instead of per line (the parser's loops run over the lists)."""
    try:
        with open_() as raw:
            head = raw.read(SNIFF_BYTES)
    except ZIP_READ_ERRORS as exc:
        raise ExportError(_UNREADABLE, path=label) from exc
    encoding = sniff_encoding(head)
    try:
        with open_() as raw:
            if encoding == "utf-8":
                yield from _utf8_blocks(raw)
            else:
                yield from _wide_blocks(raw, encoding)
    except ZIP_READ_ERRORS as exc:
        raise ExportError(_UNREADABLE, path=label) from exc


_UNREADABLE = "the chat text could not be read (damaged zip or file?); export the chat again"
_LONG_LINE = f"line longer than {MAX_LINE_BYTES // (1 << 20)} MiB; the rest of it was left out"
_NOT_UTF8 = "bytes that are not UTF-8 text were replaced (was the file re-saved?)"


def _utf8_blocks(raw: IO[bytes]) -> Iterator[Block]:
    """The lines of `raw` exactly as reading it line by line with readline(MAX_LINE_BYTES) gives them.

    A block is read, then its last line completed with one readline(MAX_LINE_BYTES): every other
    line is shorter than the block, so only that one can be too long; it is cut where the
    line-by-line reader cuts it, and the rest of it skipped. A block decodes as a whole exactly when
    each of its lines does (a newline is never inside a UTF-8 sequence); when one does not, its lines
    are decoded one by one."""
    number = 1
    first = True
    while True:
        data = raw.read(_BLOCK_BYTES)
        if not data:
            return
        issues: dict[int, str] | None = None
        long_line = False
        if not data.endswith(b"\n"):
            start = data.rfind(b"\n") + 1
            tail = data[start:] + raw.readline(MAX_LINE_BYTES)
            if len(tail) >= MAX_LINE_BYTES and not tail[:MAX_LINE_BYTES].endswith(b"\n"):
                if not tail.endswith(b"\n"):
                    _skip_rest_of_line(raw)  # the line goes on past what was read
                tail = tail[:MAX_LINE_BYTES]
                long_line = True
            data = data[:start] + tail
        if first:
            first = False
            if data.startswith(codecs.BOM_UTF8):
                data = data[len(codecs.BOM_UTF8) :]
        if data.endswith(b"\n"):
            data = data[:-1]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            texts, issues = _decode_lines(data.split(b"\n"))
            texts = [t.rstrip("\r") for t in texts]
        else:
            texts = text.split("\n")
            if "\r" in text:
                texts = [t.rstrip("\r") for t in texts]
        if long_line:
            issues = issues or {}
            issues[len(texts) - 1] = _LONG_LINE
        yield number, texts, issues
        number += len(texts)


def _decode_lines(chunks: list[bytes]) -> tuple[list[str], dict[int, str] | None]:
    """Lines decoded one by one, bytes that are not UTF-8 replaced, and the lines that had them."""
    texts: list[str] = []
    issues: dict[int, str] = {}
    for i, chunk in enumerate(chunks):
        try:
            texts.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            texts.append(chunk.decode("utf-8", errors="replace"))
            issues[i] = _NOT_UTF8
    return texts, issues or None


def _skip_rest_of_line(raw: IO[bytes]) -> None:
    while True:
        more = raw.readline(MAX_LINE_BYTES)
        if not more or more.endswith(b"\n"):
            return


def _wide_lines(raw: IO[bytes], encoding: str) -> Iterator[Line]:
    reader = io.TextIOWrapper(raw, encoding=encoding, errors="replace", newline="\n")
    number = 0
    limit = MAX_LINE_BYTES // 2
    while True:
        text = reader.readline(limit)
        if not text:
            return
        number += 1
        issue = None
        if not text.endswith("\n") and len(text) >= limit:
            while True:
                more = reader.readline(limit)
                if not more or more.endswith("\n"):
                    break
            issue = f"line longer than {MAX_LINE_BYTES // (1 << 20)} MiB; the rest of it was left out"
        if number == 1 and text.startswith("\ufeff"):
            text = text[1:]
        text = text.rstrip("\n").rstrip("\r")
        if "\ufffd" in text and issue is None:
            issue = f"bytes that are not {encoding.upper()} text were replaced"
        yield Line(number, text, issue)


def _wide_blocks(raw: IO[bytes], encoding: str) -> Iterator[Block]:
    """_wide_lines() in blocks of lines."""
    texts: list[str] = []
    issues: dict[int, str] = {}
    number = 1
    for line in _wide_lines(raw, encoding):
        if line.issue is not None:
            issues[len(texts)] = line.issue
        texts.append(line.text)
        if len(texts) >= 4096:
            yield number, texts, issues or None
            number += len(texts)
            texts, issues = [], {}
    if texts:
        yield number, texts, issues or None
