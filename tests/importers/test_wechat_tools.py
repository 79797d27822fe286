"""The 2026 WeChat exporters: WeFlow, EchoTrace, CipherTalk detailed JSON, chatlog JSON/CSV, and
WechatExporter's zstd-garbled bodies. Fixtures are written here from the writers' layouts."""

from __future__ import annotations

import hashlib
import itertools
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import importers
from importers.base import ParseOptions
from importers.wechat.tools.shared import server_id
from tests.conftest import PASSPHRASE
from tests.importers.test_wechat_db import V4_CONTACT_DDL, V4_MSG_DDL, make_db, zstd
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_SYSTEM,
    GROUP,
    IMAGE,
    OTHER,
    STICKER,
    TEXT,
    Message,
)

T0 = 1_760_000_000  # 2025-10-09 08:53:20 UTC
GROUP_ID = "police@chatroom"
BIG_UNSIGNED = (1 << 64) - 12345  # a server id above 2^63: SQLite keeps it as -12345
OWNER, ALICE, BOB, CAROL = "wxid_owner", "wxid_alice", "wxid_bob", "wxid_carol"
NAMES = {OWNER: "我自己", ALICE: "Alice警官", BOB: "Bob", CAROL: "ليلى"}

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def write(path: Path, doc: Any) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def at(n: int) -> datetime:
    return datetime.fromtimestamp(T0 + n, UTC)


# --- WeFlow / EchoTrace ------------------------------------------------------------------------


def weflow_message(n: int, type_name: str, content: str, sender: str, **more: Any) -> dict[str, Any]:
    doc = {
        "localId": n + 1,
        "createTime": T0 + n,
        "formattedTime": "",
        "type": type_name,
        "localType": 1,
        "content": content,
        "isSend": 1 if sender == OWNER else (None if sender == GROUP_ID else 0),
        "senderUsername": sender,
        "senderDisplayName": NAMES.get(sender, ""),
        "senderAvatarKey": sender,
        "source": "",
    }
    doc.update(more)
    return doc


def weflow_group(folder: Path, header: bool = True) -> Path:
    (folder / "media" / "images").mkdir(parents=True, exist_ok=True)
    (folder / "media" / "images" / "a.jpg").write_bytes(b"\xff\xd8\xff\xe0 jpeg")
    (folder.parent / "secret.jpg").write_bytes(b"outside")
    m = weflow_message
    messages = [
        m(0, "文本消息", "我是警察，请开门", ALICE, platformMessageId="9001"),
        m(1, "文本消息", "好的，我打电话", OWNER, platformMessageId="9002"),
        m(2, "图片消息", "media/images/a.jpg", BOB),
        m(3, "语音消息", "[语音消息]", CAROL),
        m(4, "动画表情", "[动画表情]", BOB, emojiMd5="abc"),
        m(5, "系统消息", '"Bob" 撤回了一条消息', GROUP_ID),
        m(6, "系统消息", '"Alice警官"邀请"ليلى"加入了群聊', GROUP_ID),
        m(7, "引用消息", "同意[引用 Alice警官：我是警察，请开门]", BOB, replyToMessageId="9001"),
        m(8, "卡片式链接", "[链接] 新闻\nhttps://example.org/n", CAROL, linkUrl="https://example.org/n"),
        m(9, "聊天记录合并转发", "[聊天记录]", ALICE),
        m(10, "通话消息", "通话时长 00:25", OWNER),
        m(11, "文本消息", "哈哈", BOB),
        m(11, "文本消息", "哈哈", BOB),
        m(12, "文本消息", "مرحبا بالجميع", CAROL),
        m(13, "拍一拍消息", '"Bob" 拍了拍 "Alice警官"', BOB),
        m(14, "图片消息", "media/images/missing.jpg", ALICE),
        m(15, "图片消息", "../secret.jpg", ALICE),
        m(16, "红包卡片", "[红包] 恭喜发财", ALICE),
        {"localId": 99, "type": "文本消息", "content": "no time"},
    ]
    doc: dict[str, Any] = {}
    if header:
        doc["weflow"] = {"version": "1.4.0", "exportedAt": T0 + 100}
    doc["session"] = {
        "wxid": GROUP_ID,
        "nickname": "警察局群",
        "remark": "",
        "displayName": "警察局群",
        "type": "群聊",
        "lastTimestamp": T0 + 16,
        "messageCount": len(messages),
        "avatar": "data:image/png;base64," + "A" * 70_000,
    }
    doc["messages"] = messages
    return write(folder / ("weflow.json" if header else "echotrace.json"), doc)


