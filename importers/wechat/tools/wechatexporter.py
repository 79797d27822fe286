"""WechatExporter (BlueMatthew/WechatExporter) exports of iPhone WeChat chats: TXT and HTML.

How a person got them: WechatExporter (Windows/macOS) reads an unencrypted iTunes/Finder backup
of the iPhone and writes, per chat, `<chat name>.txt` or `<chat name>.html` with a
`<chat name>_files/` folder of images, voice and video (formats/wechat.md §5, §6.4).

Layouts read (the program's templates, res/templates_txt/ and res/templates/):
- TXT: `{chat name} - 微信聊天记录` (or `- WeChat Chat History`), a blank line, then one entry per
  message `{name} ({YYYY-MM-DD HH:MM:SS}):{message}`; system entries `系统消息：{text}` or
  `System Message: {text}` carry no time (they take the time of the message before them).
- HTML: one `<div class="msg …" msgid=… msgtype=…>` per message, the sender's alignment (right =
  the owner), `<span class="dspname">{name}</span> {time}` and the message in a `content-box`.
  Pages that load their messages from separate JavaScript files (the "async loading" option)
  hold no messages themselves and are reported as such.

`msgid` is the phone's local message id, not the server's, so messages have no source id. The
TXT does not say which messages the owner sent; give the owner's name as parameter `wechat_me`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, head_text
from importers.wechat.common import (
    SOURCE,
    TYPE_APP,
    TYPE_CALL,
    TYPE_CARD,
    TYPE_IMAGE,
    TYPE_LOCATION,
    TYPE_MICRO_VIDEO,
    TYPE_STICKER,
    TYPE_SYSTEM,
    TYPE_SYSTEM_XML,
    TYPE_TEXT,
    TYPE_VIDEO,
    TYPE_VOICE,
    TYPE_WECOM_CARD,
    call_as_event,
)
from importers.wechat.media import MediaFinder
from importers.wechat.tools.shared import (
    COMPRESSED_BODY,
    is_compressed_body,
    open_text,
    owner_name,
    parse_local_time,
    sniff_encoding,
    system_entry,
    text_lines,
)
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CALL,
    CONTACT,
    FILE,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    UNKNOWN,
    VIDEO,
    Attachment,
    Chat,
    Event,
    Message,
    MessageKind,
    Note,
    Problem,
    Record,
    title_key,
)

# The frame's title suffix (templates_txt/frame.html, zh-Hans.txt "WeChat Chat History").
TITLE_SUFFIXES = (" - 微信聊天记录", " - WeChat Chat History")
SYSTEM_PREFIXES = ("系统消息：", "System Message: ", "System Message:")

_TXT_MESSAGE = re.compile(r"^(?P<name>.*?) \((?P<time>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\):(?P<msg>.*)$")
_QUOTE_SEPARATOR = "\n- - - - - - - - - - - - - - -\n"
_QUOTE = re.compile(r"^「(?P<name>[^：]*)：(?P<quoted>.*)」$", re.S)

# Placeholders of res/zh-Hans.txt and their English keys.
_PLACEHOLDER_KINDS: tuple[tuple[re.Pattern[str], MessageKind], ...] = (
    (re.compile(r"^\[(图片|Photo)\]$"), IMAGE),
    (re.compile(r"^\[(视频|Video)\]$"), VIDEO),
    (re.compile(r"^（视频丢失）$|^\(Video Missed\)$"), VIDEO),
    (re.compile(r"^\[(表情|Emoji)\]$"), STICKER),
    (re.compile(r"^\[(语音|Audio)( [^\]]*)?\]$"), AUDIO),
    (re.compile(r"^\[(视频/语音通话|Video/Audio Call)\]"), CALL),
    (re.compile(r"^\[(实时位置共享|Real-time Location)\]"), LOCATION),
    (re.compile(r"^\[(位置|Location)\]"), LOCATION),
    (re.compile(r"^\[(个人名片|Contact Card|视频号名片|Channel Card)\]"), CONTACT),
    (re.compile(r"^\[(文件|File)(: .*)?\]$"), FILE),
    (re.compile(r"^\[(红包|Red Packet|转账|Transfer|链接|Link)\]"), OTHER),
    (re.compile(r"^(微信转账|Weixin Transfer) "), OTHER),
)
_FILE_NAME = re.compile(r"^\[(?:文件|File): (?P<name>.*)\]$")
_AUDIO_LENGTH = re.compile(r"^\[(?:语音|Audio) ([^\]]*)\]$")
_BARE = frozenset({IMAGE, VIDEO, STICKER, AUDIO})

# msgtype values (WeChat type codes) → kinds, for the HTML.
_HTML_TYPE_KINDS: dict[int, MessageKind] = {
    TYPE_TEXT: TEXT,
    TYPE_IMAGE: IMAGE,
    TYPE_VOICE: AUDIO,
    TYPE_CARD: CONTACT,
    TYPE_VIDEO: VIDEO,
    TYPE_STICKER: STICKER,
    TYPE_LOCATION: LOCATION,
    TYPE_CALL: CALL,
    TYPE_MICRO_VIDEO: VIDEO,
    TYPE_WECOM_CARD: CONTACT,
}
_HTML_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


def _title(text: str) -> str | None:
    for suffix in TITLE_SUFFIXES:
        if text.endswith(suffix):
            return text[: -len(suffix)]
    return None


def body_meaning(body: str) -> tuple[MessageKind, str, dict[str, Any], Attachment | None]:
    """(kind, text, extra, attachment) of a message as WechatExporter printed it."""
    extra: dict[str, Any] = {}
    if body.startswith("「") and _QUOTE_SEPARATOR in body:
        quote, _, rest = body.partition(_QUOTE_SEPARATOR)
        match = _QUOTE.match(quote)
        if match:
            extra["quote"] = {"sender": match.group("name"), "text": match.group("quoted")}
            return TEXT, rest, extra, None
    first = body.split("\n", 1)[0]
    for pattern, kind in _PLACEHOLDER_KINDS:
        if pattern.match(first):
            if kind == FILE:
                named = _FILE_NAME.match(first)
                name = named.group("name") if named else "file"
                return FILE, name if named else "", extra, Attachment(name, FILE)
            if kind == AUDIO:
                length = _AUDIO_LENGTH.match(first)
                if length:
                    extra["duration"] = length.group(1)
            return kind, "" if kind in _BARE else body, extra, None
    return TEXT, body, extra, None


# --- TXT -----------------------------------------------------------------------------------


def detect_txt(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        lines = head_text(path, 8192).replace("\r\n", "\n").split("\n")
        return (
            len(lines) >= 3
            and _title(lines[0].strip()) is not None
            and lines[1].strip() == ""
            and any(_TXT_MESSAGE.match(line) for line in lines[2:12])
        )
    except Exception:
        return False


@dataclass
class _TxtEntry:
    line: int
    name: str
    time: str
    body: list[str] = field(default_factory=list)


def parse_txt(path: Path, options: ParseOptions) -> Iterator[Record]:
    me = owner_name(options)
    key = ""
    current: _TxtEntry | None = None
    last_ts: datetime | None = None
    waiting: list[tuple[int, str]] = []  # system entries seen before any time
    compressed: list[int] = []  # lines of bodies that are compressed data, not text

    def finish(entry: _TxtEntry) -> Iterator[Record]:
        nonlocal last_ts
        ts = parse_local_time(entry.time)
        if ts is None:
            yield Problem(str(path), entry.line, "entry with an impossible time")
            return
        last_ts = ts
        for number, text in waiting:
            yield system_entry(key, ts, text, number, me)
        waiting.clear()
        body = "\n".join(entry.body)
        if is_compressed_body(body):
            compressed.append(entry.line)
            yield Problem(str(path), entry.line, COMPRESSED_BODY)
            return
        kind, text, extra, attachment = body_meaning(body)
        yield call_as_event(
            Message(
                chat=key,
                ts=ts,
                sender=entry.name,
                text=text,
                kind=kind,
                from_me=(entry.name == me) if me else None,
                attachments=(attachment,) if attachment else (),
                line=entry.line,
                extra=extra,
            )
        )

    for number, line in text_lines(path, sniff_encoding(path)):
        if number == 1:
            title = _title(line.strip()) or path.stem
            key = title_key(title)
            yield Chat(SOURCE, key, title, UNKNOWN, ())
            continue
        match = _TXT_MESSAGE.match(line)
        system = next((line[len(p) :] for p in SYSTEM_PREFIXES if line.startswith(p)), None)
        if match or system is not None:
            if current is not None:
                yield from finish(current)
                current = None
            if match:
                current = _TxtEntry(number, match.group("name"), match.group("time"), [match.group("msg")])
            elif last_ts is None:
                waiting.append((number, system or ""))
            else:
                yield system_entry(key, last_ts, system or "", number, me)
        elif current is not None:
            current.body.append(line)
    if current is not None:
        yield from finish(current)
    for number, _ in waiting:
        yield Problem(str(path), number, "system entry with no message time to place it at")
    if compressed:
        yield compressed_note(len(compressed))


def compressed_note(count: int) -> Note:
    """What to do about bodies WechatExporter could not decompress (WeChat 8.0.5x, zstd)."""
    return Note(
        f"{count} message(s) were skipped: WechatExporter printed their zstd-compressed bodies as "
        "text (WeChat 8.0.5x on the iPhone). Their text is only in the iPhone backup's own "
        "database; read it from there (see docs/importers/wechat.md)"
    )


# --- HTML ----------------------------------------------------------------------------------


def detect_html(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        head = head_text(path)
        match = re.search(r"<title>(.*?)</title>", head, re.S)
        return bool(match and _title(match.group(1).strip()) is not None and "nt-box" in head)
    except Exception:
        return False


@dataclass
class _HtmlMessage:
    line: int
    classes: list[str]
    msgid: str | None
    msgtype: int | None
    name: list[str] = field(default_factory=list)
    nt_box: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    quote: list[str] = field(default_factory=list)
    media: list[str] = field(default_factory=list)


class _PageParser(HTMLParser):
    """Collects the message divs of a WechatExporter page as they stream past."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: list[str] = []
        self.done: list[_HtmlMessage] = []
        self._in_title = False
        self._current: _HtmlMessage | None = None
        self._depth = 0  # div depth inside the current message
        self._stack: list[str] = []  # what each open element inside the message collects

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag == "title":
            self._in_title = True
        if self._current is None:
            if tag == "div" and "msg" in classes:
                msgtype = a.get("msgtype", "")
                self._current = _HtmlMessage(
                    self.getpos()[0],
                    classes,
                    a.get("msgid") or None,
                    int(msgtype) if msgtype.lstrip("-").isdigit() else None,
                )
                self._depth = 1
                self._stack = []
            return
        message = self._current
        if tag == "br":
            target = self._stack[-1] if self._stack else ""
            if target == "text":
                message.text.append("\n")
            return
        if tag in ("img", "source"):
            src = a.get("rawurl") or a.get("src") or ""
            if src and "avatar" not in classes and "app-icon" not in classes:
                message.media.append(src)
            return
        if tag == "div":
            self._depth += 1
        role = self._stack[-1] if self._stack else ""
        if "dspname" in classes or any(c.startswith("name-") for c in classes):
            role = "name"
        elif "nt-box" in classes:
            role = "nt"
        elif "refermsg" in classes:
            role = "quote"
        elif "content-box" in classes or "msg-text" in classes or "dont-break-out" in classes:
            role = "text"
        self._stack.append(role)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._current is None or tag in ("br", "img", "source"):
            return
        if self._stack:
            self._stack.pop()
        if tag == "div":
            self._depth -= 1
            if self._depth == 0:
                self.done.append(self._current)
                self._current = None

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        if self._current is None or not self._stack:
            return
        role = self._stack[-1]
        if role == "name":
            self._current.name.append(data)
        elif role == "nt":
            self._current.nt_box.append(data)
        elif role == "quote":
            self._current.quote.append(data)
        elif role == "text":
            self._current.text.append(data)


