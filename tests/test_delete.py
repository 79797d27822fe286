"""Deletion that really deletes (security.md 8.2), with its negative controls, and stays deleted."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

import vault
from tests import forensics
from tests.conftest import PASSPHRASE, cli, write
from vault.errors import ExportError
from vault.operations import deletion

TOKEN = "zqxcanarytoken7f3e91b2"
CJK = "機密測試樣本鑰匙"
TITLE = "Canarychat Qwerty"
FILLER_TEXT = "alpha beta gamma delta dinner friday 今天 天气 很好 我们 去 吃饭 photo ok thanks"
FILLER_WORDS = FILLER_TEXT.split()


def needles(body: str) -> list[bytes]:
    """A token tail (FTS5 prefix-compresses terms), a body slice, a CJK bigram and trigram."""
    return [TOKEN[-12:].encode(), body[:40].encode(), "測試樣".encode(), "樣本".encode(), CJK.encode()]


def body(i: int = 0) -> str:
    return f"secret note {i}: {TOKEN} {CJK} — please keep this between us, number {i}"


def export(path: Path, chats: dict[str, list[str]], filler: int = 200, seed: int = 1) -> Path:
    """A JSONL export: each chat gets its messages plus random filler, times increasing."""
    rng = random.Random(seed)
    lines: list[dict] = [{"type": "talkvault", "version": 1}]
    t = 1_600_000_000
    for key, texts in chats.items():
        lines.append({"type": "chat", "source": "test", "key": key, "title": key, "kind": "group"})
        pool = [" ".join(rng.choice(FILLER_WORDS) for _ in range(rng.randint(2, 9))) for _ in range(filler)]
        for j, text in enumerate(pool[: filler // 2] + texts + pool[filler // 2 :]):
            t += 60
            lines.append(
                {"type": "message", "chat": key, "ts": f"{t}", "sender": f"p{j % 3}", "text": text, "id": f"{key}-{j}"}
            )
    for ln in lines[1:]:
        if "ts" in ln:
            from datetime import datetime, timezone

            ln["ts"] = datetime.fromtimestamp(int(ln["ts"]), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return write(path, "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")


@pytest.fixture
def filled(tmp_path, weak_kdf):
    """A closed vault with a canary chat and a filler chat; returns (dir, dek, export path)."""
    path = tmp_path / "v"
    f = export(tmp_path / "in" / f"{TITLE}.jsonl", {TITLE: [body(0)], "other": ["nothing to see"]})
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(f)
        dek = bytes.fromhex(v.export_key())
    assert forensics.find(path, dek, needles(body(0)))  # positive control: the scan sees it
    return path, dek, f


def _scan(path: Path, dek: bytes, extra: list[bytes] | None = None) -> list[str]:
    return forensics.find(path, dek, needles(body(0)) + (extra or []))


def _canary_id(v) -> str:  # type: ignore[no-untyped-def]
    return str(v.conn.execute("SELECT id FROM messages WHERE text LIKE ?", (f"%{TOKEN}%",)).fetchone()[0])


@pytest.mark.parametrize("how", ["message", "chat", "query", "query-dated"])
@pytest.mark.parametrize("reader_open", [False, True])
def test_delete_leaves_nothing(filled, how, reader_open):
    path, dek, _f = filled
    reader = vault.open(path, PASSPHRASE) if reader_open else None  # e.g. a shell session
    try:
        if reader:
            assert reader.search(TOKEN)
        with vault.open(path, PASSPHRASE) as v:
            if how == "message":
                r = v.delete(message_ids=[_canary_id(v)])
            elif how == "chat":
                r = v.delete(chat=TITLE)
            elif how == "query":
                r = v.delete(query=TOKEN)
            else:
                r = v.delete(query=CJK[:2], after="2000", before="2100")
            assert r["deleted"] >= 1
            assert v.check()["ok"]
            assert not v.search(TOKEN) and not v.search(CJK[2:5])
    finally:
        if reader:
            reader.close()
    extra = [TITLE.encode()] if how == "chat" else []
    assert _scan(path, dek, extra) == []


def test_large_purge_rewrites_the_index_and_leaves_nothing(tmp_path, weak_kdf):
    path = tmp_path / "v"
    many = [body(i) for i in range(deletion.BULK_THRESHOLD + 300)]
    f = export(tmp_path / "big.jsonl", {"big": many, "keep": ["still here"]}, filler=100)
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(f)
        dek = bytes.fromhex(v.export_key())
        n = v.delete(chat="big")["deleted"]
        assert n == len(many) + 100
        assert v.check()["ok"]
        assert [h["text"] for h in v.search("still")] == ["still here"]
        assert v.conn.execute("SELECT v FROM fts_config WHERE k = 'secure-delete'").fetchone()[0] == 1
    assert _scan(path, dek) == []


def test_negative_control_without_fts_secure_delete_the_scan_finds_residue(filled):
    path, dek, _f = filled
    with vault.open(path, PASSPHRASE) as v:
        v.conn.execute("INSERT INTO fts(fts, rank) VALUES ('secure-delete', 0)")
        ids = [int(_canary_id(v))]
        deletion.purge(v.store, ids, bulk=False)
    hits = _scan(path, dek)
    assert hits, "the scanner did not find index residue that must be there"
    assert all("vault.db page" in h for h in hits)


def test_a_rolled_back_import_leaves_nothing(tmp_path, weak_kdf, filled):
    path, dek, _f = filled
    bad = export(tmp_path / "bad.jsonl", {"x": [f"{TOKEN}-rolled {CJK}" for _ in range(300)]})
    bad.write_bytes(bad.read_bytes() + b"\xff\xfe broken tail\n")  # invalid UTF-8 at the end: the file fails
    with vault.open(path, PASSPHRASE) as v:
        v.delete(chat=TITLE)
        with pytest.raises(ExportError):
            v.import_path(bad)
    assert _scan(path, dek, [b"-rolled"]) == []


def test_attachments_no_longer_used_are_gone(tmp_path, weak_kdf):
    secret_bytes = b"ATTACHMENT-" + TOKEN.encode() * 50
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.bin").write_bytes(secret_bytes)
    (tmp_path / "files" / "b.bin").write_bytes(b"shared kept bytes " * 100)
    lines = [{"type": "talkvault", "version": 1}, {"type": "chat", "source": "t", "key": "c", "title": "c"}]
    for i, (name, text) in enumerate([("a.bin", "one"), ("b.bin", "two"), ("b.bin", "three")]):
        lines.append(
            {
                "type": "message",
                "chat": "c",
                "ts": f"2020-01-0{i + 1}T00:00:00Z",
                "sender": "s",
                "text": text,
                "attachments": [{"name": name, "path": f"files/{name}"}],
            }
        )
    f = write(tmp_path / "att.jsonl", "\n".join(json.dumps(x) for x in lines))
    path = tmp_path / "v"
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(f)
        assert v.counts()["blobs"] == 2
        dek = bytes.fromhex(v.export_key())
        ids = {h["text"]: h["id"] for h in v.search("one OR two OR three")}
        assert forensics.find(path, dek, [secret_bytes[:40]])
        assert v.delete(message_ids=[ids["one"], ids["two"]]) == {"deleted": 2, "attachments": 1}
        assert v.counts()["blobs"] == 1  # b.bin is still used by "three"
    assert forensics.find(path, dek, [secret_bytes[:40], TOKEN[-12:].encode()]) == []


def test_deleted_stays_deleted_but_new_messages_import(filled, tmp_path):
    path, _dek, f = filled
    with vault.open(path, PASSPHRASE) as v:
        n = v.delete(chat=TITLE)["deleted"]
        r = v.import_path(f)
        assert r.added == 0 and r.deleted_skipped == n
        assert not v.search(TOKEN)
        newer = write(
            tmp_path / "newer.jsonl",
            "\n".join(
                json.dumps(x)
                for x in [
                    {"type": "talkvault", "version": 1},
                    {"type": "chat", "source": "test", "key": TITLE, "title": TITLE},
                    {
                        "type": "message",
                        "chat": TITLE,
                        "ts": "2030-01-01T00:00:00Z",
                        "sender": "p1",
                        "text": body(0),
                        "id": f"{TITLE}-100",
                    },
                    {
                        "type": "message",
                        "chat": TITLE,
                        "ts": "2030-01-01T00:01:00Z",
                        "sender": "p1",
                        "text": "a brand new message",
                        "id": "new-1",
                    },
                ]
            ),
        )
        r = v.import_path(newer)
        assert r.added == 1 and [h["text"] for h in v.search("brand new")] == ["a brand new message"]
        assert v.forget_deleted(export=str(f)) == n
        assert v.import_path(f).added == n


def test_dry_run_lists_and_keeps(filled):
    path, _dek, _f = filled
    with vault.open(path, PASSPHRASE) as v:
        before = v.counts()["messages"]
        plan = v.delete(query=TOKEN, dry_run=True)
        assert plan["deleted"] == 1 and len(plan["ids"]) == 1
        assert v.counts()["messages"] == before


def test_rotate_key_leaves_nothing_under_the_old_key(filled, tmp_path):
    path, old_dek, _f = filled
    with vault.open(path, PASSPHRASE) as v:
        v.delete(chat=TITLE)
        rk = v.rotate_key(PASSPHRASE)
        new_dek = bytes.fromhex(v.export_key())
        assert new_dek != old_dek and v.check()["ok"]
    for f in path.iterdir():
        if f.suffix == ".db":
            assert all(p.plain is None for p in forensics.db_pages(f, old_dek))
            assert all(p.plain is not None for p in forensics.db_pages(f, new_dek))
    assert sorted(p.name for p in path.iterdir()) == ["keyslots.json", "vault.db"]
    with vault.open(path, recovery_key=rk) as v:
        assert v.counts()["messages"] > 0


def test_interrupted_rotation_settles_on_open(filled, weak_kdf):
    """Between the steps of rotate-key the vault still opens, and opening finishes the job."""
    from vault.operations import rotate
    from vault.store import keys

    path, _dek, _f = filled
    with vault.open(path, PASSPHRASE) as v:
        real_swap = rotate._swap

        def crash(*a, **k):  # type: ignore[no-untyped-def]
            raise KeyboardInterrupt  # "power cut" right before the new file takes over

        rotate._swap = crash  # type: ignore[assignment]
        try:
            with pytest.raises(KeyboardInterrupt):
                v.rotate_key(PASSPHRASE)
        finally:
            rotate._swap = real_swap
    kf = keys.KeyFile.load(path / "keyslots.json")
    assert len(kf.generations) == 2 and (path / "vault.db.next").exists()
    with vault.open(path, PASSPHRASE) as v:
        assert v.check()["ok"]
    kf = keys.KeyFile.load(path / "keyslots.json")
    assert kf.generations == {0} and not (path / "vault.db.next").exists()


def test_cli_delete_needs_yes_without_a_terminal(cli_vault, tmp_path):
    f = export(tmp_path / "e.jsonl", {"c": [body(0)]}, filler=10)
    assert cli("import", str(f), env=cli_vault).code == 0
    r = cli("delete", "--query", TOKEN, env=cli_vault)
    assert r.code == 2 and "--yes" in r.err
    r = cli("delete", "--query", TOKEN, "--dry-run", "--json", env=cli_vault)
    assert r.code == 0 and r.json()["deleted"] == 1
    r = cli("delete", "--query", TOKEN, "--yes", "--json", env=cli_vault)
    assert r.code == 0 and r.json() == {"deleted": 1, "attachments": 0}
    r = cli("import", str(f), "--json", env=cli_vault)
    assert r.json()["files"][0]["deleted_skipped"] == 1
    r = cli("rotate-key", "--json", env=cli_vault)
    assert r.code == 0 and r.json()["recovery_key"] != cli_vault["RECOVERY_KEY"]
    assert cli("check", env=cli_vault).code == 0