def check_weflow_group(path: Path, fmt: str) -> None:
    parsed = parse(path, fmt)
    (chat,) = parsed.chats
    assert (chat.key, chat.title, chat.kind) == (GROUP_ID, "警察局群", GROUP)
    assert "avatar" not in chat.extra
    assert len(parsed.problems) == 1 and parsed.problems[0].line == 19
    msgs, events = parsed.messages, parsed.events
    assert len(msgs) == 14 and len(events) == 4
    by_line = {r.line: r for r in [*msgs, *events]}
    first = by_line[1]
    assert (first.text, first.sender, first.sender_id, first.from_me, first.ts) == (
        "我是警察，请开门",
        "Alice警官",
        ALICE,
        False,
        at(0),
    )
    assert (first.source_id, first.extra["local_id"]) == ("9001", "1")
    assert (by_line[2].from_me, by_line[2].sender, by_line[2].source_id) == (True, "我自己", "9002")
    image = by_line[3]
    assert (image.kind, image.text, image.source_id) == (IMAGE, "", None)
    assert image.attachments[0].name == "a.jpg" and image.attachments[0].open is not None
    assert (by_line[4].kind, by_line[4].text) == (AUDIO, "")
    assert (by_line[5].kind, by_line[5].extra["emojiMd5"]) == (STICKER, "abc")
    assert (by_line[6].kind, by_line[6].text) == (DELETED, '"Bob" 撤回了一条消息')
    assert (by_line[7].kind, by_line[7].actor) == (EV_JOIN, None)
    quote = by_line[8]
    assert (quote.text, quote.reply_to, quote.extra["quote"]) == (
        "同意",
        "9001",
        {"sender": "Alice警官", "text": "我是警察，请开门"},
    )
    assert (by_line[9].kind, by_line[9].extra["linkUrl"]) == (OTHER, "https://example.org/n")
    assert by_line[10].extra["forward"] is True
    call = by_line[11]
    assert (call.kind, call.extra["duration_s"], call.actor) == (EV_CALL, 25, "我自己")
    twins = [by_line[12], by_line[13]]
    assert [(t.text, t.ts, t.sender) for t in twins] == [("哈哈", at(11), "Bob")] * 2
    assert by_line[14].text == "مرحبا بالجميع" and by_line[14].sender == "ليلى"
    assert (by_line[15].kind, by_line[15].extra["pat"]) == (EV_SYSTEM, True)
    missing, escaping = by_line[16].attachments[0], by_line[17].attachments[0]
    assert (missing.name, missing.open) == ("missing.jpg", None)
    assert (escaping.name, escaping.open) == ("secret.jpg", None)
    assert (by_line[18].kind, by_line[18].extra["red_packet"]) == (EV_SYSTEM, True)


def test_weflow_group(tmp_path: Path) -> None:
    path = weflow_group(tmp_path / "export")
    assert importers.detect(path).name == "wechat-weflow-json"
    check_weflow_group(path, "wechat-weflow-json")


def test_echotrace_group_and_private(tmp_path: Path) -> None:
    path = weflow_group(tmp_path / "export", header=False)
    assert importers.detect(path).name == "wechat-echotrace-json"
    check_weflow_group(path, "wechat-echotrace-json")
    private = write(
        tmp_path / "alice.json",
        {
            "session": {"wxid": ALICE, "nickname": "alice", "remark": "Ally", "displayName": "Ally", "type": "私聊"},
            "messages": [
                weflow_message(0, "文本消息", "你好", ALICE, senderDisplayName="Ally"),
                weflow_message(1, "文本消息", "晚上见", OWNER),
            ],
        },
    )
    assert importers.detect(private).name == "wechat-echotrace-json"
    parsed = parse(private)
    (chat,) = parsed.chats
    assert (chat.key, chat.title, chat.kind) == (ALICE, "Ally", DIRECT)
    assert [(m.sender, m.sender_id, m.from_me, m.source_id) for m in parsed.messages] == [
        ("Ally", ALICE, False, None),
        ("我自己", OWNER, True, None),
    ]


