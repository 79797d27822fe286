"""iPhone backups (Finder/iTunes), plain and encrypted: WhatsApp, Messages and WeChat inside one folder.

The backups are built here the way iOS writes them: Info.plist, Manifest.plist (with a keybag and
ManifestKey when encrypted), Manifest.db listing each file under sha1(domain-relativePath), files
stored as <2 hex>/<fileID>; an encrypted backup wraps every file key (RFC 3394) with a class key
that the password (PBKDF2-SHA256, then PBKDF2-SHA1) unlocks, and encrypts each file with
AES-256-CBC. The databases are built in memory (`serialize`) so that no plaintext copy of an
encrypted backup's content exists on disk, which the leak test then checks.
"""

from __future__ import annotations

import hashlib
import os
import plistlib
import sqlite3
import struct
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import zstandard
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from cryptography.hazmat.primitives.keywrap import aes_key_wrap

import importers
from importers.iphone_backup.manifest import Backup
from tests.conftest import FIXTURES
from tests.importers.test_imessage import SCHEMA, add_attachment, add_message, apple_ns, archived
from tests.importers.util import Parsed, parse
from vault.errors import AuthenticationError, ExportError
from vault.records import (
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    GROUP,
    IMAGE,
    VIDEO,
    Note,
)

UTC = timezone.utc
T0 = datetime(2024, 3, 14, 9, 0, 0, tzinfo=UTC)
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=UTC)
PASSWORD = "open sesame 开门"
CANARY = "CANARY-4b1e9d-警察"
WA = "AppDomainGroup-group.net.whatsapp.WhatsApp.shared"
WX = "AppDomain-com.tencent.xin"
WX_ACCOUNT = hashlib.md5(b"wxid_owner").hexdigest()
PHOTO = b"\xff\xd8\xff\xe0 wa photo bytes"
SMS_PHOTO = b"\xff\xd8\xff\xe0 sms photo"
WX_PIC = b"\xff\xd8\xff\xe0 wechat pic"


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def apple(seconds: int) -> float:
    return (at(seconds) - APPLE_EPOCH).total_seconds()


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


# --- protobuf writer (for ZMETADATA, ZRECEIPTINFO, dbContactRemark) --------------------------


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


# --- the backup writer ------------------------------------------------------------------------


def memory_db(build: Callable[[sqlite3.Connection], None]) -> bytes:
    conn = sqlite3.connect(":memory:")
    build(conn)
    conn.commit()
    data = conn.serialize()
    conn.close()
    return data


def _encrypt(data: bytes, key: bytes) -> bytes:
    padder = padding.PKCS7(128).padder()
    padded = padder.update(data) + padder.finalize()
    enc = Cipher(algorithms.AES(key), modes.CBC(b"\x00" * 16)).encryptor()
    return enc.update(padded) + enc.finalize()


def _tlv(tag: bytes, value: bytes | int) -> bytes:
    data = struct.pack(">L", value) if isinstance(value, int) else value
    return tag + struct.pack(">L", len(data)) + data


def _pbkdf2(algorithm: hashes.HashAlgorithm, secret: bytes, salt: bytes, rounds: int) -> bytes:
    return PBKDF2HMAC(algorithm=algorithm, length=32, salt=salt, iterations=rounds).derive(secret)


