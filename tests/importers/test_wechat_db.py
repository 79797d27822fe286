"""WeChat databases of every generation, built from their documented layouts, plain and encrypted.

Layouts: corpus/wechat/schema_wechat_desktop_ddl.sql (sjzar/chatlog), formats/wechat.md §1-§4.
Cipher settings: the verified PRAGMA sets of formats/wechat.md §0 (corpus/EXPECTED.md §5).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

import importers
from importers.base import ParseOptions
from importers.wechat import databases as wechat_databases
from importers.wechat.databases.opening import android_key
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    STICKER,
    TEXT,
    VIDEO,
    Message,
)

UTC = timezone.utc
KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC

# --- schemas (column lists as in corpus/wechat/schema_wechat_desktop_ddl.sql) ------------------

MSG_DDL = """CREATE TABLE MSG (
localId INTEGER PRIMARY KEY AUTOINCREMENT, TalkerId INT DEFAULT 0, MsgSvrID INT, Type INT,
SubType INT, IsSender INT, CreateTime INT, Sequence INT DEFAULT 0, StatusEx INT DEFAULT 0,
FlagEx INT, Status INT, MsgServerSeq INT, MsgSequence INT, StrTalker TEXT, StrContent TEXT,
DisplayContent TEXT, Reserved0 INT DEFAULT 0, Reserved1 INT DEFAULT 0, Reserved2 INT DEFAULT 0,
Reserved3 INT DEFAULT 0, Reserved4 TEXT, Reserved5 TEXT, Reserved6 TEXT, CompressContent BLOB,
BytesExtra BLOB, BytesTrans BLOB)"""
CONTACT_DDL = """CREATE TABLE Contact(
UserName TEXT PRIMARY KEY, Alias TEXT, EncryptUserName TEXT, DelFlag INTEGER DEFAULT 0,
Type INTEGER DEFAULT 0, VerifyFlag INTEGER DEFAULT 0, Reserved1 INTEGER DEFAULT 0,
Reserved2 INTEGER DEFAULT 0, Reserved3 TEXT, Reserved4 TEXT, Remark TEXT, NickName TEXT,
LabelIDList TEXT, DomainList TEXT, ChatRoomType int, PYInitial TEXT, QuanPin TEXT,
RemarkPYInitial TEXT, RemarkQuanPin TEXT, BigHeadImgUrl TEXT, SmallHeadImgUrl TEXT,
HeadImgMd5 TEXT, ChatRoomNotify INTEGER DEFAULT 0, Reserved5 INTEGER DEFAULT 0, Reserved6 TEXT,
Reserved7 TEXT, ExtraBuf BLOB, Reserved8 INTEGER DEFAULT 0, Reserved9 INTEGER DEFAULT 0,
Reserved10 TEXT, Reserved11 TEXT)"""
CHATROOM_DDL = """CREATE TABLE ChatRoom(
ChatRoomName TEXT PRIMARY KEY, UserNameList TEXT, DisplayNameList TEXT,
ChatRoomFlag int Default 0, Owner INTEGER DEFAULT 0, IsShowName INTEGER DEFAULT 0,
SelfDisplayName TEXT, Reserved1 INTEGER DEFAULT 0, Reserved2 TEXT, Reserved3 INTEGER DEFAULT 0,
Reserved4 TEXT, Reserved5 INTEGER DEFAULT 0, Reserved6 TEXT, RoomData BLOB,
Reserved7 INTEGER DEFAULT 0, Reserved8 TEXT)"""
V4_MSG_DDL = """CREATE TABLE "{table}"(
local_id INTEGER PRIMARY KEY AUTOINCREMENT, server_id INTEGER, local_type INTEGER,
sort_seq INTEGER, real_sender_id INTEGER, create_time INTEGER, status INTEGER,
upload_status INTEGER, download_status INTEGER, server_seq INTEGER, origin_source INTEGER,
source TEXT, message_content TEXT, compress_content TEXT, packed_info_data BLOB,
WCDB_CT_message_content INTEGER DEFAULT NULL, WCDB_CT_source INTEGER DEFAULT NULL)"""
V4_CONTACT_DDL = """CREATE TABLE contact(
id INTEGER PRIMARY KEY, username TEXT, local_type INTEGER, alias TEXT, encrypt_username TEXT,
flag INTEGER, delete_flag INTEGER, verify_flag INTEGER, remark TEXT, remark_quan_pin TEXT,
remark_pin_yin_initial TEXT, nick_name TEXT, pin_yin_initial TEXT, quan_pin TEXT,
big_head_url TEXT, small_head_url TEXT, head_img_md5 TEXT, chat_room_notify INTEGER,
is_in_chat_room INTEGER, description TEXT, extra_buffer BLOB, chat_room_type INTEGER)"""
MAC_CHAT_DDL = """CREATE TABLE "{table}"(
mesLocalID INTEGER PRIMARY KEY AUTOINCREMENT, mesSvrID INTEGER, msgCreateTime INTEGER,
msgContent TEXT, msgStatus INTEGER, msgImgStatus INTEGER, messageType INTEGER, mesDes INTEGER,
msgSource TEXT, IntRes1 INTEGER, IntRes2 INTEGER, StrRes1 TEXT, StrRes2 TEXT,
msgVoiceText TEXT, msgSeq INTEGER, CompressContent BLOB, ConBlob BLOB)"""
MAC_CONTACT_DDL = """CREATE TABLE WCContact(
m_nsUsrName TEXT PRIMARY KEY ASC, m_uiConType INTEGER, nickname TEXT, m_nsFullPY TEXT,
m_nsShortPY TEXT, m_nsRemark TEXT, m_nsRemarkPYFull TEXT, m_nsRemarkPYShort TEXT,
m_nsAliasName TEXT)"""
# Android (ppwwyyxx/wechat-dump wechat/parser.py column names).
ANDROID_DDL = (
    "CREATE TABLE message (msgId INTEGER PRIMARY KEY, msgSvrId INTEGER, type INT, status INT,"
    " isSend INT, createTime INTEGER, talker TEXT, content TEXT, imgPath TEXT)",
    "CREATE TABLE rcontact (username TEXT PRIMARY KEY, alias TEXT, conRemark TEXT, nickname TEXT, type INT)",
    "CREATE TABLE userinfo (id INTEGER PRIMARY KEY, type INT, value TEXT)",
    "CREATE TABLE chatroom (chatroomname TEXT PRIMARY KEY, memberlist TEXT, displayname TEXT)",
)

WIN3_PRAGMAS = (
    f"PRAGMA hexkey='{KEY}'",
    "PRAGMA cipher_compatibility=3",
    "PRAGMA cipher_page_size=4096",
)
V4_PRAGMAS = (f"PRAGMA hexkey='{KEY}'", "PRAGMA cipher_compatibility=4")
MAC3_PRAGMAS = (f"PRAGMA key=\"x'{KEY}'\"", "PRAGMA cipher_compatibility=3")
IMEI, UIN = "1234567890ABCDEF", "-123456789"
ANDROID_KEY = "97eed76"  # md5(IMEI + UIN)[:7], corpus/EXPECTED.md §5
ANDROID_PRAGMAS = (f"PRAGMA key='{ANDROID_KEY}'", "PRAGMA cipher_compatibility=1")


def make_db(
    path: Path,
    statements: Iterable[str],
    rows: Iterable[tuple[str, Sequence[Any]]] = (),
    pragmas: Sequence[str] = (),
) -> Path:
    """A database at `path`: plain with sqlite3, encrypted with sqlcipher3 and `pragmas`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if pragmas:
        import sqlcipher3

        conn: Any = sqlcipher3.connect(str(path))
        for pragma in pragmas:
            conn.execute(pragma)
    else:
        conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    for sql, values in rows:
        conn.execute(sql, values)
    conn.commit()
    conn.close()
    return path


