"""The ChatLab format, JSON and JSONL: type codes, platforms, owners, replies, dedup with the app's own imports."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import pytest

import importers
from importers.chatlab import files
from importers.chatlab.spec import MESSAGE_KINDS, source_for
from tests.conftest import FIXTURES, tg_export, tg_msg
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_SYSTEM,
    GROUP,
    IMAGE,
    OTHER,
    TEXT,
)

UTC = timezone.utc
CL = FIXTURES / "chatlab"
WECHAT_JSON = CL / "wechat-group.json"
QQ_JSONL = CL / "qq-group.jsonl"
QCE_GROUP = FIXTURES / "qq" / "qce-group" / "摄影同好会.json"
S = 1_700_000_000


def at(offset: int) -> datetime:
    return datetime.fromtimestamp(S + offset, UTC)


def test_json_wechat_group() -> None:
    assert importers.detect(WECHAT_JSON).name == "chatlab-json"
    result = parse(WECHAT_JSON)
    (chat,) = result.chats
    # ChatLab's "weixin" is talkvault's wechat; the key is the chatroom id, as WeChat's own importers use
    assert (chat.source, chat.key, chat.title, chat.kind) == ("wechat", "12345678@chatroom", "摄影同好会", GROUP)
    assert chat.participants == ("我", "小美", "أحمد", "דנה")
    assert result.records[0] is chat
    assert len(result.messages) == 11 and len(result.events) == 3
    (problem,) = result.problems
    assert problem.message.startswith("message 15 ") and problem.path == str(WECHAT_JSON)

    m = result.messages
    assert [x.text for x in m[:4]] == ["今天警察来了", "مرحبا بالجميع", "שלום לכולם", "收到"]
    assert [x.sender for x in m[:4]] == ["小美", "أحمد", "דנה", "我"]  # group nickname before account name
    assert [x.sender_id for x in m[:4]] == ["wxid_mei", "wxid_ahmad", "wxid_dana", "wxid_me"]
    assert [x.from_me for x in m[:4]] == [False, False, False, True]  # meta.ownerId
    assert [x.ts for x in m[:4]] == [at(0), at(10), at(20), at(30)]
    assert [x.source_id for x in m[:2]] == ["5000000000000000001", "5000000000000000002"]
    assert [x.kind for x in m] == [TEXT, TEXT, TEXT, TEXT, IMAGE, AUDIO, TEXT, DELETED, TEXT, TEXT, OTHER]
    image, voice = m[4], m[5]
    assert [(a.kind, a.open) for a in image.attachments] == [(IMAGE, None)]  # the format carries no files
    assert [(a.kind, a.open) for a in voice.attachments] == [(AUDIO, None)]
    assert m[6].reply_to == "5000000000000000001"
    assert (m[7].text, m[7].source_id) == ("", "5000000000000000008")
    assert m[8].ts == m[9].ts and m[8].text == m[9].text == "好" and m[8].source_id is None
    system, call, poke = result.events
    assert (system.kind, system.ts, system.text) == (EV_SYSTEM, at(80), '"阿强"加入了群聊')
    assert (call.kind, call.actor, call.source_id) == (EV_CALL, "أحمد", "5000000000000000010")
    assert call.extra["duration_s"] == 32  # "通话时长 00:32", the key every importer uses
    assert (poke.kind, poke.extra["chatlab_type"]) == (EV_SYSTEM, 22)
    assert "avatar" not in repr(result.records) and "base64" not in repr(result.records)


def test_jsonl_qq_group() -> None:
    assert importers.detect(QQ_JSONL).name == "chatlab-jsonl"
    result = parse(QQ_JSONL)
    (chat,) = result.chats
    assert (chat.source, chat.key, chat.kind) == ("qq", "group:765432109", GROUP)  # the key QCE imports use
    assert len(result.messages) == 9 and not result.events
    (problem,) = result.problems
    assert problem.line == 12 and problem.path == str(QQ_JSONL)
    assert [x.line for x in result.messages[:2]] == [7, 8]  # after the header, a comment and 4 members
    recall = next(x for x in result.messages if x.kind == DELETED)
    assert recall.sender == "小美"  # no nickname on the line: the member's
    assert Counter(x.sender_id for x in result.messages) == {"20002": 5, "30003": 1, "40004": 2, "10001": 1}
    assert [x.from_me for x in result.messages if x.sender_id == "10001"] == [True]


def test_platforms_map_to_sources() -> None:
    assert source_for("weixin") == source_for("WeChat") == "wechat"
    assert source_for("qq") == "qq" and source_for("telegram") == "telegram"
    assert source_for("unknown") == source_for("mixed") == source_for(None) == "chatlab"
    assert source_for("matrix") == "matrix" and source_for("a b/../c") == "chatlab"
    assert MESSAGE_KINDS[0] == TEXT


def _jsonl(path: Path, lines: list[dict]) -> Path:
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


def test_private_chat_key_is_the_peer(tmp_path: Path) -> None:
    def head(platform: str) -> dict:
        return {
            "_type": "header",
            "chatlab": {"version": "0.0.2", "exportedAt": S},
            "meta": {"name": "Mei", "platform": platform, "type": "private", "ownerId": "me"},
        }

    members = [
        {"_type": "member", "platformId": "me", "accountName": "Me"},
        {"_type": "member", "platformId": "mei", "accountName": "Mei"},
    ]
    hello = {
        "_type": "message",
        "sender": "mei",
        "accountName": "Mei",
        "timestamp": S * 1000,
        "type": 0,
        "content": "hi",
    }
    for platform, key in (("weixin", "mei"), ("qq", "private:mei"), ("unknown", "mei")):
        lenient = {**hello, "timestamp": str(S + 1), "type": "1"}  # numbers written as strings
        result = parse(_jsonl(tmp_path / f"{platform}.jsonl", [head(platform), *members, hello, lenient]))
        assert [(c.key, c.kind) for c in result.chats] == [(key, DIRECT)]
        assert result.messages[0].ts == at(0)  # milliseconds by mistake are understood
        assert (result.messages[1].ts, result.messages[1].kind) == (at(1), IMAGE)


def test_json_with_meta_after_messages(tmp_path: Path) -> None:
    doc = json.loads(WECHAT_JSON.read_text(encoding="utf-8"))
    reordered = {
        "chatlab": doc["chatlab"],
        "messages": doc["messages"][:3],
        "members": doc["members"],
        "meta": doc["meta"],
    }
    path = tmp_path / "odd.json"
    path.write_text(json.dumps(reordered, ensure_ascii=False), encoding="utf-8")
    result = parse(path, "chatlab-json")
    assert [c.key for c in result.chats] == ["12345678@chatroom"]
    assert [x.sender for x in result.messages] == ["小美", "أحمد", "דנה"]


# --- into a real vault --------------------------------------------------------------------------


def test_import_search_reimport(new_vault) -> None:  # type: ignore[no-untyped-def]
    v = new_vault
    r1 = v.import_path(WECHAT_JSON)
    assert (r1.error, r1.format, r1.chats, r1.added, r1.events) == (None, "chatlab-json", 1, 11, 3)
    r2 = v.import_path(QQ_JSONL)
    assert (r2.error, r2.format, r2.added) == (None, "chatlab-jsonl", 9)
    hits = v.search("警察")
    assert sorted((h["source"], h["text"]) for h in hits) == [("qq", "今天警察来了"), ("wechat", "今天警察来了")]
    assert {c["source"] for c in v.chats()} == {"qq", "wechat"}
    again = [v.import_path(p) for p in (WECHAT_JSON, QQ_JSONL)]
    assert [(r.added, r.events) for r in again] == [(0, 0), (0, 0)]


def test_dedups_against_the_apps_own_imports(new_vault, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A ChatLab file of WeChat data meets a WeChat import with server ids; of QQ data, a QCE export."""
    v = new_vault
    own = _jsonl(
        tmp_path / "wechat-db.jsonl",
        [
            {"type": "talkvault", "version": 1},
            {"type": "chat", "source": "wechat", "key": "12345678@chatroom", "title": "摄影同好会", "kind": "group"},
            {
                "type": "message",
                "chat": "12345678@chatroom",
                "ts": "2023-11-14T22:13:20Z",
                "sender": "小美",
                "text": "今天警察来了",
                "id": "5000000000000000001",
            },
        ],
    )
    assert v.import_path(own).added == 1
    r = v.import_path(WECHAT_JSON)
    assert (r.added, r.duplicates) == (10, 1)

    qce = v.import_path(QCE_GROUP)
    assert qce.added == 11
    r = v.import_path(QQ_JSONL)
    assert (r.added, r.duplicates) == (2, 7)  # only the two id-less "好" are new
    assert len([c for c in v.chats() if c["source"] == "qq"]) == 1


