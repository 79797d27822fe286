"""`--shred-imported`: overwrite an imported export with random bytes, flush it to disk, then unlink it.

Used only when the person asks for it, and only after the vault has the export (the import returned
without error). A folder is shredded file by file, then its empty folders are removed. Symbolic
links are removed without touching what they point to; a file with other hard links is left alone
(overwriting it would destroy the other names' content too).

What this cannot do, and docs/watch.md says so: SSDs (wear levelling), copy-on-write file systems
(btrfs, ZFS, APFS), snapshots, backups and sync services keep old blocks or copies that overwriting
the file never reaches.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

CHUNK = 1024 * 1024
O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class ShredRefused(Exception):
    """A file that is not shredded; the message says why (never its content)."""


@dataclass
class ShredResult:
    files: int = 0
    kept: list[str] = field(default_factory=list)  # "PATH: why", for what could not be removed


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def shred_file(path: Path) -> None:
    """Overwrite a regular file with random bytes, fsync, unlink, fsync its folder."""
    try:
        fd = os.open(path, os.O_WRONLY | O_NOFOLLOW)
    except OSError as exc:
        raise ShredRefused(f"cannot open it for overwriting ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise ShredRefused("not a regular file")
        if st.st_nlink > 1:
            raise ShredRefused("it has other hard links, which overwriting would destroy")
        left = st.st_size
        while left > 0:
            n = min(CHUNK, left)
            written = os.write(fd, os.urandom(n))
            left -= written
        os.fsync(fd)
    except OSError as exc:
        raise ShredRefused(f"could not be overwritten ({exc.strerror})") from None
    finally:
        os.close(fd)
    try:
        os.unlink(path)
    except OSError as exc:
        raise ShredRefused(f"overwritten but not removed ({exc.strerror})") from None
    _fsync_dir(path.parent)


def shred(path: Path) -> ShredResult:
    """Shred a file, or every file in a folder and then its empty folders."""
    result = ShredResult()
    try:
        st = os.lstat(path)
    except OSError as exc:
        result.kept.append(f"{path}: {exc.strerror}")
        return result
    if not stat.S_ISDIR(st.st_mode):
        _shred_one(path, st, result)
        return result
    for root, dirs, files in os.walk(path, topdown=False, followlinks=False):
        base = Path(root)
        for name in sorted(files):
            p = base / name
            try:
                _shred_one(p, os.lstat(p), result)
            except OSError as exc:
                result.kept.append(f"{p}: {exc.strerror}")
        for name in sorted(dirs):
            d = base / name
            if os.path.islink(d):  # os.walk lists a link to a folder among dirs
                _shred_one(d, os.lstat(d), result)
                continue
            _rmdir(d, result)
    _rmdir(path, result)
    return result


def _shred_one(p: Path, st: os.stat_result, result: ShredResult) -> None:
    if stat.S_ISLNK(st.st_mode):
        try:
            os.unlink(p)
        except OSError as exc:
            result.kept.append(f"{p}: {exc.strerror}")
        return
    if not stat.S_ISREG(st.st_mode):
        result.kept.append(f"{p}: not a regular file")
        return
    try:
        shred_file(p)
    except ShredRefused as exc:
        result.kept.append(f"{p}: {exc}")
        return
    result.files += 1


def _rmdir(d: Path, result: ShredResult) -> None:
    try:
        os.rmdir(d)
    except FileNotFoundError:
        return
    except OSError as exc:
        result.kept.append(f"{d}: folder not removed ({exc.strerror})")
        return
    _fsync_dir(d.parent)
