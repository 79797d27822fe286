"""`talkvault export`: the JSONL round trip, the TXT golden file, refusals, permissions, cleanup,
bounded memory, and that nothing is written outside --out.

The vault is filled from real exports (a Telegram folder with photos, a JSONL source with naive
times, CJK, emoji, reactions, attachment bytes, events, and two chats that share a key across
sources) through the real importers, and compared record by record after the round trip.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import resource
import struct
import subprocess
import sys
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vault
from tests.conftest import PASSPHRASE, ROOT, cli, tg_export, write

CANARY = "zq-export-canary-7c41"
CJK_CANARY = "燈塔秘密測試"


# -- sources ----------------------------------------------------------------------------------------
def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG image (so a browser can decode it), made here."""

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))

    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


BIG = hashlib.shake_256(b"talkvault export test").digest(2_500_000)  # 3 stored chunks of 1 MiB


def telegram_source(root: Path) -> Path:
    """A Telegram export folder: aware times, sender ids, a photo, a reply, an edit, a service entry."""
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "photo_1.png").write_bytes(png(40, 30, (200, 30, 30)))

    def msg(mid: int, sender: str, text: Any, **kw: Any) -> dict[str, Any]:
        return {
            "id": mid,
            "type": "message",
            "date": "2023-03-14T09:06:00",
            "date_unixtime": str(1678784760 + 60 * mid),
            "from": sender,
            "from_id": f"user{len(sender)}{ord(sender[0])}",
            "text": text,
            **kw,
        }

    messages = [
        msg(1, "Ana", "Next book: «Der Zauberberg» — who's in? 📚"),
        msg(2, "Lukas", "Ich bin dabei! 警察國家 is the other one", reply_to_message_id=1),
        msg(3, "Mei", f"Café Sunday at 3? {CANARY}", edited="2023-03-14T09:20:00", edited_unixtime="1678785600"),
        msg(4, "Mei", "", photo="photos/photo_1.png", width=40, height=30),
        {
            "id": 5,
            "type": "service",
            "date": "2023-03-14T09:40:00",
            "date_unixtime": "1678786800",
            "actor": "Ana",
            "actor_id": "user365",
            "action": "invite_members",
            "members": ["Jon"],
            "text": "",
        },
        msg(6, "Jon", [{"type": "bold", "text": "Hi"}, " all 👋"], forwarded_from="Reading News"),
        msg(7, "Ana", "<script>alert(1)</script> & <b>not bold</b>"),
    ]
    return tg_export(root / "result.json", messages, name="Book club 📚", chat_id=4242)


HEADER = {"type": "talkvault", "version": 1}


def chat(source: str, key: str, title: str, kind: str, participants: list[str] | None = None) -> dict[str, Any]:
    doc = {"type": "chat", "source": source, "key": key, "title": title, "kind": kind}
    return {**doc, "participants": participants} if participants else doc


def msg(chat: str, ts: str, sender: str, text: str, **kw: Any) -> dict[str, Any]:
    return {"type": "message", "chat": chat, "ts": ts, "sender": sender, "text": text, **kw}


def event(chat: str, ts: str, text: str, kind: str, actor: str) -> dict[str, Any]:
    return {"type": "event", "chat": chat, "ts": ts, "text": text, "kind": kind, "actor": actor}


def jsonl_lines(docs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in docs)


