"""The old QQ message manager's TXT export (消息管理器 → 导出消息记录 → .txt), one file, many chats.

The layout (no sample in the corpus; ChatLab/ChatLab:packages/parser/src/browser/qq.ts reads the
same strings):

    消息记录（此消息记录为文本格式，不支持重新导入）
                                                  ← blank
    ================================================================
    消息分组:我的群聊                              ← the contact group (folder)
    ================================================================
    消息对象:摄影同好会                            ← a chat begins (one per 消息对象)
    ================================================================
                                                  ← blank
    2013-05-01 12:00:00 【管理员】阿明(12345)       ← time, nickname (title tags in 【】), QQ number
    text line(s)                                  ← up to the next header
                                                  ← blank
    2013-05-01 12:00:05 Mei<mei@example.com>      ← an e-mail account instead of a number

Times are the computer's wall-clock time (the vault applies --tz). `[图片]`, `[表情]`, `[语音]`,
... stand for what the text file cannot hold. A sender shown by its number only gets the last
nickname seen for that number. Encoding: UTF-8, UTF-16 (QQ 2009–2013 wrote it with a BOM) or, when
the bytes are not UTF-8, GB18030 (a superset of GBK and GB2312); `--param encoding=NAME` overrides.
The export does not say who the owner is: `--param qq_me=QQNUMBER` (or a nickname) marks one's own
messages.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO

from importers.base import MAX_LINE, ParseOptions, decode_head, open_export, read_head, sniff_encoding, text_lines
from importers.qq.notices import duration_seconds, is_recall_notice, notice_kind, placeholder_kind
from importers.qq.qce import SOURCE
from vault.errors import ExportError
from vault.records import (
    DELETED,
    DIRECT,
    EV_CALL,
    GROUP,
    OTHER,
    TEXT,
    UNKNOWN,
    Chat,
    ChatKind,
    Event,
    Message,
    MessageKind,
    Problem,
    Record,
    title_key,
)

TITLE_RE = re.compile(r"^\s*消息记录[（(]此消息记录为文本格式")
SEPARATOR_RE = re.compile(r"^={16,}\s*$")
GROUP_RE = re.compile(r"^消息分组[:：](.*)$")
CHAT_RE = re.compile(r"^消息对象[:：](.*)$")
HEADER_RE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{2}):(\d{2}) (.+)$")
QQ_NUMBER_RE = re.compile(r"^(.*)\((\d{4,12})\)\s*$")
EMAIL_RE = re.compile(r"^(.*)<([^<>\s]+@[^<>\s]+)>\s*$")
TITLE_TAGS_RE = re.compile(r"^(?:【[^】]*】\s*)+")  # 【管理员】, 【群主】, 【活跃】 ...
# The sender QQ shows its own notices under.
SYSTEM_IDS = frozenset({"10000"})
SYSTEM_NAMES = frozenset({"系统消息"})
CALL_BODIES = frozenset({"[语音通话]", "[视频通话]"})
# 消息分组 names that tell what kind of chats a section holds (QQ's default folders).
GROUP_FOLDER_WORDS = ("群", "讨论组", "多人聊天")
DIRECT_FOLDER_WORDS = ("好友", "联系人", "陌生人", "黑名单")
# Bytes sniffed for the encoding; a character cut at the end of the sample is not an error.
_SNIFF = 64 * 1024


def encoding_of(head: bytes, requested: str | None) -> str:
    """BOM, the person's choice, UTF-16 by zero bytes, UTF-8, else GB18030."""
    enc = sniff_encoding(head, requested)
    if enc != "utf-8" or requested or head.startswith(codecs.BOM_UTF8):
        return enc
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:
            return "gb18030"
    return enc


def _head_text(path: Path) -> str:
    raw = read_head(path, _SNIFF)
    enc = encoding_of(raw, None)
    if enc == "utf-8":
        return decode_head(raw)
    return raw.decode(enc, errors="replace").lstrip("\ufeff")


def detect(path: Path) -> bool:
    if path.suffix.lower() != ".txt" or not path.is_file():
        return False
    first = next((line for line in _head_text(path).split("\n") if line.strip()), "")
    return bool(TITLE_RE.match(first))


def _lines(fh: IO[bytes], where: str, encoding: str) -> Iterator[tuple[int, str]]:
    """Numbered lines; UTF-16 is decoded as a stream (its newlines are two bytes)."""
    if not encoding.lower().replace("_", "-").startswith("utf-16"):
        yield from text_lines(fh, path=where, encoding=encoding)
        return
    reader = io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline="\n")
    lineno = 0
    try:
        while line := reader.readline(MAX_LINE):
            lineno += 1
            if len(line) >= MAX_LINE and not line.endswith("\n"):
                raise ExportError("has a line too long for a chat export", path=where, line=lineno)
            if lineno == 1:
                line = line.lstrip("\ufeff")
            line = line[:-1] if line.endswith("\n") else line
            yield lineno, line[:-1] if line.endswith("\r") else line
    except UnicodeDecodeError:
        raise ExportError(
            "is not valid UTF-16 text here (saved without conversion?)", path=where, line=lineno + 1
        ) from None


