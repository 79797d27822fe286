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
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from vault.errors import ExportError
from vault.records import (
    Attachment,
    Chat,
    Event,
    EventKind,
    Message,
    MessageKind,
    Note,
    Problem,
    Reaction,
    Record,
    title_key,
)
from vault.store import identity
from vault.store.db import Connection, IntegrityError
from vault.text import normalize
from vault.timeutil import SEQ_SPAN

CHUNK = 1024 * 1024  # attachment bytes per row; bounds memory for any file size
# Plausible message times; outside this a timestamp is a parse error (and ids would overflow).
MIN_TS_MS = -2_208_988_800_000  # 1900-01-01
MAX_TS_MS = 32_503_680_000_000  # 3000-01-01
ORDINAL_WINDOW = 512  # distinct (chat, time) keys remembered for counting identical messages
MERGE_WINDOW_MS = 15 * 3_600_000  # how far apart a text export's time and a database's may be (zones)
HOUR_MS = 3_600_000
BATCH = 1000  # plain new messages written by one executemany (docs/performance.md "The writer")
#: Stored records of one millisecond with an export id, and their chats' keys (`_same_chat_by_id`).
#: CROSS JOIN: the millisecond's few rows first, then their chats by id. Left to itself SQLite walked
#: every chat of the source and sought each one's rows: 29 shifts times every stored chat, for each
#: new chat (13 s of a 100,000-message import into 1,400 chats; tests/test_ingest.py pins the plan).
SAME_INSTANT_SQL = (
    "SELECT m.chat_id, c.key FROM messages m CROSS JOIN chats c ON c.id = m.chat_id"
    " WHERE m.id >= ? AND m.id < ? AND m.source_id = ? AND c.source = ?"
)


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
    conflicts: int = 0
    merged: int = 0
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
            "conflicts": self.conflicts,
            "merged": self.merged,
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
_NAIVE_EPOCH = datetime(1970, 1, 1)
_ONE_MS = timedelta(milliseconds=1)


@dataclass(slots=True)
class _Pending:
    """A message on its way in: its row and what the careful path needs if its batch falls back."""

    rec: Message | Event
    path: str
    body: str | None
    sql: str
    row: list[Any]
    ts_ms: int
    uid: bytes
    chat_id: int
    person: int | None
    source: str
    is_event: bool


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


#: Service entries held, per chat, until the chat's first message says which chat it is (_probe).
HOLD_EVENTS = 200
#: The most whole hours two exports of one chat may disagree by (zones run from -12 to +14).
MAX_SHIFT_HOURS = 14