def jsonl_source(root: Path) -> Path:
    """A JSONL source export: naive and aware times, attachments with bytes, reactions, events,
    two chats with the same key in two sources, a person known by an id whose name an event names."""
    media = root / "media"
    media.mkdir(parents=True)
    (media / "dumplings.png").write_bytes(png(64, 48, (30, 160, 60)))
    (media / "big.bin").write_bytes(BIG)
    png_att = {"name": "dumplings.png", "kind": "image", "mime": "image/png", "path": "media/dumplings.png"}
    big_att = {"name": "big.bin", "kind": "file", "mime": "application/octet-stream", "path": "media/big.bin"}
    lines: list[dict[str, Any]] = [
        HEADER,
        chat("wechat", "room", "家人 Family", "group", ["妈妈", "Mei", "Jon", "Silent Sam"]),
        event("room", "2023-01-21T20:00:00", "Mei joined", "join", "Mei"),
        msg("room", "2023-01-21T20:01:00", "妈妈", f"新年快樂！路上小心，警察今天查酒駕。{CJK_CANARY}"),
        msg("room", "2023-01-21T20:02:00", "Mei", "ok"),
        msg("room", "2023-01-21T20:02:00", "Mei", "ok"),
        msg(
            "room",
            "2023-01-21T20:04:00",
            "Mei",
            "饺子 🥟",
            kind="image",
            attachments=[png_att],
            reactions=[{"emoji": "❤️", "sender": "妈妈", "ts": "2023-01-21T20:05:00"}, {"emoji": "😂", "sender": "Jon"}],
        ),
        msg("room", "2023-01-21T20:08:00", "Jon", "Leaving at five.\nSecond line 🚗", id="w-5", from_me=True,
            edited="2023-01-21T20:09:30"),
        msg("room", "2023-01-21T20:10:00", "妈妈", "好的 👍", id="w-6", reply_to="w-5"),
        msg("room", "2023-01-21T20:11:00", "Jon", "the scan", kind="file",
            attachments=[big_att, {"name": "lost photo.jpg", "kind": "image", "mime": "image/jpeg", "size": 1234}]),
        msg("room", "2023-01-21T20:12:00", "Ken", "我是Ken", sender_id="wx-ken", extra={"client": "pc", "n": 3}),
        event("room", "2023-01-21T20:13:00", "Ken changed the group name", "title", "Ken"),
        msg("room", "2023-01-22T01:02:03.500+08:00", "Mei", "半秒 ⏱", forwarded_from="Channel 新闻"),
        msg("room", "2023-01-22T02:00:00", "Jon", "", kind="deleted"),
        chat("line", "room", "Sora ☀️", "direct", ["Sora", "Mei"]),
        msg("room", "2023-02-01T08:00:00", "Sora", "おはよう☀️ 東京は晴れ"),
        msg("room", "2023-02-01T09:00:00+09:00", "Mei", "The Eagle has landed 🌕"),
        msg("room", "2023-02-01T08:05:00", "Sora", "점심 먹었어?", kind="sticker"),
        chat("wechat", "work", "Work 工作", "group", ["Ken", "Mei"]),
        msg("work", "2023-03-01T09:00:00", "Mei", "Ken never writes here"),
    ]  # fmt: skip
    return write(root / "source.jsonl", jsonl_lines(lines))


def telegram_older(root: Path) -> Path:
    """An older export of the same Telegram chat with an entry from before Ana's first message:
    imported second, its actor is linked (by name) to the Ana the vault knows by her id."""
    created = {
        "id": 0,
        "type": "service",
        "date": "2023-03-14T08:00:00",
        "date_unixtime": "1678780800",
        "actor": "Ana",
        "action": "create_group",
        "title": "Book club 📚",
        "text": "",
    }
    return tg_export(root / "result.json", [created], name="Book club 📚", chat_id=4242)


def fill(v: Any, root: Path) -> None:
    reports = [
        v.import_path(telegram_source(root / "tg")),
        v.import_path(jsonl_source(root / "src"), tz="Asia/Shanghai"),
        v.import_path(telegram_older(root / "tg-old")),
    ]
    assert not any(r.problems for r in reports), [r.problems for r in reports]
    assert [r.attachments for r in reports] == [1, 2, 0] and reports[2].events == 1


