"""What the watcher imports, and when: units of a watched folder, their snapshots, complete zips.

A *unit* is one thing `Vault.import_path` takes whole. Each top-level entry of a watched folder is
looked at once it has settled: a file is a unit; a folder that an importer recognises (a Telegram
`ChatExport_*` folder, a Slack or Meta export folder, an unpacked WhatsApp chat) is one unit with
everything in it; the entries of a folder that no importer recognises are looked at the same way,
one by one. Hidden entries, partial downloads, symbolic links and special files are never units.

A *snapshot* is the names, sizes and modification times of everything in an entry: two equal
snapshots a settle period apart (or nothing modified for that long) mean the entry stopped changing.
Nothing here reads the contents of a file except a zip's central directory.
"""

from __future__ import annotations

import hashlib
import os
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import importers
from vault.errors import UnknownFormatError

# Names that browsers, download managers and editors give a file while it is still being written;
# the finished file appears under its real name (a "moved" event), which is then imported.
PARTIAL_SUFFIXES = (
    ".part",
    ".partial",
    ".crdownload",  # Chrome, Edge
    ".download",  # Safari (a folder)
    ".opdownload",  # Opera
    ".tmp",
    ".temp",
    ".swp",
    "~",
)
ZIP_MAGIC = b"PK"


def ignored(name: str) -> bool:
    """Hidden files, partial downloads and editor leftovers are never imported."""
    low = name.lower()
    return name.startswith((".", "~$")) or low.endswith(PARTIAL_SUFFIXES)


@dataclass(frozen=True)
class Snapshot:
    """Names, sizes and modification times under an entry, summed up in a digest."""

    digest: str
    newest_mtime: float  # seconds since the epoch, of the most recently modified file or folder
    is_dir: bool


def snapshot(path: Path) -> Snapshot | None:
    """The snapshot of a file or folder (symbolic links inside are listed, not followed); None if gone."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    h = hashlib.sha256()
    newest = st.st_mtime
    if not stat.S_ISDIR(st.st_mode):
        h.update(f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}".encode())
        return Snapshot(h.hexdigest(), newest, False)
    for root, dirs, files in os.walk(path, onerror=None, followlinks=False):
        dirs.sort()
        rel = os.path.relpath(root, path)
        for name in (*dirs, *sorted(files)):
            try:
                est = os.lstat(os.path.join(root, name))
            except OSError:  # removed while we looked: the next snapshot differs anyway
                h.update(f"gone:{rel}/{name}\0".encode("utf-8", "surrogateescape"))
                continue
            newest = max(newest, est.st_mtime)
            h.update(f"{rel}/{name}:{est.st_size}:{est.st_mtime_ns}\0".encode("utf-8", "surrogateescape"))
    return Snapshot(h.hexdigest(), newest, True)


def looks_like_zip(path: Path) -> bool:
    if path.suffix.lower() == ".zip":
        return True
    try:
        with open(path, "rb") as fh:
            return fh.read(2) == ZIP_MAGIC
    except OSError:
        return False


def zip_complete(path: Path) -> bool:
    """False for a zip whose central directory cannot be read yet (still being written, or cut short)."""
    if not looks_like_zip(path):
        return True
    try:
        with zipfile.ZipFile(path) as zf:
            zf.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Unit:
    """One file or one recognised export folder, imported whole."""

    path: Path
    is_dir: bool


def regular_kind(path: Path) -> str | None:
    """'file', 'dir', or None for what is never a unit (gone, a symbolic link, a pipe, a device)."""
    try:
        st = os.lstat(path)
    except OSError:
        return None
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISDIR(st.st_mode):
        return "dir"
    return None


def units(entry: Path, excluded: Callable[[Path], bool]) -> Iterator[Unit]:
    """The units in a settled entry: itself, or (a folder no importer recognises) those inside it."""
    if ignored(entry.name) or excluded(entry):
        return
    kind = regular_kind(entry)
    if kind == "file":
        yield Unit(entry, is_dir=False)
    elif kind == "dir":
        try:
            importers.detect(entry)
        except UnknownFormatError:
            try:
                children = sorted(entry.iterdir())
            except OSError:
                return
            for child in children:
                yield from units(child, excluded)
        else:
            yield Unit(entry, is_dir=True)


def is_within(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents
