"""Windows WeChat 3.x databases: `Msg/Multi/MSG0..n.db` (messages) with `Msg/MicroMsg.db` (names).

How a person gets them: WeChat for Windows 3.x keeps them under
`Documents\\WeChat Files\\<wxid>\\Msg\\`, encrypted with a key held by the running client. Tools
such as PyWxDump or MemoTrace printed that key and wrote decrypted copies (also merged into one
`merge_all.db`); talkvault reads either the decrypted copies or the encrypted originals with the
key (formats/wechat.md §1).

Tables read: `MSG` (one row per message; `localId` restarts in every MSGn file, `MsgSvrID` is the
server's id and the identity used here), `Contact` (names: remark, nickname, alias) and `ChatRoom`
(members, their group display names in `RoomData`). Group senders come from the protobuf
`BytesExtra` (item type 1), quote replies and other app messages from the LZ4 block in
`CompressContent`, media paths from `BytesExtra` items 4 (file) and 3 (thumbnail).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from importers.wechat_common import (
    SOURCE,
    TYPE_APP,
    Names,
    RawMessage,
    aware_epoch,
    build_record,
    bytes_extra_items,
    display_name,
    group_title,
    is_group,
    room_data_members,
    split_group_prefix,
)
from importers.wechat_db import (
    WIN3,
    DatabaseReadError,
    Layout,
    Opener,
    close_quietly,
    query,
    tables_of,
    wal_note,
)
from importers.wechat_media import MediaFinder
from vault.errors import ExportError
from vault.records import DIRECT, GROUP, Chat, Note, Problem, Record

# BytesExtra item types (LC044 msg.proto, chatlog bytesextra.proto).
EXTRA_SENDER = 1
EXTRA_THUMBNAIL = 3
EXTRA_MEDIA = 4

# ChatRoom.UserNameList / DisplayNameList separator (PyWxDump dbMicro.py).
ROOM_LIST_SEPARATOR = "^G"

# CompressContent is an LZ4 block without its size; tools give the decoder len << 8 (PyWxDump)
# or len << 10 (LC044) bytes of room. Capped so a hostile value cannot ask for gigabytes.
LZ4_GROWTH_SHIFTS = (8, 10)
LZ4_MAX_OUTPUT = 32 * 1024 * 1024


def decompress_lz4(blob: bytes | None) -> str | None:
    """The XML in a CompressContent LZ4 block, or None (no lz4 package, or not LZ4)."""
    if not blob:
        return None
    try:
        import lz4.block
    except ImportError:
        return None
    data = bytes(blob)
    for shift in LZ4_GROWTH_SHIFTS:
        size = min(len(data) << shift, LZ4_MAX_OUTPUT)
        try:
            out = lz4.block.decompress(data, uncompressed_size=size)
        except Exception:  # lz4.block.LZ4BlockError: buffer too small or not LZ4
            continue
        return out.replace(b"\x00", b"").decode("utf-8", errors="replace")
    return None


class Contacts:
    """Names and chat rooms from MicroMsg.db (or a merged database)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.rooms: dict[str, tuple[list[str], dict[str, str]]] = {}

    def load(self, conn: Any) -> None:
        tables = tables_of(conn)
        if "Contact" in tables:
            for row in query(conn, "SELECT * FROM Contact"):
                wxid = row.get("UserName")
                if wxid:
                    self.names[str(wxid)] = display_name(
                        row.get("Remark"), row.get("NickName"), row.get("Alias"), str(wxid)
                    )
        if "ChatRoom" in tables:
            for row in query(conn, "SELECT * FROM ChatRoom"):
                room = row.get("ChatRoomName")
                if not room:
                    continue
                members = [m for m in str(row.get("UserNameList") or "").split(ROOM_LIST_SEPARATOR) if m]
                shown = room_data_members(row.get("RoomData"))
                self.rooms[str(room)] = (members, shown)


def owner_of(layout: Layout, contacts: Contacts) -> tuple[str | None, str | None]:
    """(owner wxid, owner name) from the account folder name (`WeChat Files\\<wxid>`)."""
    root = layout.media_root
    if root is None:
        return None, None
    wxid = root.name
    if wxid in contacts.names:
        return wxid, contacts.names[wxid]
    if wxid.startswith("wxid_"):
        return wxid, None
    return None, None


def _chat(talker: str, contacts: Contacts, names: Names) -> Chat:
    if is_group(talker):
        members, shown = contacts.rooms.get(talker, ([], {}))
        member_names = {m: contacts.names.get(m) or shown.get(m) or m for m in members}
        title = contacts.names.get(talker)
        if not title or title == talker:
            title = group_title(members, member_names, names.owner_id) or talker
        participants = tuple(member_names[m] for m in members if m != names.owner_id)
        return Chat(SOURCE, talker, title, GROUP, participants, extra={"wxid": talker})
    title = contacts.names.get(talker) or talker
    return Chat(SOURCE, talker, title, DIRECT, (title, names.me()), extra={"wxid": talker})


