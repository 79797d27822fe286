"""Android WeChat's `EnMicroMsg.db` (one database: messages, contacts and the owner's profile).

How a person gets it: on a rooted phone (or with `adb root`) from
`/data/data/com.tencent.mm/MicroMsg/<md5("mm" + uin)>/EnMicroMsg.db`. It is encrypted with
SQLCipher 1.x settings and a 7-character key, `md5(IMEI + uin)[:7]`; the person supplies the key
(`--wechat-key`) or the IMEI and uin (parameters `wechat_imei`, `wechat_uin`), or a copy already
decrypted with wechat-dump (formats/wechat.md §4). A note: the IMEI formula is reported unreliable
for WeChat 8 and later.

Tables read: `message` (`createTime` in milliseconds; `msgSvrId` the server's id; in groups the
content of others' messages starts with `<wxid>:\\n`; app messages carry combined 32-bit type
codes), `rcontact` (conRemark, nickname, alias), `chatroom` (members) and `userinfo` (id 2 =
the owner's wxid, id 4 = the owner's nickname).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from importers.wechat.chat_tables import table_message
from importers.wechat.common import (
    APP_LIVE_LOCATION,
    SOURCE,
    TYPE_APP,
    TYPE_STICKER,
    TYPE_SYSTEM,
    Names,
    RawMessage,
    aware_epoch,
    build_record,
    display_name,
    group_title,
    is_group,
    split_group_prefix,
)
from importers.wechat.databases.opening import (
    DAMAGED_REST,
    DatabaseReadError,
    Layout,
    Opener,
    each_database,
    query,
    tables_of,
)
from importers.wechat.media import MediaFinder
from vault.records import DIRECT, GROUP, Chat, Problem, Record

# userinfo ids (wechat-dump wechat/parser.py): the owner's wxid and nickname.
USERINFO_WXID = 2
USERINFO_NICKNAME = 4

# Combined type codes (ppwwyyxx/wechat-dump wechat/msg.py, corpus type table): app messages keep
# 49 in the low 16 bits; these two do not mean an app message.
ANDROID_CUSTOM_EMOJI = 1048625
ANDROID_LOCATION_SHARING = -1879048186
LOW16 = 0xFFFF

# chatroom.memberlist separator (wechat-dump).
MEMBER_SEPARATOR = ";"

# imgPath values carry a scheme prefix ("THUMBNAIL_DIRPATH://th_…").
_PATH_SCHEME = "://"


def android_type(stored: int) -> tuple[int, int]:
    """(type, sub type) of an Android `message.type`; app sub types come from the XML."""
    if stored == ANDROID_CUSTOM_EMOJI:
        return TYPE_STICKER, 0
    if stored == ANDROID_LOCATION_SHARING:
        return TYPE_APP, APP_LIVE_LOCATION
    if stored > LOW16 or stored < 0:
        low = stored & LOW16
        if low == TYPE_APP:
            return TYPE_APP, 0
        return low, 0
    return stored, 0


def _names(conn: Any) -> tuple[dict[str, str], dict[str, list[str]], str | None, str | None]:
    tables = tables_of(conn)
    names: dict[str, str] = {}
    rooms: dict[str, list[str]] = {}
    owner_id = owner_name = None
    if "rcontact" in tables:
        for row in query(conn, "SELECT * FROM rcontact"):
            user = row.get("username")
            if user:
                names[str(user)] = display_name(row.get("conRemark"), row.get("nickname"), row.get("alias"), str(user))
    if "chatroom" in tables:
        for row in query(conn, "SELECT * FROM chatroom"):
            room = row.get("chatroomname")
            if room:
                members = str(row.get("memberlist") or "").split(MEMBER_SEPARATOR)
                rooms[str(room)] = [m for m in members if m]
    if "userinfo" in tables:
        for row in query(
            conn,
            "SELECT id, value FROM userinfo WHERE id IN (?, ?)",
            (USERINFO_WXID, USERINFO_NICKNAME),
        ):
            if row.get("id") == USERINFO_WXID and row.get("value"):
                owner_id = str(row["value"])
            elif row.get("id") == USERINFO_NICKNAME and row.get("value"):
                owner_name = str(row["value"])
    return names, rooms, owner_id, owner_name


def _raw(row: dict[str, Any], record: int) -> RawMessage | None:
    talker = row.get("talker")
    created = row.get("createTime")
    if not talker or created is None:
        return None
    type_, sub_type = android_type(int(row.get("type") or 0))
    from_me = int(row.get("isSend") or 0) == 1
    content = str(row.get("content") or "")
    sender: str | None = None
    if is_group(str(talker)):
        if not from_me and type_ != TYPE_SYSTEM:
            prefixed, body = split_group_prefix(content)
            if prefixed:
                sender, content = prefixed, body
    elif not from_me:
        sender = str(talker)
    img = str(row.get("imgPath") or "")
    if _PATH_SCHEME in img:
        img = img.split(_PATH_SCHEME, 1)[1]
    return table_message(
        chat=str(talker),
        ts=aware_epoch(int(created) / 1000),  # createTime is in milliseconds
        type_=type_,
        sub_type=sub_type,
        content=content,
        sender_id=sender,
        from_me=from_me,
        svrid=row.get("msgSvrId"),
        record=record,
        media=(img,) if img else (),
    )


def parse_android(layout: Layout, opener: Opener) -> Iterator[Record]:
    """Records from EnMicroMsg.db (or a decrypted copy of it): names and messages in one file."""
    finder = MediaFinder(layout.media_root)
    yield from each_database(layout, opener, lambda db, conn: _read(db, conn, finder))


def _read(db: Path, conn: Any, finder: MediaFinder) -> Iterator[Record]:
    record = 0
    try:
        contacts, rooms, owner_id, owner_name = _names(conn)
        names = Names(contacts, owner_id, owner_name)
        chats: set[str] = set()
        for row in query(conn, "SELECT * FROM message"):
            record += 1
            try:
                raw = _raw(row, record)
            except (TypeError, ValueError, OverflowError, OSError):
                raw = None
            if raw is None:
                yield Problem(str(db), record, "message record without a chat or a time")
                continue
            if raw.chat not in chats:
                chats.add(raw.chat)
                yield _chat(raw.chat, contacts, rooms, names)
            yield build_record(raw, names, finder.attachment)
    except DatabaseReadError:
        yield Problem(str(db), record + 1, DAMAGED_REST)


def _chat(talker: str, contacts: dict[str, str], rooms: dict[str, list[str]], names: Names) -> Chat:
    if is_group(talker):
        members = rooms.get(talker, [])
        title = contacts.get(talker)
        if not title or title == talker:
            title = group_title(members, contacts, names.owner_id) or talker
        participants = tuple(contacts.get(m) or m for m in members if m != names.owner_id)
        return Chat(SOURCE, talker, title, GROUP, participants, extra={"wxid": talker})
    title = contacts.get(talker) or talker
    return Chat(SOURCE, talker, title, DIRECT, (title, names.me()), extra={"wxid": talker})