def pb_varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_bytes(number: int, value: bytes) -> bytes:
    return pb_varint(number << 3 | 2) + pb_varint(len(value)) + value


def bytes_extra(items: dict[int, str]) -> bytes:
    """BytesExtra: `1: header; 3: repeated {1: type, 2: value}` (LC044 msg.proto)."""
    header = pb_bytes(1, pb_varint(1 << 3) + pb_varint(1))
    body = b"".join(pb_bytes(3, pb_varint(1 << 3) + pb_varint(t) + pb_bytes(2, v.encode())) for t, v in items.items())
    return header + body


def room_data(members: dict[str, str]) -> bytes:
    """ChatRoom.RoomData: repeated {1: wxid, 2: group display name} (LC044 roomdata.proto)."""
    return b"".join(pb_bytes(1, pb_bytes(1, w.encode()) + pb_bytes(2, n.encode())) for w, n in members.items())


def lz4_block(text: str) -> bytes:
    import lz4.block

    return bytes(lz4.block.compress(text.encode(), store_size=False))


def zstd(text: str) -> bytes:
    import zstandard

    return bytes(zstandard.ZstdCompressor().compress(text.encode()))


# MediaMSGn.db (PyWxDump dbMedia.py): Reserved0 = MsgSvrID, Buf = SILK voice.
MEDIA_DDL = "CREATE TABLE Media(Key TEXT, Reserved0 INT, Buf BLOB, Reserved1 INT, Reserved2 TEXT)"
SILK = b"\x02#!SILK_V3" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(64)) + b"\xff\xd9"
QUOTE_XML = (
    '<msg><appmsg appid="" sdkver="0"><title>Sounds good</title><type>57</type>'
    "<refermsg><type>1</type><svrid>{svrid}</svrid><fromusr>wxid_alice</fromusr>"
    "<displayname>Alice</displayname><content>see you at 8?</content></refermsg>"
    "</appmsg></msg>"
)
FILE_XML = (
    "<msg><appmsg><title>plan.pdf</title><type>6</type><appattach><totallen>2048</totallen></appattach></appmsg></msg>"
)