def test_parsed_ahead_in_a_second_process_gives_the_same_vault(  # type: ignore[no-untyped-def]
    tmp_path: Path, weak_kdf, monkeypatch: pytest.MonkeyPatch
) -> None:
    import vault
    from tests.conftest import PASSPHRASE
    from vault.operations import parse_ahead

    def run(name: str) -> list[object]:
        with vault.create(tmp_path / name, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
            reports = [v.import_path(p).to_json() for p in (WECHAT_JSON, QQ_JSONL)]
            return [
                *(({k: r[k] for k in ("added", "events", "duplicates")}) for r in reports),
                v.show(v.chats()[0]["id"]),
            ]

    here = run("here")
    used: list[str] = []
    real = parse_ahead.prepared_ahead

    def counting(fmt, *rest):  # type: ignore[no-untyped-def]
        used.append(fmt.name)
        return real(fmt, *rest)

    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setattr(parse_ahead, "prepared_ahead", counting)
    assert run("there") == here
    assert used == ["chatlab-json", "chatlab-jsonl"]


# --- detection and bad input --------------------------------------------------------------------

OURS = {"chatlab-json", "chatlab-jsonl"}


def test_no_other_fixture_is_taken_for_chatlab(tmp_path: Path) -> None:
    others = [p for p in FIXTURES.rglob("*") if not p.is_relative_to(CL) and not p.name.startswith(".")]
    own_jsonl = _jsonl(tmp_path / "data.jsonl", [{"type": "talkvault", "version": 1}])
    telegram = tg_export(tmp_path / "tg" / "result.json", [tg_msg(1, "警察")])
    for p in [*others, own_jsonl, telegram]:
        for fmt in importers.formats():
            if fmt.name in OURS:
                assert not fmt.detect(p), (fmt.name, p)
    assert importers.detect(own_jsonl).name == "jsonl"
    assert importers.detect(telegram).name == "telegram"


def test_chatlab_files_are_taken_by_nothing_else(tmp_path: Path) -> None:
    renamed = tmp_path / "result.json"  # Telegram's file name
    renamed.write_bytes(WECHAT_JSON.read_bytes())
    for p, want in ((WECHAT_JSON, "chatlab-json"), (QQ_JSONL, "chatlab-jsonl"), (renamed, "chatlab-json")):
        assert [f.name for f in importers.formats() if f.detect(p)] == [want]


def test_a_long_header_line_is_still_detected(tmp_path: Path) -> None:
    avatar = "data:image/png;base64," + "A" * 100_000
    head = {
        "_type": "header",
        "chatlab": {"version": "0.0.2", "exportedAt": S},
        "meta": {"name": "x", "platform": "qq", "type": "group", "groupAvatar": avatar},
    }
    path = _jsonl(
        tmp_path / "big.jsonl",
        [head, {"_type": "message", "sender": "1", "accountName": "a", "timestamp": S, "type": 0, "content": "x"}],
    )
    assert importers.detect(path).name == "chatlab-jsonl"
    assert [m.text for m in parse(path).messages] == ["x"]


def test_malformed_files_are_clean_errors(tmp_path: Path) -> None:
    cut = tmp_path / "cut.json"
    data = WECHAT_JSON.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    assert importers.detect(cut).name == "chatlab-json"
    with pytest.raises(ExportError) as exc:
        list(files.parse_json(cut, importers.ParseOptions()))
    assert str(cut) in str(exc.value)

    headless = _jsonl(tmp_path / "headless.jsonl", [{"_type": "message", "sender": "1", "timestamp": S, "type": 0}])
    assert not files.detect_jsonl(headless)
    with pytest.raises(ExportError) as exc:
        list(files.parse_jsonl(headless, importers.ParseOptions()))
    assert str(headless) in str(exc.value) and exc.value.line == 1  # type: ignore[attr-defined]

    binary = tmp_path / "bin.jsonl"
    binary.write_bytes(QQ_JSONL.read_bytes().split(b"\n", 1)[0] + b"\n\xff\xfe\x00garbage\n")
    with pytest.raises(ExportError) as exc:
        list(files.parse_jsonl(binary, importers.ParseOptions()))
    assert str(binary) in str(exc.value)


def test_problems_hold_no_content() -> None:
    problems = [p for path in (WECHAT_JSON, QQ_JSONL) for p in parse(path).problems]
    assert len(problems) == 2
    for problem in problems:
        assert "a type that is not a number" not in str(problem) and "20002" not in str(problem)
