"""Discord: DiscordChatExporter JSON, and Discord's own data package (importers/discord/package.py).

DiscordChatExporter (Tyrrrz/DiscordChatExporter, "DCE") exports a channel, a DM or a thread to one
JSON file: in the app choose the channel, then Export → format "JSON" (optionally "Download
assets", which saves attachments into a `<file>.json_Files` folder beside it); on the command
line `DiscordChatExporter.Cli export -t TOKEN -c CHANNEL -f Json --media`. Versions 2.x from 2019
to now are read (older files lack reactions' users, roles, exportedAt; every field is optional).

What is read (formats/messenger-instagram-discord-slack-imessage.md §2.1): one JSON file, a
folder of them (a guild exported with its `_threads/`), or a zip of such a folder. A file can be
gigabytes: `guild` and `channel` are read first, then `messages` is streamed one at a time.
Chat.key is the channel id; Message.source_id the message id (a snowflake string).
"""

from __future__ import annotations

import math
import posixpath
import re
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from importers.base import (
    SNIFF_BYTES,
    Format,
    ParseOptions,
    head_text,
    is_zip,
    safe_member_name,
)
from importers.discord.common import chat_title, parse_time
from importers.discord.package import FORMAT as PACKAGE_FORMAT
from importers.tree import (
    JSON_ERRORS,
    ExportTree,
    FolderTree,
    WrongShape,
    ZipTree,
    dict_at,
    in_zip_tree,
    int_at,
    json_items,
    kind_for_name,
    list_at,
    mime_for_name,
    object_head,
    str_at,
)
from vault.errors import ExportError
from vault.records import (
    CHANNEL,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    GROUP,
    OTHER,
    STICKER,
    TEXT,
    UNKNOWN,
    Attachment,
    Chat,
    ChatKind,
    Event,
    EventKind,
    Message,
    MessageKind,
    Note,
    Problem,
    Reaction,
    Record,
)

# DCE's MessageKind names (DiscordChatExporter.Core/Discord/Data/MessageKind.cs). A kind DCE does
# not know is written as Discord's number ("20"): such messages are kept as messages when they
# have content (e.g. a bot's answer to a slash command) and as system events when not.
USER_TYPES = {"Default", "Reply"}
CALL_TYPE = "Call"
SYSTEM_TYPES: dict[str, EventKind] = {
    "RecipientAdd": EV_JOIN,
    "RecipientRemove": EV_LEAVE,
    "ChannelNameChange": EV_TITLE,
    "ChannelIconChange": EV_SYSTEM,
    "ChannelPinnedMessage": EV_PIN,
    "GuildMemberJoin": EV_JOIN,
    "ThreadCreated": EV_SYSTEM,
}
# DCE's ChannelKind names. DMs live in a pseudo guild with id "0" ("Direct Messages").
CHANNEL_KINDS: dict[str, ChatKind] = {"DirectTextChat": DIRECT, "DirectGroupTextChat": GROUP}
DM_GUILD_ID = "0"
# Reference.type of a forwarded message (DCE writes "Default" or nothing for replies).
FORWARD = "Forward"
# Discriminators that mean "none" (Discord's 2023 usernames have "0"; DCE pads to "0000").
NO_DISCRIMINATOR = {"", "0", "0000"}
# How many recent message ids are remembered to drop repeats (overlapping exports glued together
# repeat a message right where they meet; the vault dedups the rest by id).
RECENT_IDS = 4096
# How many folder entries and zip members detect() looks at.
_DETECT_ENTRIES = 200
# DCE writes "guild" first: the head of its files.
_DCE_HEAD = re.compile(r'\{\s*"guild"\s*:\s*\{')
# The folder DCE saves a file's assets into.
ASSETS_SUFFIX = "_Files"


class NotDce(ValueError):
    """Valid JSON, but not a DiscordChatExporter export."""


# ---------------------------------------------------------------------------------------------
# Detection


def _is_dce_head(text: str) -> bool:
    return _DCE_HEAD.match(text.lstrip("\ufeff \t\r\n")) is not None and '"channel"' in text


def _dce_names(tree: ExportTree, limit: int | None = None) -> Iterator[str]:
    """The tree's JSON files that are DCE exports (asset folders skipped)."""
    checked = 0
    for name in tree.names():
        p = PurePosixPath(name)
        if p.suffix.lower() != ".json" or any(part.endswith(ASSETS_SUFFIX) for part in p.parts[:-1]):
            continue
        checked += 1
        if limit is not None and checked > limit:
            return
        try:
            with tree.open(name) as fh:
                head = fh.read(SNIFF_BYTES).decode("utf-8", "replace")
        except JSON_ERRORS:
            continue
        if _is_dce_head(head):
            yield name


