"""Google Chat from Takeout: finding the groups and the owner in a folder or zip, and reading messages.json."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from importers.base import loads_json, safe_member_name
from importers.google_chat.dates import parse_chat_date
from importers.google_chat.hangouts import read_hangouts
from importers.tree import (
    JSON_ERRORS,
    READ_ERRORS,
    ExportTree,
    dict_at,
    json_items,
    kind_for_name,
    list_at,
    mime_for_name,
    str_at,
)
from vault.errors import ExportError
from vault.records import (
    DELETED,
    DIRECT,
    GROUP,
    OTHER,
    TEXT,
    Attachment,
    Chat,
    ChatKind,
    Message,
    Note,
    Problem,
    Reaction,
    Record,
)

SOURCE = "googlechat"

# `Google Chat/Groups/<DM id | Space id>/messages.json`, at any depth of the tree (Takeout/..., or not).
GROUP_MESSAGES = re.compile(r"^(?P<root>(?:.*/)?)Groups/(?P<group>[^/]+)/messages\.json$")
USER_INFO = re.compile(r"^(?P<root>(?:.*/)?)Users/[^/]+/user_info\.json$")
HANGOUTS_JSON = re.compile(r"^(?:.*/)?Hangouts/Hangouts\.json$")
# Folder names Takeout gives conversations: "DM <id>" (one-to-one and unnamed groups), "Space <id>".
GROUP_FOLDER = re.compile(r"^(?P<prefix>DM|Space|Group) (?P<id>\S+)$")
# group_info.json and user_info.json are small; anything bigger is not one.
MAX_INFO = 16 * 2**20


@dataclass
class Owner:
    email: str | None = None
    name: str | None = None


@dataclass
class Group:
    folder: str  # e.g. "Takeout/Google Chat/Groups/DM abc/"
    name: str  # "DM abc"
    members: dict[str, str] = field(default_factory=dict)  # lower-cased email -> name


def find_groups(tree: ExportTree, under: str = "") -> list[Group]:
    groups = []
    for name in tree.names(under):
        m = GROUP_MESSAGES.match(name)
        if m is None:
            continue
        folder = name[: -len("messages.json")]
        # Not every Groups/<x>/messages.json is Google Chat's (Takeout has a "Groups" product too).
        if GROUP_FOLDER.match(m["group"]) or tree.exists(folder + "group_info.json"):
            groups.append(Group(folder=folder, name=m["group"]))
    return groups


def read_small_json(tree: ExportTree, name: str) -> Any:
    with tree.open(name) as fh:
        raw = fh.read(MAX_INFO + 1)
    if len(raw) > MAX_INFO:
        raise ValueError("too large")
    return loads_json(raw.decode("utf-8-sig"), tree.where(name))


def find_owner(tree: ExportTree, under: str) -> tuple[Owner, list[Record]]:
    """The account the export belongs to, from Users/User <id>/user_info.json."""
    found = [n for n in tree.names(under) if USER_INFO.match(n)]
    if len(found) != 1:
        note: list[Record] = (
            [Note(f"{len(found)} accounts under Users/; whose messages are whose is not marked")]
            if len(found) > 1
            else [Note("no Users/…/user_info.json beside Groups/: your own messages are not marked as yours")]
        )
        return Owner(), list(note)
    try:
        user = dict_at(read_small_json(tree, found[0]), "user")
    except READ_ERRORS:
        return Owner(), [Problem(tree.where(found[0]), None, "not readable JSON; your own messages are not marked")]
    email = str_at(user, "email")
    return Owner(email.lower() if email else None, str_at(user, "name")), []


def _person(obj: Any) -> tuple[str | None, str | None]:
    """(display name, lower-cased email) of a Google Chat user object."""
    name = (str_at(obj, "name") or "").strip() or None
    email = (str_at(obj, "email") or "").strip().lower() or None
    return name, email


def group_chat(tree: ExportTree, group: Group, owner: Owner) -> tuple[Chat, list[Record]]:
    info: Any = {}
    problems: list[Record] = []
    info_name = group.folder + "group_info.json"
    if tree.exists(info_name):
        try:
            info = read_small_json(tree, info_name)
        except READ_ERRORS:
            problems.append(Problem(tree.where(info_name), None, "not readable JSON; chat members unknown"))
    names: list[str] = []
    for member in list_at(info, "members"):
        name, email = _person(member)
        if email:
            group.members[email] = name or email
        if name or email:
            names.append(name or email or "")
    m = GROUP_FOLDER.match(group.name)
    prefix = m["prefix"] if m else ""
    others = [n for e, n in group.members.items() if e != owner.email] or [n for n in names if n != owner.name]
    title = (str_at(info, "name") or "").strip()
    if not title:
        title = ", ".join(others) if prefix != "Space" and others else group.name
    kind: ChatKind = GROUP if prefix == "Space" or len(names) > 2 else DIRECT
    chat = Chat(source=SOURCE, key=group.name, title=title, kind=kind, participants=tuple(names))
    return chat, problems


def group_records(tree: ExportTree, group: Group, owner: Owner, *, alone: bool) -> Iterator[Record]:
    """A group's Chat and messages. A messages.json that cannot be read is an ExportError when it is
    the only group, else a Problem (the other groups still import)."""
    chat, problems = group_chat(tree, group, owner)
    yield chat
    yield from problems
    name = group.folder + "messages.json"
    where = tree.where(name)
    count = 0
    try:
        with tree.open(name) as fh:
            for count, item in enumerate(json_items(fh, "messages.item"), 1):
                yield convert(tree, group, owner, chat.key, item, count, where)
    except JSON_ERRORS as exc:
        message = f"not readable as a Google Chat messages.json after {count} messages (damaged or truncated?)"
        if alone:
            raise ExportError(message + "; download the Takeout again", path=where) from exc
        yield Problem(where, None, message + "; the other conversations were read")


def _attachment(tree: ExportTree, group: Group, item: Any) -> Attachment:
    export = str_at(item, "export_name")
    original = str_at(item, "original_name")
    shown = original or export or "attachment"
    opener = None
    size = None
    if export and "/" not in export and "\\" not in export:
        # Takeout writes "?" in export_name as "_" on disk (File-123?account_id=3.png).
        for candidate in (export, export.replace("?", "_")):
            full = group.folder + candidate
            if safe_member_name(full) == full.rstrip("/") and tree.exists(full):
                opener, size = tree.opener(full), tree.size(full)
                break
    kind = kind_for_name(original or export or "")
    return Attachment(name=shown, kind=kind, mime=mime_for_name(shown), size=size, open=opener)


def _reactions(item: Any, members: dict[str, str]) -> tuple[Reaction, ...]:
    out: list[Reaction] = []
    for reaction in list_at(item, "reactions"):
        emoji_obj = dict_at(reaction, "emoji")
        emoji = str_at(emoji_obj, "unicode") or str_at(dict_at(emoji_obj, "custom_emoji"), "short_code")
        if not emoji:
            continue
        reactors = [r for r in list_at(reaction, "reactor_emails") if isinstance(r, str)]
        if not reactors:
            out.append(Reaction(emoji))
        for email in reactors:
            out.append(Reaction(emoji, sender=members.get(email.lower(), email)))
    return tuple(out)


def convert(tree: ExportTree, group: Group, owner: Owner, key: str, item: Any, n: int, where: str) -> Record:
    if not isinstance(item, dict):
        return Problem(where, None, f"message {n} is not an object; skipped")
    ts = parse_chat_date(str_at(item, "created_date") or "")
    if ts is None:
        return Problem(where, None, f"message {n} has no created_date this reader understands; skipped")
    name, email = _person(dict_at(item, "creator"))
    sender = name or (group.members.get(email) if email else None) or email
    from_me = None if owner.email is None or email is None else email == owner.email
    updated = parse_chat_date(str_at(item, "updated_date") or "")
    edited = updated if updated is not None and updated != ts else None
    quoted = dict_at(item, "quoted_message_metadata")
    reply_to = str_at(quoted, "message_id")
    extra: dict[str, Any] = {}
    if str_at(item, "topic_id"):
        extra["topic_id"] = str_at(item, "topic_id")
    user_type = str_at(dict_at(item, "creator"), "user_type")
    if user_type and user_type != "Human":
        extra["user_type"] = user_type
    deletion = item.get("deletion_metadata")
    if isinstance(deletion, dict):
        extra["deletion"] = str_at(deletion, "deletion_type") or "deleted"
        return Message(
            chat=key,
            ts=ts,
            sender=sender,
            sender_id=email,
            from_me=from_me,
            text="",
            kind=DELETED,
            source_id=str_at(item, "message_id"),
            reply_to=reply_to,
            extra=extra,
        )
    attachments = tuple(_attachment(tree, group, f) for f in list_at(item, "attached_files") if isinstance(f, dict))
    text = str_at(item, "text") or ""
    kind = attachments[0].kind if attachments else TEXT if text else OTHER
    return Message(
        chat=key,
        ts=ts,
        sender=sender,
        sender_id=email,
        from_me=from_me,
        text=text,
        kind=kind,
        source_id=str_at(item, "message_id"),
        reply_to=reply_to,
        edited=edited,
        attachments=attachments,
        reactions=_reactions(item, group.members),
        extra=extra,
    )


def tree_records(tree: ExportTree, under: str, hangouts: list[str]) -> Iterator[Record]:
    """Every group found under `under` (the owner read from the Users/ beside Groups/), then the
    Hangouts.json files named in `hangouts` (a whole Takeout holds both)."""
    groups = find_groups(tree, under)
    owners: dict[str, Owner] = {}
    for root in sorted({g.folder[: g.folder.rfind("Groups/")] for g in groups}):
        owners[root], notes = find_owner(tree, root + "Users/")
        yield from notes
    for group in groups:
        owner = owners[group.folder[: group.folder.rfind("Groups/")]]
        yield from group_records(tree, group, owner, alone=len(groups) == 1 and not hangouts)
    for name in hangouts:
        yield from hangouts_member(tree, name)


def lone_group_records(tree: ExportTree, name: str) -> Iterator[Record]:
    """A conversation folder copied out of its Takeout (no Groups/ or Users/ around it)."""
    yield Note("a conversation folder without the Users/ folder of its Takeout: your own messages are not marked")
    yield from group_records(tree, Group(folder="", name=name), Owner(), alone=True)


def hangouts_member(tree: ExportTree, name: str) -> Iterator[Record]:
    where = tree.where(name)
    try:
        with tree.open(name) as fh:
            yield from read_hangouts(fh, where)
    except JSON_ERRORS:
        yield Problem(where, None, "Hangouts.json is not readable JSON (damaged or truncated?); the rest was read")
