"""Discord's own data package ("Request my data"): the messages the person sent.

How a person gets it: Discord → User Settings → "Data & Privacy" (formerly "Privacy & Safety")
→ "Request all of my data" → Discord e-mails a link to `package.zip` within about 30 days.

What is read (formats/messenger-instagram-discord-slack-imessage.md §2.2): the zip or its
unpacked folder (or its `messages/` folder, or one channel's folder):

- `messages/c<channel id>/messages.json` (2024+: `[{"ID": 469641859543728149, "Timestamp":
  "2018-07-19 23:09:04", "Contents": "...", "Attachments": "url url"}]`) or `messages.csv`
  (earlier: `ID,Timestamp,Contents,Attachments`, multi-line quoted contents), with the
  channel's `channel.json` beside it; folders without the `c` prefix (before mid-2021) and
  capitalised top folders (`Messages/`, `Account/`) too;
- `messages/index.json` (channel id → "Direct Message with name#0", "general in Guild") for
  chat names, and `account/user.json` for the sender's own name and id.

The package holds only the messages its owner sent, so every message is `from_me`. Ids are JSON
numbers above 2^53: they are read as exact integers, never floats. Attachment bytes are not in
the package (only expiring CDN links): names are kept. Message ids and channel ids are the same
as in DiscordChatExporter exports, so importing both merges them.
"""

from __future__ import annotations

import csv
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import unquote, urlsplit

from importers.base import Format, ParseOptions, head_text, is_zip, loads_json, safe_member_name
from importers.discord.common import chat_title, parse_time
from importers.tree import (
    CSV_ERRORS,
    JSON_ERRORS,
    READ_ERRORS,
    ExportTree,
    FolderTree,
    dict_at,
    in_zip_tree,
    json_events,
    json_items,
    kind_for_name,
    list_at,
    mime_for_name,
    str_at,
)
from vault.errors import ExportError
from vault.records import (
    CHANNEL,
    DIRECT,
    GROUP,
    OTHER,
    TEXT,
    UNKNOWN,
    Attachment,
    Chat,
    ChatKind,
    Message,
    Problem,
    Record,
)

# messages/c<id>/<file>, case-insensitive, with or without the "c" (packages before mid-2021).
_CHANNEL_FILE = re.compile(
    r"(?i)^(?P<root>(?:.*/)?)(?P<messages>messages)/(?P<dir>c?(?P<id>\d+))/"
    r"(?P<file>channel\.json|messages\.json|messages\.csv)$"
)
_CHANNEL_DIR = re.compile(r"c?(\d+)")
CHANNEL_FILES = ("channel.json", "messages.json", "messages.csv")
# channel.json "type": strings in current packages, Discord's numbers in older ones
# (discord.com/developers/docs/resources/channel#channel-object-channel-types).
CHANNEL_TYPES: dict[str, ChatKind] = {
    "DM": DIRECT,
    "1": DIRECT,
    "GROUP_DM": GROUP,
    "3": GROUP,
    **dict.fromkeys(
        (
            "GUILD_TEXT",
            "GUILD_VOICE",
            "GUILD_NEWS",
            "GUILD_ANNOUNCEMENT",
            "GUILD_STAGE_VOICE",
            "GUILD_FORUM",
            "PUBLIC_THREAD",
            "PRIVATE_THREAD",
            "ANNOUNCEMENT_THREAD",
            "NEWS_THREAD",
        ),
        CHANNEL,
    ),
    **dict.fromkeys(("0", "2", "5", "10", "11", "12", "13", "15"), CHANNEL),
}
# index.json's label for a DM; the other person's name follows.
DM_LABEL = "Direct Message with "
# The discriminator of accounts on Discord's 2023 usernames, as index.json labels show it.
NO_DISCRIMINATOR = "#0"
# index.json's label for channels without a name.
NO_LABEL = "None"
# user.json keys read for the owner's name (the file can be megabytes: streamed, not loaded).
_USER_KEYS = ("id", "username", "global_name", "discriminator")
# Once id and username are known, look this many more top-level keys ahead for global_name.
_USER_LOOKAHEAD = 32
# channel.json and index.json are small; refuse to load more than this.
MAX_SMALL_JSON = 16 * 1024 * 1024
# How many folder entries detect() looks at.
_DETECT_ENTRIES = 200


@dataclass
class _Channel:
    id: str
    files: dict[str, str]  # "channel.json"/"messages.json"/"messages.csv" → tree name


