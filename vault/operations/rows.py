"""The typed rows and reports that operations return and the facade hands to the front ends."""

from __future__ import annotations

from typing import Any, TypedDict

#: A report of check, stats, export, delete, restore or backup: named figures and lists, printed as
#: text or as one JSON document. Still untyped inside (a TypedDict each is the next step).
Report = dict[str, Any]


class AttachmentRow(TypedDict):
    id: str
    name: str | None
    kind: str
    mime: str | None
    size: int | None
    stored: bool


class ReactionRow(TypedDict):
    emoji: str
    sender: str | None


class ContextRows(TypedDict):
    before: list[MessageRow]
    after: list[MessageRow]


class _MessageFields(TypedDict):
    id: str
    chat_id: str
    chat: str
    source: str
    sender: str | None
    ts: str  # ISO 8601 UTC, to the second
    text: str
    kind: str
    event: bool
    from_me: bool | None


class MessageRow(_MessageFields, total=False):
    """A message or event as search, show and the front ends see it (ids as strings)."""

    attachments: list[AttachmentRow]  # show
    reactions: list[ReactionRow]  # show
    imports: list[dict[str, str | None]]  # show: the imports that contained it (id, format, file, imported)
    context: ContextRows  # search with context
    highlights: list[tuple[int, int]]  # search with highlight: spans of `text`
    deleted: bool  # the shell marks a result it deleted


class ChatRow(TypedDict):
    id: str
    title: str
    source: str
    kind: str
    messages: int
    events: int
    first: str | None
    last: str | None
    participants: list[str]
