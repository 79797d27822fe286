"""Reading a vault for export: chats, their messages in batches, replies, and attachment bytes.

Nothing here holds a whole chat in memory: messages come in batches of `BATCH` rows by keyset
paging on the time-ordered message id (each batch one short read, so a concurrent import is never
blocked for long), attachment bytes stream out of `blob_chunks` one chunk at a time, and the reply
index keeps only the messages that something replies to.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import IO, TYPE_CHECKING, Any

from vault.store import identity

if TYPE_CHECKING:
    from vault.store.handle import Store

BATCH = 256
SNIPPET = 80  # characters of a replied-to message shown with the reply
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def utc(ts_ms: int) -> datetime:
    """A stored time (UTC milliseconds) as an aware datetime, exactly (no float rounding)."""
    return _EPOCH + timedelta(milliseconds=ts_ms)


def iso_ms(ts_ms: int) -> str:
    """UTC ISO 8601 with a Z, with milliseconds only when the time has them."""
    t = utc(ts_ms)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    ms = ts_ms % 1000
    return f"{base}.{ms:03d}Z" if ms else f"{base}Z"


def name_key(name: str) -> str:
    """The people key the importer derives from a name alone (vault/operations/ingest.py `_person`)."""
    return "name:" + " ".join(name.split()).casefold()


@dataclass(frozen=True)
class ChatInfo:
    id: int
    source: str
    key: str
    title: str
    kind: str
    extra: dict[str, Any] | None
    messages: int
    events: int
    stored_attachments: int
    first_ms: int | None
    last_ms: int | None
    last_id: int | None  # the newest row when the export began: later arrivals are not exported

    @property
    def rows(self) -> int:
        return self.messages + self.events


@dataclass(frozen=True)
class AttachmentRow:
    id: int
    name: str
    kind: str
    mime: str | None
    size: int | None
    blob_id: int | None


@dataclass(frozen=True)
class ReactionRow:
    emoji: str
    sender: str | None
    ts_ms: int | None
    removed: bool


@dataclass(frozen=True)
class Row:
    """One message or event of a chat, with its sender, attachments and reactions."""

    id: int
    uid: bytes  # the identity (without its time bucket: vault/store/identity.py)
    ts_ms: int
    kind: str
    is_event: bool
    from_me: bool | None
    text: str
    source_id: str | None
    reply_to: str | None
    edited_ms: int | None
    forwarded_from: str | None
    extra: str | None
    sender: str | None
    sender_key: str | None
    sender_pid: int | None
    attachments: tuple[AttachmentRow, ...]
    reactions: tuple[ReactionRow, ...]


def chat_infos(v: Store, chat_ids: list[int] | None = None) -> list[ChatInfo]:
    """The chats to export (all of them when `chat_ids` is None), in id order."""
    where = ""
    params: tuple[int, ...] = ()
    if chat_ids is not None:
        where = f"WHERE c.id IN ({','.join('?' * len(chat_ids))})"
        params = tuple(chat_ids)
    rows = v.conn.execute(
        "SELECT c.id, c.source, c.key, c.title, c.kind, c.extra,"
        " (SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.is_event = 0),"
        " (SELECT count(*) FROM messages m WHERE m.chat_id = c.id AND m.is_event = 1),"
        " (SELECT count(*) FROM attachments a JOIN messages m ON m.id = a.message_id"
        "   WHERE m.chat_id = c.id AND a.blob_id IS NOT NULL),"
        " (SELECT min(id) FROM messages m WHERE m.chat_id = c.id),"
        " (SELECT max(id) FROM messages m WHERE m.chat_id = c.id)"
        f" FROM chats c {where} ORDER BY c.id",
        params,
    ).fetchall()
    out = []
    for cid, source, key, title, kind, extra, n_msg, n_ev, n_att, first_id, last_id in rows:
        first = last = None
        if first_id is not None:
            first = v.conn.execute("SELECT ts_ms FROM messages WHERE id = ?", (first_id,)).fetchone()[0]
            last = v.conn.execute("SELECT ts_ms FROM messages WHERE id = ?", (last_id,)).fetchone()[0]
        try:
            extra_doc = json.loads(extra) if extra else None
        except ValueError:
            extra_doc = None
        out.append(
            ChatInfo(
                id=int(cid),
                source=source,
                key=key,
                title=title,
                kind=kind,
                extra=extra_doc if isinstance(extra_doc, dict) else None,
                messages=int(n_msg),
                events=int(n_ev),
                stored_attachments=int(n_att),
                first_ms=first,
                last_ms=last,
                last_id=None if last_id is None else int(last_id),
            )
        )
    return out


def members(v: Store, chat_id: int) -> list[tuple[int, str, str]]:
    """(person id, key, name) of everyone recorded as taking part in a chat, in the vault's order."""
    return [
        (int(pid), key, name)
        for pid, key, name in v.conn.execute(
            "SELECT p.id, p.key, p.name FROM chat_members cm JOIN people p ON p.id = cm.person_id"
            " WHERE cm.chat_id = ? ORDER BY p.id",
            (chat_id,),
        )
    ]


_ROW_SQL = (
    "SELECT m.id, m.uid, m.ts_ms, m.kind, m.is_event, m.from_me, m.text, m.source_id, m.reply_to,"
    " m.edited_ms, m.forwarded_from, m.extra, p.name, p.key, p.id"
    " FROM messages m LEFT JOIN people p ON p.id = m.sender_id"
    " WHERE m.chat_id = ? AND m.id > ? AND m.id <= ? {cond} ORDER BY m.id LIMIT ?"
)


