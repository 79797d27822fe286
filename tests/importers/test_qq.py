"""QQ: QQ Chat Exporter's JSON (V6 and V4/V5 objects) and chunked JSONL, and the message manager's TXT."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers.qq import qce_files, txt
from importers.qq.notices import duration_seconds, placeholder_kind
from tests.conftest import FIXTURES
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    FILE,
    GROUP,
    IMAGE,
    STICKER,
    TEXT,
    VIDEO,
    Message,
)

UTC = timezone.utc
QQ = FIXTURES / "qq"
GROUP_JSON = QQ / "qce-group" / "摄影同好会.json"
CHUNKED = QQ / "qce-private_chunked_jsonl"
TXT = QQ / "txt" / "全部消息记录.txt"
T0 = datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(T0.timestamp() + seconds, UTC)


def by_id(result: Parsed) -> dict[str, object]:
    return {r.source_id: r for r in [*result.messages, *result.events] if r.source_id}


# --- QCE single JSON (V6) -----------------------------------------------------------------------


def test_qce_json_group() -> None:
    assert importers.detect(GROUP_JSON).name == "qq-json"
    result = parse(GROUP_JSON, "qq-json")
    (chat,) = result.chats
    assert (chat.source, chat.key, chat.title, chat.kind) == ("qq", "group:765432109", "摄影同好会 📷", GROUP)
    assert chat.participants == ("小美", "أحمد", "דנה", "我")  # the system placeholder left out
    assert result.records[0] is chat

    assert len(result.messages) == 11 and len(result.events) == 2
    assert [str(p) for p in result.problems] == [f"{GROUP_JSON}: message 14 has no readable time; skipped"]
    assert Counter(m.sender for m in result.messages) == {"小美": 5, "أحمد": 3, "דנה": 2, "我": 1}
    assert {m.sender_id for m in result.messages} == {"20002", "30003", "40004", "10001"}  # QQ numbers
    assert [m.ts for m in result.messages[:4]] == [at(0), at(10), at(20), at(30)]
    assert [m.text for m in result.messages[:4]] == ["今天警察来了", "مرحبا بالجميع", "שלום לכולם", "收到"]
    assert [m.from_me for m in result.messages[:4]] == [False, False, False, True]
    kinds = [TEXT, TEXT, TEXT, TEXT, IMAGE, VIDEO, TEXT, DELETED, TEXT, TEXT, STICKER]
    assert [m.kind for m in result.messages] == kinds

    ids = by_id(result)
    photo = ids["7300000000000000005"]
    assert isinstance(photo, Message)
    (att,) = photo.attachments
    assert (att.name, att.kind, att.mime) == ("photo1.jpg", IMAGE, "image/jpeg")
    assert att.open is not None
    with att.open() as fh:
        assert fh.read() == (QQ / "qce-group/resources/images/photo1.jpg").read_bytes()
    video = ids["7300000000000000006"]
    assert isinstance(video, Message)
    (missing,) = video.attachments  # named by an absolute Windows path, not in the export
    assert (missing.name, missing.kind, missing.size, missing.open) == ("clip.mp4", VIDEO, 4096, None)

    reply = ids["7300000000000000007"]
    assert isinstance(reply, Message) and reply.reply_to == "7300000000000000001"
    assert reply.text == "真的吗？"  # QCE's "[回复消息]" stand-in dropped: reply_to says it
    recalled = ids["7300000000000000008"]
    assert isinstance(recalled, Message)
    assert (recalled.kind, recalled.text, recalled.sender, recalled.sender_id) == (DELETED, "", "小美", "20002")

    join, call = result.events
    assert (join.kind, join.text, join.actor, join.ts) == (EV_JOIN, "阿强加入了群聊", None, at(80))
    assert (call.kind, call.ts, call.extra["duration_s"], call.extra["call_type"]) == (EV_CALL, at(90), 32, 1)

    twins = [m for m in result.messages if m.text == "好"]
    assert len(twins) == 2 and twins[0].ts == twins[1].ts and twins[0].source_id != twins[1].source_id
    # QQ's media URLs carry a download key: nothing of them is kept.
    assert all("SECRETKEY" not in repr(r) and "qpic" not in repr(r) for r in result.records)


def test_qce_v4_objects(tmp_path: Path) -> None:
    """The TypeScript exporter's fields: messageId, ISO timestamps, isRecalled, content.reply, rawMessage."""
    doc = {
        "metadata": {"name": "QQChatExporter V4", "version": "4.9.0"},
        "chatInfo": {"name": "老同学", "type": "group", "selfUid": "u_self"},
        "statistics": {
            "totalMessages": 4,
            "senders": [{"uid": "u_a", "name": "阿明"}, {"uid": "u_self", "name": "我"}],
        },
        "messages": [
            {
                "messageId": "m1",
                "timestamp": "2024-02-10T08:00:00.000Z",
                "sender": {"uid": "u_a", "name": "0"},
                "messageType": 2,
                "content": {"text": "新年快乐，警察叔叔"},
                "rawMessage": {"senderUin": "12345", "sendNickName": "Ming", "sendMemberName": "阿明"},
            },
            {
                "messageId": "m2",
                "timestamp": "2024-02-10T08:01:00.000Z",
                "sender": {"uid": "u_self", "name": "我"},
                "messageType": 9,
                "content": {"text": "同乐", "reply": {"messageId": "0", "referencedMessageId": "m1"}},
            },
            {
                "messageId": "m3",
                "timestamp": "2024-02-10T08:02:00.000Z",
                "sender": {"uid": "u_a", "uin": "12345", "name": "阿明"},
                "content": {"text": "阿明撤回了一条消息"},
                "isRecalled": True,
            },
            {
                "messageId": "m4",
                "timestamp": 1707552180,
                "sender": {"uid": "未知", "uin": "0", "name": "0"},
                "messageType": 5,
                "isSystemMessage": True,
                "content": {"text": "小红退出了群聊"},
            },
        ],
    }
    path = tmp_path / "old.json"
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    assert importers.detect(path).name == "qq-json"
    result = parse(path)
    (chat,) = result.chats
    assert chat.key == "title:老同学"  # no peer named: keyed by title
    m1, m2, m3 = result.messages
    assert (m1.sender, m1.sender_id, m1.ts) == ("阿明", "12345", datetime(2024, 2, 10, 8, 0, tzinfo=UTC))
    assert (m2.from_me, m2.reply_to) == (True, "m1")
    assert (m3.kind, m3.text) == (DELETED, "")
    (leave,) = result.events
    assert (leave.kind, leave.ts, leave.actor) == ("leave", datetime(2024, 2, 10, 8, 3, tzinfo=UTC), None)


