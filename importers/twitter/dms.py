"""X/Twitter DM entries (messageCreate and the conversation events) as records."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from importers.tree import dict_at, kind_for_name, list_at, mime_for_name, str_at
from importers.twitter.archive import Archive, DmFile, array_objects
from vault.records import (
    DIRECT,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    GIF,
    GROUP,
    OTHER,
    TEXT,
    VIDEO,
    Attachment,
    Chat,
    Event,
    Message,
    Problem,
    Reaction,
    Record,
)

SOURCE = "twitter"

# reactionKey values and the emoji X shows for them (alkihis/twitter-archive-reader:ts/types/GDPRDMs.ts);
# newer archives may carry the emoji itself, which is kept as it is.
REACTIONS = {
    "agree": "\U0001f44d",
    "disagree": "\U0001f44e",
    "sad": "\U0001f622",
    "funny": "\U0001f602",
    "surprised": "\U0001f62e",
    "like": "\u2764\ufe0f",
    "hot": "\U0001f525",
    "excited": "\U0001f389",
    "mad": "\U0001f620",
}
_WANTED = {
    "item.dmConversation.conversationId": "id",
    "item.dmConversation.messages.item": "entry",
}


def twitter_time(value: object) -> datetime | None:
    """`createdAt` ("2024-06-05T13:45:22.000Z") as an aware UTC datetime."""
    if not isinstance(value, str) or "T" not in value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc) if parsed.tzinfo is not None else None


@dataclass
class _Conversation:
    file: DmFile
    key: str | None = None
    title_ts: datetime | None = None  # of the name update the title comes from
    pending: list[Any] = field(default_factory=list)
    count: int = 0


class Reader:
    """One archive's DM files, read one entry at a time."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        owner = archive.owner
        self.owner_id = owner.id
        self.owner_name = owner.name or (f"@{owner.username}" if owner.username else None)

    def name(self, user_id: str | None) -> str | None:
        """How a user is shown: the owner by their display name; others only by their numeric id."""
        if not user_id:
            return None
        if user_id == self.owner_id and self.owner_name:
            return self.owner_name
        return f"@{user_id}"

    def records(self, file: DmFile) -> Iterator[Record]:
        where = self.archive.tree.where(file.name)
        conv = _Conversation(file)
        with self.archive.tree.open(file.name) as fh:
            for what, value in array_objects(fh, _WANTED):
                if what == "id":
                    conv.key = value if isinstance(value, str) and value else None
                    if conv.key is not None:
                        yield self.chat(conv)
                        for entry in conv.pending:
                            yield from self.entry(conv, entry, where)
                        conv.pending.clear()
                elif what == "entry":
                    if conv.key is None:
                        conv.pending.append(value)
                    else:
                        yield from self.entry(conv, value, where)
                else:  # a conversation ends
                    if conv.pending:
                        yield Problem(
                            where, None, f"{len(conv.pending)} entries of a conversation without an id skipped"
                        )
                    conv = _Conversation(file)

    def chat(self, conv: _Conversation, title: str | None = None) -> Chat:
        assert conv.key is not None
        ids = conv.key.split("-")
        group = conv.file.group or len(ids) != 2 or not all(i.isdigit() for i in ids)
        if group:
            return Chat(source=SOURCE, key=conv.key, title=title or f"Group DM {conv.key}", kind=GROUP)
        others = [i for i in ids if i != self.owner_id] or ids[:1]
        names = tuple(n for n in (self.name(i) for i in ids) if n)
        return Chat(
            source=SOURCE, key=conv.key, title=self.name(others[0]) or conv.key, kind=DIRECT, participants=names
        )

    def entry(self, conv: _Conversation, entry: Any, where: str) -> Iterator[Record]:
        conv.count += 1
        assert conv.key is not None
        if not isinstance(entry, dict) or len(entry) != 1:
            yield Problem(where, None, f"entry {conv.count} of a conversation is not one event; skipped")
            return
        ((kind, body),) = entry.items()
        if not isinstance(body, dict):
            yield Problem(where, None, f"entry {conv.count} of a conversation is not an object; skipped")
            return
        ts = twitter_time(body.get("createdAt"))
        if ts is None:
            yield Problem(where, None, f"entry {conv.count} ({kind}) has no readable createdAt; skipped")
            return
        if kind in ("messageCreate", "welcomeMessageCreate"):
            yield self.message(conv, body, ts)
            return
        actor_id = str_at(body, "initiatingUserId")
        actor = self.name(actor_id)
        users = [u for u in list_at(body, "userIds") if isinstance(u, str)]
        names = ", ".join(n for n in (self.name(u) for u in users) if n)
        extra: dict[str, Any] = {"event": kind}
        if kind == "joinConversation":
            snapshot = [u for u in list_at(body, "participantsSnapshot") if isinstance(u, str)]
            extra["participants"] = snapshot
            yield Event(
                conv.key,
                ts,
                f"{actor or 'someone'} added {self.owner_name or 'you'}",
                EV_JOIN,
                actor=actor,
                extra=extra,
            )
        elif kind == "participantsJoin":
            extra["participants"] = users
            yield Event(
                conv.key, ts, f"{actor or 'someone'} added {names or 'someone'}", EV_JOIN, actor=actor, extra=extra
            )
        elif kind == "participantsLeave":
            extra["participants"] = users
            yield Event(conv.key, ts, f"{names or 'someone'} left", EV_LEAVE, actor=names or None, extra=extra)
        elif kind == "conversationNameUpdate":
            new = str_at(body, "name") or ""
            extra["name"] = new
            yield Event(
                conv.key,
                ts,
                f"{actor or 'someone'} renamed the conversation to {new}",
                EV_TITLE,
                actor=actor,
                extra=extra,
            )
            if new and (conv.title_ts is None or ts > conv.title_ts):
                conv.title_ts = ts  # the latest name wins, whatever order the file lists them in
                yield self.chat(conv, new)
        else:
            yield Event(conv.key, ts, kind, EV_SYSTEM, actor=actor, extra=extra)

    def message(self, conv: _Conversation, body: dict[str, Any], ts: datetime) -> Message:
        assert conv.key is not None
        msg_id = str_at(body, "id")
        sender_id = str_at(body, "senderId")
        text = html.unescape(str_at(body, "text") or "")  # the archive HTML-escapes &, < and >
        for url in list_at(body, "urls"):
            short, expanded = str_at(url, "url"), str_at(url, "expanded")
            if short and expanded:
                text = text.replace(short, expanded)
        attachments = tuple(
            self.media(conv.file.group, msg_id, u) for u in list_at(body, "mediaUrls") if isinstance(u, str)
        )
        reactions = []
        for r in list_at(body, "reactions"):
            key = str_at(r, "reactionKey")
            if key:
                reactions.append(
                    Reaction(
                        REACTIONS.get(key, key),
                        sender=self.name(str_at(r, "senderId")),
                        ts=twitter_time(r.get("createdAt") if isinstance(r, dict) else None),
                    )
                )
        edited = None
        history = list_at(body, "editHistory")
        if history:
            # The shape of an entry is not documented; take the latest time any entry states, else
            # mark the message edited at its own time.
            times = [t for t in (twitter_time(dict_at({"e": h}, "e").get("createdAt")) for h in history) if t]
            edited = max(times) if times else ts
        kind = attachments[0].kind if attachments else TEXT if text else OTHER
        extra: dict[str, Any] = {}
        if str_at(body, "recipientId") and str_at(body, "recipientId") != "0":
            extra["recipient_id"] = str_at(body, "recipientId")
        return Message(
            chat=conv.key,
            ts=ts,
            sender=self.name(sender_id),
            sender_id=sender_id,
            from_me=None if self.owner_id is None or sender_id is None else sender_id == self.owner_id,
            text=text,
            kind=kind,
            source_id=msg_id,
            edited=edited,
            attachments=attachments,
            reactions=tuple(reactions),
            extra=extra,
        )

    def media(self, group: bool, msg_id: str | None, url: str) -> Attachment:
        """A mediaUrls entry and the file the archive saved for it, `<message id>-<file name>`."""
        parts = urlsplit(url)
        base = PurePosixPath(parts.path).name or "media"
        kind = GIF if "/dm_gif/" in parts.path else VIDEO if "/dm_video/" in parts.path else kind_for_name(base)
        opener = None
        size = None
        if msg_id:
            names = self.archive.media_index(group).get(msg_id, [])
            exact = [n for n in names if n.rsplit("/", 1)[-1] == f"{msg_id}-{base}"]
            chosen = exact[0] if exact else names[0] if len(names) == 1 else None
            if chosen is not None:
                opener, size = self.archive.tree.opener(chosen), self.archive.tree.size(chosen)
                base = chosen.rsplit("/", 1)[-1].partition("-")[2] or base
        if kind not in (GIF, VIDEO):
            kind = kind_for_name(base)
        return Attachment(name=base, kind=kind, mime=mime_for_name(base), size=size, open=opener)
