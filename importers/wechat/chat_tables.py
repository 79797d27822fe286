"""Per-chat message tables (macOS 3.x `Chat_<md5>`, 4.x `Msg_<md5>`, iPhone `Chat_<md5>`) to records.

These databases keep one table per conversation, named by the md5 of the chat id; a table whose
md5 matches no known id is still read, keyed by its digest. Each reader turns a row of its own
columns into a `RawMessage` (`table_message()`); `ChatTables` reads the rows of one database
file: it numbers them, reports a row it cannot read as a Problem, announces each chat once
(`table_chat()`) and builds the records (importers/wechat/common.py `build_record`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any

from importers.wechat.common import (
    SOURCE,
    TYPE_APP,
    MediaResolver,
    Names,
    RawMessage,
    aware_epoch,
    build_record,
    is_group,
    split_group_prefix,
)
from vault.records import DIRECT, GROUP, Chat, Problem, Record

# What reading one row may raise on values of unexpected types (the row is then reported).
ROW_ERRORS: tuple[type[Exception], ...] = (TypeError, ValueError, OverflowError, OSError)

NO_TIME = "message record without a time"

# `Des` (macOS 3.x `mesDes`) of a message the owner sent: 0 sent, 1 received (chatlog
# message_darwinv3.go: "0: 发送, 1: 接收"; WechatExporter reads the iPhone's the same way).
DES_SENT = 0


def table_chat(key: str, talker: str, known: bool, names: Names) -> Chat:
    """The chat of one table: `talker` is the chat id (or the table's md5 when `known` is false)."""
    title = names.contacts.get(talker) or talker
    extra = {"wxid": talker} if known else {"table_md5": talker}
    if is_group(talker):
        return Chat(SOURCE, key, title, GROUP, (), extra=extra)
    return Chat(SOURCE, key, title, DIRECT, (title, names.me()), extra=extra)


def table_message(
    *,
    chat: str,
    ts: datetime,
    type_: int,
    sub_type: int,
    content: str,
    sender_id: str | None,
    from_me: bool,
    svrid: Any,
    record: int,
    display: str | None = None,
    media: tuple[str, ...] = (),
) -> RawMessage:
    """A stored row as a RawMessage: the server id as a decimal string (None when 0 or absent),
    an app message's XML kept in `extra["xml"]`. Also used by the Windows 3.x and Android readers."""
    return RawMessage(
        chat=chat,
        ts=ts,
        type=type_,
        sub_type=sub_type,
        content=content,
        sender_id=sender_id,
        from_me=from_me,
        source_id=str(svrid) if svrid else None,
        record=record,
        display=display,
        media=media,
        extra={"xml": content} if type_ == TYPE_APP and content else {},
    )


def des_message(
    *,
    chat: str,
    talker: str,
    created: Any,
    type_: int,
    des: Any,
    content: str,
    svrid: Any,
    record: int,
    media: tuple[str, ...] = (),
    split_own: bool,
) -> RawMessage | None:
    """A row of a table whose `Des` column says who sent it (macOS 3.x, iPhone), None without a
    time (`created`, Unix seconds). In a one-to-one chat the other side is the talker; in a group
    a `<wxid>:\n` prefix names the sender and is cut from the body (`split_own`: from the owner's
    messages too, as the macOS 3.x reader does)."""
    if created is None:
        return None
    from_me = des is not None and int(des) == DES_SENT
    sender: str | None = None
    if is_group(talker):
        if split_own or not from_me:
            prefixed, body = split_group_prefix(content)
            if prefixed:
                sender, content = prefixed, body
    elif not from_me:
        sender = talker
    return table_message(
        chat=chat,
        ts=aware_epoch(int(created)),
        type_=type_,
        sub_type=0,
        content=content,
        sender_id=sender,
        from_me=from_me,
        svrid=svrid,
        record=record,
        media=media,
    )


def already_read(seen: set[int], raw: RawMessage) -> bool:
    """Whether a message was read already from another file of the same account (Windows 3.x
    MSGn, 4.x message_N hold some messages twice), by its server id; remembers it if not."""
    if not raw.source_id:
        return False
    svrid = int(raw.source_id)
    if svrid in seen:
        return True
    seen.add(svrid)
    return False


class ChatTables:
    """The chat tables of one database file, read one after another; `record` counts their rows
    (for the Problem of a file whose rest cannot be read). `chats` is shared by the files of one
    account, so that a chat is announced once."""

    def __init__(
        self,
        label: str,
        names: Names,
        chats: set[str],
        *,
        unreadable: str = NO_TIME,
        errors: tuple[type[Exception], ...] = ROW_ERRORS,
        resolve: MediaResolver | None = None,
    ) -> None:
        self.label, self.names, self.chats = label, names, chats
        self.unreadable, self.errors, self.resolve = unreadable, errors, resolve
        self.record = 0

    def read(
        self,
        rows: Iterable[dict[str, Any]],
        key: str,
        talker: str,
        known: bool,
        raw_of: Callable[[dict[str, Any], int], RawMessage | None],
        skip: Callable[[RawMessage], bool] | None = None,
    ) -> Iterator[Record]:
        """The records of one table's rows; `raw_of(row, record)` reads a row (None: no time),
        `skip(raw)` leaves out a row read already (4.x messages kept in two files)."""
        for row in rows:
            self.record += 1
            try:
                raw = raw_of(row, self.record)
            except self.errors:
                raw = None
            if raw is None:
                yield Problem(self.label, self.record, self.unreadable)
                continue
            if skip is not None and skip(raw):
                continue
            if key not in self.chats:
                self.chats.add(key)
                yield table_chat(key, talker, known, self.names)
            yield build_record(raw, self.names, self.resolve)
