"""Signal importers: the Desktop database (built here with sqlcipher3), sigtop, signal-export."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlcipher3
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from hypothesis import given, settings
from hypothesis import strategies as st

import importers
from importers.base import ParseOptions
from importers.signal import detect_desktop
from importers.signal.backup_export import detect_signal_export
from importers.signal.convert import insert_mentions
from importers.signal.sigtop import detect_sigtop
from tests.conftest import CORPUS, FIXTURES, corpus_file
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    GROUP,
    IMAGE,
    STICKER,
    Message,
)

SIG = FIXTURES / "signal"
UTC = timezone.utc
ME = "aaaaaaaa-0000-4000-8000-000000000001"
ALICE = "bbbbbbbb-0000-4000-8000-000000000002"
BOB = "cccccccc-0000-4000-8000-000000000003"
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
PHOTO = b"\xff\xd8\xff\xe0" + os.urandom(3000)
LONG_TEXT = "long " * 1000


def utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


# --- a Signal Desktop profile, built as §3.1 of the format notes documents it ----------------
SCHEMA = """
CREATE TABLE conversations (id STRING PRIMARY KEY ASC, json TEXT, active_at INTEGER,
  type STRING, members TEXT, name TEXT, profileName TEXT, profileFamilyName TEXT,
  profileFullName TEXT, e164 TEXT, serviceId TEXT, groupId TEXT);
CREATE TABLE messages (rowid INTEGER PRIMARY KEY ASC, id STRING UNIQUE, json TEXT,
  readStatus INTEGER, sent_at INTEGER, conversationId STRING, received_at INTEGER,
  source STRING, hasAttachments INTEGER, expireTimer INTEGER, type STRING, body TEXT,
  isViewOnce INTEGER, sourceServiceId TEXT, callId TEXT, timestamp INTEGER,
  received_at_ms INTEGER, serverTimestamp INTEGER, seenStatus INTEGER);
CREATE TABLE message_attachments (messageId TEXT, editHistoryIndex INTEGER,
  attachmentType TEXT, orderInMessage INTEGER, conversationId TEXT, sentAt INTEGER,
  size INTEGER, contentType TEXT, path TEXT, fileName TEXT, localKey TEXT, version INTEGER,
  pending INTEGER, flags INTEGER);
CREATE TABLE callsHistory (callId TEXT, peerId TEXT, ringerId TEXT, mode TEXT, type TEXT,
  direction TEXT, status TEXT, timestamp INTEGER, endedTimestamp INTEGER);
CREATE TABLE items (id STRING PRIMARY KEY ASC, json TEXT);
CREATE TABLE sticker_packs (id TEXT PRIMARY KEY, key TEXT);
CREATE TABLE sessions (id TEXT PRIMARY KEY, conversationId TEXT, json TEXT,
  ourServiceId TEXT, serviceId TEXT);
"""


def encrypt_attachment(plain: bytes) -> tuple[bytes, str]:
    """Signal's at-rest layout: IV || AES-256-CBC(PKCS7) || HMAC-SHA256; key = base64(aes||mac)."""
    aes, mac, iv = os.urandom(32), os.urandom(32), os.urandom(16)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain) + padder.finalize()
    enc = Cipher(algorithms.AES(aes), modes.CBC(iv)).encryptor()
    ct = enc.update(padded) + enc.finalize()
    tag = hmac.new(mac, iv + ct, hashlib.sha256).digest()
    return iv + ct + tag, base64.b64encode(aes + mac).decode()


