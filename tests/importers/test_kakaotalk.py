"""KakaoTalk: every corpus file, as corpus/EXPECTED.md describes it, plus fixtures and bad input.

kakaotalk-viewer counts its own day headers as entries; here only messages and events are
records, so "7 viewer entries = 2 day headers + 5 messages" becomes 5 messages.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import importers
from importers.kakaotalk import detect
from tests.conftest import CORPUS, FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import DIRECT, EV_JOIN, EV_LEAVE, EV_SYSTEM, GROUP, IMAGE, STICKER, TEXT

VIEWER = "kakaotalk/kakaotalk-viewer/extracted_from_tests/"
KAKAO = FIXTURES / "kakaotalk"


def kakao(rel: str) -> Parsed:
    path = corpus_file(rel)
    assert detect(path), rel
    assert importers.detect(path).name == "kakaotalk", rel
    return parse(path, "kakaotalk")


def rows(parsed: Parsed) -> list[tuple[Any, ...]]:
    """("msg", sender, time, text) / ("notice", time, text) in file order (time as datetime)."""
    out: list[tuple[Any, ...]] = []
    for rec in parsed.records:
        if hasattr(rec, "sender"):
            out.append(("msg", rec.sender, rec.ts, rec.text))  # type: ignore[union-attr]
        elif hasattr(rec, "actor"):
            out.append(("notice", rec.ts, rec.text))  # type: ignore[union-attr]
    return out


def users(parsed: Parsed) -> list[str]:
    return sorted({m.sender for m in parsed.messages if m.sender})


def at(day: date, hh: int, mm: int) -> datetime:
    return datetime.combine(day, time(hh, mm))


D1229 = date(2021, 12, 29)


# --- Windows ----------------------------------------------------------------------------------
def test_windows_01_messages_notices_multiline() -> None:
    parsed = kakao(VIEWER + "windows_01_L10.txt")
    assert [c.title for c in parsed.chats] == ["테스트"] and parsed.chats[0].kind == DIRECT
    assert users(parsed) == ["나", "테스트"]
    assert rows(parsed) == [
        ("notice", at(D1229, 20, 35), "시스템 알림"),  # "[] [20:35]": no name, a system notice
        ("msg", "테스트", at(D1229, 20, 36), "ㅎㅇ\n이어지는 줄"),
        (
            "notice",
            at(D1229, 20, 36),
            "수아님을 초대하였습니다.",
        ),  # bare line: time of the one before
        ("notice", at(D1229, 20, 36), "테스트님이 나갔습니다."),
        ("msg", "나", at(D1229, 20, 37), "반가워"),
        ("msg", "나", at(D1229, 20, 38), "또 말함"),
    ]
    kinds = [e.kind for e in parsed.events]
    assert kinds == [EV_SYSTEM, EV_JOIN, EV_LEAVE]
    assert not parsed.problems


def test_windows_02_english_day_rules() -> None:
    assert rows(kakao(VIEWER + "windows_02_L73.txt")) == [
        ("msg", "테스트", datetime(2023, 7, 22, 23, 34), "첫째 날"),
        ("msg", "지민", datetime(2023, 7, 23, 0, 0), "둘째 날"),
    ]


def test_windows_03_korean_12_hour_times() -> None:
    assert rows(kakao(VIEWER + "windows_03_L102.txt")) == [
        ("msg", "P2", datetime(2017, 10, 29, 22, 10), "저 소가 무슨 소인지가 궁금했음 ?"),
        ("msg", "P1", datetime(2017, 10, 29, 0, 23), "ㅇㅇㅇㅇㅇ"),  # 오전 12:23 = 00:23
    ]


def test_windows_04_unmatched_lines_only() -> None:
    parsed = kakao(VIEWER + "windows_04_L129.txt")
    assert not parsed.chats  # the viewer shows an empty room "테스트"; no empty chat is stored
    assert not parsed.messages and not parsed.events
    assert [p.line for p in parsed.problems] == [4]


# --- macOS CSV --------------------------------------------------------------------------------
def test_mac_01_quoted_rows_and_english_notices() -> None:
    parsed = kakao(VIEWER + "mac_01_L14.csv")
    assert parsed.chats[0].title == "나, 수아, 테스트"  # no room name in the file name
    assert users(parsed) == ["나", "수아", "테스트"]
    msgs = [(m.sender, m.ts, m.text) for m in parsed.messages]
    assert msgs == [
        ("테스트", at(D1229, 20, 36), 'ㅎㅇ\n"인용" 포함'),
        ("나", at(D1229, 20, 37), "반가워"),
        ("테스트", at(D1229, 20, 41), "다시 말함"),
        ("수아", datetime(2021, 12, 30, 1, 2), "다음날 메시지"),
    ]
    system = parsed.events[0]
    assert (system.actor, system.text) == (None, "시스템 알림")
    assert system.ts.replace(second=0) == at(D1229, 20, 37)  # 20:37:30; the viewer shows 20:37
    notices = [(e.kind, e.text) for e in parsed.events[1:]]
    assert notices == [
        (EV_JOIN, "테스트 invited 나 and."),
        (EV_LEAVE, "나님이 나갔습니다."),
        (EV_LEAVE, "Stewie left this chatroom."),
        (EV_JOIN, "테스트 joined this chatroom."),
        (EV_LEAVE, "수아 has been removed from this chatroom."),
    ]
    assert not parsed.problems


def test_mac_02_row_without_date() -> None:
    parsed = kakao(VIEWER + "mac_02_L105.csv")
    (notice,) = parsed.events
    assert notice.text == "The message has been deleted."
    assert notice.ts == at(D1229, 20, 36)  # dated like the row before
    assert [m.text for m in parsed.messages] == ["ㅎㅇ", "반가워"]


def test_mac_03_four_users() -> None:
    assert users(kakao(VIEWER + "mac_03_L135.csv")) == ["a", "b", "c", "d"]


def test_mac_fixture_room_from_file_name() -> None:
    path = KAKAO / "KakaoTalk_Chat_등산 모임_2024-01-02-10-00-00.csv"
    assert detect(path)
    parsed = parse(path)
    assert parsed.chats[0].title == "등산 모임"
    assert [(m.sender, m.text, m.kind) for m in parsed.messages] == [
        ("민수", '산에 가요\n"북한산" 어때요?', TEXT),
        ("영희", "좋아요, 10시에 만나요", TEXT),
        ("영희", "사진 3장", IMAGE),
        ("철수", "I invited him.", TEXT),  # ordinary English, not a notice
    ]
    assert parsed.messages[1].ts == datetime(2024, 1, 2, 9, 1, 10)  # seconds kept
    assert [(e.kind, e.actor) for e in parsed.events] == [(EV_JOIN, "철수"), (EV_SYSTEM, None)]
    assert parsed.events[1].ts == datetime(2024, 1, 2, 9, 4)


# --- iOS --------------------------------------------------------------------------------------
def test_ios_09_times_only_and_repeated_day() -> None:
    parsed = kakao(VIEWER + "ios_09_L84.txt")
    assert parsed.chats[0].title == "팀 채팅방" and parsed.chats[0].kind == GROUP
    assert users(parsed) == ["나", "테스트"]
    assert rows(parsed) == [
        ("notice", at(D1229, 0, 5), "시스템 알림"),  # 오전 12:05, empty name
        ("msg", "테스트", at(D1229, 20, 36), "ㅎㅇ\n이어지는 줄"),
        ("msg", "나", at(D1229, 20, 37), "반가워"),
        ("notice", at(D1229, 20, 38), "테스트님이 나갔습니다."),
        ("msg", "테스트", at(D1229, 20, 39), "다시 말함"),
        ("msg", "나", datetime(2021, 12, 30, 0, 0), "다음날"),
    ]


def test_ios_10_dotted_dates() -> None:
    assert rows(kakao(VIEWER + "ios_10_L157.txt")) == [
        ("msg", "P1", datetime(2019, 7, 30, 10, 22), "부먹? 찍먹?"),
        ("msg", "P2", datetime(2019, 7, 30, 12, 23), "전 솔직히 둘다 좋아해요"),
    ]


def test_ios_11_english() -> None:
    parsed = kakao(VIEWER + "ios_11_L185.txt")
    assert parsed.chats[0].title == "Talk_2026.4.25 10:20-1.txt"
    assert users(parsed) == ["iPad", "테스트"]
    assert rows(parsed) == [
        ("notice", datetime(2014, 12, 31, 19, 12), "테스트 invited iPad ."),
        ("msg", "테스트", datetime(2014, 12, 31, 19, 12), "hello\ncontinued line"),
        ("msg", "iPad", datetime(2015, 2, 17, 21, 0), "Photo"),
        ("notice", datetime(2015, 2, 17, 21, 1), "iPad left this chatroom."),
    ]
    assert parsed.messages[1].kind == IMAGE
    assert [e.kind for e in parsed.events] == [EV_JOIN, EV_LEAVE]


def test_ios_08_bom_stripped_from_title() -> None:
    parsed = kakao(VIEWER + "ios_08_L73.txt")
    assert parsed.chats[0].title == "Talk_2026.4.25 10:20-1.txt"
    assert rows(parsed) == [("msg", "테스트", datetime(2014, 12, 31, 19, 12), "hello")]


@pytest.mark.parametrize(
    ("name", "when", "second"),
    [
        ("ios_12_L239.txt", datetime(2023, 3, 24, 9, 0), "Day 2 : https://example.com/two"),
        (
            "ios_13_L258.txt",
            datetime(2023, 3, 24, 9, 0),
            "Day 2 : https://www.youtube.com/playlist?list=two",
        ),
        ("android_05_L120.txt", datetime(2026, 4, 24, 21, 0), "Day 2 : https://example.com/two"),
    ],
)
def test_colons_inside_messages(name: str, when: datetime, second: str) -> None:
    parsed = kakao(VIEWER + name)
    (msg,) = parsed.messages
    assert users(parsed) == ["테스트"]
    assert msg.ts == when
    assert msg.text.startswith("Day 1 : https://") and msg.text.split("\n")[1] == second


@pytest.mark.parametrize("name", ["ios_01_L7.txt", "ios_02_L15.txt", "ios_03_L23.txt", "ios_04_L31.txt"])
def test_ios_01_to_04_recognised(name: str) -> None:
    parsed = kakao(VIEWER + name)
    assert len(parsed.messages) + len(parsed.events) == 1
    assert not parsed.problems


def test_ios_05_and_06_have_no_messages() -> None:
    assert not kakao(VIEWER + "ios_05_L41.txt").records[1:]  # a day line and nothing else
    six = kakao(VIEWER + "ios_06_L48.txt")
    assert not six.messages and not six.events and [p.line for p in six.problems] == [4]


def test_ios_14_junk_before_first_message() -> None:
    parsed = kakao(VIEWER + "ios_14_L277.txt")
    assert rows(parsed) == [("msg", "테스트", at(D1229, 20, 37), "이후 메시지")]
    assert [p.line for p in parsed.problems] == [5, 7]


# --- Android ----------------------------------------------------------------------------------
def test_android_02_messages_notices_multiline() -> None:
    parsed = kakao(VIEWER + "android_02_L21.txt")
    assert parsed.chats[0].title == "팀 채팅방"
    assert users(parsed) == ["나", "테스트"]
    assert rows(parsed) == [
        ("notice", at(D1229, 20, 35), "시스템 알림"),
        ("msg", "테스트", at(D1229, 20, 36), "ㅎㅇ\n이어지는 줄"),
        ("msg", "나", at(D1229, 20, 37), "반가워"),
        ("notice", at(D1229, 20, 38), "테스트님이 나갔습니다."),
    ]


def test_android_03_junk_ignored() -> None:
    parsed = kakao(VIEWER + "android_03_L71.txt")
    assert rows(parsed) == [
        ("notice", at(D1229, 20, 36), "알 수 없는 알림"),
        ("msg", "테스트", at(D1229, 20, 37), "이후 메시지"),
    ]
    assert [p.line for p in parsed.problems] == [5, 7]


def test_android_04_one_day() -> None:
    parsed = kakao(VIEWER + "android_04_L101.txt")
    assert {m.ts.date() for m in parsed.messages} == {date(2026, 4, 24)}
    assert len(parsed.messages) == 2


def test_android_01() -> None:
    assert rows(kakao(VIEWER + "android_01_L10.txt")) == [("msg", "테스트", at(D1229, 20, 36), "ㅎㅇ")]


@pytest.mark.parametrize(
    "rel",
    [VIEWER + "android_06_L139.txt", "kakaotalk/kakaotalk-viewer/public_test_android_2021.txt"],
)
def test_former_public_sample(rel: str) -> None:
    parsed = kakao(rel)
    assert len(parsed.messages) == 5 and not parsed.events  # 7 viewer entries − 2 day headers
    last = parsed.messages[-1]
    assert (last.sender, last.ts) == ("나", datetime(2021, 12, 30, 22, 6))
    assert "https://google.us.edi?34535/534534?dfg=g&fg" in last.text
    assert "\n\nBuilt by gskinner.com" in last.text  # the blank line inside is kept


def test_demo_android() -> None:
    parsed = kakao("kakaotalk/kakaotalk-viewer/demo-chat-android.txt")
    assert parsed.chats[0].title == "KakaoTalk Viewer 데모방"
    assert users(parsed) == ["나", "수아", "지민"]
    assert len(parsed.messages) == 8
    (invite,) = parsed.events
    assert (invite.kind, invite.text) == (EV_JOIN, "수아님을 초대하였습니다.")
    assert parsed.messages[6].text.endswith("\nREADME 스크린샷이랑 OG 이미지에 쓰기 딱 좋게.")


# --- kakaotalk-stats (genuine mobile exports) -------------------------------------------------
def test_stats_talk_file() -> None:
    parsed = kakao("kakaotalk/kakaotalk-stats/Talk_2023.3.23_02-10-1.txt")
    assert parsed.chats[0].title == "Talk_2023.3.23 02:10-1.txt"
    assert users(parsed) == ["쥬히", "프밍고수영한씌"]
    msgs = parsed.messages
    assert len(msgs) == 30 and not parsed.events and not parsed.problems
    # The first day line says 2022-10-27, the message lines under it 2022-12-31: they win.
    assert msgs[0].ts == datetime(2022, 12, 31, 20, 21)
    assert msgs[-1].ts == datetime(2023, 1, 1, 0, 33)  # 오전 12:33
    assert msgs[18].text == "챌린지\n2099. ㅇㅅㅇ"  # a continuation that starts with digits


def test_stats_no_header() -> None:
    parsed = kakao("kakaotalk/kakaotalk-stats/test02_no_header.txt")
    assert parsed.chats[0].title == "test02_no_header"
    msgs = parsed.messages
    assert len(msgs) == 10 and users(parsed) == ["쥬히", "프밍고수영한씌"]
    assert (msgs[0].ts, msgs[-1].ts) == (
        datetime(2023, 1, 20, 13, 56),
        datetime(2023, 1, 21, 5, 28),
    )
    assert msgs[-1].kind == STICKER  # "이모티콘"


# --- own fixtures -----------------------------------------------------------------------------
def test_android_english_fixture() -> None:
    """`February 10, 2016, 2:33 AM, you : …`: every record read, none "outside any message"."""
    path = KAKAO / "KakaoTalkChats_android_en.txt"
    assert detect(path) and importers.detect(path).name == "kakaotalk"
    parsed = parse(path)
    assert [c.title for c in parsed.chats] == ["등산 모임 (4)"]
    assert rows(parsed) == [
        ("notice", datetime(2016, 2, 10, 2, 33), "Mina invited Omar and 小明."),
        ("msg", "you", datetime(2016, 2, 10, 2, 33), "警察 said : wait"),
        ("msg", "Mina", datetime(2016, 2, 10, 2, 34), "안녕하세요\na second line"),
        ("msg", "عمر", datetime(2016, 2, 10, 12, 5), "مرحبا"),
        ("msg", "小明", datetime(2016, 2, 10, 12, 5), "<Photo>"),
        ("notice", datetime(2016, 2, 11, 0, 1), "Omar left this chatroom."),
    ]
    assert [e.kind for e in parsed.events] == [EV_JOIN, EV_LEAVE]
    assert parsed.messages[-1].kind == IMAGE
    assert not parsed.problems


def test_android_english_older_layout_time_first() -> None:
    path = KAKAO / "KakaoTalkChats_android_en_old.txt"
    assert detect(path) and importers.detect(path).name == "kakaotalk"
    parsed = parse(path)
    assert rows(parsed) == [
        ("msg", "Mina", datetime(2015, 7, 9, 20, 34), "hi!"),
        ("msg", "you", datetime(2015, 7, 9, 20, 44), "네 맞아요"),
        ("msg", "Mina", datetime(2015, 7, 10, 0, 50), "<Photo>"),
    ]
    assert not parsed.problems and parsed.chats[0].title == "Mina"


def test_nothing_readable_leaves_no_empty_chat(tmp_path: Path) -> None:
    path = tmp_path / "KakaoTalkChats.txt"
    path.write_text("KakaoTalk Chats with Mina\nDate Saved : 1:01am, August 3, 2015\n\nnot a record\n")
    parsed = parse(path, "kakaotalk")
    assert not parsed.chats and [p.line for p in parsed.problems] == [4]


def test_windows_english_fixture() -> None:
    path = KAKAO / "windows_en.txt"
    assert detect(path)
    parsed = parse(path)
    assert parsed.chats[0].title == "Alice Chat History"
    assert rows(parsed) == [
        ("msg", "Alice", datetime(2024, 1, 2, 23, 58), "Are you still up?"),
        ("msg", "Bob", datetime(2024, 1, 2, 23, 59), "yes : reading\na second line"),
        ("msg", "Bob", datetime(2024, 1, 3, 0, 1), "Photo"),
        ("notice", datetime(2024, 1, 3, 0, 1), "Carol joined this chatroom."),
        ("msg", "Carol", datetime(2024, 1, 3, 0, 2), "hi"),
    ]


# --- bad input --------------------------------------------------------------------------------
def test_bad_input(tmp_path: Path) -> None:
    text = (KAKAO / "windows_en.txt").read_text("utf-8")
    cut = tmp_path / "cut.txt"
    raw = text.encode()
    cut.write_bytes(raw[: raw.index(b"Carol joined")])  # truncated mid-file
    assert [m.text for m in parse(cut, "kakaotalk").messages][-1] == "Photo"
    junk_txt = tmp_path / "junk.txt"
    junk_txt.write_bytes(os.urandom(4000))
    junk_csv = tmp_path / "junk.csv"
    junk_csv.write_bytes(os.urandom(4000))
    for junk in (junk_txt, junk_csv):
        assert not detect(junk)
        try:
            parsed = parse(junk, "kakaotalk")
        except ExportError:
            continue
        assert not parsed.messages
    korean = corpus_file(VIEWER + "android_02_L21.txt").read_text("utf-8")
    cp949 = tmp_path / "cp949.txt"
    cp949.write_bytes(korean.encode("cp949"))
    with pytest.raises(ExportError, match="not valid utf-8"):
        parse(cp949, "kakaotalk")
    assert len(parse(cp949, "kakaotalk", params={"encoding": "cp949"}).messages) == 2
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_bytes(b'Date,User,Message\n2024-01-01 10:00:00,"A","ok"\nnot-a-date,"A","x"\n'
                        b'2024-01-01 10:01:00,"A"\n"\xed\xa0\x80"\n')  # fmt: skip
    with pytest.raises(ExportError, match="line 5"):
        parse(bad_csv, "kakaotalk")
    not_csv = tmp_path / "not.csv"
    not_csv.write_text("a,b,c\n1,2,3\n", "utf-8")
    with pytest.raises(ExportError, match="Date,User,Message"):
        parse(not_csv, "kakaotalk")


def test_bad_csv_rows_become_problems(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text(
        'Date,User,Message\n,"A","no date yet"\n2024-01-01 10:00:00,"A","ok"\n'
        'not-a-date,"A","x"\n2024-01-01 10:01:00,"A"\n',
        "utf-8",
    )
    parsed = parse(path, "kakaotalk")
    assert [m.text for m in parsed.messages] == ["ok"]
    assert [p.line for p in parsed.problems] == [2, 4, 5]
    assert all("no date yet" not in p.message for p in parsed.problems)


def test_detect_refuses_other_apps(tmp_path: Path) -> None:
    random = tmp_path / "random.txt"
    random.write_bytes(os.urandom(5000))
    assert not detect(random) and not detect(tmp_path)
    if not CORPUS.exists():
        pytest.skip("sample corpus not available")
    for p in CORPUS.rglob("*"):
        if p.is_file() and "kakaotalk" not in p.relative_to(CORPUS).parts:
            assert not detect(p), p


NAME = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs")),
    min_size=1,
    max_size=10,
).filter(lambda s: ":" not in s and "]" not in s)
TEXT_LINE = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp")), min_size=1, max_size=30
).filter(lambda s: s.strip() == s)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(NAME, st.lists(TEXT_LINE, min_size=1, max_size=3), st.integers(0, 1439)),
        min_size=1,
        max_size=8,
    )
)
def test_android_round_trip(tmp_path_factory: pytest.TempPathFactory, items: list[tuple[str, list[str], int]]) -> None:
    """Names and texts with colons, CJK and emoji come back whole, with 오전/오후 times."""
    lines = ["방 카카오톡 대화", "저장한 날짜 : 2024년 1월 2일 오전 9:00", "", ""]
    expected = []
    for name, parts, minute in items:
        hh, mm = divmod(minute, 60)
        marker, h12 = ("오전" if hh < 12 else "오후"), (hh % 12 or 12)
        lines.append(f"2024년 1월 1일 {marker} {h12}:{mm:02d}, {name} : " + "\n".join(parts))
        expected.append((name, datetime(2024, 1, 1, hh, mm), "\n".join(parts)))
    path = tmp_path_factory.mktemp("kakao") / "Talk.txt"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    parsed = parse(path, "kakaotalk")
    got = [(m.sender, m.ts, m.text) for m in parsed.messages]
    # A continuation line that is itself a KakaoTalk record or day line cannot be told apart.
    if all(not _looks_structured(p) for _, parts, _ in items for p in parts[1:]):
        assert got == expected
        assert not parsed.problems


def _looks_structured(line: str) -> bool:
    from importers.kakaotalk import _day_line, _record_line

    return _record_line(line) or _day_line(line) is not None


def test_zipped_export(tmp_path: Path) -> None:
    import zipfile

    text = (KAKAO / "windows_en.txt").read_bytes()
    archive = tmp_path / "KakaoTalk_Chats.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("KakaoTalkChats.txt", text)
        zf.writestr("../evil.txt", text)  # escapes the archive: never read
        zf.writestr("photo.jpg", b"\xff\xd8\xff")
    assert detect(archive) and importers.detect(archive).name == "kakaotalk"
    parsed = parse(archive)
    assert [c.title for c in parsed.chats] == ["Alice Chat History"]
    assert len(parsed.messages) == 4
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("notes.txt", "hello\nworld\n")
        zf.writestr("../x.txt", text)
    assert not detect(other)
    with pytest.raises(ExportError, match="no KakaoTalk chat file"):
        parse(other, "kakaotalk")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(archive.read_bytes()[:100])
    assert not detect(broken)
    with pytest.raises(ExportError):
        parse(broken, "kakaotalk")
