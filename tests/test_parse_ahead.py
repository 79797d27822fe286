"""Parsing in a second process (vault/operations/parse_ahead.py): the same vault as parsing in this one, the same
errors, nothing half-imported when the child fails, and nothing of the export in the child's argv.

The size threshold is lowered per test (monkeypatch), so small real exports take the child path.
"""

from __future__ import annotations

import os
import pickle
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vault
from importers.base import file_opener, zip_opener
from tests.conftest import PASSPHRASE, ROOT, tg_export, tg_msg
from vault.errors import ExportError
from vault.operations import parse_ahead

FIX = ROOT / "tests" / "fixtures"
CANARY = "parse-ahead-canary-ZQ7"


def _exports(tmp_path: Path) -> dict[str, Path]:
    """One export per format that may be parsed ahead, with attachments where the format has them."""
    tg = tmp_path / "tg"
    msgs = [
        tg_msg(i, f"message {i} 你好世界 {CANARY}" if i % 3 else f"мир {i}", sender="Mei" if i % 2 else "Li")
        for i in range(1, 400)
    ]
    msgs[5] = tg_msg(6, "a photo", photo="photos/p1.jpg")
    msgs[6] = tg_msg(7, "a reply", reply_to_message_id=6, edited_unixtime="1700000100")
    tg_export(tg / "result.json", msgs)
    (tg / "photos").mkdir()
    (tg / "photos" / "p1.jpg").write_bytes(b"\xff\xd8\xff\xe0 telegram photo")
    wa = tmp_path / "WhatsApp Chat - Hiking.zip"
    with zipfile.ZipFile(wa, "w") as zf:
        zf.writestr("_chat.txt", (FIX / "whatsapp" / "ios_group_chat.txt").read_bytes())
        zf.writestr("00000003-PHOTO-2023-01-11-16-31-00.jpg", b"\xff\xd8\xff\xe0 a photo")
        zf.writestr("00000004-Route.pdf", b"%PDF-1.4 a route")
    line = tmp_path / "line-ja.txt"
    shutil.copy(FIX / "line" / "ja.txt", line)
    kakao = tmp_path / "kakao.txt"
    shutil.copy(FIX / "kakaotalk" / "windows_en.txt", kakao)
    same = tmp_path / "WhatsApp Chat with Twins.txt"  # identical messages: told apart by their ordinal
    same.write_text("".join(f"13/01/2023, 10:0{i % 3} - Ann: ok 好\n" for i in range(9)), encoding="utf-8")
    return {"telegram": tg / "result.json", "whatsapp": wa, "line": line, "kakaotalk": kakao, "twins": same}


def _content(v: vault.Vault) -> dict[str, Any]:
    """Everything an import writes, in a comparable form (attachment bytes included)."""
    c = v.conn
    msgs = c.execute(
        "SELECT m.id, m.uid, ch.key, p.key, m.ts_ms, m.kind, m.is_event, m.from_me, m.text, m.source_id,"
        " m.reply_to, m.edited_ms, m.forwarded_from, m.extra FROM messages m JOIN chats ch ON ch.id = m.chat_id"
        " LEFT JOIN people p ON p.id = m.sender_id ORDER BY m.id"
    ).fetchall()
    atts = []
    for mid, name, kind, mime, size, blob in c.execute(
        "SELECT message_id, name, kind, mime, size, blob_id FROM attachments ORDER BY message_id, name"
    ).fetchall():
        data = b"".join(r[0] for r in c.execute("SELECT data FROM blob_chunks WHERE blob_id = ? ORDER BY seq", (blob,)))
        atts.append((mid, name, kind, mime, size, data))
    chats = c.execute("SELECT source, key, title, kind FROM chats ORDER BY key").fetchall()
    people = c.execute("SELECT source, key, name FROM people ORDER BY key").fetchall()
    return {"messages": msgs, "attachments": atts, "chats": chats, "people": people, "counts": v.counts()}


def _import_all(path: Path, exports: dict[str, Path], weak_kdf: Any) -> tuple[dict[str, Any], list[Any]]:
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        reports = [v.import_path(p, tz="Europe/Berlin").to_json() for p in exports.values()]
        assert v.check()["ok"]
        found = sorted(m["id"] for m in v.search("世界", limit=1000))
        return {**_content(v), "found": found}, reports


