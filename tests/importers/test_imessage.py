"""iMessage: typedstream bodies, test.db, edit plists (corpus/EXPECTED.md §5), our own chat.db."""

from __future__ import annotations

import plistlib
import shutil
import sqlite3
import struct
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importers import imessage
from importers.imessage import APPLE_EPOCH, apple_time
from importers.imessage.db import BACKUP_SMS_DB
from importers.imessage.typedstream import TypedStreamError, attributed_string_text, salvage_text
from tests.conftest import CORPUS, FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_JOIN,
    EV_TITLE,
    GROUP,
    IMAGE,
    STICKER,
    TEXT,
    VIDEO,
    Message,
)

UTC = timezone.utc
SCHEMA = FIXTURES / "imessage" / "chat_db_schema.sql"


def im_parse(path: Path) -> Parsed:
    return parse(path, "imessage")


# --- a tiny typedstream writer, to make attributedBody blobs without the corpus ---------------


def _ts_unsigned(n: int) -> bytes:
    """A typedstream integer as NSArchiver writes it: 1 byte, 0x81 + 16 bits or 0x82 + 32 bits."""
    if n < 0x80:
        return bytes([n])
    if n < 0x10000:
        return b"\x81" + struct.pack("<H", n)
    return b"\x82" + struct.pack("<I", n)


def archived(text: str) -> bytes:
    """An NSAttributedString archive as Messages writes it (one run, no attributes)."""
    raw = text.encode("utf-8")
    utf16_length = len(text.encode("utf-16-le")) // 2
    return (
        b"\x04\x0bstreamtyped\x81\xe8\x03"
        b"\x84\x01@\x84\x84\x84\x12NSAttributedString\x00\x84\x84\x08NSObject\x00\x85"
        b"\x92\x84\x84\x84\x08NSString\x01\x94\x84\x01+" + _ts_unsigned(len(raw)) + raw + b"\x86"
        b"\x84\x02iI\x01" + _ts_unsigned(utf16_length) + b"\x92\x84\x84\x84\x0cNSDictionary\x00\x94"
        b"\x84\x01i\x00\x86"
        b"\x86"
    )


def apple_ns(dt: datetime) -> int:
    delta = dt - APPLE_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10**9 + delta.microseconds * 1000


def apple_s(dt: datetime) -> float:
    return (dt - APPLE_EPOCH).total_seconds()