# -- a vault, record by record ----------------------------------------------------------------------
def blob_sha(v: Any, blob_id: int | None) -> str | None:
    if blob_id is None:
        return None
    h = hashlib.sha256()
    for (data,) in v.conn.execute("SELECT data FROM blob_chunks WHERE blob_id = ? ORDER BY seq", (blob_id,)):
        h.update(data)
    return h.hexdigest()


def snapshot(v: Any) -> dict[str, Any]:
    """Everything a person's history is, independent of row ids."""
    c = v.conn
    chats = {cid: (src, key) for cid, src, key in c.execute("SELECT id, source, key FROM chats")}
    people = {pid: (src, key) for pid, src, key in c.execute("SELECT id, source, key FROM people")}
    messages = {}
    for row in c.execute(
        "SELECT id, uid, chat_id, sender_id, ts_ms, kind, is_event, from_me, text, source_id, reply_to,"
        " edited_ms, forwarded_from, extra FROM messages"
    ):
        mid, uid, chat, sender, *rest = row
        extra = json.loads(rest[-1]) if rest[-1] else None
        if rest[2]:  # events: the reader does not carry `extra` yet (see test below)
            extra = None
        atts = sorted(
            (name, kind, mime, size, blob_sha(v, blob))
            for name, kind, mime, size, blob in c.execute(
                "SELECT name, kind, mime, size, blob_id FROM attachments WHERE message_id = ?", (mid,)
            )
        )
        reactions = sorted(
            c.execute("SELECT emoji, sender, ts_ms, removed FROM reactions WHERE message_id = ?", (mid,)).fetchall(),
            key=repr,
        )
        messages[bytes(uid).hex()] = (
            chats[chat],
            None if sender is None else people[sender],
            *rest[:-1],
            extra,
            atts,
            reactions,
        )
    return {
        "chats": sorted(c.execute("SELECT source, key, title, kind FROM chats").fetchall()),
        "people": sorted(c.execute("SELECT source, key, name FROM people").fetchall()),
        "members": sorted((chats[ch], people[p]) for ch, p in c.execute("SELECT chat_id, person_id FROM chat_members")),
        "messages": messages,
        "blobs": c.execute("SELECT count(*) FROM blobs").fetchone()[0],
    }


@pytest.fixture
def filled(new_vault, tmp_path):  # type: ignore[no-untyped-def]
    fill(new_vault, tmp_path / "sources")
    return new_vault


def other_vault(tmp_path: Path, weak_kdf: Any, name: str) -> Any:
    return vault.create(tmp_path / name, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True)


# -- JSONL ------------------------------------------------------------------------------------------
def test_jsonl_round_trip_rebuilds_the_same_vault(filled, tmp_path, weak_kdf):
    before = snapshot(filled)
    assert len(before["messages"]) == 24 and before["blobs"] == 3
    out = tmp_path / "export"
    res = filled.export(None, format="jsonl", out=out, all_chats=True)
    assert res["messages"] == 20 and res["events"] == 4 and res["chats"] == 4 and res["attachments"] == 3
    main = Path(res["main"])
    assert main == out / "talkvault.jsonl"
    # Attachments are files beside the JSONL, named by relative paths, byte for byte.
    docs = [json.loads(line) for line in main.read_text(encoding="utf-8").splitlines()]
    paths = [a["path"] for d in docs for a in d.get("attachments", []) if "path" in a]
    assert len(paths) == 3 and all(not p.startswith("/") and ".." not in p for p in paths)
    assert {hashlib.sha256((out / p).read_bytes()).hexdigest() for p in paths} >= {hashlib.sha256(BIG).hexdigest()}
    assert all(len(d["identity"]) == 32 for d in docs if d["type"] in ("message", "event"))

    with other_vault(tmp_path, weak_kdf, "fresh") as fresh:
        rep = fresh.import_path(main)
        assert not rep.problems
        assert rep.added == 20 and rep.events == 4 and rep.attachments == 3
        after = snapshot(fresh)
        assert after["chats"] == before["chats"]
        assert after["people"] == before["people"]
        assert after["members"] == before["members"]
        assert after["blobs"] == before["blobs"]
        assert after["messages"].keys() == before["messages"].keys()
        for uid, rec in before["messages"].items():
            assert after["messages"][uid] == rec, uid
        # The search index was rebuilt from the same text: the same hits.
        for q in ("警察", "café", "🥟", "東京", "from:Ken"):
            assert sorted(h["text"] for h in fresh.search(q)) == sorted(h["text"] for h in filled.search(q)), q

    # Back into the vault it came from: nothing added, nothing changed.
    rep = filled.import_path(main)
    assert (rep.added, rep.events, rep.attachments, rep.duplicates) == (0, 0, 0, 24)
    assert snapshot(filled) == before