# --- CipherTalk --------------------------------------------------------------------------------

QUOTE_TYPE = (57 << 32) | 49
FORWARD_XML = (
    "<msg><appmsg><title>群聊的聊天记录</title><des>Alice: 出警\nBob: 收到</des><type>19</type>"
    "<recorditem><![CDATA[<recordinfo/>]]></recorditem></appmsg></msg>"
)
QUOTE_XML = (
    "<msg><appmsg><title>同意</title><type>57</type><refermsg><type>1</type><svrid>9001</svrid>"
    "<fromusr>police@chatroom</fromusr><chatusr>wxid_alice</chatusr><displayname>Alice警官</displayname>"
    "<content>我是警察，请开门</content></refermsg></appmsg></msg>"
)
RECALL_XML = (
    '<sysmsg type="revokemsg"><revokemsg><replacemsg><![CDATA["Bob" 撤回了一条消息]]></replacemsg></revokemsg></sysmsg>'
)


def ct_message(n: int, local_type: int, raw: str, sender: str, svrid: int | None, **more: Any) -> dict[str, Any]:
    doc = {
        "localId": n + 1,
        "platformMessageId": str(svrid) if svrid else str(n + 1),
        "createTime": T0 + n,
        "formattedTime": "",
        "type": "",
        "localType": local_type,
        "chatLabType": 0,
        "content": raw if local_type == 1 else "",
        "rawContent": raw,
        "isSend": 1 if sender == OWNER else 0,
        "senderUsername": sender,
        "senderDisplayName": NAMES.get(sender, sender),
        "source": "",
    }
    doc.update(more)
    return doc


def ciphertalk_doc(messages: list[dict[str, Any]], wxid: str = GROUP_ID) -> dict[str, Any]:
    return {
        "exportInfo": {"version": "0.0.2", "exportedAt": T0, "generator": "CipherTalk", "format": "detailed-json"},
        "session": {
            "wxid": wxid,
            "nickname": "警察局群",
            "remark": "警察局群",
            "displayName": "警察局群",
            "type": "群聊" if wxid.endswith("@chatroom") else "私聊",
            "platform": "wechat",
            "isGroup": wxid.endswith("@chatroom"),
            "ownerId": OWNER,
            "messageCount": len(messages),
        },
        "messages": messages,
    }


def test_ciphertalk_group(tmp_path: Path) -> None:
    c = ct_message
    records = [
        {
            "sender": "Alice警官",
            "senderDisplayName": "Alice警官",
            "timestamp": T0 - 50,
            "type": "文本消息",
            "content": "出警",
        },
        {"sender": "Bob", "senderDisplayName": "Bob", "timestamp": T0 - 40, "type": "文本消息", "content": "收到"},
    ]
    path = write(
        tmp_path / "ct.json",
        ciphertalk_doc(
            [
                c(0, 1, "wxid_alice:\n我是警察，请开门", ALICE, 9001, groupNickname="阿丽"),
                c(1, 1, "好的", OWNER, 9002),
                c(2, 10000, RECALL_XML, BOB, 9003),
                c(3, QUOTE_TYPE, QUOTE_XML, BOB, 9004, replyToMessageId="9001"),
                c(4, (19 << 32) | 49, FORWARD_XML, ALICE, 9005, chatRecords=records),
                c(
                    5,
                    50,
                    "<voipmsg><VoIPBubbleMsg><msg><![CDATA[通话时长 01:05]]></msg></VoIPBubbleMsg></voipmsg>",
                    OWNER,
                    9006,
                ),
                c(6, 10000, '"Alice警官"邀请"ليلى"加入了群聊', GROUP_ID, None),
                c(7, 3, "<msg><img/></msg>", CAROL, BIG_UNSIGNED, content="images/p.jpg"),
            ]
        ),
    )
    assert importers.detect(path).name == "wechat-ciphertalk-json"
    parsed = parse(path)
    assert not parsed.problems
    by_line = {r.line: r for r in [*parsed.messages, *parsed.events]}
    assert (by_line[1].text, by_line[1].sender, by_line[1].source_id) == ("我是警察，请开门", "Alice警官", "9001")
    assert (by_line[2].from_me, by_line[2].sender_id) == (True, OWNER)
    assert (by_line[3].kind, by_line[3].source_id) == (DELETED, "9003")
    assert (by_line[4].text, by_line[4].reply_to) == ("同意", "9001")
    forward = by_line[5]
    assert (forward.kind, forward.text) == (TEXT, "群聊的聊天记录\nAlice警官: 出警\nBob: 收到")
    assert [r["text"] for r in forward.extra["records"]] == ["出警", "收到"]
    call = by_line[6]
    assert (call.kind, call.extra["duration_s"], call.source_id) == (EV_CALL, 65, "9006")
    join = by_line[7]
    assert (join.kind, join.source_id, join.actor) == (EV_JOIN, None, None)  # local id is not a source id
    assert (by_line[8].kind, by_line[8].source_id) == (IMAGE, "-12345")
    assert by_line[8].attachments[0].open is None


