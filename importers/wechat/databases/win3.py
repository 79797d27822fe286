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
`CompressContent`, media paths from `BytesExtra` items 4 (file) and 3 (thumbnail), voice notes
from `Media` in `Multi/MediaMSGn.db` (keyed by MsgSvrID, SILK audio).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

from importers.wechat.chat_tables import already_read, table_message
from importers.wechat.common import (
    SOURCE,
    TYPE_APP,
    TYPE_VOICE,
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
from importers.wechat.databases.opening import (
    DAMAGED_REST,
    WIN3,
    DatabaseReadError,
    Layout,
    Opener,
    close_quietly,
    each_database,
    load_contacts,
    query,
    tables_of,
)
from importers.wechat.media import MediaFinder
from vault.errors import ExportError
from vault.records import AUDIO, DIRECT, GROUP, Attachment, Chat, MessageKind, Problem, Record

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


# MediaMSGn.db keeps voice notes: table Media, Reserved0 = the message's MsgSvrID, Buf = the SILK
# recording (PyWxDump dbMedia.py `get_audio`). Voice messages name it with this prefix + MsgSvrID.
VOICE_TABLE = "Media"
VOICE_MIME = "audio/silk"
VOICE_REF = "MediaMSG:"


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


class VoiceStore:
    """Voice notes in MediaMSGn.db, found by the message's MsgSvrID; read when the vault asks."""

    def __init__(self) -> None:
        self._conns: list[Any] = []
        self._index: dict[int, tuple[int, int]] = {}  # MsgSvrID → (connection, rowid)

    def load(self, dbs: list[Path], opener: Opener) -> Iterator[Record]:
        for db in dbs:
            try:
                conn = opener.open(db, WIN3)
            except ExportError as exc:
                yield Problem(str(db), None, exc.reason + " (its voice notes were skipped)")
                continue
            number = len(self._conns)
            self._conns.append(conn)
            try:
                if VOICE_TABLE not in tables_of(conn):
                    continue
                for row in query(conn, "SELECT rowid AS id, Reserved0 AS svrid FROM Media"):
                    if row["svrid"]:
                        self._index.setdefault(int(row["svrid"]), (number, int(row["id"])))
            except (DatabaseReadError, TypeError, ValueError):
                yield Problem(str(db), None, "damaged voice database; some voice notes skipped")

    def attachment(self, svrid: str) -> Attachment:
        name = f"{svrid}.silk"
        where = self._index.get(int(svrid)) if svrid.isdigit() else None
        if where is None:
            return Attachment(name, AUDIO, VOICE_MIME)
        return Attachment(name, AUDIO, VOICE_MIME, None, self._opener(*where))

    def _opener(self, number: int, rowid: int) -> Callable[[], IO[bytes]]:
        conn = self._conns[number]

        def open_voice() -> IO[bytes]:
            try:
                row = next(query(conn, "SELECT Buf FROM Media WHERE rowid = ?", (rowid,)), None)
            except DatabaseReadError as exc:
                raise ExportError("a voice note could not be read (damaged database?)") from exc
            data = row["Buf"] if row else None
            return io.BytesIO(bytes(data) if data else b"")

        return open_voice

    def close(self) -> None:
        for conn in self._conns:
            close_quietly(conn)


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
    media = tuple(extra_items[t] for t in (EXTRA_MEDIA, EXTRA_THUMBNAIL) if extra_items.get(t))
    svrid = row.get("MsgSvrID")
    if type_ == TYPE_VOICE and svrid:
        media = (f"{VOICE_REF}{svrid}",)
    return table_message(
        chat=str(talker),
        ts=aware_epoch(int(created)),
        type_=type_,
        sub_type=sub_type,
        content=content,
        sender_id=sender,
        from_me=from_me,
        svrid=svrid,
        record=record,
        display=row.get("DisplayContent"),
        media=media,
    )


def parse_win3(layout: Layout, opener: Opener) -> Iterator[Record]:
    """Records from a Windows 3.x layout: contacts first, then every MSGn file in order."""
    contacts = Contacts()
    yield from load_contacts(layout, opener, contacts.load)
    owner_id, owner_name = owner_of(layout, contacts)
    names = Names(contacts.names, owner_id, owner_name)
    finder = MediaFinder(layout.media_root)
    voices = VoiceStore()
    try:
        yield from voices.load(layout.voice_dbs, opener)
        yield from _all_messages(layout, opener, contacts, names, finder, voices)
    finally:
        voices.close()


def _all_messages(
    layout: Layout,
    opener: Opener,
    contacts: Contacts,
    names: Names,
    finder: MediaFinder,
    voices: VoiceStore,
) -> Iterator[Record]:
    def resolve(rel: str, kind: MessageKind) -> Attachment | None:
        if rel.startswith(VOICE_REF):
            return voices.attachment(rel[len(VOICE_REF) :])
        return finder.attachment(rel, kind)

    seen: set[int] | None = set() if len(layout.message_dbs) > 1 else None
    chats: set[str] = set()

    def read(db: Path, conn: Any) -> Iterator[Record]:
        return _messages(db, conn, contacts, names, resolve, chats, seen)

    yield from each_database(layout, opener, read)


def _messages(
    db: Path,
    conn: Any,
    contacts: Contacts,
    names: Names,
    resolve: Callable[[str, MessageKind], Attachment | None],
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
            if seen is not None and already_read(seen, raw):  # the same message in two MSGn files
                continue
            if raw.chat not in chats:
                chats.add(raw.chat)
                yield _chat(raw.chat, contacts, names)
            shown_name = None
            if raw.sender_id and is_group(raw.chat) and raw.sender_id not in contacts.names:
                shown_name = contacts.rooms.get(raw.chat, ([], {}))[1].get(raw.sender_id) or None
            yield build_record(raw, names, resolve, shown_name)
    except DatabaseReadError:
        yield Problem(str(db), record + 1, DAMAGED_REST)
