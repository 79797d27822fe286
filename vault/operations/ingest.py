"""The import pipeline: records from a parser into the vault, with identity, dedup and tombstones.

One import of one file is one transaction: it is wholly in or wholly out, whatever happens (a
malformed file, Ctrl-C, kill -9, a full disk); running it again after an interruption completes it
with exact counts, because identity makes every record idempotent (design.md "Records, identity and
dedup"). Message ids are `ts_ms * 65536 + n`, the time order the search relies on.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from vault.errors import ExportError
from vault.records import (
    Attachment,
    Chat,
    Event,
    Message,
    Note,
    Problem,
    Reaction,
    Record,
)
from vault.store.db import Connection, IntegrityError
from vault.text import normalize
from vault.timeutil import SEQ_SPAN

CHUNK = 1024 * 1024  # attachment bytes per row; bounds memory for any file size
# Plausible message times; outside this a timestamp is a parse error (and ids would overflow).
MIN_TS_MS = -2_208_988_800_000  # 1900-01-01
MAX_TS_MS = 32_503_680_000_000  # 3000-01-01
ORDINAL_WINDOW = 512  # distinct (chat, time) keys remembered for counting identical messages


@dataclass
class FileReport:
    path: str
    format: str | None = None
    chats: int = 0
    added: int = 0
    duplicates: int = 0
    events: int = 0
    attachments: int = 0
    deleted_skipped: int = 0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tz: str | None = None
    error: str | None = None
    import_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "format": self.format,
            "chats": self.chats,
            "added": self.added,
            "duplicates": self.duplicates,
            "events": self.events,
            "attachments": self.attachments,
            "deleted_skipped": self.deleted_skipped,
            "problems": self.problems,
            "notes": self.notes,
            "tz": self.tz,
            "error": self.error,
        }


Stamp = tuple[int, bytes | None]  # (UTC milliseconds, identity); identity None when malformed
#: What ingest takes: a record, and (from vault/operations/parse_ahead.py) its full-text tokens and its stamp
#: already computed; None for either means "compute it here".
Prepared = tuple[Record, str | None, Stamp | None]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_ONE_MS = timedelta(milliseconds=1)


class _MillisecondFull(Exception):
    """Every id of one millisecond is taken."""


class Ordinals:
    """The ordinal of a message among identical (chat, time, sender, text) tuples of one export.

    Identical tuples share a timestamp, so they sit together in any time-sorted export; a window
    of recent timestamps keeps memory bounded however large the export is.
    """

    def __init__(self, window: int = ORDINAL_WINDOW) -> None:
        self._counts: dict[tuple[str, str], dict[bytes, int]] = {}
        self._order: deque[tuple[str, str]] = deque()
        self._window = window

    def next(self, chat: str, ts_key: str, fp: bytes) -> int:
        key = (chat, ts_key)
        bucket = self._counts.get(key)
        if bucket is None:
            bucket = self._counts[key] = {}
            self._order.append(key)
            if len(self._order) > self._window:
                self._counts.pop(self._order.popleft(), None)
        n = bucket.get(fp, 0)
        bucket[fp] = n + 1
        return n


def _h(*parts: str) -> bytes:
    """A 128-bit hash of the parts, each length-prefixed so that no two lists collide."""
    joined = "".join([f"{len(p)}:{p}" for p in parts])  # a list: twice as fast as a generator here
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def mac(key: bytes, data: bytes) -> bytes:
    return hmac.new(key, data, hashlib.sha256).digest()[:16]


def chat_mac(key: bytes, source: str, chat_key: str) -> bytes:
    return mac(key, _h("chat", source, chat_key))


def unindex_name(conn: Connection, rowid: int, name: str) -> None:
    """Remove a name from the names index (FTS5 'delete' with its tokens; secure-delete scrubs them)."""
    from vault.text.names import name_index_text

    body = name_index_text(name)
    if body:
        conn.execute("INSERT INTO names_fts(names_fts, rowid, body) VALUES ('delete', ?, ?)", (rowid, body))


def unindex_messages(conn: Connection, rows: Iterable[tuple[int, str]]) -> None:
    """Remove messages (id, text) from the full-text index, given the text they were indexed from."""
    for mid, text in rows:
        body = normalize.index_text(text)
        if body:
            conn.execute("INSERT INTO fts(fts, rowid, body) VALUES ('delete', ?, ?)", (mid, body))


class Stamper:
    """A message's time and identity from the record and what came before it in the same export.

    The part of ingest that needs no database, so that vault/operations/parse_ahead.py can run it beside the
    writer: the ordinal among identical tuples depends only on the order of the records.
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.sources: dict[str, str] = {}  # chat key -> source, from the Chat records seen so far
        self.ordinals = Ordinals()
        self._last: tuple[datetime, int] | None = None  # the last wall-clock time converted

    def chat(self, chat: Chat) -> None:
        self.sources[chat.key] = chat.source

    def ts_ms(self, ts: datetime) -> int:
        """UTC milliseconds, exactly (float seconds would round some times down by 1 ms)."""
        if ts.tzinfo is not None:
            return (ts - _EPOCH) // _ONE_MS
        last = self._last  # wall-clock times: the zone lookup is the cost, and a minute repeats often
        if last is not None and last[0] == ts and last[0].fold == ts.fold:
            return last[1]
        out = (ts.replace(tzinfo=self.tz) - _EPOCH) // _ONE_MS
        self._last = (ts, out)
        return out

    def stamp(self, rec: Message | Event) -> Stamp | None:
        """(ts_ms, identity); None for a chat the export never named. ts_ms is out of range for an impossible date."""
        source = self.sources.get(rec.chat)
        if source is None:
            return None
        try:
            ts_ms = self.ts_ms(rec.ts)
        except (OverflowError, ValueError, OSError):
            return MAX_TS_MS + 1, None
        if not (MIN_TS_MS <= ts_ms <= MAX_TS_MS):
            return ts_ms, None
        return ts_ms, self._identity(rec, source, ts_ms)

    def _identity(self, rec: Message | Event, source: str, ts_ms: int) -> bytes | None:
        """The export's own id, else a fingerprint of what the export shows plus its ordinal."""
        if rec.identity is not None:  # re-import of the vault's own export
            try:
                uid = bytes.fromhex(rec.identity)
            except ValueError:
                return None
            return uid if len(uid) == 16 else None
        is_event = isinstance(rec, Event)
        kind = "e" if is_event else "m"
        if rec.source_id is not None:
            return _h("id", source, rec.chat, kind, rec.source_id)
        # Naive times are fingerprinted as the export shows them, so a different --tz on a
        # re-import still recognises the same messages.
        ts_key = rec.ts.isoformat() if rec.ts.tzinfo is None else str(ts_ms)
        sender = rec.actor if isinstance(rec, Event) else rec.sender
        fp = _h("fp", source, rec.chat, kind, ts_key, sender or "", rec.text)
        n = self.ordinals.next(rec.chat, ts_key, fp)
        return _h(fp.hex(), str(n))