def _raw(row: dict[str, Any], record: int) -> RawMessage | None:
    talker = row.get("StrTalker")
    created = row.get("CreateTime")
    if not talker or created is None:
        return None
    type_ = int(row.get("Type") or 0)
    sub_type = int(row.get("SubType") or 0)
    from_me = int(row.get("IsSender") or 0) == 1
    content = str(row.get("StrContent") or "")
    if type_ == TYPE_APP or not content:
        unpacked = decompress_lz4(row.get("CompressContent"))
        if unpacked:
            content = unpacked
    extra_items = bytes_extra_items(row.get("BytesExtra"))
    sender: str | None = None
    if is_group(str(talker)):
        if not from_me:
            sender = extra_items.get(EXTRA_SENDER, "").split(":", 1)[0] or None
        prefixed, body = split_group_prefix(content)  # defensive: some copies keep the prefix
        if prefixed:
            sender = sender or prefixed
            content = body
    elif not from_me:
        sender = str(talker)
    media = tuple(
        extra_items[t] for t in (EXTRA_MEDIA, EXTRA_THUMBNAIL) if extra_items.get(t)
    )
    svrid = row.get("MsgSvrID")
    extra: dict[str, Any] = {}
    if type_ == TYPE_APP and content:
        extra["xml"] = content
    return RawMessage(
        chat=str(talker),
        ts=aware_epoch(int(created)),
        type=type_,
        sub_type=sub_type,
        content=content,
        sender_id=sender,
        from_me=from_me,
        source_id=str(svrid) if svrid else None,
        record=record,
        display=row.get("DisplayContent"),
        media=media,
        extra=extra,
    )


def parse_win3(layout: Layout, opener: Opener) -> Iterator[Record]:
    """Records from a Windows 3.x layout: contacts first, then every MSGn file in order."""
    contacts = Contacts()
    if layout.contact_dbs:
        conn = opener.open(layout.contact_dbs[0], WIN3)
        try:
            contacts.load(conn)
        except DatabaseReadError as exc:
            raise ExportError(
                "MicroMsg.db is damaged; copy it again", path=str(layout.contact_dbs[0])
            ) from exc
        finally:
            close_quietly(conn)
    else:
        yield Note(
            "MicroMsg.db was not found beside the message databases; people and groups are "
            "shown by their WeChat ids"
        )
    owner_id, owner_name = owner_of(layout, contacts)
    names = Names(contacts.names, owner_id, owner_name)
    finder = MediaFinder(layout.media_root)
    seen: set[int] = set()
    dedup = len(layout.message_dbs) > 1
    chats: set[str] = set()
    for index, db in enumerate(layout.message_dbs):
        note = wal_note(db)
        if note:
            yield Note(note)
        try:
            conn = opener.open(db, WIN3)
        except ExportError as exc:
            if index == 0:
                raise
            yield Problem(str(db), None, exc.reason)
            continue
        try:
            yield from _messages(db, conn, contacts, names, finder, chats, seen if dedup else None)
        finally:
            close_quietly(conn)


def _messages(
    db: Path,
    conn: Any,
    contacts: Contacts,
    names: Names,
    finder: MediaFinder,
    chats: set[str],
    seen: set[int] | None,
) -> Iterator[Record]:
    record = 0
    try:
        if "MSG" not in tables_of(conn):
            yield Problem(str(db), None, "no MSG table: not a WeChat message database")
            return
        for row in query(conn, "SELECT * FROM MSG"):
            record += 1
            try:
                raw = _raw(row, record)
            except (TypeError, ValueError, OverflowError, OSError):
                raw = None
            if raw is None:
                yield Problem(str(db), record, "message record without a chat or a time")
                continue
            if seen is not None and raw.source_id:
                svrid = int(raw.source_id)
                if svrid in seen:  # the same message in two MSGn files
                    continue
                seen.add(svrid)
            if raw.chat not in chats:
                chats.add(raw.chat)
                yield _chat(raw.chat, contacts, names)
            shown_name = None
            if raw.sender_id and is_group(raw.chat) and raw.sender_id not in contacts.names:
                shown_name = contacts.rooms.get(raw.chat, ([], {}))[1].get(raw.sender_id) or None
            yield build_record(raw, names, finder.attachment, shown_name)
    except DatabaseReadError:
        yield Problem(
            str(db), record + 1, "the database is damaged from here on; the rest was skipped"
        )