def _folder_has_dce(folder: Path) -> bool:
    seen = 0
    for sub in [folder, *sorted(p for p in folder.iterdir() if p.is_dir())[:_DETECT_ENTRIES]]:
        if sub.name.endswith(ASSETS_SUFFIX):
            continue
        for entry in sorted(sub.iterdir()):
            seen += 1
            if seen > _DETECT_ENTRIES:
                return False
            if entry.is_file() and entry.suffix.lower() == ".json" and _is_dce_head(head_text(entry)):
                return True
    return False


def detect_dce(path: Path) -> bool:
    try:
        if path.is_dir():
            return _folder_has_dce(path)
        if is_zip(path):
            with zipfile.ZipFile(path) as zf:
                return next(_dce_names(ZipTree(zf, path), _DETECT_ENTRIES), None) is not None
        return path.is_file() and path.suffix.lower() == ".json" and _is_dce_head(head_text(path))
    except (OSError, zipfile.BadZipFile, RuntimeError, ValueError, EOFError):
        return False


# ---------------------------------------------------------------------------------------------
# Chats


def _str_id(value: Any) -> str | None:
    """A snowflake as a string (exports write strings; a number is kept exact, never a float)."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _chat(header: dict[str, Any]) -> Chat:
    guild, channel = header.get("guild"), header.get("channel")
    if not isinstance(guild, dict) or not isinstance(channel, dict):
        raise NotDce("no guild and channel")
    cid = _str_id(channel.get("id"))
    if cid is None:
        raise NotDce("channel has no id")
    ctype = str_at(channel, "type") or ""
    name = str_at(channel, "name")
    guild_name = str_at(guild, "name")
    category = str_at(channel, "category")
    category_id = _str_id(channel.get("categoryId"))
    is_thread = ctype.endswith("Thread")
    extra: dict[str, Any] = {"channel_type": ctype} if ctype else {}
    kind: ChatKind
    if ctype in CHANNEL_KINDS or _str_id(guild.get("id")) == DM_GUILD_ID:
        kind = CHANNEL_KINDS.get(ctype, UNKNOWN)
        title = name
    else:
        kind = CHANNEL if ctype.startswith("Guild") else UNKNOWN
        title = chat_title(guild_name, name, category if is_thread else None)
        extra.update(guild_id=_str_id(guild.get("id")), guild=guild_name)
        if is_thread:  # DCE: for threads "category" is the parent channel
            extra.update(thread_parent_id=category_id, thread_parent=category)
        else:
            extra.update(category_id=category_id, category=category)
    extra["topic"] = str_at(channel, "topic") or None
    extra["exported_at"] = str_at(header, "exportedAt") or str_at(header, "timestamp")
    extra = {k: v for k, v in extra.items() if v is not None}
    return Chat("discord", cid, title or f"Discord channel {cid}", kind=kind, extra=extra)


# ---------------------------------------------------------------------------------------------
# Messages


@dataclass
class _Totals:
    """Counts over every file of one import, for the closing Note."""

    missing_assets: int = 0


@dataclass
class _Context:
    chat: str
    tree: ExportTree
    json_dir: str  # the export file's folder inside the tree
    totals: _Totals


def _display_name(user: Any) -> str | None:
    """What Discord shows: the nickname (guild nickname or display name), else the username."""
    return str_at(user, "nickname") or str_at(user, "name") or None


def _username(user: Any) -> str | None:
    """name#discriminator (or the bare name for accounts without a discriminator)."""
    name = str_at(user, "name")
    if not name:
        return None
    disc = str_at(user, "discriminator")
    return f"{name}#{disc}" if disc and disc not in NO_DISCRIMINATOR else name


def _local_asset(ctx: _Context, url: str) -> str | None:
    """The tree name of an asset DCE saved beside the export ("Download assets"), if present.

    DCE writes such urls relative to the export file, with Windows backslashes; a path that
    leaves the export folder is refused.
    """
    if not url or "://" in url:
        return None
    for raw in dict.fromkeys((url, unquote(url))):
        joined = posixpath.normpath(posixpath.join(ctx.json_dir, raw.replace("\\", "/")))
        safe = safe_member_name(joined)
        if safe is not None and safe != "." and ctx.tree.exists(safe):
            return safe
    return None


def _attachment(ctx: _Context, url: str, name: str | None, size: int | None, kind: MessageKind | None) -> Attachment:
    if not name:
        name = PurePosixPath(unquote(urlsplit(url.replace("\\", "/")).path)).name or "attachment"
    found = _local_asset(ctx, url)
    if found is None and url and "://" not in url:
        ctx.totals.missing_assets += 1
    if size is None and found is not None:
        size = ctx.tree.size(found)
    return Attachment(
        name=name,
        kind=kind or kind_for_name(name),
        mime=mime_for_name(name),
        size=size,
        open=None if found is None else ctx.tree.opener(found),
    )