def test_jsonl_one_chat_without_attachments_is_one_file(filled, tmp_path, weak_kdf):
    sora = next(c for c in filled.chats() if c["source"] == "line")
    out = tmp_path / "sora.jsonl"
    res = filled.export(sora["id"], format="jsonl", out=out)
    assert res["main"] == str(out) and res["files"] == 1 and res["messages"] == 3
    assert out.is_file() and (out.stat().st_mode & 0o777) == 0o600
    with other_vault(tmp_path, weak_kdf, "fresh") as fresh:
        assert fresh.import_path(out).added == 3
        assert [c["title"] for c in fresh.chats()] == ["Sora ☀️"]


def test_jsonl_round_trip_keeps_event_and_chat_extra(filled, tmp_path, weak_kdf):
    res = filled.export(None, format="jsonl", out=tmp_path / "export", all_chats=True)
    events = [(bytes(u).hex(), x) for u, x in filled.conn.execute("SELECT uid, extra FROM messages WHERE is_event = 1")]
    assert any(x for _, x in events)
    with other_vault(tmp_path, weak_kdf, "fresh") as fresh:
        fresh.import_path(res["main"])
        got = {bytes(u).hex(): x for u, x in fresh.conn.execute("SELECT uid, extra FROM messages WHERE is_event = 1")}
    assert all(got[u] == x for u, x in events)


def test_jsonl_round_trip_keeps_every_millisecond(new_vault, tmp_path, weak_kdf):
    rng = random.Random(7)
    times = sorted(rng.randrange(946_684_800_000, 1_893_456_000_000) for _ in range(3000))  # 2000-2030
    lines = [{"type": "talkvault", "version": 1}, {"type": "chat", "source": "x", "key": "k", "title": "t"}]
    from vault.operations.export.read import iso_ms

    lines += [
        {"type": "message", "chat": "k", "ts": iso_ms(t), "sender": "A", "text": str(i), "id": str(i)}
        for i, t in enumerate(times)
    ]
    src = write(tmp_path / "ms.jsonl", "".join(json.dumps(x) + "\n" for x in lines))
    new_vault.import_path(src)
    stored = sorted(r[0] for r in new_vault.conn.execute("SELECT ts_ms FROM messages"))
    assert stored == sorted(times)


# -- TXT --------------------------------------------------------------------------------------------
GOLDEN_SOURCE = [
    HEADER,
    chat("telegram", "bc", "Book club 📚", "group", ["Ana", "Mei", "Jon"]),
    event("bc", "2023-03-14T00:05:00Z", "Ana created the group", "title", "Ana"),
    msg("bc", "2023-03-14T00:06:00Z", "Mei", "Chapter 3 tonight?", id="1"),
    msg("bc", "2023-03-14T00:07:30Z", "Jon", "👍 好啊\nsee you", id="2", reply_to="1",
        reactions=[{"emoji": "❤️", "sender": "Mei"}]),
    msg("bc", "2023-03-14T15:00:00Z", "Ana", "", kind="image", id="3",
        attachments=[{"name": "cover.jpg", "kind": "image", "mime": "image/jpeg"}]),
    msg("bc", "2023-03-14T15:01:00Z", "Mei", "typo fixed", id="4", edited="2023-03-14T15:02:00Z",
        forwarded_from="News"),
    msg("bc", "2023-03-14T15:02:00Z", "Jon", "", kind="deleted", id="5"),
    msg("bc", "2023-03-14T15:03:00Z", "Jon", "re: lost", id="6", reply_to="999"),
    chat("line", "sora", "Sora", "direct"),
    msg("sora", "2024-01-01T00:00:00Z", "Sora", "あけましておめでとう"),
]  # fmt: skip

