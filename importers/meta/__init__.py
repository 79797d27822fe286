"""Facebook Messenger and Instagram: Meta's "Download your information" archive, in JSON.

How a person gets it: Facebook or Instagram → Settings → Accounts Center → "Your information and
permissions" → "Download your information" → choose Messages, format **JSON** (not HTML), any
media quality → Meta e-mails a link to one or more zips. Chats that Messenger encrypts end to end
are not in that archive: they are downloaded separately from messenger.com → Settings → "Privacy
& safety" → "End-to-end encrypted chats" → "Message storage" → "Download secure storage data".

What is read (formats/messenger-instagram-discord-slack-imessage.md §1):

- archives from 2018 to now: `messages/<folder>/<thread>/message_N.json` (folders inbox,
  archived_threads, filtered_threads, message_requests, ...), since 2024 below
  `your_facebook_activity/` or `your_instagram_activity/`; the path may be the zip, the unpacked
  folder (or any folder inside it), a thread folder or one `message_N.json`. A thread split into
  message_1.json, message_2.json, ... becomes one chat;
- the end-to-end-encrypted download: one JSON per chat plus a shared `media/` folder.

Times are epoch milliseconds → UTC. The export has no message ids: the vault identifies messages
by (chat, time, sender, text) and their order among identical ones, so records come out in the
same order on every run. Chat.key is the thread folder's name (`alice_1234567890`).

Messenger and Instagram archives have the same shape. Instagram is recognised by
`your_instagram_activity/`, by Meta's archive name (`instagram-<user>-<date>-...`) or an ig.me
group link; an older Instagram message file without any of these is read as Messenger unless
`--format instagram` is given.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from importers.base import (
    SNIFF_BYTES,
    Format,
    ParseOptions,
    head_text,
    is_zip,
    safe_member_name,
)
from importers.meta.thread import (
    E2EE,
    LEGACY,
    NotAThread,
    ThreadContext,
    ThreadHeader,
    convert,
    repair_mojibake,
    scan_thread,
    thread_messages,
)
from importers.tree import (
    JSON_ERRORS,
    ExportTree,
    FolderTree,
    ZipTree,
    in_zip_tree,
)
from vault.errors import ExportError
from vault.records import DIRECT, GROUP, UNKNOWN, Chat, ChatKind, Note, Problem, Record, title_key

MESSENGER = "messenger"
INSTAGRAM = "instagram"

# A DYI thread file, and the folders around it: messages/<folder>/<thread>/message_N.json.
THREAD_FILE = re.compile(r"message(?:_(\d+))?\.json")
_THREAD_MEMBER = re.compile(r"(?:^|/)messages/[^/]+/[^/]+/message(?:_\d+)?\.json$")
# The folders of messages/ that hold threads (others, e.g. e2ee_cutover, are found when parsing).
MESSAGE_FOLDERS = ("inbox", "archived_threads", "filtered_threads", "message_requests")
# The 2024+ top folders: your_facebook_activity, your_instagram_activity.
_ACTIVITY_DIR = re.compile(r"your_(facebook|instagram)_activity")
# Meta's names for the downloaded archive and its unpacked folder: instagram-<user>-2024-05-01-<id>.
_ARCHIVE_NAME = re.compile(r"(instagram|facebook)-[\w.]+-\d{4}-\d{2}-\d{2}\b.*")
# Group invitation links: Instagram's are ig.me, Messenger's m.me.
_INSTAGRAM_LINK = '"https://ig.me/'
# The thread_type values of DYI files.
THREAD_TYPES: dict[str, ChatKind] = {"Regular": DIRECT, "RegularGroup": GROUP}
# The E2EE download names a chat "<name>_<n>"; the suffix is not part of the name.
_E2EE_SUFFIX = re.compile(r"_\d+$")
# A folder holding the E2EE download's media, next to its chat files.
E2EE_MEDIA_DIR = "media"
# How many folder entries detect() looks at before giving up.
_DETECT_ENTRIES = 200


# ---------------------------------------------------------------------------------------------
# Detection


def _head_variant(text: str) -> str | None:
    """Which of the two thread shapes the beginning of a JSON file has, if any."""
    if not text.lstrip().startswith("{"):
        return None
    if '"sender_name"' in text and '"timestamp_ms"' in text:
        return LEGACY
    if '"senderName"' in text and '"timestamp"' in text and ('"threadName"' in text or '"isUnsent"' in text):
        return E2EE
    return None


def _name_hint(parts: tuple[str, ...] | list[str]) -> str | None:
    """MESSENGER or INSTAGRAM from folder and file names (the deepest telling one wins)."""
    for part in reversed(parts):
        m = _ACTIVITY_DIR.fullmatch(part) or _ARCHIVE_NAME.fullmatch(part)
        if m:
            return INSTAGRAM if m.group(1) == "instagram" else MESSENGER
    return None


def _zip_sniff(path: Path) -> str | None:
    with zipfile.ZipFile(path) as zf:
        names = [safe for n in zf.namelist() if (safe := safe_member_name(n))]
        threads = [n for n in names if _THREAD_MEMBER.search(n)]
        if threads:
            hint = _name_hint([path.name])
            for n in threads:
                hint = _name_hint(PurePosixPath(n).parts) or hint
                if hint:
                    break
            if hint is None:
                with zf.open(threads[0]) as fh:
                    head = fh.read(SNIFF_BYTES).decode("utf-8", "replace")
                if _head_variant(head) is None:
                    return None
                hint = INSTAGRAM if _INSTAGRAM_LINK in head else MESSENGER
            return hint
        roots = [n for n in names if "/" not in n and n.endswith(".json")]
        if roots and any(n.startswith(E2EE_MEDIA_DIR + "/") for n in names):
            with zf.open(roots[0]) as fh:
                head = fh.read(SNIFF_BYTES).decode("utf-8", "replace")
            return MESSENGER if _head_variant(head) == E2EE else None
    return None


def _file_sniff(path: Path) -> str | None:
    if path.suffix.lower() != ".json":
        return None
    head = head_text(path)
    variant = _head_variant(head)
    if variant is None:
        return None
    if variant == E2EE:
        return MESSENGER
    hint = _name_hint(path.absolute().parts)
    if hint is None:
        hint = INSTAGRAM if _INSTAGRAM_LINK in head or "your_instagram_activity/" in head else MESSENGER
    return hint


def _first_thread_file(folder: Path) -> Path | None:
    """A message_N.json in the folder, in a thread folder below it, or in the usual places."""
    candidates = [folder, folder / "messages"]
    candidates += [folder / d / "messages" for d in ("your_facebook_activity", "your_instagram_activity")]
    seen = 0
    for base in candidates:
        for sub in (base, *(base / name for name in MESSAGE_FOLDERS)):
            if not sub.is_dir():
                continue
            for entry in sorted(sub.iterdir())[:_DETECT_ENTRIES]:
                seen += 1
                if entry.is_file() and THREAD_FILE.fullmatch(entry.name):
                    return entry
                if entry.is_dir():
                    for name in ("message_1.json", "message.json"):
                        if (entry / name).is_file():
                            return entry / name
                if seen > 4 * _DETECT_ENTRIES:
                    return None
    return None


def _folder_sniff(folder: Path) -> str | None:
    thread = _first_thread_file(folder)
    if thread is not None:
        return _file_sniff(thread)
    if (folder / E2EE_MEDIA_DIR).is_dir():
        for entry in sorted(folder.iterdir())[:_DETECT_ENTRIES]:
            if entry.is_file() and entry.suffix.lower() == ".json":
                return MESSENGER if _head_variant(head_text(entry)) == E2EE else None
    return None


def sniff(path: Path) -> str | None:
    """MESSENGER, INSTAGRAM or None (not a Meta message export). Never raises."""
    try:
        if path.is_dir():
            return _folder_sniff(path)
        if is_zip(path):
            return _zip_sniff(path)
        if path.is_file():
            return _file_sniff(path)
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
        return None
    return None


def detect_messenger(path: Path) -> bool:
    return sniff(path) == MESSENGER


def detect_instagram(path: Path) -> bool:
    return sniff(path) == INSTAGRAM


# ---------------------------------------------------------------------------------------------
# Finding the threads


@dataclass
class Thread:
    """One chat: its files inside the tree (message_1.json first) and its folder."""

    files: list[str]
    folder_name: str | None  # e.g. "alice_1234567890"
    category: str | None  # e.g. "inbox", "archived_threads"


def _file_number(name: str) -> int:
    m = THREAD_FILE.fullmatch(PurePosixPath(name).name)
    return int(m.group(1) or 0) if m else 0


def _threads_in(tree: ExportTree, names: Iterator[str], root_name: str | None) -> list[Thread]:
    """Group a tree's message_N.json files by thread folder; E2EE chat files stand alone."""
    by_dir: dict[str, list[str]] = {}
    e2ee: list[str] = []
    for name in names:
        p = PurePosixPath(name)
        if THREAD_FILE.fullmatch(p.name):
            by_dir.setdefault(str(p.parent) if p.parent.parts else "", []).append(name)
        elif p.suffix.lower() == ".json" and p.parent.name != E2EE_MEDIA_DIR and _is_e2ee_file(tree, name):
            e2ee.append(name)
    threads = []
    for folder, files in sorted(by_dir.items()):
        p = PurePosixPath(folder)
        folder_name = p.name if folder else root_name
        category = p.parent.name if len(p.parts) >= 2 and p.parent.parent.name == "messages" else None
        threads.append(Thread(sorted(files, key=_file_number), folder_name, category))
    threads.extend(Thread([name], None, None) for name in e2ee)
    return threads


