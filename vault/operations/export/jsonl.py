"""`export --format jsonl`: the vault's contents in the documented interchange format (docs/jsonl-format.md).

Written so that `talkvault import` of the file (importers/jsonl.py) rebuilds the same vault: every
message carries its `identity`, so importing the export into the vault it came from adds nothing,
and into a new vault gives the same chats, messages, people, times, kinds, texts, attachment bytes
and reactions. Attachments are files beside the JSONL (`attachments/<id>-<name>`) named by a
relative `path`.

How the people come back exactly, with a reader that knows a sender by name or by `sender_id`:

- a person whose key the vault derived from the name (`name:<folded name>`) is written by name
  alone; everyone else gets `sender_id` (the vault's key of that person);
- every chat line comes first, listing its members that are known by name, so that those people
  exist before any message could match their name to someone else;
- chats whose key another source also uses get their chat line again before their messages;
- events whose actor is known by an id (the reader links actors by name) and members known by an
  id who never wrote in the chat come last, once every sender exists.
"""

from __future__ import annotations

import json
from typing import IO, TYPE_CHECKING, Any

from vault.operations.export.files import AttachmentFiles, Counts, Output
from vault.operations.export.read import AttachmentRow, ChatInfo, Row, batches, iso_ms, members, name_key
from vault.records import EV_SYSTEM, EVENT_KINDS, MESSAGE_KINDS, OTHER

if TYPE_CHECKING:
    from vault.store.handle import Store

MAIN = "talkvault.jsonl"
HEADER = {"type": "talkvault", "version": 1}


def needs_dir(chats: list[ChatInfo], all_chats: bool) -> bool:
    return all_chats or any(c.stored_attachments for c in chats)


def main_file(out: Output) -> str:
    return MAIN if out.directory else ""


def write(v: Store, chats: list[ChatInfo], out: Output, counts: Counts) -> None:
    files = AttachmentFiles(v, out, counts)
    with out.create(main_file(out)) as fh:
        _line(fh, HEADER)
        mapping: dict[str, int] = {}  # chat key -> the chat the importer will take it to mean
        for chat in chats:
            named = [name for _, key, name in members(v, chat.id) if key == name_key(name)]
            _line(fh, _chat_doc(chat, named))
            mapping[chat.key] = chat.id
        tail: list[tuple[ChatInfo, list[str], bool]] = []
        for chat in chats:
            counts.chats += 1
            if mapping.get(chat.key) != chat.id:
                _line(fh, _chat_doc(chat, None))
                mapping[chat.key] = chat.id
            seen: set[int] = set()  # people who wrote (or acted) in this chat
            deferred = False
            for batch in batches(v, chat):
                for row in batch:
                    if _id_keyed_actor(row):
                        deferred = True
                        if row.sender_pid is not None:
                            seen.add(row.sender_pid)
                        continue
                    _line(fh, _row_doc(chat, row, files))
                    counts.add(row.is_event)
                    if row.sender_pid is not None:
                        seen.add(row.sender_pid)
            late = [name for pid, key, name in members(v, chat.id) if key != name_key(name) and pid not in seen]
            if deferred or late:
                tail.append((chat, late, deferred))
        for chat, late, deferred in tail:
            _line(fh, _chat_doc(chat, late))
            mapping[chat.key] = chat.id
            if not deferred:
                continue
            for batch in batches(v, chat, events_only=True):
                for row in batch:
                    if _id_keyed_actor(row):
                        _line(fh, _row_doc(chat, row, files))
                        counts.add(row.is_event)


def _id_keyed_actor(row: Row) -> bool:
    return row.is_event and row.sender_key is not None and row.sender_key != name_key(row.sender or "")


def _line(fh: IO[bytes], doc: dict[str, Any]) -> None:
    text = json.dumps(doc, ensure_ascii=False)
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate from a broken export: keep it, escaped
        data = json.dumps(doc, ensure_ascii=True).encode("ascii")
    fh.write(data + b"\n")


def _chat_doc(chat: ChatInfo, participants: list[str] | None) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "type": "chat",
        "source": chat.source,
        "key": chat.key,
        "title": chat.title,
        "kind": chat.kind,
    }
    if participants:
        doc["participants"] = participants
    if chat.extra:
        doc["extra"] = chat.extra
    return doc


def _extra(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc else None


def _row_doc(chat: ChatInfo, row: Row, files: AttachmentFiles) -> dict[str, Any]:
    if row.is_event:
        doc: dict[str, Any] = {
            "type": "event",
            "chat": chat.key,
            "ts": iso_ms(row.ts_ms),
            "text": row.text,
            "kind": row.kind if row.kind in EVENT_KINDS else EV_SYSTEM,
        }
        if row.sender is not None:
            doc["actor"] = row.sender
    else:
        doc = {"type": "message", "chat": chat.key, "ts": iso_ms(row.ts_ms), "sender": row.sender}
        if row.sender is not None and row.sender_key is not None and row.sender_key != name_key(row.sender):
            doc["sender_id"] = row.sender_key
        doc["text"] = row.text
        doc["kind"] = row.kind if row.kind in MESSAGE_KINDS else OTHER
        if row.from_me is not None:
            doc["from_me"] = row.from_me
        if row.reply_to is not None:
            doc["reply_to"] = row.reply_to
        if row.edited_ms is not None:
            doc["edited"] = iso_ms(row.edited_ms)
        if row.forwarded_from is not None:
            doc["forwarded_from"] = row.forwarded_from
        if row.attachments:
            doc["attachments"] = [_attachment_doc(a, files.link(a)) for a in row.attachments]
        reactions = [
            {"emoji": r.emoji, "sender": r.sender, **({"ts": iso_ms(r.ts_ms)} if r.ts_ms is not None else {})}
            for r in row.reactions
            if not r.removed
        ]
        if reactions:
            doc["reactions"] = reactions
    if row.source_id is not None:
        doc["id"] = row.source_id
    extra = _extra(row.extra)
    if extra:
        doc["extra"] = extra
    doc["identity"] = row.uid.hex()
    return doc


def _attachment_doc(att: AttachmentRow, path: str | None) -> dict[str, Any]:
    doc: dict[str, Any] = {"name": att.name, "kind": att.kind}
    if att.mime is not None:
        doc["mime"] = att.mime
    if att.size is not None:
        doc["size"] = att.size
    if path is not None:
        doc["path"] = path
    return doc