# --- chatlog -----------------------------------------------------------------------------------


def chatlog_item(n: int, type_: int, sub: int, content: str, sender: str, **more: Any) -> dict[str, Any]:
    doc = {
        "seq": (T0 + n) * 1000,
        "time": datetime.fromtimestamp(T0 + n, UTC).astimezone().isoformat(),
        "talker": GROUP_ID,
        "talkerName": "警察局群",
        "isChatRoom": True,
        "sender": sender,
        "senderName": "" if sender == "系统消息" else NAMES.get(sender, sender),
        "isSelf": sender == OWNER,
        "type": type_,
        "subType": sub,
        "content": content,
    }
    doc.update(more)
    return doc


def test_chatlog_json(tmp_path: Path) -> None:
    i = chatlog_item
    items = [
        i(0, 1, 0, "我是警察，请开门", ALICE),
        i(1, 1, 0, "好的", OWNER),
        i(2, 3, 0, "", BOB, contents={"md5": "d41d"}),
        i(3, 10000, 0, '"Bob" 撤回了一条消息', "系统消息"),
        i(4, 49, 57, "同意", BOB, contents={"refer": {"senderName": "Alice警官", "content": "我是警察，请开门"}}),
        i(
            5,
            49,
            19,
            "",
            ALICE,
            contents={
                "title": "聊天记录",
                "recordInfo": {"DataList": {"DataItems": [{"SourceName": "Bob", "DataDesc": "收到"}]}},
            },
        ),
        i(6, 50, 0, "", OWNER),
        i(7, 1, 0, "哈哈", BOB),
        i(7, 1, 0, "哈哈", BOB),
        i(8, 10000, 0, '"Alice警官"邀请"ليلى"加入了群聊', "系统消息"),
        i(9, 49, 5, "", CAROL, contents={"title": "新闻", "url": "https://example.org/n"}),
    ]
    path = write(tmp_path / "chatlog.json", items)
    assert importers.detect(path).name == "wechat-chatlog-json"
    parsed = parse(path)
    (chat,) = parsed.chats
    assert (chat.key, chat.kind) == (GROUP_ID, GROUP)
    assert len(parsed.messages) == 9 and len(parsed.events) == 2
    by_line = {r.line: r for r in [*parsed.messages, *parsed.events]}
    assert (by_line[1].ts, by_line[1].source_id, by_line[1].extra["seq"]) == (at(0), None, str(T0 * 1000))
    assert by_line[2].from_me is True
    assert (by_line[3].kind, by_line[3].extra["md5"]) == (IMAGE, "d41d")
    assert by_line[4].kind == DELETED
    assert by_line[5].extra["quote"] == {"sender": "Alice警官", "text": "我是警察，请开门"}
    assert by_line[6].text == "聊天记录\nBob: 收到"
    assert by_line[7].kind == EV_CALL
    assert [by_line[8].text, by_line[9].text] == ["哈哈", "哈哈"]
    assert by_line[10].kind == EV_JOIN
    assert by_line[11].text == "新闻\nhttps://example.org/n"