class Stamper:
    """A message's time and identity from the record and what came before it in the same export.

    The part of ingest that needs no database, so that vault/operations/parse_ahead.py can run it beside the
    writer: the ordinal among identical tuples depends only on the order of the records.

    Computes exactly `_h(...)` of the parts (the tests compare it with _h), with the parts that repeat
    for every message of a chat (source, chat key, kind) length-prefixed once per chat and the last
    wall-clock time's conversion and isoformat remembered (measured: half the cost of a stamp).
    """

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self.sources: dict[str, str] = {}  # chat key -> source, from the Chat records seen so far
        self.ordinals = Ordinals()
        self._last: tuple[datetime, int, str] | None = None  # the last wall-clock time: ms, isoformat
        self._heads: dict[tuple[str, str, str], str] = {}  # (tag, source, chat) -> its parts, prefixed
        self._utcoffset = tz.utcoffset

    def chat(self, chat: Chat) -> None:
        self.sources[chat.key] = chat.source

    def ts_ms(self, ts: datetime) -> int:
        """UTC milliseconds, exactly (float seconds would round some times down by 1 ms)."""
        if ts.tzinfo is not None:
            return (ts - _EPOCH) // _ONE_MS
        return self._naive(ts)[0]

    def _naive(self, ts: datetime) -> tuple[int, str]:
        """A wall-clock time's UTC milliseconds and isoformat: the zone lookup is the cost, and a
        minute repeats often."""
        last = self._last
        if last is not None and last[0] == ts and last[0].fold == ts.fold:
            return last[1], last[2]
        # (ts.replace(tzinfo=tz) - _EPOCH) // _ONE_MS, which is the same by definition (the zone's
        # offset for these wall-clock fields and fold) and 6x slower (measured, five zones, folds and gaps).
        off = self._utcoffset(ts)
        if off is None:  # pragma: no cover - a ZoneInfo gives every wall-clock time an offset
            raise ValueError("no UTC offset")
        out = ((ts - _NAIVE_EPOCH) - off) // _ONE_MS
        iso = ts.isoformat()
        self._last = (ts, out, iso)
        return out, iso

    def stamp(self, rec: Message | Event) -> Stamp | None:
        """(ts_ms, identity); None for a chat the export never named. ts_ms is out of range for an impossible date."""
        chat = rec.chat
        source = self.sources.get(chat)
        if source is None:
            return None
        ts = rec.ts
        try:
            if ts.tzinfo is not None:
                ts_ms = (ts - _EPOCH) // _ONE_MS
                ts_key = None
            else:
                ts_ms, ts_key = self._naive(ts)
        except (OverflowError, ValueError, OSError):
            return MAX_TS_MS + 1, None
        if not (MIN_TS_MS <= ts_ms <= MAX_TS_MS):
            return ts_ms, None
        # The export's own id, else a fingerprint of what the export shows plus its ordinal.
        if rec.identity is not None:  # re-import of the vault's own export
            try:
                uid = bytes.fromhex(rec.identity)
            except ValueError:
                return ts_ms, None
            return ts_ms, (uid if len(uid) == 16 else None)
        sid = rec.source_id
        if sid is not None:
            # The export's own id names one record whether an importer reads it as a message or an
            # event (a call was a Message of kind "call" in some importers, an Event in others):
            # "m" for both (schema migration 2 moved the old event identities).
            # _h("id", source, chat, "m", source_id):
            head = self._head("id", source, chat, "m")
            return ts_ms, _digest(f"{head}{len(sid)}:{sid}")
        if isinstance(rec, Event):
            kind, sender = "e", rec.actor
        else:
            kind, sender = "m", rec.sender
        # Naive times are fingerprinted as the export shows them, so a different --tz on a
        # re-import still recognises the same messages.
        if ts_key is None:
            ts_key = str(ts_ms)
        if sender is None:
            sender = ""
        text = rec.text
        # _h("fp", source, chat, kind, ts_key, sender, text), then _h(fp.hex(), str(n)):
        head = self._head("fp", source, chat, kind)
        fp = _digest(f"{head}{len(ts_key)}:{ts_key}{len(sender)}:{sender}{len(text)}:{text}")
        n = str(self.ordinals.next(chat, ts_key, fp))
        return ts_ms, _digest(f"32:{fp.hex()}{len(n)}:{n}")

    def _head(self, tag: str, source: str, chat: str, kind: str) -> str:
        key = (tag + kind, source, chat)
        head = self._heads.get(key)
        if head is None:
            head = self._heads[key] = "".join([f"{len(p)}:{p}" for p in (tag, source, chat, kind)])
        return head


def _digest(joined: str) -> bytes:
    """What _h returns for parts already joined with their length prefixes."""
    return _blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).digest()