# --- QCE chunked JSONL --------------------------------------------------------------------------


def test_qce_chunked_private() -> None:
    assert importers.detect(CHUNKED).name == "qq-chunked"
    assert importers.detect(CHUNKED / "manifest.json").name == "qq-chunked"
    result = parse(CHUNKED)
    (chat,) = result.chats
    assert (chat.key, chat.title, chat.kind, chat.participants) == ("private:20002", "小美", DIRECT, ("小美", "我"))
    # chunks in the manifest's index order, whatever order it lists them in
    assert [m.source_id for m in result.messages] == [f"740000000000000000{i}" for i in (1, 2, 3, 4)]
    assert [m.sender for m in result.messages] == ["小美", "我", "小美", "我"]
    assert [m.from_me for m in result.messages] == [False, True, False, True]
    assert [m.kind for m in result.messages] == [TEXT, TEXT, FILE, TEXT]
    assert result.messages[3].reply_to == "7400000000000000002"  # from messageId when no referencedMessageId
    assert result.messages[3].ts == at(3600)
    (pdf,) = result.messages[2].attachments
    assert pdf.name == "notes.pdf" and pdf.open is not None and pdf.size == 34
    (call,) = result.events
    assert (call.kind, call.actor, call.extra["duration_s"]) == (EV_CALL, "小美", 65)
    (problem,) = result.problems
    assert problem.path.endswith("chunks/c000002.jsonl") and problem.line == 2