def test_chatlog_csv(tmp_path: Path) -> None:
    rows = [
        "Time,SenderName,Sender,TalkerName,Talker,Content",
        "2025-10-09 16:53:20,Alice警官,wxid_alice,警察局群,police@chatroom,我是警察",
        "2025-10-09 16:53:21,Bob,wxid_bob,警察局群,police@chatroom,![图片](http://127.0.0.1:5030/image/abc)",
        "2025-10-09 16:53:22,Bob,wxid_bob,警察局群,police@chatroom,"
        '"> Alice警官(wxid_alice) 10-09 16:53:20\n> 我是警察\n同意"',
        '2025-10-09 16:53:23,,系统消息,警察局群,police@chatroom,"""Bob"" 撤回了一条消息"',
        "2025-10-09 16:53:24,我自己,wxid_owner,警察局群,police@chatroom,[语音通话]",
        "2025-10-09 16:53:25,Bob,wxid_bob,警察局群,police@chatroom,哈哈",
        "2025-10-09 16:53:25,Bob,wxid_bob,警察局群,police@chatroom,哈哈",
        "not a time,Bob,wxid_bob,警察局群,police@chatroom,x",
    ]
    path = tmp_path / "chatlog.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert importers.detect(path).name == "wechat-chatlog-csv"
    assert importers.get("wechat-chatlog-csv").naive_times
    parsed = parse(path)
    assert len(parsed.problems) == 1
    kinds = [(r.kind, r.text) for r in sorted([*parsed.messages, *parsed.events], key=lambda r: r.line or 0)]
    assert kinds == [
        (TEXT, "我是警察"),
        (IMAGE, ""),
        (TEXT, "同意"),
        (DELETED, '"Bob" 撤回了一条消息'),
        (EV_CALL, "[语音通话]"),
        (TEXT, "哈哈"),
        (TEXT, "哈哈"),
    ]
    assert parsed.messages[0].ts == datetime(2025, 10, 9, 16, 53, 20)  # wall-clock: --tz applies


# --- WechatExporter's garbled bodies -----------------------------------------------------------

GARBLE = "(\ufffd/\ufffd\x00X\ufffd\ufffdQ\x01"


def test_wechatexporter_zstd_bodies_are_problems(tmp_path: Path) -> None:
    path = tmp_path / "Alice - 微信聊天记录.txt"
    path.write_text(
        "Alice - 微信聊天记录\n\n"
        "Alice (2025-10-09 16:53:20):我是警察\n"
        f"Alice (2025-10-09 16:53:21):{GARBLE}\n"
        f"Bob (2025-10-09 16:53:22):{GARBLE}more\n"
        "Bob (2025-10-09 16:53:23):收到\n",
        encoding="utf-8",
    )
    assert importers.detect(path).name == "wechat-exporter-txt"
    parsed = parse(path)
    assert [m.text for m in parsed.messages] == ["我是警察", "收到"]
    assert [p.line for p in parsed.problems] == [4, 5]
    assert all("compressed" in p.message and "\ufffd" not in p.message for p in parsed.problems)
    (note,) = parsed.notes
    assert note.text.startswith("2 message(s)")
    html = FIXTURES / "wechat" / "wechatexporter"
    pages = sorted(html.glob("*.html"))
    assert pages, "the WechatExporter HTML fixture is needed"
    page = pages[0].read_text(encoding="utf-8")
    marker = page.find('<div class="msg')
    assert marker > 0
    garbled = tmp_path / pages[0].name
    start = page.find('<div class="content-box', marker)
    close = page.find(">", start) + 1
    garbled.write_text(page[:close] + GARBLE + page[close:], encoding="utf-8")
    before, after = parse(pages[0]), parse(garbled)
    assert len(after.messages) + len(after.events) == len(before.messages) + len(before.events) - 1
    assert not any("\ufffd" in m.text for m in after.messages)
    assert len(after.notes) == 1


# --- detection, damage --------------------------------------------------------------------------