def build_profile(root: Path, key: str | None, *, config: dict[str, Any] | None = None) -> Path:
    """A Signal folder under `root`: sql/db.sqlite (encrypted with `key` unless None)."""
    (root / "sql").mkdir(parents=True)
    att_dir = root / "attachments.noindex" / "ab"
    att_dir.mkdir(parents=True)
    (root / "stickers.noindex" / "st").mkdir(parents=True)
    photo_file, photo_key = encrypt_attachment(PHOTO)
    (att_dir / "abcdef").write_bytes(photo_file)
    long_file, long_key = encrypt_attachment(LONG_TEXT.encode())
    (att_dir / "long01").write_bytes(long_file)
    (att_dir / "voice01").write_bytes(b"OggS plain old attachment")
    (att_dir / "once01").write_bytes(b"view once bytes")
    (root / "stickers.noindex" / "st" / "1").write_bytes(b"RIFF....WEBP")
    (root / "secret.txt").write_text("outside the attachments folder")

    db = root / "sql" / "db.sqlite"
    if key is None:
        con: Any = sqlite3.connect(db)
    else:
        con = sqlcipher3.connect(str(db))
        con.execute(f"PRAGMA key = \"x'{key}'\"")
        # The settings Signal Desktop uses (SQLCipher 4 defaults), stated explicitly.
        con.execute("PRAGMA cipher_page_size = 4096")
        con.execute("PRAGMA cipher_hmac_algorithm = HMAC_SHA512")
        con.execute("PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA512")
    con.executescript(SCHEMA)
    con.execute("PRAGMA user_version = 1360")
    conv = "INSERT INTO conversations (id, json, type, name, profileName, profileFamilyName, e164, serviceId) VALUES (?,?,?,?,?,?,?,?)"  # noqa: E501
    con.execute(conv, ("conv-me", "{}", "private", None, "Me Myself", None, "+15550000", ME))
    con.execute(conv, ("conv-alice", "{}", "private", "Alice Liddell", "Ali", None, "+15550001", ALICE))
    con.execute(conv, ("conv-bob", "{}", "private", None, "Bob", "Builder", "+15550002", BOB))
    members = {"membersV2": [{"aci": ME}, {"aci": ALICE}, {"aci": BOB}]}
    con.execute(conv, ("conv-group", json.dumps(members), "group", "Tea Party", None, None, None, None))
    con.execute(
        "INSERT INTO items VALUES ('uuid_id', ?)",
        (json.dumps({"id": "uuid_id", "value": f"{ME}.1"}),),
    )
    con.execute("INSERT INTO items VALUES ('identityKeyMap', '{\"value\": \"not read\"}')")

    def msg(mid: str, conv_id: str | None, mtype: str, sent: int, body: str | None = None,
            source: str | None = None, expire: int | None = None, view_once: int | None = None,
            call_id: str | None = None, **extra: Any) -> None:  # fmt: skip
        data = {"id": mid, "conversationId": conv_id, "type": mtype, "sent_at": sent, **extra}
        if body is not None:
            data["body"] = body
        con.execute(
            "INSERT INTO messages (id, json, sent_at, conversationId, received_at, type, body, "
            "sourceServiceId, expireTimer, isViewOnce, callId, received_at_ms) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (mid, json.dumps(data), sent, conv_id, sent // 1000, mtype, body, source, expire,
             view_once, call_id, sent + 500),
        )  # fmt: skip

    def att(mid: str, kind: str, mime: str, path: str, name: str | None, size: int,
            local_key: str | None, version: int, flags: int = 0) -> None:  # fmt: skip
        con.execute(
            "INSERT INTO message_attachments (messageId, editHistoryIndex, attachmentType, "
            "orderInMessage, size, contentType, path, fileName, localKey, version, pending, flags)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (mid, -1, kind, 0, size, mime, path, name, local_key, version, 0, flags),
        )

    m = 60_000
    msg("m-1", "conv-alice", "incoming", T0, "Hello 👋", ALICE,
        reactions=[{"emoji": "❤️", "fromId": "conv-me", "targetAuthorAci": ALICE,
                    "targetTimestamp": T0, "timestamp": T0 + 1000}])  # fmt: skip
    msg("m-2", "conv-alice", "outgoing", T0 + m, "Hi Alice",
        quote={"id": T0, "authorAci": ALICE, "text": "Hello 👋", "attachments": [],
               "referencedMessageNotFound": False, "isViewOnce": False})  # fmt: skip
    msg("m-3", "conv-alice", "incoming", T0 + 2 * m, "", ALICE)
    att("m-3", "attachment", "image/jpeg", "ab/abcdef", "photo.jpg", len(PHOTO), photo_key, 2)
    msg("m-4", "conv-alice", "incoming", T0 + 3 * m, None, ALICE, deletedForEveryone=True)
    msg("m-5", "conv-alice", "incoming", T0 + 4 * m, "gone in an hour", ALICE, expire=3600)
    msg("m-6", "conv-alice", "incoming", T0 + 5 * m, "", ALICE, view_once=1)
    att("m-6", "attachment", "image/jpeg", "ab/once01", "once.jpg", 15, None, 1)
    msg("m-7", "conv-alice", "call-history", T0 + 6 * m, call_id="call-1", callId="call-1")
    con.execute(
        "INSERT INTO callsHistory VALUES ('call-1', 'conv-alice', 'conv-alice', 'Direct', "
        "'Video', 'Incoming', 'Accepted', ?, ?)",
        (T0 + 6 * m, T0 + 6 * m + 63_000),
    )
    msg("m-8", "conv-alice", "incoming", T0 + 7 * m, "fixed", ALICE,
        editMessageTimestamp=T0 + 8 * m,
        editHistory=[{"body": "fixed", "timestamp": T0 + 8 * m},
                     {"body": "fxied", "timestamp": T0 + 7 * m}])  # fmt: skip
    msg("m-9", "conv-alice", "keychange", T0 + 9 * m, key_changed="conv-alice")
    msg("m-10", "conv-alice", "outgoing", T0 + 10 * m, LONG_TEXT[:2048])
    att("m-10", "long-message", "text/x-signal-plain", "ab/long01", None,
        len(LONG_TEXT), long_key, 2)  # fmt: skip
    msg("m-11", "conv-alice", "story", T0 + 11 * m, "a story")
    msg("m-12", "conv-alice", "incoming", T0 + 12 * m, "", ALICE)
    att("m-12", "attachment", "audio/aac", "ab/voice01", None, 25, None, 1, flags=1)

    g = T0 + 100 * m
    change = "group-v2-change"
    msg("g-1", "conv-group", change, g, groupV2Change={"from": ME, "details": [{"type": "create"}]})
    msg("g-2", "conv-group", change, g + m,
        groupV2Change={"from": ME, "details": [{"type": "member-add", "aci": BOB}]})  # fmt: skip
    msg("g-3", "conv-group", "incoming", g + 2 * m, "Hi \ufffc!", BOB,
        bodyRanges=[{"start": 3, "length": 1, "mentionAci": ALICE}])  # fmt: skip
    msg(
        "g-4",
        "conv-group",
        change,
        g + 3 * m,
        groupV2Change={"from": ALICE, "details": [{"type": "title", "newTitle": "Mad Tea"}]},
    )
    msg(
        "g-5",
        "conv-group",
        change,
        g + 4 * m,
        groupV2Change={"from": BOB, "details": [{"type": "member-remove", "aci": BOB}]},
    )
    msg("g-6", "conv-group", "incoming", g + 5 * m, "", ALICE,
        sticker={"packId": "0a1b", "stickerId": 1, "emoji": "🐱",
                 "data": {"path": "st/1", "contentType": "image/webp", "size": 12}})  # fmt: skip
    msg("g-7", "conv-group", "incoming", g + 6 * m, "escape attempt", ALICE,
        attachments=[{"contentType": "text/plain", "fileName": "x.txt",
                      "path": "../../secret.txt", "size": 30}])  # fmt: skip
    msg("orphan", None, "incoming", g + 7 * m, "no conversation", ALICE)
    msg("badtime", "conv-bob", "incoming", 5, "time out of range", BOB)
    con.commit()
    con.close()
    cfg = config if config is not None else {"key": key}
    if cfg:
        (root / "config.json").write_text(json.dumps(cfg))
    return root


