"""`export --format txt`: conversations as plain, readable text, one line per message.

```
== Book club ==
telegram, group: 3 messages, 1 event; times in Europe/Berlin

2023-03-14 10:06  Mei: Chapter 3 tonight?
2023-03-14 10:07  Jon: 👍
                  ↪ Mei: Chapter 3 tonight?
2023-03-14 10:08  (Ana joined)
```

Continuation lines (more lines of the text, replies, attachments, reactions) are indented under
the text. One chat is one file; `--all` writes every chat into one file, each under its header.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from vault.operations.export.files import Counts, Output
from vault.operations.export.read import ChatInfo, Quote, ReplyIndex, Row, batches, snippet, utc
from vault.records import TEXT

if TYPE_CHECKING:
    from vault.store.handle import Store

MAIN = "talkvault.txt"
INDENT = " " * len("2023-03-14 09:06  ")


def needs_dir(chats: list[ChatInfo], all_chats: bool) -> bool:
    return False  # one file, whatever is exported


def main_file(out: Output) -> str:
    return MAIN if out.directory else ""


def write(v: Store, chats: list[ChatInfo], out: Output, counts: Counts, *, zone: ZoneInfo) -> None:
    raw = out.create(main_file(out))
    with raw:
        for n, chat in enumerate(chats):
            counts.chats += 1
            if n:
                raw.write(b"\n\n")
            raw.write(_encode(header(chat, zone)))
            replies = ReplyIndex(v, chat.id)
            for batch in batches(v, chat):
                quotes = replies.quotes(batch)
                for row in batch:
                    lines = message_lines(row, zone, quotes.get(row.reply_to) if row.reply_to else None)
                    raw.write(_encode("".join(line + "\n" for line in lines)))
                    counts.add(row.is_event)


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def header(chat: ChatInfo, zone: ZoneInfo) -> str:
    counts = _plural(chat.messages, "message")
    if chat.events:
        counts += ", " + _plural(chat.events, "event")
    return f"== {one_line(chat.title)} ==\n{chat.source}, {chat.kind}: {counts}; times in {zone.key}\n\n"


def one_line(text: str) -> str:
    return " ".join(text.split())


def stamp(ts_ms: int, zone: ZoneInfo) -> str:
    return utc(ts_ms).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def message_lines(row: Row, zone: ZoneInfo, quote: Quote | None) -> Iterator[str]:
    when = stamp(row.ts_ms, zone)
    if row.is_event:
        yield f"{when}  ({one_line(row.text) or row.kind})"
        return
    text_lines = row.text.splitlines() or [""]
    who = row.sender or ("me" if row.from_me else "?")
    if not row.text and row.kind != TEXT and not row.attachments:
        text_lines = [f"[{row.kind}]"]
    if row.edited_ms is not None:
        text_lines[-1] += " (edited)"
    yield f"{when}  {who}: {text_lines[0]}".rstrip()
    for more in text_lines[1:]:
        yield f"{INDENT}{more}".rstrip()
    if row.reply_to:
        if quote is not None:
            yield f"{INDENT}↪ {quote.sender or '?'}: {quote.snippet}".rstrip()
        else:
            yield f"{INDENT}↪ (a message not in this export)"
    if row.forwarded_from:
        yield f"{INDENT}forwarded from {snippet(row.forwarded_from)}"
    for a in row.attachments:
        stored = "" if a.blob_id is not None else ", not stored"
        yield f"{INDENT}[{a.kind}: {one_line(a.name)}{stored}]"
    shown = [r for r in row.reactions if not r.removed]
    if shown:
        yield f"{INDENT}reactions: " + ", ".join(f"{r.emoji} {r.sender}" if r.sender else r.emoji for r in shown)
