"""X (Twitter) direct messages from the "Download an archive of your data" archive.

How a person gets it: x.com → More → Settings and privacy → Your account → Download an
archive of your data → confirm the password → "Request archive"; a day or more later X offers a
`twitter-<date>-<hash>.zip` (several zips for large accounts). The mobile apps lead to the same
page.

Read (`--format twitter-dm`): `data/direct-messages.js` and `data/direct-messages-group.js`, and
their `-part1`, `-part2`, … continuations (older archives spell them `direct-message*.js`).
Each is `window.YTD.direct_messages.part0 = [ … ]`: the assignment is skipped and the array
streamed with ijson, one DM entry at a time: `messageCreate` (text with t.co links replaced by
the expanded URL from `urls`, HTML entities undone, `mediaUrls`, reactions, `editHistory`) and
the conversation events (`joinConversation`, `participantsJoin`, `participantsLeave`,
`conversationNameUpdate`). The owner's id and name come from `data/account.js`; the archive has
no names for anyone else, so they are shown as `@<numeric id>`. Media are the files the archive
saved in `data/direct_messages_media/` (groups: `direct_messages_group_media/`) as
`<message id>-<file name>`. Given the archive folder, its `data` folder, one DM file, or the zip
(read in place).

Identity: chat key = `conversationId` ("<id>-<id>" for one-to-one chats), source_id = the
message `id`. `createdAt` is ISO 8601 in UTC, stored as the instant.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path

from importers.base import Format, ParseOptions, head_text, is_zip
from importers.tree import JSON_ERRORS, READ_ERRORS, ExportTree, FolderTree, in_zip_tree
from importers.twitter.archive import DM_FILE, DM_PREFACE, Archive, NotYtd, find_dm_files, is_dm_head, read_owner
from importers.twitter.dms import Reader
from vault.errors import ExportError
from vault.records import Note, Problem, Record

_DETECT_ERRORS = (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError)
_FILE_NAMES = (
    "direct-messages.js",
    "direct-messages-group.js",
    "direct-message.js",
    "direct-message-group.js",
    "direct-messages-part1.js",
)


def _dm_file(path: Path) -> bool:
    return path.is_file() and DM_PREFACE.match(head_text(path, 4096)) is not None


def detect(path: Path) -> bool:
    try:
        if path.is_dir():
            return any(_dm_file(folder / name) for folder in (path / "data", path) for name in _FILE_NAMES)
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                for info in zf.infolist():
                    if DM_FILE.match(info.filename) and not info.is_dir():
                        with zf.open(info) as fh:
                            if is_dm_head(fh.read(4096)):
                                return True
            return False
        if path.is_file() and DM_FILE.match(path.name):
            return _dm_file(path)
    except _DETECT_ERRORS:
        return False
    return False


def _records(tree: ExportTree, under: str, only: str | None = None) -> Iterator[Record]:
    data, files = find_dm_files(tree, under)
    if only is not None:
        files = [f for f in files if f.name == only]
    if not files:
        raise ExportError("no data/direct-messages.js in this archive", path=tree.label)
    archive = Archive(tree, data, files)
    try:
        archive.owner = read_owner(tree, data)
    except READ_ERRORS:  # NotYtd and JSON errors are ValueErrors
        yield Problem(tree.where(data + "account.js"), None, "not readable; your own messages are not marked")
    if archive.owner.id is None:
        yield Note("no readable data/account.js: your own messages are not marked as yours")
    reader = Reader(archive)
    for file in files:
        where = tree.where(file.name)
        try:
            yield from reader.records(file)
        except NotYtd as exc:
            raise ExportError(
                "does not start with window.YTD.direct_messages…part0 = [; is this file from the X archive?",
                path=where,
            ) from exc
        except JSON_ERRORS as exc:
            raise ExportError(
                "is not readable JSON after its window.YTD preface (damaged or truncated?); download the archive again",
                path=where,
            ) from exc


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    if is_zip(path):
        yield from in_zip_tree(path, lambda tree: _records(tree, ""))
    elif path.is_dir():
        under = "data/" if (path / "data").is_dir() else ""
        yield from _records(FolderTree(path), under)
    elif path.is_file() and DM_FILE.match(path.name):
        yield from _records(FolderTree(path.parent), "", only=path.name)
    else:
        raise ExportError(
            "not an X/Twitter archive; give the archive zip, its folder, its data folder or data/direct-messages.js",
            path=str(path),
        )


FORMATS = [
    Format(
        name="twitter-dm",
        source="twitter",
        description="X/Twitter direct messages from the account archive (zip or folder)",
        detection="data/direct-messages*.js starting window.YTD.direct_messages",
        detect=detect,
        parse=parse,
    )
]
