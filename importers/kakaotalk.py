"""KakaoTalk "Export chat" (대화 내보내기): text from Windows, Android and iOS, CSV from macOS.

How a person gets it: in the chat room, ≡ (menu) → ⚙ (settings) → 대화 내보내기 / Export
Chat → "텍스트만 보내기" / "Save text only" (phone), or on the PC app ≡ → 대화 내보내기. The
phone apps send `Talk_2023.3.23 02:10-1.txt` (or `KakaoTalkChats.txt`), Windows saves
`KakaoTalk_<date>.txt`, macOS saves `KakaoTalk_Chat_<room>_<date>.csv`. A zip holding such
files (as the phone apps send them by mail) is read in memory, member by member.

Layouts read (formats/whatsapp-telegram-signal-line-kakaotalk.md §5, corpus/kakaotalk):

* Windows: day rules `--------------- 2021년 12월 29일 수요일 ---------------` (or
  `Saturday, July 22, 2023`), records `[테스트] [20:36] ㅎㅇ` / `[P2] [오후 10:10] …`, and bare
  notices without a time (`수아님을 초대하였습니다.`).
* Android: `2021년 12월 29일 오후 8:36, 테스트 : ㅎㅇ`; notices `…, 테스트님이 나갔습니다.`.
* Older mobile: `2022. 12. 31. 오후 8:21, 프밍고수영한씌 : ㅋㅋㅋㅋㅋ`; notices `…: X님이 …`.
* iOS Korean: day line `2021년 12월 29일 수요일`, then `오후 8:36, 테스트 : ㅎㅇ` (time only).
* iOS English: `Dec 31, 2014 at 19:12, 테스트 : hello`; notices `…: 테스트 invited iPad .`.
* Android English: title `KakaoTalk Chats with <room>`, `Date Saved : …`, then
  `February 10, 2016, 2:33 AM, you : …` (newer) or `8:34pm, July 9, 2015, you : …` (older), each
  layout with day lines of the same date and time alone; notices `…, X invited Y.`.
* macOS: `Date,User,Message` then `2021-12-29 20:36:00,"테스트","ㅎㅇ"` (real CSV quoting;
  a row may have an empty Date).

The separator between name and text is " : " (space, colon, space), so colons inside a
message ("Day 1 : https://…") stay in the text. A line with a full date takes its date from
itself, even when the day line above it disagrees (a quirk of older mobile exports). An empty
name is a system notice. Times are naive wall-clock times (the vault applies --tz); 오전 12:05
is 00:05. Encoding: UTF-8 with or without BOM, UTF-16 with a BOM, or `encoding=NAME`.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path, PurePosixPath
from typing import IO

from importers.base import (
    SNIFF_BYTES,
    Format,
    ParseOptions,
    decode_head,
    head_text,
    is_zip,
    open_export,
    open_zip,
    sniff_encoding,
    zip_members,
    zip_opener,
)
from importers.line import read_text_lines
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    FILE,
    GROUP,
    IMAGE,
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

# --- header lines --------------------------------------------------------------------------------
TITLE_DIRECT = re.compile(r"(.+?) ?님과 카카오톡 대화")
TITLE_GROUP = re.compile(r"(.+?) 카카오톡 대화")
TITLE_EN = re.compile(r"KakaoTalk Chats with (.+)")  # English phone apps
SAVED = re.compile(r"(?:저장한 날짜|Date Saved) ?: ?.*")
CSV_HEADER = ["Date", "User", "Message"]
# macOS file names: KakaoTalk_Chat_<room>_2023-01-01-12-00-00.csv
CSV_FIRST_ROW = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})?,")
CSV_FILENAME = re.compile(r"KakaoTalk_Chat_(.+)_\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}")

# --- dates and times -----------------------------------------------------------------------------
MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("Jan", "January"), ("Feb", "February"), ("Mar", "March"), ("Apr", "April"),
            ("May",), ("Jun", "June"), ("Jul", "July"), ("Aug", "August"),
            ("Sep", "Sept", "September"), ("Oct", "October"), ("Nov", "November"),
            ("Dec", "December"),
        ),
        1,
    )
    for name in names
}  # fmt: skip
MONTH = r"(?P<mon>[A-Z][a-z]{2,8})"
WEEKDAY_EN = r"(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)"
AMPM_KO = r"(?P<ap>오전|오후)"
AMPM_EN = r"(?P<ap>AM|PM|am|pm)"
CLOCK = r"(?P<h>\d{1,2}):(?P<mi>\d{2})"
SEP = r"(?P<sep>, |: )(?P<rest>.*)"
# Day lines (no record).
DAY_KO = re.compile(r"(?P<y>\d{4})년 (?P<m>\d{1,2})월 (?P<d>\d{1,2})일 [월화수목금토일]요일")
DAY_EN = re.compile(WEEKDAY_EN + r",? " + MONTH + r" (?P<d>\d{1,2}), (?P<y>\d{4})")
DAY_ANDROID = re.compile(r"(?P<y>\d{4})년 (?P<m>\d{1,2})월 (?P<d>\d{1,2})일 (?:" + AMPM_KO + " )?" + CLOCK)
WINDOWS_RULE = re.compile(r"-{5,} (?P<day>.+?) -{5,}")
# English Android: "February 10, 2016, 2:33 AM" (newer) and "8:34pm, July 9, 2015" (older), as a
# day line alone and before ", name : text" on each record.
EN_DATE = MONTH + r" (?P<d>\d{1,2}), (?P<y>\d{4})"
EN_ANDROID = EN_DATE + r", " + CLOCK + r" ?" + AMPM_EN
EN_ANDROID_OLD = CLOCK + r" ?" + AMPM_EN + r", " + EN_DATE
DAY_EN_ANDROID = re.compile(EN_ANDROID)
DAY_EN_ANDROID_OLD = re.compile(EN_ANDROID_OLD)
# Records with a full date, and iOS Korean records with the time only.
REC_KO = re.compile(r"(?P<y>\d{4})년 (?P<m>\d{1,2})월 (?P<d>\d{1,2})일 (?:" + AMPM_KO + " )?" + CLOCK + SEP)
REC_DOTS = re.compile(r"(?P<y>\d{4})\. ?(?P<m>\d{1,2})\. ?(?P<d>\d{1,2})\. (?:" + AMPM_KO + " )?" + CLOCK + SEP)
REC_EN = re.compile(MONTH + r" (?P<d>\d{1,2}), (?P<y>\d{4}) at " + CLOCK + r"(?: ?(?P<ap>AM|PM))?" + SEP)
REC_TIME_KO = re.compile(AMPM_KO + " " + CLOCK + SEP)
REC_EN_ANDROID = re.compile(EN_ANDROID + SEP)
REC_EN_ANDROID_OLD = re.compile(EN_ANDROID_OLD + SEP)
RECORDS = (REC_KO, REC_DOTS, REC_EN, REC_TIME_KO, REC_EN_ANDROID, REC_EN_ANDROID_OLD)
# Windows: [name] [time] text
REC_WINDOWS = re.compile(
    r"\[(?P<name>[^\]]*)\] \[(?:(?P<ap>오전|오후|AM|PM) ?)?" + CLOCK
    + r"(?: ?(?P<ap2>AM|PM))?\] ?(?P<text>.*)"
)  # fmt: skip
NAME_SEP = " : "
PM = ("오후", "PM")
AM = ("오전", "AM")

# --- what a text means ---------------------------------------------------------------------
# Notices, matched against the whole text: (pattern, kind). Group "who" is the person.
NOTICES: list[tuple[re.Pattern[str], EventKind]] = [
    (re.compile(r"(?P<who>.+?)님이 들어왔습니다\.?"), EV_JOIN),
    (re.compile(r"(?P<who>.+?)님이 .+?님을 초대(?:하였|했)습니다\.?"), EV_JOIN),
    (re.compile(r"(?P<who>.+?)님을 초대(?:하였|했)습니다\.?"), EV_JOIN),
    (re.compile(r"(?P<who>.+?)님이 나갔습니다\.?"), EV_LEAVE),
    (re.compile(r"(?P<who>.+?)님을 내보냈습니다\.?"), EV_LEAVE),
    (re.compile(r"(?P<who>.+?) joined this chatroom\.?"), EV_JOIN),
    (re.compile(r"(?P<who>.+?) left this chatroom\.?"), EV_LEAVE),
    (re.compile(r"(?P<who>.+?) has been removed from this chatroom\.?"), EV_LEAVE),
]
# "테스트 invited 나 and." / "테스트 invited iPad .": too close to ordinary English to trust
# unless the person named first is the row's own sender (or there is no sender).
INVITED = re.compile(r"(?P<who>.+?) invited .+\.")
PLACEHOLDERS: dict[str, MessageKind] = {
    "사진": IMAGE, "Photo": IMAGE, "Photos": IMAGE, "<Photo>": IMAGE,
    "동영상": VIDEO, "Video": VIDEO, "<Video>": VIDEO,
    "이모티콘": STICKER, "Emoticon": STICKER, "Emoticons": STICKER,
    "음성메시지": AUDIO, "Voice Message": AUDIO,
    "삭제된 메시지입니다.": DELETED, "This message was deleted.": DELETED,
    "The message has been deleted.": DELETED,
}  # fmt: skip
PHOTO_COUNT = re.compile(r"사진 \d+장|\d+ Photos")
FILE_PREFIXES = ("파일: ", "File: ")
DETECT_LINES = 40
ZIP_MEMBERS = 50  # how many members of a zip are looked at


def _clock(hour: int, minute: int, marker: str | None) -> time | None:
    """24-hour time; 오전 12:05 is 00:05 and 오후 12:23 is 12:23."""
    marker = marker.upper() if marker else marker
    if marker in PM or marker in AM:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if marker in PM else 0)
    try:
        return time(hour, minute)
    except ValueError:
        return None


def _date(m: re.Match[str]) -> date | None:
    groups = m.groupdict()
    month = MONTHS.get(groups["mon"]) if groups.get("mon") else int(groups["m"])
    if month is None:
        return None
    try:
        return date(int(groups["y"]), month, int(groups["d"]))
    except ValueError:
        return None


def _day_line(line: str) -> date | None:
    for pattern in (DAY_KO, DAY_EN, DAY_ANDROID, DAY_EN_ANDROID, DAY_EN_ANDROID_OLD):
        m = pattern.fullmatch(line)
        if m:
            return _date(m)
    m = WINDOWS_RULE.fullmatch(line)
    if m:
        inner = m.group("day").strip()
        for pattern in (DAY_KO, DAY_EN):
            d = pattern.fullmatch(inner)
            if d:
                return _date(d)
    return None


def notice_kind(text: str, sender: str | None = None) -> tuple[EventKind, str | None] | None:
    """(event kind, person) when `text` is one of KakaoTalk's join/leave notices."""
    for pattern, kind in NOTICES:
        m = pattern.fullmatch(text.strip())
        if m:
            return kind, m.group("who")
    m = INVITED.fullmatch(text.strip())
    if m and (not sender or m.group("who") == sender):
        return EV_JOIN, m.group("who")
    return None


