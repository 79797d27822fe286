"""Where the pages are: a single-chat export folder, one of its pages, or the full-account export.

Single chat ("Export chat history"): `messages.html`, `messages2.html`, ... in one folder, with
`css/`, `js/`, `images/` and the media folders. Whole account ("Export Telegram data"):
`export_results.html`, `lists/chats.html` (one entry per chat: name, type, link) and
`chats/chat_NNN/messages*.html`. Folder names and page names are tdesktop's
(export_data_types.cpp FinalizeDialogsInfo, export_output_html.cpp messagesFile).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from importers.base import head_text

SNIFF = 65536
PAGE_RE = re.compile(r"messages(\d*)\.html$")
CHAT_DIR_RE = re.compile(r"chat_(\d+)$")
# Every page tdesktop writes starts with this head and wrapper (Wrap::composeStart).
_TITLE = "<title>Exported Data</title>"
_WRAP = 'class="page_wrap"'
# A chat page's body (writeDialogOpening); the account summary's is "page_body" with sections.
_CHAT_BODY = ("page_body chat_page", 'class="history"')
# lists/chats.html "info" field (HtmlWriter::writeDialogEnd, TypeString).
LIST_TYPES = ("private", "bot", "group", "channel", "unknown")


def _is_page(path: Path, body_markers: tuple[str, ...]) -> bool:
    head = head_text(path, SNIFF)
    return _TITLE in head and _WRAP in head and any(m in head for m in body_markers)


def is_chat_page(path: Path) -> bool:
    return bool(PAGE_RE.match(path.name)) and path.is_file() and _is_page(path, _CHAT_BODY)


def is_account_root(path: Path) -> bool:
    summary = path / "export_results.html"
    return (
        summary.is_file()
        and not (path / "result.json").exists()  # a "HTML and JSON" export: the JSON says more
        and ((path / "chats").is_dir() or (path / "lists" / "chats.html").is_file())
        and _is_page(summary, ('class="page_body"', "page_body"))
    )


def is_chat_folder(path: Path) -> bool:
    return path.is_dir() and not (path / "result.json").exists() and is_chat_page(path / "messages.html")


def pages(folder: Path) -> list[Path]:
    """The pages of the chat in `folder`, in order (messages.html, messages2.html, ...)."""
    found: list[tuple[int, Path]] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    for p in entries:
        m = PAGE_RE.match(p.name)
        if m and p.is_file():
            found.append((int(m.group(1) or 1), p))
    return [p for _, p in sorted(found)]


@dataclass
class ListedChat:
    name: str
    type: str  # one of LIST_TYPES, or "" when the list did not say


class _ChatList(HTMLParser):
    """lists/chats.html: `<a class="entry block_link clearfix" href=...>` with name and info."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, ListedChat] = {}
        self._href: str | None = None
        self._depth = 0
        self._stack: list[str] = []
        self._role: str | None = None
        self._role_depth = 0
        self._buf: list[str] = []
        self._name = ""
        self._type = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "meta", "link"):
            return
        self._stack.append(tag)
        a = dict(attrs)
        classes = set((a.get("class") or "").split())
        if "entry" in classes:
            self._href, self._depth, self._name, self._type = a.get("href"), len(self._stack), "", ""
        elif self._href is not None and self._role is None and tag == "div":
            if "name" in classes:
                self._role, self._role_depth, self._buf = "name", len(self._stack), []
            elif "info" in classes:
                self._role, self._role_depth, self._buf = "info", len(self._stack), []

    def handle_data(self, data: str) -> None:
        if self._role is not None:
            self._buf.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag not in self._stack:
            return
        while self._stack:
            depth = len(self._stack)
            top = self._stack.pop()
            if self._role is not None and depth == self._role_depth:
                text = " ".join("".join(self._buf).split())
                if self._role == "name":
                    self._name = text
                else:
                    self._type = text
                self._role = None
            if self._href is not None and depth == self._depth:
                m = re.search(r"chats/(chat_\d+)/messages\.html", self._href)
                if m:
                    self.found[m.group(1)] = ListedChat(self._name, self._type if self._type in LIST_TYPES else "")
                self._href = None
            if top == tag:
                break


def read_chat_list(root: Path) -> dict[str, ListedChat]:
    """chat folder name -> what lists/chats.html says of it; {} when there is no list."""
    path = root / "lists" / "chats.html"
    if not path.is_file():
        return {}
    parser = _ChatList()
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            while chunk := fh.read(1 << 16):
                parser.feed(chunk)
        parser.close()
    except AssertionError:  # html.parser's refusal of broken markup: the list is only a hint
        pass
    return parser.found


def chat_folders(root: Path) -> list[Path]:
    """chats/chat_NNN folders of the account export, in their number's order."""
    base = root / "chats"
    try:
        entries = list(base.iterdir())
    except OSError:
        return []
    dirs = [(int(m.group(1)), p) for p in entries if (m := CHAT_DIR_RE.match(p.name)) and p.is_dir()]
    return [p for _, p in sorted(dirs)]


_JSON_ID = re.compile(
    r'^\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*"|null)\s*,\s*"type"\s*:\s*"[a-z_]+"\s*,\s*"id"\s*:\s*(-?\d+)\s*,'
)


def sibling_json_id(folder: Path) -> tuple[str | None, str] | None:
    """(name, chat id) from a single-chat result.json beside the pages ("HTML and JSON" exports).

    Only the head of the file is read; None when there is none or it is not a single chat.
    """
    import json

    p = folder / "result.json"
    if not p.is_file():
        return None
    m = _JSON_ID.match(head_text(p, 4096))
    if m is None:
        return None
    try:
        name = json.loads(m.group(1))
    except ValueError:
        return None
    return (name if isinstance(name, str) else None), str(int(m.group(2)))
