"""One messages*.html page, read as a stream of tags into raw message items (no records yet).

The page is fed to `html.parser.HTMLParser` in chunks; an item is handed out as soon as its
`<div class="message ...">` closes, so a page never sits in memory, only the message being read.
The class names are those of tdesktop's Telegram/SourceFiles/export/output/export_output_html.cpp.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import IO

CHUNK = 1 << 16
# No single text in a Telegram message is near this (4096 characters, captions less); a bigger one
# is a damaged or hostile file, and is cut so that memory stays bounded.
MAX_CAPTURE = 1 << 20
# The writer indents its block tags: a newline and spaces are layout, never text (text newlines
# are written as <br>).
_LAYOUT = re.compile(r"\n[ \t]*")
_MESSAGE_ID = re.compile(r"message(-?\d+)$")
_GO_TO = re.compile(r"(?:^|/)(?:messages\d*\.html)?#go_to_message(\d+)$")
# tdesktop nests a dozen deep and closes every tag within a few KiB; more is a damaged or hostile
# page, refused before it can grow memory (html.parser keeps an unclosed tag's bytes in `rawdata`).
MAX_DEPTH = 512
MAX_PENDING = 8 << 20
_VOID = frozenset({"br", "img", "meta", "link", "hr", "input", "source", "wbr", "col", "area", "base", "embed"})
# Media wrappers that carry the file in their href (pushPhotoMedia, pushStickerMedia, ...).
WRAP_CLASSES = ("photo_wrap", "video_file_wrap", "animated_wrap", "sticker_wrap")


class PageError(Exception):
    """Markup that html.parser refuses (it raises AssertionError on, say, `<![bogus[`): tdesktop
    never writes it, since every `<` of a text is escaped, so the page is damaged."""


@dataclass
class Media:
    classes: frozenset[str]
    href: str | None = None
    title: str = ""
    status: str = ""
    description: str = ""


@dataclass
class Reacted:
    """One `<span class="reaction">`: its emoji, the names shown (tooltips), the count if shown."""

    emoji: str = ""
    names: list[str] = field(default_factory=list)
    count: int | None = None
    mine: bool = False  # class "active": the exporting person reacted so


@dataclass
class Item:
    """What one `<div class="message ...">` holds, as the page shows it."""

    mid: int
    service: bool
    joined: bool = False
    line: int | None = None
    date_title: str | None = None
    sender: str | None = None
    forwarded: bool = False
    forwarded_name: str | None = None
    forwarded_date: str | None = None
    reply_href: str | None = None
    reply_elsewhere: bool = False
    text: str | None = None
    media: list[Media] = field(default_factory=list)
    poll_question: str | None = None
    poll_answers: list[str] = field(default_factory=list)
    signature: str | None = None
    reactions: list[Reacted] = field(default_factory=list)
    service_links: list[str] = field(default_factory=list)
    cut: bool = False  # a text was longer than MAX_CAPTURE

    def reply_id(self) -> str | None:
        for href in [self.reply_href, *self.service_links]:
            m = _GO_TO.search(href or "")
            if m:
                return m.group(1)
        return None


@dataclass
class Header:
    title: str | None = None
    unfinished: int | None = None  # the line of a message the page ends inside (a cut file)


class PageParser(HTMLParser):
    """Tags in, Items out (`ready`); the page header's title in `header`."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ready: list[Item] = []
        self.header = Header()
        self._stack: list[tuple[str, str]] = []  # (tag, role) of each open element
        self._item: Item | None = None
        self._item_depth = 0
        self._cap_role: str | None = None
        self._cap_depth = 0
        self._cap: list[str] = []
        self._cap_len = 0
        self._skip_depth = 0  # > 0 while inside an element whose text is not wanted
        self._in_header = 0
        self._media: Media | None = None
        self._media_depth = 0
        self._reaction: Reacted | None = None

    # -- capture of an element's text ------------------------------------------------------
    def _begin(self, role: str) -> None:
        if self._cap_role is None:
            self._cap_role, self._cap_depth, self._cap, self._cap_len = role, len(self._stack) + 1, [], 0

    def _end(self) -> str:
        text = "".join(self._cap)
        self._cap_role, self._cap, self._cap_len = None, [], 0
        return text

    def handle_data(self, data: str) -> None:
        if self._cap_role is None or self._skip_depth:
            return
        data = _LAYOUT.sub("", data)
        if not data:
            return
        if self._cap_len + len(data) > MAX_CAPTURE:
            data = data[: max(0, MAX_CAPTURE - self._cap_len)]
            if self._item is not None:
                self._item.cut = True
        self._cap.append(data)
        self._cap_len += len(data)

    # -- tags -----------------------------------------------------------------------------
    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            if self._cap_role is not None and not self._skip_depth:
                self._cap.append("\n")
                self._cap_len += 1
            return
        if tag in _VOID:
            return
        a = dict(attrs)
        classes = frozenset((a.get("class") or "").split())
        role = self._role(tag, classes, a)
        self._stack.append((tag, role))
        if len(self._stack) > MAX_DEPTH:
            raise PageError("tags nested too deep")

    def _role(self, tag: str, classes: frozenset[str], a: dict[str, str | None]) -> str:
        item = self._item
        if item is None:
            if tag == "div" and "message" in classes and ("default" in classes or "service" in classes):
                m = _MESSAGE_ID.match(a.get("id") or "")
                if m:
                    self._item = Item(
                        mid=int(m.group(1)),
                        service="service" in classes,
                        joined="joined" in classes,
                        line=self.getpos()[0],
                    )
                    self._item_depth = len(self._stack) + 1
                    return "message"
            if tag == "div" and "page_header" in classes:
                self._in_header = len(self._stack) + 1
                return "header"
            if self._in_header and tag == "div" and "text" in classes and self.header.title is None:
                self._begin("header_title")
                return "capture"
            return ""
        if self._skip_depth:
            return ""
        if item.service:
            if tag == "div" and "body" in classes and "details" in classes:
                self._begin("service_text")
                return "capture"
            if tag == "a" and self._cap_role == "service_text":
                item.service_links.append(a.get("href") or "")
            return ""
        if tag == "div" and "forwarded" in classes and "body" in classes:
            item.forwarded = True
            return "forwarded"
        if "date" in classes and "details" in classes:
            if "pull_right" in classes and item.date_title is None:
                item.date_title = a.get("title")
            elif self._cap_role == "from_name" and self._in_forwarded():
                item.forwarded_date = a.get("title")
            if self._cap_role is not None:
                self._skip_depth = len(self._stack) + 1
            return "date"
        if tag == "div" and "from_name" in classes:
            self._begin("from_name")
            return "capture"
        if tag == "div" and "reply_to" in classes:
            self._begin("reply_to")
            return "capture"
        if tag == "a" and self._cap_role == "reply_to":
            item.reply_href = a.get("href")
            return ""
        if tag == "div" and classes == {"text"} and self._media is None:
            self._begin("text")
            return "capture"
        if tag == "div" and "signature" in classes:
            self._begin("signature")
            return "capture"
        if (
            tag in ("a", "div")
            and self._media is None
            and ("media" in classes or any(c in classes for c in WRAP_CLASSES))
        ):
            self._media = Media(classes=classes, href=a.get("href") if tag == "a" else None)
            self._media_depth = len(self._stack) + 1
            return "media"
        if self._media is not None and tag == "div":
            for cls, role in (("title", "m_title"), ("status", "m_status"), ("description", "m_desc")):
                if cls in classes:
                    self._begin(role)
                    return "capture"
        if tag == "div" and "question" in classes:
            self._begin("poll_question")
            return "capture"
        if tag == "div" and "answer" in classes:
            self._begin("poll_answer")
            return "capture"
        if tag == "span" and "reaction" in classes:
            self._reaction = Reacted(mine="active" in classes)
            return "reaction"
        if self._reaction is not None:
            if tag == "span" and "emoji" in classes:
                self._begin("r_emoji")
                return "capture"
            if tag == "span" and "count" in classes:
                self._begin("r_count")
                return "capture"
            if tag == "div" and "initials" in classes and a.get("title"):
                self._reaction.names.append(str(a.get("title")))
        return ""

    def _in_forwarded(self) -> bool:
        return any(role == "forwarded" for _, role in self._stack)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        # Close up to the matching open tag (a stray end tag closes nothing).
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                break
        else:
            return
        while len(self._stack) > i:
            self._close()

    def _close(self) -> None:
        depth = len(self._stack)
        _, role = self._stack.pop()
        if self._skip_depth and depth == self._skip_depth:
            self._skip_depth = 0
        if self._cap_role is not None and depth == self._cap_depth:
            self._finish_capture(self._cap_role, self._end())
        if role == "header":
            self._in_header = 0
        item = self._item
        if role == "media" and self._media is not None and item is not None:
            item.media.append(self._media)
            self._media = None
        if role == "reaction" and self._reaction is not None and item is not None:
            item.reactions.append(self._reaction)
            self._reaction = None
        if item is not None and depth == self._item_depth:
            self.ready.append(item)
            self._item = None
            self._media = None
            self._reaction = None
            self._skip_depth = 0
            self._cap_role = None

    def _finish_capture(self, role: str, text: str) -> None:
        item = self._item
        if role == "header_title":
            self.header.title = text.strip()
            return
        if item is None:
            return
        if role == "service_text" or role == "text":
            item.text = text
        elif role == "from_name":
            name = text.strip()
            if self._in_forwarded():
                item.forwarded_name = name
            else:
                item.sender = name
        elif role == "reply_to":
            if item.reply_href is None and "another chat" in text:
                item.reply_elsewhere = True
        elif role == "signature":
            item.signature = text.strip()
        elif role == "poll_question":
            item.poll_question = text.strip()
        elif role == "poll_answer":
            item.poll_answers.append(text.strip())
        elif role in ("m_title", "m_status", "m_desc") and self._media is not None:
            attr = {"m_title": "title", "m_status": "status", "m_desc": "description"}[role]
            setattr(self._media, attr, text.strip())
        elif role == "r_emoji" and self._reaction is not None:
            self._reaction.emoji = text.strip()
        elif role == "r_count" and self._reaction is not None:
            digits = text.strip()
            self._reaction.count = int(digits) if digits.isdigit() else None