MSG_INSERT = (
    "INSERT INTO MSG (localId, MsgSvrID, Type, SubType, IsSender, CreateTime, StrTalker,"
    " StrContent, DisplayContent, CompressContent, BytesExtra) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
)


def win3_account(base: Path, pragmas: Sequence[str] = ()) -> Path:
    """`<base>/wxid_owner/Msg/{MicroMsg.db, Multi/MSG0.db, Multi/MSG1.db}` plus one .dat image."""
    account = base / "wxid_owner"
    msg = account / "Msg"
    contacts = [
        ("wxid_owner", "", "", "Owner Nick", ""),
        ("wxid_alice", "alice_a", "Alice (remark)", "alice nick", ""),
        ("wxid_bob", "bob_alias", "", "", ""),
        ("wxid_carol", "", "", "Carol", ""),
        ("team@chatroom", "", "", "Hiking team", ""),
        ("nameless@chatroom", "", "", "", ""),
    ]
    make_db(
        msg / "MicroMsg.db",
        [CONTACT_DDL, CHATROOM_DDL],
        [
            (
                "INSERT INTO Contact (UserName, Alias, Remark, NickName, Reserved3) VALUES (?,?,?,?,?)",
                c,
            )
            for c in contacts
        ]
        + [
            (
                "INSERT INTO ChatRoom (ChatRoomName, UserNameList, RoomData) VALUES (?,?,?)",
                (
                    "team@chatroom",
                    "wxid_owner^Gwxid_alice^Gwxid_dave",
                    room_data({"wxid_dave": "Dave in group"}),
                ),
            ),
            (
                "INSERT INTO ChatRoom (ChatRoomName, UserNameList, RoomData) VALUES (?,?,?)",
                ("nameless@chatroom", "wxid_owner^Gwxid_alice^Gwxid_carol", b""),
            ),
        ],
        pragmas,
    )
    image_rel = "wxid_owner\\FileStorage\\MsgAttach\\abc123\\Image\\2023-11\\photo1.dat"
    dat = account / "FileStorage" / "MsgAttach" / "abc123" / "Image" / "2023-11" / "photo1.dat"
    dat.parent.mkdir(parents=True)
    dat.write_bytes(bytes(b ^ 0x5A for b in JPEG))
    rows0 = [
        (1, 1001, 1, 0, 0, T0, "wxid_alice", "see you at 8?", None, None, None),
        (2, 1002, 1, 0, 1, T0 + 1, "wxid_alice", "yes!", None, None, None),
        (
            3,
            1003,
            49,
            57,
            1,
            T0 + 2,
            "wxid_alice",
            "",
            None,
            lz4_block(QUOTE_XML.format(svrid=1001)),
            None,
        ),
        (
            4,
            1004,
            3,
            0,
            0,
            T0 + 3,
            "wxid_alice",
            '<msg><img length="90"/></msg>',
            None,
            None,
            bytes_extra({4: image_rel, 3: image_rel.replace("photo1", "photo1_t")}),
        ),
        (
            5,
            1005,
            1,
            0,
            0,
            T0 + 4,
            "team@chatroom",
            "morning all",
            None,
            None,
            bytes_extra({1: "wxid_alice:25319:1"}),
        ),
        (
            6,
            1006,
            1,
            0,
            0,
            T0 + 5,
            "team@chatroom",
            "hi from dave",
            None,
            None,
            bytes_extra({1: "wxid_dave"}),
        ),
        (
            7,
            1007,
            10000,
            0,
            0,
            T0 + 6,
            "team@chatroom",
            '"Alice (remark)"邀请"Carol"加入了群聊',
            None,
            None,
            None,
        ),
        (
            8,
            1008,
            10000,
            0,
            1,
            T0 + 7,
            "wxid_alice",
            "<revokemsg>你撤回了一条消息</revokemsg>",
            None,
            None,
            None,
        ),
        (
            9,
            1009,
            34,
            0,
            0,
            T0 + 8,
            "wxid_bob",
            '<msg><voicemsg voicelength="3200"/></msg>',
            None,
            None,
            None,
        ),
        (
            10,
            1010,
            48,
            0,
            0,
            T0 + 9,
            "wxid_bob",
            '<msg><location x="39.9042" y="116.4074" label="Dongcheng" poiname="Tiananmen"/></msg>',
            None,
            None,
            None,
        ),
        (
            11,
            1011,
            50,
            0,
            1,
            T0 + 10,
            "wxid_bob",
            '<voipmsg type="VoIPBubbleMsg"><VoIPBubbleMsg><msg><![CDATA[Duration 00:05]]></msg>'
            "</VoIPBubbleMsg></voipmsg>",
            None,
            None,
            None,
        ),
        (
            12,
            1012,
            49,
            6,
            0,
            T0 + 11,
            "wxid_bob",
            "",
            None,
            lz4_block(FILE_XML),
            bytes_extra({4: "wxid_owner\\FileStorage\\File\\2023-11\\plan.pdf"}),
        ),
        (
            13,
            1013,
            47,
            0,
            0,
            T0 + 12,
            "wxid_bob",
            '<msg><emoji cdnurl="http://emoji.example/e1" md5="e1"/></msg>',
            None,
            None,
            None,
        ),
        (
            14,
            1014,
            43,
            0,
            0,
            T0 + 13,
            "nameless@chatroom",
            "<msg><videomsg/></msg>",
            None,
            None,
            bytes_extra({1: "wxid_carol"}),
        ),
        (15, 0, 1, 0, 0, T0 + 14, None, "no talker", None, None, None),
    ]
    make_db(msg / "Multi" / "MSG0.db", [MSG_DDL], [(MSG_INSERT, r) for r in rows0], pragmas)
    rows1 = [
        # localId 1 again (ids restart per file), a different message …
        (1, 2001, 1, 0, 0, T0 + 100, "wxid_alice", "new file, same localId", None, None, None),
        # … and the same server message as MSG0's localId 2: imported once.
        (2, 1002, 1, 0, 1, T0 + 1, "wxid_alice", "yes!", None, None, None),
    ]
    make_db(msg / "Multi" / "MSG1.db", [MSG_DDL], [(MSG_INSERT, r) for r in rows1], pragmas)
    make_db(
        msg / "Multi" / "MediaMSG0.db",
        [MEDIA_DDL],
        [("INSERT INTO Media (Key, Reserved0, Buf) VALUES (?,?,?)", ("k1", 1009, SILK))],
        pragmas,
    )
    return account


