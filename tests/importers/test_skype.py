"""Skype export (messages.json in the .tar, its folder, or alone): our fixture, the vault, bad input, memory."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import skype
from importers.skype.content import read_content
from tests.conftest import FIXTURES, ROOT
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_TITLE,
    FILE,
    GROUP,
    IMAGE,
    TEXT,
    VIDEO,
    Message,
)

UTC = timezone.utc
GROUP_ID = "19:f00dcafe@thread.skype"
BOB_DM = "8:bob.smith"
PHOTO_DOC = "0-weu-d1-1a2b3c4d5e6f"
VIDEO_DOC = "0-weu-d4-9f8e7d6c5b4a"
FILE_DOC = "0-weu-d3-0a0b0c0d0e0f"  # named by the message, absent from media/
PHOTO_BYTES = b"\xff\xd8\xff\xe0 fake jpeg bytes"
VIDEO_BYTES = b"\x00\x00\x00\x18ftypmp42 fake video"


def ms(dt: datetime) -> int:
    return int(dt.timestamp() * 1000)


def at(h: int, m: int, s: int, milli: int = 0) -> datetime:
    return datetime(2024, 3, 1, h, m, s, milli * 1000, tzinfo=UTC)


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def entry(mid: str, when: datetime, frm: str, content: str, mtype: str = "RichText", **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": mid,
        "displayName": kw.pop("name", None),
        "originalarrivaltime": iso(when),
        "messagetype": mtype,
        "version": float(ms(when)),
        "contenttype": "text",
        "content": content,
        "conversationid": kw.pop("conv", GROUP_ID),
        "from": frm,
        "properties": kw.pop("properties", None),
        "amsreferences": kw.pop("amsreferences", None),
    }
    d.update(kw)
    return d


ORIGINAL_TS = at(10, 20, 0)


def group_messages() -> list[dict[str, Any]]:
    """The group's MessageList, newest first as Skype wrote it."""
    photo = (
        f'<URIObject uri="https://api.asm.skype.com/v1/objects/{PHOTO_DOC}" '
        f'url_thumbnail="https://api.asm.skype.com/v1/objects/{PHOTO_DOC}/views/imgt1" type="Picture.1" '
        f'doc_id="{PHOTO_DOC}" width="640" height="480">To view this shared photo, go to: '
        f'<a href="https://login.skype.com/login/sso?go=xmmfallback?pic={PHOTO_DOC}">link</a>'
        '<OriginalName v="海边.jpg"></OriginalName><FileSize v="31"></FileSize></URIObject>'
    )
    video = (
        f'<URIObject uri="https://api.asm.skype.com/v1/objects/{VIDEO_DOC}" type="Video.1/Message.1" '
        f'doc_id="{VIDEO_DOC}">To view this video message, go to: <a href="x">x</a>'
        '<OriginalName v="clip.mp4"></OriginalName><FileSize v="99"></FileSize></URIObject>'
    )
    missing = (
        f'<URIObject uri="https://api.asm.skype.com/v1/objects/{FILE_DOC}" type="File.1" doc_id="{FILE_DOC}">'
        'To view this file, go to: <a href="x">x</a><OriginalName v="报告.pdf"></OriginalName>'
        '<FileSize v="4096"></FileSize></URIObject>'
    )
    call = (
        '<partlist type="ended" alt="" callId="1709290000000">'
        '<part identity="8:bob.smith"><name>Bob Smith</name><duration>125.5</duration></part>'
        '<part identity="8:live:carol_42"><name>Carol</name><duration>120.0</duration></part></partlist>'
    )
    quote = (
        '<quote author="8:bob.smith" authorname="Bob Smith" timestamp="1709287200" '
        f'conversation="{GROUP_ID}" messageid="1001" cuid="111">'
        "<legacyquote>[10:00:00] Bob Smith: </legacyquote>我们明天去警察局<legacyquote>\n\n&lt;&lt;&lt; </legacyquote>"
        "</quote>好的，我也去"
    )
    old_quote = (
        '<quote author="8:dan" authorname="דן" timestamp="1600000000">'
        "<legacyquote>[2020] דן: </legacyquote>something old</quote>I remember"
    )
    reactions = json.dumps([{"key": "heart", "users": [{"mri": "8:live:owner_1", "time": ms(at(10, 1, 0))}]}])
    return [
        entry("1015", at(11, 0, 0), "8:live:owner_1", "", name=None, properties={"isserversidegenerated": True}),
        entry(
            "1014",
            at(10, 50, 0),
            "8:bob.smith",
            "<topicupdate><eventtime>1</eventtime><initiator>8:bob.smith</initiator>"
            "<value>家人 &amp; friends</value></topicupdate>",
            "ThreadActivity/TopicUpdate",
            name="Bob Smith",
        ),
        entry(
            "1013",
            at(10, 45, 0),
            "8:bob.smith",
            "<deletemember><eventtime>1</eventtime><initiator>8:dan</initiator><target>8:dan</target></deletemember>",
            "ThreadActivity/DeleteMember",
            name="Bob Smith",
        ),
        entry(
            "1012",
            at(10, 44, 0),
            "8:bob.smith",
            "<addmember><eventtime>1</eventtime><initiator>8:bob.smith</initiator><target>8:dan</target></addmember>",
            "ThreadActivity/AddMember",
            name="Bob Smith",
        ),
        entry("1011", at(10, 40, 0), "8:bob.smith", call, "Event/Call", name="Bob Smith"),
        entry(
            "1010",
            at(10, 35, 0),
            "8:live:carol_42",
            "",
            name="Carol",
            properties={"deletetime": str(ms(at(10, 36, 0)))},
        ),
        entry(
            "1009",
            at(10, 30, 0),
            "8:dan",
            "שלום לכולם, מה שלומכם?",
            name="דן",
            properties={"edittime": str(ms(at(10, 31, 0)))},
        ),
        # The edited version comes first (newest first); its <e_m> names the original's time.
        entry(
            "1008",
            at(10, 21, 0),
            "8:bob.smith",
            f'fixed text<e_m ts="{ms(ORIGINAL_TS) // 1000}" ts_ms="{ms(ORIGINAL_TS)}" a="bob.smith" t="61"/>',
            name="Bob Smith",
        ),
        entry("1007", ORIGINAL_TS, "8:bob.smith", "fiexd text", name="Bob Smith"),
        entry("1006", at(10, 15, 0), "8:live:carol_42", missing, "RichText/Media_GenericFile", name="Carol"),
        entry("1005", at(10, 14, 0), "8:bob.smith", video, "RichText/Media_Video", name="Bob Smith"),
        entry(
            "1004",
            at(10, 12, 0),
            "8:live:carol_42",
            photo,
            "RichText/UriObject",
            name="Carol",
            amsreferences=[PHOTO_DOC],
        ),
        entry("1003b", at(10, 10, 0, 500), "8:live:owner_1", "ok", name=None),
        entry("1003a", at(10, 10, 0, 100), "8:live:owner_1", "ok", name=None),
        entry("1002c", at(10, 8, 0), "8:dan", old_quote, name="דן"),
        entry("1002b", at(10, 6, 0), "8:live:carol_42", quote, name="Carol"),
        entry("1002", at(10, 5, 0), "8:live:carol_42", "مرحبا بالجميع &lt;3", name="Carol"),
        entry(
            "1001",
            at(10, 0, 0, 123),
            "8:bob.smith",
            '我们明天去警察局 <ss type="smile">:)</ss> <a href="https://example.org/map">地图</a>',
            name="Bob Smith",
            properties={"emotions": reactions},
        ),
    ]