T0 = datetime(2024, 5, 17, 18, 30, 0, 123456, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def new_db(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA.read_text(encoding="utf-8"))
    return conn


def add_message(conn: sqlite3.Connection, rowid: int, guid: str, chat: int | None, **cols: Any) -> None:
    cols.setdefault("date", apple_ns(T0))
    names = ["ROWID", "guid", *cols]
    marks = ", ".join("?" * len(names))
    conn.execute(f"INSERT INTO message ({', '.join(names)}) VALUES ({marks})", (rowid, guid, *cols.values()))
    if chat is not None:
        conn.execute("INSERT INTO chat_message_join (chat_id, message_id) VALUES (?, ?)", (chat, rowid))


def add_attachment(conn: sqlite3.Connection, rowid: int, message: int, **cols: Any) -> None:
    names = ["ROWID", "original_guid", *cols]
    marks = ", ".join("?" * len(names))
    conn.execute(
        f"INSERT INTO attachment ({', '.join(names)}) VALUES ({marks})",
        (rowid, cols["guid"], *cols.values()),
    )
    conn.execute(
        "INSERT INTO message_attachment_join (message_id, attachment_id) VALUES (?, ?)",
        (message, rowid),
    )


PHOTO_BYTES = b"\xff\xd8\xff\xe0 a tiny jpeg"


def build_chat_db(folder: Path) -> Path:
    """A Messages folder: chat.db with two chats, handles, tapbacks, edits, events, attachments."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "chat.db"
    photo = folder / "Attachments/ab/01/AT-1/IMG_0001.jpeg"
    photo.parent.mkdir(parents=True)
    photo.write_bytes(PHOTO_BYTES)
    conn = new_db(db)
    conn.executemany(
        "INSERT INTO handle (ROWID, id, service) VALUES (?, ?, 'iMessage')",
        [(1, "+15551230001"), (2, "friend@example.com")],
    )
    conn.executemany(
        "INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name, display_name) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, "iMessage;+;chat100", 43, "chat100", "iMessage", "Climbing"),
            (2, "iMessage;-;+15551230001", 45, "+15551230001", "iMessage", ""),
        ],
    )
    conn.executemany("INSERT INTO chat_handle_join VALUES (?, ?)", [(1, 1), (1, 2), (2, 1)])
    # A tapback stored before its target (lower ROWID): it must still find it.
    add_message(
        conn,
        1,
        "TB-LIKE",
        1,
        handle_id=2,
        date=apple_ns(at(50)),
        associated_message_type=2001,
        associated_message_guid="p:0/M-BODY",
    )
    add_message(
        conn,
        10,
        "M-BODY",
        1,
        handle_id=1,
        text=None,
        attributedBody=archived("Hello from the body"),
    )
    add_message(
        conn,
        11,
        "M-PHOTO",
        1,
        is_from_me=1,
        text="\ufffcLook at this",
        date=apple_ns(at(60)),
        part_count=2,
    )
    add_attachment(
        conn,
        1,
        11,
        guid="AT-1",
        filename="~/Library/Messages/Attachments/ab/01/AT-1/IMG_0001.jpeg",
        mime_type="image/jpeg",
        transfer_name="IMG_0001.jpeg",
        total_bytes=len(PHOTO_BYTES),
        created_date=int(apple_s(at(55))),
    )
    add_message(
        conn,
        12,
        "TB-LOVE",
        1,
        handle_id=1,
        date=apple_ns(at(70)),
        associated_message_type=2000,
        associated_message_guid="p:1/M-PHOTO",
    )
    add_message(
        conn,
        13,
        "TB-UNLOVE",
        1,
        handle_id=1,
        date=apple_ns(at(80)),
        associated_message_type=3000,
        associated_message_guid="p:1/M-PHOTO",
    )
    add_message(
        conn,
        14,
        "TB-PARTY",
        1,
        is_from_me=1,
        date=apple_ns(at(90)),
        associated_message_type=2006,
        associated_message_emoji="🎉",
        associated_message_guid="p:0/M-BODY",
    )
    edits = {
        "ec": {
            "0": [
                {"t": archived("Original text"), "d": apple_s(at(100))},
                {"t": archived("Edited text"), "d": apple_s(at(130))},
            ]
        },
        "otr": {"0": {"lo": 0, "le": 11}},
    }
    add_message(
        conn,
        15,
        "M-EDIT",
        1,
        handle_id=1,
        text=None,
        attributedBody=archived("Edited text"),
        date=apple_ns(at(100)),
        date_edited=apple_ns(at(130)),
        part_count=1,
        message_summary_info=plistlib.dumps(edits, fmt=plistlib.FMT_BINARY),
    )
    unsent = {"rp": [0], "otr": {"0": {"lo": 0, "le": 5}}}
    add_message(
        conn,
        16,
        "M-UNSENT",
        1,
        is_from_me=1,
        text=None,
        date=apple_ns(at(140)),
        date_retracted=apple_ns(at(150)),
        date_edited=apple_ns(at(150)),
        part_count=1,
        message_summary_info=plistlib.dumps(unsent, fmt=plistlib.FMT_BINARY),
    )
    add_message(
        conn,
        17,
        "EV-ADD",
        1,
        handle_id=1,
        item_type=1,
        group_action_type=0,
        other_handle=2,
        date=apple_ns(at(160)),
    )
    add_message(
        conn,
        18,
        "EV-NAME",
        1,
        is_from_me=1,
        item_type=2,
        group_title="Crag crew",
        date=apple_ns(at(170)),
    )
    add_message(
        conn,
        19,
        "M-REPLY",
        1,
        handle_id=2,
        text="Agreed",
        date=apple_ns(at(180)),
        thread_originator_guid="M-BODY",
        thread_originator_part="0:0:19",
        reply_to_guid="M-PHOTO",
    )
    add_message(conn, 20, "M-OLD", 1, handle_id=1, text="From an old Mac", date=500_000_000)
    add_message(
        conn,
        21,
        "M-BROKEN",
        1,
        handle_id=1,
        text=None,
        attributedBody=archived("Broken body")[:-25],
        date=apple_ns(at(200)),
    )
    add_message(
        conn,
        22,
        "M-GARBAGE",
        1,
        handle_id=1,
        text="",
        attributedBody=b"\x00garbage\xff",
        date=apple_ns(at(210)),
    )
    add_message(
        conn,
        23,
        "M-MOVIE",
        1,
        handle_id=2,
        text=None,
        attributedBody=archived("\ufffc"),
        date=apple_ns(at(220)),
    )
    add_attachment(
        conn,
        2,
        23,
        guid="AT-2",
        filename="~/Library/Messages/Attachments/zz/99/AT-2/clip.mov",
        mime_type="video/quicktime",
        transfer_name="clip.mov",
        total_bytes=12345,
    )
    add_message(conn, 24, "M-DIRECT", 2, handle_id=1, text="direct hello", date=apple_ns(at(230)))
    add_message(
        conn,
        25,
        "M-STICKER",
        1,
        handle_id=2,
        date=apple_ns(at(240)),
        associated_message_type=1000,
        associated_message_guid="p:0/M-BODY",
    )
    add_attachment(
        conn,
        3,
        25,
        guid="AT-3",
        filename="~/Library/Messages/StickerCache/x/AT-3.heic",
        mime_type="image/heic",
        is_sticker=1,
        total_bytes=2048,
    )
    add_message(conn, 26, "M-ESCAPE", 1, handle_id=2, text="see file", date=apple_ns(at(250)))
    add_attachment(
        conn,
        4,
        26,
        guid="AT-4",
        filename="~/Library/Messages/../../../../../../etc/hostname",
        transfer_name="hostname",
    )
    add_message(
        conn,
        27,
        "VOTE",
        1,
        handle_id=2,
        associated_message_type=4000,
        associated_message_guid="M-POLL",
        date=apple_ns(at(260)),
    )
    add_message(
        conn,
        28,
        "M-VOICE",
        1,
        handle_id=2,
        text="\ufffc",
        is_audio_message=1,
        date=apple_ns(at(270)),
    )
    # One message in "Recently Deleted" (not imported), one left over from a deleted chat.
    add_message(conn, 29, "M-BIN", None, handle_id=1, text="deleted by the owner", date=apple_ns(at(280)))
    conn.execute("INSERT INTO chat_recoverable_message_join (chat_id, message_id, delete_date) VALUES (1, 29, 1)")
    add_message(conn, 30, "M-ORPHAN", None, handle_id=2, text="chat gone", date=apple_ns(at(290)))
    conn.commit()
    conn.close()
    return db


@pytest.fixture
def messages_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "Library" / "Messages"
    build_chat_db(folder)
    return folder


def by_guid(result: Parsed) -> dict[str, Any]:
    return {r.source_id: r for r in [*result.messages, *result.events] if r.source_id}


# --- our own chat.db ---------------------------------------------------------------------------


def test_chats_and_handles(messages_folder: Path) -> None:
    db = messages_folder / "chat.db"
    assert imessage.detect(db) and imessage.detect(messages_folder)
    result = im_parse(db)
    chats = {c.key: c for c in result.chats}
    assert list(chats) == [
        "iMessage;+;chat100",
        "iMessage;-;+15551230001",
        imessage.ORPHAN_CHAT_KEY,
    ]
    group = chats["iMessage;+;chat100"]
    assert (group.title, group.kind, group.participants) == (
        "Climbing",
        GROUP,
        ("+15551230001", "friend@example.com"),
    )
    direct = chats["iMessage;-;+15551230001"]
    assert (direct.title, direct.kind) == ("+15551230001", DIRECT)  # no display_name: the handle
    msgs = by_guid(result)
    assert msgs["M-DIRECT"].chat == direct.key
    assert msgs["M-BODY"].chat == group.key
    # tapbacks and poll votes are not messages of their own
    assert not {"TB-LIKE", "TB-LOVE", "TB-UNLOVE", "TB-PARTY", "VOTE"} & set(msgs)
    assert any("poll vote" in n.text for n in result.notes)


def test_a_sender_without_a_handle_row_shows_its_number(messages_folder: Path) -> None:
    """Incoming rows whose handle is 0 or names no handle row (no contact, a pruned handle table)
    are the other person's in a one-to-one chat: their number or address, not an unnamed sender."""
    conn = sqlite3.connect(messages_folder / "chat.db")
    add_message(conn, 90, "M-HANDLE-0", 2, handle_id=0, text="no handle", date=apple_ns(at(400)))
    add_message(conn, 91, "M-HANDLE-GONE", 2, handle_id=77, text="pruned", date=apple_ns(at(401)))
    add_message(conn, 92, "M-GROUP-GONE", 1, handle_id=77, text="who?", date=apple_ns(at(402)))
    conn.commit()
    conn.close()
    msgs = by_guid(im_parse(messages_folder))
    assert [msgs[g].sender for g in ("M-HANDLE-0", "M-HANDLE-GONE")] == ["+15551230001", "+15551230001"]
    assert msgs["M-HANDLE-0"].sender_id == "+15551230001"
    assert msgs["M-GROUP-GONE"].sender == "handle 77"  # a group: which member is unknown
    assert all(m.sender for m in msgs.values() if isinstance(m, Message))


def test_orphans_and_recently_deleted(messages_folder: Path) -> None:
    result = im_parse(messages_folder)
    msgs = by_guid(result)
    assert "M-BIN" not in msgs
    assert msgs["M-ORPHAN"].chat == imessage.ORPHAN_CHAT_KEY
    assert result.chats[-1].key == imessage.ORPHAN_CHAT_KEY
    assert any("Recently Deleted" in n.text for n in result.notes)


def test_bodies_senders_and_times(messages_folder: Path) -> None:
    msgs = by_guid(im_parse(messages_folder))
    body = msgs["M-BODY"]
    assert body.text == "Hello from the body"  # attributedBody only
    assert (body.sender, body.sender_id, body.from_me) == ("+15551230001", "+15551230001", False)
    assert body.ts == T0  # nanoseconds since 2001
    photo = msgs["M-PHOTO"]
    assert (photo.sender, photo.from_me, photo.sender_id) == ("me", True, None)
    assert photo.text == "Look at this"  # the U+FFFC placeholder removed
    assert msgs["M-OLD"].ts == datetime(2016, 11, 5, 0, 53, 20, tzinfo=UTC)  # seconds since 2001
    reply = msgs["M-REPLY"]
    assert reply.reply_to == "M-BODY"  # thread_originator_guid, not reply_to_guid
    assert msgs["M-DIRECT"].reply_to is None


def test_tapbacks_added_and_removed(messages_folder: Path) -> None:
    msgs = by_guid(im_parse(messages_folder))
    body = msgs["M-BODY"]
    assert {(r.emoji, r.sender, r.removed) for r in body.reactions} == {
        ("👍", "friend@example.com", False),  # stored before its target
        ("🎉", "me", False),  # a custom emoji tapback
    }
    like = next(r for r in body.reactions if r.emoji == "👍")
    assert like.ts == at(50)
    (love,) = msgs["M-PHOTO"].reactions  # on part 1 of the message: added, then removed
    assert (love.emoji, love.sender, love.removed, love.ts) == ("❤️", "+15551230001", True, at(80))


def test_edit_and_unsend(messages_folder: Path) -> None:
    msgs = by_guid(im_parse(messages_folder))
    edited = msgs["M-EDIT"]
    assert edited.text == "Edited text"
    assert edited.edited == at(130)
    history = edited.extra["edit_history"]
    assert [h["text"] for h in history] == ["Original text", "Edited text"]
    assert [h["part"] for h in history] == [0, 0]
    assert history[0]["ts"] == at(100).isoformat()
    unsent = msgs["M-UNSENT"]
    assert (unsent.kind, unsent.text, unsent.from_me) == (DELETED, "", True)
    assert unsent.extra["unsent"] == at(150).isoformat()


def test_attachments(messages_folder: Path) -> None:
    result = im_parse(messages_folder)
    msgs = by_guid(result)
    (photo,) = msgs["M-PHOTO"].attachments
    assert (photo.name, photo.kind, photo.mime, photo.size) == (
        "IMG_0001.jpeg",
        IMAGE,
        "image/jpeg",
        len(PHOTO_BYTES),
    )
    assert photo.open is not None
    with photo.open() as fh:
        assert fh.read() == PHOTO_BYTES
    assert msgs["M-PHOTO"].kind == TEXT  # it has a caption
    assert msgs["M-PHOTO"].extra["attachments"] == [
        {"guid": "AT-1", "created": at(55).replace(microsecond=0).isoformat()}
    ]
    movie = msgs["M-MOVIE"]
    assert movie.kind == VIDEO and movie.text == ""
    assert [(a.name, a.open) for a in movie.attachments] == [("clip.mov", None)]  # file not there
    sticker = msgs["M-STICKER"]
    assert sticker.kind == STICKER and sticker.reply_to == "M-BODY"
    assert sticker.attachments[0].kind == STICKER
    escape = msgs["M-ESCAPE"]
    assert escape.attachments[0].open is None  # a path leaving the Messages folder is never opened
    assert msgs["M-VOICE"].kind == AUDIO


def test_group_events(messages_folder: Path) -> None:
    entries = by_guid(im_parse(messages_folder))
    added = entries["EV-ADD"]
    assert (added.kind, added.text, added.actor) == (
        EV_JOIN,
        "+15551230001 added friend@example.com",
        "+15551230001",
    )
    renamed = entries["EV-NAME"]
    assert (renamed.kind, renamed.text) == (EV_TITLE, "me named the conversation “Crag crew”")


def test_damaged_bodies_are_problems(messages_folder: Path) -> None:
    result = im_parse(messages_folder)
    msgs = by_guid(result)
    assert msgs["M-BROKEN"].text == "Broken body"  # salvaged
    assert msgs["M-GARBAGE"].text == ""
    problems = [p.message for p in result.problems]
    assert len(problems) == 2
    assert all("damaged attributedBody" in p for p in problems)
    assert any("message row 21" in p for p in problems) and any("message row 22" in p for p in problems)
    for p in problems:
        assert "Broken" not in p and "garbage" not in p


def test_every_chat_precedes_its_messages(messages_folder: Path) -> None:
    seen: set[str] = set()
    for record in im_parse(messages_folder).records:
        if hasattr(record, "key"):
            seen.add(record.key)
        elif hasattr(record, "chat"):
            assert record.chat in seen


def test_iphone_backup_layout(messages_folder: Path, tmp_path: Path) -> None:
    backup = tmp_path / "Backup" / "00008030-001A"
    (backup / "3d").mkdir(parents=True)
    shutil.copy(messages_folder / "chat.db", backup / "3d" / BACKUP_SMS_DB)
    assert imessage.detect(backup)
    assert imessage.detect(backup / "3d" / BACKUP_SMS_DB)
    msgs = by_guid(im_parse(backup))
    assert msgs["M-BODY"].text == "Hello from the body"
    assert msgs["M-PHOTO"].attachments[0].open is None  # backups keep files under hashed names


def test_live_database_with_write_ahead_log(messages_folder: Path) -> None:
    db = messages_folder / "chat.db"
    writer = sqlite3.connect(db)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")
        add_message(writer, 100, "M-NEWEST", 2, handle_id=1, text="only in the -wal", date=apple_ns(at(999)))
        writer.commit()
        assert (messages_folder / "chat.db-wal").stat().st_size > 0
        msgs = by_guid(im_parse(db))
        assert msgs["M-NEWEST"].text == "only in the -wal"
    finally:
        writer.close()


# --- bad input ---------------------------------------------------------------------------------


def test_odd_column_types_never_crash(tmp_path: Path) -> None:
    """SQLite stores whatever it is given: blobs, numbers and text where another type belongs."""
    db = tmp_path / "chat.db"
    conn = new_db(db)
    conn.execute("INSERT INTO handle (ROWID, id, service) VALUES (1, X'00ff', 'iMessage'), (2, 'ok@example.com', 'x')")
    conn.execute(
        "INSERT INTO chat (ROWID, guid, style, display_name, chat_identifier) VALUES"
        " (1, 'c1', 'style', 42, X'01'), (2, X'02', 43, 'n', 'i')"
    )
    conn.execute("INSERT INTO chat_handle_join VALUES (1, 1), (1, 2), (1, 99)")
    add_message(conn, 1, "A", 1, handle_id="1", text=b"\xff", part_count="x", item_type="0", service=7)
    add_message(conn, 2, "B", 1, handle_id=2, item_type="2", group_title=b"t", group_action_type="z")
    add_message(conn, 3, "C", 1, handle_id=2, text="t", date="yesterday")
    add_message(conn, 4, "D", 1, handle_id=2, text="t", date=1e300, date_edited=-1, thread_originator_guid=5)
    add_message(conn, 5, "E", 1, handle_id=2, attributedBody="not bytes", message_summary_info=b"bplist00junk")
    add_message(conn, 6, "F", 2, handle_id=2, text="in a chat without guid")
    conn.execute("INSERT INTO message (ROWID, guid, date) VALUES (7, 'G', 1)")
    conn.execute("INSERT INTO chat_message_join (chat_id, message_id) VALUES (1, 7)")
    add_attachment(conn, 1, 1, guid="AT", filename=3, transfer_name=b"x", mime_type=5, total_bytes="big")
    conn.commit()
    conn.close()
    result = im_parse(db)
    assert [c.key for c in result.chats] == ["c1"]
    assert result.chats[0].participants == ("ok@example.com",)
    assert {m.source_id for m in result.messages} >= {"A", "E", "G"}
    assert result.problems  # the chat without guid, the unreadable dates, the damaged plist


def test_not_a_chat_db(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE message (id INTEGER, body TEXT)")
    conn.commit()
    conn.close()
    assert not imessage.detect(other)
    with pytest.raises(ExportError, match=r"not a Messages chat\.db"):
        im_parse(other)


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage" * 100, b"SQLite format 3\x00" + b"\x00" * 50, bytes(range(256)) * 64],
)
def test_garbage_files(tmp_path: Path, content: bytes) -> None:
    junk = tmp_path / "chat.db"
    junk.write_bytes(content)
    assert not imessage.detect(junk)
    with pytest.raises(ExportError):
        im_parse(junk)


def test_missing_and_empty_folders(tmp_path: Path) -> None:
    with pytest.raises(ExportError):
        im_parse(tmp_path / "nothing-here.db")
    with pytest.raises(ExportError):
        im_parse(tmp_path)
    assert not imessage.detect(tmp_path)


def _parse_or_export_error(path: Path) -> Parsed | None:
    try:
        return im_parse(path)
    except ExportError:
        return None


def test_truncated_chat_db(messages_folder: Path, tmp_path: Path) -> None:
    data = (messages_folder / "chat.db").read_bytes()
    for size in (100, 4096, len(data) // 2):
        cut = tmp_path / f"cut{size}.db"
        cut.write_bytes(data[:size])
        _parse_or_export_error(cut)  # ExportError or problems, never another exception


_damaged_numbers = iter(range(10**9))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_database_pages(messages_folder: Path, tmp_path: Path, data: st.DataObject) -> None:
    blob = bytearray((messages_folder / "chat.db").read_bytes())
    for _ in range(data.draw(st.integers(1, 8))):
        offset = data.draw(st.integers(100, len(blob) - 1))
        blob[offset] = data.draw(st.integers(0, 255))
    damaged = tmp_path / f"damaged{next(_damaged_numbers)}.db"
    damaged.write_bytes(bytes(blob))
    _parse_or_export_error(damaged)


# --- detection ---------------------------------------------------------------------------------


@pytest.mark.corpus
def test_detect_is_false_on_other_apps() -> None:
    if not CORPUS.exists():
        pytest.skip("sample corpus not available")
    others = sorted(p for p in CORPUS.rglob("*") if "imessage" not in p.relative_to(CORPUS).parts)
    assert [p for p in others if imessage.detect(p)] == []


def test_detect_false_on_junk(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 1000)
    assert not imessage.detect(junk)
    assert not imessage.detect(tmp_path / "missing")
    assert not imessage.detect(FIXTURES)


# --- the corpus: typedstream, test.db, edit plists ---------------------------------------------

# corpus/EXPECTED.md §5, "typedstream/* — decoded body text" (peer-asserted and observed rows).
EXPECTED_TEXTS = {
    "AttributedBodyTextOnly": "Noter test",
    "AttributedBodyTextOnly2": "Test 3",
    "WeirdText": "𝖍𝖊𝖑𝖑𝖔 𝖜𝖔𝖗𝖑𝖉",
    "URL": "https://github.com/ReagentX/Logria",
    "MultiPart": "\ufffctest 1\ufffctest 2 \ufffctest 3",
    "MultiPartWithDeleted": "From arbitrary byte stream:\r\ufffcTo native Rust data structures:\r",
    "Attachment": ("\ufffcThis is how the notes look to me fyi, in case it helps make sense of anything"),
    "Array": "A single ChatGPT instance takes 5MW of power to run",
    "Mention": "Test Dad ",
    "Code": "000123 is your security code. Don't share your code.",
    "AppMessage": "\ufffc",
    "Blank": "",
    "CustomReaction": ("Reacted with a sticker to “Like I wonder if the stickers can be reactions ”\ufffc"),
    "EmojiBoldUnderline": "🅱️Bold_Underline",
    "Email": "asdfghjklq@gmail.com might work",
    "MultiAttachment": "\ufffc" * 19,
    "Transcription": "\ufffc",
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(EXPECTED_TEXTS))
def test_typedstream_expected_texts(name: str) -> None:
    blob = corpus_file(f"imessage/typedstream/{name}").read_bytes()
    assert attributed_string_text(blob) == EXPECTED_TEXTS[name]


@pytest.mark.corpus
def test_typedstream_long_message() -> None:
    blob = corpus_file("imessage/typedstream/LongMessage").read_bytes()
    # The 3-byte length prefix: 0x81 + u16 LE. EXPECTED.md writes it "81 17 09", but the file has
    # 81 37 09, which is the 2359 it states (0x0917 would be 2327).
    assert b"+\x81\x37\x09Sed nibh" in blob
    text = attributed_string_text(blob)
    assert text.startswith("Sed nibh velit,")
    assert len(text.encode("utf-8")) == 2359


@pytest.mark.corpus
def test_typedstream_extra_data_is_damaged_but_salvaged() -> None:
    blob = corpus_file("imessage/typedstream/ExtraData").read_bytes()
    with pytest.raises(TypedStreamError):
        attributed_string_text(blob)
    salvaged = salvage_text(blob)
    assert salvaged is not None and salvaged.startswith("This is parsing")


@pytest.mark.corpus
def test_every_typedstream_sample_decodes() -> None:
    folder = corpus_file("imessage/typedstream")
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 35
    for name in names:
        blob = (folder / name).read_bytes()
        if name == "ExtraData":
            continue
        assert isinstance(attributed_string_text(blob), str), name


@pytest.mark.corpus
def test_test_db() -> None:
    path = corpus_file("imessage/test.db")
    assert imessage.detect(path)
    result = im_parse(path)
    assert not result.problems
    msgs = by_guid(result)
    assert set(msgs) == {
        "FAKEGUID-D0C8-4212-AA87-DD8AE4FD1203",
        "0355C6E1-D0C8-4212-AA87-DD8AE4FD1203",
    }
    url = msgs["FAKEGUID-D0C8-4212-AA87-DD8AE4FD1203"]
    assert url.text == "https://www.ghacks.net/2020/01/23/lastpass-no-longer-listed-on-the-chrome-web-store/"
    late = msgs["0355C6E1-D0C8-4212-AA87-DD8AE4FD1203"]
    assert late.text == "I’m going to try to eat as quick as possible and then come over"
    for m in msgs.values():
        assert m.ts == datetime(2025, 2, 6, 21, 25, 24, 490443, tzinfo=UTC)
        assert m.extra["service"] == "iMessage"
        # handle 1 has no row: the sender is still named (never None, shown as "?"), by its handle
        assert m.sender == "handle 1" and m.from_me is False
    assert late.reply_to is None  # reply_to_guid is set on non-replies: not used
    (sticker,) = late.attachments
    assert (sticker.kind, sticker.mime, sticker.size, sticker.open) == (
        STICKER,
        "image/heic",
        24560,
        None,
    )
    assert late.extra["attachments"][0]["created"] == "2024-12-23T21:28:41+00:00"
    # no chat rows: both messages land in the chat for messages without a conversation
    assert [c.key for c in result.chats] == [imessage.ORPHAN_CHAT_KEY]


def test_apple_time() -> None:
    assert apple_time(760569924490443648) == datetime(2025, 2, 6, 21, 25, 24, 490443, tzinfo=UTC)
    assert apple_time(760570084536457088) == datetime(2025, 2, 6, 21, 28, 4, 536457, tzinfo=UTC)
    assert apple_time(756682121) == datetime(2024, 12, 23, 21, 28, 41, tzinfo=UTC)
    assert apple_time(690513474.2725511) == datetime(2022, 11, 19, 1, 17, 54, 272551, tzinfo=UTC)
    for bad in (None, 0, -5, "760569924490443648", True, 10**30):
        assert apple_time(bad) is None


def plist_db(tmp_path: Path, rows: list[tuple[str, str, dict[str, Any]]]) -> Path:
    """A chat.db whose messages carry the corpus' message_summary_info plists."""
    db = tmp_path / "chat.db"
    conn = new_db(db)
    conn.execute("INSERT INTO chat (ROWID, guid, style) VALUES (1, 'chat-1', 45)")
    for rowid, (guid, plist_name, cols) in enumerate(rows, 1):
        blob = corpus_file(f"imessage/edited_message/{plist_name}").read_bytes()
        add_message(conn, rowid, guid, 1, is_from_me=1, message_summary_info=blob, **cols)
    conn.commit()
    conn.close()
    return db


@pytest.mark.corpus
def test_edited_message_plists(tmp_path: Path) -> None:
    rows = [
        (
            "EDITED",
            "Edited.plist",
            {
                "attributedBody": archived("Edited message"),
                "part_count": 1,
                "date_edited": apple_ns(APPLE_EPOCH + timedelta(seconds=690513494)),
            },
        ),
        (
            "EDITED-UNSENT",
            "EditedAndUnsent.plist",
            {
                "text": "First\ufffcSecond test was edited!",
                "part_count": 4,
                "date_retracted": apple_ns(at(1)),
            },
        ),
        ("DELETED", "Deleted.plist", {"part_count": 1, "date_retracted": apple_ns(at(2))}),
    ]
    others = sorted(p.name for p in corpus_file("imessage/edited_message").iterdir())
    rows += [(f"OTHER-{n}", n, {"text": "x"}) for n in others if n not in {r[1] for r in rows}]
    result = im_parse(plist_db(tmp_path, rows))
    assert not result.problems  # every plist and every typedstream inside decodes
    msgs = by_guid(result)

    history = msgs["EDITED"].extra["edit_history"]
    assert [h["text"] for h in history] == ["First message  ", "Edit 1", "Edit 2", "Edited message"]
    seconds = [690513474, 690513480, 690513485, 690513494]
    assert [datetime.fromisoformat(h["ts"]).replace(microsecond=0) for h in history] == [
        APPLE_EPOCH + timedelta(seconds=s) for s in seconds
    ]
    assert history[0]["ts"] == "2022-11-19T01:17:54.272551+00:00"

    both = msgs["EDITED-UNSENT"]
    assert both.kind == TEXT and both.extra["unsent_parts"] == [3]
    part2 = [h for h in both.extra["edit_history"] if h["part"] == 2]
    assert [h["text"] for h in part2] == ["Second test", "Second test was edited!"]
    assert [datetime.fromisoformat(h["ts"]).replace(microsecond=0) for h in part2] == [
        datetime(2024, 7, 29, 0, 57, 15, tzinfo=UTC),
        datetime(2024, 7, 29, 0, 57, 28, tzinfo=UTC),
    ]
    deleted = msgs["DELETED"]
    assert deleted.kind == DELETED and "edit_history" not in deleted.extra
    assert len([m for m in result.messages if m.source_id.startswith("OTHER-")]) == 5


# --- properties of the typedstream reader ------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_typedstream_round_trip(text: str) -> None:
    assert attributed_string_text(archived(text)) == text


def test_typedstream_lengths_beyond_16_bits() -> None:
    text = "长消息 long message 🚲 " * 5000  # > 65535 bytes: 0x82 + u32 length prefix
    assert attributed_string_text(archived(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_typedstream_damage_never_crashes(data: st.DataObject) -> None:
    blob = bytearray(archived(data.draw(st.text(max_size=40))))
    for _ in range(data.draw(st.integers(1, 4))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    for candidate in (bytes(blob), bytes(blob[:cut]), data.draw(st.binary(max_size=200))):
        try:
            assert isinstance(attributed_string_text(candidate), str)
        except TypedStreamError:
            pass
        salvage_text(candidate)