def attachment_bytes(path: Path, **opts: Any) -> dict[str, bytes]:
    """{attachment name: bytes}, read while the parser is suspended (as the vault reads them)."""
    out: dict[str, bytes] = {}
    for record in importers.get("wechat-db").parse(path, ParseOptions(**opts)):
        if isinstance(record, Message):
            for att in record.attachments:
                if att.open is not None:
                    with att.open() as fh:
                        out[att.name] = fh.read()
    return out


def by_source_id(parsed: Parsed) -> dict[str | None, Any]:
    return {r.source_id: r for r in [*parsed.messages, *parsed.events]}


def check_win3(parsed: Parsed) -> None:
    chats = {c.key: c for c in parsed.chats}
    assert set(chats) == {"wxid_alice", "team@chatroom", "wxid_bob", "nameless@chatroom"}
    assert chats["wxid_alice"].title == "Alice (remark)"  # Remark first
    assert chats["wxid_alice"].kind == DIRECT
    assert chats["wxid_bob"].title == "bob_alias"  # no remark, no nickname: alias
    assert chats["team@chatroom"].title == "Hiking team"
    assert chats["team@chatroom"].kind == GROUP
    assert chats["nameless@chatroom"].title == "Alice (remark)、Carol"  # members' names joined
    msgs = by_source_id(parsed)
    assert len(parsed.messages) + len(parsed.events) == 15  # 14 + MSG1's new one; duplicate dropped
    assert [m.source_id for m in parsed.messages].count("1002") == 1
    assert msgs["2001"].text == "new file, same localId"
    first = msgs["1001"]
    assert (first.sender, first.sender_id, first.from_me) == ("Alice (remark)", "wxid_alice", False)
    assert first.ts == datetime.fromtimestamp(T0, UTC)
    mine = msgs["1002"]
    assert (mine.sender, mine.from_me, mine.sender_id) == ("Owner Nick", True, "wxid_owner")
    quote = msgs["1003"]
    assert (quote.kind, quote.text, quote.reply_to) == (TEXT, "Sounds good", "1001")
    assert quote.extra["quote"]["text"] == "see you at 8?"
    image = msgs["1004"]
    assert image.kind == IMAGE
    (att,) = image.attachments
    assert (att.name, att.mime) == ("photo1.jpg", "image/jpeg")
    assert att.open is not None
    assert msgs["1005"].sender == "Alice (remark)"  # BytesExtra "wxid:25319:1" → wxid
    assert msgs["1006"].sender == "Dave in group"  # not a contact: group display name
    join = msgs["1007"]
    assert join.kind == EV_JOIN and join in parsed.events
    recall = msgs["1008"]
    assert (recall.kind, recall.text, recall.from_me) == (DELETED, "你撤回了一条消息", True)
    voice = msgs["1009"]
    assert voice.kind == AUDIO and voice.extra["duration_ms"] == 3200
    (note,) = voice.attachments
    assert (note.name, note.mime) == ("1009.silk", "audio/silk")
    assert note.open is not None
    loc = msgs["1010"]
    assert loc.kind == LOCATION and loc.extra["latitude"] == pytest.approx(39.9042)
    assert "Tiananmen" in loc.text
    call = msgs["1011"]  # an event, as the tools' exports give it, with its length
    assert (call.kind, call.text, call.extra["duration_s"]) == (EV_CALL, "Duration 00:05", 5)
    assert call in parsed.events and call not in parsed.messages
    doc = msgs["1012"]
    assert doc.kind == FILE and doc.attachments[0].name == "plan.pdf"
    assert doc.attachments[0].size == 2048 and doc.attachments[0].open is None  # not beside
    assert msgs["1013"].kind == STICKER and msgs["1013"].extra["url"] == "http://emoji.example/e1"
    assert msgs["1014"].kind == VIDEO and msgs["1014"].sender == "Carol"
    assert [p.line for p in parsed.problems] == [15]
    for problem in parsed.problems:
        assert "no talker" not in problem.message
    # Chats come before their messages.
    seen: set[str] = set()
    for record in parsed.records:
        if hasattr(record, "key"):
            seen.add(record.key)
        elif hasattr(record, "chat"):
            assert record.chat in seen