@pytest.fixture
def signal_key() -> str:
    return os.urandom(32).hex()


@pytest.fixture
def profile(tmp_path: Path, signal_key: str) -> Path:
    return build_profile(tmp_path / "Signal", signal_key)


def by_id(parsed: Any) -> dict[str, Any]:
    return {r.source_id: r for r in parsed.messages + parsed.events if r.source_id}


# --- Signal Desktop database ------------------------------------------------------------------
def test_desktop_detected_as_folder_sql_folder_and_file(profile: Path) -> None:
    for p in (profile, profile / "sql", profile / "sql" / "db.sqlite"):
        assert detect_desktop(p)
        assert importers.detect(p).name == "signal-desktop"
    assert not detect_desktop(profile / "config.json")
    assert not detect_desktop(profile / "attachments.noindex")


def test_desktop_chats_messages_and_events(profile: Path) -> None:
    parsed = parse(profile)
    chats = {c.key: c for c in parsed.chats}
    assert set(chats) == {"conv-alice", "conv-group"}  # conv-bob's one message is unreadable
    assert chats["conv-alice"].title == "Alice Liddell" and chats["conv-alice"].kind == DIRECT
    assert chats["conv-group"].title == "Tea Party" and chats["conv-group"].kind == GROUP
    assert chats["conv-group"].participants == ("Alice Liddell", "Bob Builder", "Me Myself")
    # Every Chat comes before its records.
    seen: set[str] = set()
    for rec in parsed.records:
        if hasattr(rec, "key"):
            seen.add(rec.key)
        elif hasattr(rec, "chat"):
            assert rec.chat in seen
    recs = by_id(parsed)
    m1 = recs["m-1"]
    assert (m1.sender, m1.text, m1.ts, m1.from_me) == ("Alice Liddell", "Hello 👋", utc(T0), False)
    assert m1.sender_id == ALICE
    assert [(r.emoji, r.sender, r.ts) for r in m1.reactions] == [("❤️", "Me Myself", utc(T0 + 1000))]
    m2 = recs["m-2"]
    assert (m2.sender, m2.from_me, m2.sender_id, m2.reply_to) == ("Me Myself", True, ME, "m-1")
    assert m2.extra["quote"]["text"] == "Hello 👋"
    assert recs["m-4"].kind == DELETED and recs["m-4"].text == ""
    assert recs["m-5"].extra["expire_timer_s"] == 3600
    assert recs["m-8"].text == "fixed" and recs["m-8"].edited == utc(T0 + 8 * 60_000)
    assert [v["text"] for v in recs["m-8"].extra["edit_history"]] == ["fxied", "fixed"]
    assert recs["m-10"].text == LONG_TEXT  # the full text, from the long-message attachment
    assert "m-11" not in recs  # stories are left out
    assert recs["m-12"].kind == AUDIO
    assert recs["g-3"].text == "Hi @Alice Liddell!" and recs["g-3"].sender == "Bob Builder"
    assert recs["g-6"].kind == STICKER and recs["g-6"].text == "🐱"