GOLDEN_BOOK_CLUB = """\
== Book club 📚 ==
telegram, group: 6 messages, 1 event; times in Asia/Tokyo

2023-03-14 09:05  (Ana created the group)
2023-03-14 09:06  Mei: Chapter 3 tonight?
2023-03-14 09:07  Jon: 👍 好啊
                  see you
                  ↪ Mei: Chapter 3 tonight?
                  reactions: ❤️ Mei
2023-03-15 00:00  Ana:
                  [image: cover.jpg, not stored]
2023-03-15 00:01  Mei: typo fixed (edited)
                  forwarded from News
2023-03-15 00:02  Jon: [deleted]
2023-03-15 00:03  Jon: re: lost
                  ↪ (a message not in this export)
"""

GOLDEN_SORA = """\
== Sora ==
line, direct: 1 message; times in Asia/Tokyo

2024-01-01 09:00  Sora: あけましておめでとう
"""


@pytest.fixture
def golden_env(cli_vault, tmp_path):  # type: ignore[no-untyped-def]
    src = write(tmp_path / "golden.jsonl", jsonl_lines(GOLDEN_SOURCE))
    r = cli("import", str(src), env=cli_vault)
    assert r.code == 0, r.err
    return cli_vault


def test_txt_golden_one_chat_and_all(golden_env, tmp_path):
    one = tmp_path / "book-club.txt"
    r = cli("export", "Book club 📚", "--format", "txt", "--out", str(one), "--tz", "Asia/Tokyo", env=golden_env)
    assert r.code == 0, r.err
    assert one.read_text(encoding="utf-8") == GOLDEN_BOOK_CLUB
    every = tmp_path / "all.txt"
    r = cli("export", "--all", "--format", "txt", "--out", str(every), "--tz", "Asia/Tokyo", "--json", env=golden_env)
    assert r.code == 0, r.err
    assert every.read_text(encoding="utf-8") == GOLDEN_BOOK_CLUB + "\n\n" + GOLDEN_SORA
    assert r.json() == {
        "path": str(every),
        "main": str(every),
        "format": "txt",
        "chats": 2,
        "messages": 7,
        "events": 1,
        "attachments": 0,
        "files": 1,
        "directory": False,
    }
    # Plaintext only where asked, and said so on stderr, in one line.
    assert r.err.count("\n") == 1 and "wrote plaintext to" in r.err and str(every) in r.err
    assert (every.stat().st_mode & 0o777) == 0o600


