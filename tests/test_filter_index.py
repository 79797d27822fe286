"""Filters answer from indexes (issue 22 item 4): schema version 3's attachment flags, exact after
the migration, import and deletion; and each filter-only query's plan walks an index, never the
messages table."""

from __future__ import annotations

import json

import pytest

from tests.conftest import PASSPHRASE, write
from vault.operations.search import search_sql
from vault.store import schema
from vault.text import query as q

CHATS = [
    ("whatsapp", "mei", "Mei", "direct"),
    ("whatsapp", "meifam", "Mei family", "group"),
    ("telegram", "club", "Book club", "group"),
    ("telegram", "work", "Work", "group"),
]
# chat, ts, sender, text, attachments, kind
MSGS = [
    ("mei", "2022-12-31T23:00:00Z", "Mei", "dinner friday? see https://example.org", [], "text"),
    ("mei", "2023-03-14T09:06:00Z", "Jon", "pizza or sushi", [], "text"),
    ("mei", "2023-03-14T10:00:00Z", "Mei", "sushi tonight", [{"name": "a.jpg", "kind": "image"}], "text"),
    ("meifam", "2023-03-15T10:00:00Z", "Mei Ling", "WWW.EXAMPLE.COM dinner", [], "text"),
    ("meifam", "2023-03-16T10:00:00Z", "Jo", "", [], "image"),
    ("club", "2023-04-01T12:00:00Z", "Ana", "chapter three", [{"name": "n.pdf", "kind": "file"}], "text"),
    (
        "club",
        "2023-04-02T12:00:00Z",
        "Ana",
        "two files",
        [{"name": "v.mp4", "kind": "video"}, {"name": "s.ogg", "kind": "audio"}],
        "text",
    ),
    ("work", "2024-01-01T00:00:00Z", "Jon", "happy new year", [], "text"),
]


def _lines() -> str:
    out: list[dict[str, object]] = [{"type": "talkvault", "version": 1}]
    for source, key, title, kind in CHATS:
        out.append({"type": "chat", "source": source, "key": key, "title": title, "kind": kind})
    for chat, ts, sender, text, atts, kind in MSGS:
        out.append(
            {
                "type": "message",
                "chat": chat,
                "ts": ts,
                "sender": sender,
                "text": text,
                "kind": kind,
                "attachments": atts,
            }
        )
    return "\n".join(json.dumps(x, ensure_ascii=False) for x in out)


@pytest.fixture
def fvault(new_vault, tmp_path):  # type: ignore[no-untyped-def]
    new_vault.import_path(write(tmp_path / "f.jsonl", _lines()))
    return new_vault


# The conditions as version 2 wrote them (EXISTS over attachments): what the flags must agree with.
OLD_HAS = {
    "attachment": "EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id)",
    **{
        k: f"(m.kind = '{k}' OR EXISTS (SELECT 1 FROM attachments a WHERE a.message_id = m.id AND a.kind = '{k}'))"
        for k in q.FLAG_KINDS
    },
    "link": "(m.text LIKE '%://%' OR m.text LIKE '%www.%')",
}


def _old_ids(v, what: str) -> list[int]:  # type: ignore[no-untyped-def]
    return [int(r[0]) for r in v.conn.execute(f"SELECT m.id FROM messages m WHERE {OLD_HAS[what]} ORDER BY m.id DESC")]


def _flags_exact(v) -> None:  # type: ignore[no-untyped-def]
    """Every message's flags are what its attachments say."""
    want: dict[int, int] = {int(r[0]): 0 for r in v.conn.execute("SELECT id FROM messages")}
    for mid, kind in v.conn.execute("SELECT message_id, kind FROM attachments"):
        want[int(mid)] |= q.FLAG_ATTACHMENT | q.FLAG_KINDS.get(kind, 0)
    got = {int(r[0]): int(r[1]) for r in v.conn.execute("SELECT id, flags FROM messages")}
    assert got == want