def test_chunked_missing_chunk_is_a_problem_and_no_chunks_an_error(tmp_path: Path) -> None:
    copy = tmp_path / "x_chunked_jsonl"
    shutil.copytree(CHUNKED, copy)
    (copy / "chunks" / "c000001.jsonl").unlink()
    result = parse(copy)
    assert len(result.messages) == 1 and any("c000001.jsonl" in p.message for p in result.problems)
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["chunked"]["chunks"] = []
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.rmtree(copy / "chunks")
    assert importers.detect(copy).name == "qq-chunked"  # the "chunked" section still says so
    with pytest.raises(ExportError) as exc:
        list(qce_files.parse_chunked(copy, importers.ParseOptions()))
    assert "manifest.json" in str(exc.value)


def test_chunk_paths_cannot_leave_the_export(tmp_path: Path) -> None:
    copy = tmp_path / "y_chunked_jsonl"
    shutil.copytree(CHUNKED, copy)
    (tmp_path / "secret.jsonl").write_text(
        json.dumps({"id": "s", "timestamp": 1, "sender": {"uid": "x"}, "content": {"text": "outside"}}) + "\n"
    )
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["chunked"]["chunks"] = [{"index": 1, "relativePath": "../secret.jsonl"}]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    result = parse(copy)
    assert not result.messages and len(result.problems) == 1


# --- the message manager's TXT ------------------------------------------------------------------


def test_txt_gb18030_two_chats() -> None:
    assert TXT.read_bytes()[:2] != b"\xef\xbb"  # GB18030, no BOM, CRLF
    fmt = importers.detect(TXT)
    assert fmt.name == "qq-txt" and fmt.naive_times
    result = parse(TXT, "qq-txt", params={"qq_me": "10001"})
    group, direct = result.chats
    assert (group.key, group.title, group.kind) == ("title:摄影同好会", "摄影同好会", GROUP)
    assert (direct.key, direct.title, direct.kind) == ("title:דנה", "דנה", DIRECT)
    in_group = [m for m in result.messages if m.chat == group.key]
    assert len(in_group) == 8 and len([m for m in result.messages if m.chat == direct.key]) == 1
    first = in_group[0]
    assert (first.sender, first.sender_id, first.text) == (
        "阿明",
        "12345",
        "听说警察来了\n大家小心",
    )  # 【管理员】 dropped
    assert first.ts == datetime(2013, 5, 1, 12, 0, 0) and first.ts.tzinfo is None
    assert [(m.sender, m.sender_id) for m in in_group[1:4]] == [
        ("Mei", "mei@example.com"),
        ("أحمد", "30003"),
        ("我的昵称", "10001"),
    ]
    assert [m.kind for m in in_group] == [TEXT, IMAGE, TEXT, TEXT, TEXT, TEXT, STICKER, DELETED]
    assert [m.from_me for m in in_group[2:4]] == [False, True]
    assert in_group[6].sender == "阿明"  # shown by number only: the last nickname of 12345
    assert in_group[7].text == "" and in_group[7].sender == "Mei"
    twins = [m for m in in_group if m.text == "好"]
    assert len(twins) == 2 and twins[0].ts == twins[1].ts and twins[0].source_id is None

    join, call = result.events
    assert (join.chat, join.kind, join.text, join.actor) == (group.key, EV_JOIN, "阿强加入了群聊", None)
    assert (call.chat, call.kind, call.actor, call.extra) == (direct.key, EV_CALL, "我的昵称", {"duration_s": 65})
    (hebrew,) = [m for m in result.messages if m.chat == direct.key]
    # a body line that looks like a sender line without a QQ number stays in the body
    assert hebrew.text == "שלום, מה שלומך?\n2013-05-02 08:00:30 was when I left"
    (problem,) = result.problems
    assert problem.line == 37 and "date" in problem.message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-8-sig"])