def _message_kind(text: str) -> MessageKind:
    stripped = text.strip()
    if stripped in PLACEHOLDERS:
        return PLACEHOLDERS[stripped]
    if PHOTO_COUNT.fullmatch(stripped):
        return IMAGE
    if stripped.startswith(FILE_PREFIXES):
        return FILE
    return TEXT


def _title(line1: str) -> tuple[str, ChatKind]:
    m = TITLE_DIRECT.fullmatch(line1)
    if m:
        return m.group(1), DIRECT
    m = TITLE_GROUP.fullmatch(line1)
    if m:
        return m.group(1), GROUP
    m = TITLE_EN.fullmatch(line1.strip())
    if m:
        return m.group(1).strip(), UNKNOWN
    return line1.strip(), UNKNOWN


def _split(rest: str) -> tuple[str, str] | None:
    """`name : text` → (name, text); None for a notice (no " : " at all)."""
    if rest.startswith(NAME_SEP[1:]):  # an empty name: ",  : 시스템 알림"
        return "", rest[len(NAME_SEP) - 1 :]
    idx = rest.find(NAME_SEP)
    if idx >= 0:
        return rest[:idx], rest[idx + len(NAME_SEP) :]
    if rest.endswith(" :"):  # a message with no text
        return rest[:-2], ""
    return None