def test_the_conditions_are_the_partial_indexes(fvault):
    """The compiler's has: conditions are the indexes' WHERE, character for character (else the
    planner cannot use them), and the two modules agree on the bits."""
    assert (q.FLAG_ATTACHMENT, q.FLAG_KINDS) == (schema.FLAG_ATTACHMENT, schema.FLAG_KINDS)
    sql = {
        name: text
        for name, text in fvault.conn.execute(
            "SELECT name, sql FROM sqlite_schema WHERE type = 'index' AND sql IS NOT NULL"
        )
    }
    assert sql["messages_has_link"].endswith("WHERE " + q.HAS_LINK_SQL.replace("m.", ""))
    assert sql["messages_has_attachment"].endswith("WHERE " + q.HAS_ATTACHMENT_SQL.replace("m.", ""))
    for k in q.FLAG_KINDS:
        assert sql[f"messages_has_{k}"].endswith("WHERE " + q.has_kind_sql(k).replace("m.", ""))


FILTER_ONLY = [
    "has:attachment",
    "has:image",
    "has:video",
    "has:audio",
    "has:file",
    "has:link",
    "source:telegram",  # two chats: merged
    "source:whatsapp",
    "in:work",  # one chat
    "in:mei",  # two chats
    "from:Ana",  # one sender
    "from:mei",  # two senders
    "has:link after:2023-01",
    "in:mei has:image",
    "source:telegram before:2024",
]