class Ingestor:
    """Feeds one parser's records into an open transaction on `conn`."""

    def __init__(
        self,
        conn: Connection,
        *,
        mac_key: bytes,
        import_id: int,
        source: str,
        tz: ZoneInfo,
        report: FileReport,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.conn = conn
        self.mac_key = mac_key
        self.import_id = import_id
        self.source = source
        self.tz = tz
        self.report = report
        self.progress = progress
        self.chats: dict[str, int] = {}
        self.chat_macs: dict[int, bytes] = {}
        self.people: dict[tuple[str, str], int] = {}
        self.members: set[tuple[int, int]] = set()
        self.stamper = Stamper(tz)
        self.seen = 0
        self.touched_chats: set[int] = set()
        self.used_tz = False  # a wall-clock time was converted with the import's zone
        self.next_id: dict[int, int] = {}  # next free message id per millisecond, this import
        self.has_tombstones = conn.execute("SELECT 1 FROM tombstones LIMIT 1").fetchone() is not None

    # -- the loop ------------------------------------------------------------------------
    def run(self, records: Iterable[Prepared], path: str) -> None:
        """Ingest (record, tokens, stamp) triples; None means compute it here (see vault/operations/parse_ahead.py)."""
        # Records make no reference cycles; the cyclic collector would only rescan a heap that
        # holds the normaliser's dictionaries, over and over (measured: a quarter of import time).
        gc_was_on = gc.isenabled()
        gc.disable()
        try:
            self._run(records, path)
        finally:
            if gc_was_on:
                gc.enable()

    def _run(self, records: Iterable[Prepared], path: str) -> None:
        for rec, body, stamp in records:
            self.seen += 1
            if isinstance(rec, Message | Event):
                self._message(rec, path, body, stamp)
            elif isinstance(rec, Chat):
                self._chat(rec)
            elif isinstance(rec, Problem):
                self.report.problems.append(str(rec))
            elif isinstance(rec, Note):
                self.report.notes.append(rec.text)
            if self.seen % 2000 == 0:
                if self.progress is not None:
                    self.progress(self.seen)
                if self.seen % 200_000 == 0:
                    gc.collect(1)
        self.report.chats = len(self.touched_chats)

    # -- chats and people ------------------------------------------------------------------
    def _chat(self, chat: Chat) -> None:
        c = self.conn
        row = c.execute("SELECT id, title FROM chats WHERE source = ? AND key = ?", (chat.source, chat.key)).fetchone()
        extra = json.dumps(dict(chat.extra), ensure_ascii=False, default=str) if chat.extra else None
        if row is None:
            cur = c.execute(
                "INSERT INTO chats(source, key, title, kind, extra) VALUES (?, ?, ?, ?, ?)",
                (chat.source, chat.key, chat.title, chat.kind, extra),
            )
            chat_id = int(cur.lastrowid or 0)
            self._index_name(chat_id, chat.title)
        else:
            chat_id = int(row[0])
            if chat.title and chat.title != row[1]:
                c.execute("UPDATE chats SET title = ? WHERE id = ?", (chat.title, chat_id))
                self._index_name(chat_id, chat.title, old=row[1])
        self.chats[chat.key] = chat_id
        self.stamper.chat(chat)
        self.chat_macs[chat_id] = chat_mac(self.mac_key, chat.source, chat.key)
        for name in chat.participants:
            self._member(chat_id, self._person(chat.source, name, None))

    def _index_name(self, rowid: int, name: str, old: str | None = None) -> None:
        from vault.text.names import name_index_text

        if old is not None:
            unindex_name(self.conn, rowid, old)
        self.conn.execute("INSERT INTO names_fts(rowid, body) VALUES (?, ?)", (rowid, name_index_text(name)))

    def _person(self, source: str, name: str | None, sender_id: str | None) -> int | None:
        if not name and not sender_id:
            return None
        key = sender_id or "name:" + " ".join((name or "").split()).casefold()
        cache_key = (source, key)
        pid = self.people.get(cache_key)
        if pid is not None:
            return pid
        c = self.conn
        row = c.execute("SELECT id, name FROM people WHERE source = ? AND key = ?", cache_key).fetchone()
        if row is None and sender_id is None and name:
            # A name without an id (e.g. a service entry's actor): the person we already know by it.
            row = c.execute(
                "SELECT id, name FROM people WHERE source = ? AND name = ? ORDER BY id LIMIT 1", (source, name)
            ).fetchone()
        if row is None:
            cur = c.execute(
                "INSERT INTO people(source, key, name) VALUES (?, ?, ?)",
                (source, key, name or sender_id),
            )
            pid = int(cur.lastrowid or 0)
            self._index_name(-pid, name or sender_id or "")
        else:
            pid = int(row[0])
            if name and name != row[1]:
                c.execute("UPDATE people SET name = ? WHERE id = ?", (name, pid))
                self._index_name(-pid, name, old=row[1])
        self.people[cache_key] = pid
        return pid

    def _member(self, chat_id: int, person_id: int | None) -> None:
        if person_id is None or (chat_id, person_id) in self.members:
            return
        self.members.add((chat_id, person_id))
        self.conn.execute("INSERT OR IGNORE INTO chat_members(chat_id, person_id) VALUES (?, ?)", (chat_id, person_id))

    # -- messages --------------------------------------------------------------------------
    def _ts_ms(self, ts: datetime) -> int:
        if ts.tzinfo is None:
            self.used_tz = True
        return self.stamper.ts_ms(ts)

    def _message(self, rec: Message | Event, path: str, body: str | None, stamp: Stamp | None) -> None:
        chat_id = self.chats.get(rec.chat)
        if chat_id is None:
            self.report.problems.append(
                str(Problem(path, rec.line, "a message for a chat the export never named; skipped"))
            )
            return
        if stamp is None:
            stamp = self.stamper.stamp(rec)
            assert stamp is not None  # the chat is known
        ts_ms, uid = stamp
        if rec.ts.tzinfo is None:
            self.used_tz = True
        if not (MIN_TS_MS <= ts_ms <= MAX_TS_MS):
            self.report.problems.append(str(Problem(path, rec.line, "a message with an impossible date; skipped")))
            return
        is_event = isinstance(rec, Event)
        sender = rec.actor if isinstance(rec, Event) else rec.sender
        sender_id = None if isinstance(rec, Event) else rec.sender_id
        source = self.stamper.sources[rec.chat]
        if uid is None:
            self.report.problems.append(str(Problem(path, rec.line, "a message with a malformed identity; skipped")))
            return
        self.touched_chats.add(chat_id)
        c = self.conn
        if (
            self.has_tombstones
            and c.execute("SELECT 1 FROM tombstones WHERE mac = ?", (mac(self.mac_key, uid),)).fetchone()
        ):
            self.report.deleted_skipped += 1
            return
        person = self._person(source, sender, sender_id)
        extra = dict(rec.extra)
        if isinstance(rec, Message):
            kind, from_me = rec.kind, rec.from_me
            reply_to, fwd = rec.reply_to, rec.forwarded_from
            edited = self._ts_ms(rec.edited) if rec.edited is not None else None
        else:
            kind, from_me, reply_to, fwd, edited = rec.kind, None, None, None, None
        row: list[Any] = [
            0,
            uid,
            chat_id,
            person,
            ts_ms,
            kind,
            int(is_event),
            None if from_me is None else int(from_me),
            rec.text,
            rec.source_id,
            self.import_id,
        ]
        sql = self._INSERT_LEAN
        if reply_to is not None or edited is not None or fwd is not None or extra:
            # Binding fewer parameters is measurably cheaper, and most messages have none of these.
            row += [reply_to, edited, fwd, json.dumps(extra, ensure_ascii=False, default=str) if extra else None]
            sql = self._INSERT_FULL
        try:
            mid = self._insert(sql, row, ts_ms, uid)
        except _MillisecondFull:
            self.report.problems.append(str(Problem(path, rec.line, "too many messages in one millisecond; skipped")))
            return
        if mid is None:  # already in the vault
            self.report.duplicates += 1
            dup = c.execute("SELECT id FROM messages WHERE uid = ?", (uid,)).fetchone()[0]
            c.execute(
                "INSERT OR IGNORE INTO message_imports(message_id, import_id) VALUES (?, ?)", (dup, self.import_id)
            )
            if isinstance(rec, Message) and rec.attachments:
                self._fill_missing_attachments(int(dup), rec.attachments)
            return
        self._member(chat_id, person)
        if body is None:
            body = normalize.index_text(rec.text)
        if body:
            c.execute("INSERT INTO fts(rowid, body) VALUES (?, ?)", (mid, body))
        if is_event:
            self.report.events += 1
        else:
            self.report.added += 1
        if isinstance(rec, Message):
            for att in rec.attachments:
                self._attachment(mid, att)
            for r in rec.reactions:
                self._reaction(mid, r)

    _COLUMNS = "id, uid, chat_id, sender_id, ts_ms, kind, is_event, from_me, text, source_id, import_id"
    _INSERT_LEAN = f"INSERT INTO messages({_COLUMNS}) VALUES ({', '.join('?' * 11)})"
    _INSERT_FULL = (
        f"INSERT INTO messages({_COLUMNS}, reply_to, edited_ms, forwarded_from, extra) VALUES ({', '.join('?' * 15)})"
    )

    def _insert(self, sql: str, row: list[Any], ts_ms: int, uid: bytes) -> int | None:
        """Insert with a time-ordered id; None if the identity is already stored.

        Raises _MillisecondFull when 65,536 messages already share this millisecond.

        The fast path is one INSERT at `ts_ms * 65536` (or one past what this import gave that
        millisecond); only on a conflict does it look at what the vault holds.
        """
        base = ts_ms * SEQ_SPAN
        nxt = self.next_id.get(base, base)
        for attempt in range(2):
            if nxt >= base + SEQ_SPAN:
                raise _MillisecondFull
            row[0] = nxt
            try:
                self.conn.execute(sql, row)
            except IntegrityError:
                if self.conn.execute("SELECT 1 FROM messages WHERE uid = ?", (uid,)).fetchone():
                    return None
                if attempt:
                    raise
                top = self.conn.execute(
                    "SELECT max(id) FROM messages WHERE id >= ? AND id < ?", (base, base + SEQ_SPAN)
                ).fetchone()[0]
                nxt = base if top is None else int(top) + 1
                continue
            self.next_id[base] = nxt + 1
            if len(self.next_id) > 4096:
                self.next_id.clear()
            return nxt
        raise _MillisecondFull  # pragma: no cover

    def _reaction(self, mid: int, r: Reaction) -> None:
        ts = self._ts_ms(r.ts) if r.ts is not None else None
        self.conn.execute(
            "INSERT INTO reactions(message_id, emoji, sender, ts_ms, removed) VALUES (?, ?, ?, ?, ?)",
            (mid, r.emoji, r.sender, ts, int(r.removed)),
        )

    def _attachment(self, mid: int, att: Attachment) -> None:
        blob_id, size = self._store_blob(att) if att.open is not None else (None, att.size)
        self.conn.execute(
            "INSERT INTO attachments(message_id, name, kind, mime, size, blob_id) VALUES (?, ?, ?, ?, ?, ?)",
            (mid, att.name, att.kind, att.mime, size, blob_id),
        )
        if blob_id is not None:
            self.report.attachments += 1

    def _fill_missing_attachments(self, mid: int, atts: tuple[Attachment, ...]) -> None:
        for att in atts:
            if att.open is None:
                continue
            row = self.conn.execute(
                "SELECT id FROM attachments WHERE message_id = ? AND name = ? AND blob_id IS NULL",
                (mid, att.name),
            ).fetchone()
            if row is None:
                continue
            blob_id, size = self._store_blob(att)
            if blob_id is not None:
                self.conn.execute("UPDATE attachments SET blob_id = ?, size = ? WHERE id = ?", (blob_id, size, row[0]))
                self.report.attachments += 1

    def _store_blob(self, att: Attachment) -> tuple[int | None, int | None]:
        """Stream the bytes into chunks; keep one copy per distinct content (keyed hash)."""
        assert att.open is not None
        c = self.conn
        h = hmac.new(self.mac_key, b"blob", hashlib.sha256)
        import secrets as _secrets

        cur = c.execute("INSERT INTO blobs(mac, size) VALUES (?, 0)", (_secrets.token_bytes(16),))
        blob_id = int(cur.lastrowid or 0)
        size = 0
        seq = 0
        try:
            with att.open() as fh:
                while True:
                    chunk = fh.read(CHUNK)
                    if not chunk:
                        break
                    h.update(chunk)
                    c.execute("INSERT INTO blob_chunks(blob_id, seq, data) VALUES (?, ?, ?)", (blob_id, seq, chunk))
                    size += len(chunk)
                    seq += 1
        except Exception as exc:
            c.execute("DELETE FROM blobs WHERE id = ?", (blob_id,))
            reason = exc.reason if isinstance(exc, ExportError) else "unreadable"
            self.report.problems.append(f"an attachment could not be read ({reason}); its name is kept")
            return None, att.size
        digest = h.digest()[:16]
        existing = c.execute("SELECT id FROM blobs WHERE mac = ?", (digest,)).fetchone()
        if existing is not None:
            c.execute("DELETE FROM blobs WHERE id = ?", (blob_id,))
            return int(existing[0]), size
        c.execute("UPDATE blobs SET mac = ?, size = ? WHERE id = ?", (digest, size, blob_id))
        return blob_id, size
