"""Google Chat and legacy Hangouts from Google Takeout.

How a person gets it: takeout.google.com → "Deselect all" → tick "Google Chat" (and, for chats
from before the 2022 switch-over, "Hangouts" where Takeout still lists it) → Next → "Create
export"; Google e-mails a link to a `takeout-<date>.zip` (large exports come in several zips).
Workspace accounts whose admin allows Takeout get the same layout.

Read:
- **Google Chat** (`--format google-chat`): `Takeout/Google Chat/Groups/<DM id | Space id>/`
  with `group_info.json` (name, members) and `messages.json` (streamed with ijson), the files
  sent beside them (by `export_name`, with Takeout's `?` → `_` renaming), and
  `Users/User <id>/user_info.json` for the owner (so their messages are `from_me`). Dates are
  Takeout's English prose ("Monday, January 8, 2024 at 10:03:41 AM UTC", also day-first, other
  zone abbreviations and U+202F before AM/PM). Given the Takeout folder, the `Google Chat`
  folder, one conversation folder, its `messages.json`, or the zip (read in place). A Takeout
  that also holds `Hangouts/Hangouts.json` has both read.
- **Hangouts** (`--format hangouts`): `Hangouts.json`, in the 2018+ layout (`conversations[]`
  with `conversation` and `events`) and the older one (`conversation_state[]`), streamed event
  by event: messages (text segments, links, line breaks; photos named, their bytes are in
  Google Photos and not in this file), calls (Events of kind call, duration in `extra`),
  people added and removed, renames.

Identity: Google Chat chat key = the group folder's name ("DM AAAA…", "Space AAAA…", as
user_info.json's `group_id` spells it), source_id = `message_id`; Hangouts chat key =
`conversation_id.id`, source_id = `event_id`. Times are stated in UTC (or a named zone), so
they are stored as instants.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from importers.base import Format, ParseOptions, decode_head, head_text, is_zip, open_export, open_zip
from importers.google_chat.chat import (
    GROUP_FOLDER,
    GROUP_MESSAGES,
    HANGOUTS_JSON,
    lone_group_records,
    tree_records,
)
from importers.google_chat.hangouts import read_hangouts
from importers.tree import JSON_ERRORS, FolderTree, ZipTree, in_zip_tree
from vault.errors import ExportError
from vault.records import Record

# How many group folders detect() looks into before it gives up.
_DETECT_GROUPS = 20
_MESSAGES_HEAD = re.compile(r'^\s*\{\s*"messages"\s*:\s*\[\s*(?:\]|\{)')
# Hangouts.json: an object whose conversations (2018+) or conversation_state (older; after
# "continuation_end_timestamp") array holds objects keyed by {"conversation_id": {"id": ...}}.
_HANGOUTS_HEAD = re.compile(
    r'"conversations"\s*:\s*\[\s*\{\s*"conversation"\s*:\s*\{|"conversation_state"\s*:\s*\[\s*\{'
)
_CONVERSATION_ID = re.compile(r'"conversation_id"\s*:\s*\{\s*"id"\s*:\s*"')
_DETECT_ERRORS = (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError)


def _messages_head(text: str) -> bool:
    """The start of a Google Chat messages.json: {"messages": [ ... created_date/creator ... ]}."""
    if not _MESSAGES_HEAD.match(text):
        return False
    return re.match(r'^\s*\{\s*"messages"\s*:\s*\[\s*\]', text) is not None or (
        '"created_date"' in text or '"creator"' in text
    )


def _hangouts_head(text: str) -> bool:
    return (
        text.lstrip().startswith("{")
        and _HANGOUTS_HEAD.search(text) is not None
        and _CONVERSATION_ID.search(text) is not None
    )


def _group_folder(folder: Path) -> bool:
    messages = folder / "messages.json"
    return (
        messages.is_file()
        and ((folder / "group_info.json").is_file() or GROUP_FOLDER.match(folder.name) is not None)
        and _messages_head(head_text(messages))
    )


def _chat_root(path: Path) -> tuple[Path, str] | None:
    """The folder to read and the `Google Chat` folder within it, for a Takeout or Google Chat folder."""
    for under in ("", "Google Chat/", "Takeout/Google Chat/"):
        groups = path / under / "Groups"
        if groups.is_dir():
            return path, under
    return None


def _zip_head(zf: zipfile.ZipFile, name: str) -> str:
    with zf.open(name) as fh:
        return decode_head(fh.read(8192))


def detect_google_chat(path: Path) -> bool:
    try:
        if path.is_dir():
            if _group_folder(path):
                return True
            found = _chat_root(path)
            if found is None:
                return False
            groups = sorted((found[0] / found[1] / "Groups").iterdir())[:_DETECT_GROUPS]
            return any(g.is_dir() and _group_folder(g) for g in groups)
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                for name in sorted(names):
                    m = GROUP_MESSAGES.match(name)
                    if m is None:
                        continue
                    sibling = name[: -len("messages.json")] + "group_info.json"
                    if (sibling in names or GROUP_FOLDER.match(m["group"])) and _messages_head(_zip_head(zf, name)):
                        return True
            return False
        if path.is_file() and path.name == "messages.json":
            return (path.parent / "group_info.json").is_file() and _messages_head(head_text(path))
    except _DETECT_ERRORS:
        return False
    return False


def _hangouts_in(path: Path) -> list[str]:
    return [
        u
        for u in ("Hangouts.json", "Hangouts/Hangouts.json", "Takeout/Hangouts/Hangouts.json")
        if (path / u).is_file() and _hangouts_head(head_text(path / u))
    ]


def detect_hangouts(path: Path) -> bool:
    try:
        if path.is_dir():
            return bool(_hangouts_in(path))
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                return any(HANGOUTS_JSON.match(n) and _hangouts_head(_zip_head(zf, n)) for n in zf.namelist())
        if path.is_file():
            return _hangouts_head(head_text(path))
    except _DETECT_ERRORS:
        return False
    return False


def _zip_hangouts(tree: ZipTree) -> list[str]:
    return [n for n in tree.names() if HANGOUTS_JSON.match(n)]


def parse_google_chat(path: Path, options: ParseOptions) -> Iterator[Record]:
    if is_zip(path):
        yield from in_zip_tree(path, lambda tree: tree_records(tree, "", _zip_hangouts(tree)))
        return
    if path.is_file() and path.name in ("messages.json", "group_info.json"):
        path = path.parent
    if not path.is_dir():
        raise ExportError(
            "not a Google Chat export; give the Takeout zip or folder, its 'Google Chat' folder or a "
            "conversation folder (Groups/DM … or Groups/Space …)",
            path=str(path),
        )
    found = _chat_root(path)
    if found is not None:
        root, under = found
        # Beside "Google Chat" in a Takeout folder: Hangouts/Hangouts.json.
        hangouts = under[: -len("Google Chat/")] + "Hangouts/Hangouts.json" if under else ""
        yield from tree_records(FolderTree(root), under, [hangouts] if hangouts and (root / hangouts).is_file() else [])
    elif (path / "messages.json").is_file():
        if path.parent.name == "Groups":
            yield from tree_records(FolderTree(path.parent.parent), f"Groups/{path.name}/", [])
        else:
            yield from lone_group_records(FolderTree(path), path.name)
    else:
        raise ExportError(
            "no Groups/ folder or messages.json here; give the Takeout or its 'Google Chat' folder", path=str(path)
        )


def parse_hangouts(path: Path, options: ParseOptions) -> Iterator[Record]:
    if is_zip(path):
        with open_zip(path) as zf:
            tree = ZipTree(zf, path)
            names = _zip_hangouts(tree)
            if not names:
                raise ExportError("this zip holds no Hangouts/Hangouts.json", path=str(path))
            for name in names:
                yield from _hangouts_file(functools.partial(tree.open, name), tree.where(name))
        return
    if path.is_dir():
        names = _hangouts_in(path)
        if not names:
            raise ExportError("no Hangouts.json here; give the file or the Takeout folder", path=str(path))
        path = path / names[0]
    yield from _hangouts_file(functools.partial(open_export, path), str(path))


def _hangouts_file(opener: Callable[[], IO[bytes]], where: str) -> Iterator[Record]:
    try:
        with opener() as fh:
            yield from read_hangouts(fh, where)
    except JSON_ERRORS as exc:
        raise ExportError(
            "is not readable Hangouts JSON (damaged or truncated?); download the Takeout again", path=where
        ) from exc


FORMATS = [
    Format(
        name="google-chat",
        source="googlechat",
        description="Google Chat from Google Takeout (zip or folder; Hangouts.json in it too)",
        detection="Groups/<DM|Space id>/messages.json beside group_info.json",
        detect=detect_google_chat,
        parse=parse_google_chat,
    ),
    Format(
        name="hangouts",
        source="hangouts",
        description="legacy Google Hangouts.json from Google Takeout",
        detection='JSON starting {"conversations": [ (or "conversation_state") with conversation ids',
        detect=detect_hangouts,
        parse=parse_hangouts,
    ),
]