# -- refusals -----------------------------------------------------------------------------------------
def test_refuses_to_overwrite_and_bad_requests(golden_env, tmp_path, vault_dir):
    taken = write(tmp_path / "taken.txt", "keep me")
    full = tmp_path / "full"
    full.mkdir()
    write(full / "x", "keep me too")
    afile = write(tmp_path / "afile", "")
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "elsewhere.txt")
    cases = [
        (["1", "--format", "txt", "--out", str(taken)], "already exists"),
        (["--all", "--format", "html", "--out", str(full)], "already exists"),
        (["--all", "--format", "jsonl", "--out", str(afile)], "needs a folder"),
        (["1", "--format", "txt", "--out", str(link)], "symbolic link"),
        (["1", "--format", "txt", "--out", str(tmp_path / "no" / "such" / "x.txt")], "does not exist"),
        (["1", "--all", "--format", "txt", "--out", str(tmp_path / "a.txt")], "not both"),
        (["--format", "txt", "--out", str(tmp_path / "b.txt")], "name the chat"),
        (["1", "--format", "pdf", "--out", str(tmp_path / "d.pdf")], "pdf"),
        (["1", "--format", "txt", "--out", str(tmp_path / "e.txt"), "--tz", "Mars/Olympus"], "time zone"),
        (["1", "--format", "txt", "--out", str(vault_dir / "plain.txt")], "inside the vault folder"),
    ]
    before = sorted(p.name for p in tmp_path.iterdir())
    for args, says in cases:
        r = cli("export", *args, env=golden_env)
        assert r.code == 2, (args, r.code, r.err)
        assert says in r.err and "Traceback" not in r.err and r.out == "", (args, r.err)
    r = cli("export", "no such chat", "--format", "txt", "--out", str(tmp_path / "c.txt"), env=golden_env)
    assert r.code == 1 and "no such chat" in r.err and r.out == "", (r.code, r.err)  # a missing chat: exit 1
    assert taken.read_text() == "keep me" and (full / "x").read_text() == "keep me too"
    assert not (tmp_path / "elsewhere.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert sorted(os.listdir(vault_dir)) == ["keyslots.json", "vault.db"]


def test_empty_file_is_replaced_and_empty_folder_written_into(golden_env, tmp_path):
    empty_file = write(tmp_path / "empty.txt", "")
    r = cli("export", "Sora", "--format", "txt", "--out", str(empty_file), "--tz", "Asia/Tokyo", env=golden_env)
    assert r.code == 0, r.err
    assert empty_file.read_text(encoding="utf-8") == GOLDEN_SORA
    assert (empty_file.stat().st_mode & 0o777) == 0o600
    folder = tmp_path / "folder"
    folder.mkdir()
    r = cli("export", "Sora", "--format", "html", "--out", str(folder), "--json", env=golden_env)
    assert r.code == 0, r.err
    assert r.json()["main"] == str(folder / "index.html") and sorted(os.listdir(folder)) == ["index.html"]
    # A path that ends in "/" asks for a folder.
    r = cli("export", "Sora", "--format", "jsonl", "--out", f"{tmp_path / 'new'}/", "--json", env=golden_env)
    assert r.code == 0, r.err
    assert r.json()["main"] == str(tmp_path / "new" / "talkvault.jsonl") and (tmp_path / "new").is_dir()


# -- permissions, failure, memory ---------------------------------------------------------------------
def modes(root: Path) -> set[tuple[str, int]]:
    return {("d" if p.is_dir() else "f", p.stat().st_mode & 0o777) for p in [root, *root.rglob("*")]}


def test_every_format_writes_0600_files_and_0700_folders(filled, tmp_path):
    os.umask(0o022)
    try:
        for fmt in ("html", "jsonl", "txt"):
            out = tmp_path / f"all-{fmt}"
            out_file = out if fmt != "txt" else out.with_suffix(".txt")
            res = filled.export(None, format=fmt, out=out_file, all_chats=True)
            assert res["messages"] == 20, fmt
            assert modes(out_file) <= {("d", 0o700), ("f", 0o600)}, fmt
    finally:
        os.umask(0o077)


def _limited_fsize(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_failed_export_leaves_nothing_behind(filled, tmp_path):
    """A real write failure (a file size limit, as a full disk would) part-way: exit 1, one line,
    and no half-written plaintext left."""
    filled.close()
    env = dict(os.environ, TALKVAULT_PASSPHRASE=PASSPHRASE, PYTHONPATH=str(ROOT))
    for fmt in ("jsonl", "html"):
        out = tmp_path / f"out-{fmt}"
        argv = ["--vault", str(tmp_path / "vault"), "export", "--all", "--format", fmt, "--out", str(out)]
        p = subprocess.run(
            [sys.executable, "-m", "vault", *argv],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            preexec_fn=lambda: _limited_fsize(1_000_000),
            timeout=120,
        )
        assert p.returncode == 1, (fmt, p.stderr)
        assert "could not write the export" in p.stderr and "nothing was kept" in p.stderr
        assert p.stderr.count("\n") == 1 and "Traceback" not in p.stderr
        assert not out.exists(), fmt


def test_export_streams_in_bounded_memory(new_vault, tmp_path):
    """5,000 messages and an 8 MiB attachment export with a small Python heap: rows in batches,
    attachment bytes chunk by chunk, pages written as they go."""
    from vault.operations.export.read import batches, chat_infos

    n = 5000
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "video.bin").write_bytes(hashlib.shake_256(b"video").digest(8 * 1024 * 1024))
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "x", "key": "big", "title": "Big", "kind": "group"},
        {"type": "message", "chat": "big", "ts": "2020-01-01T00:00:00Z", "sender": "A", "text": "video",
         "attachments": [{"name": "video.bin", "kind": "video", "path": "m/video.bin"}]},
    ]  # fmt: skip
    lines += [
        {"type": "message", "chat": "big", "ts": f"2021-01-01T00:00:{i % 60:02d}Z", "sender": f"P{i % 7}",
         "text": f"{i} 警察國家 " + "x" * 300, "id": str(i)}
        for i in range(n)
    ]  # fmt: skip
    src = write(tmp_path / "big.jsonl", "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
    assert new_vault.import_path(src).added == n + 1

    # The control: what holding the whole chat would cost.
    tracemalloc.start()
    try:
        held = [row for batch in batches(new_vault, chat_infos(new_vault)[0]) for row in batch]
        whole = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(held) == n + 1
    del held
    limit = 3 * 1024 * 1024
    assert whole > 2 * limit
    for fmt in ("jsonl", "html", "txt"):
        tracemalloc.start()
        try:
            res = new_vault.export("Big", format=fmt, out=tmp_path / f"out-{fmt}")
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert res["messages"] == n + 1
        assert peak < limit, (fmt, peak, whole)
    video = hashlib.sha256((tmp_path / "m" / "video.bin").read_bytes()).hexdigest()
    assert hashlib.sha256((tmp_path / "out-jsonl" / "attachments" / "1-video.bin").read_bytes()).hexdigest() == video
    # 5,001 messages: two pages of html, the second linked from the first.
    assert sorted(p.name for p in (tmp_path / "out-html").iterdir()) == ["attachments", "index.html", "page-2.html"]
    assert 'href="page-2.html"' in (tmp_path / "out-html" / "index.html").read_text(encoding="utf-8")


# -- nothing outside --out ------------------------------------------------------------------------------
def scan(root: Path, needles: list[bytes], skip: list[Path]) -> list[str]:
    hits = []
    for f in root.rglob("*"):
        if f.is_file() and not f.is_symlink() and not any(f.is_relative_to(s) for s in skip):
            data = f.read_bytes()
            hits += [f"{f}: {n!r}" for n in needles if n in data]
    return hits


def test_nothing_is_written_outside_out(hermetic, cli_vault, vault_dir, tmp_path):
    sources = tmp_path / "sources"
    for src in (telegram_source(sources / "tg"), jsonl_source(sources / "src")):
        r = cli("import", str(src), "--tz", "UTC", env=cli_vault)
        assert r.code == 0, r.err
    vault_files = sorted(os.listdir(vault_dir))
    outs = tmp_path / "outs"
    outs.mkdir()
    listing_before = sorted(str(p) for p in tmp_path.rglob("*") if not p.is_relative_to(vault_dir))
    needles = [CANARY.encode(), CJK_CANARY.encode(), BIG[1000:1064]]
    for fmt in ("html", "jsonl", "txt"):
        out = outs / fmt
        r = cli("export", "--all", "--format", fmt, "--out", str(out), "--json", env=cli_vault)
        assert r.code == 0, r.err
        assert CANARY not in r.err + r.out and CJK_CANARY not in r.err + r.out
        # The canaries are in the export (where the person asked) ...
        found = scan(out if out.is_dir() else outs, [CANARY.encode(), CJK_CANARY.encode()], [])
        assert len({h.rsplit(": ", 1)[1] for h in found}) == 2, (fmt, found)
    # ... and nowhere else: not in HOME, the temp dirs, the vault folder, nor any new file.
    assert not scan(hermetic, needles, [outs, sources]), "plaintext outside --out"
    assert not scan(vault_dir, needles, [])
    assert sorted(os.listdir(vault_dir)) == vault_files
    listing_after = sorted(str(p) for p in tmp_path.rglob("*") if not p.is_relative_to(vault_dir))
    assert [p for p in listing_after if p not in listing_before and not Path(p).is_relative_to(outs)] == []


# -- attachment names are data, not paths ----------------------------------------------------------------
HOSTILE_NAMES = [
    "../../escape.png",
    "..",
    "/etc/passwd",
    "a/b\\c.txt",
    ".bashrc",
    "con:nul?*<>|.txt",
    "tab\there\nnewline.txt",
    "名" * 200 + ".png",
    "",
]


def test_attachment_names_never_leave_out(new_vault, tmp_path, weak_kdf):
    src = tmp_path / "src"
    (src / "f").mkdir(parents=True)
    atts = []
    for i, name in enumerate(HOSTILE_NAMES):
        (src / "f" / f"{i}.bin").write_bytes(f"bytes {i}".encode())
        atts.append({"name": name, "kind": "file", "path": f"f/{i}.bin"})
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "x", "key": "k", "title": "Files"},
        {"type": "message", "chat": "k", "ts": "2023-01-01T00:00:00Z", "sender": "A", "text": "", "attachments": atts},
    ]
    new_vault.import_path(write(src / "files.jsonl", "".join(json.dumps(x) + "\n" for x in lines)))
    for fmt in ("jsonl", "html"):
        out = tmp_path / "outs" / fmt
        out.parent.mkdir(exist_ok=True)
        res = new_vault.export("Files", format=fmt, out=out)
        assert res["attachments"] == len(HOSTILE_NAMES)
        written = [p for p in (out / "attachments").iterdir()]
        assert len(written) == len(HOSTILE_NAMES)
        assert all(p.is_file() and not p.name.startswith(".") and len(p.name.encode()) < 200 for p in written)
    # Every file is inside --out: nothing beside it, nothing above it.
    assert sorted(os.listdir(tmp_path)) == ["outs", "src", "vault"]
    assert sorted(os.listdir(tmp_path / "outs")) == ["html", "jsonl"]
    assert not list(Path("/").glob("escape.png")) and not list(tmp_path.rglob("escape.png"))
    # The names themselves travel intact in the JSONL, and come back on import.
    with other_vault(tmp_path, weak_kdf, "fresh") as fresh:
        fresh.import_path(tmp_path / "outs" / "jsonl" / "talkvault.jsonl")
        names = [r[0] for r in fresh.conn.execute("SELECT name FROM attachments ORDER BY id")]
        data = [blob_sha(fresh, r[0]) for r in fresh.conn.execute("SELECT blob_id FROM attachments ORDER BY id")]
    assert names == HOSTILE_NAMES
    assert data == [hashlib.sha256(f"bytes {i}".encode()).hexdigest() for i in range(len(HOSTILE_NAMES))]


@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=400))
def test_safe_name_is_one_plain_file_name(name):
    from vault.operations.export.files import NAME_BYTES, safe_name

    got = safe_name(name)
    assert got and got not in (".", "..") and not got.startswith(".")
    assert not set(got) & set('/\\\x00<>:"|?*') and all(ord(ch) >= 0x20 and ord(ch) != 0x7F for ch in got)
    assert len(got.encode("utf-8")) <= NAME_BYTES + 17
