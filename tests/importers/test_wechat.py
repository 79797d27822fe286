"""WeChat tool exports: the real PyWxDump CSVs of the corpus (corpus/EXPECTED.md, "Ground truth for
corpus/wechat/") and our own fixtures of PyWxDump JSON/CSV, MemoTrace 1.x/2.x and WechatExporter
exports (tests/fixtures/wechat/, written from the tools' templates; formats/wechat.md §6).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importers import wechat
from tests.conftest import CORPUS, FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    OTHER,
    STICKER,
    TEXT,
    Event,
    Message,
    title_key,
)

UTC = timezone.utc
FIX = FIXTURES / "wechat"
TEST_PERSON = "wechat/pywxdump_csv_weclone_test_person.csv"
LEGACY = "wechat/pywxdump_csv_legacy_weclone_example_chat.csv"


def texts_by_id(parsed: Parsed) -> dict[str, str]:
    return {r.extra["id"]: r.text for r in [*parsed.messages, *parsed.events]}


def ids_containing(parsed: Parsed, query: str) -> set[int]:
    q = query.casefold()
    return {int(i) for i, text in texts_by_id(parsed).items() if q in text.casefold()}


# --- corpus: PyWxDump CSV (current layout, re-saved by a spreadsheet) ------------------------


def test_corpus_test_person_counts_and_direction() -> None:
    path = corpus_file(TEST_PERSON)
    assert any(f.name == "wechat-pywxdump-csv" and f.detect(path) for f in wechat.FORMATS)
    parsed = parse(path)
    assert not parsed.problems
    records = [*parsed.messages, *parsed.events]
    assert len(records) == 96  # 96 data rows
    ids = sorted(int(r.extra["id"]) for r in records)
    assert ids == [i for i in range(1, 101) if i not in (3, 4, 5, 6)]
    assert len({r.source_id for r in records}) == 96  # MsgSvrID is the identity
    assert all(r.source_id and r.source_id.isdigit() for r in records)
    (chat,) = parsed.chats
    assert (chat.key, chat.kind) == ("test_person", DIRECT)
    assert all(r.chat == "test_person" for r in records)
    types = Counter(r.extra["type_name"] for r in records)
    assert types == {"文本": 65, "动画表情": 23, "图片": 5, "系统通知": 2, "引用回复": 1}
    # is_sender decides direction, even where `talker` disagrees (4 rows).
    assert Counter(m.from_me for m in parsed.messages) == {False: 50, True: 46}
    assert all(m.sender == "test_person" for m in parsed.messages if not m.from_me)


def test_corpus_test_person_times_and_special_rows() -> None:
    parsed = parse(corpus_file(TEST_PERSON))
    by_id = {r.extra["id"]: r for r in [*parsed.messages, *parsed.events]}
    assert by_id["1"].ts == datetime(2024, 10, 4, 11, 42)  # "2024/10/4 11:42", naive local
    assert by_id["1"].ts.tzinfo is None
    times = [r.ts for r in parsed.messages]
    assert min(times) == datetime(2024, 10, 4, 11, 42)
    assert max(times) == datetime(2024, 12, 30, 21, 28)
    assert sum(1 for t in times if (t.year, t.month) == (2024, 10)) == 68
    assert sum(1 for t in times if (t.year, t.month) == (2024, 12)) == 28
    assert by_id["11"].text == ""
    assert by_id["17"].text == "[旺柴]"
    quote = by_id["53"]
    assert quote.text == (
        "（我们两个人骑）\n\n[引用](2024-10-04 21:25:04)小虫:我之前租的时候 人家说这个没劲儿 租了个大的"
    )
    assert quote.extra["quote"] == {
        "sender": "小虫",
        "text": "我之前租的时候 人家说这个没劲儿 租了个大的",
        "time": "2024-10-04 21:25:04",
    }
    for recall in ("57", "63"):
        assert (by_id[recall].kind, by_id[recall].text) == (DELETED, "你撤回了一条消息")
        assert by_id[recall].from_me is True
    kinds = Counter(m.kind for m in parsed.messages)
    assert kinds[STICKER] == 23 and kinds[IMAGE] == 5
    images = [m for m in parsed.messages if m.kind == IMAGE]
    assert all(m.text == "" and len(m.attachments) == 1 for m in images)
    assert all(m.attachments[0].open is None for m in images)  # the .dat files are not there
    assert {m.attachments[0].name for m in images} >= {"01c177d8ad90af8969ba048455b54eef.dat"}
    stickers = [m for m in parsed.messages if m.kind == STICKER]
    hosts = Counter(m.extra["src"].split("/")[2] for m in stickers)
    assert hosts == {"File.tc.xx.com": 14, "xx.com": 9}


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("哈哈", {12, 20, 27, 51, 60, 61, 73, 88, 94}),
        ("哈", {12, 20, 27, 51, 60, 61, 73, 88, 94}),
        ("啊哈哈哈", {12, 20, 61, 88, 94}),
        ("我", {9, 15, 16, 21, 36, 37, 40, 42, 52, 53, 59, 85, 87, 90, 92, 99}),
        ("南站", {15}),
        ("12km", {16}),
        ("KM", {16}),
        ("拼多多", {83}),
        ("签约", {83, 87}),
        ("代言人", {96}),
        ("旺柴", {17}),
        ("[旺柴]", {17}),
        ("引用", {53}),
        ("撤回", {57, 63}),
        ("图片", set()),  # placeholders are not kept as text
        ("表情", set()),
    ],
)
def test_corpus_test_person_substrings(query: str, ids: set[int]) -> None:
    assert ids_containing(parse(corpus_file(TEST_PERSON)), query) == ids


# --- corpus: legacy PyWxDump CSV (JSON in the content cell) -----------------------------------


def test_corpus_legacy_csv() -> None:
    parsed = parse(corpus_file(LEGACY))
    assert not parsed.problems
    records = [*parsed.messages, *parsed.events]
    assert sorted(int(r.extra["id"]) for r in records) == list(range(1, 36))
    assert len({r.source_id for r in records}) == 35
    (chat,) = parsed.chats
    assert chat.key == "xinglaifaxianzhe"
    types = Counter(r.extra["type_name"] for r in records)
    assert types == {"文本": 26, "动画表情": 5, "图片": 3, "系统通知": 1}
    (event,) = parsed.events
    assert (event.extra["id"], event.text) == ("1", "你已添加了白桃乌龙，现在可以开始聊天了。")
    assert Counter(m.from_me for m in parsed.messages) == {True: 20, False: 14}
    assert min(r.ts for r in records) == datetime(2023, 8, 12, 23, 22, 41)
    assert max(r.ts for r in records) == datetime(2023, 8, 13, 14, 15, 14)
    by_id = {r.extra["id"]: r for r in records}
    assert by_id["15"].attachments[0].name == "82332bbba85f6bb3cf85823037f3a99e.dat"
    stickers = [m for m in parsed.messages if m.kind == STICKER]
    hosts = Counter(m.extra["src"].split("/")[2] for m in stickers)
    assert hosts == {"wxapp.tc.qq.com": 4, "mmbiz.qpic.cn": 1}


@pytest.mark.parametrize(
    ("query", "ids"),
    [
        ("电影", {29, 32, 34}),
        ("哈哈", {8, 27, 35}),
        ("hot", {18, 20, 21}),
        ("HOT", {18, 20, 21}),
        ("看", {29, 30, 32}),
        ("困", {9}),
        ("der", {12}),
        ("emmm", {31}),
        ("反诈", {34}),
        ("聊天", {1}),
    ],
)
def test_corpus_legacy_substrings(query: str, ids: set[int]) -> None:
    assert ids_containing(parse(corpus_file(LEGACY)), query) == ids


# --- our fixtures: PyWxDump ----------------------------------------------------------------


def test_pywxdump_csv_fixture() -> None:
    parsed = parse(FIX / "pywxdump" / "wxid_zhao_0_5000.csv")
    msgs = {m.extra["id"]: m for m in parsed.messages}
    assert msgs["1"].text == "在吗？" and msgs["1"].sender_id == "wxid_zhao"
    assert msgs["2"].from_me is True and msgs["2"].sender == "me"
    assert msgs["3"].extra["quote"]["sender"] == "我"
    assert msgs["5"].kind == DELETED
    (call,) = parsed.events  # a call is an event, as the databases give it
    assert (call.kind, call.extra["id"], call.extra["duration_s"]) == (EV_CALL, "6", 31)
    assert msgs["7"].kind == LOCATION and msgs["7"].ts == datetime(2024, 3, 1, 8, 5)
    assert msgs["4"].kind == STICKER and msgs["4"].text == ""


def test_pywxdump_json_group_with_users_and_dat_image(tmp_path: Path) -> None:
    export = tmp_path / "export"
    shutil.copytree(FIX / "pywxdump", export)
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + os.urandom(100)
    dat = export / "FileStorage" / "MsgAttach" / "0123abcd" / "Image" / "2024-01" / "img1.dat"
    dat.parent.mkdir(parents=True)
    dat.write_bytes(bytes(b ^ 0x37 for b in jpeg))
    path = export / "20001@chatroom_0_5000.json"
    parsed = parse(path)
    (chat,) = parsed.chats
    assert (chat.key, chat.title, chat.kind) == ("20001@chatroom", "周末爬山群", GROUP)
    msgs = {m.extra["id"]: m for m in parsed.messages}
    assert msgs["1"].sender == "阿丽"  # users.json: remark first
    assert msgs["1"].source_id == "9007199254740993123"  # above 2**53, kept exact
    assert (msgs["2"].from_me, msgs["2"].text) == (True, "hi 👋")
    image = msgs["3"]
    assert image.sender == "Bob"
    (att,) = image.attachments
    assert (att.name, att.mime, att.size) == ("img1.jpg", "image/jpeg", len(jpeg))
    assert att.open is not None
    with att.open() as fh:
        assert fh.read() == jpeg
    (event,) = parsed.events
    assert event.kind == EV_JOIN
    assert (msgs["6"].kind, msgs["6"].text, msgs["6"].extra["duration_s"]) == (AUDIO, "马上到", 3.2)
    assert [p.line for p in parsed.problems] == [7]  # the record with an unreadable time


def test_pywxdump_truncated_json(tmp_path: Path) -> None:
    data = (FIX / "pywxdump" / "20001@chatroom_0_5000.json").read_bytes()
    cut = tmp_path / "x_0_5000.json"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportError, match="damaged"):
        parse(cut, "wechat-pywxdump-json")


def test_pywxdump_broken_row_is_a_problem(tmp_path: Path) -> None:
    text = (FIX / "pywxdump" / "wxid_zhao_0_5000.csv").read_bytes().decode("utf-8")
    lines = text.split("\r\n")
    lines.insert(3, "99,123,文本,0,wxid_zhao")  # too few fields
    broken = tmp_path / "wxid_zhao_0_5000.csv"
    broken.write_text("\r\n".join(lines), encoding="utf-8", newline="")
    parsed = parse(broken)
    assert [p.line for p in parsed.problems] == [4]
    assert "expected 9" in parsed.problems[0].message
    assert "wxid_zhao" not in parsed.problems[0].message
    assert len(parsed.messages) + len(parsed.events) == 7  # the rest imported


def test_legacy_row_with_bad_json_cell(tmp_path: Path) -> None:
    src = FIX / "pywxdump_legacy" / "wxid_qian_0_5000.csv"
    text = src.read_text(encoding="utf-8") + '4,1,文本,0,wxid_qian,wxid_qian,"{not json",2023-08-13 14:02:00\r\n'
    bad = tmp_path / "wxid_qian_0_5000.csv"
    bad.write_text(text, encoding="utf-8", newline="")
    parsed = parse(bad)
    assert len(parsed.problems) == 1 and "JSON" in parsed.problems[0].message
    assert len(parsed.messages) + len(parsed.events) == 3


def test_gb18030_resaved_csv(tmp_path: Path) -> None:
    text = (FIX / "pywxdump" / "wxid_zhao_0_5000.csv").read_text(encoding="utf-8")
    gbk = tmp_path / "wxid_zhao_0_5000.csv"
    gbk.write_bytes(text.replace("👋", "").encode("gb18030"))
    parsed = parse(gbk)
    assert parsed.messages[0].text == "在吗？"


def test_wrong_encoding_is_an_error_not_a_crash(tmp_path: Path) -> None:
    text = (FIX / "pywxdump" / "wxid_zhao_0_5000.csv").read_text(encoding="utf-8")
    utf16 = tmp_path / "wxid_zhao_0_5000.csv"
    utf16.write_bytes(text.encode("utf-16"))
    assert not any(f.detect(utf16) for f in wechat.FORMATS if f.name != "wechat-pywxdump-csv")
    with pytest.raises(ExportError):
        parse(utf16, "wechat-pywxdump-csv")
    mixed = tmp_path / "mixed_0_5000.csv"
    head = text.encode("utf-8")
    mixed.write_bytes(head + b"8,1,\xff\xfe\xfa,0,a,a,x,,2024-01-01 00:00:00\r\n" * 3000)
    try:
        parsed = parse(mixed, "wechat-pywxdump-csv")
    except ExportError as err:
        assert err.line is not None
    else:
        assert parsed.problems


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(
        st.text(
            alphabet=st.sampled_from(list("ab ,\"'\n\r\t:[]{}微信警察國家😀👍🏽，。\\")),
            min_size=0,
            max_size=30,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_pywxdump_csv_text_round_trip(tmp_path: Path, texts: list[str]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(
        [
            "id",
            "MsgSvrID",
            "type_name",
            "is_sender",
            "talker",
            "room_name",
            "msg",
            "src",
            "CreateTime",
        ]
    )
    for i, text in enumerate(texts, 1):
        writer.writerow([i, 1000 + i, "文本", i % 2, "wxid_p", "wxid_p", text, "", "2024-01-01 10:00:00"])
    path = tmp_path / "wxid_p_0_5000.csv"
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    parsed = parse(path, "wechat-pywxdump-csv")
    assert not parsed.problems
    expected = [t.replace("\r\n", "\n").replace("\r", "\n") for t in texts]
    got = [m.text.replace("\r\n", "\n").replace("\r", "\n") for m in parsed.messages]
    assert got == expected


# --- our fixtures: MemoTrace ---------------------------------------------------------------


def test_memotrace1_csv() -> None:
    path = FIX / "memotrace1" / "张三_utf8.csv"
    parsed = parse(path)
    (chat,) = parsed.chats
    assert (chat.key, chat.title) == (title_key("张三"), "张三")
    assert len(parsed.messages) == 7 and len(parsed.events) == 1
    first = parsed.messages[0]
    assert first.ts == datetime.fromtimestamp(1628863878, UTC)  # CreateTime: an instant
    assert (first.sender, first.sender_id, first.from_me) == ("张三", "wxid_zhang", False)
    mine = parsed.messages[1]
    assert (mine.sender, mine.from_me) == ("我的昵称", True)
    kinds = [m.kind for m in parsed.messages]
    assert kinds == [TEXT, TEXT, IMAGE, TEXT, DELETED, TEXT, LOCATION]
    assert parsed.messages[5].text == "第一行\n第二行"
    assert parsed.messages[6].text == "天安门\n北京市东城区"
    assert all(m.source_id is None for m in parsed.messages)  # localId is not an identity


def test_memotrace1_csv_broken_row(tmp_path: Path) -> None:
    text = (FIX / "memotrace1" / "张三_utf8.csv").read_text(encoding="utf-8-sig")
    text += '9,217,1,0,0,not-a-time,2,"oops",2021-08-13 22:20:00,张三,zhangsan,wxid_zhang\r\n'
    text += '10,217,1,0,0,1628864500,2,"still here",2021-08-13 22:21:40,张三,zhangsan,wxid_zhang\r\n'
    path = tmp_path / "张三_utf8.csv"
    path.write_text(text, encoding="utf-8-sig", newline="")
    parsed = parse(path)
    assert len(parsed.problems) == 1 and "oops" not in parsed.problems[0].message
    assert parsed.messages[-1].text == "still here"


def test_memotrace1_txt() -> None:
    parsed = parse(FIX / "memotrace1" / "张三.txt")
    assert parsed.chats[0].title == "张三"
    (event,) = parsed.events
    assert event.text == "你已添加了张三，现在可以开始聊天了。"
    assert event.ts == datetime(2021, 8, 13, 22, 11, 10)
    msgs = parsed.messages
    assert [(m.sender, m.kind) for m in msgs] == [
        ("张三", TEXT),
        ("我的昵称", TEXT),
        ("张三", IMAGE),
        ("我的昵称", TEXT),
        (None, DELETED),
        ("张三", TEXT),
        ("Tom & Jerry's", AUDIO),  # the name's JS/HTML escaping undone
    ]
    assert msgs[3].extra["quote"] == {"sender": "张三", "text": "你好"}
    assert msgs[5].text == "第一行\n\n第三行"  # a blank line inside a text is kept
    assert all(m.from_me is None for m in msgs)
    marked = parse(FIX / "memotrace1" / "张三.txt", params={"wechat_me": "我的昵称"})
    assert [m.from_me for m in marked.messages if m.sender == "我的昵称"] == [True, True]


def test_memotrace1_html() -> None:
    parsed = parse(FIX / "memotrace1" / "张三.html")
    (chat,) = parsed.chats
    assert (chat.title, chat.kind) == ("张三", DIRECT)
    msgs = parsed.messages
    assert msgs[0].ts == datetime.fromtimestamp(1628863878, UTC)
    assert msgs[1].text == "It's <b> 5 \\ 6\n第二行 [旺柴]"  # JS, HTML and emoji images undone
    assert msgs[1].from_me is True and msgs[1].sender == "我的昵称"
    image = msgs[2]
    assert image.kind == IMAGE
    assert image.attachments[0].open is not None
    with image.attachments[0].open() as fh:
        assert fh.read(3) == b"\xff\xd8\xff"
    assert msgs[3].extra["quote"] == {"sender": "张三", "text": "你好"}
    assert msgs[4].kind == DELETED
    link = msgs[5]
    assert link.kind == OTHER and "https://example.org/article" in link.text
    assert msgs[6].kind == FILE and msgs[6].attachments[0].name == "report.pdf"
    assert msgs[7].kind == AUDIO and msgs[7].attachments[0].open is None
    (call,) = parsed.events  # a call is an event, its length kept
    assert (call.kind, call.text, call.extra["duration_s"]) == (EV_CALL, "通话时长 00:05", 5)
    assert [p.line for p in parsed.problems] == [10]


def test_memotrace2_csv() -> None:
    parsed = parse(FIX / "memotrace2" / "李四.csv")
    msgs = {m.source_id: m for m in parsed.messages}
    assert msgs["7437267147299592543"].text == "早上好"
    assert msgs["7437267147299592543"].ts == datetime(2024, 12, 1, 10, 0)
    assert msgs["637529293739295664"].kind == IMAGE and msgs["637529293739295664"].text == ""
    quote = msgs["4073926741244663531"]
    assert quote.extra["quote"] == {"sender": "我", "text": "早上好"}
    doc = msgs["706358374822797422"]
    assert (doc.kind, doc.attachments[0].name) == (FILE, "报告 final.pdf")
    assert msgs["2122553892045962801"].kind == DELETED
    assert (msgs["5704142615879617852"].kind, msgs["5704142615879617852"].text) == (STICKER, "捂脸")
    assert msgs["1337798072543283708"].text == "我到楼下了"
    call, pat = sorted(parsed.events, key=lambda e: e.kind)
    assert (call.kind, call.source_id) == (EV_CALL, "8192964515963336399")
    assert pat.text == '"李四" 拍了拍我'
    mine = parse(FIX / "memotrace2" / "李四.csv", params={"wechat_me": "我"})
    assert {m.from_me for m in mine.messages if m.sender == "我"} == {True}


def test_memotrace2_txt() -> None:
    parsed = parse(FIX / "memotrace2" / "李四.txt")
    assert [m.kind for m in parsed.messages] == [TEXT, IMAGE, TEXT, DELETED, OTHER]
    assert parsed.messages[4].text.startswith("标题：A title")
    assert [e.text for e in parsed.events] == ['"李四" 拍了拍我']


# --- our fixtures: WechatExporter ----------------------------------------------------------


def test_wechatexporter_txt() -> None:
    parsed = parse(FIX / "wechatexporter" / "王五.txt")
    assert parsed.chats[0].title == "王五"
    (event,) = parsed.events
    assert event.ts == datetime(2023, 5, 1, 9, 0)  # takes the time of the next message
    msgs = parsed.messages
    assert [(m.sender, m.kind) for m in msgs] == [
        ("王五", TEXT),
        ("我", TEXT),
        ("王五", IMAGE),
        ("me", DELETED),
        ("我", TEXT),
        ("王五", AUDIO),
        ("王五", FILE),
        ("王五", OTHER),
    ]
    assert msgs[1].text == "你好呀\n第二行"
    assert msgs[4].text == "收到" and msgs[4].extra["quote"] == {"sender": "王五", "text": "你好"}
    assert msgs[5].extra["duration"] == "0:05"
    assert msgs[6].attachments[0].name == "合同.pdf"


def test_wechatexporter_html() -> None:
    parsed = parse(FIX / "wechatexporter" / "王五.html")
    assert parsed.chats[0].title == "王五"
    (event,) = parsed.events
    assert event.text == "你已添加了王五，现在可以开始聊天了。"
    msgs = parsed.messages
    assert [(m.sender, m.kind, m.from_me) for m in msgs] == [
        ("王五", TEXT, False),
        ("我", TEXT, True),
        ("王五", IMAGE, False),
        ("me", DELETED, True),
        ("我", TEXT, True),
    ]
    assert msgs[0].text == "你好 & 早"
    assert msgs[1].text == "你好呀\n第二行"
    assert msgs[0].extra["msgid"] == "2" and msgs[0].source_id is None
    with msgs[2].attachments[0].open() as fh:  # type: ignore[misc]
        assert fh.read(3) == b"\xff\xd8\xff"
    assert msgs[4].extra["quote"] == {"sender": "王五", "text": "你好"}


# --- detection and bad input ---------------------------------------------------------------

ALL_FIXTURES = sorted(p for p in FIX.rglob("*") if p.is_file() and p.name != "users.json" and p.suffix not in (".jpg",))


@pytest.mark.parametrize("path", ALL_FIXTURES, ids=lambda p: p.name)
def test_each_fixture_detected_by_exactly_one_wechat_format(path: Path) -> None:
    assert sum(1 for f in wechat.FORMATS if f.detect(path)) == 1


def test_detectors_reject_other_apps_corpus() -> None:
    if not CORPUS.exists():
        pytest.skip("sample corpus not available")
    claimed = []
    for path in sorted(CORPUS.rglob("*")):
        if "wechat" in path.relative_to(CORPUS).parts[:1]:
            continue
        claimed += [(f.name, str(path)) for f in wechat.FORMATS if f.detect(path)]
    assert claimed == []


def test_detectors_reject_random_bytes_and_never_raise(tmp_path: Path) -> None:
    names = ["x.csv", "x.txt", "x.html", "x.json", "x.db", "MSG0.db", "EnMicroMsg.db"]
    for name in names:
        path = tmp_path / name
        path.write_bytes(os.urandom(3000))
        assert not any(f.detect(path) for f in wechat.FORMATS), name
    assert not any(f.detect(tmp_path / "missing.csv") for f in wechat.FORMATS)


@pytest.mark.parametrize(
    "fmt",
    [f.name for f in wechat.FORMATS if f.name != "wechat-db"],
)
def test_garbage_gives_export_error_or_problems(tmp_path: Path, fmt: str) -> None:
    for content in (os.urandom(5000), b"", b"\x00" * 100, "只有一行".encode("utf-16")):
        path = tmp_path / "garbage.txt"
        path.write_bytes(content)
        try:
            records = parse(path, fmt).records
        except ExportError:
            continue
        assert all(not isinstance(r, (Message, Event)) or r.chat for r in records)


@pytest.mark.parametrize("fixture", ALL_FIXTURES, ids=lambda p: p.name)
def test_truncated_fixtures_never_crash(tmp_path: Path, fixture: Path) -> None:
    fmt = next(f.name for f in wechat.FORMATS if f.detect(fixture))
    data = fixture.read_bytes()
    for cut in (len(data) // 3, len(data) // 2, len(data) - 7):
        path = tmp_path / fixture.name
        path.write_bytes(data[:cut])
        try:
            parse(path, fmt)
        except ExportError:
            pass
