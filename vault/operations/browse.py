"""Reading for a browsing front end: a chat by pages of message ids, attachment bytes, media, people, activity.

Everything pages by the time-ordered message id (vault/timeutil.py's SEQ_SPAN), so a page of a 200,000-message chat
costs the same as a page of a small one: nothing here reads a whole chat. Attachment bytes stream
out of `blob_chunks` a chunk at a time, with byte ranges (for video). Activity is counted in
15-minute buckets by SQLite and put into the caller's time zone here, so that days and hours are
right in every zone (including the half- and quarter-hour ones).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from vault.errors import UsageError
from vault.operations.rows import (
    ActiveChat,
    ActiveSender,
    Activity,
    BrowseChat,
    MediaItem,
    MediaPage,
    Page,
    PageMessage,
    Person,
    Quote,
    StoredAttachment,
)
from vault.timeutil import SEQ_SPAN, iso_z

if TYPE_CHECKING:
    from vault.store.handle import Store

PAGE = 60  # messages per page of a conversation
MAX_PAGE = 500
SNIPPET = 80
QUOTE_WINDOW = 20_000  # rows before a page searched for the messages its replies quote
BUCKET_MS = 15 * 60 * 1000  # activity buckets: every zone's offset is a multiple of 15 minutes
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

_ROW = (
    "SELECT m.id, m.ts_ms, m.kind, m.is_event, m.from_me, m.text, m.reply_to, m.edited_ms, m.forwarded_from,"
    " p.name, p.key FROM messages m LEFT JOIN people p ON p.id = m.sender_id WHERE m.chat_id = ?"
)


def _utc(ts_ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ts_ms)


def _snippet(text: str, n: int = SNIPPET) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1].rstrip() + "…"


def _marks(n: int) -> str:
    return ",".join("?" * n)


def _chat_id(v: Store, chat: str | int) -> int:
    from vault.operations.reading import resolve_chat

    return resolve_chat(v, str(chat))


def _int(value: str | int | None, what: str) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise UsageError(f"{what} is a number (an id the vault gave)") from None


def chat_list(v: Store) -> list[BrowseChat]:
    """Every chat with its number of entries (messages and events) and first/last time, newest first.

    Counted from the (chat_id, id) index alone, without reading a message row: on a 1,000,000-
    message vault this is one pass over the index (measured ~1.2 s cold) where counting messages
    apart from events reads every row (~12 s).
    """
    c = v.conn
    spans = {
        int(cid): (int(n), int(lo), int(hi))
        for cid, n, lo, hi in c.execute("SELECT chat_id, count(*), min(id), max(id) FROM messages GROUP BY chat_id")
    }
    members: dict[int, list[str]] = {}
    for cid, name in c.execute(
        "SELECT cm.chat_id, p.name FROM chat_members cm JOIN people p ON p.id = cm.person_id"
        " ORDER BY p.name COLLATE NOCASE"
    ):
        names = members.setdefault(int(cid), [])
        if name not in names:
            names.append(name)
    out: list[BrowseChat] = []
    for cid, title, source, kind in c.execute("SELECT id, title, source, kind FROM chats"):
        n, lo, hi = spans.get(int(cid), (0, None, None))
        out.append(
            {
                "id": str(cid),
                "title": title,
                "source": source,
                "kind": kind,
                "entries": n,
                "first_ms": None if lo is None else lo // SEQ_SPAN,
                "last_ms": None if hi is None else hi // SEQ_SPAN,
                "participants": members.get(int(cid), []),
            }
        )
    out.sort(key=lambda ch: (ch["last_ms"] or 0, ch["id"]), reverse=True)
    return out


def chat_info(v: Store, chat: str | int) -> BrowseChat:
    """One chat's title, source, kind, entries (messages and events), first and last time, participants.

    From the (chat_id, id) index alone, so a 200,000-message chat costs one index range."""
    cid = _chat_id(v, chat)
    c = v.conn
    title, source, kind = c.execute("SELECT title, source, kind FROM chats WHERE id = ?", (cid,)).fetchone()
    n, lo, hi = c.execute("SELECT count(*), min(id), max(id) FROM messages WHERE chat_id = ?", (cid,)).fetchone()
    people = [
        r[0]
        for r in c.execute(
            "SELECT DISTINCT p.name FROM chat_members cm JOIN people p ON p.id = cm.person_id"
            " WHERE cm.chat_id = ? ORDER BY p.name COLLATE NOCASE",
            (cid,),
        )
    ]
    return {
        "id": str(cid),
        "title": title,
        "source": source,
        "kind": kind,
        "entries": int(n),
        "first_ms": None if lo is None else int(lo) // SEQ_SPAN,
        "last_ms": None if hi is None else int(hi) // SEQ_SPAN,
        "participants": people,
    }


def conversation(
    v: Store,
    chat: str | int,
    *,
    before: str | int | None = None,
    after: str | int | None = None,
    around: str | int | None = None,
    at_ms: int | None = None,
    limit: int = PAGE,
) -> Page:
    """One page of a chat in time order: the newest `limit` rows, or those before/after/around an id, or from a time.

    Returns `{"messages": [...], "older": bool, "newer": bool, "target": id or None}`; each
    message carries its sender, reply quote, edit mark, forward, attachments and reactions.
    """
    cid = _chat_id(v, chat)
    limit = max(1, min(int(limit), MAX_PAGE))
    c = v.conn
    b, a, ar = _int(before, "before"), _int(after, "after"), _int(around, "around")
    target: int | None = None
    if ar is not None:
        if not c.execute("SELECT 1 FROM messages WHERE id = ? AND chat_id = ?", (ar, cid)).fetchone():
            raise UsageError("that message is not in this chat (it may have been deleted)")
        half = max(limit // 2, 1)
        before_rows = c.execute(_ROW + " AND m.id < ? ORDER BY m.id DESC LIMIT ?", (cid, ar, half)).fetchall()
        rows = (
            list(reversed(before_rows))
            + c.execute(
                _ROW + " AND m.id >= ? ORDER BY m.id ASC LIMIT ?", (cid, ar, limit - len(before_rows))
            ).fetchall()
        )
        target = ar
    elif a is not None:
        rows = c.execute(_ROW + " AND m.id > ? ORDER BY m.id ASC LIMIT ?", (cid, a, limit)).fetchall()
    elif at_ms is not None:
        rows = c.execute(_ROW + " AND m.id >= ? ORDER BY m.id ASC LIMIT ?", (cid, at_ms * SEQ_SPAN, limit)).fetchall()
        if not rows:  # after the last message: show the newest
            rows = list(reversed(c.execute(_ROW + " ORDER BY m.id DESC LIMIT ?", (cid, limit)).fetchall()))
        target = int(rows[0][0]) if rows else None
    else:
        sql = _ROW + (" AND m.id < ?" if b is not None else "") + " ORDER BY m.id DESC LIMIT ?"
        rows = list(reversed(c.execute(sql, (cid, b, limit) if b is not None else (cid, limit)).fetchall()))
    msgs = _messages(v, cid, rows)
    has_older = has_newer = False
    if rows:
        lo, hi = int(rows[0][0]), int(rows[-1][0])
        has_older = (
            c.execute("SELECT 1 FROM messages WHERE chat_id = ? AND id < ? LIMIT 1", (cid, lo)).fetchone() is not None
        )
        has_newer = (
            c.execute("SELECT 1 FROM messages WHERE chat_id = ? AND id > ? LIMIT 1", (cid, hi)).fetchone() is not None
        )
    found = None if target is None else str(target)
    return {"chat_id": str(cid), "messages": msgs, "older": has_older, "newer": has_newer, "target": found}


def _messages(v: Store, cid: int, rows: list[tuple[Any, ...]]) -> list[PageMessage]:
    c = v.conn
    out: list[PageMessage] = []
    for mid, ts_ms, kind, is_event, from_me, text, reply_to, edited_ms, fwd, sender, sender_key in rows:
        out.append(
            {
                "id": str(mid),
                "ts_ms": int(ts_ms),
                "ts": iso_z(ts_ms),
                "kind": kind,
                "event": bool(is_event),
                "from_me": None if from_me is None else bool(from_me),
                "text": text or "",
                "sender": sender,
                "sender_key": sender_key,
                "reply_to": reply_to,
                "quote": None,
                "edited": edited_ms is not None,
                "forwarded_from": fwd,
                "attachments": [],
                "reactions": [],
            }
        )
    if not out:
        return out
    by_id = {int(m["id"]): m for m in out}
    ids = list(by_id)
    for mid, aid, name, kind, mime, size, blob in c.execute(
        "SELECT message_id, id, name, kind, mime, size, blob_id FROM attachments"
        f" WHERE message_id IN ({_marks(len(ids))}) ORDER BY id",
        ids,
    ):
        by_id[int(mid)]["attachments"].append(
            {"id": str(aid), "name": name, "kind": kind, "mime": mime, "size": size, "stored": blob is not None}
        )
    for mid, emoji, sender, removed in c.execute(
        f"SELECT message_id, emoji, sender, removed FROM reactions WHERE message_id IN ({_marks(len(ids))})"
        " ORDER BY rowid",
        ids,
    ):
        if not removed:
            by_id[int(mid)]["reactions"].append({"emoji": emoji, "sender": sender})
    wanted = sorted({m["reply_to"] for m in out if m["reply_to"]})
    if wanted:
        # Source ids have no index: look among the QUOTE_WINDOW rows before the page (and the page);
        # a reply to something older is shown as a link that finds it when asked (`source_id`).
        lo, hi = int(rows[0][0]), int(rows[-1][0])
        bound = c.execute(
            "SELECT id FROM messages WHERE chat_id = ? AND id < ? ORDER BY id DESC LIMIT 1 OFFSET ?",
            (cid, lo, QUOTE_WINDOW - 1),
        ).fetchone()
        start = int(bound[0]) if bound else -(1 << 63)
        quotes: dict[str, tuple[bool, Quote]] = {}
        for qid, sid, is_event, qsender, qtext in c.execute(
            "SELECT m.id, m.source_id, m.is_event, p.name, substr(m.text, 1, ?) FROM messages m"
            " LEFT JOIN people p ON p.id = m.sender_id WHERE m.chat_id = ? AND m.id >= ? AND m.id <= ?"
            f" AND m.source_id IN ({_marks(len(wanted))})",
            (SNIPPET + 1, cid, start, hi, *wanted),
        ):
            known = quotes.get(sid)
            if known is None or (known[0] and not is_event):  # a message wins over an event
                quotes[sid] = (bool(is_event), {"id": str(qid), "sender": qsender, "snippet": _snippet(qtext or "")})
        for m in out:
            if m["reply_to"] in quotes:
                m["quote"] = quotes[m["reply_to"]][1]
            elif m["reply_to"] and bound is not None:
                m["quote"] = {"id": None, "sender": None, "snippet": None}  # older than the window: find on demand
    return out


def find_source(v: Store, chat: str | int, source_id: str) -> str | None:
    """The id of the message (rather than an event) that has this source id in this chat, if any."""
    row = v.conn.execute(
        "SELECT id FROM messages WHERE chat_id = ? AND source_id = ? ORDER BY is_event, id LIMIT 1",
        (_chat_id(v, chat), source_id),
    ).fetchone()
    return None if row is None else str(row[0])


def message(v: Store, message_id: str | int) -> PageMessage | None:
    """One message or event with its chat (id and title) and everything a page shows of it; None if gone."""
    mid = _int(message_id, "a message id")
    row = v.conn.execute("SELECT chat_id FROM messages WHERE id = ?", (mid,)).fetchone()
    if row is None:
        return None
    cid = int(row[0])
    rows = v.conn.execute(_ROW + " AND m.id = ?", (cid, mid)).fetchall()
    out = _messages(v, cid, rows)[0]
    out["chat_id"] = str(cid)
    out["chat"] = v.conn.execute("SELECT title FROM chats WHERE id = ?", (cid,)).fetchone()[0]
    return out


# -- attachments -------------------------------------------------------------------------------
def attachment(v: Store, attachment_id: str | int) -> StoredAttachment | None:
    """An attachment's name, kind, mime, stored size, message and chat; None when there is none or no bytes."""
    aid = _int(attachment_id, "an attachment id")
    row = v.conn.execute(
        "SELECT a.id, a.name, a.kind, a.mime, b.size, a.message_id, m.chat_id FROM attachments a"
        " JOIN blobs b ON b.id = a.blob_id JOIN messages m ON m.id = a.message_id WHERE a.id = ?",
        (aid,),
    ).fetchone()
    if row is None:
        return None
    aid, name, kind, mime, size, mid, cid = row
    return {
        "id": str(aid),
        "name": name,
        "kind": kind,
        "mime": mime,
        "size": int(size),
        "message_id": str(mid),
        "chat_id": str(cid),
    }


