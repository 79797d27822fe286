"""`export --format chatlab`: conversations in the ChatLab format, to take them to ChatLab's analysis.

The ChatLab format (ChatLab/ChatLab docs/en/standard/chatlab-format.md; talkvault reads it with
importers/chatlab/): one chat per file, either JSON (`chatlab`, `meta`, `members`, `messages`) or
JSONL (a `header` line, `member` lines, `message` lines, each with `_type`). The spec advises JSONL
above a million records; a chat is written as JSONL when it has more than `JSONL_ABOVE` rows or when
the file asked for ends in `.jsonl`, else as JSON. Both are streamed: members first (a chat's
members are few), then the messages batch by batch, never the whole chat in memory.

What is written, per message: `sender` (the vault's key of the person, the same key it gets back on
import), `accountName` (their name), `timestamp` (Unix seconds; a fraction keeps milliseconds),
`type` (ChatLab's code for the kind), `content` (the text, `null` when there is none),
`platformMessageId` (the export's own id, where the vault has one) and `replyToMessageId`. Events
are type 80 (system) or 23 (call). `meta.platform` is the chat's app; `meta.ownerId` the owner's
key when the vault knows which messages they sent. Attachments' bytes, reactions and edits are not
part of the format and are left out (the jsonl export keeps them).
"""

from __future__ import annotations

import json
import time
from typing import IO, TYPE_CHECKING, Any

from vault.operations.export.files import Counts, Output, safe_name
from vault.operations.export.read import ChatInfo, Row, batches, members
from vault.records import (
    AUDIO,
    CONTACT,
    DELETED,
    EV_CALL,
    FILE,
    GIF,
    IMAGE,
    LOCATION,
    STICKER,
    TEXT,
    VIDEO,
)

if TYPE_CHECKING:
    from pathlib import Path

    from vault.store.handle import Store

VERSION = "0.0.2"
JSONL_ABOVE = 1_000_000  # rows; the spec: JSON below a million records, JSONL above

# talkvault kind -> ChatLab type code (importers/chatlab/spec.py reads them back).
TYPES = {
    TEXT: 0,
    IMAGE: 1,
    GIF: 1,
    AUDIO: 2,
    VIDEO: 3,
    FILE: 4,
    STICKER: 5,
    LOCATION: 8,
    CONTACT: 27,
    "call": 23,
    DELETED: 81,
}
TYPE_REPLY = 25
TYPE_SYSTEM = 80
TYPE_CALL = 23
TYPE_OTHER = 99
GENERIC_SOURCE = "chatlab"  # what importers/chatlab files a chat of no known platform under


def needs_dir(chats: list[ChatInfo], all_chats: bool) -> bool:
    return all_chats or len(chats) > 1  # one chat per file


def main_file(out: Output) -> str:
    return ""


def jsonl_for(chat: ChatInfo, root: Path, directory: bool) -> bool:
    if not directory and root.suffix.lower() in (".json", ".jsonl"):
        return root.suffix.lower() == ".jsonl"
    return chat.rows > JSONL_ABOVE


def write(v: Store, chats: list[ChatInfo], out: Output, counts: Counts) -> None:
    for chat in chats:
        counts.chats += 1
        as_jsonl = jsonl_for(chat, out.path(), out.directory)
        rel = f"{chat.id}-{safe_name(chat.title, 'chat')}.{'jsonl' if as_jsonl else 'json'}" if out.directory else ""
        with out.create(rel) as fh:
            (_write_jsonl if as_jsonl else _write_json)(v, chat, fh, counts)


def _header(v: Store, chat: ChatInfo) -> tuple[dict[str, Any], dict[str, Any]]:
    head = {"version": VERSION, "exportedAt": int(time.time()), "generator": "talkvault"}
    group = chat.kind in ("group", "channel")
    meta: dict[str, Any] = {
        "name": chat.title,
        "platform": "unknown" if chat.source == GENERIC_SOURCE else chat.source,
        "type": "group" if group else "private",
    }
    if group and not chat.key.startswith("title:"):
        meta["groupId"] = chat.key.removeprefix("group:") if chat.source == "qq" else chat.key
    owner = v.conn.execute(
        "SELECT p.key FROM messages m JOIN people p ON p.id = m.sender_id"
        " WHERE m.chat_id = ? AND m.from_me = 1 AND m.is_event = 0 LIMIT 1",
        (chat.id,),
    ).fetchone()
    if owner is not None:
        meta["ownerId"] = owner[0]
    return head, meta


def _members(v: Store, chat: ChatInfo) -> list[dict[str, Any]]:
    return [{"platformId": key, "accountName": name} for _, key, name in members(v, chat.id)]


def _message(row: Row) -> dict[str, Any]:
    if row.is_event:
        code = TYPE_CALL if row.kind == EV_CALL else TYPE_SYSTEM
    elif row.reply_to is not None and row.kind == TEXT:
        code = TYPE_REPLY
    else:
        code = TYPES.get(row.kind, TYPE_OTHER)
    # Whole seconds as an integer; else a fraction, whose shortest form reads back to the millisecond.
    seconds: int | float = row.ts_ms // 1000 if row.ts_ms % 1000 == 0 else row.ts_ms / 1000
    doc: dict[str, Any] = {
        "sender": row.sender_key or "",
        "accountName": row.sender or "",
        "timestamp": seconds,
        "type": code,
        "content": row.text or None,
    }
    if row.source_id is not None:
        doc["platformMessageId"] = row.source_id
    if row.reply_to is not None:
        doc["replyToMessageId"] = row.reply_to
    return doc


def _dumps(doc: dict[str, Any]) -> bytes:
    text = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a broken export: keep it, escaped
        return json.dumps(doc, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _write_json(v: Store, chat: ChatInfo, fh: IO[bytes], counts: Counts) -> None:
    head, meta = _header(v, chat)
    fh.write(b'{"chatlab":' + _dumps(head) + b',\n"meta":' + _dumps(meta) + b',\n"members":[')
    for n, m in enumerate(_members(v, chat)):
        fh.write((b",\n" if n else b"\n") + _dumps(m))
    fh.write(b'],\n"messages":[')
    first = True
    for batch in batches(v, chat):
        for row in batch:
            fh.write((b"\n" if first else b",\n") + _dumps(_message(row)))
            first = False
            counts.add(row.is_event)
    fh.write(b"]}\n")


def _write_jsonl(v: Store, chat: ChatInfo, fh: IO[bytes], counts: Counts) -> None:
    head, meta = _header(v, chat)
    fh.write(_dumps({"_type": "header", "chatlab": head, "meta": meta}) + b"\n")
    for m in _members(v, chat):
        fh.write(_dumps({"_type": "member", **m}) + b"\n")
    for batch in batches(v, chat):
        for row in batch:
            fh.write(_dumps({"_type": "message", **_message(row)}) + b"\n")
            counts.add(row.is_event)