def test_txt_other_encodings_read_the_same(tmp_path: Path, encoding: str) -> None:
    text = TXT.read_bytes().decode("gb18030")
    path = tmp_path / "record.txt"
    path.write_bytes(text.encode(encoding))
    assert importers.detect(path).name == "qq-txt"
    want = parse(TXT, "qq-txt").records
    got = parse(path, "qq-txt").records
    assert [(type(r).__name__, getattr(r, "text", None), getattr(r, "ts", None)) for r in got] == [
        (type(r).__name__, getattr(r, "text", None), getattr(r, "ts", None)) for r in want
    ]


def test_txt_without_its_title_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("消息对象:x\n2013-05-01 12:00:00 阿明(12345)\nhi\n", encoding="utf-8")
    assert not txt.detect(path)
    with pytest.raises(ExportError) as exc:
        list(txt.parse(path, importers.ParseOptions()))
    assert str(path) in str(exc.value) and "消息记录" in str(exc.value)


_ALPHABET = "警察國家中文字好的 abcXYZ019 .,!?:-()مرحباשלום😀é"
_names = (
    st.text(alphabet="警察阿明Meiأحمدדנה😀 ab", min_size=1, max_size=8)
    .map(str.strip)
    .filter(lambda n: bool(n) and not n.isdigit() and n != "系统消息")
)
_body_line = st.text(alphabet=_ALPHABET, max_size=30).filter(
    lambda t: not txt.HEADER_RE.match(t) and not t.startswith(("=", "消息分组", "消息对象"))
)
_bodies = st.lists(_body_line, min_size=1, max_size=3).filter(
    lambda ls: bool(ls[0].strip()) and bool(ls[-1].strip()) and "通话时长" not in "".join(ls)
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    messages=st.lists(
        st.tuples(_names, st.integers(10001, 99999), st.integers(0, 86399), _bodies), min_size=1, max_size=6
    ),
    encoding=st.sampled_from(["gb18030", "utf-8", "utf-16"]),
)
def test_txt_round_trips_what_it_was_given(tmp_path_factory, messages, encoding) -> None:  # type: ignore[no-untyped-def]
    sep = "=" * 64
    out = [
        "消息记录（此消息记录为文本格式，不支持重新导入）",
        "",
        sep,
        "消息分组:我的群聊",
        sep,
        "消息对象:测试群",
        sep,
        "",
    ]
    for name, qq, second, body in messages:
        stamp = datetime(2014, 3, 1) + timedelta(seconds=second)
        out += [f"{stamp:%Y-%m-%d %H:%M:%S} {name}({qq})", *body, ""]
    path = tmp_path_factory.mktemp("txt") / "r.txt"
    path.write_bytes("\r\n".join(out).encode(encoding))
    assert txt.detect(path)
    result = parse(path, "qq-txt")
    assert not result.problems
    got = [(m.sender, m.sender_id, m.ts, m.text) for m in result.messages]
    want = [
        (name, str(qq), datetime(2014, 3, 1) + timedelta(seconds=second), "\n".join(body))
        for name, qq, second, body in messages
    ]
    assert got == want


def test_notice_helpers() -> None:
    assert duration_seconds("通话时长 01:02:03") == 3723
    assert duration_seconds("已结束") is None
    assert placeholder_kind("[图片][图片]") == IMAGE
    assert placeholder_kind("看[图片]") is None


# --- into a real vault --------------------------------------------------------------------------


