"""Where an export writes: the one place that creates its files and folders.

Everything an export writes is plaintext that the person asked for, so it goes exactly where
`--out` says and nowhere else: files are created 0600 and folders 0700, never by following a
symlink, never over an existing file (`O_EXCL | O_NOFOLLOW`). If the export fails part-way (a full
disk, Ctrl-C), every file and folder it made is removed again, so no half-written plaintext is
left behind.
"""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from vault.errors import TalkvaultError, UsageError
from vault.operations.export.read import AttachmentRow, blob_size, copy_blob

if TYPE_CHECKING:
    from vault.store.handle import Store

FILE_MODE = 0o600
DIR_MODE = 0o700
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
# Characters that are unsafe in a file name on some system (Windows' reserved set, controls, slashes).
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')
NAME_BYTES = 120  # room for an id prefix within the usual 255-byte limit on a file name


class ExportWriteError(TalkvaultError):
    """A file of the export could not be written (disk full, permissions); nothing was kept."""


def check_destination(out: Path) -> bool:
    """Refuse an `--out` that would overwrite anything; True when it is an existing empty folder.

    An existing empty file is replaced; an existing empty folder is written into; anything else
    that exists (a non-empty file or folder, a symlink) is refused with exit 2.
    """
    if out.is_symlink():
        raise UsageError(f"{out} is a symbolic link; export never writes through one. Choose a new path")
    if out.is_dir():
        if any(out.iterdir()):
            raise UsageError(f"{out} already exists and is not empty; export never overwrites. Choose a new path")
        return True
    if out.exists():
        if not out.is_file() or out.stat().st_size > 0:
            raise UsageError(f"{out} already exists and is not empty; export never overwrites. Choose a new path")
        return False
    parent = out.parent
    if not parent.is_dir():
        raise UsageError(f"the folder {parent} does not exist; create it first, or choose another --out")
    return False


def safe_name(name: str, fallback: str = "file") -> str:
    """A file name for an attachment: no path, no unsafe characters, no leading dot, bounded length."""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip().lstrip(".").strip()
    if not name:
        return fallback
    stem, dot, ext = name.rpartition(".")
    if not dot or len(ext) > 16:
        stem, ext = name, ""
    ext_bytes = len(ext.encode("utf-8")) + (1 if ext else 0)
    budget = max(NAME_BYTES - ext_bytes, 8)
    stem_b = stem.encode("utf-8")
    if len(stem_b) > budget:
        stem = stem_b[:budget].decode("utf-8", "ignore") or fallback
    return f"{stem}.{ext}" if ext else stem


class Output:
    """The files and folders of one export, under `root` (a folder, or the one output file)."""

    def __init__(self, root: Path, *, directory: bool, existing_dir: bool = False) -> None:
        self.root = root
        self.directory = directory
        self._existing_dir = existing_dir
        self._files: list[Path] = []
        self._dirs: list[Path] = []
        self.files_written = 0

    def path(self, rel: str = "") -> Path:
        return self.root / rel if rel else self.root

    def start(self) -> None:
        """Create the root folder (0700), or clear the way for the root file."""
        try:
            if self.directory and not self._existing_dir:
                os.mkdir(self.root, DIR_MODE)
                self._dirs.append(self.root)
                os.chmod(self.root, DIR_MODE)
            elif not self.directory and self.root.is_file() and self.root.stat().st_size == 0:
                self.root.unlink()  # check_destination allowed replacing an empty file
        except OSError as exc:
            raise self._error(exc) from None

    def mkdir(self, rel: str) -> Path:
        p = self.path(rel)
        try:
            os.mkdir(p, DIR_MODE)
            os.chmod(p, DIR_MODE)
        except OSError as exc:
            raise self._error(exc) from None
        self._dirs.append(p)
        return p

    def create(self, rel: str = "") -> BinaryIO:
        """A new file, 0600, opened for binary writing; refuses to follow a symlink or replace a file."""
        p = self.path(rel)
        try:
            fd = os.open(p, _OPEN_FLAGS, FILE_MODE)
        except OSError as exc:
            raise self._error(exc) from None
        self._files.append(p)
        self.files_written += 1
        try:
            os.fchmod(fd, FILE_MODE)
        except OSError:
            os.close(fd)
            raise
        return os.fdopen(fd, "wb")

    def discard(self) -> None:
        """Remove everything this export created (after a failure)."""
        for f in reversed(self._files):
            try:
                f.unlink()
            except OSError:
                pass
        for d in reversed(self._dirs):
            try:
                os.rmdir(d)
            except OSError:
                pass
        self._files.clear()
        self._dirs.clear()

    def _error(self, exc: OSError) -> ExportWriteError:
        why = exc.strerror or type(exc).__name__
        return ExportWriteError(f"could not write the export under {self.root} ({why}); nothing was kept")

    def wrap(self, exc: OSError) -> ExportWriteError:
        return self._error(exc)


class Counts:
    """What an export wrote."""

    def __init__(self) -> None:
        self.chats = 0
        self.messages = 0
        self.events = 0
        self.attachments = 0

    def add(self, is_event: bool) -> None:
        if is_event:
            self.events += 1
        else:
            self.messages += 1


class AttachmentFiles:
    """Writes stored attachments as files in `<base>/attachments/`, each distinct content once.

    `link(att)` returns the path relative to `base` (what the JSONL `path` or an HTML `src` holds),
    or None when the vault has no bytes for it. The bytes stream out chunk by chunk.
    """

    SUBDIR = "attachments"

    def __init__(self, v: Store, out: Output, counts: Counts, base: str = "") -> None:
        self._v = v
        self._out = out
        self._counts = counts
        self._base = base
        self._made_dir = False
        self._by_blob: dict[int, str] = {}

    def link(self, att: AttachmentRow) -> str | None:
        if att.blob_id is None or not self._out.directory:
            return None
        known = self._by_blob.get(att.blob_id)
        if known is not None:
            return known
        if blob_size(self._v, att.blob_id) is None:  # deleted while we were exporting
            return None
        sub = f"{self._base}/{self.SUBDIR}" if self._base else self.SUBDIR
        if not self._made_dir:
            self._out.mkdir(sub)
            self._made_dir = True
        rel = f"{self.SUBDIR}/{att.id}-{safe_name(att.name)}"
        fh = self._out.create(f"{self._base}/{rel}" if self._base else rel)
        try:
            with fh:
                copy_blob(self._v, att.blob_id, fh)
        except OSError as exc:
            raise self._out.wrap(exc) from None
        self._by_blob[att.blob_id] = rel
        self._counts.attachments += 1
        return rel