class BackupWriter:
    """Writes a backup folder the way Finder does (iOS 10+ layout)."""

    PROTECTION_CLASS = 3

    def __init__(self, root: Path, password: str | None = None) -> None:
        self.root = root
        root.mkdir(parents=True)
        self.password = password
        self.rows: list[tuple[str, str, str, int, bytes]] = []
        self.class_keys = {c: os.urandom(32) for c in (1, 2, 3, 4)} if password else {}

    def add(self, domain: str, rel: str, data: bytes, *, stored: bool = True) -> str:
        fid = hashlib.sha1(f"{domain}-{rel}".encode()).hexdigest()
        wrapped = None
        payload = data
        if self.password:
            key = os.urandom(32)
            wrapped = aes_key_wrap(self.class_keys[self.PROTECTION_CLASS], key)
            payload = _encrypt(data, key)
        if stored:
            target = self.root / fid[:2] / fid
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(payload)
        self.rows.append((fid, domain, rel, 1, self._file_record(rel, len(data), wrapped)))
        return fid

    def _file_record(self, rel: str, size: int, wrapped: bytes | None) -> bytes:
        root: dict[str, object] = {
            "$class": plistlib.UID(3),
            "RelativePath": plistlib.UID(2),
            "Size": size,
            "ProtectionClass": self.PROTECTION_CLASS,
            "Mode": 0o100644,
            "LastModified": 1710406800,
        }
        objects: list[object] = ["$null", root, rel, {"$classname": "MBFile", "$classes": ["MBFile", "NSObject"]}]
        if wrapped is not None:
            root["EncryptionKey"] = plistlib.UID(4)
            objects.append({"$class": plistlib.UID(5), "NS.data": struct.pack("<L", self.PROTECTION_CLASS) + wrapped})
            objects.append({"$classname": "NSMutableData", "$classes": ["NSMutableData", "NSData", "NSObject"]})
        archive = {
            "$version": 100000,
            "$archiver": "NSKeyedArchiver",
            "$top": {"root": plistlib.UID(1)},
            "$objects": objects,
        }
        return plistlib.dumps(archive, fmt=plistlib.FMT_BINARY)

    def _keybag(self) -> tuple[bytes, bytes, bytes]:
        assert self.password
        dpsl, salt = os.urandom(20), os.urandom(20)
        round1 = _pbkdf2(hashes.SHA256(), self.password.encode(), dpsl, 1)
        passphrase_key = _pbkdf2(hashes.SHA1(), round1, salt, 1)
        blob = _tlv(b"VERS", 4) + _tlv(b"TYPE", 1) + _tlv(b"UUID", os.urandom(16)) + _tlv(b"HMCK", os.urandom(40))
        blob += _tlv(b"WRAP", 0) + _tlv(b"SALT", salt) + _tlv(b"ITER", 1) + _tlv(b"DPWT", 1)
        blob += _tlv(b"DPIC", 1) + _tlv(b"DPSL", dpsl)
        for number, key in self.class_keys.items():
            blob += _tlv(b"UUID", os.urandom(16)) + _tlv(b"CLAS", number) + _tlv(b"WRAP", 2) + _tlv(b"KTYP", 0)
            blob += _tlv(b"WPKY", aes_key_wrap(passphrase_key, key))
        manifest_key = os.urandom(32)
        field = struct.pack("<l", self.PROTECTION_CLASS) + aes_key_wrap(
            self.class_keys[self.PROTECTION_CLASS], manifest_key
        )
        return blob, field, manifest_key

    def finish(self) -> Path:
        def build(conn: sqlite3.Connection) -> None:
            conn.execute(
                "CREATE TABLE Files (fileID TEXT PRIMARY KEY, domain TEXT, relativePath TEXT, flags INTEGER, file BLOB)"
            )
            conn.execute("CREATE TABLE Properties (key TEXT PRIMARY KEY, value BLOB)")
            conn.executemany("INSERT INTO Files VALUES (?, ?, ?, ?, ?)", self.rows)
            conn.execute("INSERT INTO Files VALUES (?, 'HomeDomain', 'Library/SMS', 2, NULL)", ("f" * 40,))

        index = memory_db(build)
        manifest: dict[str, object] = {
            "Version": "10.0",
            "Date": datetime(2024, 3, 15, tzinfo=UTC).replace(tzinfo=None),
            "SystemDomainsVersion": "24.0",
            "WasPasscodeSet": True,
            "Lockdown": {"ProductVersion": "17.4", "DeviceName": "Test iPhone"},
            "Applications": {"net.whatsapp.WhatsApp": {}, "com.tencent.xin": {}},
            "IsEncrypted": bool(self.password),
        }
        if self.password:
            blob, field, manifest_key = self._keybag()
            manifest.update(BackupKeyBag=blob, ManifestKey=field)
            index = _encrypt(index, manifest_key)
        (self.root / "Manifest.db").write_bytes(index)
        (self.root / "Manifest.plist").write_bytes(plistlib.dumps(manifest, fmt=plistlib.FMT_BINARY))
        info = {"Device Name": "Test iPhone", "Product Version": "17.4", "Unique Identifier": self.root.name}
        (self.root / "Info.plist").write_bytes(plistlib.dumps(info))
        (self.root / "Status.plist").write_bytes(plistlib.dumps({"IsFullBackup": False, "Version": "3.3"}))
        return self.root


# --- the apps' databases ----------------------------------------------------------------------

GROUP_JID = "120363012345@g.us"
AHMED = "4915111111@s.whatsapp.net"
LI = "8613800138000@s.whatsapp.net"
ZOE = "33612345678@s.whatsapp.net"