def _is_e2ee_file(tree: ExportTree, name: str) -> bool:
    try:
        with tree.open(name) as fh:
            head = fh.read(SNIFF_BYTES).decode("utf-8", "replace")
    except JSON_ERRORS:
        return False
    return _head_variant(head.lstrip("\ufeff")) == E2EE


def export_root(folder: Path) -> Path:
    """The folder media uris are relative to: the one above `messages/` (and above
    `your_*_activity/`), when `folder` is inside such a tree; else `folder` itself."""
    folder = folder.absolute()
    for candidate in (folder, folder.parent, folder.parent.parent):
        if candidate.name == "messages":
            root = candidate.parent
            if _ACTIVITY_DIR.fullmatch(root.name):
                root = root.parent
            return root
    return folder


# ---------------------------------------------------------------------------------------------
# Parsing


def _chat(source: str, thread: Thread, header: ThreadHeader, fallback_title: str) -> Chat:
    if header.variant == LEGACY:
        title = repair_mojibake(header.title) if header.title else None
        participants = tuple(repair_mojibake(p) for p in header.participants)
    else:
        title = _E2EE_SUFFIX.sub("", header.title) if header.title else None
        participants = tuple(header.participants)
    title = title or ", ".join(participants) or thread.folder_name or fallback_title
    kind: ChatKind
    if header.thread_type in THREAD_TYPES:
        kind = THREAD_TYPES[header.thread_type]
    elif participants:
        kind = DIRECT if len(participants) <= 2 else GROUP
    else:
        kind = UNKNOWN
    path_tail = PurePosixPath(header.thread_path).name if header.thread_path else None
    if header.variant == E2EE:
        key = title_key(header.title or title)
    else:
        key = thread.folder_name or path_tail or title_key(title)
    extra: dict[str, object] = {}
    if header.thread_path:
        extra["thread_path"] = header.thread_path
    if header.thread_type:
        extra["thread_type"] = header.thread_type
    if thread.category:
        extra["folder"] = thread.category
    if header.still_participant is not None:
        extra["still_participant"] = header.still_participant
    if header.variant == E2EE:
        extra["end_to_end_encrypted"] = True
    return Chat(source, key, title, kind=kind, participants=participants, extra=extra)