@dataclass(frozen=True)
class _Source:
    """One export file: on disk, or a member of a zip archive (read in memory)."""

    where: str  # the path shown in problems and errors
    stem: str  # the file name without its extension
    suffix: str
    open: Callable[[], IO[bytes]]


def _file_source(path: Path) -> _Source:
    return _Source(str(path), path.stem, path.suffix.lower(), lambda: open_export(path))


def _zip_sources(zf: zipfile.ZipFile, path: Path) -> list[_Source]:
    """The archive's KakaoTalk files (.txt/.csv members that look like one)."""
    found = []
    for name, info in list(zip_members(zf).items())[:ZIP_MEMBERS]:
        member = PurePosixPath(name)
        if member.suffix.lower() not in (".txt", ".csv"):
            continue
        with zf.open(info) as fh:
            head = decode_head(fh.read(SNIFF_BYTES))
        if _looks_like_export(head, member.suffix.lower()):
            found.append(_Source(f"{path}/{name}", member.stem, member.suffix.lower(), zip_opener(zf, info)))
    return found


def _encoding(source: _Source, options: ParseOptions) -> str:
    with source.open() as fh:
        head = fh.read(4096)
    try:
        return sniff_encoding(head, options.params.get("encoding"))
    except ExportError as exc:
        raise ExportError(exc.reason, path=source.where) from None


