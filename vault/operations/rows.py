"""The typed rows and reports that operations return and the facade hands to the front ends."""

from __future__ import annotations

from typing import TypedDict


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


class CheckReport(TypedDict):
    """`check`: whether every page and every rule holds, the messages counted, what failed."""

    ok: bool
    messages: int
    problems: list[str]


class _DeletePlan(TypedDict):
    deleted: int  # messages and events
    attachments: int  # attachment files freed


class DeleteReport(_DeletePlan, total=False):
    ids: list[str]  # a dry run: the ids that would go


class ExportReport(TypedDict):
    path: str
    main: str
    format: str
    chats: int
    messages: int
    events: int
    attachments: int
    files: int
    directory: bool


class BackupReport(TypedDict):
    path: str
    bytes: int
    messages: int
    sha256: str
    created: str
    counts: dict[str, int]
    pruned: list[str]


class RestoreReport(TypedDict):
    vault: str
    messages: int
    counts: dict[str, int]


class ChatCount(TypedDict):
    id: str
    chat: str
    messages: int
    formats: list[str]  # the importers whose imports contributed to the chat


class SenderCount(TypedDict):
    sender: str
    messages: int


class Sizes(TypedDict):
    database_bytes: int
    pages: int
    free_pages: int
    page_size: int
    attachment_bytes: int


class ImportLogRow(TypedDict):
    id: str
    format: str | None
    file: str | None
    status: str
    started: str
    tz: str | None
    counts: dict[str, int]


class StatsReport(TypedDict):
    """`stats`: the counts, then messages by source, chat, sender and year, sizes, recent imports."""

    messages: int
    events: int
    chats: int
    attachments: int
    blobs: int
    tombstones: int
    imports: int
    by_source: dict[str, int]
    by_chat: list[ChatCount]
    by_sender: list[SenderCount]
    by_year: dict[str, int]
    sizes: Sizes
    imports_log: list[ImportLogRow]
