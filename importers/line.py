"""LINE "Export chat history" (.txt): English, Japanese, Chinese (both scripts), Korean, Thai.

How a person gets it: in LINE on a phone, open the chat → ≡ (menu) → Settings → Export chat
history (iOS: "Send chat history"; Android: "Save chat history"), then save or send the `.txt`
file (named like `[LINE] Chat with Alice.txt`). LINE for PC/Mac: chat → ≡ → Save chat.

What the file looks like (formats/whatsapp-telegram-signal-line-kakaotalk.md §4; there is no
sample in the corpus, so the fixtures follow the peers' strings):

    [LINE] Chat history with Alice          ← title, localized (see TITLES)
    Saved on: 2023/01/08 19:57              ← localized "saved" line
                                            ← blank
    2023.01.05 Thursday                     ← day header, many localized layouts
    10:00<TAB>Alice<TAB>Hello               ← time, sender, text
    10:01<TAB>Bob<TAB>"Line one             ← multi-line messages are wrapped in quotes
    line two"
    10:02<TAB><TAB>Alice unsent a message.  ← no sender: a notice (or two columns only)

Times are naive wall-clock times (the vault applies --tz); 12-hour times (`10:00 AM`, `9:30PM`,
`下午03:15`, `午後3:18`, `오후 3:18`), Buddhist years (`2562 BE`) and Japanese eras (`R7/02/09`)
are understood. Day headers of the form `Sat, 11/01/2025` are resolved with their weekday; when
that does not decide, `--date-order` (ParseOptions.date_order) does, else day-first.
Encoding: UTF-8 (with or without BOM) or UTF-16 with a BOM; another encoding can be named with
the option `encoding=NAME`.

LINE for Windows/Mac "Save chat" writes spaces instead of the tabs, without a title:

    2021.1.1 金曜日
    0:05 太郎 あけましておめでとう！
    9:30 次郎がグループに参加しました。          ← a notice: no column says so, its words do

The first message line of a file settles its layout. A sender's name ends at the first space
unless it is a known name with spaces (`line_names=Ann Lee,Bob`, or the title of a one-to-one
chat).
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO

from importers.base import (
    MAX_LINE,
    Format,
    ParseOptions,
    head_text,
    open_export,
    read_head,
    sniff_encoding,
    text_lines,
)
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CONTACT,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    GROUP,
    IMAGE,
    LOCATION,
    STICKER,
    TEXT,
    UNKNOWN,
    VIDEO,
    Chat,
    ChatKind,
    Event,
    EventKind,
    Message,
    MessageKind,
    Problem,
    Record,
    title_key,
)

HEADER_PREFIX = "[LINE]"
# Chat titles per export language: (pattern, chat kind). 1:1 chats name the other person,
# groups the group ("with" / "in", "と" / no "と", "與" / none).
TITLES: list[tuple[re.Pattern[str], ChatKind]] = [
    (re.compile(r"Chat history with (.+)"), DIRECT),
    (re.compile(r"Chat history in (.+)"), GROUP),
    (re.compile(r"(.+)とのトーク履歴"), DIRECT),
    (re.compile(r"(.+)のトーク履歴"), GROUP),
    (re.compile(r"與\s*(.+?)\s*的聊天[記紀]錄"), DIRECT),
    (re.compile(r"(.+?)\s*的聊天[記紀]錄"), GROUP),
    (re.compile(r"与\s*(.+?)\s*的聊天记录"), DIRECT),
    (re.compile(r"(.+?)\s*的聊天记录"), GROUP),
    (re.compile(r"(.+?)\s*님과의 대화"), DIRECT),
    (re.compile(r"ประวัติการ(?:สนทนา|แชท)กับ\s*(.+)"), DIRECT),
]
# The line after the title ("Saved on: 2018/03/25 19:57"), per language.
SAVED = re.compile(r"(Saved on|Save date|保存日時|儲存日期|保存日期|저장한 날짜|저장 날짜|บันทึกวันที่)\s*[:：]?")

WEEKDAYS: dict[str, int] = {}  # name → Monday=0 … Sunday=6
for _i, _names in enumerate(
    (
        "monday mon 月 一 월",
        "tuesday tue tues 火 二 화",
        "wednesday wed 水 三 수",
        "thursday thu thur thurs 木 四 목",
        "friday fri 金 五 금",
        "saturday sat 土 六 토",
        "sunday sun 日 天 일",
    )
):
    for _name in _names.split():
        WEEKDAYS[_name] = _i

# A weekday as LINE prints it: "Thursday", "(Thu)", "(木)", "（週五）", "周五", "(목)", "목요일".
WEEKDAY = (
    r"[(（]?\s*(?:週|周|星期|禮拜|礼拜)?\s*"
    r"(?P<wd>[A-Za-z]{3,9}|[月火水木金土日一二三四五六天월화수목금토일])"
    r"(?:曜日|曜|요일)?\s*[)）]?"
)
# 2023/01/05, 2023.01.05, 2023-01-05, 2023. 1. 5., R7/02/09 (Japanese era), then a weekday.
DAY_YMD = re.compile(
    r"(?P<era>[RHS])?(?P<y>\d{1,4})(?:[/\-]|\.\s?)(?P<m>\d{1,2})(?:[/\-]|\.\s?)(?P<d>\d{1,2})\.?"
    r"(?:\s*" + WEEKDAY + r")?"
)
# The day line of the desktop "Save chat": 2017.09.03 Sunday, 2021.1.1 金曜日, 2024/01/15(Mon).
_DESKTOP_DAY = re.compile(r"\d{4}[./]\d{1,2}[./]\d{1,2}\s*(?:[A-Za-z]{3,9}|[月火水木金土日]曜日|[(（].{1,4}[)）])")
# 2026年4月26日(日)
DAY_KANJI = re.compile(r"(?P<y>\d{4})年(?P<m>\d{1,2})月(?P<d>\d{1,2})日(?:\s*" + WEEKDAY + r")?")
# Sat, 11/01/2025 and Wed, 10/07/2562 BE: the order of the two numbers depends on the region.
DAY_WEEKDAY_FIRST = re.compile(r"(?P<wd>[A-Za-z]{3,9}),?\s+(?P<a>\d{1,2})/(?P<b>\d{1,2})/(?P<y>\d{4})(?P<be>\s*BE)?")
# Japanese era first years (R = Reiwa 2019, H = Heisei 1989, S = Showa 1926).
ERA_BASE = {"R": 2018, "H": 1988, "S": 1925}
BUDDHIST_OFFSET = 543  # Buddhist Era year − 543 = Gregorian year
TIME = (
    r"(?:(?P<pre>上午|下午|午前|午後|오전|오후)\s?)?(?P<h>\d{1,2}):(?P<mi>\d{2})"
    r"(?:\s?(?P<ap>[AaPp]\.?[Mm]\.?))?"
)
# A message line; the newer layout repeats the date before the time.
_LINE_DATE = r"(?:(?P<date>\d{4}[/.\-]\d{1,2}[/.\-]\d{1,2}(?:\s*[(（][^)）]{1,4}[)）])?)\s+)?"
MESSAGE = re.compile(_LINE_DATE + TIME + r"\t(?P<rest>.*)")
# The desktop apps' "Save chat" (LINE for Windows/Mac): a space instead of each tab,
# "16:23 Bob Today I found something:", under day lines such as "2021.1.1 金曜日".
MESSAGE_SPACES = re.compile(_LINE_DATE + TIME + r" (?P<rest>\S.*)")
# Notices in that layout, where no empty column marks them: the whole text after the time.
SPACE_NOTICES: list[tuple[re.Pattern[str], EventKind]] = [
    (re.compile(r"(?P<who>\S.*?) joined the group\.?"), EV_JOIN),
    (re.compile(r"(?P<who>\S.*?) left the group\.?"), EV_LEAVE),
    (re.compile(r"(?P<who>\S.*?) changed the group name to .+"), EV_TITLE),
    (re.compile(r"(?P<who>\S.*?)が(?:グループに)?参加しました。?"), EV_JOIN),
    (re.compile(r"(?P<who>\S.*?)が(?:グループを)?退会しました。?"), EV_LEAVE),
    (re.compile(r"(?P<who>\S.*?)が.+?を(?:招待|追加)しました。?"), EV_JOIN),
    (re.compile(r"(?P<who>\S.*?)が.+?を(?:削除|退会させ)ました。?"), EV_LEAVE),
    (re.compile(r"(?P<who>\S.*?)がグループ名を.+に変更しました。?"), EV_TITLE),
]
PM_MARKERS = ("下午", "午後", "오후")
AM_MARKERS = ("上午", "午前", "오전")

# Stand-ins for media in each language ("[Photo]", "[写真]", ...): the whole text of the message.
_PLACEHOLDER_WORDS: tuple[tuple[MessageKind, tuple[str, ...]], ...] = (
    (STICKER, ("[Sticker]", "[スタンプ]", "[貼圖]", "[贴图]", "[스티커]", "[สติกเกอร์]")),
    (IMAGE, ("[Photo]", "[写真]", "[照片]", "[图片]", "[사진]", "[รูป]", "[ภาพ]")),
    (VIDEO, ("[Video]", "[動画]", "[影片]", "[视频]", "[동영상]", "[วิดีโอ]")),
    (FILE, ("[File]", "[ファイル]", "[檔案]", "[文件]", "[파일]", "[ไฟล์]")),
    (GIF, ("[GIF]",)),
    (AUDIO, ("[Voice message]", "[Audio]", "[ボイスメッセージ]", "[語音訊息]", "[语音信息]",
             "[음성메시지]")),
    (LOCATION, ("[Location]", "[位置情報]", "[位置]", "[위치정보]")),
    (CONTACT, ("[Contact]", "[連絡先]", "[聯絡資訊]", "[联系人]", "[연락처]")),
)  # fmt: skip
PLACEHOLDERS: dict[str, MessageKind] = {word: kind for kind, words in _PLACEHOLDER_WORDS for word in words}
CALL_MARK = "☎"  # LINE prefixes call records with it: "☎ Call time 0:33", "☎ 不在着信"
# The length of a call as LINE writes it after the mark: "0:33", "12:05", "1:02:03".
CALL_LENGTH = re.compile(r"(?:(\d{1,3}):)?(\d{1,3}):(\d{2})\s*$")

# "X unsent a message." in each language; group 1 is the person when the text names them.
UNSENT = [
    re.compile(r"(.+?) unsent a message\.?"),
    re.compile(r"()Message unsent\.?"),
    re.compile(r"(?:(.*?)が)?メッセージの送信を取り消しました。?"),
    re.compile(r"(.*?)\s*已收回訊息"),
    re.compile(r"(.*?)\s*撤回了一条消息"),
    re.compile(r"(.*?)님이 메시지 전송을 취소했습니다\.?"),
]
NOTICE_KINDS: list[tuple[EventKind, tuple[str, ...]]] = [
    (
        EV_TITLE,
        ("changed the group name", "グループ名を", "群組名稱", "群组名称", "그룹 이름을"),
    ),
    (
        EV_LEAVE,
        (
            "left the group", "グループを退会しました", "已離開群組", "退出了群组", "已退群",
            "님이 나갔습니다", "removed", "を削除しました", "を退会させました",
        ),
    ),
    (
        EV_JOIN,
        (
            "joined the group", "グループに参加しました", "已加入群組", "加入了群组",
            "已加入该群", "님이 참여했습니다", "added", "invited", "を追加しました",
            "を招待しました", "邀請", "邀请",
        ),
    ),
]  # fmt: skip
ACTORS = [
    re.compile(r"(.+?) (?:joined|left|changed|added|invited|removed) "),
    re.compile(r"(.+?)が(?:グループ|.+?を)"),
    re.compile(r"(.+?)님이 "),
    re.compile(r"(.+?)\s*(?:已加入|加入了|已離開|離開了|退出了|已退群|已將|已将|将)"),
]
DETECT_LINES = 60


# --- small parsers -----------------------------------------------------------------------------
def _weekday(token: str | None) -> int | None:
    if not token:
        return None
    return WEEKDAYS.get(token.lower())


def parse_day(line: str, date_order: str | None = None) -> date | None:
    """The date of a LINE day header, or None when the line is not one."""
    s = line.strip()
    m = DAY_YMD.fullmatch(s) or DAY_KANJI.fullmatch(s)
    if m:
        wd = m.groupdict().get("wd")
        if wd and _weekday(wd) is None:
            return None
        year = int(m.group("y"))
        era = m.groupdict().get("era")
        if era:
            year += ERA_BASE[era]
        elif year < 1000:
            return None
        try:
            return date(year, int(m.group("m")), int(m.group("d")))
        except ValueError:
            return None
    m = DAY_WEEKDAY_FIRST.fullmatch(s)
    if not m:
        return None
    wd = _weekday(m.group("wd"))
    if wd is None:
        return None
    year = int(m.group("y")) - (BUDDHIST_OFFSET if m.group("be") else 0)
    a, b = int(m.group("a")), int(m.group("b"))
    candidates = []
    for day, month in ((a, b), (b, a)):  # day-first, then month-first
        try:
            candidates.append(date(year, month, day))
        except ValueError:
            continue
    if not candidates:
        return None
    matching = [c for c in candidates if c.weekday() == wd]
    if len(matching) == 1:
        return matching[0]
    if len(candidates) == 2 and date_order == "mdy":
        return candidates[1]
    return candidates[0]


def _clock(m: re.Match[str]) -> time | None:
    hour, minute = int(m.group("h")), int(m.group("mi"))
    marker = m.group("pre") or ""
    ampm = (m.group("ap") or "").replace(".", "").lower()
    pm = marker in PM_MARKERS or ampm == "pm"
    am = marker in AM_MARKERS or ampm == "am"
    if pm or am:
        if hour > 12:  # 0 is allowed: Japanese clocks say 午前0:05 for 00:05
            return None
        hour = hour % 12 + (12 if pm else 0)
    try:
        return time(hour, minute)
    except ValueError:
        return None


def _title(first_line: str) -> tuple[str, ChatKind] | None:
    if not first_line.startswith(HEADER_PREFIX):
        return None
    rest = first_line[len(HEADER_PREFIX) :].strip()
    for pattern, kind in TITLES:
        m = pattern.fullmatch(rest)
        if m and m.group(1).strip():
            return _unquote(m.group(1).strip()), kind
    return _unquote(rest) or "LINE chat", UNKNOWN


def _unquote(name: str) -> str:
    """`"業務グループ"` → `業務グループ` (one peer shows group names in quotes)."""
    for left, right in (('"', '"'), ("「", "」"), ("“", "”")):
        if len(name) > 2 and name.startswith(left) and name.endswith(right):
            return name[1:-1]
    return name


def _title_from_filename(path: Path) -> str:
    stem = path.stem
    if stem.startswith(HEADER_PREFIX):
        stem = stem[len(HEADER_PREFIX) :].strip()
    for prefix in ("Chat with ", "Chat history with "):
        if stem.startswith(prefix):
            stem = stem[len(prefix) :]
    return stem or "LINE chat"


def read_text_lines(fh: IO[bytes], where: str, encoding: str) -> Iterator[tuple[int, str]]:
    """Numbered lines of a text export (also used by importers/kakaotalk.py).

    `base.text_lines` splits the bytes at each newline byte, which UTF-16 cannot be split at;
    UTF-16 files are decoded as a stream here instead, a bounded line at a time.
    """
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
    except UnicodeDecodeError as exc:
        raise ExportError(
            "is not valid UTF-16 text here (is this the export file, saved without conversion?)",
            path=where,
            line=lineno + 1,
        ) from exc


def _encoding(path: Path, options: ParseOptions) -> str:
    try:
        return sniff_encoding(read_head(path, 4096), options.params.get("encoding"))
    except ExportError as exc:
        raise ExportError(exc.reason, path=str(path)) from None


def _notice_kind(text: str) -> EventKind:
    for kind, words in NOTICE_KINDS:
        if any(w in text for w in words):
            return kind
    return EV_SYSTEM


def _actor(text: str) -> str | None:
    for pattern in ACTORS:
        m = pattern.match(text)
        if m:
            return m.group(1).strip() or None
    return None


def _unsent(text: str) -> tuple[bool, str | None]:
    for pattern in UNSENT:
        m = pattern.fullmatch(text.strip())
        if m:
            return True, ((m.group(1) or "").strip() or None)
    return False, None


# --- detection ---------------------------------------------------------------------------------
def detect(path: Path) -> bool:
    """A LINE header, or LINE day headers with message lines (tab- or, from the desktop apps,
    space-separated) where the first thing in the file is a day header."""
    try:
        if not path.is_file():
            return False
        lines = [ln.rstrip("\r") for ln in head_text(path).split("\n")[:DETECT_LINES]]
        days = sum(1 for ln in lines if parse_day(ln) is not None)
        messages = sum(1 for ln in lines if MESSAGE.fullmatch(ln))
        first = next((ln for ln in lines if ln.strip()), "")
        if first.startswith(HEADER_PREFIX + " "):
            return days > 0 or messages > 0 or len(lines) <= 3
        if path.suffix.lower() != ".txt" or days == 0:
            return False
        if messages > 0:
            return True
        # "Save chat" from LINE for PC starts with a day header ("2017.09.03 Sunday",
        # "2021.1.1 金曜日" in the yyyy.m.d form LINE uses), then "HH:MM name text" lines.
        spaced = sum(1 for ln in lines if MESSAGE_SPACES.fullmatch(ln))
        return _DESKTOP_DAY.fullmatch(first.strip()) is not None and spaced >= 2
    except Exception:
        return False


# --- parsing -----------------------------------------------------------------------------------
@dataclass
class _Pending:
    """The message being read; it may continue on the following lines."""

    line: int
    ts: datetime
    sender: str
    text_lines: list[str]
    quoted: bool = False  # inside a "…" block that has not closed yet
    blanks: list[str] = field(default_factory=list)
    notice: tuple[EventKind, str] | None = None  # (kind, actor) of a desktop-layout notice

    @property
    def text(self) -> str:
        return "\n".join(self.text_lines)


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    where = str(path)
    encoding = _encoding(path, options)
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise ExportError(f"unknown encoding {encoding!r}", path=where) from None
    with open_export(path) as fh:
        yield from _parse_lines(read_text_lines(fh, where, encoding), path, options)


def _parse_lines(lines: Iterator[tuple[int, str]], path: Path, options: ParseOptions) -> Iterator[Record]:
    where = str(path)
    chat: str | None = None
    day: date | None = None
    pending: _Pending | None = None
    # "tab" or "spaces" (the desktop "Save chat"), settled by the first message line of the file.
    layout: str | None = None
    names = _known_names(options)
    for lineno, line in lines:
        if chat is None:
            if not line.strip():
                continue
            found = _title(line)
            title, kind = found if found else (_title_from_filename(path), UNKNOWN)
            chat = title_key(title)
            if kind == DIRECT:
                names.append(title)
                names.sort(key=len, reverse=True)
            yield Chat(source="line", key=chat, title=title, kind=kind)
            if found:
                continue
        if pending is not None and pending.quoted:
            if MESSAGE.fullmatch(line) is None:
                pending.text_lines.append(line)
                if line.endswith('"'):
                    pending.quoted = False
                    text = pending.text
                    pending.text_lines = [text[1:-1]]
                continue
            pending.quoted = False  # an unclosed quote: keep the text as written
        m = MESSAGE.fullmatch(line) if layout != "spaces" else None
        if m is not None:
            layout = "tab"
        elif layout == "spaces" or (layout is None and day is not None):
            m = MESSAGE_SPACES.fullmatch(line)
            if m is not None and layout is None:
                layout = "spaces"
        new_day = None if m else parse_day(line, options.date_order)
        if m is None and new_day is None:
            if pending is not None:
                if line.strip():
                    pending.text_lines.extend(pending.blanks)
                    pending.blanks = []
                    pending.text_lines.append(line)
                else:
                    pending.blanks.append(line)
            elif line.strip() and not (day is None and SAVED.match(line)):
                yield Problem(where, lineno, "text outside any message; skipped")
            continue
        if pending is not None:
            yield _record(pending, chat)
            pending = None
        if new_day is not None:
            day = new_day
            continue
        assert m is not None
        clock = _clock(m)
        when = parse_day(m.group("date"), options.date_order) if m.group("date") else day
        if clock is None or when is None:
            reason = "a time that cannot be read" if clock is None else "no date before it"
            yield Problem(where, lineno, f"message with {reason}; skipped")
            continue
        if m.group("date"):
            day = when
        rest = m.group("rest")
        ts = datetime.combine(when, clock)
        if layout == "spaces":
            pending = _spaced(lineno, ts, rest, names)
            continue
        sender, sep, text = rest.partition("\t")
        if not sep:  # two columns: a notice with the person inside the text
            sender, text = "", rest
        pending = _Pending(lineno, ts, sender.strip(), [text])
        if text.startswith('"') and (len(text) == 1 or not text.endswith('"')):
            pending.quoted = True
    if pending is not None:
        yield _record(pending, chat or title_key(_title_from_filename(path)))


def _known_names(options: ParseOptions) -> list[str]:
    """Names that may hold spaces, longest first: `--param line_names="Ann Lee,Bob"` (and the
    other person of a one-to-one chat, added from the title)."""
    raw = options.params.get("line_names", "")
    return sorted({n.strip() for n in raw.split(",") if n.strip()}, key=len, reverse=True)


def _spaced(lineno: int, ts: datetime, rest: str, names: list[str]) -> _Pending:
    """A desktop-layout line after its time: a notice (the whole text), or a sender and the text.

    Nothing marks where the sender's name ends: a known name (`line_names`, the title of a
    one-to-one chat) is taken whole, any other name is its first word.
    """
    for pattern, kind in SPACE_NOTICES:
        n = pattern.fullmatch(rest)
        if n is not None:
            return _Pending(lineno, ts, "", [rest], notice=(kind, n.group("who")))
    if _unsent(rest)[0]:
        return _Pending(lineno, ts, "", [rest])
    for name in names:
        if rest.startswith(name + " ") or rest == name:
            return _Pending(lineno, ts, name, [rest[len(name) + 1 :]])
    sender, _, text = rest.partition(" ")
    return _Pending(lineno, ts, sender, [text])


def _record(p: _Pending, chat: str | None) -> Message | Event:
    assert chat is not None
    text = p.text
    unsent, who = _unsent(text)
    if unsent:
        return Message(chat, p.ts, p.sender or who, text, kind=DELETED, line=p.line)
    if text.startswith(CALL_MARK):  # a call is an event (cli-contract.md), with its length kept
        actor = p.sender or _actor(text[len(CALL_MARK) :].strip())
        return Event(chat, p.ts, text, EV_CALL, actor=actor, line=p.line, extra=_call_extra(text))
    if p.notice is not None:
        return Event(chat, p.ts, text, p.notice[0], actor=p.notice[1], line=p.line)
    if not p.sender:
        return Event(chat, p.ts, text, _notice_kind(text), actor=_actor(text), line=p.line)
    return Message(chat, p.ts, p.sender, text, kind=PLACEHOLDERS.get(text.strip(), TEXT), line=p.line)


def _call_extra(text: str) -> dict[str, int]:
    """`{"duration_s": 33}` for "☎ Call time 0:33"; empty for missed or cancelled calls."""
    m = CALL_LENGTH.search(text)
    if not m:
        return {}
    hours, minutes, seconds = int(m.group(1) or 0), int(m.group(2)), int(m.group(3))
    return {"duration_s": hours * 3600 + minutes * 60 + seconds}


FORMATS = [
    Format(
        name="line",
        source="line",
        description=(
            "LINE chat history (.txt) in English, Japanese, Chinese, Korean or Thai, from the phone or PC app"
        ),
        detection=(
            "a '[LINE] …' title line, or LINE day headers with 'HH:MM<TAB>name<TAB>text' lines, or (PC/Mac"
            " 'Save chat') a first line like '2021.1.1 金曜日' with 'HH:MM name text' lines"
        ),
        detect=detect,
        parse=parse,
        parse_ahead=True,
        naive_times=True,
    )
]
