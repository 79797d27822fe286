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


# -- browsing (operations/browse.py, for the web viewer) -----------------------------------------
class BrowseChat(TypedDict):
    id: str
    title: str
    source: str
    kind: str
    entries: int  # messages and events
    first_ms: int | None
    last_ms: int | None
    participants: list[str]


class Quote(TypedDict):
    id: str | None  # None: older than the window searched; the page finds it when asked
    sender: str | None
    snippet: str | None


class _PageMessageFields(TypedDict):
    id: str
    ts_ms: int
    ts: str
    kind: str
    event: bool
    from_me: bool | None
    text: str
    sender: str | None
    sender_key: str | None
    reply_to: str | None
    quote: Quote | None
    edited: bool
    forwarded_from: str | None
    attachments: list[AttachmentRow]
    reactions: list[ReactionRow]


class PageMessage(_PageMessageFields, total=False):
    """A message as a conversation page shows it; `message()` adds its chat."""

    chat_id: str
    chat: str


class Page(TypedDict):
    chat_id: str
    messages: list[PageMessage]
    older: bool
    newer: bool
    target: str | None


class StoredAttachment(TypedDict):
    id: str
    name: str | None
    kind: str
    mime: str | None
    size: int
    message_id: str
    chat_id: str


class MediaItem(TypedDict):
    id: str
    name: str | None
    kind: str
    mime: str | None
    size: int | None
    message_id: str
    chat_id: str
    ts_ms: int
    chat: str


class MediaPage(TypedDict):
    items: list[MediaItem]
    more: bool


class SourceName(TypedDict):
    source: str
    name: str


class ChatRef(TypedDict):
    id: str
    title: str
    source: str


class Person(TypedDict):
    name: str
    messages: int
    names: list[SourceName]
    chats: list[ChatRef]


class ActiveChat(TypedDict):
    id: str
    title: str
    source: str
    messages: int


class ActiveSender(TypedDict):
    name: str
    messages: int


class Activity(TypedDict):
    zone: str
    year: int | None
    total: int
    by_year: dict[int, int]
    by_day: dict[str, int]
    by_hour: list[int]
    by_weekday: list[int]
    chats: list[ActiveChat]
    senders: list[ActiveSender]


class Download(TypedDict):
    """What `export_bytes` made: the file's name, its format and what it holds."""

    name: str
    format: str
    messages: int
    events: int