NEW_FORMATS = (
    "wechat-weflow-json",
    "wechat-echotrace-json",
    "wechat-ciphertalk-json",
    "wechat-chatlog-json",
    "wechat-chatlog-csv",
)


def test_no_false_detection(tmp_path: Path) -> None:
    ours = {
        "wechat-weflow-json": weflow_group(tmp_path / "a"),
        "wechat-echotrace-json": weflow_group(tmp_path / "b", header=False),
        "wechat-ciphertalk-json": write(tmp_path / "ct.json", ciphertalk_doc([ct_message(0, 1, "x", ALICE, 1)])),
        "wechat-chatlog-json": write(tmp_path / "cl.json", [chatlog_item(0, 1, 0, "x", ALICE)]),
    }
    others = [p for p in FIXTURES.rglob("*") if p.is_file()]
    others += [
        write(
            tmp_path / "chatlab.json",
            {"chatlab": {"version": "0.0.2"}, "meta": {}, "session": {"wxid": "x", "type": "群聊"}},
        ),
        write(tmp_path / "tg.json", {"name": "x", "type": "personal_chat", "id": 1, "messages": []}),
        write(tmp_path / "pywx.json", [{"id": 1, "MsgSvrID": "1", "type_name": "文本", "room_name": "x"}]),
        write(tmp_path / "other.json", {"session": {"wxid": "x", "type": "group"}, "messages": []}),
    ]
    for fmt in NEW_FORMATS:
        detect = importers.get(fmt).detect
        for path in others:
            assert not detect(path), (fmt, path)
        for name, path in ours.items():
            assert detect(path) == (name == fmt), (fmt, name)


@pytest.mark.parametrize("fmt", NEW_FORMATS[:4])
def test_damaged_file_is_a_clean_error(tmp_path: Path, fmt: str) -> None:
    source = {
        "wechat-weflow-json": weflow_group(tmp_path / "a"),
        "wechat-echotrace-json": weflow_group(tmp_path / "b", header=False),
        "wechat-ciphertalk-json": write(tmp_path / "ct.json", ciphertalk_doc([ct_message(0, 1, "x", ALICE, 1)] * 3)),
        "wechat-chatlog-json": write(tmp_path / "cl.json", [chatlog_item(0, 1, 0, "x", ALICE)] * 3),
    }[fmt]
    cut = tmp_path / "cut.json"
    data = source.read_bytes()
    cut.write_bytes(data[: len(data) - 40])
    with pytest.raises(ExportError) as err:
        parse(cut, fmt)
    assert err.value.path == str(cut)


def test_server_id_form() -> None:
    assert server_id(str(BIG_UNSIGNED)) == "-12345" == server_id(-12345)
    assert [server_id(v) for v in ("0", 0, "", "abc", None, True, "12")] == [None] * 6 + ["12"]


# --- a real vault: search, re-import, and one group from three tools ----------------------------


def test_import_search_reimport(new_vault: Any, tmp_path: Path) -> None:
    path = weflow_group(tmp_path / "export")
    report = new_vault.import_path(path)
    assert (report.added, report.events, len(report.problems)) == (14, 4, 1)
    hits = [h["text"] for h in new_vault.search("警察")]
    assert "我是警察，请开门" in hits
    assert "好的，我打电话" in [h["text"] for h in new_vault.search("電話")]  # traditional query
    again = new_vault.import_path(path)
    assert again.added == 0 and again.events == 0


V4_OWNER_ROW = 2


