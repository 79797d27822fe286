"""The batched writer (issue 22.1): plain new messages go in by executemany per batch, and a batch
that could hold a duplicate or a used id runs row by row through the careful path. Dedup must stay
exact whatever the batch boundaries: these tests use batches of 3 so that every case falls inside
one batch, across batches and against the vault, and compare the result with the careful path alone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import vault
from tests.conftest import PASSPHRASE, tg_export, tg_msg
from vault.operations import ingest


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ingest, "BATCH", 3)


@pytest.fixture
def careful_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer before batching: every record through the careful path."""
    real = ingest.Ingestor.__init__

    def init(self, *a, **kw):  # type: ignore[no-untyped-def]
        real(self, *a, **kw)
        self._careful = 10**9

    monkeypatch.setattr(ingest.Ingestor, "__init__", init)


def dump(v) -> list[tuple]:  # type: ignore[no-untyped-def]
    """Every message as stored (id, identity, text, ...), its provenance and its full-text hits."""
    c = v.conn
    rows = c.execute(
        "SELECT id, uid, chat_id, sender_id, ts_ms, kind, is_event, from_me, text, source_id, reply_to, extra,"
        " import_id FROM messages ORDER BY id"
    ).fetchall()
    prov = c.execute("SELECT message_id, import_id FROM message_imports ORDER BY 1, 2").fetchall()
    fts = [c.execute("SELECT rowid FROM fts WHERE fts MATCH ? ORDER BY rowid", (w,)).fetchall() for w in WORDS]
    members = c.execute("SELECT chat_id, person_id FROM chat_members ORDER BY 1, 2").fetchall()
    return [rows, prov, fts, members]


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo"]


def t(i: int) -> str:
    return f"{WORDS[i % len(WORDS)]} number {i}"


def counts(r) -> tuple[int, int, int, int]:  # type: ignore[no-untyped-def]
    return r.added, r.duplicates, r.conflicts, r.deleted_skipped


