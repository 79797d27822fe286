"""The vault's database schema and its migrations (each recorded in the database).

Message rowids are the time order: `id = ts_ms * 65536 + n`, so FTS5 walks rowids newest-first
for free and a date range is a rowid range (design.md "Search"). The full-text table is
contentless (`content=''`) with FTS5 `secure-delete` on: the text lives only in `messages`. A
row leaves the index through FTS5's 'delete' command, given the same tokens it was indexed with
(recomputed from the stored text; the normaliser's fingerprint is stored so that they always
match), which with secure-delete removes the entries from the pages. (`contentless_delete=1` would
only mark rows deleted and leave their terms in place until a merge: measured.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from vault.store.db import Connection
from vault.timeutil import now_iso

SCHEMA_VERSION = 4

# The FTS tokenizer sees text that vault/text/normalize.py has already folded and split; these
# categories keep emoji and symbols as tokens (formats/cjk-search.md section 5).
FTS_TOKENIZE = "unicode61 remove_diacritics 0 categories 'L* N* M* Co Sc Sk Sm So'"

_V1 = [
    """CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )""",
    """CREATE TABLE migrations (
        version INTEGER PRIMARY KEY,
        applied TEXT NOT NULL
    )""",
    """CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        format TEXT NOT NULL,
        file_name TEXT NOT NULL,
        file_sha256 TEXT,
        tz TEXT,
        started TEXT NOT NULL,
        finished TEXT,
        status TEXT NOT NULL,          -- running | done | failed
        counts TEXT NOT NULL DEFAULT '{}',
        notes TEXT NOT NULL DEFAULT '[]'
    )""",
    """CREATE TABLE chats (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        kind TEXT NOT NULL,
        extra TEXT,
        UNIQUE (source, key)
    )""",
    """CREATE TABLE people (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        key TEXT NOT NULL,
        name TEXT NOT NULL,
        UNIQUE (source, key)
    )""",
    """CREATE INDEX people_name ON people (name COLLATE NOCASE)""",
    """CREATE TABLE chat_members (
        chat_id INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
        person_id INTEGER NOT NULL REFERENCES people(id) ON DELETE CASCADE,
        PRIMARY KEY (chat_id, person_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE messages (
        id INTEGER PRIMARY KEY,        -- ts_ms * 65536 + n: time order
        uid BLOB NOT NULL UNIQUE,      -- identity (source id or fingerprint + ordinal); from v4 its time bucket first
        chat_id INTEGER NOT NULL REFERENCES chats(id),
        sender_id INTEGER REFERENCES people(id),
        ts_ms INTEGER NOT NULL,        -- UTC milliseconds
        kind TEXT NOT NULL,
        is_event INTEGER NOT NULL DEFAULT 0,
        from_me INTEGER,
        text TEXT NOT NULL DEFAULT '',
        source_id TEXT,
        reply_to TEXT,
        edited_ms INTEGER,
        forwarded_from TEXT,
        extra TEXT,
        import_id INTEGER NOT NULL REFERENCES imports(id)
    )""",
    """CREATE INDEX messages_chat ON messages (chat_id, id)""",
    """CREATE INDEX messages_sender ON messages (sender_id, id)""",
    """CREATE TABLE message_imports (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        import_id INTEGER NOT NULL REFERENCES imports(id),
        PRIMARY KEY (message_id, import_id)
    ) WITHOUT ROWID""",
    """CREATE TABLE reactions (
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        emoji TEXT NOT NULL,
        sender TEXT,
        ts_ms INTEGER,
        removed INTEGER NOT NULL DEFAULT 0
    )""",
    """CREATE INDEX reactions_message ON reactions (message_id)""",
    """CREATE TABLE blobs (
        id INTEGER PRIMARY KEY,
        mac BLOB NOT NULL UNIQUE,      -- keyed hash of the content (dedup without a plain hash)
        size INTEGER NOT NULL
    )""",
    """CREATE TABLE blob_chunks (
        blob_id INTEGER NOT NULL REFERENCES blobs(id) ON DELETE CASCADE,
        seq INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (blob_id, seq)
    ) WITHOUT ROWID""",
    """CREATE TABLE attachments (
        id INTEGER PRIMARY KEY,
        message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        kind TEXT NOT NULL,
        mime TEXT,
        size INTEGER,
        blob_id INTEGER REFERENCES blobs(id)
    )""",
    """CREATE INDEX attachments_message ON attachments (message_id)""",
    """CREATE INDEX attachments_blob ON attachments (blob_id)""",
    """CREATE TABLE tombstones (
        mac BLOB PRIMARY KEY,          -- keyed hash of a deleted message's identity, never its text
        chat_mac BLOB NOT NULL,        -- keyed hash of its chat, to forget a chat's tombstones
        deleted TEXT NOT NULL
    ) WITHOUT ROWID""",
    """CREATE INDEX tombstones_chat ON tombstones (chat_mac)""",
    f"""CREATE VIRTUAL TABLE fts USING fts5(
        body, content='', tokenize="{FTS_TOKENIZE}"
    )""",
    """INSERT INTO fts(fts, rank) VALUES ('secure-delete', 1)""",
    # Names (chat titles, people), with pinyin for Chinese names: a small separate index.
    f"""CREATE VIRTUAL TABLE names_fts USING fts5(
        body, content='', tokenize="{FTS_TOKENIZE}"
    )""",
    """INSERT INTO names_fts(names_fts, rank) VALUES ('secure-delete', 1)""",
]


def _id_uid(source: str, chat_key: str, kind: str, source_id: str) -> bytes:
    """The identity of a record with the export's own id (vault/operations/ingest.py `_h("id", ...)`)."""
    joined = "".join(f"{len(p)}:{p}" for p in ("id", source, chat_key, kind, source_id))
    return hashlib.blake2b(joined.encode("utf-8", "surrogatepass"), digest_size=16).digest()


def _v2_events_share_ids(conn: Connection) -> None:
    """Events with an export id take the identity a message with that id has.

    Version 1 hashed "m" or "e" into the identity of a record with the export's own id, so a call
    read as a Message by one importer version and as an Event by the next was two rows. From
    version 2 both hash "m". Each event row whose uid is exactly the version-1 event identity is
    moved to the new one, and the old one is kept in `uid_aliases` so that a JSONL export written
    before (it carries the old uid as `identity`) still finds it. Should a message with the new
    identity already exist (the same record stored twice), the event is left as it is: nothing is
    deleted by a migration.
    """
    rows = conn.execute(
        "SELECT m.id, m.uid, c.source, c.key, m.source_id FROM messages m JOIN chats c ON c.id = m.chat_id"
        " WHERE m.is_event = 1 AND m.source_id IS NOT NULL"
    ).fetchall()
    for mid, uid, source, key, sid in rows:
        if bytes(uid) != _id_uid(source, key, "e", sid):
            continue
        new = _id_uid(source, key, "m", sid)
        if conn.execute("SELECT 1 FROM messages WHERE uid = ?", (new,)).fetchone():
            continue
        conn.execute("UPDATE messages SET uid = ? WHERE id = ?", (new, mid))
        conn.execute("INSERT OR IGNORE INTO uid_aliases(old, new) VALUES (?, ?)", (bytes(uid), new))


_V2: list[str | Callable[[Connection], None]] = [
    # Provenance: which imports contained a message. The import that added it is messages.import_id
    # (no extra row per added message); every later import that met it again adds a row here.
    """CREATE INDEX message_imports_import ON message_imports (import_id)""",
    # Identities that version 1 gave some rows, and the identity the row has now.
    """CREATE TABLE uid_aliases (
        old BLOB PRIMARY KEY,
        new BLOB NOT NULL
    ) WITHOUT ROWID""",
    """CREATE INDEX uid_aliases_new ON uid_aliases (new)""",
    _v2_events_share_ids,
]

# -- version 3: filters answered from indexes ------------------------------------------------------
#: Bits of `messages.flags`: "has an attachment", "has an attachment of this kind". Kept exact by the
#: triggers below from the `attachments` table, whichever code inserts, moves or deletes one.
FLAG_ATTACHMENT = 1
FLAG_KINDS = {"image": 2, "video": 4, "audio": 8, "file": 16}
# The flags of message `{mid}` recomputed from its attachments (0 when it has none).
_FLAGS_OF = (
    "coalesce((SELECT 1"
    + "".join(f" | (max(a.kind = '{k}') * {bit})" for k, bit in FLAG_KINDS.items())
    + " FROM attachments a WHERE a.message_id = {mid} HAVING count(*) > 0), 0)"
)
#: The WHERE of each has: filter's partial index. vault/text/query.py writes the same conditions
#: (with `m.`), character for character, so that SQLite's planner can walk the index newest-first;
#: tests/test_filter_index.py holds the two together.
HAS_LINK_SQL = "(text LIKE '%://%' OR text LIKE '%www.%')"
HAS_ATTACHMENT_SQL = f"(flags & {FLAG_ATTACHMENT})"


def has_kind_sql(kind: str) -> str:
    return f"(kind = '{kind}' OR flags & {FLAG_KINDS[kind]})"


_V3: list[str | Callable[[Connection], None]] = [
    """ALTER TABLE messages ADD COLUMN flags INTEGER NOT NULL DEFAULT 0""",
    "UPDATE messages SET flags = "
    + _FLAGS_OF.format(mid="messages.id")
    + " WHERE id IN (SELECT message_id FROM attachments)",
    "CREATE TRIGGER attachments_flags_insert AFTER INSERT ON attachments BEGIN"
    f" UPDATE messages SET flags = {_FLAGS_OF.format(mid='NEW.message_id')} WHERE id = NEW.message_id; END",
    "CREATE TRIGGER attachments_flags_delete AFTER DELETE ON attachments BEGIN"
    f" UPDATE messages SET flags = {_FLAGS_OF.format(mid='OLD.message_id')} WHERE id = OLD.message_id; END",
    "CREATE TRIGGER attachments_flags_update AFTER UPDATE OF message_id, kind ON attachments BEGIN"
    f" UPDATE messages SET flags = {_FLAGS_OF.format(mid='OLD.message_id')} WHERE id = OLD.message_id;"
    f" UPDATE messages SET flags = {_FLAGS_OF.format(mid='NEW.message_id')} WHERE id = NEW.message_id; END",
    f"CREATE INDEX messages_has_attachment ON messages (id) WHERE {HAS_ATTACHMENT_SQL}",
    f"CREATE INDEX messages_has_link ON messages (id) WHERE {HAS_LINK_SQL}",
    *(f"CREATE INDEX messages_has_{k} ON messages (id) WHERE {has_kind_sql(k)}" for k in FLAG_KINDS),
]


# -- version 4: identity keyed by time bucket ---------------------------------------------------------
def _v4_keys_by_bucket(conn: Connection) -> None:
    """Every stored identity becomes its key: its time bucket, then the identity (vault/store/identity.py).

    The identities themselves do not change, nor do tombstones and `uid_aliases`, which hold identities:
    so dedup against what is stored, and against what was deleted, stays exact. Rows are rewritten
    in id order (time order), so the new keys go into the index in the order an import writes them.
    """
    from vault.store import identity

    conn.create_function("talkvault_key", 2, lambda ts, uid: identity.key(int(ts), bytes(uid)), deterministic=True)
    conn.execute("UPDATE messages SET uid = talkvault_key(ts_ms, uid) WHERE length(uid) = 16")


_V4: list[str | Callable[[Connection], None]] = [_v4_keys_by_bucket]

MIGRATIONS: dict[int, list[str | Callable[[Connection], None]]] = {1: list(_V1), 2: _V2, 3: _V3, 4: _V4}


def current_version(conn: Connection) -> int:
    has = conn.execute("SELECT 1 FROM sqlite_schema WHERE type='table' AND name='migrations'").fetchone()
    if not has:
        return 0
    row = conn.execute("SELECT max(version) FROM migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: Connection, on_step: Callable[[int], None] | None = None) -> int:
    """Apply every migration newer than the database, each in its own transaction."""
    from vault.store.db import transaction

    version = current_version(conn)
    for v in sorted(MIGRATIONS):
        if v <= version:
            continue
        with transaction(conn):
            for stmt in MIGRATIONS[v]:
                if callable(stmt):
                    stmt(conn)
                else:
                    conn.execute(stmt)
            conn.execute("INSERT INTO migrations(version, applied) VALUES (?, ?)", (v, now_iso()))
        if on_step:
            on_step(v)
        version = v
    return version


def fts_secure_delete_on(conn: Connection, table: str = "fts") -> bool:
    row = conn.execute(f"SELECT v FROM {table}_config WHERE k = 'secure-delete'").fetchone()
    return bool(row and int(row[0]) == 1)