def _parse_threads(tree: ExportTree, threads: list[Thread], source: str, *, single: bool) -> Iterator[Record]:
    """Records of every thread. With `single`, an unreadable file is an ExportError; in a
    folder or zip it is reported as a Problem and the other threads are read."""
    missing_media = 0
    for thread in threads:
        scanned: list[tuple[str, ThreadHeader]] = []
        for name in thread.files:
            try:
                with tree.open(name) as fh:
                    scanned.append((name, scan_thread(fh)))
            except NotAThread as exc:
                if single:
                    raise ExportError(
                        "not a Messenger or Instagram message file (expected the JSON of "
                        "'Download your information'); check --format",
                        path=tree.where(name),
                    ) from exc
                yield Problem(tree.where(name), None, "not a Messenger/Instagram message file; skipped")
            except JSON_ERRORS as exc:
                if single:
                    raise ExportError(
                        "not readable JSON (truncated or damaged?); download the export again",
                        path=tree.where(name),
                    ) from exc
                yield Problem(tree.where(name), None, "not readable JSON (truncated or damaged?); skipped")
        if not scanned:
            continue
        first_name, header = scanned[0]
        chat = _chat(source, thread, header, PurePosixPath(first_name).stem)
        yield chat
        for name, file_header in scanned:
            thread_dir = str(PurePosixPath(name).parent)
            ctx = ThreadContext(
                chat=chat.key,
                variant=file_header.variant,
                tree=tree,
                thread_dir="" if thread_dir == "." else thread_dir,
                folder_name=thread.folder_name,
            )
            yield from _file_records(tree, name, ctx)
            missing_media += ctx.missing_media
    if missing_media:
        yield Note(
            f"{missing_media} media files named in the export were not found in it "
            "(the export was requested without media, or they are in another part of a "
            "split download); their names were kept"
        )