@dataclass
class _Notice:
    """A system line of the page; it has no time of its own."""

    text: str
    line: int


def _html_record(m: _HtmlMessage, key: str, finder: MediaFinder) -> Message | Event | _Notice | None:
    found = _HTML_TIME.search("".join(m.nt_box))
    ts = parse_local_time(found.group(0)) if found else None
    text = re.sub(r"[ \t]*\n[ \t]*", "\n", "".join(m.text)).strip()
    extra: dict[str, Any] = {"msgid": m.msgid} if m.msgid else {}
    if "chat-notice" in m.classes or m.msgtype in (TYPE_SYSTEM, TYPE_SYSTEM_XML):
        return _Notice(text, m.line)
    if ts is None:
        return None
    sender = " ".join("".join(m.name).split()) or None
    from_me = any(c in ("right", "chat-right", "media-right") for c in m.classes)
    if m.quote:
        quoted = "".join(m.quote).strip()
        q = _QUOTE.match(quoted)
        if q:
            extra["quote"] = {"sender": q.group("name"), "text": q.group("quoted")}
        text = text.split("- - - - - - - - - - - - - - -", 1)[-1].strip()
    kind = TEXT if m.quote else _HTML_TYPE_KINDS.get(m.msgtype or 0)
    attachment: Attachment | None = None
    if kind is None or kind == TEXT:
        guessed, shown, more, named = body_meaning(text)
        if kind is None or (guessed != TEXT and m.msgtype != TYPE_TEXT):
            kind, text, attachment = guessed, shown, named
            extra.update(more)
        if m.msgtype == TYPE_APP and kind == TEXT and not m.quote:
            kind = OTHER
    elif kind in (IMAGE, VIDEO, AUDIO, STICKER):
        if m.media:
            rel = m.media[0]
            attachment = finder.attachment(rel, kind) or Attachment(rel.replace("\\", "/").rsplit("/", 1)[-1], kind)
        if kind in _BARE or body_meaning(text)[0] == kind:
            text = ""
    return call_as_event(
        Message(
            chat=key,
            ts=ts,
            sender=sender,
            text=text,
            kind=kind,
            from_me=from_me,
            attachments=(attachment,) if attachment else (),
            line=m.line,
            extra=extra,
        )
    )


