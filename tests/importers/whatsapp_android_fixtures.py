"""Small WhatsApp Android databases built from the real layouts: both msgstore schemas, wa.db, crypt15."""

from __future__ import annotations

import hashlib
import sqlite3
import zlib
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MEI = "4915110000001@s.whatsapp.net"
OMAR = "4915110000002@s.whatsapp.net"
ANA = "4915110000003@s.whatsapp.net"
ANA_LID = "99887766@lid"
GROUP = "120363000000001@g.us"
T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
KEY_HEX = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
WRONG_HEX = "ff" * 32


def _db(path: Path, script: str, rows: dict[str, list[tuple[object, ...]]]) -> Path:
    conn = sqlite3.connect(path)
    conn.executescript(script)
    for table, values in rows.items():
        for row in values:
            conn.execute(f"INSERT INTO {table} VALUES ({', '.join('?' * len(row))})", row)
    conn.commit()
    conn.close()
    return path


MODERN = """
CREATE TABLE jid (_id INTEGER PRIMARY KEY, user TEXT, server TEXT, agent INTEGER, type INTEGER, raw_string TEXT);
CREATE TABLE jid_map (lid_row_id INTEGER PRIMARY KEY, jid_row_id INTEGER);
CREATE TABLE chat (_id INTEGER PRIMARY KEY, jid_row_id INTEGER UNIQUE, subject TEXT);
CREATE TABLE message (_id INTEGER PRIMARY KEY, chat_row_id INTEGER, from_me INTEGER, key_id TEXT,
  sender_jid_row_id INTEGER, status INTEGER, timestamp INTEGER, message_type INTEGER, text_data TEXT);
CREATE TABLE message_media (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, file_path TEXT,
  mime_type TEXT, media_caption TEXT, media_name TEXT);
CREATE TABLE message_quoted (message_row_id INTEGER PRIMARY KEY, chat_row_id INTEGER, from_me INTEGER, key_id TEXT);
CREATE TABLE message_system (message_row_id INTEGER PRIMARY KEY, action_type INTEGER);
CREATE TABLE message_edit_info (message_row_id INTEGER PRIMARY KEY, original_key_id TEXT, edited_timestamp INTEGER);
CREATE TABLE message_add_on (_id INTEGER PRIMARY KEY, chat_row_id INTEGER, from_me INTEGER, key_id TEXT,
  sender_jid_row_id INTEGER, parent_message_row_id INTEGER, timestamp INTEGER, message_add_on_type INTEGER);
CREATE TABLE message_add_on_reaction (message_add_on_row_id INTEGER PRIMARY KEY, reaction TEXT,
  sender_timestamp INTEGER);
CREATE TABLE call_log (_id INTEGER PRIMARY KEY, jid_row_id INTEGER, from_me INTEGER, call_id TEXT,
  transaction_id INTEGER, timestamp INTEGER, video_call INTEGER, duration INTEGER, call_result INTEGER);
"""


def modern_msgstore(path: Path) -> Path:
    """Two chats (Mei; a group of Mei, Omar and Ana), a status update, calls, reactions, a reply,
    an edit, a revoked message, a system entry, media present and missing, two identical "ok"s."""
    s = 1000
    return _db(
        path,
        MODERN,
        {
            "jid": [
                (1, "4915110000001", "s.whatsapp.net", 0, 0, MEI),
                (2, "4915110000002", "s.whatsapp.net", 0, 0, OMAR),
                (3, "4915110000003", "s.whatsapp.net", 0, 0, ANA),
                (4, "120363000000001", "g.us", 0, 1, GROUP),
                (5, "status", "broadcast", 0, 5, "status@broadcast"),
                (6, "99887766", "lid", 0, 17, ANA_LID),
            ],
            "jid_map": [(6, 3)],
            "chat": [(1, 1, None), (2, 4, "家庭 群组"), (3, 5, None)],
            "message": [
                (1, 1, 0, "K1", 0, 0, T0, 0, "你好，警察來了嗎？"),
                (2, 1, 1, "K2", 0, 13, T0 + 60 * s, 0, "لا، ليس بعد"),
                (3, 2, 0, "G1", 2, 0, T0 + 120 * s, 1, "a photo caption"),
                (4, 2, 0, "G2", 6, 0, T0 + 180 * s, 3, None),
                (5, 2, 1, "G3", 0, 13, T0 + 240 * s, 0, "ok"),
                (6, 2, 0, "G4", 2, 0, T0 + 300 * s, 0, "ok"),
                (7, 2, 0, "G5", 2, 0, T0 + 300 * s, 0, "ok"),
                (8, 2, 0, "G6", 1, 0, T0 + 360 * s, 15, None),
                (9, 2, 0, "G7", 1, 6, T0 + 420 * s, 7, "新名字"),
                (10, 1, 0, "K3", 0, 0, T0 + 480 * s, 0, "edited text"),
                (11, 3, 0, "S1", 1, 0, T0 + 500 * s, 0, "a status update"),
            ],
            "message_media": [
                (3, 2, "Media/WhatsApp Images/IMG-20231114-WA0001.jpg", "image/jpeg", None, None),
                (4, 2, "Media/WhatsApp Video/VID-20231114-WA0002.mp4", "video/mp4", None, None),
            ],
            "message_quoted": [(2, 1, 0, "K1")],
            "message_system": [(9, 1)],
            "message_edit_info": [(10, "K3", T0 + 490 * s)],
            "message_add_on": [(1, 1, 1, "R1", 0, 1, T0 + 70 * s, 56), (2, 2, 0, "R2", 1, 3, T0 + 130 * s, 56)],
            "message_add_on_reaction": [(1, "👍", T0 + 70 * s), (2, "❤️", T0 + 130 * s)],
            "call_log": [
                (1, 1, 0, "call-1", 0, T0 + 600 * s, 0, 65, 5),
                (2, 2, 1, "call-2", 0, T0 + 700 * s, 1, 0, 2),
            ],
        },
    )