def test_windows3_plain_account_folder(tmp_path: Path) -> None:
    account = win3_account(tmp_path)
    assert wechat_databases.detect(account)
    assert wechat_databases.detect(account / "Msg")
    check_win3(parse(account))
    check_win3(parse(account / "Msg", "wechat-db"))
    media = attachment_bytes(account)
    assert media["photo1.jpg"] == JPEG  # XOR undone while streaming
    assert media["1009.silk"] == SILK  # from MediaMSG0.db


def test_windows3_one_msg_file_finds_micromsg_nearby(tmp_path: Path) -> None:
    account = win3_account(tmp_path)
    parsed = parse(account / "Msg" / "Multi" / "MSG1.db", "wechat-db")
    assert [c.title for c in parsed.chats] == ["Alice (remark)"]
    assert [m.source_id for m in parsed.messages] == ["2001", "1002"]


def test_windows3_encrypted_with_key(tmp_path: Path) -> None:
    account = win3_account(tmp_path, WIN3_PRAGMAS)
    raw = (account / "Msg" / "Multi" / "MSG0.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3") and len(raw) % 4096 == 0
    assert wechat_databases.detect(account)
    assert wechat_databases.detect(account / "Msg" / "Multi" / "MSG0.db")
    check_win3(parse(account, "wechat-db", keys={"wechat": KEY}))
    assert attachment_bytes(account, keys={"wechat": KEY})["1009.silk"] == SILK
    # The key as tools print it: upper case, 0x…, x'…'.
    check_win3(parse(account, "wechat-db", keys={"wechat": f"x'{KEY.upper()}'"}))
    before = {p.name for p in tmp_path.rglob("*")}
    parse(account, "wechat-db", keys={"wechat": "0x" + KEY})
    assert {p.name for p in tmp_path.rglob("*")} == before  # nothing decrypted to disk