def export_a(tmp: Path) -> Path:
    # four messages a second, so that a batch that falls back must give back the ids it took
    msgs = [tg_msg(i, t(i), date_unixtime=str(1_700_000_000 + i // 4)) for i in range(1, 11)]
    msgs.insert(2, tg_msg(2, t(2), date_unixtime="1700000000"))  # the same message twice inside one batch
    msgs.append(tg_msg(1, t(1)))  # and again batches later
    msgs.append(tg_msg(4, "kilo is something else entirely"))  # one export id, a different message
    msgs.append(tg_msg(11, t(11), reply_to_message_id=3))  # a reply: the full statement
    return tg_export(tmp / "a" / "result.json", msgs)


def export_b(tmp: Path) -> Path:
    """Overlaps export A: 5-8 again, 12-14 new, 6 with a different text (a conflict with the vault)."""
    msgs = [tg_msg(i, t(i)) for i in (5, 7, 8, 12, 13, 14)]
    msgs.insert(1, tg_msg(6, "juliet says something unrelated"))
    return tg_export(tmp / "b" / "result.json", msgs)


def run_all(tmp: Path, weak_kdf) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    tmp.mkdir(exist_ok=True)
    with vault.create(tmp / "vault", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        reports = [counts(v.import_path(export_a(tmp)))]
        reports.append(counts(v.import_path(export_b(tmp))))
        reports.append(counts(v.import_path(export_a(tmp))))  # the same export again: all duplicates
        v.delete(query="golf")  # message 6: a tombstone
        reports.append(counts(v.import_path(export_b(tmp))))
        return reports, dump(v)


def test_batched_writer_counts_exactly(tmp_path, weak_kdf, small_batches):
    reports, (rows, prov, fts, _) = run_all(tmp_path, weak_kdf)
    # A: 10 new + the conflicting 4 + 11; 2 and 1 again are duplicates (one inside a batch, one across)
    assert reports[0] == (12, 2, 1, 0)
    # B: 12-14 new and 6's other text kept apart; 5, 7, 8 already in the vault
    assert reports[1] == (4, 3, 1, 0)
    assert reports[2] == (0, 14, 0, 0)
    # after deleting 6: B again skips it and adds nothing
    assert reports[3] == (0, 6, 0, 1)
    assert len(rows) == 16 - 1
    assert len({r[1] for r in rows}) == len(rows)
    # every stored message is in the index exactly once, nothing else is
    indexed = sorted(x[0] for hits in fts for x in hits)
    assert indexed == sorted(r[0] for r in rows if any(w in r[8].split() for w in WORDS))
    assert len(indexed) == len(set(indexed))
    # provenance: 5 and 8 came from A, then B
    both = {mid for mid, imp in prov if imp == 2}
    assert {r[0] for r in rows if r[8] in (t(5), t(8))} <= both


def test_batched_writer_stores_what_the_careful_path_stores(tmp_path, weak_kdf, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH", 3)
    batched = run_all(tmp_path / "batched", weak_kdf)
    real = ingest.Ingestor.__init__

    def init(self, *a, **kw):  # type: ignore[no-untyped-def]
        real(self, *a, **kw)
        self._careful = 10**9

    monkeypatch.setattr(ingest.Ingestor, "__init__", init)
    careful = run_all(tmp_path / "careful", weak_kdf)
    assert batched[0] == careful[0]
    # the same ids, identities, columns, provenance, index and members; uids are per vault (keyed)
    # only for tombstones, so the rows compare whole
    assert batched[1] == careful[1]


def test_the_batch_statements_bind_nulls_and_blobs_as_the_row_says(tmp_path, weak_kdf, small_batches):
    msgs = [tg_msg(1, "alpha one"), tg_msg(2, "bravo two", reply_to_message_id=1), tg_msg(3, "charlie three")]
    f = tg_export(tmp_path / "x" / "result.json", msgs)
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        assert v.import_path(f).added == 3
        got = v.conn.execute(
            "SELECT typeof(uid), length(uid), typeof(from_me), typeof(reply_to) FROM messages ORDER BY id"
        ).fetchall()
    assert [g[:2] for g in got] == [("blob", 18)] * 3  # two bytes of time bucket, then the 16-byte identity
    assert [g[3] == "null" for g in got] == [True, False, True]


def test_a_duplicate_in_the_vault_falls_back_and_later_batches_resume(tmp_path, weak_kdf, small_batches):
    first = tg_export(tmp_path / "1" / "result.json", [tg_msg(5, "word5 text")])
    many = tg_export(tmp_path / "2" / "result.json", [tg_msg(i, f"word{i} text") for i in range(1, 40)])
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        assert v.import_path(first).added == 1
        r = v.import_path(many)
        assert (r.added, r.duplicates) == (38, 1)
        assert v.counts()["messages"] == 39
        assert len(v.search("word33", limit=None)) == 1


def test_an_import_interrupted_mid_batch_leaves_nothing(tmp_path, weak_kdf, small_batches, monkeypatch):
    f = tg_export(tmp_path / "x" / "result.json", [tg_msg(i, f"word{i} text") for i in range(1, 20)])
    real = ingest.normalize.index_text
    calls = [0]

    def failing(text: str) -> str:
        calls[0] += 1
        if calls[0] == 8:  # inside the third batch, its messages already written in its savepoint
            raise RuntimeError("interrupted")
        return real(text)

    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        monkeypatch.setattr(ingest.normalize, "index_text", failing)
        with pytest.raises(RuntimeError):
            v.import_path(f)
        assert calls[0] == 8
        assert v.counts()["messages"] == 0
        assert v.conn.execute("SELECT count(*) FROM chats").fetchone()[0] == 0
        assert v.search("word1", limit=None) == []
        monkeypatch.setattr(ingest.normalize, "index_text", real)
        r = v.import_path(f)  # and the rerun completes it, exactly
        assert (r.added, r.duplicates) == (19, 0)
        assert len(v.search("word7", limit=None)) == 1


def test_careful_only_really_disables_batches(tmp_path, weak_kdf, careful_only, monkeypatch):
    """The comparison above is only worth something if the careful path really ran alone."""
    pending = []
    real = ingest.Ingestor._flush

    def flush(self):  # type: ignore[no-untyped-def]
        pending.append(len(self._batch))
        real(self)

    monkeypatch.setattr(ingest.Ingestor, "_flush", flush)
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        assert v.import_path(export_a(tmp_path)).added == 12
    assert pending and not any(pending)


def test_batches_are_really_written_by_the_batch_path(tmp_path, weak_kdf, small_batches, monkeypatch):
    stored = []
    real = ingest.Ingestor._store

    def store(self, p, replaces=None):  # type: ignore[no-untyped-def]
        stored.append(p.row[9])
        real(self, p, replaces)

    monkeypatch.setattr(ingest.Ingestor, "_store", store)
    msgs = [tg_msg(i, f"word{i} text") for i in range(1, 10)]
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        assert v.import_path(tg_export(tmp_path / "x" / "result.json", msgs)).added == 9
    assert stored == []
