"""Finding the DM files, the owner and the media in an X/Twitter archive, and reading its `window.YTD… =` files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson

from importers.base import decode_head, guard_json, loads_json
from importers.tree import ExportTree, dict_at, list_at, str_at

# data/direct-messages.js, direct-messages-part1.js, direct-messages-group.js,
# direct-messages-group-part1.js; older archives spell it direct-message*.js
# (alkihis/twitter-archive-reader:ts/TwitterArchive.ts lists both spellings).
DM_FILE = re.compile(r"^(?P<root>(?:.*/)?)direct-messages?(?P<group>-group)?(?:-part(?P<part>\d+))?\.js$")
# Every data file opens with an assignment: `window.YTD.direct_messages.part0 = [`.
PREFACE = re.compile(rb"^\s*window\.YTD\.(?P<name>\w+)\.part(?P<part>\d+)\s*=\s*")
DM_PREFACE = re.compile(r"^\s*window\.YTD\.direct_messages?(?:_group)?\.part\d+\s*=\s*\[")
# Folders of DM media: files named "<message id>-<file name>" (timelinize archives.go).
MEDIA_FOLDERS = ("direct_messages_media/", "direct_message_media/")
GROUP_MEDIA_FOLDERS = ("direct_messages_group_media/", "direct_message_group_media/")
MAX_SMALL = 16 * 2**20
_STARTS = ("start_map", "start_array")
_ENDS = ("end_map", "end_array")


class NotYtd(ValueError):
    """The file does not open with `window.YTD.<name>.partN =`."""


@dataclass
class Owner:
    id: str | None = None
    username: str | None = None
    name: str | None = None


@dataclass(frozen=True)
class DmFile:
    name: str
    group: bool
    part: int


@dataclass
class Archive:
    tree: ExportTree
    data: str  # "" or "…/data/"
    files: list[DmFile]
    owner: Owner = field(default_factory=Owner)
    _media: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def media_index(self, group: bool) -> dict[str, list[str]]:
        """Media file names of the DM (or group DM) media folder, by the message id they start with."""
        key = "group" if group else "single"
        if key not in self._media:
            index: dict[str, list[str]] = {}
            for folder in GROUP_MEDIA_FOLDERS if group else MEDIA_FOLDERS:
                for name in self.tree.names(self.data + folder):
                    base = name.rsplit("/", 1)[-1]
                    msg_id, sep, _rest = base.partition("-")
                    if sep:
                        index.setdefault(msg_id, []).append(name)
            self._media[key] = index
        return self._media[key]


def find_dm_files(tree: ExportTree, under: str = "") -> tuple[str, list[DmFile]]:
    """The data folder and its DM files, one-to-one first, each kind in part order."""
    found: dict[str, list[DmFile]] = {}
    for name in tree.names(under):
        m = DM_FILE.match(name)
        if m is None or "/" in name[len(m["root"]) :]:
            continue
        found.setdefault(m["root"], []).append(DmFile(name, bool(m["group"]), int(m["part"] or 0)))
    if not found:
        return under, []
    # One archive per tree: prefer the folder named data/ nearest the top.
    root = min(found, key=lambda r: (not r.endswith("data/") and r != "", r.count("/"), r))
    return root, sorted(found[root], key=lambda f: (f.group, f.part, f.name))


class _Rest:
    """A stream that first returns `head`, then the rest of `fh`."""

    def __init__(self, head: bytes, fh: IO[bytes]) -> None:
        self._head, self._fh = head, fh

    def read(self, size: int = -1) -> bytes:
        if not self._head:
            return self._fh.read(size)
        if size < 0:
            out, self._head = self._head + self._fh.read(), b""
            return out
        out, self._head = self._head[:size], self._head[size:]
        return out + (self._fh.read(size - len(out)) if len(out) < size else b"")


def after_preface(fh: IO[bytes]) -> _Rest:
    """The JSON after `window.YTD.<name>.partN = ` (a UTF-8 BOM tolerated), or NotYtd."""
    head = fh.read(4096)
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    m = PREFACE.match(head)
    if m is None:
        raise NotYtd("no window.YTD preface")
    return _Rest(head[m.end() :], fh)


def array_objects(fh: IO[bytes], wanted: dict[str, str]) -> Iterator[tuple[str, Any]]:
    """(what, value) for each value at one of `wanted`'s ijson prefixes (prefix -> label) of the
    top-level array that follows the preface, plus ("end", prefix) when an `item` closes. Stops at
    the array's closing bracket, so a trailing `;` does no harm."""
    builder: ijson.ObjectBuilder | None = None
    depth = 0
    label = ""
    events = ijson.parse(guard_json(after_preface(fh)))
    first = next(events, None)
    if first is None or first[1] != "start_array":
        raise NotYtd("not a JSON array after the preface")
    for prefix, event, value in events:
        if builder is not None:
            builder.event(event, value)
            depth += 1 if event in _STARTS else -1 if event in _ENDS else 0
            if depth == 0:
                yield label, builder.value
                builder = None
            continue
        if prefix in wanted:
            if event in _STARTS:
                label = wanted[prefix]
                builder = ijson.ObjectBuilder()
                builder.event(event, value)
                depth = 1
            elif event not in _ENDS:
                yield wanted[prefix], value
        elif prefix == "item" and event == "end_map":
            yield "end", prefix
        elif prefix == "" and event == "end_array":
            return


def read_owner(tree: ExportTree, data: str) -> Owner:
    """The archive's owner from data/account.js ({"account": {accountId, username, accountDisplayName}})."""
    name = data + "account.js"
    if not tree.exists(name):
        return Owner()
    with tree.open(name) as fh:
        rest = after_preface(fh).read(MAX_SMALL + 1)
    if len(rest) > MAX_SMALL:
        raise ValueError("account.js too large")
    text = rest.decode("utf-8").strip().rstrip(";")
    doc = loads_json(text)
    account = dict_at(next(iter(list_at({"a": doc}, "a")), {}), "account")
    return Owner(str_at(account, "accountId"), str_at(account, "username"), str_at(account, "accountDisplayName"))


def is_dm_head(raw: bytes) -> bool:
    return DM_PREFACE.match(decode_head(raw)) is not None
