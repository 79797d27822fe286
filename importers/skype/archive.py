"""Where a Skype export's `messages.json` and `media/` files are: in the .tar, in its folder, or alone.

Skype's export page (go.skype.com/export) delivered `<account>_export.tar` holding `messages.json`
and, when files were asked for, `media/<document id>.1.<ext>` (the content), sometimes
`<document id>.2.<ext>` (a preview), and `media/<document id>.json` (metadata: `filename`,
`contents` {"1": {"type": MIME}}) — the naming suurjaak/Skyperious live.py reads. The document id
is the URIObject's `doc_id`, the last path segment of its `uri` (`…/v1/objects/0-weu-d3-…`) and
the message's `amsreferences` entry.

Nothing is extracted to disk: `messages.json` is streamed straight out of the tar, and a media
file's opener streams its member while the parser waits.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from importers.base import file_opener, read_head, safe_member_name
from vault.errors import ExportError

MESSAGES_JSON = "messages.json"
MEDIA_DIR = "media"
# A media member: "<doc id>.<n>.<ext>" (n = 1 the file itself, 2 a preview) or "<doc id>.json".
MEDIA_NAME = re.compile(r"^(?P<doc>[A-Za-z0-9_-]{8,})(?:\.(?P<n>\d+))?(?P<ext>\.[^./]+)?$")
# Metadata files are a few hundred bytes; refuse to read a big one into memory.
MAX_META_BYTES = 64 * 1024
# detect() looks at no more than this many tar members for messages.json.
DETECT_MEMBERS = 64
# The ustar magic at offset 257 of a tar header block.
TAR_MAGIC_OFFSET = 257


def is_tar(path: Path) -> bool:
    """A plain (uncompressed) tar, by its header: Skype's export was never compressed."""
    head = read_head(path, 512)
    return len(head) == 512 and head[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar"


def tar_messages_head(path: Path, size: int) -> bytes:
    """The first bytes of messages.json inside a tar, b"" when there is none among the first members."""
    try:
        with tarfile.open(path, "r:") as tf:
            for _, member in zip(range(DETECT_MEMBERS), tf):
                if member.isfile() and _norm(member.name) == MESSAGES_JSON:
                    fh = tf.extractfile(member)
                    return fh.read(size) if fh is not None else b""
    except (tarfile.TarError, OSError, EOFError):
        return b""
    return b""


def _norm(name: str) -> str | None:
    safe = safe_member_name(name)
    return safe[2:] if safe is not None and safe.startswith("./") else safe


class Media:
    """The export's media files by document id: an opener, a name and a MIME type for each."""

    def __init__(self) -> None:
        self.content: dict[str, Callable[[], IO[bytes]]] = {}  # doc id → opener of ".1." file
        self.sizes: dict[str, int] = {}
        self.names: dict[str, str] = {}  # doc id → file name in the export
        self.meta: dict[str, Callable[[], IO[bytes]]] = {}  # doc id → opener of its .json
        self._meta_cache: dict[str, tuple[str | None, str | None]] = {}

    def add(self, filename: str, opener: Callable[[], IO[bytes]], size: int) -> None:
        m = MEDIA_NAME.match(filename)
        if m is None:
            return
        doc, n, ext = m.group("doc"), m.group("n"), m.group("ext")
        if n is None and ext == ".json":
            self.meta[doc] = opener
        elif n == "1" or (n is None and doc not in self.content):
            self.content[doc] = opener
            self.sizes[doc] = size
            self.names[doc] = filename

    def described(self, doc: str) -> tuple[str | None, str | None]:
        """(original file name, MIME type) from the document's metadata file, when it has one."""
        if doc in self._meta_cache:
            return self._meta_cache[doc]
        name = mime = None
        opener = self.meta.get(doc)
        if opener is not None:
            try:
                with opener() as fh:
                    raw = fh.read(MAX_META_BYTES + 1)
                data = json.loads(raw) if len(raw) <= MAX_META_BYTES else None
            except (OSError, ValueError, tarfile.TarError):
                data = None
            if isinstance(data, dict):
                name = data.get("filename") if isinstance(data.get("filename"), str) else None
                contents = data.get("contents")
                first = contents.get("1") if isinstance(contents, dict) else None
                if isinstance(first, dict) and isinstance(first.get("type"), str):
                    mime = first["type"]
        self._meta_cache[doc] = (name, mime)
        return name, mime


class _TarMember:
    """Opens one member of the open tar (valid while the parser holds the tar open)."""

    __slots__ = ("info", "tf")

    def __init__(self, tf: tarfile.TarFile, info: tarfile.TarInfo) -> None:
        self.tf, self.info = tf, info

    def __call__(self) -> IO[bytes]:
        fh = self.tf.extractfile(self.info)
        if fh is None:
            raise OSError("not a regular file in the archive")
        return fh


Opener = Callable[[], IO[bytes]]


@contextmanager
def open_export(path: Path) -> Iterator[tuple[Opener, Media, str]]:
    """(opener of messages.json streams, media index, label of messages.json for reports).

    The opener may be called more than once: the parser reads messages.json in two passes.
    """
    if path.is_dir():
        yield from _folder(path, path / MESSAGES_JSON)
    elif is_tar(path):
        yield from _tar(path)
    else:
        yield from _folder(path.parent, path)


def _folder(root: Path, messages: Path) -> Iterator[tuple[Opener, Media, str]]:
    media = Media()
    media_dir = root / MEDIA_DIR
    try:
        resolved_root = media_dir.resolve()
        if media_dir.is_dir():
            for entry in sorted(media_dir.iterdir()):
                target = entry.resolve()
                if target.parent == resolved_root and target.is_file():
                    media.add(entry.name, file_opener(target), target.stat().st_size)
    except OSError:
        pass  # media unreadable: messages still import, their files without bytes
    try:
        with open(messages, "rb"):
            pass
    except OSError as exc:
        raise ExportError(
            f"cannot be opened ({exc.strerror}); give the Skype export's .tar, its folder or messages.json",
            path=str(messages),
        ) from None
    yield file_opener(messages), media, str(messages)


def _tar(path: Path) -> Iterator[tuple[Opener, Media, str]]:
    label = f"{path}:{MESSAGES_JSON}"
    try:
        tf = tarfile.open(path, "r:")  # noqa: SIM115 (closed by the with below)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ExportError(
            "is not a readable tar archive (truncated?); download the export again", path=str(path)
        ) from exc
    with tf:
        media = Media()
        messages: tarfile.TarInfo | None = None
        try:
            for info in tf:  # reads headers only: members' data is skipped by seeking
                name = _norm(info.name)
                if name is None or not info.isfile():
                    continue
                if name == MESSAGES_JSON:
                    messages = info
                else:
                    p = PurePosixPath(name)
                    if len(p.parts) == 2 and p.parts[0] == MEDIA_DIR:
                        media.add(p.name, _TarMember(tf, info), info.size)
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise ExportError("is a damaged tar archive; download the export again", path=str(path)) from exc
        if messages is None:
            raise ExportError("holds no messages.json; this is not a Skype export archive", path=str(path))
        yield _TarMember(tf, messages), media, label