def _file_records(tree: ExportTree, name: str, ctx: ThreadContext) -> Iterator[Record]:
    record = 0
    try:
        with tree.open(name) as fh:
            for record, msg in enumerate(thread_messages(fh), 1):
                try:
                    yield convert(msg, ctx)
                except (KeyError, TypeError, ValueError, ArithmeticError) as exc:
                    what = "has no time" if isinstance(exc, KeyError) else "has an unexpected structure"
                    yield Problem(tree.where(name), record, f"message {record} {what}; skipped")
    except JSON_ERRORS:
        yield Problem(tree.where(name), record + 1, "the file changed or broke while reading; rest skipped")


def _parse(path: Path, source: str) -> Iterator[Record]:
    if is_zip(path):

        def body(tree: ZipTree) -> Iterator[Record]:
            threads = _threads_in(tree, tree.names(), None)
            if not threads:
                raise ExportError(_NOTHING_FOUND, path=str(path))
            yield from _parse_threads(tree, threads, source, single=False)

        yield from in_zip_tree(path, body)
    elif path.is_dir():
        root = export_root(path)
        folder_tree = FolderTree(root)
        under = path.absolute().relative_to(root).as_posix()
        under = "" if under == "." else under + "/"
        threads = _threads_in(folder_tree, folder_tree.names(under), path.absolute().name)
        if not threads:
            raise ExportError(_NOTHING_FOUND, path=str(path))
        yield from _parse_threads(folder_tree, threads, source, single=False)
    elif path.is_file():
        yield from _parse_file(path, source)
    else:
        raise ExportError("no such file or folder", path=str(path))


_NOTHING_FOUND = (
    "no Messenger or Instagram message files (messages/inbox/*/message_1.json) found; give the "
    "'Download your information' zip or folder, requested in JSON format"
)


def _parse_file(path: Path, source: str) -> Iterator[Record]:
    root = export_root(path.parent)
    tree = FolderTree(root)
    name = path.absolute().relative_to(root).as_posix()
    is_thread_file = THREAD_FILE.fullmatch(path.name) is not None
    folder = path.absolute().parent
    thread = Thread([name], folder.name if is_thread_file else None, None)
    if is_thread_file and folder.parent.parent.name == "messages":
        thread.category = folder.parent.name
    yield from _parse_threads(tree, [thread], source, single=True)
    if is_thread_file:
        siblings = [p for p in folder.glob("message*.json") if THREAD_FILE.fullmatch(p.name) and p.name != path.name]
        if siblings:
            yield Note(
                f"this chat has {len(siblings)} more message_N.json files beside this one; "
                "import the chat's folder (or the whole export) to include them"
            )


def parse_messenger(path: Path, options: ParseOptions) -> Iterator[Record]:
    return _parse(path, MESSENGER)


def parse_instagram(path: Path, options: ParseOptions) -> Iterator[Record]:
    return _parse(path, INSTAGRAM)


FORMATS = [
    Format(
        name=INSTAGRAM,
        source=INSTAGRAM,
        description="Instagram 'Download your information' messages (JSON; zip, folder or message_N.json)",
        detection="message_N.json threads under your_instagram_activity/, an "
        "instagram-<user>-<date> archive, or an ig.me group link",
        detect=detect_instagram,
        parse=parse_instagram,
    ),
    Format(
        name=MESSENGER,
        source=MESSENGER,
        description="Facebook Messenger 'Download your information' messages (JSON; zip, folder or "
        "message_N.json) and the end-to-end-encrypted chats download",
        detection="JSON with participants/messages[sender_name, timestamp_ms], in "
        "messages/<folder>/<thread>/message_N.json; or senderName/timestamp/threadName files",
        detect=detect_messenger,
        parse=parse_messenger,
    ),
]