def whatsapp_db(conn: sqlite3.Connection) -> None:
    conn.executescript(
        """
        CREATE TABLE ZWACHATSESSION (Z_PK INTEGER PRIMARY KEY, ZCONTACTJID VARCHAR, ZPARTNERNAME VARCHAR,
            ZSESSIONTYPE INTEGER, ZLASTMESSAGEDATE TIMESTAMP);
        CREATE TABLE ZWAGROUPMEMBER (Z_PK INTEGER PRIMARY KEY, ZCHATSESSION INTEGER, ZMEMBERJID VARCHAR,
            ZCONTACTNAME VARCHAR);
        CREATE TABLE ZWAMEDIAITEM (Z_PK INTEGER PRIMARY KEY, ZMESSAGE INTEGER, ZMEDIALOCALPATH VARCHAR,
            ZTITLE VARCHAR, ZFILESIZE INTEGER, ZVCARDSTRING VARCHAR, ZMETADATA BLOB, ZLATITUDE FLOAT,
            ZLONGITUDE FLOAT);
        CREATE TABLE ZWAMESSAGE (Z_PK INTEGER PRIMARY KEY, ZCHATSESSION INTEGER, ZISFROMME INTEGER,
            ZFROMJID VARCHAR, ZTOJID VARCHAR, ZTEXT VARCHAR, ZMESSAGEDATE TIMESTAMP, ZMESSAGETYPE INTEGER,
            ZGROUPEVENTTYPE INTEGER, ZGROUPMEMBER INTEGER, ZSTANZAID VARCHAR, ZMEDIAITEM INTEGER);
        CREATE TABLE ZWAMESSAGEINFO (Z_PK INTEGER PRIMARY KEY, ZMESSAGE INTEGER, ZRECEIPTINFO BLOB);
        CREATE TABLE ZWAPROFILEPUSHNAME (Z_PK INTEGER PRIMARY KEY, ZJID VARCHAR, ZPUSHNAME VARCHAR);
        """
    )
    conn.executemany(
        "INSERT INTO ZWACHATSESSION VALUES (?, ?, ?, ?, 0)",
        [(1, GROUP_JID, "家庭群 Family", 1), (2, AHMED, "Ahmed أحمد", 0), (3, "status@broadcast", "Status", 3)],
    )
    conn.executemany(
        "INSERT INTO ZWAGROUPMEMBER VALUES (?, 1, ?, ?)",
        [(1, AHMED, "Ahmed أحمد"), (2, LI, "李雷"), (3, ZOE, None)],
    )
    conn.execute("INSERT INTO ZWAPROFILEPUSHNAME VALUES (1, ?, 'Zoé')", (ZOE,))
    reply_meta = pb(5, "STANZA-A2") + pb(6, LI)
    conn.executemany(
        "INSERT INTO ZWAMEDIAITEM VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
        [
            (1, 3, f"Media/{GROUP_JID}/a/b/photo-1.jpg", "照片 caption", len(PHOTO), "image/jpeg", None),
            (2, 5, f"Media/{GROUP_JID}/c/d/clip.mp4", None, 123456, "video/mp4", None),
            (3, 4, None, None, None, None, reply_meta),
        ],
    )
    g, d = 1, 2
    rows = [
        # pk, session, from_me, from_jid, text, t, type, event_type, member, stanza, media
        (1, g, 0, GROUP_JID, "مرحبا بالجميع", 0, 0, 0, 1, "STANZA-A1", None),
        (2, g, 0, GROUP_JID, "警察来了，快跑", 60, 0, 0, 2, "STANZA-A2", None),
        (3, g, 0, GROUP_JID, None, 120, 1, 0, 3, "STANZA-A3", 1),
        (4, g, 1, None, f"我也看到了 {CANARY}", 180, 0, 0, None, "STANZA-A4", 3),
        (5, g, 1, None, None, 240, 2, 0, None, "STANZA-A5", 2),
        (6, g, 0, GROUP_JID, None, 300, 14, 0, 3, "STANZA-A6", None),
        (7, g, 0, GROUP_JID, None, 360, 6, 2, 3, "STANZA-A7", None),
        (8, g, 0, GROUP_JID, "好", 420, 0, 0, 2, "STANZA-A8", None),
        (9, g, 0, GROUP_JID, "好", 420, 0, 0, 2, "STANZA-A9", None),
        (10, d, 0, AHMED, "שלום, מה נשמע?", 500, 0, 0, None, "STANZA-B1", None),
        (11, d, 0, AHMED, None, 600, 10, 1, None, "STANZA-B2", None),
        (12, d, 1, None, "ok 👍", 700, 0, 0, None, "STANZA-B3", None),
        (13, 3, 0, "x@s.whatsapp.net", "a status update", 800, 0, 0, None, "STANZA-S1", None),
    ]
    conn.executemany(
        "INSERT INTO ZWAMESSAGE VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?, ?, ?, ?)",
        [(pk, s, me, j, text, apple(t), ty, ev, mem, st, med) for pk, s, me, j, text, t, ty, ev, mem, st, med in rows],
    )
    t_ms = int(at(90).timestamp() * 1000)
    receipt = pb(7, pb(1, pb(2, AHMED) + pb(3, "👍") + pb(4, str(t_ms))) + pb(2, pb(2, "❤️") + pb(3, str(t_ms + 5000))))
    conn.execute("INSERT INTO ZWAMESSAGEINFO VALUES (1, 2, ?)", (receipt,))


