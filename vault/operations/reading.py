"""Reading the vault: the list of chats, a conversation in time order, counts and statistics."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from vault.errors import NotFoundError, UsageError
from vault.operations.rows import ChatCount, ChatRow, ImportLogRow, MessageRow, SenderCount, Sizes, StatsReport
from vault.operations.search import MESSAGE_COLUMNS, MESSAGE_JOINS, add_attachments, message_dict
from vault.timeutil import iso_z

if TYPE_CHECKING:
    from vault.store.handle import Store


def chats(v: Store) -> list[ChatRow]:
    c = v.conn
    out: list[ChatRow] = []
    rows = c.execute(
        "SELECT c.id, c.title, c.source, c.kind,"
        " (SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.is_event = 0),"
        " (SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.is_event = 1),"
        " (SELECT min(ts_ms) FROM messages m WHERE m.chat_id = c.id),"
        " (SELECT max(ts_ms) FROM messages m WHERE m.chat_id = c.id)"
        " FROM chats c WHERE EXISTS (SELECT 1 FROM messages m WHERE m.chat_id = c.id)"  # never an empty chat
        " ORDER BY c.title COLLATE NOCASE, c.id"
    ).fetchall()
    for cid, title, source, kind, n_msg, n_ev, first, last in rows:
        people = [
            r[0]
            for r in c.execute(
                "SELECT DISTINCT p.name FROM chat_members cm JOIN people p ON p.id = cm.person_id"
                " WHERE cm.chat_id = ? ORDER BY p.name COLLATE NOCASE",
                (cid,),
            )
        ]
        out.append(
            {
                "id": str(cid),
                "title": title,
                "source": source,
                "kind": kind,
                "messages": n_msg,
                "events": n_ev,
                "first": iso_z(first) if first is not None else None,
                "last": iso_z(last) if last is not None else None,
                "participants": people,
            }
        )
    return out


def resolve_chat(v: Store, chat: str) -> int:
    """A chat id from an id or an exact (case-insensitive) title; NotFoundError if none, UsageError if several."""
    c = v.conn
    if chat.isascii() and chat.isdigit():
        row = c.execute("SELECT id FROM chats WHERE id = ?", (int(chat),)).fetchone()
        if row:
            return int(row[0])
    rows = c.execute("SELECT id FROM chats WHERE title = ? COLLATE NOCASE", (chat,)).fetchall()
    if len(rows) == 1:
        return int(rows[0][0])
    if len(rows) > 1:
        raise UsageError("several chats have that title; use the chat's id from 'talkvault chats'")
    raise NotFoundError("no such chat; 'talkvault chats' lists them with their ids")


def show(
    v: Store,
    chat: str,
    *,
    around: str | None = None,
    limit: int = 50,
    before: int | None = None,
    after: int | None = None,
) -> list[MessageRow]:
    """A conversation in time order: the first `limit` messages, or those around a message id."""
    cid = resolve_chat(v, chat)
    c = v.conn
    base = f"SELECT {MESSAGE_COLUMNS} FROM messages m {MESSAGE_JOINS} WHERE m.chat_id = ?"
    if around is not None:
        try:
            mid = int(around)
        except ValueError:
            raise UsageError("--around takes a message id (from search results)") from None
        if not c.execute("SELECT 1 FROM messages WHERE id = ? AND chat_id = ?", (mid, cid)).fetchone():
            raise UsageError("that message is not in this chat")
        half = max(limit // 2, 1)
        older = c.execute(base + " AND m.id < ? ORDER BY m.id DESC LIMIT ?", (cid, mid, half)).fetchall()
        newer = c.execute(base + " AND m.id >= ? ORDER BY m.id ASC LIMIT ?", (cid, mid, limit - len(older))).fetchall()
        rows = list(reversed(older)) + newer
    elif before is not None:
        rows = list(
            reversed(c.execute(base + " AND m.id < ? ORDER BY m.id DESC LIMIT ?", (cid, before, limit)).fetchall())
        )
    elif after is not None:
        rows = c.execute(base + " AND m.id > ? ORDER BY m.id ASC LIMIT ?", (cid, after, limit)).fetchall()
    else:
        rows = c.execute(base + " ORDER BY m.id ASC LIMIT ?", (cid, limit)).fetchall()
    out = [message_dict(r) for r in rows]
    add_attachments(v, out)
    _add_provenance(v, out)
    return out


def _add_provenance(v: Store, msgs: list[MessageRow]) -> None:
    """Each message's `imports`: every import that contained it (format, file name, time), oldest first.

    The import that added a message is `messages.import_id`; each later import that met it again
    has a row in `message_imports` (docs/vault-format.md).
    """
    by_id = {int(m["id"]): m for m in msgs}
    if not by_id:
        return
    ids = list(by_id)
    marks = ",".join("?" * len(ids))
    found: dict[int, set[int]] = {i: set() for i in ids}
    for mid, imp in v.conn.execute(
        f"SELECT id, import_id FROM messages WHERE id IN ({marks})"
        f" UNION SELECT message_id, import_id FROM message_imports WHERE message_id IN ({marks})",
        ids + ids,
    ):
        found[int(mid)].add(int(imp))
    wanted = sorted(set().union(*found.values()))
    info: dict[int, dict[str, str | None]] = {}
    for i in range(0, len(wanted), 500):
        part = wanted[i : i + 500]
        for iid, fmt, name, started in v.conn.execute(
            f"SELECT id, format, file_name, started FROM imports WHERE id IN ({','.join('?' * len(part))})", part
        ):
            info[int(iid)] = {"id": str(iid), "format": fmt, "file": name, "imported": started}
    for mid, m in by_id.items():
        m["imports"] = [info[i] for i in sorted(found[mid]) if i in info]


def contributions(v: Store) -> dict[int, list[str]]:
    """Per chat id, the formats (importers, tools) whose imports contained its messages, by name."""
    c = v.conn
    out: dict[int, set[str]] = {}
    for cid, fmt in c.execute(
        "SELECT m.chat_id, i.format FROM (SELECT DISTINCT chat_id, import_id FROM messages) m"
        " JOIN imports i ON i.id = m.import_id"
        " UNION SELECT m.chat_id, i.format FROM message_imports mi JOIN messages m ON m.id = mi.message_id"
        " JOIN imports i ON i.id = mi.import_id"
    ):
        out.setdefault(int(cid), set()).add(fmt)
    return {k: sorted(v) for k, v in out.items()}


def counts(v: Store) -> dict[str, int]:
    c = v.conn
    messages, events = c.execute(  # one scan of the table, not one per figure
        "SELECT coalesce(sum(is_event = 0), 0), coalesce(sum(is_event = 1), 0) FROM messages"
    ).fetchone()
    return {
        "messages": messages,
        "events": events,
        "chats": c.execute("SELECT count(*) FROM chats").fetchone()[0],
        "attachments": c.execute("SELECT count(*) FROM attachments WHERE blob_id IS NOT NULL").fetchone()[0],
        "blobs": c.execute("SELECT count(*) FROM blobs").fetchone()[0],
        "tombstones": c.execute("SELECT count(*) FROM tombstones").fetchone()[0],
        "imports": c.execute("SELECT count(*) FROM imports WHERE status = 'done'").fetchone()[0],
    }


def stats(v: Store) -> StatsReport:
    c = v.conn
    n = counts(v)
    by_source = {
        s: n
        for s, n in c.execute(
            "SELECT c.source, count(*) FROM messages m JOIN chats c ON c.id = m.chat_id"
            " WHERE m.is_event = 0 GROUP BY c.source ORDER BY 2 DESC"
        )
    }
    formats = contributions(v)
    by_chat: list[ChatCount] = [
        {"id": str(i), "chat": t, "messages": n, "formats": formats.get(int(i), [])}
        for i, t, n in c.execute(
            "SELECT c.id, c.title, count(*) FROM messages m JOIN chats c ON c.id = m.chat_id"
            " WHERE m.is_event = 0 GROUP BY c.id ORDER BY 3 DESC LIMIT 50"
        )
    ]
    by_sender: list[SenderCount] = [
        {"sender": s, "messages": n}
        for s, n in c.execute(
            "SELECT p.name, count(*) FROM messages m JOIN people p ON p.id = m.sender_id"
            " WHERE m.is_event = 0 GROUP BY p.id ORDER BY 2 DESC LIMIT 50"
        )
    ]
    by_year = {
        str(y): n
        for y, n in c.execute(
            "SELECT strftime('%Y', ts_ms / 1000, 'unixepoch'), count(*) FROM messages"
            " WHERE is_event = 0 GROUP BY 1 ORDER BY 1"
        )
    }
    sizes: Sizes = {
        "database_bytes": v.db_path.stat().st_size,
        "pages": c.execute("PRAGMA page_count").fetchone()[0],
        "free_pages": c.execute("PRAGMA freelist_count").fetchone()[0],
        "page_size": c.execute("PRAGMA page_size").fetchone()[0],
        "attachment_bytes": c.execute("SELECT coalesce(sum(size), 0) FROM blobs").fetchone()[0],
    }
    imports_log: list[ImportLogRow] = [
        {"id": str(i), "format": f, "file": n, "status": s, "started": st, "tz": tz, "counts": json.loads(cn)}
        for i, f, n, s, st, tz, cn in c.execute(
            "SELECT id, format, file_name, status, started, tz, counts FROM imports ORDER BY id DESC LIMIT 20"
        )
    ]
    return {
        "messages": n["messages"],
        "events": n["events"],
        "chats": n["chats"],
        "attachments": n["attachments"],
        "blobs": n["blobs"],
        "tombstones": n["tombstones"],
        "imports": n["imports"],
        "by_source": by_source,
        "by_chat": by_chat,
        "by_sender": by_sender,
        "by_year": by_year,
        "sizes": sizes,
        "imports_log": imports_log,
    }