def v4_group_db(base: Path, rows: list[tuple[int, int, int, int, str]]) -> Path:
    """A 4.x account whose group table holds `rows` of (n, server_id, local_type, sender row, content)."""
    storage = base / "wxid_owner_ab12" / "db_storage"
    make_db(
        storage / "contact" / "contact.db",
        [V4_CONTACT_DDL],
        [
            ("INSERT INTO contact (id, username, alias, remark, nick_name) VALUES (?,?,?,?,?)", r)
            for r in [
                (1, OWNER, "", "", NAMES[OWNER]),
                (2, ALICE, "", "Alice警官", "alice"),
                (3, GROUP_ID, "", "", "警察局群"),
                (4, BOB, "", "", "Bob"),
            ]
        ],
    )
    table = "Msg_" + hashlib.md5(GROUP_ID.encode()).hexdigest()
    insert = (
        f'INSERT INTO "{table}" (local_id, server_id, local_type, sort_seq, real_sender_id,'
        " create_time, status, message_content) VALUES (?,?,?,?,?,?,?,?)"
    )
    make_db(
        storage / "message" / "message_0.db",
        ["CREATE TABLE Name2Id (user_name TEXT PRIMARY KEY, is_session INTEGER)", V4_MSG_DDL.format(table=table)],
        [
            ("INSERT INTO Name2Id (rowid, user_name) VALUES (?,?)", (i, n))
            for i, n in enumerate([ALICE, OWNER, GROUP_ID, BOB], 1)
        ]
        + [
            (insert, (n + 1, svrid, lt, n, who, T0 + n, 2 if who == V4_OWNER_ROW else 4, zstd(text)))
            for n, svrid, lt, who, text in rows
        ],
    )
    return base / "wxid_owner_ab12"


def test_one_group_from_three_tools(weak_kdf: Any, tmp_path: Path) -> None:
    import vault

    # (n, server id as the database holds it, local_type, Name2Id row of the sender, content)
    conversation = [
        (0, 9001, 1, 1, "wxid_alice:\n我是警察，请开门"),
        (1, 9002, 1, 2, "好的"),
        (2, 9003, 10000, 0, RECALL_XML),
        (3, 9004, QUOTE_TYPE, 4, "wxid_bob:\n" + QUOTE_XML),
        (4, 9005, 10000, 0, '"Alice警官"邀请"Bob"加入了群聊'),
        (5, -12345, 1, 4, "wxid_bob:\n哈哈"),
        (6, 9007, 1, 4, "wxid_bob:\n哈哈"),
        (7, 9008, 1, 1, "wxid_alice:\n收到，警察马上到"),
    ]
    db = v4_group_db(tmp_path / "db", conversation[:5])  # 0..4
    senders = {1: ALICE, 2: OWNER, 4: BOB, 0: GROUP_ID}
    ct = write(
        tmp_path / "ct.json",
        ciphertalk_doc(
            [ct_message(n, lt, text, senders[who], svrid) for n, svrid, lt, who, text in conversation[2:]]  # 2..7
        ),
    )
    type_names = {1: "文本消息", 10000: "系统消息", QUOTE_TYPE: "引用消息"}
    weflow_items = []
    for n, svrid, lt, who, text in conversation[4:]:  # 4..7, ids printed unsigned as WeFlow does
        shown = text.split(":\n", 1)[-1] if lt == 1 else '"Alice警官"邀请"Bob"加入了群聊'
        unsigned = svrid % (1 << 64)
        weflow_items.append(weflow_message(n, type_names[lt], shown, senders[who], platformMessageId=str(unsigned)))
    wf = write(
        tmp_path / "wf.json",
        {
            "weflow": {"version": "1"},
            "session": {"wxid": GROUP_ID, "displayName": "警察局群", "type": "群聊"},
            "messages": weflow_items,
        },
    )
    expected = {(str(svrid), lt == 10000 and "撤回" not in text) for _, svrid, lt, _, text in conversation}
    for number, order in enumerate(itertools.permutations([db, ct, wf])):
        v = vault.create(tmp_path / f"vault{number}", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True)
        try:
            for path in order:
                report = v.import_path(path)
                assert not report.problems, (path, report.problems)
            rows = v.conn.execute("SELECT source_id, is_event FROM messages").fetchall()
            chats = v.conn.execute("SELECT count(*) FROM chats").fetchone()[0]
        finally:
            v.close()
        assert chats == 1, order
        assert len(rows) == len(conversation), order
        assert {(r[0], bool(r[1])) for r in rows} == expected, order


