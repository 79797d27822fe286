"""LINE chat history: fixtures in each export language (no corpus sample exists)."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import importers
from importers.line import detect, parse_day
from tests.conftest import CORPUS, FIXTURES
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_TITLE,
    GROUP,
    IMAGE,
    STICKER,
    TEXT,
)

LINE = FIXTURES / "line"


def rows(path: Path, **opts: object) -> list[tuple[object, ...]]:
    """(type, time, sender or actor, text, kind) of every message and event, in file order."""
    parsed = parse(path, "line", **opts)
    out: list[tuple[object, ...]] = []
    for rec in parsed.records:
        if hasattr(rec, "sender"):
            out.append(("msg", rec.ts, rec.sender, rec.text, rec.kind))  # type: ignore[union-attr]
        elif hasattr(rec, "actor"):
            out.append(("event", rec.ts, rec.actor, rec.text, rec.kind))  # type: ignore[union-attr]
    return out


@pytest.mark.parametrize("name", ["en.txt", "en_group.txt", "ja.txt", "zh_hant.txt", "zh_hans.txt", "ko.txt"])
def test_fixture_detected(name: str) -> None:
    path = LINE / name
    assert detect(path)
    assert importers.detect(path).name == "line"


def test_english_direct_chat_with_12_hour_times() -> None:
    parsed = parse(LINE / "en.txt")
    (chat,) = parsed.chats
    assert (chat.title, chat.kind, chat.key) == ("Alice", DIRECT, "title:alice")
    d5, d6 = date(2023, 1, 5), date(2023, 1, 6)  # "Fri, 1/6/2023": the weekday says m/d
    at = datetime.combine
    assert rows(LINE / "en.txt") == [
        ("msg", at(d5, datetime.min.time().replace(hour=10)), "Alice", "Hello", TEXT),
        ("msg", datetime(2023, 1, 5, 10, 1), "Bob", "Line one\nline two\n\nline four", TEXT),
        ("msg", datetime(2023, 1, 5, 12, 2), "Alice", "[Sticker]", STICKER),
        ("msg", datetime(2023, 1, 5, 12, 3), "Bob", "[Photo]", IMAGE),
        ("msg", datetime(2023, 1, 5, 21, 30), "Alice", "Alice unsent a message.", DELETED),
        ("event", datetime(2023, 1, 5, 23, 59), "Alice", "☎ Call time 0:33", EV_CALL),
        ("msg", at(d6, datetime.min.time()), "Bob", "Tabs\tinside stay", TEXT),
        ("msg", datetime(2023, 1, 6, 0, 1), "Bob", "no quotes here\nbut a second line", TEXT),
    ]
    assert not parsed.problems
    assert all(m.ts.tzinfo is None for m in parsed.messages)
    (call,) = parsed.events  # a call is an event, its length kept in seconds
    assert call.extra == {"duration_s": 33}


def test_english_group_notices_are_events() -> None:
    (chat,) = parse(LINE / "en_group.txt").chats
    assert (chat.title, chat.kind) == ("Hiking Club", GROUP)
    assert rows(LINE / "en_group.txt") == [
        ("event", datetime(2023, 7, 10, 8, 0), "Carol", "Carol joined the group.", EV_JOIN),
        ("msg", datetime(2023, 7, 10, 8, 1), "Carol", '"Hi all!"', TEXT),
        ("msg", datetime(2023, 7, 10, 8, 2), "Dave", "[Voice message]", AUDIO),
        (
            "event",
            datetime(2023, 7, 10, 8, 3),
            "Dave",
            'Dave changed the group name to "Hikers".',
            EV_TITLE,
        ),
        ("event", datetime(2023, 7, 10, 8, 4), "Carol", "Carol left the group.", EV_LEAVE),
    ]


def test_japanese() -> None:
    parsed = parse(LINE / "ja.txt")  # CRLF line ends
    (chat,) = parsed.chats
    assert (chat.title, chat.kind) == ("花子", DIRECT)
    day = datetime(2026, 8, 20)
    assert rows(LINE / "ja.txt") == [
        (
            "msg",
            day.replace(hour=12, minute=8),
            "花子",
            "お疲れ様です！\nよろしくお願いします！",
            TEXT,
        ),
        ("msg", day.replace(hour=12, minute=9), "太郎", "[スタンプ]", STICKER),
        # A day header inside a quoted message stays text.
        (
            "msg",
            day.replace(hour=12, minute=10),
            "太郎",
            "引用します\n2026/08/21(金)\nまだ本文の中です",
            TEXT,
        ),
        ("msg", day.replace(hour=15, minute=18), "花子", "午後の時刻", TEXT),
        ("msg", day.replace(hour=22, minute=5), None, "メッセージの送信を取り消しました", DELETED),
        (
            "msg",
            day.replace(hour=22, minute=10),
            "花子",
            "花子がメッセージの送信を取り消しました",
            DELETED,
        ),
        (
            "event",
            day.replace(hour=22, minute=13),
            "piyo田",
            "piyo田がグループに参加しました。",
            EV_JOIN,
        ),
        ("msg", datetime(2026, 4, 11, 0, 5), "太郎", "令和の日付", TEXT),  # R8/04/11, 午前0:05
    ]
    assert not parsed.problems


def test_traditional_chinese() -> None:
    parsed = parse(LINE / "zh_hant.txt")  # starts with a BOM
    (chat,) = parsed.chats
    assert (chat.title, chat.kind) == ("王小明", DIRECT)
    assert rows(LINE / "zh_hant.txt") == [
        ("msg", datetime(2024, 1, 5, 9, 15), "王小明", "早安", TEXT),
        ("msg", datetime(2024, 1, 5, 9, 16), "我", "早~", TEXT),
        ("msg", datetime(2024, 1, 5, 13, 2), "王小明", "第一行\n第二行", TEXT),
        ("msg", datetime(2024, 1, 5, 13, 2), "王小明", "[貼圖]", STICKER),
        ("msg", datetime(2024, 1, 6, 0, 30), "我", "晚安", TEXT),
        ("msg", datetime(2024, 1, 6, 0, 31), "王小明", "王小明已收回訊息", DELETED),
    ]


def test_simplified_chinese() -> None:
    (chat,) = parse(LINE / "zh_hans.txt").chats
    assert (chat.title, chat.kind) == ("李雷", DIRECT)
    assert rows(LINE / "zh_hans.txt") == [
        ("msg", datetime(2024, 2, 1, 20, 0), "李雷", "你好", TEXT),
        ("msg", datetime(2024, 2, 1, 20, 1), "韩梅梅", "[照片]", IMAGE),
        ("msg", datetime(2024, 2, 1, 20, 2), "李雷", "多行\n消息", TEXT),
        ("msg", datetime(2024, 2, 2, 8, 0), "李雷", "李雷撤回了一条消息", DELETED),
        ("event", datetime(2024, 2, 2, 8, 1), "韩梅梅", "韩梅梅已加入该群", EV_JOIN),
    ]


def test_korean() -> None:
    (chat,) = parse(LINE / "ko.txt").chats
    assert (chat.title, chat.kind) == ("김민수", DIRECT)
    assert rows(LINE / "ko.txt") == [
        ("msg", datetime(2023, 1, 4, 19, 55), "김민수", "안녕하세요", TEXT),
        ("msg", datetime(2023, 1, 4, 19, 56), "이영희", "[사진]", IMAGE),
        ("msg", datetime(2023, 1, 4, 12, 5), "김민수", "여러 줄\n메시지", TEXT),
        ("msg", datetime(2023, 1, 5, 0, 30), "이영희", "잘 자요", TEXT),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("2015/12/25 Fri", date(2015, 12, 25)),
        ("2024/01/15(Mon)", date(2024, 1, 15)),
        ("2025/04/18(金)", date(2025, 4, 18)),
        ("2024.02.01 Thursday", date(2024, 2, 1)),
        ("2024/1/2週二", date(2024, 1, 2)),
        ("2022/9/2（週五）", date(2022, 9, 2)),
        ("2026/1/30周五", date(2026, 1, 30)),
        ("2026年4月26日(日)", date(2026, 4, 26)),
        ("R7/02/09(日)", date(2025, 2, 9)),
        ("Sun, 26/04/2026", date(2026, 4, 26)),
        ("Fri, 1/30/2026", date(2026, 1, 30)),
        ("Sat, 11/01/2025", date(2025, 1, 11)),  # both orders exist; the weekday picks 11 Jan
        ("Wed, 10/07/2562 BE", date(2019, 7, 10)),  # Buddhist year
        ("2023. 1. 5. (목)", date(2023, 1, 5)),
        ("10:00\tAlice\tHi", None),
        ("2023/01/05 hello", None),
        ("Hello, 1/2/2023", None),
    ],
)
def test_day_headers(line: str, expected: date | None) -> None:
    assert parse_day(line) == expected


def test_ambiguous_day_header_follows_date_order() -> None:
    # 1 July and 7 January 2023 are both Saturdays: the weekday cannot decide.
    assert parse_day("Sat, 01/07/2023") == date(2023, 7, 1)  # day-first by default
    assert parse_day("Sat, 01/07/2023", "mdy") == date(2023, 1, 7)


def test_headerless_file_uses_file_name(tmp_path: Path) -> None:
    path = tmp_path / "[LINE] Chat with Mika.txt"
    path.write_text("2023/03/01(Wed)\n09:00\tMika\tmorning\n09:01\tMe\tmorning!\n", "utf-8")
    assert detect(path)
    parsed = parse(path)
    assert parsed.chats[0].title == "Mika"
    assert [(m.sender, m.text) for m in parsed.messages] == [
        ("Mika", "morning"),
        ("Me", "morning!"),
    ]


def test_per_line_dates_layout(tmp_path: Path) -> None:
    path = tmp_path / "x.txt"
    path.write_text(
        "[LINE] 田中とのトーク履歴\n\n2026/04/20(月) 10:32\t田中\tおはよう\n2026/04/21(火) 08:00\t私\tおはよう！\n",
        "utf-8",
    )
    assert [(m.ts, m.sender) for m in parse(path).messages] == [
        (datetime(2026, 4, 20, 10, 32), "田中"),
        (datetime(2026, 4, 21, 8, 0), "私"),
    ]


def test_utf16_and_named_encodings(tmp_path: Path) -> None:
    text = (LINE / "ja.txt").read_text("utf-8")
    utf16 = tmp_path / "utf16.txt"
    utf16.write_bytes(text.encode("utf-16"))  # with a BOM
    assert detect(utf16)
    assert rows(utf16) == rows(LINE / "ja.txt")
    sjis = tmp_path / "sjis.txt"
    sjis.write_bytes(text.encode("shift_jis"))
    with pytest.raises(ExportError, match="not valid utf-8"):
        parse(sjis, "line")
    assert rows(sjis, params={"encoding": "shift_jis"}) == rows(LINE / "ja.txt")
    with pytest.raises(ExportError, match="unknown encoding"):
        parse(sjis, "line", params={"encoding": "no-such-codec"})


def test_bad_input(tmp_path: Path) -> None:
    data = (LINE / "zh_hant.txt").read_bytes()
    cut = tmp_path / "cut.txt"
    cut.write_bytes(data[: data.index("第二行".encode()) + 4])  # ends inside a character
    with pytest.raises(ExportError, match="line 8"):
        parse(cut, "line")
    cut.write_bytes(data[: data.index("第二行".encode())])  # ends inside a quoted message
    parsed = parse(cut, "line")
    assert parsed.messages[-1].text == '"第一行'  # an unclosed quote is kept as written
    junk = tmp_path / "junk.txt"
    junk.write_bytes(os.urandom(3000))
    assert not detect(junk)
    try:
        parsed = parse(junk, "line")
    except ExportError:
        pass
    else:
        assert not parsed.messages
    lost = tmp_path / "lost.txt"
    lost.write_text("[LINE] Chat history with A\n10:00\tA\tno date yet\nrandom\n", "utf-8")
    problems = parse(lost, "line").problems
    assert [p.line for p in problems] == [2, 3]
    assert all("no date yet" not in p.message for p in problems)


def test_detect_refuses_other_files(tmp_path: Path) -> None:
    random = tmp_path / "random.txt"
    random.write_bytes(os.urandom(5000))
    assert not detect(random)
    assert not detect(tmp_path)
    if not CORPUS.exists():
        pytest.skip("sample corpus not available")
    for p in CORPUS.rglob("*"):
        if p.is_file():
            assert not detect(p), p


NAMES = (
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='\t"'),
        min_size=1,
        max_size=12,
    )
    .map(str.strip)
    .filter(bool)
)
LINE_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters='\t"'),
    min_size=1,
    max_size=25,
).filter(lambda s: s.strip() == s and s != "")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(NAMES, st.lists(LINE_TEXT, min_size=1, max_size=3)), min_size=1, max_size=8))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, messages: list[tuple[str, list[str]]]) -> None:
    """Whatever the names and texts (CJK, emoji, blank-free lines), each message comes back."""
    lines = ["[LINE] Chat history in Test", "Saved on: 2024/01/01 00:00", "", "2024/01/01(Mon)"]
    expected = []
    for i, (name, parts) in enumerate(messages):
        text = "\n".join(parts)
        body = f'"{text}"' if len(parts) > 1 else text
        lines.append(f"{10 + i // 60:02d}:{i % 60:02d}\t{name}\t{body}")
        expected.append((name, text))
    path = tmp_path_factory.mktemp("line") / "chat.txt"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    parsed = parse(path, "line")
    assert [(m.sender, m.text) for m in parsed.messages] == expected
    assert not parsed.events and not parsed.problems


# --- the desktop apps' "Save chat": spaces instead of tabs (issue 17, item 16) ----------------


def test_desktop_save_chat_japanese_with_spaces() -> None:
    """`2021.1.1 金曜日` day lines and `0:05 太郎 …` lines (UTF-8 with BOM, CRLF)."""
    path = LINE / "desktop_ja.txt"
    assert detect(path) and importers.detect(path).name == "line"
    parsed = parse(path)
    day = datetime(2021, 1, 1)
    assert rows(path) == [
        ("msg", day.replace(minute=5), "太郎", "あけましておめでとう！", TEXT),
        ("msg", day.replace(minute=6), "花子", "今年もよろしく\n二行目です", TEXT),
        ("msg", day.replace(minute=7), "花子", "[スタンプ]", STICKER),
        ("event", day.replace(hour=9, minute=30), "次郎", "次郎がグループに参加しました。", EV_JOIN),
        ("msg", day.replace(hour=9, minute=31), "次郎", "警察に行ってきた", TEXT),
        ("event", day.replace(hour=9, minute=32), "太郎", "☎ 通話時間 1:05", EV_CALL),
        ("msg", day.replace(hour=9, minute=40), "花子", "花子がメッセージの送信を取り消しました", DELETED),
        ("msg", datetime(2021, 1, 2, 10, 0), "عمر", "مرحبا بالجميع", TEXT),
    ]
    assert not parsed.problems
    assert next(e for e in parsed.events if e.kind == EV_CALL).extra == {"duration_s": 65}


def test_desktop_save_chat_english_names_with_spaces() -> None:
    """`16:25 Alice Lee Whaaat`: nothing marks where a name ends; `line_names` says which have spaces."""
    path = LINE / "desktop_en.txt"
    assert detect(path) and importers.detect(path).name == "line"
    d = datetime(2017, 9, 3, 16)
    node = "Apparently there is a Node package for parsing chats now!"
    expected = [
        ("msg", d.replace(minute=23), "Bob", f"Today I found something:\n{node}", TEXT),
        ("msg", d.replace(minute=25), "Alice Lee", "Whaaat", TEXT),
        ("msg", d.replace(minute=25), "Bob", "Yeah, it is called line-chat-parser.", TEXT),
        ("msg", d.replace(minute=27), "Bob", "[Photo]", IMAGE),
        ("event", d.replace(minute=28), "Carol", "Carol joined the group.", EV_JOIN),
        ("msg", d.replace(minute=29), "Alice Lee", "Alice Lee unsent a message.", DELETED),
        ("msg", d.replace(minute=30), "Alice Lee", "Looks awesome!", TEXT),
    ]  # fmt: skip
    assert rows(path, params={"line_names": "Alice Lee"}) == expected
    # Without the option a name's first word is taken: nothing is lost, the name is cut.
    plain = rows(path)
    assert len(plain) == len(expected) and plain[1][2:4] == ("Alice", "Lee Whaaat")


def test_tab_layout_keeps_space_lines_as_text(tmp_path: Path) -> None:
    """Once a file's messages are tab-separated, a line like "10:30 at the station" inside a message
    stays its text."""
    path = tmp_path / "[LINE] Chat with Alice.txt"
    path.write_text("2023.01.05 Thursday\n10:00\tAlice\tsee you\n10:30 at the station\n", encoding="utf-8")
    assert rows(path) == [("msg", datetime(2023, 1, 5, 10, 0), "Alice", "see you\n10:30 at the station", TEXT)]
