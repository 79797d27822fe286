"""The `wechat-db` format: WeChat's own databases, decrypted or encrypted, of every generation.

`detect()` recognises a folder holding them (the account folder, `Msg/`, `db_storage/`, …), a
decrypted database by its tables, or an encrypted one by its file name (`MSG0.db`,
`message_0.db`, `msg_0.db`, `EnMicroMsg.db`) and size. `parse()` finds the databases that belong
together (wechat/databases/opening.py), opens them read-only with the supplied key, and hands them to the
reader of their generation (wechat_v3, wechat_v4, wechat_mac, wechat_android).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from importers.base import ParseOptions
from importers.wechat.databases.android import parse_android
from importers.wechat.databases.mac3 import parse_mac3
from importers.wechat.databases.opening import (
    ANDROID,
    MAC3,
    V4,
    WIN3,
    DatabaseReadError,
    Layout,
    Opener,
    layout_of,
)
from importers.wechat.databases.v4 import parse_v4
from importers.wechat.databases.win3 import parse_win3
from vault.errors import ExportError
from vault.records import Record

_READERS: dict[str, Callable[[Layout, Opener], Iterator[Record]]] = {
    WIN3: parse_win3,
    V4: parse_v4,
    MAC3: parse_mac3,
    ANDROID: parse_android,
}


def detect(path: Path) -> bool:
    try:
        return layout_of(path) is not None
    except Exception:
        return False


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        layout = layout_of(path)
    except OSError as exc:
        raise ExportError("cannot read this folder or file", path=str(path)) from exc
    if layout is None:
        raise ExportError(
            "no WeChat database found here: point at the account folder, its Msg or db_storage "
            "folder, or one database file (MSG0.db, message_0.db, msg_0.db, EnMicroMsg.db)",
            path=str(path),
        )
    opener = Opener(options)
    try:
        yield from _READERS[layout.generation](layout, opener)
    except DatabaseReadError as exc:
        raise ExportError("a WeChat database could not be read (damaged?); copy it again", path=str(path)) from exc