def test_import_into_vault_search_and_reimport(new_vault, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    v = new_vault
    reports = [v.import_path(p, tz="Asia/Shanghai") for p in (GROUP_JSON, CHUNKED, TXT)]
    assert [r.error for r in reports] == [None, None, None]
    assert [(r.format, r.chats, r.added, r.events) for r in reports] == [
        ("qq-json", 1, 11, 2),
        ("qq-chunked", 1, 4, 1),
        ("qq-txt", 2, 9, 2),
    ]
    assert reports[0].attachments == 1 and reports[1].attachments == 1
    hits = v.search("警察", limit=None)
    assert sorted(h["text"] for h in hits) == ["今天警察来了", "听说警察来了\n大家小心", "警察局在哪里？"]
    assert {h["source"] for h in hits} == {"qq"}
    txt_hit = next(h for h in hits if h["text"].startswith("听说"))
    assert txt_hit["ts"] == "2013-05-01T04:00:00Z"  # 12:00 in Shanghai
    again = [v.import_path(p, tz="Asia/Shanghai") for p in (GROUP_JSON, CHUNKED, TXT)]
    assert [(r.added, r.events) for r in again] == [(0, 0), (0, 0), (0, 0)]
    assert v.check()["ok"]


def test_parsed_ahead_in_a_second_process_gives_the_same_vault(  # type: ignore[no-untyped-def]
    tmp_path: Path, weak_kdf, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Big exports are parsed in a child process: the records (attachment openers too) travel."""
    import vault
    from tests.conftest import PASSPHRASE
    from vault.operations import parse_ahead

    def run(name: str) -> list[tuple[object, ...]]:
        with vault.create(tmp_path / name, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
            out: list[tuple[object, ...]] = []
            for p in (GROUP_JSON, CHUNKED, TXT):
                r = v.import_path(p, tz="UTC")
                out.append((r.format, r.added, r.events, r.attachments, len(r.problems)))
            out.append(tuple(sorted(h["id"] + h["text"] for h in v.search("警察", limit=None))))
            return out

    here = run("here")
    used: list[str] = []
    real = parse_ahead.prepared_ahead

    def counting(fmt, *rest):  # type: ignore[no-untyped-def]
        used.append(fmt.name)
        return real(fmt, *rest)

    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setattr(parse_ahead, "prepared_ahead", counting)
    assert run("there") == here
    assert used == ["qq-json", "qq-chunked", "qq-txt"]


def test_cli_import_with_the_owner_parameter(cli_vault) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import cli

    args = ("import", str(TXT), "--format", "qq-txt", "--tz", "Asia/Shanghai", "--param", "qq_me=10001", "--json")
    r = cli(*args, env=cli_vault)
    assert r.code == 0, r.err
    (report,) = r.json()["files"]
    assert len(report["problems"]) == 1  # the impossible date, reported by line; the rest is in
    assert (report["format"], report["chats"], report["added"], report["events"]) == ("qq-txt", 2, 9, 2)
    shown = cli("search", "收到", "--json", env=cli_vault).json()
    assert [(h["sender"], h["ts"]) for h in shown] == [("我的昵称", "2013-05-01T04:01:00Z")]
    assert cli(*args, env=cli_vault).json()["added"] == 0


# --- detection ----------------------------------------------------------------------------------

OURS = {"qq-json", "qq-chunked", "qq-txt"}


def test_no_other_fixture_is_taken_for_qq() -> None:
    others = [p for p in FIXTURES.rglob("*") if not p.is_relative_to(QQ) and not p.name.startswith(".")]
    assert len(others) > 20
    for p in others:
        for fmt in importers.formats():
            if fmt.name in OURS:
                assert not fmt.detect(p), (fmt.name, p)


def test_qq_fixtures_are_taken_by_nothing_else() -> None:
    for p in (GROUP_JSON, CHUNKED, CHUNKED / "manifest.json", TXT):
        claimed = [f.name for f in importers.formats() if f.detect(p)]
        assert len(claimed) == 1 and claimed[0] in OURS, (p, claimed)


def test_single_json_renamed_manifest_is_still_single(tmp_path: Path) -> None:
    path = tmp_path / "manifest.json"
    shutil.copy(GROUP_JSON, path)
    assert importers.detect(path).name == "qq-json"


def test_a_truncated_export_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    data = GROUP_JSON.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert importers.detect(path).name == "qq-json"
    with pytest.raises(ExportError) as exc:
        list(parse(path).records)
    assert str(path) in str(exc.value)
    bad = tmp_path / "m_chunked_jsonl"
    shutil.copytree(CHUNKED, bad)
    (bad / "manifest.json").write_text('{"metadata":{"name":"QQChatExporter"},"chatInfo":{', encoding="utf-8")
    with pytest.raises(ExportError) as exc:
        list(qce_files.parse_chunked(bad, importers.ParseOptions()))
    assert "manifest.json" in str(exc.value)