# --- detection ---------------------------------------------------------------------------------
def _record_line(line: str) -> bool:
    m = next((m for p in RECORDS if (m := p.fullmatch(line))), None)
    if m is not None:
        return True
    return REC_WINDOWS.fullmatch(line) is not None


def _looks_like_export(head: str, suffix: str) -> bool:
    lines = [ln.rstrip("\r") for ln in head.split("\n")[:DETECT_LINES]]
    if suffix == ".csv":
        if lines[0] != ",".join(CSV_HEADER):
            return False
        second = lines[1] if len(lines) > 1 else ""
        return second == "" or CSV_FIRST_ROW.match(second) is not None
    if len(lines) > 1 and SAVED.fullmatch(lines[1]) and lines[0].strip():
        return True
    if TITLE_GROUP.fullmatch(lines[0]) and len(lines) > 1 and not lines[1].strip():
        return True
    content = [ln for ln in lines if ln.strip()]
    if not content or not (_record_line(content[0]) or _day_line(content[0])):
        return False
    with_names = [ln for ln in content if _record_line(ln) and NAME_SEP in ln]
    return len(with_names) >= 2


def detect(path: Path) -> bool:
    """The KakaoTalk header (title, 저장한 날짜 / Date Saved), its record lines, or its CSV;
    also a zip holding such a file."""
    try:
        if not path.is_file():
            return False
        if is_zip(path):
            with open_zip(path) as zf:
                return bool(_zip_sources(zf, path))
        return _looks_like_export(head_text(path), path.suffix.lower())
    except Exception:
        return False


# --- text exports --------------------------------------------------------------------------
@dataclass
class _Pending:
    """The message being read; it may continue on the following lines."""

    line: int
    ts: datetime
    sender: str
    lines: list[str]
    blanks: list[str] = field(default_factory=list)


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    if is_zip(path):
        with open_zip(path) as zf:
            sources = _zip_sources(zf, path)
            if not sources:
                raise ExportError("no KakaoTalk chat file (.txt or .csv) in this zip",
                                  path=str(path))  # fmt: skip
            for source in sources:
                yield from _parse_source(source, options)
        return
    yield from _parse_source(_file_source(path), options)


def _parse_source(source: _Source, options: ParseOptions) -> Iterator[Record]:
    encoding = _encoding(source, options)
    with source.open() as fh:
        is_csv = decode_head(fh.read(64)).startswith(",".join(CSV_HEADER))
    if source.suffix == ".csv" or is_csv:
        yield from _parse_csv(source, encoding)
        return
    with source.open() as fh:
        lines = read_text_lines(fh, source.where, encoding)
        head = list(itertools.islice(lines, 2))
        texts = [line for _, line in head]
        if len(texts) == 2 and texts[0].strip() and SAVED.fullmatch(texts[1]):
            (title, kind), head = _title(texts[0]), []
        elif texts and (TITLE_DIRECT.fullmatch(texts[0]) or TITLE_GROUP.fullmatch(texts[0])):
            (title, kind), head = _title(texts[0]), head[1:]
        else:
            title, kind = source.stem, UNKNOWN
        reader = _TextReader(title_key(title), source.where)
        chat: Chat | None = Chat(source="kakaotalk", key=reader.chat, title=title, kind=kind)
        # The chat comes with its first message or event: a file of which nothing could be read
        # leaves no empty chat behind.
        for lineno, line in itertools.chain(head, lines):
            for record in reader.feed(lineno, line):
                if chat is not None and isinstance(record, (Message, Event)):
                    yield chat
                    chat = None
                yield record
        for record in reader.flush():
            if chat is not None:
                yield chat
                chat = None
            yield record