def _attachments(ctx: _Context, msg: Any) -> list[Attachment]:
    files = [
        _attachment(ctx, str_at(a, "url") or "", str_at(a, "fileName"), int_at(a, "fileSizeBytes"), None)
        for a in list_at(msg, "attachments")
        if isinstance(a, dict)
    ]
    stickers = [
        _attachment(ctx, str_at(s, "sourceUrl") or "", str_at(s, "name"), None, STICKER)
        for s in list_at(msg, "stickers")
        if isinstance(s, dict)
    ]
    return files + stickers


def _reactions(msg: Any) -> tuple[list[Reaction], list[dict[str, Any]]]:
    """Per-person reactions where the export lists the people; counts (for extra) where not."""
    people: list[Reaction] = []
    counts: list[dict[str, Any]] = []
    for r in list_at(msg, "reactions"):
        emoji = dict_at(r, "emoji")
        name = str_at(emoji, "name")
        if not name:
            continue
        label = f":{name}:" if emoji.get("id") else name  # custom emoji as DCE writes them in text
        users = [u for u in list_at(r, "users") if isinstance(u, dict)]
        people += [Reaction(label, _display_name(u)) for u in users]
        count = int_at(r, "count")
        if count is not None and count > len(users):
            counts.append({"emoji": label, "count": count})
    return people, counts


def _embeds(msg: Any) -> list[dict[str, str]]:
    """Title, url and description of each embed (link previews, bots' cards)."""
    out = []
    for embed in list_at(msg, "embeds"):
        kept = {k: v for k in ("title", "url", "description") if (v := str_at(embed, k))}
        if kept:
            out.append(kept)
    return out


def _aware_time(value: Any) -> datetime:
    if not isinstance(value, str):
        raise ValueError("time is not a string")
    ts = parse_time(value)
    if ts.tzinfo is None:
        raise ValueError("time without zone")
    return ts


def _call_extra(start: datetime, msg: dict[str, Any]) -> dict[str, Any]:
    """The call's end and its duration in whole seconds, rounded up (a 0.2 s call lasted 1 s)."""
    ended = str_at(msg, "callEndedTimestamp")
    if not ended:
        return {}
    end = _aware_time(ended)
    return {"duration_s": max(0, math.ceil((end - start).total_seconds())), "ended": end.isoformat()}


def _is_system(mtype: str, has_content: bool) -> bool:
    """Whether a message of this DCE kind is a system entry (an Event): the kinds DCE names as
    such, and kinds it does not know (written as Discord's number) that carry nothing a person
    wrote. A bot's answer to a slash command ("20") has content and stays a message."""
    if mtype in SYSTEM_TYPES:
        return True
    return mtype not in USER_TYPES and mtype != CALL_TYPE and not has_content


def convert(msg: Any, ctx: _Context) -> Message | Event:
    """One DCE message as a Message or an Event; ValueError/TypeError/KeyError when malformed."""
    if not isinstance(msg, dict):
        raise TypeError("message is not an object")
    mid = _str_id(msg.get("id"))
    if mid is None:
        raise KeyError("id")
    ts = _aware_time(msg.get("timestamp"))
    mtype = str(msg.get("type") or "Default")
    author = dict_at(msg, "author")
    sender = _display_name(author)
    text = str_at(msg, "content") or ""
    extra: dict[str, Any] = {} if mtype in USER_TYPES else {"type": mtype}
    username = _username(author)
    if username and username != sender:
        extra["username"] = username
    if author.get("isBot") is True:
        extra["bot"] = True
    if msg.get("isPinned") is True:
        extra["pinned"] = True
    reference = dict_at(msg, "reference")
    attachments = _attachments(ctx, msg)
    embeds = _embeds(msg)

    if mtype == CALL_TYPE:  # a call is an event (cli-contract.md), with its length kept
        extra.update(_call_extra(ts, msg))
        return Event(ctx.chat, ts, text or "call", kind=EV_CALL, actor=sender, source_id=mid, extra=extra)
    if _is_system(mtype, bool(text or attachments or embeds)):
        if mtype == "ThreadCreated" and _str_id(reference.get("channelId")):
            extra["thread_id"] = _str_id(reference.get("channelId"))
        if mtype == "ChannelPinnedMessage" and _str_id(reference.get("messageId")):
            extra["message_id"] = _str_id(reference.get("messageId"))
        mentioned = [n for n in map(_display_name, list_at(msg, "mentions")) if n]
        if mentioned:
            extra["users"] = mentioned
        return Event(
            ctx.chat, ts, text, kind=SYSTEM_TYPES.get(mtype, EV_SYSTEM), actor=sender, source_id=mid, extra=extra
        )

    reply_to = None
    if reference.get("type") == FORWARD:
        ids = {k: _str_id(reference.get(k)) for k in ("messageId", "channelId", "guildId")}
        extra["forwarded"] = {k: v for k, v in ids.items() if v}
    else:
        reply_to = _str_id(reference.get("messageId"))
    forwarded = dict_at(msg, "forwardedMessage")
    if forwarded:
        text = text or str_at(forwarded, "content") or ""
        attachments += _attachments(ctx, forwarded)
    people, counts = _reactions(msg)
    if counts:
        extra["reactions"] = counts
    if embeds:
        extra["embeds"] = embeds
    edited = _aware_time(msg["timestampEdited"]) if str_at(msg, "timestampEdited") else None

    kind = attachments[0].kind if not text and attachments else TEXT if text or embeds else OTHER
    return Message(
        chat=ctx.chat,
        ts=ts,
        sender=sender,
        text=text,
        kind=kind,
        source_id=mid,
        sender_id=_str_id(author.get("id")),
        reply_to=reply_to,
        edited=edited,
        attachments=tuple(attachments),
        reactions=tuple(people),
        extra=extra,
    )