@dataclass
class _Owner:
    id: str | None = None
    name: str | None = None


# ---------------------------------------------------------------------------------------------
# Detection


def _is_messages_json_head(text: str) -> bool:
    text = text.lstrip("\ufeff \t\r\n")
    return text.startswith("[") and '"ID"' in text and '"Timestamp"' in text


def _is_messages_csv_head(text: str) -> bool:
    first = text.lstrip("\ufeff").split("\n", 1)[0].strip().lower()
    return first.startswith("id,timestamp,contents")


def _channel_folder(folder: Path) -> bool:
    """A folder holding one channel: channel.json (with an id) plus messages.json or .csv."""
    channel = folder / "channel.json"
    return (
        channel.is_file()
        and '"id"' in head_text(channel)
        and ((folder / "messages.json").is_file() or (folder / "messages.csv").is_file())
    )


def _has_messages_dir(folder: Path) -> bool:
    return (folder / "messages").is_dir() or (folder / "Messages").is_dir()


def detect_package(path: Path) -> bool:
    try:
        if path.is_dir():
            if _channel_folder(path):
                return True
            messages = path if path.name.lower() == "messages" else None
            for name in ("messages", "Messages"):
                if (path / name).is_dir():
                    messages = path / name
            if messages is None:
                return False
            entries = sorted(messages.iterdir())[:_DETECT_ENTRIES]
            return any(e.is_dir() and _CHANNEL_DIR.fullmatch(e.name) and _channel_folder(e) for e in entries)
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                names = (safe_member_name(n) for n in zf.namelist())
                return any(n is not None and _CHANNEL_FILE.match(n) for n in names)
        if path.is_file() and (path.parent / "channel.json").is_file():
            if path.name.lower() == "messages.csv":
                return _is_messages_csv_head(head_text(path))
            if path.name.lower() == "messages.json":
                return _is_messages_json_head(head_text(path))
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
        return False
    return False


# ---------------------------------------------------------------------------------------------
# Finding the files


@dataclass
class _Layout:
    """Where things are in the tree: the package root, the messages folder, the channels."""

    root: str  # "" or "some/folder/"
    messages: str  # e.g. "messages/" or "Messages/"
    channels: list[_Channel]


def _layout(tree: ExportTree, under: str) -> _Layout:
    found: dict[str, _Channel] = {}
    root, messages = "", "messages/"
    for name in tree.names(under):
        m = _CHANNEL_FILE.match(name)
        if m is None:
            continue
        root, messages = m["root"], f"{m['root']}{m['messages']}/"
        channel = found.setdefault(name.rsplit("/", 1)[0], _Channel(m["id"], {}))
        channel.files[m["file"].lower()] = name
    channels = sorted(found.items(), key=lambda item: (int(item[1].id), item[0]))
    return _Layout(root, messages, [c for _, c in channels])


def _lone_channel(tree: FolderTree, folder: Path) -> _Layout:
    """A channel folder outside any package layout (copied on its own)."""
    files = {n: n for n in CHANNEL_FILES if tree.exists(n)}
    m = _CHANNEL_DIR.fullmatch(folder.name)
    cid = m.group(1) if m else None
    if cid is None and "channel.json" in files:
        channel_id = str_at(_read_small_json(tree, files["channel.json"]), "id")
        cid = channel_id if channel_id and channel_id.isdigit() else None
    return _Layout("", "", [_Channel(cid, files)] if cid else [])


def _find(tree: ExportTree, under: str, *parts: str) -> str | None:
    """A file below `under` whose path matches `parts` without regard to case."""
    wanted = "/".join(parts).lower()
    for name in tree.names(under):
        if name[len(under) :].lower() == wanted:
            return name
    return None


def _read_small_json(tree: ExportTree, name: str) -> Any:
    """A small JSON file (channel.json, index.json) with integers kept as exact strings."""
    with tree.open(name) as fh:
        raw = fh.read(MAX_SMALL_JSON + 1)
    if len(raw) > MAX_SMALL_JSON:
        raise ValueError("file too large")
    return loads_json(raw.decode("utf-8-sig"), tree.where(name), parse_int=str, parse_float=Decimal)