LEGACY = """
CREATE TABLE messages (_id INTEGER PRIMARY KEY, key_remote_jid TEXT, key_from_me INTEGER, key_id TEXT,
  status INTEGER, data TEXT, timestamp INTEGER, media_wa_type TEXT, media_name TEXT, media_caption TEXT,
  remote_resource TEXT, quoted_row_id INTEGER);
CREATE TABLE messages_quotes (_id INTEGER PRIMARY KEY, key_remote_jid TEXT, key_from_me INTEGER, key_id TEXT);
CREATE TABLE chat_list (_id INTEGER PRIMARY KEY, key_remote_jid TEXT UNIQUE, subject TEXT);
"""


def legacy_msgstore(path: Path) -> Path:
    s = 1000
    return _db(
        path,
        LEGACY,
        {
            "messages": [
                (1, "-1", 0, "-1", -1, None, 0, "0", None, None, None, None),
                (2, GROUP, 0, "L2", 0, "老警察說", T0, "0", None, None, MEI, None),
                (3, GROUP, 1, "L3", 13, "reply", T0 + 60 * s, "0", None, None, None, 1),
                (4, GROUP, 0, "L4", 6, None, T0 + 120 * s, "0", None, None, OMAR, None),
                (5, OMAR, 0, "L5", 0, None, T0 + 180 * s, "1", "IMG-20190101-WA0007.jpg", "كلب", None, None),
            ],
            "messages_quotes": [(1, GROUP, 0, "L2")],
            "chat_list": [(1, GROUP, "Old group"), (2, OMAR, None)],
        },
    )


def wa_db(path: Path) -> Path:
    return _db(
        path,
        "CREATE TABLE wa_contacts (_id INTEGER PRIMARY KEY, jid TEXT, display_name TEXT, wa_name TEXT);",
        {"wa_contacts": [(1, MEI, "Mei 美", None), (2, OMAR, None, "عمر")]},
    )


def media_folder(whatsapp: Path) -> Path:
    """WhatsApp/Media with the group's photo (the video is missing) and the legacy chat's image."""
    images = whatsapp / "Media" / "WhatsApp Images"
    images.mkdir(parents=True)
    (images / "IMG-20231114-WA0001.jpg").write_bytes(b"\xff\xd8\xff\xe0photo")
    (images / "IMG-20190101-WA0007.jpg").write_bytes(b"\xff\xd8\xff\xe0legacy")
    return whatsapp / "Media"


def _proto_bytes(field: int, payload: bytes) -> bytes:
    assert len(payload) < 128
    return bytes([field << 3 | 2, len(payload)]) + payload


def crypt15(plain_db: Path, out: Path, key_hex: str = KEY_HEX) -> Path:
    """Encrypt a database the way WhatsApp writes msgstore.db.crypt15 (see importers/whatsapp/crypt.py)."""
    iv = bytes(range(16))
    prefix = b"\x08\x01" + _proto_bytes(3, _proto_bytes(1, iv))  # key_type = 1, e2ee_key_data.IV
    header = bytes([len(prefix)]) + b"\x01" + prefix
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"\x00" * 32, info=b"backup encryption").derive(
        bytes.fromhex(key_hex)
    )
    body = AESGCM(key).encrypt(iv, zlib.compress(plain_db.read_bytes()), None)
    data = header + body
    out.write_bytes(data + hashlib.md5(data).digest())
    return out


def crypt14_key_file(path: Path, key: bytes) -> Path:
    """A crypt14 `key` file: a Java-serialised byte[] of 131 bytes ending in the AES key."""
    array = b"\x00\x01" + b"\x01" + bytes(32) + bytes(16) + hashlib.sha256(bytes(16)).digest() + bytes(16) + key
    java = bytes.fromhex("aced0005757200025b42acf317f8060854e00200007870") + len(array).to_bytes(4, "big")
    path.write_bytes(java + array)
    return path


def crypt14(plain_db: Path, out: Path, key: bytes) -> Path:
    iv = bytes(range(16, 32))
    c14 = _proto_bytes(1, b"\x00\x01") + _proto_bytes(2, b"1") + _proto_bytes(3, bytes(32)) + _proto_bytes(5, iv)
    prefix = b"\x08\x00" + _proto_bytes(2, c14)
    header = bytes([len(prefix)]) + prefix  # no feature-table flag: an older backup
    body = AESGCM(key).encrypt(iv, zlib.compress(plain_db.read_bytes()), None)
    out.write_bytes(header + body)  # and no MD5 trailer
    return out