def test_desktop_service_entries_are_events(profile: Path) -> None:
    recs = by_id(parse(profile))
    call = recs["m-7"]
    assert call.kind == EV_CALL and call.actor == "Alice Liddell"
    assert call.text == "Incoming video call (accepted), 1 min 3 s"
    assert call.extra["duration_s"] == 63
    assert recs["m-9"].kind == EV_ENCRYPTION and recs["m-9"].actor == "Alice Liddell"
    assert (recs["g-1"].kind, recs["g-1"].text) == (EV_SYSTEM, "Me Myself created the group")
    assert (recs["g-2"].kind, recs["g-2"].text) == (EV_JOIN, "Me Myself added Bob Builder")
    assert (recs["g-4"].kind, recs["g-4"].text) == (
        EV_TITLE,
        "Alice Liddell changed the group name to “Mad Tea”",
    )
    assert (recs["g-5"].kind, recs["g-5"].text) == (EV_LEAVE, "Bob Builder left the group")


def test_desktop_attachments_decrypted_and_path_checked(profile: Path) -> None:
    fmt = importers.get("signal-desktop")
    photo = view_once = escape = sticker = None
    for rec in fmt.parse(profile, ParseOptions()):
        if isinstance(rec, Message) and rec.attachments:
            att = rec.attachments[0]
            if rec.source_id == "m-3":
                photo = att
                assert att.open is not None
                with att.open() as fh:
                    assert fh.read() == PHOTO  # decrypted, cut to `size`
            elif rec.source_id == "m-6":
                view_once = att
            elif rec.source_id == "g-7":
                escape = att
            elif rec.source_id == "g-6":
                sticker = att
                assert att.open is not None
                with att.open() as fh:
                    assert fh.read() == b"RIFF....WEBP"
    assert photo is not None and (photo.name, photo.kind, photo.mime) == (
        "photo.jpg",
        IMAGE,
        "image/jpeg",
    )
    assert view_once is not None and view_once.open is None  # never copied
    assert escape is not None and escape.open is None  # ../../secret.txt is refused
    assert sticker is not None and sticker.kind == STICKER