# ---------------------------------------------------------------------------------------------
# Parsing


def _file_records(tree: ExportTree, name: str, totals: _Totals, *, single: bool) -> Iterator[Record]:
    """The records of one DCE file: its header (guild, channel) is read first, then the messages
    are streamed one at a time. Before the chat is known, damage is an ExportError (one file)
    or a Problem (a folder); after it, a Problem saying where reading stopped."""
    ctx: _Context | None = None
    record = 0
    recent: OrderedDict[str, None] = OrderedDict()
    try:
        with tree.open(name) as fh:
            chat = _chat(object_head(fh, "messages"))
        yield chat
        parent = str(PurePosixPath(name).parent)
        ctx = _Context(chat.key, tree, "" if parent == "." else parent, totals)
        with tree.open(name) as fh:
            for record, value in enumerate(json_items(fh, "messages.item"), 1):
                mid = _str_id(value.get("id")) if isinstance(value, dict) else None
                if mid is not None and mid in recent:
                    continue  # the same message twice (overlapping exports glued together)
                if mid is not None:
                    recent[mid] = None
                    if len(recent) > RECENT_IDS:
                        recent.popitem(last=False)
                try:
                    yield convert(value, ctx)
                except (KeyError, TypeError, ValueError, ArithmeticError):
                    what = f"message {record} has an unexpected structure; skipped"
                    yield Problem(tree.where(name), record, what)
    except (NotDce, WrongShape) as exc:
        if single:
            raise ExportError(
                "not a DiscordChatExporter JSON export (no guild/channel); check --format",
                path=tree.where(name),
            ) from exc
        yield Problem(tree.where(name), None, "not a DiscordChatExporter export; skipped")
    except JSON_ERRORS as exc:
        if ctx is None and single:
            raise ExportError(
                "not readable DiscordChatExporter JSON (truncated or damaged?); export the channel again",
                path=tree.where(name),
            ) from exc
        if ctx is None:
            yield Problem(tree.where(name), None, "not readable JSON (truncated or damaged?); skipped")
        else:
            what = f"the file is damaged or ends early after message {record}; the rest was not read"
            yield Problem(tree.where(name), record + 1, what)


def _missing_note(totals: _Totals) -> Iterator[Note]:
    if totals.missing_assets:
        yield Note(
            f"{totals.missing_assets} attachment files named in the export were not found "
            "beside it (exported without 'Download assets'?); their names were kept"
        )


def _parse_tree(tree: ExportTree, path: Path) -> Iterator[Record]:
    names = list(_dce_names(tree))
    if not names:
        raise ExportError(
            "no DiscordChatExporter JSON files found; export channels with format JSON",
            path=str(path),
        )
    totals = _Totals()
    for name in names:
        yield from _file_records(tree, name, totals, single=False)
    yield from _missing_note(totals)


def parse_dce(path: Path, options: ParseOptions) -> Iterator[Record]:
    if is_zip(path):
        yield from in_zip_tree(path, lambda tree: _parse_tree(tree, path))
    elif path.is_dir():
        yield from _parse_tree(FolderTree(path), path)
    elif path.is_file():
        totals = _Totals()
        folder = FolderTree(path.absolute().parent)
        yield from _file_records(folder, path.name, totals, single=True)
        yield from _missing_note(totals)
    else:
        raise ExportError("no such file or folder", path=str(path))


FORMATS = [
    Format(
        name="discord",
        source="discord",
        description="DiscordChatExporter JSON exports (a channel, DM or thread file; a folder or zip of them)",
        detection='JSON that starts with {"guild": {...}, "channel": ...}',
        detect=detect_dce,
        parse=parse_dce,
    ),
    PACKAGE_FORMAT,
]