def attachment_bytes(v: Store, attachment_id: str | int, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The stored bytes of an attachment from `start` up to (not including) `end`, a chunk at a time."""
    aid = _int(attachment_id, "an attachment id")
    c = v.conn
    row = c.execute("SELECT blob_id FROM attachments WHERE id = ?", (aid,)).fetchone()
    if row is None or row[0] is None:
        return
    blob = int(row[0])
    sizes = c.execute("SELECT seq, length(data) FROM blob_chunks WHERE blob_id = ? ORDER BY seq", (blob,)).fetchall()
    pos = 0
    for seq, n in sizes:
        lo, hi = pos, pos + int(n)
        pos = hi
        if hi <= start:
            continue
        if end is not None and lo >= end:
            return
        data = c.execute("SELECT data FROM blob_chunks WHERE blob_id = ? AND seq = ?", (blob, seq)).fetchone()
        if data is None:
            return
        chunk = bytes(data[0])
        a = max(start - lo, 0)
        b = len(chunk) if end is None else min(end - lo, len(chunk))
        yield chunk[a:b]


def media(
    v: Store,
    *,
    chat: str | int | None = None,
    kind: str | None = None,
    before: str | int | None = None,
    limit: int = PAGE,
) -> MediaPage:
    """Stored attachments newest first (of one chat, or every chat), optionally of one kind; paged by message id."""
    limit = max(1, min(int(limit), MAX_PAGE))
    where = ["a.blob_id IS NOT NULL"]
    params: list[Any] = []
    if chat is not None:
        where.append("m.chat_id = ?")
        params.append(_chat_id(v, chat))
    if kind:
        where.append("a.kind = ?")
        params.append(kind)
    b = _int(before, "before")
    if b is not None:
        where.append("a.message_id < ?")
        params.append(b)
    rows = v.conn.execute(
        "SELECT a.id, a.name, a.kind, a.mime, a.size, a.message_id, m.chat_id, m.ts_ms, c.title"
        " FROM attachments a JOIN messages m ON m.id = a.message_id JOIN chats c ON c.id = m.chat_id"
        f" WHERE {' AND '.join(where)} ORDER BY a.message_id DESC, a.id DESC LIMIT ?",
        (*params, limit + 1),
    ).fetchall()
    items: list[MediaItem] = [
        {
            "id": str(aid),
            "name": name,
            "kind": k,
            "mime": mime,
            "size": size,
            "message_id": str(mid),
            "chat_id": str(cid),
            "ts_ms": int(ts),
            "chat": title,
        }
        for aid, name, k, mime, size, mid, cid, ts, title in rows[:limit]
    ]
    return {"items": items, "more": len(rows) > limit}


# -- people --------------------------------------------------------------------------------------
def person_key(name: str) -> str:
    """How names are matched across sources: compatibility forms, case and spacing folded."""
    return " ".join(unicodedata.normalize("NFKC", name).casefold().split())


def people(v: Store) -> list[Person]:
    """People across sources: one entry per name (folded), with each source's name, their chats and entries sent.

    From the indexes and the small tables only (chat_members, the (sender_id, id) index): no
    message row is read."""
    c = v.conn
    titles = {int(i): (t, s) for i, t, s in c.execute("SELECT id, title, source FROM chats")}
    sent = {
        int(pid): int(n)
        for pid, n in c.execute(
            "SELECT sender_id, count(*) FROM messages WHERE sender_id IS NOT NULL GROUP BY sender_id"
        )
    }
    member_of: dict[int, list[int]] = {}
    for cid, pid in c.execute("SELECT chat_id, person_id FROM chat_members ORDER BY chat_id"):
        member_of.setdefault(int(pid), []).append(int(cid))
    groups: dict[str, Person] = {}
    for pid, source, name in c.execute("SELECT id, source, name FROM people ORDER BY name COLLATE NOCASE, id"):
        g = groups.setdefault(person_key(name), {"name": name, "messages": 0, "names": [], "chats": []})
        if {"source": source, "name": name} not in g["names"]:
            g["names"].append({"source": source, "name": name})
        g["messages"] += sent.get(int(pid), 0)
        for cid in member_of.get(int(pid), []):
            if cid in titles:
                title, src = titles[cid]
                g["chats"].append({"id": str(cid), "title": title, "source": src})
    return sorted(groups.values(), key=lambda g: (-g["messages"], g["name"].casefold()))


# -- activity ------------------------------------------------------------------------------------
def activity(v: Store, zone: ZoneInfo, *, chat: str | int | None = None, year: int | None = None) -> Activity:
    """Entries per year, and for one year (default: the latest) per day, hour and weekday in `zone`, top chats, senders.

    Counted from the indexes alone (message ids are times: `id // 65536` is the UTC millisecond),
    in 15-minute buckets put into `zone` here; events count with messages (telling them apart
    would read every row: ~12 s on a 1,000,000-message vault against ~1.5 s).
    """
    c = v.conn
    cid = None if chat is None else _chat_id(v, chat)
    span = BUCKET_MS * SEQ_SPAN
    sql = f"SELECT id / {span}, count(*) FROM messages" + (" WHERE chat_id = ?" if cid is not None else "")
    buckets = [(int(b), int(n)) for b, n in c.execute(sql + " GROUP BY 1", (cid,) if cid is not None else ())]
    by_year: dict[int, int] = {}
    local: list[tuple[datetime, int]] = []
    for b, n in buckets:
        t = _utc(b * BUCKET_MS).astimezone(zone)
        by_year[t.year] = by_year.get(t.year, 0) + n
        local.append((t, n))
    if year is None and by_year:
        year = max(by_year)
    by_day: dict[str, int] = {}
    by_hour = [0] * 24
    by_weekday = [0] * 7
    for t, n in local:
        if t.year != year:
            continue
        day = t.strftime("%Y-%m-%d")
        by_day[day] = by_day.get(day, 0) + n
        by_hour[t.hour] += n
        by_weekday[t.weekday()] += n
    chats: list[ActiveChat] = []
    senders: list[ActiveSender] = []
    if year is not None:
        lo = int(datetime(year, 1, 1, tzinfo=zone).timestamp() * 1000) * SEQ_SPAN
        hi = int(datetime(year + 1, 1, 1, tzinfo=zone).timestamp() * 1000) * SEQ_SPAN
        if cid is None:
            titles = {int(i): (t, s) for i, t, s in c.execute("SELECT id, title, source FROM chats")}
            for i, n in c.execute(
                "SELECT chat_id, count(*) FROM messages WHERE id >= ? AND id < ?"
                " GROUP BY chat_id ORDER BY 2 DESC LIMIT 15",
                (lo, hi),
            ):
                t, s = titles.get(int(i), ("?", "?"))
                chats.append({"id": str(i), "title": t, "source": s, "messages": int(n)})
        cond = "id >= ? AND id < ?" + (" AND chat_id = ?" if cid is not None else "")
        names = {int(i): n for i, n in c.execute("SELECT id, name FROM people")}
        for pid, n in c.execute(
            f"SELECT sender_id, count(*) FROM messages WHERE {cond} AND sender_id IS NOT NULL"
            " GROUP BY sender_id ORDER BY 2 DESC LIMIT 15",
            (lo, hi, cid) if cid is not None else (lo, hi),
        ):
            senders.append({"name": names.get(int(pid), "?"), "messages": int(n)})
    return {
        "zone": zone.key,
        "year": year,
        "total": sum(by_day.values()),
        "by_year": dict(sorted(by_year.items())),
        "by_day": by_day,
        "by_hour": by_hour,
        "by_weekday": by_weekday,
        "chats": chats,
        "senders": senders,
    }