def test_desktop_tampered_attachment_is_left_out(profile: Path) -> None:
    target = profile / "attachments.noindex" / "ab" / "abcdef"
    data = bytearray(target.read_bytes())
    data[40] ^= 1
    target.write_bytes(bytes(data))
    parsed = parse(profile)
    assert by_id(parsed)["m-3"].attachments[0].open is None  # imported without its bytes
    assert any("1 attachment files failed their integrity check" in n.text for n in parsed.notes)


def test_desktop_problems_and_notes(profile: Path) -> None:
    parsed = parse(profile)
    texts = [p.message for p in parsed.problems]
    assert any("usable time" in t for t in texts)  # the out-of-range sent_at
    assert any("belong to no conversation" in t for t in texts)
    notes = " ".join(n.text for n in parsed.notes)
    assert "1 disappearing messages" in notes and "1 view-once" in notes and "1 stories" in notes
    for p in parsed.problems:  # never any message text in a problem
        assert "time out of range" not in p.message and p.message != "no conversation"


def test_desktop_disappearing_can_be_left_out(profile: Path) -> None:
    recs = by_id(parse(profile, params={"disappearing": "skip"}))
    assert "m-5" not in recs and "m-1" in recs


def test_desktop_key_from_option_when_config_has_encrypted_key(tmp_path: Path, signal_key: str) -> None:
    config = {"encryptedKey": "763130aabbcc", "safeStorageBackend": "gnome_libsecret"}
    root = build_profile(tmp_path / "Signal", signal_key, config=config)
    with pytest.raises(ExportError) as err:
        parse(root, "signal-desktop")
    message = str(err.value)
    assert "encryptedKey" in message and "--signal-key" in message and "sigtop" in message
    parsed = parse(root, "signal-desktop", keys={"signal": signal_key.upper()})
    assert len(parsed.messages) > 5


def test_desktop_wrong_missing_and_malformed_keys(tmp_path: Path, signal_key: str) -> None:
    root = build_profile(tmp_path / "Signal", signal_key)
    with pytest.raises(ExportError, match="does not open this database"):
        parse(root, "signal-desktop", keys={"signal": os.urandom(32).hex()})
    with pytest.raises(ExportError, match="64 hexadecimal"):
        parse(root, "signal-desktop", keys={"signal": "x'; DROP TABLE messages; --"})
    (root / "config.json").unlink()
    with pytest.raises(ExportError, match="--signal-key"):
        parse(root, "signal-desktop")
    (root / "config.json").write_text("{not json")
    with pytest.raises(ExportError, match=r"config\.json"):
        parse(root, "signal-desktop")
    (root / "config.json").write_text(json.dumps({"key": "zz"}))
    with pytest.raises(ExportError, match="64 hexadecimal"):
        parse(root, "signal-desktop")


def test_desktop_wrong_key_message_holds_no_key(tmp_path: Path, signal_key: str) -> None:
    root = build_profile(tmp_path / "Signal", signal_key)
    wrong = os.urandom(32).hex()
    with pytest.raises(ExportError) as err:
        parse(root, "signal-desktop", keys={"signal": wrong})
    assert wrong not in str(err.value) and signal_key not in str(err.value)


def test_desktop_refuses_unsaved_wal_and_damaged_files(tmp_path: Path, signal_key: str) -> None:
    root = build_profile(tmp_path / "Signal", signal_key)
    wal = root / "sql" / "db.sqlite-wal"
    wal.write_bytes(b"\x00" * 32)
    with pytest.raises(ExportError, match="quit Signal Desktop"):
        parse(root, "signal-desktop")
    wal.unlink()
    db = root / "sql" / "db.sqlite"
    db.write_bytes(db.read_bytes()[:5000])  # truncated
    with pytest.raises(ExportError):
        parse(root, "signal-desktop")
    db.write_bytes(os.urandom(8192))  # junk
    with pytest.raises(ExportError):
        parse(root, "signal-desktop")