def read_page(path: Path, header: Header | None = None) -> Iterator[Item]:
    """The items of one page, in order, streaming; `header` (if given) receives the page's title.

    Raises OSError when the file cannot be read, UnicodeDecodeError when it is not UTF-8, and
    PageError when its markup is broken.
    """
    parser = PageParser()
    with open(path, "rb") as raw:
        yield from _feed(parser, raw, header)


def _feed(parser: PageParser, raw: IO[bytes], header: Header | None) -> Iterator[Item]:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8-sig")("strict")
    while True:
        chunk = raw.read(CHUNK)
        try:
            parser.feed(decoder.decode(chunk, final=not chunk))
        except AssertionError as exc:
            raise PageError(str(exc)) from None
        if len(parser.rawdata) > MAX_PENDING:
            raise PageError("a tag that never ends")
        if header is not None and parser.header.title is not None:
            header.title = parser.header.title
        if parser.ready:
            items, parser.ready = parser.ready, []
            yield from items
        if not chunk:
            break
    try:
        parser.close()
    except AssertionError as exc:
        raise PageError(str(exc)) from None
    if header is not None:
        if parser.header.title is not None:
            header.title = parser.header.title
        if parser._item is not None:
            header.unfinished = parser._item.line
    if parser.ready:
        yield from parser.ready
        parser.ready = []