_blake2b = hashlib.blake2b


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
        self.has_aliases = conn.execute("SELECT 1 FROM uid_aliases LIMIT 1").fetchone() is not None
        self.created_chats: set[int] = set()  # chats this import created (dropped again if left empty)
        self.created_people: set[int] = set()
        self.merging: dict[int, bool] = {}  # chat id -> this export has ids (True) / lacks them (False)
        self.others: dict[int, dict[str, list[tuple[int, int, str | None, bool]]]] = {}
        self.titles: dict[int, str] = {}
        self.claimed: set[int] = set()  # vault rows a record of this export was matched to (ordinal rule)
        self.shifts: dict[int, int] = {}  # whole hours a database's times differ from a text export's -> count
        self.probed: set[str] = set()  # chat keys of this export already looked for under another key
        self.rekeyed: dict[str, str] = {}  # chat key of this export -> the key its messages' ids are stored under
        self.adopted: set[int] = set()  # chats this import created but whose messages went to the same chat
        self.held: dict[str, list[tuple[Message | Event, str, str | None, Stamp]]] = {}  # events awaiting _probe
        self.id_shifts: dict[str, int] = {}  # chat key -> whole hours the stored copy's times differ by
        self._batch: list[_Pending] = []  # plain new messages not yet written (see _flush)
        self._careful = 0  # records to take the careful path before batching again (tests compare the two)

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
                self._flush()
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
        self._flush()
        self._release_held()
        self._flush()
        self._drop_empty_chats()
        self._note_merges()
        self.report.chats = len(self.touched_chats)

    def _drop_empty_chats(self) -> None:
        """A chat this import created and gave no message (all deleted before, or none) is not kept."""
        c = self.conn
        dropped = 0
        cleaned = False
        for chat_id in sorted(self.created_chats):
            if c.execute("SELECT 1 FROM messages WHERE chat_id = ? LIMIT 1", (chat_id,)).fetchone():
                continue
            title = c.execute("SELECT title FROM chats WHERE id = ?", (chat_id,)).fetchone()[0]
            unindex_name(c, chat_id, title)
            c.execute("DELETE FROM chats WHERE id = ?", (chat_id,))
            self.touched_chats.discard(chat_id)
            if chat_id not in self.adopted:  # its messages went to the same chat under its other key
                dropped += 1
            cleaned = True
        if not cleaned:
            return
        for pid in sorted(self.created_people):
            row = c.execute(
                "SELECT name FROM people p WHERE id = ?"
                " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.sender_id = p.id)"
                " AND NOT EXISTS (SELECT 1 FROM chat_members cm WHERE cm.person_id = p.id)",
                (pid,),
            ).fetchone()
            if row is not None:
                unindex_name(c, -pid, row[0])
                c.execute("DELETE FROM people WHERE id = ?", (pid,))
        if not dropped:
            return
        self.report.notes.append(
            f"{dropped} chat{'s' if dropped != 1 else ''} with no message to keep (none in the export, or "
            f"every one deleted from the vault before) {'were' if dropped != 1 else 'was'} not added"
        )

    def _note_merges(self) -> None:
        r = self.report
        for hours in sorted(set(self.id_shifts.values())):
            r.notes.append(
                f"a chat of this export is one the vault holds from another export of it, whose times differ "
                f"by {hours:+d} h: one of the two was read in the wrong zone; the vault keeps the times it had"
            )
        if r.merged:
            r.notes.append(
                f"{r.merged} message{'s' if r.merged != 1 else ''} matched one already imported from the same "
                "chat's other export (by sender, minute and text); each is kept once, with both imports as its "
                "provenance"
            )
        shifted = {h: n for h, n in self.shifts.items() if h}
        if shifted:
            h, n = max(shifted.items(), key=lambda kv: kv[1])
            r.notes.append(
                f"on {n} matched message{'s' if n != 1 else ''} the times differ by {h:+d} h between the text export "
                "and the database: the zone the text export was read in (--tz) was wrong; the database's times are kept"
            )

    # -- chats and people ------------------------------------------------------------------
    def _chat(self, chat: Chat) -> None:
        c = self.conn
        row = c.execute("SELECT id, title FROM chats WHERE source = ? AND key = ?", (chat.source, chat.key)).fetchone()
        extra = json.dumps(dict(chat.extra), ensure_ascii=False, default=str) if chat.extra else None
        merged = None if row is not None else self._other_export_of(chat)
        if merged is not None:
            chat_id = merged
            self.merging[chat_id] = not chat.key.startswith("title:")
        elif row is None:
            cur = c.execute(
                "INSERT INTO chats(source, key, title, kind, extra) VALUES (?, ?, ?, ?, ?)",
                (chat.source, chat.key, chat.title, chat.kind, extra),
            )
            chat_id = int(cur.lastrowid or 0)
            self.created_chats.add(chat_id)
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

    def _must_probe(self, rec: Message | Event, chat_id: int) -> bool:
        """Whether this record is the first of its chat with an export id in a chat this import made or
        matched by title, so that the chat may be one the vault holds under its other key."""
        return (
            rec.source_id is not None
            and rec.identity is None
            and rec.chat not in self.probed
            and (chat_id in self.created_chats or chat_id in self.merging)
        )

    def _probe(self, rec: Message | Event, stamp: Stamp, chat_id: int) -> None:
        """Decide, from this record, which chat this export's chat is; then write the records held for it."""
        self.probed.add(rec.chat)
        ts_ms = stamp[0]
        if MIN_TS_MS <= ts_ms <= MAX_TS_MS:
            self._same_chat_by_id(rec, self.stamper.sources[rec.chat], ts_ms, chat_id)
        for held in self.held.pop(rec.chat, []):
            self._message(*held)

    def _release_held(self) -> None:
        """Chats of this export that had only events: decide from their first event, and write them."""
        for key in list(self.held):
            rows = self.held.get(key) or []
            if rows:
                rec, _path, _body, stamp = rows[0]
                self._probe(rec, stamp, self.chats[rec.chat])

    def _same_chat_by_id(self, rec: Message | Event, source: str, ts_ms: int, chat_id: int) -> int:
        """The chat this export's chat is, found by its first record's export id: the chat to write to.

        The same chat can reach the vault under two keys: Telegram's JSON export names the chat's id,
        its HTML export only the title (so `title:<title>`), and a personal chat's title differs
        between them. Export ids number messages within a chat, so a stored record of the same
        source, under the other kind of key (one a title key, the other not), whose identity that
        key gives for this record's export id, says which chat this is:
        - in the chat matched by title (`_other_export_of`), at any time: the two exports may
          disagree on the zone by whole hours (the shift is counted and noted);
        - otherwise, at the same instant, or whole hours from it.
        This export's records then take that chat and that key's identities, so every message is
        stored once, whichever export came first.
        """
        if rec.source_id is None or (chat_id not in self.created_chats and chat_id not in self.merging):
            return chat_id  # a chat the vault knew under this very key: nothing to look for
        titled = rec.chat.startswith("title:")
        c = self.conn
        found: dict[int, tuple[str, int]] = {}  # chat id -> (its key, the stored time)
        if chat_id in self.merging:
            key = c.execute("SELECT key FROM chats WHERE id = ?", (chat_id,)).fetchone()[0]
            row = c.execute(
                "SELECT ts_ms FROM messages WHERE uid IN (?, ?) AND chat_id = ?",
                (*identity.keys(ts_ms, _h("id", source, key, "m", rec.source_id)), chat_id),
            ).fetchone()
            if row is not None and key.startswith("title:") != titled:
                found[chat_id] = (key, int(row[0]))
        else:
            for hours in sorted(range(-MAX_SHIFT_HOURS, MAX_SHIFT_HOURS + 1), key=abs):
                at = ts_ms + hours * HOUR_MS
                for other_id, key in c.execute(
                    SAME_INSTANT_SQL,
                    (at * SEQ_SPAN, (at + 1) * SEQ_SPAN, rec.source_id, source),
                ):
                    if key == rec.chat or key.startswith("title:") == titled:
                        continue
                    if c.execute(
                        "SELECT 1 FROM messages WHERE uid = ? AND chat_id = ?",
                        (identity.key(at, _h("id", source, key, "m", rec.source_id)), other_id),
                    ).fetchone():
                        found[int(other_id)] = (key, at)
                if found:
                    break
        if len(found) != 1:
            return chat_id
        ((other_id, (key, stored_ts)),) = found.items()
        shift = round((stored_ts - ts_ms) / HOUR_MS)
        if shift:
            self.id_shifts[rec.chat] = shift
        self.rekeyed[rec.chat] = key
        self.chats[rec.chat] = other_id
        self.chat_macs[other_id] = chat_mac(self.mac_key, source, key)
        if chat_id in self.created_chats and chat_id != other_id:
            self.adopted.add(chat_id)
        return other_id

    def _other_export_of(self, chat: Chat) -> int | None:
        """The chat already in the vault that this one is, read from the other kind of export.

        A text export without chat ids (WhatsApp's "Export chat": key `title:<folded title>`) and a
        database of the same app (key: the chat's own id, e.g. a jid) are the same chat when they
        have the same source and the database chat's title (its subject, or the contact's name for
        a direct chat) folds to the text export's title. Only a single such chat counts.
        """
        c = self.conn
        if chat.key.startswith("title:"):
            found = [
                int(i)
                for i, key, title in c.execute("SELECT id, key, title FROM chats WHERE source = ?", (chat.source,))
                if not key.startswith("title:") and title_key(title) == chat.key
            ]
        else:
            # A text export's chat takes one database chat: a second contact of the same name is
            # its own chat (merged_key, kept in the chat's extra, says which one it took).
            want = title_key(chat.title) if chat.title else None
            rows = (
                []
                if want is None
                else c.execute(
                    "SELECT id, extra FROM chats WHERE source = ? AND key = ?", (chat.source, want)
                ).fetchall()
            )
            taken = [(int(i), _json_object(x)) for i, x in rows if _merged_key(x) in (None, chat.key)]
            if len(taken) != 1:
                return None
            chat_id, extra = taken[0]
            if extra.get("merged_key") is None:
                extra["merged_key"] = chat.key
                c.execute("UPDATE chats SET extra = ? WHERE id = ?", (json.dumps(extra, ensure_ascii=False), chat_id))
            return chat_id
        return found[0] if len(found) == 1 else None

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
            self.created_people.add(pid)
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
        if self._must_probe(rec, chat_id):
            if isinstance(rec, Event) and len(self.held.setdefault(rec.chat, [])) < HOLD_EVENTS:
                # A service entry's time may be estimated (Telegram's HTML): wait for a message to
                # tell which chat this is. Events carry no attachments, so holding them is safe.
                self.held[rec.chat].append((rec, path, body, stamp))
                return
            self._probe(rec, stamp, chat_id)
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
        stored_key = self.rekeyed.get(rec.chat)
        if stored_key is not None and rec.source_id is not None and rec.identity is None:
            chat_id = self.chats[rec.chat]
            uid = _h("id", source, stored_key, "m", rec.source_id)
        self.touched_chats.add(chat_id)
        c = self.conn
        merging = self.merging.get(chat_id)
        if self.has_aliases:
            row_alias = c.execute("SELECT new FROM uid_aliases WHERE old = ?", (uid,)).fetchone()
            if row_alias is not None:
                uid = bytes(row_alias[0])
        if self.has_tombstones and self._tombstoned(rec, source, uid):
            self.report.deleted_skipped += 1
            return
        person = self._person(source, sender, sender_id)
        replaces: int | None = None  # the text export's row that this database record takes the place of
        if merging is not None and isinstance(rec, Message) and (rec.source_id is not None) == merging:
            self._flush()  # the twin is looked for among the messages stored so far
            twin = self._twin(rec, chat_id, uid, ts_ms, sender, merging)
            if twin is not None and not merging:  # a text export's message the database already has
                self._contained(twin, uid)
                self.report.duplicates += 1
                self.report.merged += 1
                return
            if twin is not None:  # the database's message for one a text export gave: the database's wins
                replaces = twin
                self.report.merged += 1
        extra = dict(rec.extra)
        kind: MessageKind | EventKind
        if isinstance(rec, Message):
            kind, from_me = rec.kind, rec.from_me
            reply_to, fwd = rec.reply_to, rec.forwarded_from
            edited = self._ts_ms(rec.edited) if rec.edited is not None else None
        else:
            kind, from_me, reply_to, fwd, edited = rec.kind, None, None, None, None
        row: list[Any] = [
            0,
            identity.key(ts_ms, uid),  # the stored key; the careful path may find it in the nearer bucket
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
        if replaces is None and (isinstance(rec, Event) or not (rec.attachments or rec.reactions)):
            if self._careful:
                self._careful -= 1
            else:
                self._batch.append(_Pending(rec, path, body, sql, row, ts_ms, uid, chat_id, person, source, is_event))
                if len(self._batch) >= BATCH:
                    self._flush()
                return
        self._flush()  # what is pending comes first: this record may be a duplicate of one of them
        self._store(_Pending(rec, path, body, sql, row, ts_ms, uid, chat_id, person, source, is_event), replaces)

    def _store(self, p: _Pending, replaces: int | None = None) -> None:
        """Today's careful path for one message: insert, or the duplicate, conflict or merge it is."""
        rec, path, body, sql, row, ts_ms, uid = p.rec, p.path, p.body, p.sql, p.row, p.ts_ms, p.uid
        chat_id, person, source, is_event = p.chat_id, p.person, p.source, p.is_event
        c = self.conn
        row[1] = self._stored_key(ts_ms, uid)
        try:
            mid = self._insert(sql, row, ts_ms)
        except _MillisecondFull:
            self.report.problems.append(str(Problem(path, rec.line, "too many messages in one millisecond; skipped")))
            return
        if mid is None:  # already in the vault
            dup, dup_import, dup_text, dup_kind = c.execute(
                "SELECT id, import_id, text, kind FROM messages WHERE uid = ?", (row[1],)
            ).fetchone()
            if rec.source_id is not None and _differs(rec, dup_text, dup_kind):
                # One export id, two different messages (issue 17.19): keep both, say so.
                uid = _h("conflict", uid.hex(), _same_text(rec.text))
                if self.has_tombstones and self._tombstoned(rec, source, uid):
                    self.report.deleted_skipped += 1
                    return
                row[1] = self._stored_key(ts_ms, uid)
                try:
                    mid = self._insert(sql, row, ts_ms)
                except _MillisecondFull:
                    mid = None
                if mid is None:  # that second message is stored already: it is the duplicate
                    known = c.execute("SELECT id, import_id FROM messages WHERE uid = ?", (row[1],)).fetchone()
                    if known is not None:
                        dup, dup_import = known
                else:
                    self.report.conflicts += 1
                    self.report.problems.append(
                        str(
                            Problem(
                                path,
                                rec.line,
                                "a message shares its export id with a different message already in the vault; "
                                "both are kept",
                            )
                        )
                    )
            if mid is None:
                self.report.duplicates += 1
                if int(dup_import) != self.import_id:
                    c.execute(
                        "INSERT OR IGNORE INTO message_imports(message_id, import_id) VALUES (?, ?)",
                        (dup, self.import_id),
                    )
                if isinstance(rec, Message) and rec.attachments:
                    self._fill_missing_attachments(int(dup), rec.attachments)
                return
        if replaces is not None:
            self._replace(replaces, mid, uid)
        self._member(chat_id, person)
        if body is None:
            body = normalize.index_text(rec.text)
        if body:
            c.execute("INSERT INTO fts(rowid, body) VALUES (?, ?)", (mid, body))
        if replaces is not None:
            self.report.duplicates += 1
        elif is_event:
            self.report.events += 1
        else:
            self.report.added += 1
        if isinstance(rec, Message):
            stored = (
                {r[0] for r in c.execute("SELECT name FROM attachments WHERE message_id = ?", (mid,))}
                if replaces is not None
                else set()
            )
            for att in rec.attachments:
                if att.name in stored:
                    continue
                self._attachment(mid, att)
            for r in rec.reactions:
                self._reaction(mid, r)

    def _flush(self) -> None:
        """Write the pending plain messages: one executemany per statement shape, then their index rows.

        A batch goes in whole only when nothing in it can be a duplicate or take a used id: no identity
        twice in the batch, none of them in the vault under its key or the nearer bucket's
        (vault/store/identity.py), none of its ids in the vault (two queries of the whole
        batch). Otherwise its ids are given back and it runs row by row through the careful
        path, which finds the duplicates and conflicts exactly as if there had been no batch. No
        SAVEPOINT: FTS5 writes out its pending terms at every savepoint, a segment per batch (measured
        slower than the row-by-row writer it replaces; docs/performance.md "The writer").
        """
        batch = self._batch
        if not batch:
            return
        self._batch = []
        saved = dict(self.next_id)
        groups: dict[tuple[bool, ...], list[list[Any]]] = {}
        ids: list[int] = []
        keys: list[bytearray] = []  # each identity's key and its key in the nearer bucket
        ok = True
        for p in batch:
            base = p.ts_ms * SEQ_SPAN
            nxt = self.next_id.get(base, base)
            if nxt >= base + SEQ_SPAN:
                ok = False  # the careful path says which message has no id left
                break
            row = p.row
            row[0] = nxt
            self.next_id[base] = nxt + 1
            if len(self.next_id) > 4096:
                self.next_id.clear()
            # sqlcipher3 binds int, str and bytearray directly but sends bytes and None through its
            # adapter lookup: Nones become NULL literals of the statement, the identity a bytearray.
            values = [v for v in row if v is not None]
            values[1] = key = bytearray(row[1])  # id and identity are never None
            ids.append(nxt)
            keys.append(key)
            keys.append(bytearray(identity.neighbour(p.ts_ms, p.uid)))
            groups.setdefault(tuple([v is None for v in row]), []).append(values)
        c = self.conn
        if ok and len(set(ids)) == len(batch) and len({p.uid for p in batch}) == len(batch):
            marks = ",".join("?" * len(batch))
            ok = (
                c.execute(f"SELECT 1 FROM messages WHERE uid IN ({marks},{marks}) LIMIT 1", keys).fetchone() is None
                and c.execute(f"SELECT 1 FROM messages WHERE id IN ({marks}) LIMIT 1", ids).fetchone() is None
            )
        else:
            ok = False
        if not ok:
            self.next_id = saved
            for p in batch:
                self._store(p)
            return
        for shape, rows in groups.items():
            c.executemany(self._specialised(shape), rows)
        fts = []
        for p in batch:
            if p.body is None:
                p.body = normalize.index_text(p.rec.text)
            if p.body:
                fts.append((p.row[0], p.body))
        c.executemany("INSERT INTO fts(rowid, body) VALUES (?, ?)", fts)
        report = self.report
        for p in batch:
            self._member(p.chat_id, p.person)
            if p.is_event:
                report.events += 1
            else:
                report.added += 1

    @classmethod
    def _specialised(cls, shape: tuple[bool, ...]) -> str:
        """The INSERT for rows whose None values (`shape`) are literal NULLs, not bound ones."""
        sql = cls._SPECIALISED.get(shape)
        if sql is None:
            cols = cls._COLUMNS_FULL[: len(shape)]
            values = ", ".join("NULL" if none else "?" for none in shape)
            sql = cls._SPECIALISED[shape] = f"INSERT INTO messages({', '.join(cols)}) VALUES ({values})"
        return sql

    def _tombstoned(self, rec: Message | Event, source: str, uid: bytes) -> bool:
        macs = [mac(self.mac_key, uid)]
        if isinstance(rec, Event) and rec.source_id is not None and rec.identity is None:
            macs.append(mac(self.mac_key, _h("id", source, rec.chat, "e", rec.source_id)))  # deleted before migration 2
        marks = ",".join("?" * len(macs))
        return self.conn.execute(f"SELECT 1 FROM tombstones WHERE mac IN ({marks})", macs).fetchone() is not None

    # -- one chat from a text export and a database ------------------------------------------
    def _twin(
        self, rec: Message, chat_id: int, uid: bytes, ts_ms: int, sender: str | None, has_ids: bool
    ) -> int | None:
        """The row of the other export that is this message: same sender, minute and text.

        The ordinal rule: each vault row is matched once per import, in time order, so two identical
        "ok"s in one minute match two rows. The database's time may differ from the text export's
        by whole hours (the text export was read in a wrong zone): such a twin still matches, the
        shift is counted and noted. None when the record's own identity is already stored.
        """
        c = self.conn
        if c.execute("SELECT 1 FROM messages WHERE uid IN (?, ?)", identity.keys(ts_ms, uid)).fetchone():
            return None
        rows = self.others.get(chat_id)
        if rows is None:
            rows = self.others[chat_id] = self._other_rows(chat_id, has_ids)
        me = rec.from_me is True
        best: tuple[int, int, int] | None = None  # (hours off, id, shift)
        for mid, ts, their_sender, their_me in rows.get(_same_text(rec.text), ()):
            if mid in self.claimed or abs(ts - ts_ms) > MERGE_WINDOW_MS:
                continue
            db_ts, text_ts = (ts_ms, ts) if has_ids else (ts, ts_ms)
            hours = round((db_ts - text_ts) / HOUR_MS)
            if db_ts // 60_000 != (text_ts + hours * HOUR_MS) // 60_000:  # not the same minute, whole hours apart
                continue
            if not _same_sender(sender, me, their_sender, their_me, self.titles[chat_id]):
                continue
            if best is None or abs(hours) < best[0]:
                best = (abs(hours), mid, hours)
                if hours == 0:
                    break
        if best is None:
            return None
        self.claimed.add(best[1])
        self.shifts[best[2]] = self.shifts.get(best[2], 0) + 1
        return best[1]

    def _other_rows(self, chat_id: int, has_ids: bool) -> dict[str, list[tuple[int, int, str | None, bool]]]:
        """The chat's messages from the other kind of export, by compared text, in time order."""
        c = self.conn
        self.titles[chat_id] = c.execute("SELECT title FROM chats WHERE id = ?", (chat_id,)).fetchone()[0]
        other = "m.source_id IS NULL" if has_ids else "m.source_id IS NOT NULL"
        out: dict[str, list[tuple[int, int, str | None, bool]]] = {}
        for mid, ts, text, name, from_me in c.execute(
            "SELECT m.id, m.ts_ms, m.text, p.name, m.from_me FROM messages m LEFT JOIN people p ON p.id = m.sender_id"
            f" WHERE m.chat_id = ? AND m.is_event = 0 AND {other} ORDER BY m.id",
            (chat_id,),
        ):
            out.setdefault(_same_text(text), []).append((int(mid), int(ts), name, from_me == 1))
        return out

    def _contained(self, twin: int, uid: bytes) -> None:
        """A text export's message is the database's row `twin`: provenance, and its identity kept."""
        c = self.conn
        c.execute("INSERT OR IGNORE INTO message_imports(message_id, import_id) VALUES (?, ?)", (twin, self.import_id))
        new = identity.identity_of(c.execute("SELECT uid FROM messages WHERE id = ?", (twin,)).fetchone()[0])
        c.execute("INSERT OR IGNORE INTO uid_aliases(old, new) VALUES (?, ?)", (uid, new))
        self.has_aliases = True

    def _replace(self, twin: int, mid: int, uid: bytes) -> None:
        """The database's new row `mid` takes the place of the text export's row `twin`.

        It takes the twin's provenance and attachments (files from the export's media), the twin
        leaves the vault and the index, and its identity becomes an alias of the new one, so that
        the text export imported again, or a tombstone of the new row, still finds it.
        """
        c = self.conn
        old_key, text, first = c.execute("SELECT uid, text, import_id FROM messages WHERE id = ?", (twin,)).fetchone()
        old_uid = identity.identity_of(old_key)
        imports = {int(first)} | {
            int(r[0]) for r in c.execute("SELECT import_id FROM message_imports WHERE message_id = ?", (twin,))
        }
        for imp in sorted(imports - {self.import_id}):
            c.execute("INSERT OR IGNORE INTO message_imports(message_id, import_id) VALUES (?, ?)", (mid, imp))
        c.execute("UPDATE attachments SET message_id = ? WHERE message_id = ?", (mid, twin))
        unindex_messages(c, [(twin, text)])
        c.execute("DELETE FROM messages WHERE id = ?", (twin,))
        c.execute("UPDATE uid_aliases SET new = ? WHERE new = ?", (uid, old_uid))
        c.execute("INSERT OR IGNORE INTO uid_aliases(old, new) VALUES (?, ?)", (old_uid, uid))
        self.has_aliases = True

    _COLUMNS = "id, uid, chat_id, sender_id, ts_ms, kind, is_event, from_me, text, source_id, import_id"
    _INSERT_LEAN = f"INSERT INTO messages({_COLUMNS}) VALUES ({', '.join('?' * 11)})"
    _INSERT_FULL = (
        f"INSERT INTO messages({_COLUMNS}, reply_to, edited_ms, forwarded_from, extra) VALUES ({', '.join('?' * 15)})"
    )
    _COLUMNS_FULL = (*_COLUMNS.split(", "), "reply_to", "edited_ms", "forwarded_from", "extra")
    _SPECIALISED: ClassVar[dict[tuple[bool, ...], str]] = {}

    def _stored_key(self, ts_ms: int, uid: bytes) -> bytes:
        """The key to insert `uid` under: the nearer bucket's if the identity is stored there (store/identity.py)."""
        own, near = identity.keys(ts_ms, uid)
        return near if self.conn.execute("SELECT 1 FROM messages WHERE uid = ?", (near,)).fetchone() else own

    def _insert(self, sql: str, row: list[Any], ts_ms: int) -> int | None:
        """Insert with a time-ordered id; None if the identity (its key, row[1]) is already stored.

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
                if self.conn.execute("SELECT 1 FROM messages WHERE uid = ?", (row[1],)).fetchone():
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


def _same_text(text: str) -> str:
    """A message's text as compared across exports: folded (vault/text/normalize.py), spaces collapsed."""
    return " ".join(normalize.fold(text).split())


def _differs(rec: Message | Event, stored_text: str, stored_kind: str) -> bool:
    """Whether a record whose export id is already stored is a different message (issue 17.19).

    Tools render one message a little differently (a quote prefixed or not, a card's title or its
    link, a placeholder for media), so only two plain texts that both have words and differ after
    folding, neither containing the other, are different messages; anything else is the same one.
    """
    if rec.text == stored_text or not isinstance(rec, Message) or rec.kind != "text" or stored_kind != "text":
        return False
    a, b = _same_text(rec.text), _same_text(stored_text)
    return bool(a) and bool(b) and a not in b and b not in a


def _same_sender(sender: str | None, me: bool, their: str | None, their_me: bool, title: str) -> bool:
    """Senders of a text export and a database agree: the same name (folded), or the owner.

    A database knows the owner only as "me" (from_me); a text export writes the owner's own name.
    A row from the owner matches a text line of any sender but the other person of a direct chat
    (whose name is the chat's title).
    """
    a, b = _same_text(sender or ""), _same_text(their or "")
    if a == b:
        return True
    if me:
        return b != _same_text(title)
    if their_me:
        return a != _same_text(title)
    return False


def _json_object(raw: str | None) -> dict[str, Any]:
    try:
        doc = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _merged_key(raw: str | None) -> str | None:
    """The database chat key a text export's chat was merged with (`merged_key` in its extra)."""
    key = _json_object(raw).get("merged_key")
    return key if isinstance(key, str) else None