def export_doc() -> dict[str, Any]:
    return {
        "userId": "8:live:owner_1",
        "exportDate": "2025-04-30T12:00",
        "conversations": [
            {
                "id": GROUP_ID,
                "displayName": "家人 Family",
                "version": 1709290000000.0,
                "properties": {"conversationblocked": False, "lastimreceivedtime": "2024-03-01T11:00:00.000Z"},
                "threadProperties": {
                    "membercount": 4,
                    "topic": "家人 Family",
                    "members": '["8:live:owner_1","8:bob.smith","8:live:carol_42","8:dan"]',
                },
                "MessageList": group_messages(),
            },
            {
                "id": BOB_DM,
                "displayName": "Bob Smith",
                "version": 1.0,
                "properties": {},
                "threadProperties": None,
                "MessageList": [
                    entry("2002", at(12, 0, 5), "8:live:owner_1", "see you", conv=BOB_DM),
                    entry("2001", at(12, 0, 0), "8:bob.smith", "bye", conv=BOB_DM, name="Bob Smith"),
                ],
            },
            {
                "id": "48:calllogs",
                "displayName": None,
                "version": 1.0,
                "properties": {},
                "threadProperties": None,
                "MessageList": [entry("3001", at(9, 0, 0), "8:bob.smith", "x", conv="48:calllogs")],
            },
        ],
    }