def sms_db(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA.read_text(encoding="utf-8"))
    conn.executemany(
        "INSERT INTO handle (ROWID, id, service) VALUES (?, ?, ?)",
        [(1, "+15551230001", "iMessage"), (2, "+8613911112222", "SMS")],
    )
    conn.executemany(
        "INSERT INTO chat (ROWID, guid, style, chat_identifier, service_name, display_name) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (1, "iMessage;-;+15551230001", 45, "+15551230001", "iMessage", ""),
            (2, "SMS;-;+8613911112222", 45, "+8613911112222", "SMS", ""),
        ],
    )
    conn.executemany("INSERT INTO chat_handle_join VALUES (?, ?)", [(1, 1), (2, 2)])
    add_message(conn, 1, "IM-1", 1, handle_id=1, text="Hi from the phone", date=apple_ns(at(1000)))
    add_message(conn, 2, "IM-2", 1, is_from_me=1, text="\ufffc", date=apple_ns(at(1010)))
    add_attachment(
        conn,
        1,
        2,
        guid="AT-1",
        filename="~/Library/SMS/Attachments/0a/10/AT-1/IMG_0002.jpeg",
        mime_type="image/jpeg",
        transfer_name="IMG_0002.jpeg",
        total_bytes=len(SMS_PHOTO),
    )
    add_message(conn, 3, "IM-3", 1, handle_id=1, text="reply!", date=apple_ns(at(1020)), thread_originator_guid="IM-1")
    add_message(
        conn,
        4,
        "IM-4",
        1,
        handle_id=1,
        text=None,
        attributedBody=archived("edited text"),
        date=apple_ns(at(1030)),
        date_edited=apple_ns(at(1040)),
    )
    add_message(
        conn,
        5,
        "TB-1",
        1,
        handle_id=1,
        date=apple_ns(at(1050)),
        associated_message_type=2001,
        associated_message_guid="p:0/IM-1",
    )
    add_message(
        conn, 6, "SMS-1", 2, handle_id=2, text="您的验证码是 1234，警察局提醒", date=apple_ns(at(1100)), service="SMS"
    )


FRIENDS = {
    "wxid_owner": ("Owner", None),
    "wxid_wang": ("王芳", "小王"),
    "wxid_omar": ("عمر", None),
    "wxid_liu": ("刘洋", None),
    "555@chatroom": ("周末爬山群", None),
}


def wechat_contacts(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE Friend (userName TEXT PRIMARY KEY, type INTEGER, dbContactRemark BLOB, dbContactChatRoom BLOB)"
    )
    for user, (nick, remark) in FRIENDS.items():
        blob = pb(1, nick) + pb(2, "") + (pb(3, remark) if remark else b"")
        conn.execute("INSERT INTO Friend VALUES (?, 3, ?, NULL)", (user, blob))


def _chat_table(conn: sqlite3.Connection, user: str) -> str:
    table = f"Chat_{md5(user)}"
    conn.execute(
        f"CREATE TABLE {table} (TableVer INTEGER DEFAULT 1, MesLocalID INTEGER PRIMARY KEY AUTOINCREMENT,"
        " MesSvrID INTEGER DEFAULT 0, CreateTime INTEGER DEFAULT 0, Message TEXT, Status INTEGER DEFAULT 0,"
        " ImgStatus INTEGER DEFAULT 0, Type INTEGER, Des INTEGER)"
    )
    return table


def _insert_wechat(conn: sqlite3.Connection, table: str, rows: list[tuple[int, int, int, object, int, int]]) -> None:
    """Rows of (MesLocalID, MesSvrID, seconds after T0, Message, Type, Des); CreateTime in Unix seconds."""
    conn.executemany(
        f"INSERT INTO {table} (MesLocalID, MesSvrID, CreateTime, Message, Type, Des) VALUES (?, ?, ?, ?, ?, ?)",
        [(local, svr, int(at(t).timestamp()), body, ty, des) for local, svr, t, body, ty, des in rows],
    )


