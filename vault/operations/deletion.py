"""Secure deletion: messages, their index entries, attachments and derived rows, gone for real.

The purge procedure of security.md 2.5, in one transaction: tombstones written (keyed hashes of the
deleted identities, never text), rows deleted with everything that hangs on them (reactions,
attachments, the imports that listed them (provenance, `message_imports`), the identities they had
before (`uid_aliases`)), attachment bytes no longer referenced deleted, and the
full-text entries scrubbed. SQLite zeroes every freed page (`secure_delete` is forced on by
SQLCipher) and the rollback journal is removed at commit, so no old page image is left behind.

Index entries leave through FTS5's 'delete' command with the tokens recomputed from the stored text.
For a few messages, FTS5's secure-delete removes each entry in place; for many (a whole chat),
per-entry secure deletes are slow (measured 6.5 s per 10,000), so the index is told to skip that
work for this transaction and is then rewritten whole with 'optimize', which drops every deleted
entry (measured clean, and ~15x faster). Either way, verified page by page in the tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from vault.errors import NotFoundError, UsageError
from vault.operations.ingest import chat_mac, mac, unindex_messages, unindex_name
from vault.operations.rows import DeleteReport
from vault.store import db, identity
from vault.timeutil import now_iso

if TYPE_CHECKING:
    from vault.store.handle import Store

# Above this many messages, a purge rewrites the index instead of deleting entry by entry.
BULK_THRESHOLD = 2000
_BATCH = 500


def target_ids(
    v: Store,
    *,
    message_ids: Iterable[str] | None = None,
    chat: str | None = None,
    query: str | None = None,
    before: str | None = None,
    after: str | None = None,
) -> tuple[list[int], int | None]:
    """The message ids a delete would remove (and the chat id when a whole chat goes)."""
    from vault.operations.reading import resolve_chat
    from vault.operations.search import matching_ids
    from vault.text.query import date_ids
    from vault.timeutil import local_zone

    given = [x for x in (message_ids, chat, query) if x]
    if len(given) != 1:
        raise UsageError("say what to delete: --message ID..., --chat ID or --query Q (exactly one)")
    lo = hi = None
    tz = local_zone()
    for value, which in ((after, "after"), (before, "before")):
        if value is None:
            continue
        span = date_ids(value, tz)
        if span is None:
            raise UsageError(f"--{which} takes YYYY, YYYY-MM or YYYY-MM-DD")
        if which == "after":
            lo = span[0]
        else:
            hi = span[0]
    c = v.conn
    whole_chat: int | None = None
    if message_ids:
        ids = []
        for mid in message_ids:
            try:
                ids.append(int(mid))
            except ValueError:
                raise UsageError("message ids are numbers (as search and show print them)") from None
        found = set()
        for i in range(0, len(ids), _BATCH):
            part = ids[i : i + _BATCH]
            found |= {
                int(r[0]) for r in c.execute(f"SELECT id FROM messages WHERE id IN ({','.join('?' * len(part))})", part)
            }
        missing = len(set(ids) - found)
        if missing:
            raise NotFoundError(
                f"{missing} of the message ids given {'is' if missing == 1 else 'are'} not in the vault "
                "('talkvault search' and 'show' print the ids); nothing was deleted"
            )
    elif chat:
        cid = resolve_chat(v, chat)
        ids = [int(r[0]) for r in c.execute("SELECT id FROM messages WHERE chat_id = ? ORDER BY id", (cid,))]
        if lo is None and hi is None:
            whole_chat = cid
    else:
        assert query is not None
        ids = matching_ids(v, query, limit=None, sort="oldest")
    if lo is not None:
        ids = [i for i in ids if i >= lo]
    if hi is not None:
        ids = [i for i in ids if i < hi]
    return sorted(set(ids)), whole_chat


def purge(v: Store, ids: list[int], *, whole_chat: int | None = None, bulk: bool | None = None) -> DeleteReport:
    """Delete `ids` (and the chat, when a whole chat goes) as security.md 2.5 prescribes."""
    c = v.conn
    bulk = len(ids) > BULK_THRESHOLD if bulk is None else bulk
    with db.transaction(c):
        _tombstones(v, ids)
        blobs_before = c.execute("SELECT count(*) FROM blobs").fetchone()[0]
        if bulk:
            # Secure-delete per row is O(rows x index pages); 'optimize' below rewrites the index
            # once and leaves none of the deleted entries. The setting is restored before COMMIT.
            c.execute("INSERT INTO fts(fts, rank) VALUES ('secure-delete', 0)")
        for i in range(0, len(ids), _BATCH):
            part = ids[i : i + _BATCH]
            marks = ",".join("?" * len(part))
            unindex_messages(c, c.execute(f"SELECT id, text FROM messages WHERE id IN ({marks})", part).fetchall())
            c.execute(f"DELETE FROM messages WHERE id IN ({marks})", part)
        if bulk:
            c.execute("INSERT INTO fts(fts) VALUES ('optimize')")
            c.execute("INSERT INTO fts(fts, rank) VALUES ('secure-delete', 1)")
        c.execute("DELETE FROM blobs WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.blob_id = blobs.id)")
        blobs_gone = blobs_before - c.execute("SELECT count(*) FROM blobs").fetchone()[0]
        if whole_chat is not None:
            title = c.execute("SELECT title FROM chats WHERE id = ?", (whole_chat,)).fetchone()[0]
            unindex_name(c, whole_chat, title)
            c.execute("DELETE FROM chats WHERE id = ?", (whole_chat,))
            # Exports are often named after their chat ("WhatsApp Chat with Mei.txt").
            c.execute(
                "UPDATE imports SET file_name = '(deleted)', file_sha256 = NULL"
                " WHERE instr(lower(file_name), lower(?))",
                (title,),
            )
        _drop_orphans(v)
    return {"deleted": len(ids), "attachments": blobs_gone}


def _tombstones(v: Store, ids: list[int]) -> None:
    c = v.conn
    chat_macs: dict[int, bytes] = {}
    when = now_iso()[:10]  # the day only: the tombstone says little about when
    for i in range(0, len(ids), _BATCH):
        part = ids[i : i + _BATCH]
        rows = c.execute(
            "SELECT m.uid, m.chat_id, c.source, c.key FROM messages m JOIN chats c ON c.id = m.chat_id"
            f" WHERE m.id IN ({','.join('?' * len(part))})",
            part,
        ).fetchall()
        for uid, chat_id, source, key in rows:
            cm = chat_macs.get(chat_id)
            if cm is None:
                cm = chat_macs[chat_id] = chat_mac(v._mac_key, source, key)
            # The identities the row had before (a text export's row the database replaced, an
            # event id before migration 2) are deleted with it: tombstoned too, their aliases gone.
            uid = identity.identity_of(uid)  # tombstones and aliases hold the identity, not its time bucket
            olds = [bytes(r[0]) for r in c.execute("SELECT old FROM uid_aliases WHERE new = ?", (uid,))]
            for u in [uid, *olds]:
                c.execute(
                    "INSERT OR IGNORE INTO tombstones(mac, chat_mac, deleted) VALUES (?, ?, ?)",
                    (mac(v._mac_key, u), cm, when),
                )
            if olds:
                c.execute("DELETE FROM uid_aliases WHERE new = ?", (uid,))


def _drop_orphans(v: Store) -> None:
    """People, chats and import records that only the deleted messages kept alive."""
    c = v.conn
    # A chat emptied by a partial delete stays (it may get new messages); a whole-chat delete
    # removed the chat, and its memberships with it (ON DELETE CASCADE).
    orphans = c.execute(
        "SELECT id, name FROM people p WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.sender_id = p.id)"
        " AND NOT EXISTS (SELECT 1 FROM chat_members cm WHERE cm.person_id = p.id)"
    ).fetchall()
    for pid, name in orphans:
        unindex_name(c, -int(pid), name)
        c.execute("DELETE FROM people WHERE id = ?", (pid,))
    # An import none of whose messages remain no longer needs to name its file.
    c.execute(
        "UPDATE imports SET file_name = '(deleted)', file_sha256 = NULL, notes = '[]'"
        " WHERE file_name != '(deleted)' AND status = 'done'"
        " AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.import_id = imports.id)"
        " AND NOT EXISTS (SELECT 1 FROM message_imports mi WHERE mi.import_id = imports.id)"
    )


def delete(
    v: Store,
    message_ids: list[str] | None = None,
    chat: str | None = None,
    query: str | None = None,
    before: str | None = None,
    after: str | None = None,
    dry_run: bool = False,
) -> DeleteReport:
    ids, whole_chat = target_ids(v, message_ids=message_ids, chat=chat, query=query, before=before, after=after)
    if dry_run:
        return {"deleted": len(ids), "attachments": _blobs_freed(v, ids), "ids": [str(i) for i in ids]}
    return purge(v, ids, whole_chat=whole_chat)


def _blobs_freed(v: Store, ids: list[int]) -> int:
    """How many stored attachment files would go with these messages (dry run)."""
    c = v.conn
    blobs: set[int] = set()
    for i in range(0, len(ids), _BATCH):
        part = ids[i : i + _BATCH]
        blobs |= {
            int(r[0])
            for r in c.execute(
                f"SELECT DISTINCT blob_id FROM attachments WHERE blob_id IS NOT NULL AND message_id IN"
                f" ({','.join('?' * len(part))})",
                part,
            )
        }
    idset = set(ids)
    gone = 0
    for b in blobs:
        users = {int(r[0]) for r in c.execute("SELECT message_id FROM attachments WHERE blob_id = ?", (b,))}
        gone += users <= idset
    return gone


def forget_tombstones(v: Store, *, chat: str | None = None, export: str | None = None, everything: bool = False) -> int:
    """Forget deletions so that a person can deliberately import them again. Returns how many."""
    from vault.operations.reading import resolve_chat

    c = v.conn
    macs: set[bytes] = set()
    if everything:
        with db.transaction(c):
            n = c.execute("SELECT count(*) FROM tombstones").fetchone()[0]
            c.execute("DELETE FROM tombstones")
        return int(n)
    if chat:
        row = c.execute("SELECT source, key FROM chats WHERE id = ?", (resolve_chat(v, chat),)).fetchone()
        macs.add(chat_mac(v._mac_key, row[0], row[1]))
    if export:
        from pathlib import Path

        import importers
        from importers.base import ParseOptions
        from vault.records import Chat

        fmt = importers.detect(Path(export))
        for rec in fmt.parse(Path(export), ParseOptions()):
            if isinstance(rec, Chat):
                macs.add(chat_mac(v._mac_key, rec.source, rec.key))
    if not macs:
        raise UsageError("say which deletions to forget: --chat ID, --export PATH or --all")
    n = 0
    with db.transaction(c):
        for m in macs:
            n += c.execute("DELETE FROM tombstones WHERE chat_mac = ?", (m,)).rowcount
    return n