def test_desktop_writes_nothing(profile: Path) -> None:
    before = sorted(str(p.relative_to(profile)) for p in profile.rglob("*"))
    parse(profile)
    after = sorted(str(p.relative_to(profile)) for p in profile.rglob("*"))
    assert before == after


def test_desktop_decrypted_copy(tmp_path: Path) -> None:
    root = build_profile(tmp_path / "Signal", None, config={})
    db = root / "sql" / "db.sqlite"
    copy = tmp_path / "signal-plain.db"
    shutil.copy(db, copy)
    assert detect_desktop(copy) and importers.detect(copy).name == "signal-desktop"
    recs = by_id(parse(copy))
    assert recs["m-1"].text == "Hello 👋"
    assert recs["m-3"].attachments[0].open is None  # no attachments.noindex beside the copy


# --- sigtop ----------------------------------------------------------------------------------
def test_sigtop_json() -> None:
    path = SIG / "sigtop-json" / "Alice Liddell (+15550001).json"
    assert detect_sigtop(path) and importers.detect(path).name == "sigtop"
    parsed = parse(path)
    (chat,) = parsed.chats
    assert (chat.key, chat.title, chat.kind) == ("conv-alice", "Alice Liddell", DIRECT)
    recs = by_id(parsed)
    assert recs["m-1"].sender == "Alice Liddell" and recs["m-1"].ts == utc(T0)
    assert recs["m-2"].from_me and recs["m-2"].reply_to == "m-1"  # quote found in the same file
    assert recs["m-3"].kind == IMAGE and recs["m-3"].attachments[0].open is None
    assert recs["m-4"].kind == DELETED
    assert recs["m-5"].kind == EV_ENCRYPTION
    assert "m-6" not in recs
    assert recs["m-7"].text == "fixed" and recs["m-7"].edited is not None
    assert importers.detect(SIG / "sigtop-json").name == "sigtop"


def test_sigtop_text() -> None:
    path = SIG / "sigtop-text" / "Alice Liddell (+15550001).txt"
    assert detect_sigtop(path) and importers.detect(path).name == "sigtop"
    parsed = parse(path)
    (chat,) = parsed.chats
    assert (chat.title, chat.kind) == ("Alice Liddell", DIRECT)
    m = parsed.messages
    assert [x.text for x in m] == [
        "Hello 👋",
        "Hi Alice\nFrom: the next line is still the body\n\nand so is this one",
        "",
        "fixed",
    ]
    assert m[0].ts == utc(T0) and m[0].sender == "Alice Liddell" and m[0].sender_id == "+15550001"
    assert [(r.emoji, r.sender) for r in m[0].reactions] == [("❤️", "You")]
    assert m[1].from_me and m[1].extra["quote"]["text"] == "Hello 👋"
    assert m[1].extra["quote"]["author"] == "Alice Liddell"
    assert [(a.name, a.kind, a.size) for a in m[2].attachments] == [
        ("photo.jpg", IMAGE, 1234),
        ("attachment", "file", 99),
    ]
    assert m[3].edited == datetime(2023, 11, 14, 22, 20, tzinfo=UTC)
    assert [v["text"] for v in m[3].extra["edit_history"]] == ["fxied", "fixed"]
    (event,) = parsed.events
    assert event.kind == EV_ENCRYPTION and event.actor == "Alice Liddell"
    assert not parsed.problems


def test_sigtop_text_group_and_folder() -> None:
    parsed = parse(SIG / "sigtop-text")
    titles = sorted(c.title for c in parsed.chats)
    assert titles == ["Alice Liddell", "Tea Party"]
    group = next(c for c in parsed.chats if c.title == "Tea Party")
    assert group.kind == GROUP
    group_msgs = [x for x in parsed.messages if x.chat == group.key]
    assert [(x.sender, x.text) for x in group_msgs] == [("Bob Builder", "Hi @Alice Liddell!")]
    assert any(e.chat == group.key and e.kind == EV_SYSTEM for e in parsed.events)


