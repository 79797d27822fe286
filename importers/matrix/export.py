"""Where an Element export's JSON and attachment files are: a .json, its folder, or the .zip with attachments.

Element's "Export chat" (JSON format) writes `matrix - <room> - Chat Export - <date>.json`; with
"Include attachments" it writes `matrix-export-<date>.zip` holding `export.json` and the files
under `images/`, `videos/`, `audio/`, `files/` and `stickers/`, each named
`<body without extension>-<the event's local date and time>.<extension>`, e.g.
`Test image-1-1-2022 at 12-02-00 AM.png` (element-web src/utils/exportUtils/Exporter.ts
getFilePath; timelinize/timelinize datasources/element). Stickers get `.png`, voice messages
`.ogg`. The date part follows the exporting browser's locale and zone, so a file is matched by
its folder, name and extension (and, when several share a name, by the size the event states).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path, PurePosixPath
from typing import IO, Any

from importers.base import decode_head, is_zip, open_zip, read_head
from importers.tree import ExportTree, FolderTree, ZipTree

EXPORT_JSON = "export.json"  # inside the zip
MEDIA_DIRS = ("images", "videos", "audio", "files", "stickers")
# The header keys JSONExport.ts writes before "messages" (room_creator and topic may be empty).
HEAD_KEYS = ('"room_name"', '"export_date"', '"exported_by"', '"messages"')
HEAD_BYTES = 8192
_HYPHEN = re.compile("-")


def looks_like_export(head: bytes) -> bool:
    text = decode_head(head).lstrip()
    return text.startswith("{") and all(k in text for k in HEAD_KEYS)


def folder_json(path: Path) -> Path | None:
    """The export JSON of an unpacked folder: export.json, else the only .json that looks like one."""
    p = path / EXPORT_JSON
    if p.is_file():
        return p if looks_like_export(read_head(p, HEAD_BYTES)) else None
    try:
        found = [c for c in sorted(path.iterdir()) if c.suffix.lower() == ".json" and c.is_file()]
    except OSError:
        return None
    matching = [c for c in found[:20] if looks_like_export(read_head(c, HEAD_BYTES))]
    return matching[0] if len(matching) == 1 else None


def zip_head(path: Path) -> bytes:
    try:
        with open_zip(path) as zf:
            names = {n.replace("\\", "/"): n for n in zf.namelist()}
            if EXPORT_JSON not in names:
                return b""
            with zf.open(names[EXPORT_JSON]) as fh:
                return fh.read(HEAD_BYTES)
    except Exception:  # detect() must answer no, never raise
        return b""


class Export:
    """The export JSON (reopenable for a second pass) and its attachment files."""

    def __init__(self, tree: ExportTree, json_name: str, label: str, *, with_files: bool = True) -> None:
        self.tree = tree
        self.json_name = json_name
        self.label = label
        # (folder, stem, extension) → names: every hyphen of a name may end the body's stem.
        self._files: dict[tuple[str, str, str], list[str]] = {}
        #: Attachments whose file could not be told apart from others of the same name and size.
        self.ambiguous = 0
        for folder in MEDIA_DIRS if with_files else ():
            for name in tree.names(folder + "/"):
                p = PurePosixPath(name)
                if len(p.parts) != 2:
                    continue
                stem, ext = _split(p.name)
                for m in _HYPHEN.finditer(stem):
                    self._files.setdefault((folder, stem[: m.start()], ext.lower()), []).append(name)

    def open_json(self) -> IO[bytes]:
        return self.tree.open(self.json_name)

    def find(self, folder: str, body: str, ext: str | None, size: int | None) -> tuple[str, int | None] | None:
        """The file Element wrote for an attachment named `body`, or None when absent or ambiguous."""
        stem, body_ext = _split(PurePosixPath(body.replace("\\", "/")).name)
        candidates = self._files.get((folder, stem, (ext if ext is not None else body_ext).lower()), [])
        several = len(candidates) > 1
        if several and size is not None:
            candidates = [c for c in candidates if self.tree.size(c) == size]
        if len(candidates) != 1:
            self.ambiguous += several
            return None
        return candidates[0], self.tree.size(candidates[0])

    def opener(self, name: str) -> Callable[[], IO[bytes]] | None:
        return self.tree.opener(name)


def _split(name: str) -> tuple[str, str]:
    """Element's splitFileName: the part before the last dot, and the dot and the rest."""
    dot = name.rfind(".")
    return (name, "") if dot == -1 else (name[:dot], name[dot:])


@contextmanager
def open_export(path: Path) -> Iterator[Export | None]:
    """The export at `path`, or None when no export JSON is found there."""
    if path.is_dir():
        found = folder_json(path)
        if found is None:
            yield None
        else:
            yield Export(FolderTree(path), found.name, str(found), with_files=found.name == EXPORT_JSON)
    elif is_zip(path):
        with open_zip(path) as zf:
            tree = ZipTree(zf, path)
            yield Export(tree, EXPORT_JSON, f"{path}:{EXPORT_JSON}") if tree.exists(EXPORT_JSON) else None
    else:
        # Only the zip's export.json has files beside it; a lone "… Chat Export ….json" has none,
        # and its folder (Downloads, say) may hold unrelated images/ that must not be taken.
        with_files = path.name == EXPORT_JSON
        yield Export(FolderTree(path.parent), path.name, str(path), with_files=with_files)


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