def ahead(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every eligible import goes through the child from now on; the list names the formats that did."""
    used: list[str] = []
    real = parse_ahead.prepared_ahead

    def counting(fmt: Any, *rest: Any) -> Iterator[Any]:
        used.append(fmt.name)
        return real(fmt, *rest)

    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setattr(parse_ahead, "prepared_ahead", counting)
    return used


def test_the_child_writes_the_same_vault_as_this_process(
    tmp_path: Path, weak_kdf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    exports = _exports(tmp_path)
    here, here_reports = _import_all(tmp_path / "here", exports, weak_kdf)
    used = ahead(monkeypatch)
    there, there_reports = _import_all(tmp_path / "there", exports, weak_kdf)
    assert used == ["telegram", "whatsapp", "line", "kakaotalk", "whatsapp"]
    assert here_reports[-1]["added"] == 9
    assert here["counts"]["messages"] > 400 and here["counts"]["attachments"] == 3
    assert len(here["found"]) > 200
    assert there == here
    assert there_reports == here_reports


def test_a_bad_file_fails_the_same_way_and_leaves_nothing(
    tmp_path: Path, weak_kdf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    used = ahead(monkeypatch)
    good = tg_export(tmp_path / "good" / "result.json", [tg_msg(i, f"kept {i}") for i in range(1, 30)])
    text = tg_export(tmp_path / "bad" / "result.json", [tg_msg(i, f"lost {i}") for i in range(1, 3000)]).read_text()
    bad = tmp_path / "bad" / "result.json"
    bad.write_text(text[: len(text) * 2 // 3])  # truncated well after the first batches were sent
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(good)
        before = _content(v)
        with pytest.raises(ExportError) as err:
            v.import_path(bad)
        assert _content(v) == before  # nothing of the bad file, nothing of the good one lost
        assert v.check()["ok"]
        failed = v.conn.execute("SELECT count(*) FROM imports WHERE status = 'failed'").fetchone()[0]
    assert used == ["telegram", "telegram"]
    assert str(err.value).startswith(f"{bad}: is not complete, valid JSON")
    monkeypatch.setattr(parse_ahead, "THRESHOLD", 1 << 62)  # the same file in this process: the same message
    with vault.open(tmp_path / "v", PASSPHRASE) as v, pytest.raises(ExportError) as again:
        v.import_path(bad)
    assert str(again.value) == str(err.value) and failed == 1


def test_a_record_that_cannot_travel_sends_the_file_through_this_process(
    tmp_path: Path, weak_kdf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child reports an unpicklable record after some batches went in: the import starts again here,
    in a fresh transaction, with exact counts (nothing from the abandoned attempt)."""
    src = tg_export(tmp_path / "tg" / "result.json", [tg_msg(i, f"m {i}") for i in range(1, 1200)])
    real = parse_ahead.prepared_ahead

    def partial_then_refuse(*a: Any) -> Iterator[Any]:
        for n, pair in enumerate(real(*a)):
            if n == 600:
                raise parse_ahead.ParseInProcess()
            yield pair

    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setattr(parse_ahead, "prepared_ahead", partial_then_refuse)
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        rep = v.import_path(src)
        assert rep.added == 1199 and rep.duplicates == 0
        assert v.counts()["messages"] == 1199 and v.counts()["imports"] == 1
        assert v.conn.execute("SELECT count(*) FROM imports").fetchone()[0] == 1


def _children() -> list[int]:
    me = os.getpid()
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                stat = (d / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == me:
                out.append(int(d.name))
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_a_killed_child_fails_the_import_cleanly_and_its_argv_holds_no_name(
    tmp_path: Path, weak_kdf: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setenv("TALKVAULT_PASSPHRASE", f"pass-{CANARY}")
    folder = tmp_path / f"WhatsApp Chat with {CANARY}"
    src = tg_export(folder / "result.json", [tg_msg(i, f"{CANARY} {i}") for i in range(1, 5000)])
    seen: dict[str, Any] = {}
    real = parse_ahead.prepared_ahead

    def kill_midway(*a: Any) -> Iterator[Any]:
        for n, pair in enumerate(real(*a)):
            if n == 1000:
                (child,) = _children()
                seen["argv"] = Path(f"/proc/{child}/cmdline").read_bytes()
                seen["environ"] = Path(f"/proc/{child}/environ").read_bytes()
                os.kill(child, 9)
            yield pair

    monkeypatch.setattr(parse_ahead, "prepared_ahead", kill_midway)
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        with pytest.raises(parse_ahead.ParserLost) as err:
            v.import_path(src)
        assert v.counts()["messages"] == 0 and v.check()["ok"]
    assert "Import it again" in err.value.message and CANARY not in err.value.message
    assert CANARY.encode() not in seen["argv"] and b"result.json" not in seen["argv"]
    assert CANARY.encode() not in seen["environ"]
    assert _children() == []  # reaped: no zombie left behind


def test_openers_travel_and_open_the_same_bytes(tmp_path: Path) -> None:
    f = tmp_path / "a.bin"
    f.write_bytes(b"file bytes")
    z = tmp_path / "a.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("dir/m.bin", b"member bytes")
    with zipfile.ZipFile(z) as zf:
        info = zf.getinfo("dir/m.bin")
        openers = [file_opener(f), zip_opener(zf, info)]
        copies = [pickle.loads(pickle.dumps(o)) for o in openers]
    for copy, want in zip(copies, [b"file bytes", b"member bytes"], strict=True):
        with copy() as fh:
            assert fh.read() == want
    from importers.base import close_reopened_zips

    close_reopened_zips()


def test_a_zip_read_from_a_stream_does_not_travel(tmp_path: Path) -> None:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("m", b"x")
    with zipfile.ZipFile(buf) as zf, pytest.raises(TypeError):
        pickle.dumps(zip_opener(zf, zf.getinfo("m")))


def test_small_exports_and_keyed_formats_stay_in_this_process(tmp_path: Path) -> None:
    import importers
    from importers.base import ParseOptions

    src = tg_export(tmp_path / "tg" / "result.json", [tg_msg(1, "x")])
    tg = importers.get("telegram")
    assert not parse_ahead.worth_it(tg, src, ParseOptions())  # below the threshold
    assert parse_ahead.size_of(src.parent) == src.stat().st_size
    big = parse_ahead.THRESHOLD
    try:
        parse_ahead.THRESHOLD = 0
        assert parse_ahead.worth_it(tg, src, ParseOptions())
        assert not parse_ahead.worth_it(tg, src, ParseOptions(keys={"signal": "00"}))  # keys never travel
        assert not parse_ahead.worth_it(importers.get("signal-desktop"), src, ParseOptions())
    finally:
        parse_ahead.THRESHOLD = big


def test_a_row_on_the_pipe_is_the_record_it_was() -> None:
    """The child sends messages and events as flat rows (parse_ahead._row); what this process
    rebuilds is the same record with the same tokens and stamp, for every field set or left to its
    default; records with attachments or reactions travel whole."""
    import dataclasses
    from datetime import datetime, timezone

    from vault.records import Attachment, Event, Message, Reaction

    ts = datetime(2024, 2, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
    records = [
        Message(chat="c", ts=ts, sender="Mei", text="hi"),
        Message(
            chat="c",
            ts=datetime(2024, 2, 3, 4, 5),
            sender=None,
            text="你好",
            kind="poll",
            source_id="1",
            sender_id="u",
            from_me=False,
            reply_to="0",
            edited=ts,
            forwarded_from="Li",
            line=3,
            extra={"a": 1},
            identity="ab" * 16,
        ),
        Event(chat="c", ts=ts, text="joined"),
        Event(
            chat="c",
            ts=ts,
            text="t",
            kind="title",
            actor="Ann",
            source_id="9",
            line=2,
            extra={"x": [1]},
            identity="cd" * 16,
        ),
        Message(chat="c", ts=ts, sender="Mei", text="p", attachments=(Attachment(name="a.jpg"),)),
        Message(chat="c", ts=ts, sender="Mei", text="r", reactions=(Reaction(emoji="👍"),)),
    ]
    for rec in records:
        for tokens, stamp in (("hi", (1, b"u" * 16)), ("", (2, None)), (None, None)):
            row = pickle.loads(pickle.dumps(parse_ahead._row(rec, tokens, stamp)))
            back, tokens_back, stamp_back = parse_ahead._prepared(row)
            assert type(back) is type(rec) and back == rec and (tokens_back, stamp_back) == (tokens, stamp)
            assert list(vars(back).items()) == list(vars(rec).items())
            travels_whole = bool(getattr(rec, "attachments", ())) or bool(getattr(rec, "reactions", ()))
            assert (len(row) == 3) == (travels_whole or stamp is None or tokens is None)
    assert len(dataclasses.fields(Message)) == parse_ahead._MESSAGE_ROW - 3 + 2  # all but attachments, reactions
    assert len(dataclasses.fields(Event)) == parse_ahead._EVENT_ROW - 3