def _owner(tree: ExportTree, root: str) -> _Owner:
    """The package owner's id and name from account/user.json."""
    name = _find(tree, root, "account", "user.json")
    values: dict[str, str] = {}
    if name is not None:
        after = 0
        try:
            with tree.open(name) as fh:
                for prefix, event, value in json_events(fh):
                    if prefix == "" and event == "map_key" and "id" in values and "username" in values:
                        after += 1
                        if "global_name" in values or after > _USER_LOOKAHEAD:
                            break
                    elif prefix in _USER_KEYS and event in ("string", "number"):
                        values[prefix] = str(value)
        except JSON_ERRORS:
            values = {}
    return _Owner(values.get("id"), values.get("global_name") or values.get("username"))


# ---------------------------------------------------------------------------------------------
# Records


def _channel_chat(tree: ExportTree, channel: _Channel, labels: dict[str, Any]) -> tuple[Chat, Problem | None]:
    """The channel's Chat, and a Problem when its channel.json cannot be read."""
    info: dict[str, Any] = {}
    problem = None
    if "channel.json" in channel.files:
        try:
            loaded = _read_small_json(tree, channel.files["channel.json"])
            info = loaded if isinstance(loaded, dict) else {}
        except READ_ERRORS:
            where = tree.where(channel.files["channel.json"])
            problem = Problem(where, None, "channel.json is not readable; the channel's name is unknown")
    ctype = str(info.get("type", ""))
    guild = dict_at(info, "guild")
    guild_name = str_at(guild, "name")
    label = str_at(labels, channel.id)
    label = label if label not in ("", NO_LABEL) else None
    title = chat_title(guild_name, str_at(info, "name"))
    if title is None and label:
        title = label.removeprefix(DM_LABEL).removesuffix(NO_DISCRIMINATOR)
    extra: dict[str, Any] = {"channel_type": ctype} if ctype else {}
    if guild.get("id") is not None:
        extra["guild_id"] = str(guild["id"])
    if guild_name:
        extra["guild"] = guild_name
    recipients = [r for r in list_at(info, "recipients") if isinstance(r, str)]
    if recipients:
        extra["recipients"] = recipients
    chat = Chat(
        "discord",
        channel.id,
        title or f"Discord channel {channel.id}",
        kind=CHANNEL_TYPES.get(ctype, UNKNOWN),
        extra=extra,
    )
    return chat, problem


def package_time(text: Any) -> datetime:
    """A data-package Timestamp as an aware UTC datetime.

    messages.csv writes a zone ("2020-08-25 22:54:05.726000+00:00"); messages.json does not
    ("2018-07-19 23:09:04"). Zone-less values are UTC: they agree with the creation time in the
    message's own snowflake id (id 469641859543728149 → 2018-07-19 23:09:04.839 UTC).
    """
    if not isinstance(text, str):
        raise ValueError("Timestamp is not a string")
    ts = parse_time(text)
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=timezone.utc)