def test_weflow_arkme_layout_and_unclassified_types(tmp_path: Path) -> None:
    """WeFlow's "arkme-json" names senders in a table; pats and red packets it types "其他消息"."""
    path = write(
        tmp_path / "arkme.json",
        {
            "weflow": {"version": "2", "format": "arkme-json"},
            "session": {"wxid": GROUP_ID, "displayName": "警察局群", "type": "群聊"},
            "senders": [
                {
                    "senderID": 1,
                    "wxid": ALICE,
                    "displayName": "A",
                    "nickname": "alice",
                    "remark": "",
                    "groupNickname": "阿丽",
                },
                {"senderID": 2, "wxid": BOB, "displayName": "Bob", "nickname": "Bob", "remark": "老鲍"},
            ],
            "messages": [
                {
                    "localId": 1,
                    "createTime": T0,
                    "type": "其他消息",
                    "localType": (62 << 32) | 49,
                    "content": '"阿丽" 拍了拍 "老鲍"',
                    "isSend": 0,
                    "senderID": 1,
                },
                {
                    "localId": 2,
                    "createTime": T0 + 1,
                    "type": "其他消息",
                    "localType": (2001 << 32) | 49,
                    "content": "[红包]",
                    "isSend": 0,
                    "senderID": 2,
                },
                {
                    "localId": 3,
                    "createTime": T0 + 2,
                    "type": "文本消息",
                    "localType": 1,
                    "content": "警察",
                    "isSend": 0,
                    "senderID": 2,
                },
            ],
        },
    )
    assert importers.detect(path).name == "wechat-weflow-json"
    parsed = parse(path)
    pat, packet = parsed.events
    assert (pat.kind, pat.actor, pat.extra["pat"]) == (EV_SYSTEM, "阿丽", True)
    assert (packet.actor, packet.extra["red_packet"]) == ("老鲍", True)
    (text,) = parsed.messages
    assert (text.sender, text.sender_id) == ("老鲍", BOB)  # remark before group nickname and nickname


def test_big_export_streams(tmp_path: Path) -> None:
    """A large export is read message by message: memory stays far below the file's size."""
    import tracemalloc

    path = tmp_path / "big.json"
    body = "警察" * 300
    with open(path, "w", encoding="utf-8") as fh:
        fh.write('{"weflow": {"version": "1"}, "session": {"wxid": "big@chatroom", "type": "群聊"}, "messages": [')
        for n in range(15_000):
            fh.write(
                ("," if n else "") + json.dumps(weflow_message(n, "文本消息", f"{body}{n}", ALICE), ensure_ascii=False)
            )
        fh.write("]}")
    size = path.stat().st_size
    assert size > 20_000_000
    tracemalloc.start()
    try:
        count = sum(
            1 for r in importers.get("wechat-weflow-json").parse(path, ParseOptions()) if isinstance(r, Message)
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 15_000
    assert peak < size / 10, (peak, size)


def test_other_formats_into_a_vault(new_vault: Any, tmp_path: Path) -> None:
    """Twins in one second stay two in the vault, for formats with and without ids; re-import adds 0."""
    twins = [weflow_message(n, "文本消息", "哈哈", BOB) for n in (5, 5)]
    echotrace = write(
        tmp_path / "et.json",
        {"session": {"wxid": "wxid_bob", "displayName": "Bob", "type": "私聊"}, "messages": twins},
    )
    ct = write(
        tmp_path / "ct.json",
        ciphertalk_doc([ct_message(5, 1, "wxid_bob:\n哈哈", BOB, s) for s in (7001, 7002)], wxid="team2@chatroom"),
    )
    cl = write(tmp_path / "cl.json", [chatlog_item(5, 1, 0, "哈哈", BOB)] * 2)
    csv_path = tmp_path / "cl.csv"
    csv_path.write_text(
        "Time,SenderName,Sender,TalkerName,Talker,Content\n"
        + "2025-10-09 16:53:25,Bob,wxid_bob,Bob,wxid_carol,哈哈\n" * 2,
        encoding="utf-8",
    )
    for path in (echotrace, ct, cl, csv_path):
        first = new_vault.import_path(path, tz="Asia/Shanghai")
        assert (first.added, first.problems) == (2, []), path
        again = new_vault.import_path(path, tz="Asia/Shanghai")
        assert again.added == 0, path
    assert len(new_vault.search("哈哈", limit=50)) == 8