class _TextReader:
    """Turns the lines of a text export (any layout) into records, one line at a time."""

    def __init__(self, chat: str, where: str) -> None:
        self.chat = chat
        self.where = where
        self.day: date | None = None
        self.last_ts: datetime | None = None
        self.windows = False  # the Windows layout: bare notice lines without a time
        self.pending: _Pending | None = None

    def flush(self) -> Iterator[Record]:
        p = self.pending
        if p is not None:
            self.pending = None
            text = "\n".join(p.lines)
            yield Message(self.chat, p.ts, p.sender, text, kind=_message_kind(text), line=p.line)

    def _notice(self, ts: datetime, text: str, lineno: int, inferred: bool = False) -> Event:
        kind, who = notice_kind(text) or (EV_SYSTEM, None)
        extra = {"time": "taken from the record before"} if inferred else {}
        return Event(self.chat, ts, text, kind, actor=who, line=lineno, extra=extra)

    def _start(self, lineno: int, ts: datetime, rest: str, notice: bool) -> Iterator[Record]:
        self.last_ts = ts
        parts = None if notice else _split(rest)
        if parts is None:
            yield self._notice(ts, rest, lineno)
        elif parts[0] == "":
            yield self._notice(ts, parts[1], lineno)
        else:
            self.pending = _Pending(lineno, ts, parts[0], [parts[1]])

    def feed(self, lineno: int, line: str) -> Iterator[Record]:
        m = next((m for p in RECORDS if (m := p.fullmatch(line))), None)
        if m is not None:
            yield from self.flush()
            day = _date(m) if m.groupdict().get("y") else self.day
            clock = _clock(int(m.group("h")), int(m.group("mi")), m.group("ap"))
            if day is None or clock is None:
                reason = "no date before it" if day is None else "a time that cannot be read"
                yield Problem(self.where, lineno, f"message with {reason}; skipped")
                return
            self.day = day  # the date on the line wins over the day line above it
            yield from self._start(lineno, datetime.combine(day, clock), m.group("rest"), m.group("sep") == ": ")
            return
        w = REC_WINDOWS.fullmatch(line)
        if w is not None:
            self.windows = True
            yield from self.flush()
            clock = _clock(int(w.group("h")), int(w.group("mi")), w.group("ap") or w.group("ap2"))
            if self.day is None or clock is None:
                reason = "no date before it" if self.day is None else "a time that cannot be read"
                yield Problem(self.where, lineno, f"message with {reason}; skipped")
                return
            ts = datetime.combine(self.day, clock)
            self.last_ts = ts
            if w.group("name") == "":
                yield self._notice(ts, w.group("text"), lineno)
            else:
                self.pending = _Pending(lineno, ts, w.group("name"), [w.group("text")])
            return
        day = _day_line(line)
        if day is not None:
            yield from self.flush()
            self.windows = self.windows or WINDOWS_RULE.fullmatch(line) is not None
            self.day = day
            return
        if not line.strip():
            if self.pending is not None:
                self.pending.blanks.append(line)
            return
        if self.windows and notice_kind(line) is not None:
            yield from self.flush()
            when = self.last_ts or (datetime.combine(self.day, time()) if self.day else None)
            if when is None:
                yield Problem(self.where, lineno, "notice with no date before it; skipped")
            else:
                yield self._notice(when, line, lineno, inferred=True)
            return
        if self.pending is not None:
            self.pending.lines.extend(self.pending.blanks)
            self.pending.blanks = []
            self.pending.lines.append(line)
            return
        yield Problem(self.where, lineno, "text outside any message; skipped")