@dataclass
class _Pending:
    line: int
    ts: datetime
    name: str
    sender_id: str | None
    body: list[str] = field(default_factory=list)


def _chat_kind(folder: str | None) -> ChatKind:
    if folder and any(w in folder for w in GROUP_FOLDER_WORDS):
        return GROUP
    if folder and any(w in folder for w in DIRECT_FOLDER_WORDS):
        return DIRECT
    return UNKNOWN


class _Reader:
    def __init__(self, path: Path, me: str | None) -> None:
        self.path = str(path)
        self.fallback_title = path.stem or "QQ chat"
        self.me = me
        self.folder: str | None = None
        self.chat: Chat | None = None
        self.pending: _Pending | None = None
        self.nicknames: dict[str, str] = {}

    def new_chat(self, title: str) -> Chat:
        title = title.strip() or self.fallback_title
        extra = {"folder": self.folder} if self.folder else {}
        self.chat = Chat(SOURCE, title_key(title), title, _chat_kind(self.folder), extra=extra)
        return self.chat

    def header(self, lineno: int, m: re.Match[str]) -> _Pending | Problem:
        y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
        try:
            ts = datetime(y, mo, d, h, mi, s)
        except ValueError:
            return Problem(self.path, lineno, "a message time is not a real date; the message is skipped")
        who = m.group(7).strip()
        found = QQ_NUMBER_RE.match(who) or EMAIL_RE.match(who)
        sender_id = found.group(2) if found else None
        name = TITLE_TAGS_RE.sub("", found.group(1) if found else who).strip()
        if sender_id:
            if not name or name == sender_id:
                name = self.nicknames.get(sender_id, sender_id)
            else:
                self.nicknames[sender_id] = name
        return _Pending(lineno, ts, name or (sender_id or ""), sender_id)

    def flush(self) -> Message | Event | None:
        p, self.pending = self.pending, None
        if p is None or self.chat is None:
            return None
        lines = p.body
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        text = "\n".join(lines)
        key = self.chat.key
        if p.sender_id in SYSTEM_IDS or p.name in SYSTEM_NAMES:
            return Event(key, p.ts, text, notice_kind(text), line=p.line)
        if text.strip() in CALL_BODIES or "通话时长" in text:
            seconds = duration_seconds(text)
            extra = {"duration_s": seconds} if seconds is not None else {}
            return Event(key, p.ts, text, EV_CALL, actor=p.name, line=p.line, extra=extra)
        from_me = None
        if self.me:
            from_me = self.me in (p.sender_id, p.name)
        if is_recall_notice(text):
            return Message(key, p.ts, p.name, "", DELETED, sender_id=p.sender_id, from_me=from_me, line=p.line)
        kind: MessageKind = placeholder_kind(text) or (TEXT if text else OTHER)
        return Message(key, p.ts, p.name, text, kind, sender_id=p.sender_id, from_me=from_me, line=p.line)


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        encoding = encoding_of(read_head(path, _SNIFF), options.params.get("encoding"))
    except ExportError as exc:
        raise ExportError(exc.reason, path=str(path)) from None
    r = _Reader(path, (options.params.get("qq_me") or "").strip() or None)
    prev_blank = True  # a sender line without a number is taken only after a blank line
    seen_title = False
    skipping = False  # the body of a message whose header could not be read
    with open_export(path) as fh:
        for lineno, line in _lines(fh, str(path), encoding):
            if not seen_title:
                if not line.strip():
                    continue
                if not TITLE_RE.match(line):
                    raise ExportError(
                        "does not start with QQ's 消息记录 title line; export it again from QQ's message manager",
                        path=str(path),
                        line=lineno,
                    )
                seen_title = True
                continue
            section = SEPARATOR_RE.match(line) or GROUP_RE.match(line) or CHAT_RE.match(line)
            if section:
                done = r.flush()
                if done is not None:
                    yield done
                skipping = False
                if section.re is GROUP_RE:
                    r.folder = section.group(1).strip() or None
                elif section.re is CHAT_RE:
                    yield r.new_chat(section.group(1))
                prev_blank = True
                continue
            m = HEADER_RE.match(line)
            if m and (prev_blank or QQ_NUMBER_RE.match(m.group(7)) or EMAIL_RE.match(m.group(7))):
                done = r.flush()
                if done is not None:
                    yield done
                if r.chat is None:
                    yield r.new_chat(r.fallback_title)
                started = r.header(lineno, m)
                skipping = isinstance(started, Problem)
                if isinstance(started, Problem):
                    yield started
                else:
                    r.pending = started
                prev_blank = False
                continue
            prev_blank = not line.strip()
            if r.pending is not None:
                r.pending.body.append(line)
            elif line.strip() and not skipping:
                yield Problem(str(path), lineno, "a line outside any message; skipped")
    if not seen_title:
        raise ExportError("is empty; export it again from QQ's message manager", path=str(path))
    done = r.flush()
    if done is not None:
        yield done