def test_encrypted_without_key_or_with_wrong_key(tmp_path: Path) -> None:
    account = win3_account(tmp_path, WIN3_PRAGMAS)
    with pytest.raises(ExportError, match="--wechat-key"):
        parse(account, "wechat-db")
    with pytest.raises(ExportError, match="key does not open") as err:
        parse(account, "wechat-db", keys={"wechat": "ff" * 32})
    assert "ff" * 32 not in str(err.value)
    with pytest.raises(ExportError, match="64 hex"):
        parse(account, "wechat-db", keys={"wechat": "not-a-key"})


def v4_account(base: Path, pragmas: Sequence[str] = ()) -> Path:
    """`<base>/wxid_owner_ab12/db_storage/{message/message_0.db, contact/contact.db}`."""
    account = base / "wxid_owner_ab12"
    storage = account / "db_storage"
    make_db(
        storage / "contact" / "contact.db",
        [V4_CONTACT_DDL],
        [
            ("INSERT INTO contact (id, username, alias, remark, nick_name) VALUES (?,?,?,?,?)", r)
            for r in [
                (1, "wxid_owner", "", "", "Owner4"),
                (2, "wxid_alice", "", "Ally", "alice"),
                (3, "team@chatroom", "", "", "Team 4"),
                (4, "wxid_bob", "", "", "Bob"),
            ]
        ],
        pragmas,
    )
    names = ["wxid_alice", "wxid_owner", "team@chatroom", "wxid_bob"]  # rowids 1..4
    t_alice = "Msg_" + hashlib.md5(b"wxid_alice").hexdigest()
    t_team = "Msg_" + hashlib.md5(b"team@chatroom").hexdigest()
    insert = (
        'INSERT INTO "{t}" (local_id, server_id, local_type, sort_seq, real_sender_id,'
        " create_time, status, message_content, compress_content) VALUES (?,?,?,?,?,?,?,?,?)"
    )
    quote_type = (57 << 32) | 49  # 244813135921
    rows = [
        (insert.format(t=t_alice), (1, 5001, 1, 1, 1, T0, 4, "hello from alice", None)),
        (insert.format(t=t_alice), (2, 5002, 1, 2, 2, T0 + 1, 2, zstd("compressed reply"), None)),
        (
            insert.format(t=t_alice),
            (3, 5003, quote_type, 3, 2, T0 + 2, 2, zstd(QUOTE_XML.format(svrid=5001)), None),
        ),
        (insert.format(t=t_team), (1, 5004, 1, 1, 4, T0 + 3, 4, "wxid_bob:\nteam hello", None)),
        (insert.format(t=t_team), (2, 5005, 1, 2, 2, T0 + 4, 2, "owner in team", None)),
        (
            insert.format(t=t_team),
            (3, 5006, 10000, 3, 0, T0 + 5, 4, '"Ally"邀请"Bob"加入了群聊', None),
        ),
    ]
    make_db(
        storage / "message" / "message_0.db",
        [
            "CREATE TABLE Name2Id (user_name TEXT PRIMARY KEY, is_session INTEGER)",
            V4_MSG_DDL.format(table=t_alice),
            V4_MSG_DDL.format(table=t_team),
        ],
        [("INSERT INTO Name2Id (rowid, user_name) VALUES (?,?)", (i, n)) for i, n in enumerate(names, 1)] + rows,
        pragmas,
    )
    return account


def check_v4(parsed: Parsed) -> None:
    chats = {c.key: c for c in parsed.chats}
    assert {k: (c.title, c.kind) for k, c in chats.items()} == {
        "wxid_alice": ("Ally", DIRECT),
        "team@chatroom": ("Team 4", GROUP),
    }
    msgs = by_source_id(parsed)
    assert (msgs["5001"].sender, msgs["5001"].from_me) == ("Ally", False)
    assert (msgs["5002"].text, msgs["5002"].from_me, msgs["5002"].sender) == (
        "compressed reply",
        True,
        "Owner4",
    )
    assert (msgs["5003"].text, msgs["5003"].reply_to) == ("Sounds good", "5001")
    assert (msgs["5004"].text, msgs["5004"].sender, msgs["5004"].sender_id) == (
        "team hello",
        "Bob",
        "wxid_bob",
    )
    assert msgs["5005"].from_me is True
    assert msgs["5006"].kind == EV_JOIN
    assert msgs["5001"].ts == datetime.fromtimestamp(T0, UTC)