# --- macOS CSV -----------------------------------------------------------------------------
def _decoded_lines(fh: IO[bytes], encoding: str, where: str) -> Iterator[str]:
    """The file's lines (with their line ends), decoded one by one.

    An undecodable byte is then reported on its own line. UTF-16 cannot be split on newline
    bytes, so it is decoded as a whole.
    """
    if encoding.lower().replace("_", "-").startswith("utf-16"):
        yield from io.TextIOWrapper(fh, encoding=encoding, errors="strict", newline="")
        return
    for lineno, raw in enumerate(fh, 1):
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ExportError(f"not valid {encoding} text; export the chat again", path=where, line=lineno) from exc
        yield line.lstrip("\ufeff") if lineno == 1 else line


def _csv_rows(source: _Source, encoding: str) -> Iterator[tuple[int, list[str]]]:
    """(line number, row) of the CSV after its header; ExportError when it cannot be read."""
    where = source.where
    with source.open() as fh:
        reader = csv.reader(_decoded_lines(fh, encoding, where))
        try:
            header = next(reader, None)
            if header is None or header != CSV_HEADER:
                raise ExportError(
                    "not a KakaoTalk CSV export (the first line is not 'Date,User,Message')",
                    path=where,
                    line=1,
                )
            line = reader.line_num
            for row in reader:
                yield line + 1, row
                line = reader.line_num
        except UnicodeDecodeError as exc:  # UTF-16 files, decoded whole
            raise ExportError(f"not valid {encoding} text; export the chat again",
                              path=where) from exc  # fmt: skip
        except csv.Error as exc:
            raise ExportError("damaged CSV (cannot be split into rows)", path=where,
                              line=reader.line_num) from exc  # fmt: skip


def _csv_notice(text: str, user: str) -> tuple[EventKind, str | None] | None:
    if not user:
        return notice_kind(text) or (EV_SYSTEM, None)
    return notice_kind(text, user)


def _parse_csv(source: _Source, encoding: str) -> Iterator[Record]:
    where = source.where
    m = CSV_FILENAME.fullmatch(source.stem)
    senders = set()
    if m is None:  # no room name in the file name: name the chat after who wrote in it
        for _, row in _csv_rows(source, encoding):
            if len(row) == 3 and row[1] and _csv_notice(row[2], row[1]) is None:
                senders.add(row[1])
    title = m.group(1) if m else (", ".join(sorted(senders)) or source.stem)
    chat = title_key(title)
    yield Chat(source="kakaotalk", key=chat, title=title, kind=UNKNOWN,
               participants=tuple(sorted(senders)))  # fmt: skip
    last_ts: datetime | None = None
    for lineno, row in _csv_rows(source, encoding):
        if not row:  # a blank line (the file often ends with one)
            continue
        if len(row) != 3:
            yield Problem(where, lineno, f"a row with {len(row)} columns instead of 3; skipped")
            continue
        stamp, user, text = row
        extra = {}
        if stamp:
            try:
                ts = datetime.fromisoformat(stamp)
            except ValueError:
                yield Problem(where, lineno, "a row with an unreadable date; skipped")
                continue
        elif last_ts is not None:  # a row without a date: dated like the row before
            ts, extra = last_ts, {"time": "taken from the row before"}
        else:
            yield Problem(where, lineno, "a row without a date before any dated row; skipped")
            continue
        last_ts = ts
        notice = _csv_notice(text, user)
        if notice is not None:
            kind, who = notice
            yield Event(chat, ts, text, kind, actor=user or who, line=lineno, extra=extra)
        else:
            yield Message(chat, ts, user, text, kind=_message_kind(text), line=lineno, extra=extra)


FORMATS = [
    Format(
        name="kakaotalk",
        source="kakaotalk",
        description=("KakaoTalk chat export: text from Windows, Android and iOS (Korean or English), CSV from macOS"),
        detection=(
            "'저장한 날짜 :' / 'Date Saved :' under the title, KakaoTalk's dated "
            "'name : text' lines, or a 'Date,User,Message' CSV"
        ),
        detect=detect,
        parse=parse,
        parse_ahead=True,
        naive_times=True,
    )
]