MEDIA = {
    f"media/{PHOTO_DOC}.1.jpg": PHOTO_BYTES,
    f"media/{PHOTO_DOC}.2.jpg": b"thumbnail",
    f"media/{PHOTO_DOC}.json": json.dumps(
        {"expiry_date": "3017-10-24T20:06:57Z", "filename": "海边.jpg", "contents": {"1": {"type": "image/jpeg"}}}
    ).encode(),
    f"media/{VIDEO_DOC}.1.mp4": VIDEO_BYTES,
}


def write_tar(path: Path, doc: Any, media: dict[str, bytes] | None = None, raw: bytes | None = None) -> Path:
    data = raw if raw is not None else json.dumps(doc, ensure_ascii=False).encode()
    with tarfile.open(path, "w") as tf:
        for name, blob in (media if media is not None else MEDIA).items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tf.addfile(info, io.BytesIO(blob))
        info = tarfile.TarInfo("messages.json")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return path


def write_folder(root: Path, doc: Any) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "messages.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
    for name, blob in MEDIA.items():
        (root / name).parent.mkdir(exist_ok=True)
        (root / name).write_bytes(blob)
    return root


@pytest.fixture
def skype_tar(tmp_path: Path) -> Path:
    return write_tar(tmp_path / "8_live_owner_1_export.tar", export_doc())


def by_id(result: Parsed) -> dict[str, Any]:
    return {r.source_id: r for r in [*result.messages, *result.events]}


# --- the fixture, read from the tar -------------------------------------------------------------


def test_tar_export_records(skype_tar: Path) -> None:
    assert importers.detect(skype_tar).name == "skype"
    result = parse(skype_tar)
    assert not result.problems
    assert [(c.key, c.title, c.kind) for c in result.chats] == [
        (GROUP_ID, "家人 Family", GROUP),
        (BOB_DM, "Bob Smith", DIRECT),
    ]
    group = [m for m in result.messages if m.chat == GROUP_ID]
    # 18 entries: the blank server-side one and the superseded original of an edit are left out.
    assert len(group) == 12
    assert Counter(e.kind for e in result.events) == {EV_CALL: 1, EV_JOIN: 1, EV_LEAVE: 1, EV_TITLE: 1}
    assert len([m for m in result.messages if m.chat == BOB_DM]) == 2
    senders = Counter(m.sender for m in group)
    assert senders == {"Bob Smith": 3, "Carol": 5, "דן": 2, "live:owner_1": 2}
    assert {n.text for n in result.notes} == {
        "1 of Skype's own lists (call logs, notifications) were not imported",
        "1 earlier version(s) of edited messages were left out; the edited text is kept",
    }
    recs = by_id(result)

    first = recs["1001"]
    assert first.ts == datetime(2024, 3, 1, 10, 0, 0, 123000, tzinfo=UTC)
    assert first.text == "我们明天去警察局 :) 地图 (https://example.org/map)"
    assert first.sender_id == "8:bob.smith" and first.from_me is False and first.kind == TEXT
    assert [(r.emoji, r.sender, r.ts) for r in first.reactions] == [("❤️", "live:owner_1", at(10, 1, 0))]
    assert recs["1002"].text == "مرحبا بالجميع <3"

    reply = recs["1002b"]
    assert reply.reply_to == "1001" and reply.text == "好的，我也去" and "quote" not in reply.extra
    legacy = recs["1002c"]
    assert legacy.reply_to is None and legacy.text == "I remember"
    assert legacy.extra["quote"] == {"author": "דן", "timestamp": "1600000000", "text": "something old"}

    # two identical messages from the owner in the same second stay two
    oks = [m for m in group if m.text == "ok"]
    assert [(m.source_id, m.from_me, m.ts) for m in oks] == [
        ("1003b", True, at(10, 10, 0, 500)),
        ("1003a", True, at(10, 10, 0, 100)),
    ]

    photo = recs["1004"]
    assert photo.kind == IMAGE and photo.text == ""
    (att,) = photo.attachments
    assert (att.name, att.kind, att.mime, att.size) == ("海边.jpg", IMAGE, "image/jpeg", len(PHOTO_BYTES))
    assert att.open is not None
    video = recs["1005"]
    assert video.kind == VIDEO and video.attachments[0].name == "clip.mp4"
    assert video.attachments[0].size == len(VIDEO_BYTES) and video.attachments[0].open is not None
    missing = recs["1006"]
    assert missing.kind == FILE
    assert [(a.name, a.size, a.open) for a in missing.attachments] == [("报告.pdf", 4096, None)]

    edited = recs["1008"]
    assert edited.text == "fixed text" and edited.ts == ORIGINAL_TS and edited.edited == at(10, 21, 0)
    assert "1007" not in recs
    assert recs["1009"].edited == at(10, 31, 0) and recs["1009"].text == "שלום לכולם, מה שלומכם?"

    deleted = recs["1010"]
    assert deleted.kind == DELETED and deleted.text == "" and deleted.sender == "Carol"

    call = recs["1011"]
    assert call.kind == EV_CALL and call.text == "Call ended (2:06)"
    assert call.extra["duration_s"] == 125.5 and call.extra["call_id"] == "1709290000000"
    assert call.extra["participants"] == ["Bob Smith", "Carol"]
    # newest first: Dan's name comes later in the stream than the entry that adds him
    assert recs["1012"].text == "Bob Smith added dan" and recs["1012"].actor == "Bob Smith"
    assert recs["1013"].text == "dan left"
    assert recs["1014"].text == "Bob Smith changed the topic to 家人 & friends"
    assert "1015" not in recs

    dm = [m for m in result.messages if m.chat == BOB_DM]
    assert [(m.text, m.from_me, m.sender) for m in dm] == [
        ("see you", True, "live:owner_1"),
        ("bye", False, "Bob Smith"),
    ]