def batches(v: Store, chat: ChatInfo, *, batch: int = BATCH, events_only: bool = False) -> Iterator[list[Row]]:
    """A chat's messages and events in time order, `batch` rows at a time, up to `chat.last_id`."""
    if chat.last_id is None:
        return
    c = v.conn
    sql = _ROW_SQL.format(cond="AND m.is_event = 1" if events_only else "")
    after = -(1 << 63)
    while True:
        raw = c.execute(sql, (chat.id, after, chat.last_id, batch)).fetchall()
        if not raw:
            return
        after = int(raw[-1][0])
        ids = [int(r[0]) for r in raw]
        atts = _attachments(v, ids)
        reacts = _reactions(v, ids)
        yield [
            Row(
                id=int(r[0]),
                uid=identity.identity_of(r[1]),
                ts_ms=int(r[2]),
                kind=r[3],
                is_event=bool(r[4]),
                from_me=None if r[5] is None else bool(r[5]),
                text=r[6] or "",
                source_id=r[7],
                reply_to=r[8],
                edited_ms=r[9],
                forwarded_from=r[10],
                extra=r[11],
                sender=r[12],
                sender_key=r[13],
                sender_pid=None if r[14] is None else int(r[14]),
                attachments=tuple(atts.get(int(r[0]), ())),
                reactions=tuple(reacts.get(int(r[0]), ())),
            )
            for r in raw
        ]
        if len(raw) < batch:
            return


def _marks(ids: list[int]) -> str:
    return ",".join("?" * len(ids))


def _attachments(v: Store, ids: list[int]) -> dict[int, list[AttachmentRow]]:
    out: dict[int, list[AttachmentRow]] = {}
    for mid, aid, name, kind, mime, size, blob in v.conn.execute(
        "SELECT message_id, id, name, kind, mime, size, blob_id FROM attachments"
        f" WHERE message_id IN ({_marks(ids)}) ORDER BY id",
        ids,
    ):
        out.setdefault(int(mid), []).append(AttachmentRow(int(aid), name, kind, mime, size, blob))
    return out


def _reactions(v: Store, ids: list[int]) -> dict[int, list[ReactionRow]]:
    out: dict[int, list[ReactionRow]] = {}
    for mid, emoji, sender, ts_ms, removed in v.conn.execute(
        f"SELECT message_id, emoji, sender, ts_ms, removed FROM reactions WHERE message_id IN ({_marks(ids)})"
        " ORDER BY rowid",
        ids,
    ):
        out.setdefault(int(mid), []).append(ReactionRow(emoji, sender, ts_ms, bool(removed)))
    return out


def copy_blob(v: Store, blob_id: int, fh: IO[bytes]) -> int:
    """Stream an attachment's bytes into `fh`, one stored chunk at a time; the number of bytes.

    Each chunk is its own query by primary key, so only one chunk (1 MiB) is in memory at a time.
    """
    n = 0
    seq = 0
    c = v.conn
    while row := c.execute("SELECT data FROM blob_chunks WHERE blob_id = ? AND seq = ?", (blob_id, seq)).fetchone():
        fh.write(row[0])
        n += len(row[0])
        seq += 1
        del row
    return n


def blob_size(v: Store, blob_id: int) -> int | None:
    row = v.conn.execute("SELECT size FROM blobs WHERE id = ?", (blob_id,)).fetchone()
    return None if row is None else int(row[0])


@dataclass(frozen=True)
class Quote:
    """What a reply shows of the message it answers."""

    id: int
    position: int  # index of the target among the chat's rows in time order (for page links)
    sender: str | None
    snippet: str


class ReplyIndex:
    """Finds the message a reply answers, by the source id that `reply_to` names, within one chat.

    Built with one pass over the chat that remembers only the replied-to messages (id and
    position); snippets are read per batch by primary key.
    """

    def __init__(self, v: Store, chat_id: int) -> None:
        self._v = v
        self._targets: dict[str, tuple[int, int, bool]] = {}
        wanted = {
            r[0]
            for r in v.conn.execute(
                "SELECT DISTINCT reply_to FROM messages WHERE chat_id = ? AND reply_to IS NOT NULL", (chat_id,)
            )
        }
        if not wanted:
            return
        cur = v.conn.execute("SELECT id, source_id, is_event FROM messages WHERE chat_id = ? ORDER BY id", (chat_id,))
        for pos, (mid, sid, is_event) in enumerate(cur):
            if sid not in wanted:
                continue
            known = self._targets.get(sid)
            if known is None or (known[2] and not is_event):  # a message wins over an event
                self._targets[sid] = (int(mid), pos, bool(is_event))

    def quotes(self, rows: list[Row]) -> dict[str, Quote]:
        """The quotes for the replies among `rows`, keyed by the `reply_to` they answer."""
        found = {r.reply_to: self._targets[r.reply_to] for r in rows if r.reply_to and r.reply_to in self._targets}
        if not found:
            return {}
        by_id = {mid: (sid, pos) for sid, (mid, pos, _) in found.items()}
        ids = list(by_id)
        out: dict[str, Quote] = {}
        for mid, sender, text in self._v.conn.execute(
            f"SELECT m.id, p.name, substr(m.text, 1, {SNIPPET + 1}) FROM messages m"
            f" LEFT JOIN people p ON p.id = m.sender_id WHERE m.id IN ({_marks(ids)})",
            ids,
        ):
            sid, pos = by_id[int(mid)]
            out[sid] = Quote(int(mid), pos, sender, snippet(text or ""))
        return out


def snippet(text: str, n: int = SNIPPET) -> str:
    one = " ".join(text.split())
    return one if len(one) <= n else one[: n - 1].rstrip() + "…"