def _message_id(value: Any) -> str:
    """The message id as a string, exact (a JSON number arrives as int, never float)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().isdigit():
        return value.strip()
    raise ValueError("ID is not an integer")


def _message(chat: str, owner: _Owner, item: dict[str, Any], line: int | None = None) -> Message:
    text = str_at(item, "contents") or ""
    urls = (str_at(item, "attachments") or "").split()
    files = []
    for url in urls:
        name = PurePosixPath(unquote(urlsplit(url).path)).name or "attachment"
        files.append(Attachment(name=name, kind=kind_for_name(name), mime=mime_for_name(name)))
    return Message(
        chat=chat,
        ts=package_time(item["timestamp"]),
        sender=owner.name,
        text=text,
        kind=TEXT if text else files[0].kind if files else OTHER,
        source_id=_message_id(item["id"]),
        sender_id=owner.id,
        from_me=True,
        attachments=tuple(files),
        line=line,
    )


def _json_messages(tree: ExportTree, name: str, chat: str, owner: _Owner) -> Iterator[Record]:
    record = 0
    try:
        with tree.open(name) as fh:
            for record, item in enumerate(json_items(fh, "item"), 1):
                try:
                    if not isinstance(item, dict):
                        raise TypeError("not an object")
                    yield _message(chat, owner, {k.lower(): v for k, v in item.items()})
                except (KeyError, TypeError, ValueError, ArithmeticError):
                    yield Problem(
                        tree.where(name),
                        record,
                        f"message {record} has an unexpected structure; skipped",
                    )
    except JSON_ERRORS:
        yield Problem(
            tree.where(name),
            record + 1,
            f"not readable JSON after message {record} (truncated or damaged?); rest not read",
        )


def _decoded_lines(raw: IO[bytes]) -> Iterator[str]:
    """The lines of a byte stream as text, each decoded on its own (so that an undecodable byte
    is reported at its line, after every row before it was read); BOM removed, ends kept."""
    for number, line in enumerate(raw, 1):
        text = line.decode("utf-8")
        yield text.removeprefix("\ufeff") if number == 1 else text


def _csv_messages(tree: ExportTree, name: str, chat: str, owner: _Owner) -> Iterator[Record]:
    """Rows of messages.csv; `line` is where a row starts (contents may span lines)."""
    line = 1
    try:
        with tree.open(name) as raw:
            reader = csv.reader(_decoded_lines(raw))
            header = [h.strip().lower() for h in next(reader, [])]
            if header[:2] != ["id", "timestamp"]:
                what = "not a Discord messages.csv (no ID,Timestamp header); skipped"
                yield Problem(tree.where(name), 1, what)
                return
            line = reader.line_num + 1
            for row in reader:
                start, line = line, reader.line_num + 1
                try:
                    yield _message(chat, owner, dict(zip(header, row)), start)
                except (KeyError, TypeError, ValueError, ArithmeticError):
                    yield Problem(tree.where(name), start, "row has an unexpected structure; skipped")
    except CSV_ERRORS:
        what = "not readable as UTF-8 CSV from here on (damaged?); the rest was not read"
        yield Problem(tree.where(name), line, what)


def _parse_layout(tree: ExportTree, layout: _Layout, path: Path) -> Iterator[Record]:
    channels = [c for c in layout.channels if "messages.json" in c.files or "messages.csv" in c.files]
    if not channels:
        raise ExportError(
            "no Discord data package messages (messages/c<id>/messages.json or .csv) found; give "
            "package.zip or the folder it was unpacked into",
            path=str(path),
        )
    labels: dict[str, Any] = {}
    index = _find(tree, layout.messages, "index.json") if layout.messages else None
    if index is not None:
        try:
            loaded = _read_small_json(tree, index)
            labels = loaded if isinstance(loaded, dict) else {}
        except READ_ERRORS:
            yield Problem(tree.where(index), None, "index.json is not readable; channel names may be missing")
    owner = _owner(tree, layout.root)
    for channel in channels:
        chat, problem = _channel_chat(tree, channel, labels)
        if problem is not None:
            yield problem
        yield chat
        if "messages.json" in channel.files:
            yield from _json_messages(tree, channel.files["messages.json"], chat.key, owner)
        else:
            yield from _csv_messages(tree, channel.files["messages.csv"], chat.key, owner)


def _package_root(folder: Path) -> Path | None:
    """The package folder when `folder` is it, its messages folder or one of its channels."""
    for candidate in (folder, folder.parent, folder.parent.parent):
        if _has_messages_dir(candidate):
            return candidate
    return None


def _parse_folder(folder: Path) -> Iterator[Record]:
    """The package, its messages folder or one channel's folder (also one copied on its own)."""
    folder = folder.absolute()
    root = _package_root(folder)
    if root is not None:
        package = FolderTree(root)
        under = folder.relative_to(root).as_posix()
        layout = _layout(package, "" if under == "." else under + "/")
        if layout.channels:
            yield from _parse_layout(package, layout, folder)
            return
    tree = FolderTree(folder)
    try:
        layout = _lone_channel(tree, folder)
    except READ_ERRORS as exc:
        raise ExportError("channel.json is not readable JSON", path=str(folder)) from exc
    yield from _parse_layout(tree, layout, folder)


def parse_package(path: Path, options: ParseOptions) -> Iterator[Record]:
    if is_zip(path):
        yield from in_zip_tree(path, lambda tree: _parse_layout(tree, _layout(tree, ""), path))
    elif path.is_dir():
        yield from _parse_folder(path)
    elif path.is_file() and path.name.lower() in CHANNEL_FILES:
        yield from _parse_folder(path.parent)  # that file's channel
    elif path.is_file():
        raise ExportError(
            "not part of a Discord data package; give package.zip, the folder it was unpacked "
            "into, or a channel's messages.json / messages.csv",
            path=str(path),
        )
    else:
        raise ExportError("no such file or folder", path=str(path))


FORMAT = Format(
    name="discord-package",
    source="discord",
    description="Discord's data package (Request my data): messages/c<id>/messages.json or .csv",
    detection="messages/c<id>/channel.json with messages.json or messages.csv (zip or folder)",
    detect=detect_package,
    parse=parse_package,
)