def test_attachment_bytes_stream_from_the_tar(skype_tar: Path) -> None:
    f = importers.get("skype")
    seen = {}
    for rec in f.parse(skype_tar, importers.ParseOptions()):
        if isinstance(rec, Message):
            for att in rec.attachments:
                if att.open is not None:
                    with att.open() as fh:
                        seen[att.name] = fh.read()
    assert seen == {"海边.jpg": PHOTO_BYTES, "clip.mp4": VIDEO_BYTES}


def test_folder_and_messages_json_read_the_same(tmp_path: Path, skype_tar: Path) -> None:
    folder = write_folder(tmp_path / "unpacked", export_doc())
    from_tar, from_dir = parse(skype_tar), parse(folder)
    alone = parse(folder / "messages.json")
    assert importers.detect(folder).name == importers.detect(folder / "messages.json").name == "skype"
    assert from_tar.records == from_dir.records == alone.records
    photo = by_id(from_dir)["1004"].attachments[0]
    assert photo.open is not None
    with photo.open() as fh:
        assert fh.read() == PHOTO_BYTES


def test_media_named_by_amsreferences_only(tmp_path: Path) -> None:
    doc = export_doc()
    doc["conversations"] = doc["conversations"][:1]
    doc["conversations"][0]["MessageList"] = [
        entry("1", at(9, 0, 0), "8:bob.smith", "", "RichText/Media_Album", name="Bob", amsreferences=[PHOTO_DOC])
    ]
    (msg,) = parse(write_tar(tmp_path / "x.tar", doc)).messages
    assert msg.kind == IMAGE
    assert [(a.name, a.open is not None) for a in msg.attachments] == [("海边.jpg", True)]


# --- into a real vault --------------------------------------------------------------------------


def test_import_into_vault_search_and_reimport(new_vault: Any, skype_tar: Path) -> None:
    r1 = new_vault.import_path(skype_tar)
    assert r1.error is None and not r1.problems
    assert (r1.format, r1.chats, r1.added, r1.events, r1.attachments) == ("skype", 2, 14, 4, 2)
    hits = new_vault.search("警察")
    # the reply quotes the word, but only its own text is indexed
    assert [(h["sender"], h["ts"], h["text"]) for h in hits] == [
        ("Bob Smith", "2024-03-01T10:00:00Z", "我们明天去警察局 :) 地图 (https://example.org/map)")
    ]
    assert new_vault.search("שלום")[0]["sender"] == "דן"
    r2 = new_vault.import_path(skype_tar)
    assert (r2.added, r2.events, r2.duplicates) == (0, 0, 18)