def test_sigtop_bad_input(tmp_path: Path) -> None:
    truncated = tmp_path / "Alice (+1).json"
    data = (SIG / "sigtop-json" / "Alice Liddell (+15550001).json").read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    parsed = parse(truncated, "sigtop")
    assert parsed.messages and any("cut short" in p.message for p in parsed.problems)
    junk = tmp_path / "junk.json"
    junk.write_bytes(os.urandom(2000))
    assert not detect_sigtop(junk)
    with pytest.raises(ExportError):
        parse(junk, "sigtop")
    text = tmp_path / "x.txt"
    text.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ExportError):
        parse(text, "sigtop")


# --- signal-export ----------------------------------------------------------------------------
def test_signal_export_corpus_sample() -> None:
    path = corpus_file("signal/chat-miner/test_export.txt")
    assert detect_signal_export(path) and importers.detect(path).name == "signal-export"
    parsed = parse(path)
    assert [(m.ts, m.sender, m.text) for m in parsed.messages] == [
        (datetime(2019, 12, 24, 12, 23), "Jane Doe", "Hello John!"),
        (datetime(2020, 1, 17, 21, 49), "John Doe", "Hello\nJane!"),
    ]
    assert all(m.ts.tzinfo is None for m in parsed.messages)  # naive wall-clock times
    assert not parsed.problems and not parsed.events


def test_signal_export_folder_prefers_data_json() -> None:
    root = SIG / "signal-export"
    assert detect_signal_export(root) and importers.detect(root).name == "signal-export"
    parsed = parse(root)
    assert sorted(c.title for c in parsed.chats) == ["AliceLiddell", "TeaParty"]
    alice = [m for m in parsed.messages if m.chat == "title:aliceliddell"]
    assert [m.text for m in alice] == [
        "Hello 👋",
        "Hi Alice",
        "",
        "",
        "line one\nline two\n\nline four",
        "🐱",
    ]
    assert alice[0].ts == datetime(2023, 11, 14, 23, 13, 20, 250000)
    assert [(r.emoji, r.sender) for r in alice[0].reactions] == [("❤️", "Me")]
    assert alice[1].from_me and alice[1].extra["quote"]["text"] == "Hello 👋"
    assert alice[2].kind == IMAGE and alice[2].attachments[0].open is not None
    assert alice[3].kind == DELETED and alice[5].kind == STICKER
    (call,) = [e for e in parsed.events if e.chat == "title:aliceliddell"]
    assert call.kind == EV_CALL and call.actor == "Me"
    tea = [m for m in parsed.messages if m.chat == "title:teaparty"]
    assert [(m.sender, m.text) for m in tea] == [
        ("Me", "Welcome, both of you"),
        ("BobBuilder", "Thanks!"),
    ]
    assert [(r.emoji, r.sender) for r in tea[1].reactions] == [("👍", "Me"), ("🎉", "AliceLiddell")]


def test_signal_export_markdown() -> None:
    path = SIG / "signal-export" / "AliceLiddell" / "chat.md"
    assert detect_signal_export(path)
    parsed = parse(path)
    (chat,) = parsed.chats
    assert chat.title == "AliceLiddell"
    msgs = parsed.messages
    assert [m.text for m in msgs] == [
        "Hello 👋", "Hi Alice", "", "", "line one\nline two\n\nline four", "🐱", "",
    ]  # fmt: skip
    assert msgs[1].extra["quote"]["text"] == "Hello 👋"
    assert msgs[2].kind == IMAGE
    with msgs[2].attachments[0].open() as fh:  # type: ignore[misc]
        assert fh.read().startswith(b"\xff\xd8")
    assert msgs[3].kind == DELETED
    assert msgs[5].kind == STICKER and msgs[5].attachments[0].open is not None
    assert msgs[6].attachments[0].open is None  # ./media/../../../escape.txt is refused
    assert [e.kind for e in parsed.events] == [EV_CALL]