@pytest.mark.parametrize("query", FILTER_ONLY)
@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_filter_only_queries_walk_an_index(fvault, query, sort):
    plan = search_sql(fvault.store, query, sort=sort, limit=20)
    assert plan is not None
    sql, params = plan
    steps = [str(r[3]) for r in fvault.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    on_messages = [s for s in steps if s.startswith(("SCAN m", "SEARCH m"))]
    assert on_messages, steps
    for s in on_messages:
        assert s.startswith("SEARCH m USING") or s.startswith("SCAN m USING INDEX messages_has_"), steps
        assert "PRIMARY KEY" not in s or "id>" in s or "id<" in s, steps
    assert not any("TEMP B-TREE" in s for s in steps), steps  # a walk in order: nothing sorted


def test_filter_only_queries_find_what_version_2_found(fvault):
    for what in OLD_HAS:
        got = [int(h["id"]) for h in fvault.search(f"has:{what}", limit=50)]
        assert got == _old_ids(fvault, what), what
        assert got  # the fixture has some of each
    ids = lambda qq: [int(h["id"]) for h in fvault.search(qq, limit=50)]  # noqa: E731
    tg = [
        int(r[0])
        for r in fvault.conn.execute(
            "SELECT m.id FROM messages m JOIN chats c ON c.id = m.chat_id"
            " WHERE c.source = 'telegram' ORDER BY m.id DESC"
        )
    ]
    assert ids("source:telegram") == tg and len(tg) == 3
    assert ids("source:telegram")[::-1] == [
        int(h["id"]) for h in fvault.search("source:telegram", sort="oldest", limit=50)
    ]
    assert ids("source:telegram")[1:2] == [int(h["id"]) for h in fvault.search("source:telegram", limit=1, offset=1)]
    assert [h["text"] for h in fvault.search("from:mei", limit=50)] == [
        "WWW.EXAMPLE.COM dinner",
        "sushi tonight",
        "dinner friday? see https://example.org",
    ]
    assert [h["text"] for h in fvault.search("in:mei -has:image", limit=50)] == [
        "WWW.EXAMPLE.COM dinner",
        "pizza or sushi",
        "dinner friday? see https://example.org",
    ]
    assert [h["text"] for h in fvault.search("dinner has:link", limit=50)] == [
        "WWW.EXAMPLE.COM dinner",
        "dinner friday? see https://example.org",
    ]
    assert fvault.search("source:skype", limit=50) == []


def test_flags_follow_imports_moves_and_deletions(fvault, tmp_path):
    _flags_exact(fvault)
    c = fvault.conn
    mid = int(fvault.search("happy", limit=1)[0]["id"])
    other = int(fvault.search("pizza", limit=1)[0]["id"])
    c.execute("INSERT INTO attachments(message_id, name, kind) VALUES (?, 'x.jpg', 'image')", (mid,))
    _flags_exact(fvault)
    assert [int(h["id"]) for h in fvault.search("has:image in:work", limit=5)] == [mid]
    c.execute("UPDATE attachments SET message_id = ? WHERE message_id = ?", (other, mid))  # as a merge moves them
    _flags_exact(fvault)
    c.execute("UPDATE attachments SET kind = 'audio' WHERE message_id = ?", (other,))
    _flags_exact(fvault)
    c.execute("DELETE FROM attachments WHERE message_id = ?", (other,))
    _flags_exact(fvault)
    # Deleting messages (their attachments go by cascade) and re-importing adds nothing wrong.
    two = fvault.search("two files", limit=1)[0]["id"]
    fvault.delete(message_ids=[two])
    _flags_exact(fvault)
    assert "two files" not in [h["text"] for h in fvault.search("has:video", limit=50)]
    fvault.import_path(write(tmp_path / "again.jsonl", _lines()))
    _flags_exact(fvault)
    fvault.delete(chat=str(fvault.search("in:club", limit=1)[0]["chat_id"]))
    _flags_exact(fvault)
    assert [h["text"] for h in fvault.search("has:file", limit=50)] == []


def test_migration_3_fills_the_flags_of_a_version_2_vault(vault_dir, weak_kdf, tmp_path, monkeypatch):
    """A vault made and filled by version 2 of the schema (no flags, no triggers) opens migrated:
    every message's flags exact, the filters finding what version 2's conditions found."""
    import vault

    with monkeypatch.context() as m:
        m.setattr(schema, "MIGRATIONS", {k: val for k, val in schema.MIGRATIONS.items() if k <= 2})
        m.setattr(schema, "SCHEMA_VERSION", 2)
        with vault.create(vault_dir, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
            v.import_path(write(tmp_path / "f.jsonl", _lines()))
            cols = [r[1] for r in v.conn.execute("PRAGMA table_info(messages)")]
            assert "flags" not in cols
            before = {what: _old_ids(v, what) for what in OLD_HAS}
    with vault.open(vault_dir, PASSPHRASE) as v:
        assert [int(r[0]) for r in v.conn.execute("SELECT version FROM migrations ORDER BY version")] == [1, 2, 3, 4]
        _flags_exact(v)
        for what, ids in before.items():
            assert ids, what
            assert [int(h["id"]) for h in v.search(f"has:{what}", limit=50)] == ids, what


@pytest.mark.parametrize(
    "query", ["dinner has:link", "sushi has:image", "dinner in:mei", "sushi from:mei has:attachment"]
)
def test_words_with_few_filtered_messages_check_the_words_against_them(fvault, query):
    """The filters alone match few messages: the word's matches are walked in rowid order and checked
    against that set; the set is never handed to FTS5 as rowids to look up one by one (5 ms each for
    a prefix word at a million messages, measured), and nothing is sorted."""
    plan = search_sql(fvault.store, query, sort="newest", limit=20)
    assert plan is not None
    sql, params = plan
    assert "+f.rowid IN (SELECT m.id FROM messages m" in sql
    steps = [str(r[3]) for r in fvault.conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert not any("TEMP B-TREE" in s for s in steps), steps
    assert not any(s.startswith("SCAN f VIRTUAL TABLE INDEX") and ":=" in s for s in steps), steps
    assert fvault.search(query, limit=50)


def test_rotation_keeps_flags_triggers_and_indexes(fvault):
    """rotate-key copies the database table by table (sqlcipher_export): the copy keeps the flags,
    the triggers that keep them and the partial indexes."""
    names = "SELECT name FROM sqlite_schema WHERE name LIKE 'messages_has_%' OR name LIKE 'attachments_flags_%'"
    before = sorted(r[0] for r in fvault.conn.execute(names))
    fvault.rotate_key(PASSPHRASE)
    assert sorted(r[0] for r in fvault.conn.execute(names)) == before and len(before) == 9
    _flags_exact(fvault)
    assert [h["text"] for h in fvault.search("has:video", limit=5)] == ["two files"]
    mid = int(fvault.search("happy", limit=1)[0]["id"])
    fvault.conn.execute("INSERT INTO attachments(message_id, name, kind) VALUES (?, 'x.jpg', 'image')", (mid,))
    _flags_exact(fvault)