def test_cli_import_json(tmp_path: Path, skype_tar: Path, cli_vault: dict[str, str]) -> None:
    from tests.conftest import cli

    r = cli("import", str(skype_tar), "--json", env=cli_vault)
    assert r.code == 0, r.err
    report = r.json()
    assert report["files"][0]["format"] == "skype" and report["added"] == 14
    listed = cli("chats", "--json", env=cli_vault).json()
    group = next(c for c in listed if c["title"] == "家人 Family")
    assert group["messages"] == 12 and group["events"] == 4 and group["source"] == "skype"


# --- detection ----------------------------------------------------------------------------------


def _all_fixture_paths() -> list[Path]:
    return sorted(FIXTURES.rglob("*"))


def test_no_existing_fixture_detects_as_skype() -> None:
    claimed = [p for p in _all_fixture_paths() if skype.detect(p)]
    assert claimed == []


def test_skype_export_is_claimed_by_skype_alone(tmp_path: Path, skype_tar: Path) -> None:
    folder = write_folder(tmp_path / "unpacked", export_doc())
    for p in (skype_tar, folder, folder / "messages.json"):
        claimed = [f.name for f in importers.formats() if f.detect(p)]
        assert claimed == ["skype"], p


def test_detection_needs_the_three_keys(tmp_path: Path) -> None:
    p = tmp_path / "messages.json"
    p.write_text('{"userId": "8:x", "conversations": []}', encoding="utf-8")
    assert not skype.detect(p)
    p.write_text('{"exportDate": "2025", "userId": "8:x", "conversations": []}', encoding="utf-8")
    assert skype.detect(p)
    other = tmp_path / "other.tar"
    write_tar(other, None, media={"notes.txt": b"hello"}, raw=b"[]")
    assert not skype.detect(other)
    plain = tmp_path / "plain.tar"
    with tarfile.open(plain, "w") as tf:
        info = tarfile.TarInfo("readme.txt")
        info.size = 2
        tf.addfile(info, io.BytesIO(b"hi"))
    assert not skype.detect(plain)


# --- bad input ----------------------------------------------------------------------------------