def test_signal_export_bad_lines(tmp_path: Path) -> None:
    folder = tmp_path / "Someone"
    folder.mkdir()
    lines = [
        json.dumps(
            {
                "date": "2023-01-01T10:00:00",
                "sender": "A",
                "body": "ok  ",
                "quote": "",
                "reactions": [],
                "attachments": [],
            }
        ),
        "{broken",
        json.dumps({"date": "not a date", "sender": "A", "body": "x", "attachments": []}),
    ]
    (folder / "data.json").write_text("\n".join(lines) + "\n")
    parsed = parse(folder, "signal-export")
    assert [m.text for m in parsed.messages] == ["ok"]
    assert [p.line for p in parsed.problems] == [2, 3]
    bad = tmp_path / "chat.md"
    bad.write_bytes(b"[2023-01-01 10:00:00] A: \xff\xfe broken utf-8\n")
    with pytest.raises(ExportError, match="line 1"):
        parse(bad, "signal-export")


# --- detection across the corpus and random bytes -----------------------------------------------
def _other_corpus_files() -> list[Path]:
    if not CORPUS.exists():
        return []
    return sorted(
        p for p in CORPUS.rglob("*")
        if p.is_file() and "signal" not in p.relative_to(CORPUS).parts[:1]
    )  # fmt: skip


@pytest.mark.corpus
def test_detectors_refuse_other_apps() -> None:
    files = _other_corpus_files()
    if not files:
        pytest.skip("sample corpus not available")
    for p in files:
        assert not detect_desktop(p), p
        assert not detect_sigtop(p), p
        assert not detect_signal_export(p), p
    for folder in sorted(d for d in CORPUS.iterdir() if d.is_dir() and d.name != "signal"):
        assert not detect_desktop(folder) and not detect_sigtop(folder)
        assert not detect_signal_export(folder), folder


def test_detectors_refuse_random_bytes(tmp_path: Path) -> None:
    for name in ("db.sqlite", "chat.md", "data.json", "x.txt", "x.json"):
        p = tmp_path / name
        p.write_bytes(os.urandom(4096))
        assert not detect_desktop(p) and not detect_sigtop(p) and not detect_signal_export(p)
    assert not detect_desktop(tmp_path / "missing") and not detect_sigtop(tmp_path / "missing")


# --- properties -------------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20),
    st.sampled_from(["Alice", "李雷", "🦊 Fox"]),
)
def test_mentions_respect_utf16_offsets(before: str, after: str, name: str) -> None:
    body = before + "\ufffc" + after
    start = len(before.encode("utf-16-le")) // 2
    ranges = [{"start": start, "length": 1, "mentionAci": "x"}]
    assert insert_mentions(body, ranges, lambda ident: name) == f"{before}@{name}{after}"


MD_ALPHABET = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="()[]!>") | st.just(
    "\n"
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(alphabet=MD_ALPHABET, max_size=30), min_size=1, max_size=5))
def test_signal_export_markdown_round_trip(tmp_path_factory: pytest.TempPathFactory, bodies: list[str]) -> None:
    """Whatever the bodies, chat.md gives back each one, in order, newlines kept."""
    bodies = [b.strip("\n") or "x" for b in bodies]
    md = "".join(f"[2024-01-0{1 + i % 9} 10:00:00] Alice: {b}  \n\n" for i, b in enumerate(bodies))
    path = tmp_path_factory.mktemp("md") / "chat.md"
    path.write_text(md, encoding="utf-8")
    parsed = parse(path, "signal-export")
    records = sorted(parsed.messages + parsed.events, key=lambda r: r.line or 0)
    assert [r.text for r in records] == bodies
    assert not parsed.problems


@pytest.mark.parametrize("size_known", [True, False])
def test_attachment_decryption_streams_large_files(tmp_path: Path, size_known: bool) -> None:
    from importers.signal.files import attachment_opener

    plain = os.urandom(200_003)  # several chunks, not a multiple of the block size
    data, local_key = encrypt_attachment(plain)
    (tmp_path / "att").mkdir()
    (tmp_path / "att" / "big").write_bytes(data)
    opener = attachment_opener(tmp_path / "att", "big", 2, local_key, len(plain) if size_known else None)
    assert opener is not None
    with opener() as fh:
        chunks = []
        while chunk := fh.read(7000):
            chunks.append(chunk)
    assert b"".join(chunks) == plain
    assert attachment_opener(tmp_path / "att", "../att/big", 2, local_key, None) is not None
    assert attachment_opener(tmp_path / "att", "../../etc/passwd", 1, None, None) is None
    assert attachment_opener(tmp_path / "att", "big", 2, "not base64!", None) is None