def parse_html(path: Path, options: ParseOptions) -> Iterator[Record]:
    me = owner_name(options)
    finder = MediaFinder(path.parent)
    parser = _PageParser()
    key = ""
    announced = False
    last_ts: datetime | None = None
    waiting: list[_Notice] = []  # system lines seen before any message time
    count = 0
    compressed = 0
    with open_text(path, sniff_encoding(path)) as fh:
        while True:
            try:
                data = fh.read(64 * 1024)
            except UnicodeDecodeError as exc:
                raise ExportError(
                    "not valid UTF-8 text (was the page converted?); export it again",
                    path=str(path),
                ) from exc
            if data:
                parser.feed(data)
            else:
                parser.close()
            if not announced and (parser.done or not data or (parser.title and "</title>" in data)):
                shown = "".join(parser.title).strip()
                title = _title(shown) or shown or path.stem
                key = title_key(title)
                yield Chat(SOURCE, key, title, UNKNOWN, ())
                announced = True
            for m in parser.done:
                count += 1
                if is_compressed_body("".join(m.text)):
                    compressed += 1
                    yield Problem(str(path), m.line, COMPRESSED_BODY)
                    continue
                record = _html_record(m, key, finder)
                if isinstance(record, _Notice):  # takes the time of the message before it
                    if last_ts is None:
                        waiting.append(record)
                    elif record.text:
                        yield system_entry(key, last_ts, record.text, record.line, me)
                elif record is None:
                    yield Problem(str(path), m.line, "message without a readable time")
                else:
                    last_ts = record.ts
                    for notice in waiting:
                        if notice.text:
                            yield system_entry(key, record.ts, notice.text, notice.line, me)
                    waiting.clear()
                    yield record
            parser.done.clear()
            if not data:
                break
    for notice in waiting:
        yield Problem(str(path), notice.line, "system entry with no message time to place it at")
    if compressed:
        yield compressed_note(compressed)
    if count == 0:
        yield Problem(
            str(path),
            None,
            "no messages in this page: it may load them from its _files/Data folder "
            "(WechatExporter's asynchronous loading), which is not read; export again without it",
        )
