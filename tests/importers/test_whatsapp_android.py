"""WhatsApp Android database: both msgstore schemas, wa.db names, media, crypt14/15 in memory, exit 3 on a wrong key."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import pytest

import importers
from importers.whatsapp import android_db, crypt
from tests.conftest import FIXTURES, cli
from tests.importers import whatsapp_android_fixtures as fx
from tests.importers.util import Parsed, parse
from vault.errors import ExportError, ExportKeyError
from vault.records import (
    DELETED,
    DIRECT,
    EV_CALL,
    EV_SYSTEM,
    EV_TITLE,
    GROUP,
    IMAGE,
    TEXT,
    VIDEO,
    Message,
)

FMT = "whatsapp-android-db"
UTC = timezone.utc


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(fx.T0 / 1000 + seconds, tz=UTC)


@pytest.fixture
def phone(tmp_path: Path) -> Path:
    """WhatsApp/Databases/msgstore.db + wa.db and WhatsApp/Media, as copied off the phone."""
    wa = tmp_path / "WhatsApp"
    (wa / "Databases").mkdir(parents=True)
    fx.wa_db(wa / "Databases" / "wa.db")
    fx.media_folder(wa)
    return fx.modern_msgstore(wa / "Databases" / "msgstore.db")


def by_id(result: Parsed) -> dict[str, Message]:
    return {m.source_id: m for m in result.messages if m.source_id}


def check_modern(result: Parsed) -> None:
    assert [c.key for c in result.chats] == [fx.MEI, fx.GROUP, fx.OMAR]
    chats = {c.key: c for c in result.chats}
    assert chats[fx.MEI].title == "Mei 美" and chats[fx.MEI].kind == DIRECT
    assert chats[fx.GROUP].title == "家庭 群组" and chats[fx.GROUP].kind == GROUP
    assert chats[fx.OMAR].title == "عمر"  # a chat only for a call, named from wa.db's wa_name
    assert len(result.messages) == 9  # the status update is not a chat
    assert len(result.events) == 3
    assert not result.problems
    m = by_id(result)
    assert m["K1"].text == "你好，警察來了嗎？" and m["K1"].sender == "Mei 美" and m["K1"].ts == at(0)
    assert m["K1"].sender_id == fx.MEI and m["K1"].from_me is False
    assert [(r.emoji, r.sender) for r in m["K1"].reactions] == [("👍", "You")]
    assert m["K2"].from_me is True and m["K2"].sender == "You" and m["K2"].reply_to == "K1"
    assert m["K2"].text == "لا، ليس بعد" and m["K2"].ts == at(60)
    assert m["G1"].kind == IMAGE and m["G1"].text == "a photo caption" and m["G1"].sender == "عمر"
    (photo,) = m["G1"].attachments
    assert photo.name == "IMG-20231114-WA0001.jpg" and photo.mime == "image/jpeg" and photo.size == 9
    assert photo.open is not None
    with photo.open() as fh:
        assert fh.read() == b"\xff\xd8\xff\xe0photo"
    assert [(r.emoji, r.sender) for r in m["G1"].reactions] == [("❤️", "Mei 美")]
    (video,) = m["G2"].attachments
    assert m["G2"].kind == VIDEO and video.open is None and video.size is None  # named, not on disk
    assert m["G2"].sender == "+4915110000003" and m["G2"].sender_id == fx.ANA  # LID mapped to the phone jid
    assert {m["G1"].sender, m["G2"].sender, m["G6"].sender, m["G3"].sender} == {
        "عمر",
        "+4915110000003",
        "Mei 美",
        "You",
    }
    assert (m["G4"].text, m["G4"].ts, m["G4"].sender) == (m["G5"].text, m["G5"].ts, m["G5"].sender)
    assert m["G6"].kind == DELETED and m["G6"].text == ""
    assert m["K3"].edited == at(490) and m["K3"].kind == TEXT
    title, call1, call2 = result.events
    assert title.kind == EV_TITLE and title.actor == "Mei 美" and "新名字" in title.text and title.chat == fx.GROUP
    assert call1.kind == EV_CALL and call1.extra["duration_s"] == 65 and call1.chat == fx.MEI and call1.ts == at(600)
    assert call1.extra["direction"] == "incoming" and call1.actor == "Mei 美"
    assert call2.kind == EV_CALL and call2.extra == {
        "duration_s": 0,
        "video": True,
        "direction": "outgoing",
        "result": "not answered",
    }


def test_modern_schema_with_wa_db_and_media(phone: Path) -> None:
    result = parse(phone, FMT)
    check_modern(result)
    assert not result.notes
    # chats come before their messages
    seen: set[str] = set()
    for rec in result.records:
        if hasattr(rec, "key") and hasattr(rec, "title"):
            seen.add(rec.key)  # type: ignore[attr-defined]
        elif isinstance(rec, Message):
            assert rec.chat in seen


def test_the_folder_and_the_media_param(phone: Path, tmp_path: Path) -> None:
    assert importers.detect(phone.parent).name == FMT
    assert importers.detect(phone.parent.parent).name == FMT
    check_modern(parse(phone.parent, FMT))
    check_modern(parse(phone.parent.parent, FMT))
    # the database copied alone, the media given by --param media=
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "msgstore.db").write_bytes(phone.read_bytes())
    (alone / "wa.db").write_bytes((phone.parent / "wa.db").read_bytes())
    result = parse(alone / "msgstore.db", FMT, params={"media": str(phone.parent.parent / "Media")})
    assert by_id(result)["G1"].attachments[0].size == 9
    bare = parse(alone / "msgstore.db", FMT)
    assert by_id(bare)["G1"].attachments[0].open is None  # no Media folder: named, not opened


def test_without_wa_db_names_are_numbers(tmp_path: Path) -> None:
    db = fx.modern_msgstore(tmp_path / "msgstore.db")
    result = parse(db, FMT)
    assert [n.text for n in result.notes] == ["no wa.db beside the database: contacts are named by their numbers"]
    assert by_id(result)["K1"].sender == "+4915110000001"
    assert result.chats[0].title == "+4915110000001"


def test_legacy_schema(tmp_path: Path) -> None:
    db = fx.legacy_msgstore(tmp_path / "msgstore.db")
    fx.wa_db(tmp_path / "wa.db")
    media = fx.media_folder(tmp_path / "phone" / "WhatsApp")
    result = parse(db, FMT, params={"media": str(media)})
    assert [(c.key, c.title, c.kind) for c in result.chats] == [
        (fx.GROUP, "Old group", GROUP),
        (fx.OMAR, "عمر", DIRECT),
    ]
    assert len(result.messages) == 3 and len(result.events) == 1 and not result.problems
    m = by_id(result)
    assert m["L2"].text == "老警察說" and m["L2"].sender == "Mei 美" and m["L2"].ts == at(0)
    assert m["L3"].from_me and m["L3"].reply_to == "L2"
    assert m["L5"].kind == IMAGE and m["L5"].text == "كلب"  # media_caption
    (image,) = m["L5"].attachments
    assert image.name == "IMG-20190101-WA0007.jpg" and image.size == 10  # found by name in Media/
    (event,) = result.events
    assert event.kind == EV_SYSTEM and event.actor == "عمر" and event.source_id == "L4"


def test_crypt15_in_memory(phone: Path, tmp_path: Path) -> None:
    backup = fx.crypt15(phone, phone.parent / "msgstore.db.crypt15")
    phone.unlink()  # only the backup, wa.db and Media remain
    before = sorted(p.name for p in tmp_path.rglob("*"))
    assert android_db.detect(backup)
    assert importers.detect(backup).name == FMT
    whatsapp = backup.parent.parent  # WhatsApp/ as copied off the phone: Databases/ and Media/
    assert importers.detect(whatsapp).name == FMT
    assert len(parse(whatsapp, keys={"whatsapp": fx.KEY_HEX}).messages) == 9
    check_modern(parse(backup, keys={"whatsapp": fx.KEY_HEX}))
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing was written beside it
    # the key file WhatsApp keeps for crypt15 (encrypted_backup.key) works too
    java = bytes.fromhex("aced0005757200025b42acf317f8060854e00200007870") + (32).to_bytes(4, "big")
    key_file = tmp_path / "encrypted_backup.key"
    key_file.write_bytes(java + bytes.fromhex(fx.KEY_HEX))
    assert len(parse(backup, keys={"whatsapp": str(key_file)}).messages) == 9


def test_crypt14_with_its_key_file(tmp_path: Path) -> None:
    db = fx.legacy_msgstore(tmp_path / "plain.db")
    aes = bytes(range(100, 132))
    backup = fx.crypt14(db, tmp_path / "msgstore.db.crypt14", aes)
    key_file = fx.crypt14_key_file(tmp_path / "key", aes)
    assert android_db.detect(backup)
    result = parse(backup, FMT, keys={"whatsapp": str(key_file)})
    assert len(result.messages) == 3
    with pytest.raises(ExportKeyError):
        list(
            android_db.parse(
                backup, importers.ParseOptions(keys={"whatsapp": str(fx.crypt14_key_file(tmp_path / "k2", bytes(32)))})
            )
        )


@pytest.mark.parametrize("key", [fx.WRONG_HEX, None, "not-a-key"])
def test_crypt15_wrong_or_missing_key_is_exit_3(phone: Path, key: str | None) -> None:
    backup = fx.crypt15(phone, phone.parent / "msgstore.db.crypt15")
    keys = {"whatsapp": key} if key else {}
    with pytest.raises(ExportKeyError) as err:
        list(android_db.parse(backup, importers.ParseOptions(keys=keys)))
    assert err.value.exit_code == 3
    assert fx.WRONG_HEX not in str(err.value) and str(backup) in str(err.value)


def test_damaged_backup_and_database(tmp_path: Path, phone: Path) -> None:
    backup = fx.crypt15(phone, tmp_path / "msgstore.db.crypt15")
    data = bytearray(backup.read_bytes())
    data[200] ^= 0xFF
    backup.write_bytes(bytes(data))
    with pytest.raises(ExportKeyError):  # GCM cannot tell a flipped byte from a wrong key
        list(android_db.parse(backup, importers.ParseOptions(keys={"whatsapp": fx.KEY_HEX})))
    cut = tmp_path / "cut.db.crypt15"
    cut.write_bytes(b"\x05\x01\x08")
    with pytest.raises(ExportError, match=r"cut\.db\.crypt15"):
        list(android_db.parse(cut, importers.ParseOptions(keys={"whatsapp": fx.KEY_HEX})))
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    assert not android_db.detect(other)
    with pytest.raises(ExportError, match="not a WhatsApp msgstore"):
        list(android_db.parse(other, importers.ParseOptions()))


def test_header_parser_rejects_junk() -> None:
    for junk in (b"", b"\x00", b"\x03\x01\x08\x01\x1a", b"\x10" + bytes(40), b"SQLite format 3\x00" + bytes(100)):
        with pytest.raises(ValueError):
            crypt.read_header(junk)


def test_detection_claims_only_its_own(tmp_path: Path, phone: Path) -> None:
    assert importers.detect(phone).name == FMT
    assert importers.detect(fx.legacy_msgstore(tmp_path / "legacy.db")).name == FMT
    assert not android_db.detect(phone.parent / "wa.db")  # wa.db alone is not a chat database
    for path in FIXTURES.rglob("*"):
        assert not android_db.detect(path), path
    downloads = tmp_path / "Downloads"  # a msgstore.db among other exports: the folder is not claimed
    downloads.mkdir()
    (downloads / "msgstore.db").write_bytes(phone.read_bytes())
    (downloads / "chat.txt").write_text("18/03/2022, 14:56 - Mei: hi\n", encoding="utf-8")
    assert not android_db.detect(downloads)
    assert [p.name for p in importers.exports_in(downloads)] == ["chat.txt", "msgstore.db"]
    assert len(parse(downloads, FMT).messages) == 9  # asked for by --format, it is read
    named = tmp_path / "msgstore.db.crypt15"
    named.write_bytes(b"not a backup at all")
    assert not android_db.detect(named)


def test_import_into_a_vault(phone: Path, cli_vault: dict[str, str]) -> None:
    r = cli("import", str(phone), "--json", env=cli_vault)
    assert r.code == 0, r.err
    (doc,) = r.json()["files"]
    assert (doc["format"], doc["chats"], doc["added"], doc["events"], doc["attachments"]) == (FMT, 3, 9, 3, 1)
    hits = cli("search", "警察", "--json", env=cli_vault).json()
    assert [(h["chat"], h["sender"], h["ts"]) for h in hits] == [("Mei 美", "Mei 美", "2023-11-14T22:13:20Z")]
    again = cli("import", str(phone), "--json", env=cli_vault).json()
    assert again["added"] == 0 and again["files"][0]["duplicates"] == 12  # 9 messages and 3 events


def test_wrong_crypt15_key_exits_3_and_writes_nothing(phone: Path, cli_vault: dict[str, str]) -> None:
    backup = fx.crypt15(phone, phone.parent / "msgstore.db.crypt15")
    r = cli("import", str(backup), "--json", env={**cli_vault, "TALKVAULT_WHATSAPP_KEY": fx.WRONG_HEX})
    assert r.code == 3, r.err
    assert "key does not open" in r.json()["files"][0]["error"] and r.json()["added"] == 0
    assert cli("chats", "--json", env=cli_vault).json() == []
    ok = cli("import", str(backup), "--whatsapp-key", fx.KEY_HEX, "--json", env=cli_vault)
    assert ok.code == 0, ok.err
    assert ok.json()["added"] == 9


def test_a_bad_row_is_a_problem_and_the_rest_imports(tmp_path: Path) -> None:
    db = fx.modern_msgstore(tmp_path / "msgstore.db")
    conn = sqlite3.connect(db)
    conn.execute("INSERT INTO message VALUES (12, 1, 0, 'BAD', 0, 0, NULL, 0, 'no time')")
    conn.commit()
    conn.close()
    result = parse(db, FMT)
    assert len(result.messages) == 9
    (problem,) = result.problems
    assert problem.message == "message row 12: no readable time; skipped" and "no time" not in str(problem)


def test_no_other_format_claims_these_files(tmp_path: Path, phone: Path) -> None:
    backup = fx.crypt15(phone, tmp_path / "msgstore.db.crypt15")
    legacy = fx.legacy_msgstore(tmp_path / "legacy.db")
    for fmt in importers.formats():
        if fmt.name != FMT:
            for path in (phone, phone.parent, phone.parent.parent, backup, legacy):
                assert not fmt.detect(path), (fmt.name, path)