def test_truncated_messages_json_is_one_clean_error(tmp_path: Path) -> None:
    data = json.dumps(export_doc(), ensure_ascii=False).encode()
    tar = write_tar(tmp_path / "cut.tar", None, raw=data[: len(data) // 2])
    with pytest.raises(ExportError) as exc:
        list(importers.get("skype").parse(tar, importers.ParseOptions()))
    assert "cut.tar:messages.json" in str(exc.value) and "download the Skype export again" in str(exc.value)
    assert "警察" not in str(exc.value)


def test_tar_without_messages_json(tmp_path: Path) -> None:
    tar = tmp_path / "media-only.tar"
    with tarfile.open(tar, "w") as tf:
        info = tarfile.TarInfo("media/x.1.jpg")
        info.size = 1
        tf.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(ExportError, match=r"holds no messages\.json"):
        list(importers.get("skype").parse(tar, importers.ParseOptions()))


def test_not_an_object_and_no_conversations(tmp_path: Path) -> None:
    p = tmp_path / "messages.json"
    p.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ExportError, match="holds no Skype conversations"):
        list(importers.get("skype").parse(p, importers.ParseOptions()))
    p.write_bytes(b'{"userId": "8:x", "conversations": [{"id": "8:y", "MessageList": [{"content": "\xff"}]}]}')
    with pytest.raises(ExportError, match=r"messages\.json: is not complete, valid JSON"):  # bad UTF-8
        list(importers.get("skype").parse(p, importers.ParseOptions()))


def test_bad_records_are_problems_and_the_rest_imports(tmp_path: Path) -> None:
    doc = export_doc()
    msgs = doc["conversations"][1]["MessageList"]
    msgs.insert(0, entry("bad-time", at(9, 0, 0), "8:bob.smith", "secret words", conv=BOB_DM))
    msgs[0]["originalarrivaltime"] = "yesterday"
    msgs.insert(0, "not an object")
    result = parse(write_tar(tmp_path / "x.tar", doc))
    assert [p.message for p in result.problems] == [
        "conversation 2, message 1 is not an object; skipped",
        "conversation 2, message 2 could not be read; skipped",
    ]
    assert all("secret" not in str(p) and "Bob" not in str(p) for p in result.problems)
    assert len([m for m in result.messages if m.chat == BOB_DM]) == 2


def test_markup_reader_is_lenient() -> None:
    c = read_content('a < b &amp; c <b>bold</b> <at id="8:x">Xi</at> &nbsp;&#x263A; <i>unclosed')
    assert c.text == "a < b & c bold Xi \xa0☺ unclosed"
    links = read_content('<a href="https://a.example/x">https://a.example/x</a> <a href="https://b.example">b</a>')
    assert links.text == "https://a.example/x b (https://b.example)"
    only_mark = read_content('<e_m ts="1" ts_ms="1000" a="x" t="61"></e_m>')
    assert only_mark.text == "" and only_mark.edit_mark == {"ts": "1", "ts_ms": "1000", "a": "x", "t": "61"}


def test_empty_edit_mark_means_deleted(tmp_path: Path) -> None:
    doc = export_doc()
    doc["conversations"] = doc["conversations"][1:2]
    doc["conversations"][0]["MessageList"] = [
        entry("9", at(12, 1, 0), "8:bob.smith", f'<e_m ts="1" ts_ms="{ms(at(12, 0, 0))}" a="bob.smith" t="61"/>'),
    ]
    (msg,) = parse(write_tar(tmp_path / "x.tar", doc)).messages
    assert (msg.kind, msg.text, msg.ts) == (DELETED, "", at(12, 0, 0))


# --- bounded memory -----------------------------------------------------------------------------

# The child reports its own high-water mark from /proc (VmHWM belongs to the process image;
# getrusage's ru_maxrss would carry over the forking pytest's peak across exec on Linux).
_RSS_CHILD = """
import sys
from pathlib import Path
import importers
from importers.base import ParseOptions
n = 0
for rec in importers.get("skype").parse(Path(sys.argv[1]), ParseOptions()):
    n += 1
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(n, int(hwm.split()[1]))
"""


def _big_tar(path: Path, target_bytes: int) -> int:
    """A tar whose messages.json (one conversation) is about `target_bytes`, written in pieces."""
    body = path.with_suffix(".json")
    n = 0
    with open(body, "w", encoding="utf-8") as fh:
        fh.write('{"userId": "8:live:owner_1", "exportDate": "2025-04-30T12:00", "conversations": [')
        fh.write('{"id": "19:big@thread.skype", "displayName": "大群", "threadProperties": null, "MessageList": [')
        while fh.tell() < target_bytes:
            batch = []
            for _ in range(1000):
                n += 1
                text = f"消息 {n} " + "word " * 30
                msg = entry(str(n), at(10, 0, 0), f"8:user{n % 7}", text, name=f"User {n % 7}")
                batch.append(json.dumps(msg, ensure_ascii=False))
            fh.write(("," if n > 1000 else "") + ",".join(batch))
        fh.write("]}]}")
    with tarfile.open(path, "w") as tf:
        tf.add(body, arcname="messages.json")
    body.unlink()
    return n


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_large_export_parses_in_bounded_memory(tmp_path: Path) -> None:
    tar = tmp_path / "big.tar"
    n = _big_tar(tar, 100 * 2**20)
    size = tar.stat().st_size
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(tar)], capture_output=True, text=True, env=env, timeout=600
    )
    assert out.returncode == 0, out.stderr
    count, peak_kib = map(int, out.stdout.split())
    assert count == n + 1  # the chat, then every message
    peak = peak_kib * 1024
    print(f"skype: {size / 2**20:.0f} MiB tar, {n} messages, peak RSS {peak / 2**20:.1f} MiB")
    assert peak < size / 2 and peak < 80 * 2**20, (peak, size)


_KEYS = ["id", "content", "messagetype", "originalarrivaltime", "from", "properties", "displayName"]

# --- structure fuzz -----------------------------------------------------------------------------

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), c, max_size=6),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(_json, max_size=4), content=st.text(alphabet="<>/=\"' &;abe_mquotpartlis", max_size=80))
def test_odd_entries_never_escape_as_anything_but_records(tmp_path_factory: Any, junk: list[Any], content: str) -> None:
    doc = export_doc()
    doc["conversations"] = doc["conversations"][:1]
    good = entry("g1", at(9, 0, 0), "8:bob.smith", content, name="Bob")
    doc["conversations"][0]["MessageList"] = [*junk, good, {**good, "messagetype": "Event/Call", "id": "g2"}]
    p = tmp_path_factory.mktemp("fuzz") / "messages.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    result = parse(p)  # raises on anything but records
    ids = {m.source_id for m in [*result.messages, *result.events]}
    assert {"g1", "g2"} <= ids or content.count("<e_m") > 0