def test_v4_plain(tmp_path: Path) -> None:
    account = v4_account(tmp_path)
    assert wechat_databases.detect(account)
    assert wechat_databases.detect(account / "db_storage" / "message" / "message_0.db")
    check_v4(parse(account, "wechat-db"))
    check_v4(parse(account / "db_storage" / "message" / "message_0.db", "wechat-db"))


def test_v4_encrypted(tmp_path: Path) -> None:
    account = v4_account(tmp_path, V4_PRAGMAS)
    check_v4(parse(account / "db_storage", "wechat-db", keys={"wechat": KEY}))
    with pytest.raises(ExportError, match="key does not open"):
        parse(account, "wechat-db", keys={"wechat": "12" * 32})


def test_macos3_encrypted_raw_key(tmp_path: Path) -> None:
    base = tmp_path / "0123abcd"
    table = "Chat_" + hashlib.md5(b"wxid_alice").hexdigest()
    unknown = "Chat_" + hashlib.md5(b"wxid_stranger").hexdigest()
    insert = 'INSERT INTO "{t}" (mesSvrID, msgCreateTime, msgContent, messageType, mesDes) VALUES (?,?,?,?,?)'
    make_db(
        base / "Message" / "msg_0.db",
        [MAC_CHAT_DDL.format(table=table), MAC_CHAT_DDL.format(table=unknown)],
        [
            (insert.format(t=table), (7001, T0, "mac hello", 1, 1)),
            (insert.format(t=table), (7002, T0 + 1, "mac reply", 1, 0)),
            (insert.format(t=unknown), (7003, T0 + 2, "who?", 1, 1)),
        ],
        MAC3_PRAGMAS,
    )
    make_db(
        base / "Contact" / "wccontact_new2.db",
        [MAC_CONTACT_DDL],
        [
            (
                "INSERT INTO WCContact (m_nsUsrName, nickname, m_nsRemark) VALUES (?,?,?)",
                ("wxid_alice", "alice", "Alice Mac"),
            )
        ],
        MAC3_PRAGMAS,
    )
    assert os.path.getsize(base / "Message" / "msg_0.db") % 1024 == 0
    parsed = parse(base, "wechat-db", keys={"wechat": KEY})
    msgs = by_source_id(parsed)
    assert parsed.chats[0].title == "Alice Mac"
    assert (msgs["7001"].sender, msgs["7001"].from_me) == ("Alice Mac", False)
    assert (msgs["7002"].from_me, msgs["7002"].sender) == (True, "me")
    assert msgs["7003"].chat.startswith("title:")  # no contact: keyed by its table's hash


def android_db(path: Path, pragmas: Sequence[str] = ()) -> Path:
    rows = [
        ("INSERT INTO userinfo (id, type, value) VALUES (?,?,?)", (2, 3, "wxid_me")),
        ("INSERT INTO userinfo (id, type, value) VALUES (?,?,?)", (4, 3, "Android Me")),
        (
            "INSERT INTO rcontact (username, alias, conRemark, nickname) VALUES (?,?,?,?)",
            ("wxid_friend", "", "Friend R", "friend"),
        ),
        (
            "INSERT INTO rcontact (username, alias, conRemark, nickname) VALUES (?,?,?,?)",
            ("wxid_other", "", "", "Other"),
        ),
        (
            "INSERT INTO chatroom (chatroomname, memberlist) VALUES (?,?)",
            ("555@chatroom", "wxid_me;wxid_friend;wxid_other"),
        ),
    ]
    insert = (
        "INSERT INTO message (msgId, msgSvrId, type, isSend, createTime, talker, content,"
        " imgPath) VALUES (?,?,?,?,?,?,?,?)"
    )
    msgs = [
        (1, 9001, 1, 0, T0 * 1000 + 250, "wxid_friend", "android hi", None),
        (2, 9002, 1, 1, T0 * 1000 + 5000, "wxid_friend", "android reply", None),
        (3, 9003, 1, 0, T0 * 1000 + 9000, "555@chatroom", "wxid_other:\ngroup line", None),
        (
            4,
            9004,
            822083633,
            1,
            T0 * 1000 + 9500,
            "wxid_friend",
            QUOTE_XML.format(svrid=9001),
            None,
        ),
        (
            5,
            9005,
            3,
            0,
            T0 * 1000 + 9900,
            "wxid_friend",
            "<msg><img/></msg>",
            "THUMBNAIL_DIRPATH://th_0123456789abcdef",
        ),
    ]
    return make_db(path, ANDROID_DDL, rows + [(insert, m) for m in msgs], pragmas)


