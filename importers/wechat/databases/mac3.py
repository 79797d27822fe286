"""macOS WeChat 3.x databases: `Message/msg_0..9.db` with `Contact/wccontact_new2.db`.

How a person gets them: WeChat for Mac 3.x keeps them under
`~/Library/Containers/com.tencent.xinWeChat/Data/Library/Application Support/com.tencent.xinWeChat/
<version>/<md5>/`, encrypted with SQLCipher (page 1024, the 32-byte key used raw); the person
supplies the 64-hex key a tool printed, or decrypted copies (formats/wechat.md §3).

Tables read: one `Chat_<md5 of the chat id>` table per conversation (`mesSvrID`, `msgCreateTime`
in seconds, `msgContent`, `messageType`, `mesDes` = 0 when the owner sent it; group messages from
others start with `<wxid>:\\n`), and `WCContact` / `GroupContact` for names (m_nsRemark, nickname,
m_nsAliasName).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from importers.wechat.chat_tables import ChatTables, des_message
from importers.wechat.common import Names, RawMessage, display_name
from importers.wechat.databases.opening import (
    DAMAGED_REST,
    DatabaseReadError,
    Layout,
    Opener,
    each_database,
    load_contacts,
    query,
    tables_of,
)
from vault.records import Problem, Record, title_key

_CHAT_TABLE = re.compile(r"^Chat_([0-9a-f]{32})$")

_CONTACT_TABLES = ("WCContact", "GroupContact")


def _load_names(conn: Any, names: dict[str, str]) -> None:
    tables = tables_of(conn)
    for table in _CONTACT_TABLES:
        if table not in tables:
            continue
        for row in query(conn, f"SELECT * FROM {table}"):
            user = row.get("m_nsUsrName")
            if user:
                names[str(user)] = display_name(
                    row.get("m_nsRemark"), row.get("nickname"), row.get("m_nsAliasName"), str(user)
                )


def parse_mac3(layout: Layout, opener: Opener) -> Iterator[Record]:
    """Records from a macOS 3.x layout."""
    contacts: dict[str, str] = {}
    yield from load_contacts(layout, opener, lambda conn: _load_names(conn, contacts))
    names = Names(contacts)
    hashes = {hashlib.md5(n.encode("utf-8")).hexdigest(): n for n in contacts}
    chats: set[str] = set()
    yield from each_database(layout, opener, lambda db, conn: _file(db, conn, hashes, names, chats))


def _file(db: Path, conn: Any, hashes: dict[str, str], names: Names, chats: set[str]) -> Iterator[Record]:
    reader = ChatTables(str(db), names, chats)
    try:
        for table in sorted(tables_of(conn)):
            match = _CHAT_TABLE.match(table)
            if not match:
                continue
            talker = hashes.get(match.group(1))
            key = talker or title_key(match.group(1))
            shown = talker or match.group(1)
            rows = query(conn, f'SELECT * FROM "{table}"')
            yield from reader.read(rows, key, shown, talker is not None, partial(_raw, key=key, talker=shown))
    except DatabaseReadError:
        yield Problem(str(db), reader.record + 1, DAMAGED_REST)


def _raw(row: dict[str, Any], record: int, key: str, talker: str) -> RawMessage | None:
    return des_message(
        chat=key,
        talker=talker,
        created=row.get("msgCreateTime"),
        type_=int(row.get("messageType") or 0),
        des=row.get("mesDes"),
        content=str(row.get("msgContent") or ""),
        svrid=row.get("mesSvrID"),
        record=record,
        split_own=True,
    )