def wechat_mm(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE Friend (userName TEXT PRIMARY KEY, dbContactRemark BLOB)")  # older layout, empty here
    table = _chat_table(conn, "wxid_wang")
    rows: list[tuple[int, int, int, object, int, int]] = [
        (1, 7001001, 2000, "你好，明天见", 1, 1),
        (2, 7001002, 2010, "好的", 1, 0),
        (3, 7001003, 2020, "<msg><img length='10'/></msg>", 3, 1),
        (
            4,
            7001004,
            2030,
            "<voipmsg type='VoIPBubbleMsg'><VoIPBubbleMsg><msg><![CDATA[通话时长 00:42]]></msg>"
            "</VoIPBubbleMsg></voipmsg>",
            50,
            0,
        ),
    ]
    _insert_wechat(conn, table, rows)


def wechat_message_1(conn: sqlite3.Connection) -> None:
    table = _chat_table(conn, "555@chatroom")
    quote = (
        "<msg><appmsg><title>同意</title><type>57</type><refermsg><svrid>8001001</svrid>"
        "<fromusr>555@chatroom</fromusr><chatusr>wxid_liu</chatusr><displayname>刘洋</displayname>"
        "<content>警察</content></refermsg></appmsg></msg>"
    )
    compressed = zstandard.ZstdCompressor().compress("wxid_omar:\nمرحبا 你们好 (zstd)".encode())
    rows: list[tuple[int, int, int, object, int, int]] = [
        (1, 8001001, 3000, "wxid_liu:\n警察同志你好", 1, 1),
        (2, 8001002, 3010, compressed, 1, 1),
        (3, 8001003, 3020, "wxid_wang:\n" + quote, 49, 1),
        (4, 8001004, 3030, "我来了", 1, 0),
        (
            5,
            8001005,
            3040,
            "<sysmsg type='revokemsg'><revokemsg><replacemsg><![CDATA[\"刘洋\" 撤回了一条消息]]>"
            "</replacemsg></revokemsg></sysmsg>",
            10002,
            1,
        ),
        (6, 8001006, 3050, '"王芳"邀请"刘洋"加入了群聊', 10000, 1),
        (7, 8001007, 3060, "wxid_liu:\n哈哈", 1, 1),
        (8, 8001008, 3060, "wxid_liu:\n哈哈", 1, 1),
        (9, 8001009, 3070, "wxid_wang:\n<msg><img length='20'/></msg>", 3, 1),
    ]
    _insert_wechat(conn, table, rows)


def write_backup(root: Path, password: str | None = None) -> Path:
    w = BackupWriter(root, password)
    w.add(WA, "ChatStorage.sqlite", memory_db(whatsapp_db))
    w.add(WA, f"Message/Media/{GROUP_JID}/a/b/photo-1.jpg", PHOTO)
    w.add(WA, f"Message/Media/{GROUP_JID}/c/d/clip.mp4", b"", stored=False)  # listed, not stored
    w.add("HomeDomain", "Library/SMS/sms.db", memory_db(sms_db))
    w.add("MediaDomain", "Library/SMS/Attachments/0a/10/AT-1/IMG_0002.jpeg", SMS_PHOTO)
    base = f"Documents/{WX_ACCOUNT}"
    w.add(WX, f"{base}/DB/WCDB_Contact.sqlite", memory_db(wechat_contacts))
    w.add(WX, f"{base}/DB/MM.sqlite", memory_db(wechat_mm))
    w.add(WX, f"{base}/DB/message_1.sqlite", memory_db(wechat_message_1))
    w.add(WX, f"{base}/Img/{md5('wxid_wang')}/3.pic", WX_PIC)
    w.add("AppDomainGroup-group.ph.telegra.Telegraph", "telegram-data/db", b"x" * 32)
    w.add("AppDomain-com.example.notes", "Documents/notes.db", b"y" * 32)
    w.add("CameraRollDomain", "Media/DCIM/100APPLE/IMG_0001.HEIC", b"z" * 32)
    return w.finish()


@pytest.fixture(scope="module")
def plain_backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_backup(tmp_path_factory.mktemp("mobilesync") / "00008030-001A2B3C4D5E802E")


@pytest.fixture(scope="module")
def plain_parsed(plain_backup: Path) -> Parsed:
    return parse(plain_backup, "iphone-backup")


def _by_source(parsed: Parsed, source: str) -> tuple[set[str], list]:  # type: ignore[type-arg]
    keys = {c.key for c in parsed.chats if c.source == source}
    return keys, [m for m in parsed.messages if m.chat in keys]


def _events(parsed: Parsed, keys: set[str]) -> list:  # type: ignore[type-arg]
    return [e for e in parsed.events if e.chat in keys]


def _read_all(att) -> bytes:  # type: ignore[no-untyped-def]
    assert att.open is not None
    with att.open() as fh:
        return bytes(fh.read())


# --- WhatsApp ---------------------------------------------------------------------------------


def test_whatsapp_chats_senders_times(plain_parsed: Parsed) -> None:
    keys, msgs = _by_source(plain_parsed, "whatsapp")
    assert keys == {GROUP_JID, AHMED}  # status@broadcast is not a conversation
    group = next(c for c in plain_parsed.chats if c.key == GROUP_JID)
    assert (group.title, group.kind) == ("家庭群 Family", GROUP)
    assert set(group.participants) == {"Ahmed أحمد", "李雷", "Zoé"}
    direct = next(c for c in plain_parsed.chats if c.key == AHMED)
    assert (direct.title, direct.kind) == ("Ahmed أحمد", DIRECT)
    assert len(msgs) == 10
    assert len(_events(plain_parsed, keys)) == 2
    in_group = [m for m in msgs if m.chat == GROUP_JID]
    assert [m.sender for m in in_group] == ["Ahmed أحمد", "李雷", "Zoé", "me", "me", "Zoé", "李雷", "李雷"]
    assert [m.source_id for m in in_group][:3] == ["STANZA-A1", "STANZA-A2", "STANZA-A3"]
    assert in_group[0].text == "مرحبا بالجميع" and in_group[0].ts == at(0) and in_group[0].ts.tzinfo is not None
    assert in_group[1].sender_id == LI and in_group[1].ts == at(60)
    assert in_group[3].from_me is True and in_group[3].sender_id is None
    hebrew = next(m for m in msgs if m.source_id == "STANZA-B1")
    assert (hebrew.sender, hebrew.text, hebrew.ts) == ("Ahmed أحمد", "שלום, מה נשמע?", at(500))


def test_whatsapp_media_reply_reactions_deleted_events(plain_parsed: Parsed) -> None:
    _keys, msgs = _by_source(plain_parsed, "whatsapp")
    by_id = {m.source_id: m for m in msgs}
    photo = by_id["STANZA-A3"]
    assert photo.kind == IMAGE and photo.text == "照片 caption"
    (att,) = photo.attachments
    assert (att.name, att.mime, att.size) == ("photo-1.jpg", "image/jpeg", len(PHOTO))
    assert _read_all(att) == PHOTO
    video = by_id["STANZA-A5"]
    assert video.kind == VIDEO and video.attachments[0].name == "clip.mp4" and video.attachments[0].open is None
    assert by_id["STANZA-A4"].reply_to == "STANZA-A2"
    reactions = {(r.emoji, r.sender) for r in by_id["STANZA-A2"].reactions}
    assert reactions == {("👍", "Ahmed أحمد"), ("❤️", "me")}
    assert by_id["STANZA-A2"].reactions[0].ts == at(90)
    assert by_id["STANZA-A6"].kind == DELETED and by_id["STANZA-A6"].text == ""
    twins = [m for m in msgs if m.text == "好"]
    assert len(twins) == 2 and twins[0].ts == twins[1].ts
    join = next(e for e in plain_parsed.events if e.source_id == "STANZA-A7")
    assert (join.kind, join.actor, join.ts) == (EV_JOIN, "Zoé", at(360))
    call = next(e for e in plain_parsed.events if e.source_id == "STANZA-B2")
    assert call.kind == EV_CALL and call.extra["duration_s"] == 0 and call.chat == AHMED


# --- Messages ---------------------------------------------------------------------------------


def test_sms_db_read_through_the_imessage_reader(plain_parsed: Parsed) -> None:
    keys, msgs = _by_source(plain_parsed, "imessage")
    assert keys == {"iMessage;-;+15551230001", "SMS;-;+8613911112222"}
    assert [m.source_id for m in msgs] == ["IM-1", "IM-2", "IM-3", "IM-4", "SMS-1"]
    by_id = {m.source_id: m for m in msgs}
    assert by_id["IM-1"].sender == "+15551230001" and by_id["IM-1"].ts == at(1000)
    assert [(r.emoji, r.sender) for r in by_id["IM-1"].reactions] == [("👍", "+15551230001")]
    assert by_id["IM-2"].from_me is True and by_id["IM-2"].kind == IMAGE
    (att,) = by_id["IM-2"].attachments
    assert att.name == "IMG_0002.jpeg" and _read_all(att) == SMS_PHOTO  # from MediaDomain
    assert by_id["IM-3"].reply_to == "IM-1"
    assert by_id["IM-4"].text == "edited text" and by_id["IM-4"].edited == at(1040)
    assert "警察" in by_id["SMS-1"].text


# --- WeChat -----------------------------------------------------------------------------------


def test_wechat_accounts_contacts_zstd_quotes(plain_parsed: Parsed) -> None:
    keys, msgs = _by_source(plain_parsed, "wechat")
    assert keys == {"wxid_wang", "555@chatroom"}  # the username, as the desktop readers key it
    titles = {c.key: c.title for c in plain_parsed.chats if c.source == "wechat"}
    assert titles == {"wxid_wang": "小王", "555@chatroom": "周末爬山群"}  # remark over nickname
    assert len(msgs) == 11 and len(_events(plain_parsed, keys)) == 2  # the call is an event
    by_id = {m.source_id: m for m in msgs}
    assert by_id["7001001"].sender == "小王" and by_id["7001001"].ts == at(2000)
    assert by_id["7001002"].from_me is True and by_id["7001002"].sender == "me"
    zstd = by_id["8001002"]
    assert (zstd.sender, zstd.sender_id, zstd.text) == ("عمر", "wxid_omar", "مرحبا 你们好 (zstd)")
    assert by_id["8001001"].sender == "刘洋" and by_id["8001001"].text == "警察同志你好"
    assert by_id["8001003"].reply_to == "8001001" and by_id["8001003"].text == "同意"
    assert by_id["8001005"].kind == DELETED
    pic = by_id["7001003"]
    assert pic.kind == IMAGE and _read_all(pic.attachments[0]) == WX_PIC
    assert by_id["8001009"].attachments[0].open is None  # named, not in the backup
    (call,) = [e for e in _events(plain_parsed, keys) if e.source_id == "7001004"]  # a call event
    assert (call.kind, call.text, call.extra["duration_s"]) == (EV_CALL, "通话时长 00:42", 42)
    twins = [m for m in msgs if m.text == "哈哈"]
    assert len(twins) == 2 and twins[0].ts == twins[1].ts and twins[0].source_id != twins[1].source_id
    (join,) = [e for e in _events(plain_parsed, keys) if e.kind != EV_CALL]
    assert join.kind == EV_JOIN and join.ts == at(3050)


def test_wechat_reader_is_callable_alone(plain_backup: Path) -> None:
    from importers.iphone_backup import wechat

    backup = Backup.open(plain_backup, None)
    try:
        records = list(wechat.read(backup))
    finally:
        backup.close()
    assert sum(1 for r in records if type(r).__name__ == "Message") == 11


def test_notes_say_what_was_read_and_skipped(plain_parsed: Parsed) -> None:
    notes = [n.text for n in plain_parsed.notes]
    assert "WhatsApp: 2 chats, 10 messages, 2 events" in notes
    assert "Messages (iMessage/SMS): 2 chats, 5 messages, 0 events" in notes
    assert "WeChat: 2 chats, 11 messages, 2 events" in notes
    assert "not read (not supported inside a backup): Telegram" in notes
    assert "1 other apps in the backup hold no chats this importer reads" in notes
    assert "WhatsApp: status updates were not imported" in notes
    assert not any("-wal" in n for n in notes)
    assert not plain_parsed.problems


# --- into a real vault ------------------------------------------------------------------------


def test_import_into_vault_search_and_reimport(new_vault, plain_backup: Path) -> None:  # type: ignore[no-untyped-def]
    r1 = new_vault.import_path(plain_backup)
    assert r1.format == "iphone-backup" and r1.error is None
    assert (r1.chats, r1.added, r1.events, r1.attachments) == (6, 26, 4, 3)
    sources = {h["source"] for h in new_vault.search("警察", limit=None)}
    assert sources == {"whatsapp", "imessage", "wechat"}
    texts = sorted(h["text"] for h in new_vault.search("警察", limit=None))
    assert "警察来了，快跑" in texts and "警察同志你好" in texts
    assert [h["sender"] for h in new_vault.search("مرحبا بالجميع", limit=None)] == ["Ahmed أحمد"]
    r2 = new_vault.import_path(plain_backup)
    assert (r2.added, r2.duplicates) == (0, 30)  # 26 messages and 4 events already there
    assert new_vault.counts()["messages"] == 26


# --- an encrypted backup ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def encrypted_backup(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_backup(tmp_path_factory.mktemp("mobilesync-enc") / "00008110-000E1D2C3B4A001E", PASSWORD)


def _comparable(parsed: Parsed) -> list[tuple[object, ...]]:
    out: list[tuple[object, ...]] = []
    for m in parsed.messages:
        out.append((m.chat, m.ts, m.sender, m.text, m.kind, m.source_id, m.reply_to, len(m.attachments)))
    out.extend((e.chat, e.ts, e.text, e.kind) for e in parsed.events)
    return out


def test_encrypted_backup_reads_the_same_as_a_plain_one(encrypted_backup: Path, plain_parsed: Parsed) -> None:
    raw = (encrypted_backup / "Manifest.db").read_bytes()
    assert not raw.startswith(b"SQLite format 3")  # really encrypted, index included
    parsed = parse(encrypted_backup, "iphone-backup", keys={"iphone-backup": PASSWORD})
    assert _comparable(parsed) == _comparable(plain_parsed)
    assert "the backup is encrypted; it was decrypted in memory only" in [n.text for n in parsed.notes]
    photo = next(m for m in parsed.messages if m.source_id == "STANZA-A3")
    assert _read_all(photo.attachments[0]) == PHOTO  # decrypted as it is read
    zstd = next(m for m in parsed.messages if m.source_id == "8001002")
    assert zstd.text == "مرحبا 你们好 (zstd)"


def test_big_encrypted_media_streams_across_chunks(tmp_path: Path) -> None:
    from importers.iphone_backup.crypto import open_decrypting

    key = os.urandom(32)
    data = os.urandom(600_000) + b"tail"
    p = tmp_path / "blob"
    p.write_bytes(_encrypt(data, key))
    with open_decrypting(p, key) as fh:
        assert fh.read(10) == data[:10]
        assert fh.read() == data[10:]


def test_encrypted_backup_without_password_says_what_to_do(encrypted_backup: Path) -> None:
    with pytest.raises(ExportError, match="--iphone-backup-password"):
        parse(encrypted_backup, "iphone-backup")


def test_wrong_password_is_an_authentication_error(encrypted_backup: Path) -> None:
    with pytest.raises(AuthenticationError) as info:
        parse(encrypted_backup, "iphone-backup", keys={"iphone-backup": "not it"})
    assert "not it" not in str(info.value)


def test_wrong_password_exits_3_and_writes_nothing(cli_vault, encrypted_backup: Path) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import cli

    env = {**cli_vault, "TALKVAULT_IPHONE_BACKUP_PASSWORD": "wrong"}
    r = cli("import", str(encrypted_backup), "--json", env=env)
    assert r.code == 3, r.err
    assert "backup password is wrong" in r.err and "Traceback" not in r.err and "wrong\n" not in r.err
    r = cli("chats", "--json", env=cli_vault)
    assert r.code == 0 and r.json() == []


def test_encrypted_import_leaves_no_plaintext_on_disk(  # type: ignore[no-untyped-def]
    cli_vault, encrypted_backup: Path, tmp_path: Path, hermetic: Path
) -> None:
    from tests.conftest import cli

    env = {**cli_vault, "TALKVAULT_IPHONE_BACKUP_PASSWORD": PASSWORD}
    r = cli("import", str(encrypted_backup), "--json", env=env)
    assert r.code == 0, r.err
    assert r.json()["files"][0]["added"] == 26
    hits = cli("search", "CANARY", "--json", env=cli_vault).json()
    assert [h["sender"] for h in hits] == ["me"]  # it went in
    canaries = (CANARY.encode(), "警察同志你好".encode(), PHOTO, "שלום".encode())
    scanned = 0
    for top in {tmp_path, hermetic, encrypted_backup.parent}:
        for f in top.rglob("*"):
            if f.is_file():
                scanned += 1
                data = f.read_bytes()
                assert not any(c in data for c in canaries), f
    assert scanned > 10


# --- detection and damage ---------------------------------------------------------------------


def test_detected_as_a_backup_and_by_nothing_else(plain_backup: Path, encrypted_backup: Path) -> None:
    for path in (plain_backup, encrypted_backup, plain_backup / "Manifest.db", plain_backup / "Manifest.plist"):
        assert importers.detect(path).name == "iphone-backup"
    others = [f for f in importers.formats() if f.name != "iphone-backup"]
    for f in others:
        assert not f.detect(encrypted_backup), f.name
    # The plain backup holds sms.db under its hashed name, yet imessage leaves the whole backup
    # to iphone-backup (it still reads that one file when given it, or with --format imessage).
    assert [f.name for f in others if f.detect(plain_backup)] == []
    sms = plain_backup / "3d" / "3d0d7e5fb2ce288813306e4d4636395e047a3d28"
    assert importers.detect(sms).name == "imessage"
    assert len(parse(plain_backup, "imessage").messages) == 5
    assert importers.exports_in(plain_backup.parent) == [plain_backup]  # MobileSync/Backup/


def test_no_repository_fixture_is_taken_for_a_backup() -> None:
    fmt = importers.get("iphone-backup")
    paths = [FIXTURES, *FIXTURES.rglob("*")]
    assert len(paths) > 20
    assert [p for p in paths if fmt.detect(p)] == []


def test_manifest_db_that_is_not_a_database_is_a_clean_error(tmp_path: Path) -> None:
    root = write_backup(tmp_path / "b")
    (root / "Manifest.db").write_bytes(b"garbage" * 100)
    with pytest.raises(ExportError, match=r"Manifest\.db") as info:
        parse(root, "iphone-backup")
    assert "Manifest.db" in (info.value.path or "")


def test_a_damaged_app_database_is_a_problem_and_the_rest_imports(tmp_path: Path) -> None:
    root = write_backup(tmp_path / "b")
    fid = hashlib.sha1(f"{WA}-ChatStorage.sqlite".encode()).hexdigest()
    (root / fid[:2] / fid).write_bytes(b"SQLite format 3\x00" + b"\x00" * 200)
    parsed = parse(root, "iphone-backup")
    assert [p.path for p in parsed.problems] == ["WhatsApp"]
    assert not any(c.source == "whatsapp" for c in parsed.chats)
    assert len([m for m in parsed.messages]) == 16  # Messages and WeChat still read


def test_an_unsaved_write_ahead_log_is_noted(tmp_path: Path) -> None:
    w = BackupWriter(tmp_path / "b")
    w.add(WA, "ChatStorage.sqlite", memory_db(whatsapp_db))
    w.add(WA, "ChatStorage.sqlite-wal", b"\x37\x7f\x06\x82" + b"\x00" * 60)
    notes = [n.text for n in parse(w.finish(), "iphone-backup").notes]
    assert "WhatsApp/ChatStorage.sqlite-wal was not read: the newest messages may be missing" in notes


def test_a_bad_record_is_a_problem(tmp_path: Path) -> None:
    w = BackupWriter(tmp_path / "b")

    def broken(conn: sqlite3.Connection) -> None:
        whatsapp_db(conn)
        conn.execute("UPDATE ZWAMESSAGE SET ZMESSAGEDATE = NULL WHERE Z_PK = 2")

    w.add(WA, "ChatStorage.sqlite", memory_db(broken))
    parsed = parse(w.finish(), "iphone-backup")
    assert len(parsed.problems) == 1 and "row 2" in parsed.problems[0].message
    assert "警察" not in str(parsed.problems[0])
    assert len(parsed.messages) == 9


def test_old_or_foreign_folders_are_not_backups(tmp_path: Path) -> None:
    fmt = importers.get("iphone-backup")
    d = tmp_path / "x"
    d.mkdir()
    (d / "Manifest.plist").write_bytes(plistlib.dumps({"Name": "a game manifest"}))
    (d / "Manifest.db").write_bytes(b"")
    assert not fmt.detect(d)
    (d / "Manifest.plist").write_bytes(b"\x00\x01")
    assert not fmt.detect(d)
    assert not fmt.detect(tmp_path / "missing")
    assert isinstance(Note("x"), Note)


def test_in_memory_database_saved_in_wal_mode_opens_read_only() -> None:
    from importers.iphone_backup.manifest import deserialized

    data = bytearray(memory_db(lambda c: c.executescript("CREATE TABLE t(x); INSERT INTO t VALUES ('hi');")))
    data[18] = data[19] = 2  # the header of a database iOS left in WAL mode
    conn = deserialized(bytes(data))
    assert conn.execute("SELECT x FROM t").fetchall() == [("hi",)]
    with pytest.raises(sqlite3.OperationalError):
        conn.execute("INSERT INTO t VALUES ('no')")
    with pytest.raises(Exception, match="SQLite"):
        deserialized(b"not a database")
