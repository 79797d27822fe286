"""The layout of a Slack workspace export, as a folder or a zip, read without extracting anything.

An export holds, at its root (or inside one top-level folder, when someone zipped the folder):
`users.json`, `channels.json` (public channels) and, depending on the plan and the export type,
`groups.json` (private channels), `mpims.json` (group DMs), `dms.json` (direct messages), plus one
folder per conversation with one `YYYY-MM-DD.json` file per day. Folders are named after the
channel (public, private and group DMs) or the DM's id.
"""

from __future__ import annotations

import re
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO

from importers.base import open_zip, read_head, safe_member_name
from vault.errors import ExportError

USERS_FILE = "users.json"
# Conversation lists, in the order their conversations are imported.
LIST_FILES = ("channels.json", "groups.json", "mpims.json", "dms.json")
ROOT_FILES = frozenset((USERS_FILE, *LIST_FILES))
DAY_FILE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.json$")
# How much of a list file detect() looks at to see that it holds a JSON array.
HEAD_BYTES = 256


class SlackExport(ABC):
    """Read access to one export: its root files and its per-conversation day files."""

    @abstractmethod
    def has(self, name: str) -> bool:
        """Whether the root file `name` (users.json, channels.json, ...) is there."""

    @abstractmethod
    def open(self, name: str) -> IO[bytes]:
        """A root file (users.json, channels.json, ...)."""

    @abstractmethod
    def folders(self) -> dict[str, list[str]]:
        """Conversation folder name → its day-file names, sorted (oldest day first)."""

    @abstractmethod
    def open_day(self, folder: str, day: str) -> IO[bytes]:
        """One day file of a conversation folder."""

    #: Zip members skipped because their names escape the archive (`../x`, `/etc/x`).
    unsafe_members = 0


class FolderExport(SlackExport):
    def __init__(self, root: Path) -> None:
        self.root = root
        self._resolved = root.resolve()

    def _inside(self, p: Path) -> bool:
        try:
            p.resolve().relative_to(self._resolved)
        except (OSError, ValueError):
            return False
        return True

    def has(self, name: str) -> bool:
        p = self.root / name
        return p.is_file() and self._inside(p)

    def open(self, name: str) -> IO[bytes]:
        return open(self.root / name, "rb")

    def folders(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for d in sorted(self.root.iterdir()):
            if not d.is_dir() or not self._inside(d):
                continue
            days = sorted(f.name for f in d.iterdir() if DAY_FILE.match(f.name) and f.is_file() and self._inside(f))
            if days:
                out[d.name] = days
        return out

    def open_day(self, folder: str, day: str) -> IO[bytes]:
        return open(self.root / folder / day, "rb")


class ZipExport(SlackExport):
    def __init__(self, zf: zipfile.ZipFile) -> None:
        self.zf = zf
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in zf.infolist():
            if info.is_dir():
                continue
            safe = safe_member_name(info.filename)
            if safe is None:
                self.unsafe_members += 1
            else:
                self.members[safe] = info
        self.prefix = zip_root(self.members)

    def has(self, name: str) -> bool:
        return self.prefix + name in self.members

    def open(self, name: str) -> IO[bytes]:
        return self.zf.open(self.members[self.prefix + name])

    def folders(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for name in self.members:
            if not name.startswith(self.prefix):
                continue
            parts = name[len(self.prefix) :].split("/")
            if len(parts) == 2 and DAY_FILE.match(parts[1]):
                out.setdefault(parts[0], []).append(parts[1])
        return {k: sorted(v) for k, v in sorted(out.items())}

    def open_day(self, folder: str, day: str) -> IO[bytes]:
        return self.zf.open(self.members[f"{self.prefix}{folder}/{day}"])


def zip_root(names: dict[str, zipfile.ZipInfo] | list[str]) -> str:
    """The folder prefix ('' or 'Some Export/') holding the export's root files in a zip."""
    best: str | None = None
    for name in names:
        p = PurePosixPath(name)
        if p.name in ROOT_FILES:
            prefix = "" if str(p.parent) == "." else str(p.parent) + "/"
            if best is None or prefix.count("/") < best.count("/"):
                best = prefix
    return best or ""


def folder_root(path: Path) -> Path:
    """The folder holding the root files: `path` itself or its only sub-folder that has them."""
    if any((path / n).is_file() for n in ROOT_FILES):
        return path
    subs = [d for d in path.iterdir() if d.is_dir() and any((d / n).is_file() for n in ROOT_FILES)]
    return subs[0] if len(subs) == 1 else path


@contextmanager
def open_export(path: Path) -> Iterator[SlackExport]:
    """The export at `path` (folder or zip), or ExportError saying what is wrong."""
    if path.is_dir():
        try:
            export: SlackExport = FolderExport(folder_root(path))
        except OSError as exc:
            raise ExportError("cannot read this folder; check its permissions", path=str(path)) from exc
        yield export
        return
    if not path.is_file():
        raise ExportError("no such file or folder", path=str(path))
    if not zipfile.is_zipfile(path):
        raise ExportError(
            "not a Slack export: expected the workspace export .zip or its unzipped folder",
            path=str(path),
        )
    zf = open_zip(path)
    try:
        yield ZipExport(zf)
    finally:
        zf.close()


def looks_like_export(names: set[str], folders_with_days: bool) -> bool:
    """Certain enough: users.json beside a conversation list, or a list beside day folders."""
    has_list = any(n in names for n in LIST_FILES)
    return has_list and (USERS_FILE in names or folders_with_days)


def starts_with_array(head: bytes) -> bool:
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return text.startswith(b"[")


def detect_folder(path: Path) -> bool:
    root = folder_root(path)
    names = {n for n in ROOT_FILES if (root / n).is_file()}
    list_file = next((n for n in LIST_FILES if n in names), None)
    if list_file is None or not starts_with_array(read_head(root / list_file, HEAD_BYTES)):
        return False
    if USERS_FILE in names:
        return looks_like_export(names, False)
    has_days = any(d.is_dir() and any(DAY_FILE.match(f.name) for f in d.iterdir()) for d in root.iterdir())
    return looks_like_export(names, has_days)


def detect_zip(path: Path) -> bool:
    with zipfile.ZipFile(path) as zf:
        names = [n for n in (safe_member_name(i) for i in zf.namelist()) if n is not None]
        prefix = zip_root(names)
        rel = [n[len(prefix) :] for n in names if n.startswith(prefix)]
        root_names = {n for n in rel if n in ROOT_FILES}
        has_days = any(len(parts) == 2 and DAY_FILE.match(parts[1]) for parts in (n.split("/") for n in rel))
        if not looks_like_export(root_names, has_days):
            return False
        list_file = next(n for n in LIST_FILES if n in root_names)
        with zf.open(prefix + list_file) as fh:
            return starts_with_array(fh.read(HEAD_BYTES))