def check_android(parsed: Parsed) -> None:
    chats = {c.key: c for c in parsed.chats}
    assert chats["wxid_friend"].title == "Friend R"
    assert chats["555@chatroom"].title == "Friend R、Other"
    msgs = by_source_id(parsed)
    assert msgs["9001"].ts == datetime.fromtimestamp(T0 + 0.25, UTC)  # createTime in ms
    assert (msgs["9002"].sender, msgs["9002"].from_me) == ("Android Me", True)
    assert (msgs["9003"].sender, msgs["9003"].text) == ("Other", "group line")
    assert (msgs["9004"].reply_to, msgs["9004"].text) == ("9001", "Sounds good")
    image = msgs["9005"]
    assert image.kind == IMAGE and image.attachments[0].name == "th_0123456789abcdef"
    assert image.attachments[0].open is None


def test_android_key_from_imei_and_uin() -> None:
    assert android_key(IMEI, UIN) == ANDROID_KEY


def test_android_encrypted(tmp_path: Path) -> None:
    db = android_db(tmp_path / "MicroMsg" / "abc" / "EnMicroMsg.db", ANDROID_PRAGMAS)
    assert wechat_databases.detect(db)
    assert wechat_databases.detect(db.parent)
    check_android(parse(db, "wechat-db", keys={"wechat": ANDROID_KEY}))
    check_android(parse(db, "wechat-db", params={"wechat_imei": IMEI, "wechat_uin": UIN}))
    with pytest.raises(ExportError, match="key does not open"):
        parse(db, "wechat-db", params={"wechat_imei": "000000000000000", "wechat_uin": UIN})


def test_android_decrypted_copy_by_tables(tmp_path: Path) -> None:
    db = android_db(tmp_path / "decrypted_database.db")
    assert wechat_databases.detect(db)
    check_android(parse(db))


def test_merged_database_holds_contacts_too(tmp_path: Path) -> None:
    """PyWxDump's merge_all.db: MSG, Contact and ChatRoom in one decrypted file."""
    db = make_db(
        tmp_path / "merge_all.db",
        [MSG_DDL, CONTACT_DDL, CHATROOM_DDL],
        [
            ("INSERT INTO Contact (UserName, NickName) VALUES (?,?)", ("wxid_x", "Xavier")),
            (MSG_INSERT, (1, 42, 1, 0, 0, T0, "wxid_x", "merged", None, None, None)),
        ],
    )
    parsed = parse(db)
    assert [(c.title, m.text) for c in parsed.chats for m in parsed.messages] == [("Xavier", "merged")]


def test_damaged_and_garbage_databases(tmp_path: Path) -> None:
    garbage = tmp_path / "MSG0.db"
    garbage.write_bytes(os.urandom(4096))  # whole pages: looks encrypted
    with pytest.raises(ExportError, match="key does not open"):
        parse(garbage, "wechat-db", keys={"wechat": KEY})
    truncated = tmp_path / "cut" / "MSG0.db"
    truncated.parent.mkdir()
    truncated.write_bytes(os.urandom(5000))
    assert not wechat_databases.detect(truncated)
    with pytest.raises(ExportError):
        parse(truncated, "wechat-db", keys={"wechat": KEY})
    account = win3_account(tmp_path / "plain")
    real = (account / "Msg" / "Multi" / "MSG0.db").read_bytes()
    half = tmp_path / "half" / "MSG0.db"
    half.parent.mkdir()
    half.write_bytes(real[: len(real) // 2])
    try:
        parsed = parse(half, "wechat-db")
    except ExportError:
        pass
    else:
        assert parsed.problems or parsed.messages
    random_file = tmp_path / "random.bin"
    random_file.write_bytes(os.urandom(8192))
    assert not wechat_databases.detect(random_file)
    with pytest.raises(ExportError):
        parse(random_file, "wechat-db")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert not wechat_databases.detect(empty)
