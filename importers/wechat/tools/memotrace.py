"""MemoTrace (留痕, LC044/WeChatMsg) exports of one WeChat chat: CSV, TXT and HTML.

How a person got them: MemoTrace read the Windows WeChat databases and, per chat, wrote into
`data/聊天记录/<contact's remark>/` (formats/wechat.md §6.1, §6.2):

- 1.x CSV `<remark>_utf8.csv`: `localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,
  StrContent,StrTime,Remark,NickName,Sender` (≤ 0.2.6: the first nine). Raw database values:
  type codes, Unix times (read as UTC instants), XML contents; the last three name the sender.
- 2.x CSV `<remark>.csv`: `消息ID,类型,发送人,时间,内容,备注,昵称,更多信息`: server id, type name,
  sender's display name, local time, MemoTrace's text rendering (【图片】, 【文件】…).
- TXT `<remark>.txt` (both versions): `{time} {name}` then the text, entries separated by a
  blank line; system entries as `{time} {text}` (1.x) or `{time}` then the text (2.x).
- 1.x HTML `<remark>.html`: the page template with the messages as JavaScript object literals
  (`{ type:1, text: '…', is_send:0, timestamp:…, displayname:'…'}`), text HTML- then JS-escaped.

None of them names the chat's WeChat id, so chats are keyed by their title (the file name; the
page title in HTML). TXT and 2.x CSV do not say which messages the owner sent: give the name the
owner appears under as the parameter `wechat_me` to mark them.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, head_text
from importers.wechat.common import (
    APP_FILE,
    APP_QUOTE,
    SOURCE,
    TYPE_APP,
    TYPE_CALL,
    TYPE_IMAGE,
    TYPE_TEXT,
    TYPE_VIDEO,
    TYPE_VOICE,
    Names,
    RawMessage,
    aware_epoch,
    build_record,
    call_as_event,
    call_duration,
    display_name,
    event_kind,
    is_recall,
    kind_for_type_name,
    strip_markup,
)
from importers.wechat.media import MediaFinder
from importers.wechat.tools.shared import (
    csv_dicts,
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
    DELETED,
    DIRECT,
    EV_CALL,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    UNKNOWN,
    VIDEO,
    Attachment,
    Chat,
    ChatKind,
    Event,
    Message,
    MessageKind,
    Problem,
    Record,
    title_key,
)

CSV1_HEADER = [
    "localId",
    "TalkerId",
    "Type",
    "SubType",
    "IsSender",
    "CreateTime",
    "Status",
    "StrContent",
    "StrTime",
    "Remark",
    "NickName",
    "Sender",
]
CSV1_OLD_HEADER = CSV1_HEADER[:9]  # MemoTrace ≤ 0.2.6
CSV2_HEADER = ["消息ID", "类型", "发送人", "时间", "内容", "备注", "昵称", "更多信息"]

# File name suffix of the 1.x CSV (exporter_csv.py: f"{remark}_utf8.csv").
CSV1_SUFFIX = "_utf8"

# The separator line MemoTrace's HTML template splits at is gone from the output; what stays is
# the array the messages are written into (app/resources/data/template.html).
HTML_ARRAY_START = "const chatMessages = ["
HTML_MARKERS = ('<p id="title">', 'id="chat-container"')

_TXT_HEADER = re.compile(r"^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})(?: (.*))?$")

# Placeholders of MemoTrace 1.x TXT (exporter_txt.py) and 2.x `to_text()` (wxManager message.py).
_PLACEHOLDERS_1: dict[str, MessageKind] = {
    "[图片]": IMAGE,
    "[语音]": AUDIO,
    "[视频]": VIDEO,
    "[表情包]": STICKER,
    "[文件]": FILE,
    "[音乐分享]": OTHER,
}
_PREFIXES_2: tuple[tuple[str, MessageKind], ...] = (
    ("【图片】", IMAGE),
    ("【视频】", VIDEO),
    ("【表情包】", STICKER),
    ("【语音】", AUDIO),
    ("【文件】", FILE),
    ("【位置分享】", LOCATION),
    ("【音视频通话】", CALL),
    ("【名片】", CONTACT),
    ("【分享链接】", OTHER),
    ("【合并转发的聊天记录】", OTHER),
    ("【红包】", OTHER),
    ("【视频号】", OTHER),
    ("【笔记】", OTHER),
    ("【发起转账】", OTHER),
    ("【已收款】", OTHER),
    ("【已退还】", OTHER),
    ("【非实时转账收款】", OTHER),
    ("【发起非实时转账】", OTHER),
)
# Kinds whose placeholder carries nothing worth searching.
_BARE = frozenset({IMAGE, VIDEO})

_FILE_2 = re.compile(
    r"^【文件】(?P<name>.*?) (?P<size>[\d.]+ MB) (?P<path>.*?) (?P<type>\S*)"
    r" (?P<md5>[0-9a-f]{32})?$"
)
_QUOTE_1 = re.compile(r"^(?P<text>.*)\n引用:(?P<name>[^:\n]*):(?P<quoted>.*)$", re.S)
_QUOTE_2 = re.compile(r"^(?P<text>.*)\n引用：(?P<name>[^:\n]*): (?P<quoted>.*)$", re.S)


def _chat_title(path: Path, suffix: str = "") -> str:
    stem = path.stem
    if suffix and stem.endswith(suffix):
        stem = stem[: -len(suffix)]
    return stem or path.name


def _first_line(path: Path) -> str:
    return head_text(path, 4096).split("\n", 1)[0].strip("\r\n ")


# --- CSV -----------------------------------------------------------------------------------


def _csv_header(path: Path) -> list[str] | None:
    fields = _first_line(path).split(",")
    for header in (CSV1_HEADER, CSV1_OLD_HEADER, CSV2_HEADER):
        if fields == header:
            return header
    return None


def detect_csv1(path: Path) -> bool:
    try:
        return path.is_file() and _csv_header(path) in (CSV1_HEADER, CSV1_OLD_HEADER)
    except Exception:
        return False


def detect_csv2(path: Path) -> bool:
    try:
        return path.is_file() and _csv_header(path) == CSV2_HEADER
    except Exception:
        return False


def parse_csv1(path: Path, options: ParseOptions) -> Iterator[Record]:
    """MemoTrace 1.x CSV: raw MSG columns, so the database interpretation applies."""
    header = _csv_header(path)
    if header not in (CSV1_HEADER, CSV1_OLD_HEADER):
        raise ExportError("not a MemoTrace 1.x CSV export (unexpected header)", path=str(path))
    assert header is not None
    title = _chat_title(path, CSV1_SUFFIX)
    key = title_key(title)
    yield Chat(SOURCE, key, title, UNKNOWN, ())
    names = Names()
    for line, row in csv_dicts(path, header):
        if isinstance(row, Problem):
            yield row
            continue
        try:
            type_, sub_type = int(row["Type"]), int(row["SubType"] or 0)
            created = int(row["CreateTime"])
            from_me = int(row["IsSender"] or 0) == 1
        except (ValueError, OverflowError):
            yield Problem(str(path), line, "row with an unreadable type, sender flag or time")
            continue
        sender_id = row.get("Sender") or None
        shown = display_name(row.get("Remark"), row.get("NickName"), None, sender_id) or None
        if from_me and shown:
            names.owner_name = shown
        raw = RawMessage(
            chat=key,
            ts=aware_epoch(created),
            type=type_,
            sub_type=sub_type,
            content=row["StrContent"],
            sender_id=sender_id,
            from_me=from_me,
            source_id=None,  # localId restarts in every MSGn database: not an identity
            record=line,
            extra={"local_id": row["localId"]},
        )
        yield build_record(raw, names, None, shown)


def _split_2(kind: MessageKind, body: str) -> tuple[MessageKind, str, dict[str, Any], Attachment | None]:
    """(kind, text, extra, attachment) of a MemoTrace 2 `to_text()` rendering."""
    extra: dict[str, Any] = {}
    if kind == FILE:
        match = _FILE_2.match(body)
        if match:
            return FILE, match.group("name"), extra, Attachment(match.group("name"), FILE)
    for prefix, prefix_kind in _PREFIXES_2:
        if body.startswith(prefix):
            rest = body[len(prefix) :].lstrip(" :\n").rstrip("\n")
            if prefix_kind in _BARE:
                return prefix_kind, "", extra, None
            return prefix_kind, rest, extra, None
    quote = _QUOTE_2.match(body)
    if quote:
        extra["quote"] = {"sender": quote.group("name"), "text": quote.group("quoted")}
    return kind, body, extra, None


def parse_csv2(path: Path, options: ParseOptions) -> Iterator[Record]:
    """MemoTrace 2.x CSV: rendered text, type names, server ids, local times."""
    if _csv_header(path) != CSV2_HEADER:
        raise ExportError("not a MemoTrace 2.x CSV export (unexpected header)", path=str(path))
    title = _chat_title(path)
    key = title_key(title)
    yield Chat(SOURCE, key, title, UNKNOWN, ())
    me = owner_name(options)
    for line, row in csv_dicts(path, CSV2_HEADER):
        if isinstance(row, Problem):
            yield row
            continue
        ts = parse_local_time(row["时间"])
        if ts is None:
            yield Problem(str(path), line, "row without a readable time")
            continue
        body = row["内容"]
        kind, event = kind_for_type_name(row["类型"], body)
        sender = row["发送人"] or None
        svrid = row["消息ID"].strip() or None
        extra: dict[str, Any] = {"type_name": row["类型"]}
        if event is not None:
            seconds = call_duration(body) if event == EV_CALL else None
            if seconds is not None:
                extra["duration_s"] = seconds
            yield Event(key, ts, strip_markup(body), event, sender, svrid, line, extra)
            continue
        kind, text, more, attachment = _split_2(kind, body)
        extra.update(more)
        from_me = None
        if me is not None:
            from_me = me in (sender, row["备注"], row["昵称"])
        yield call_as_event(
            Message(
                chat=key,
                ts=ts,
                sender=sender,
                text=text,
                kind=kind,
                source_id=svrid,
                from_me=from_me,
                attachments=(attachment,) if attachment else (),
                line=line,
                extra=extra,
            )
        )


# --- TXT -----------------------------------------------------------------------------------


def detect_txt(path: Path) -> bool:
    """A TXT whose every entry in the first 64 KiB starts with `YYYY-MM-DD HH:MM:SS`."""
    try:
        if not path.is_file() or path.suffix.lower() != ".txt":
            return False
        head = head_text(path).replace("\r\n", "\n")
        blocks = [b.lstrip("\n") for b in head.split("\n\n") if b.strip()]
        if not blocks or not _TXT_HEADER.match(blocks[0].split("\n", 1)[0]):
            return False
        # Texts may hold blank lines of their own: most blocks, not all, open with a header.
        headed = sum(1 for b in blocks if _TXT_HEADER.match(b.split("\n", 1)[0]))
        return headed * 3 >= len(blocks) * 2
    except Exception:
        return False


@dataclass
class _Entry:
    line: int
    time: str
    name: str | None
    body: list[str] = field(default_factory=list)


def _txt_entries(path: Path) -> Iterator[_Entry]:
    current: _Entry | None = None
    previous_blank = True
    for number, line in text_lines(path, sniff_encoding(path)):
        header = _TXT_HEADER.match(line) if previous_blank else None
        if header:
            if current is not None:
                yield current
            current = _Entry(number, header.group(1), header.group(2))
        elif current is not None:
            current.body.append(line)
        previous_blank = line == ""
    if current is not None:
        yield current


def _unescape_name(name: str) -> str:
    """MemoTrace 1.x escapes display names for JavaScript even in TXT (`get_display_name`)."""
    return html.unescape(_js_unescape(name))


def _txt_body_1(body: str) -> tuple[MessageKind, str, dict[str, Any]]:
    if body in _PLACEHOLDERS_1:
        return _PLACEHOLDERS_1[body], "", {}
    if body.startswith("[链接]:"):
        return OTHER, body, {}
    quote = _QUOTE_1.match(body)
    if quote:
        return TEXT, body, {"quote": {"sender": quote.group("name"), "text": quote.group("quoted")}}
    return TEXT, body, {}


def parse_txt(path: Path, options: ParseOptions) -> Iterator[Record]:
    """MemoTrace TXT (1.x and 2.x)."""
    title = _chat_title(path)
    key = title_key(title)
    yield Chat(SOURCE, key, title, UNKNOWN, ())
    me = owner_name(options)
    for entry in _txt_entries(path):
        ts = parse_local_time(entry.time)
        if ts is None:
            yield Problem(str(path), entry.line, "entry with an impossible time")
            continue
        while entry.body and entry.body[-1] == "":
            entry.body.pop()
        body = "\n".join(entry.body)
        if entry.name is None or not entry.body:
            # 2.x system entries have no name; 1.x ones have their text where the name goes.
            text = entry.name if not entry.body and entry.name else body
            yield system_entry(key, ts, text, entry.line, me)
            continue
        sender = _unescape_name(entry.name)
        if any(body.startswith(p) for p, _ in _PREFIXES_2) or _QUOTE_2.match(body):
            kind, text, extra, attachment = _split_2(TEXT, body)
        else:
            kind, text, extra = _txt_body_1(body)
            attachment = None
        yield call_as_event(
            Message(
                chat=key,
                ts=ts,
                sender=sender,
                text=text,
                kind=kind,
                from_me=(sender == me) if me else None,
                attachments=(attachment,) if attachment else (),
                line=entry.line,
                extra=extra,
            )
        )


# --- HTML ----------------------------------------------------------------------------------

_OBJECT_START = re.compile(r"\{\s*type\s*:")
_KEY_VALUE = re.compile(
    r"""\s*,?\s*([A-Za-z_]\w*)\s*:\s*('[^'\\]*(?:\\.[^'\\]*)*'|"[^"\\]*(?:\\.[^"\\]*)*"|[^,}]*)""",
    re.S,
)
_JS_ESCAPE = re.compile(r"\\(u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|.)", re.S)
_JS_SIMPLE = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_EMOJI_IMG = re.compile(r'<img src="[^"]*" id="([^"]*)" class="emoji_img">')
# Message types of the page's literals: WeChat's codes, except 0 for system lines, which the
# exporter writes for type 10000 (exporter_html.py `system_msg`). Stickers are written as type 3.
HTML_SYSTEM = 0
_HTML_MEDIA_KINDS: dict[int, MessageKind] = {TYPE_IMAGE: IMAGE, TYPE_VOICE: AUDIO, TYPE_VIDEO: VIDEO}
_TITLE = re.compile(r"<title>(.*?)</title>", re.S)
_HTML_READ = 64 * 1024


def _js_unescape(value: str) -> str:
    def one(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "ux" and len(code) > 1:
            return chr(int(code[1:], 16))
        return _JS_SIMPLE.get(code, code)

    return _JS_ESCAPE.sub(one, value)


def _js_value(token: str) -> Any:
    token = token.strip()
    if len(token) >= 2 and token[0] == token[-1] and token[0] in "'\"":
        return _js_unescape(token[1:-1])
    try:
        return int(token)
    except ValueError:
        return token or None


def js_object(chunk: str) -> dict[str, Any]:
    """The keys and values of one MemoTrace message literal, as far as they parse."""
    out: dict[str, Any] = {}
    pos = chunk.find("{") + 1
    while pos < len(chunk):
        match = _KEY_VALUE.match(chunk, pos)
        if not match or match.end() == pos:
            break
        out[match.group(1)] = _js_value(match.group(2))
        pos = match.end()
    return out


def _html_text(value: Any) -> str:
    """Message text from the page: JS already undone; emoji images back to [name]; entities."""
    text = _EMOJI_IMG.sub(lambda m: "[" + m.group(1).replace(" ", "") + "]", str(value or ""))
    return html.unescape(text)


def detect_html(path: Path) -> bool:
    try:
        if not path.is_file():
            return False
        head = head_text(path)
        return HTML_ARRAY_START in head and any(m in head for m in HTML_MARKERS)
    except Exception:
        return False


def _html_chunks(path: Path) -> Iterator[tuple[str, str]]:
    """('title', text) once, then ('object', source of one message literal) per message."""
    with open_text(path, sniff_encoding(path)) as fh:
        buffer = ""
        started = False
        while True:
            try:
                data = fh.read(_HTML_READ)
            except UnicodeDecodeError as exc:
                raise ExportError(
                    "not valid UTF-8 text (was the page converted?); export it again",
                    path=str(path),
                ) from exc
            buffer += data
            if not started:
                at = buffer.find(HTML_ARRAY_START)
                if at < 0:
                    if not data:
                        raise ExportError(
                            "no messages found in this MemoTrace page (damaged or truncated?)",
                            path=str(path),
                        )
                    continue
                title = _TITLE.search(buffer, 0, at)
                yield "title", html.unescape(title.group(1).strip()) if title else ""
                buffer = buffer[at + len(HTML_ARRAY_START) :]
                started = True
            starts = [m.start() for m in _OBJECT_START.finditer(buffer)]
            end = buffer.find("</script>")
            for a, b in itertools.pairwise(starts):
                if end < 0 or b < end:
                    yield "object", buffer[a:b]
            if end >= 0:
                last = [s for s in starts if s < end]
                if last:
                    yield "object", buffer[last[-1] : end]
                return
            if not data:
                if starts:
                    yield "object", buffer[starts[-1] :]
                return
            buffer = buffer[starts[-1] :] if starts else buffer[-64:]


def _html_message(obj: dict[str, Any], key: str, line: int, finder: MediaFinder) -> Message | Event | None:
    timestamp = obj.get("timestamp")
    if not isinstance(timestamp, int):
        return None
    ts = aware_epoch(timestamp)
    type_ = obj.get("type")
    sub_type = obj.get("sub_type")
    text = _html_text(obj.get("text"))
    from_me = obj.get("is_send") == 1
    sender = html.unescape(str(obj.get("displayname") or "")) or None
    extra: dict[str, Any] = {}
    attachment: Attachment | None = None
    kind: MessageKind
    if type_ == HTML_SYSTEM:
        text = strip_markup(text)
        if not is_recall(text):
            return Event(key, ts, text, event_kind(text), line=line)
        kind = DELETED
    elif type_ == TYPE_TEXT:
        kind = TEXT
    elif type_ in _HTML_MEDIA_KINDS:
        path = text
        if type_ == TYPE_IMAGE and (path.startswith("http") or "/emoji/" in path):
            kind, text, extra = STICKER, "", {"url": path} if path.startswith("http") else {}
            path = "" if path.startswith("http") else path
        else:
            kind = _HTML_MEDIA_KINDS[type_]
            text = html.unescape(str(obj.get("voice_to_text") or "")) if type_ == TYPE_VOICE else ""
            if text == "None":
                text = ""
        if path:
            attachment = finder.attachment(path, kind) or Attachment(path.replace("\\", "/").rsplit("/", 1)[-1], kind)
    elif type_ == TYPE_APP and sub_type == APP_QUOTE:
        kind = TEXT
        refer = _html_text(obj.get("refer_text"))
        if refer:
            name, _, quoted = refer.partition("：")
            extra["quote"] = {"sender": name, "text": quoted}
    elif type_ == TYPE_APP and sub_type == APP_FILE:
        kind = FILE
        name = html.unescape(str(obj.get("file_name") or "")) or "file"
        found = finder.attachment(text, FILE) if text else None
        attachment = Attachment(
            name,
            FILE,
            found.mime if found else None,
            found.size if found else None,
            found.open if found else None,
        )
        text = name
    elif type_ == TYPE_CALL:
        kind = CALL
    else:
        kind = OTHER
        parts = [obj.get(k) for k in ("title", "description", "artist", "feedesc", "pay_memo")]
        url = obj.get("url") or obj.get("link_url")
        text = "\n".join(html.unescape(str(p)) for p in (*parts, url) if p and p != "None")
        extra["sub_type"] = sub_type
    return call_as_event(
        Message(
            chat=key,
            ts=ts,
            sender=sender,
            text=text,
            kind=kind,
            from_me=from_me,
            attachments=(attachment,) if attachment else (),
            line=line,
            extra=extra,
        )
    )


def parse_html(path: Path, options: ParseOptions) -> Iterator[Record]:
    """MemoTrace 1.x HTML: the message literals of the page, streaming."""
    finder = MediaFinder(path.parent)
    key = title = ""
    announced = False
    number = 0
    for what, source in _html_chunks(path):
        if what == "title":
            title = source or _chat_title(path)
            key = title_key(title)
            continue
        number += 1
        obj = js_object(source)
        record = _html_message(obj, key, number, finder) if obj else None
        if record is None:
            yield Problem(str(path), number, "message literal without a readable time")
            continue
        if not announced:
            announced = True
            chat_kind: ChatKind = GROUP if obj.get("is_chatroom") == 1 else DIRECT
            yield Chat(SOURCE, key, title, chat_kind, ())
        yield record
    if not announced and key:
        yield Chat(SOURCE, key, title, UNKNOWN, ())
