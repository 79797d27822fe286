"""Discord: DiscordChatExporter JSON and Discord's own data package."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import discord
from importers.discord import package as discord_package
from importers.discord.common import parse_time
from tests.conftest import FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    IMAGE,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    Event,
    Message,
)

DCE_FIXTURE = FIXTURES / "discord" / "dce"
DCE_FILE = DCE_FIXTURE / "Test Guild - Text Channels - photos [888888888888888888].json"
CAT = DCE_FIXTURE / (DCE_FILE.name + "_Files") / "cat-1A2B3.png"
PACKAGE_JSON = FIXTURES / "discord" / "package-json"
PACKAGE_CSV = FIXTURES / "discord" / "package-csv"
GUILD = "discord/dce/example_guild/"
GENERAL = GUILD + "Example guild - Text Channels - general [1012224565567721552].json"
THREAD = GUILD + "_threads/Example guild - general - Thomas is Thomas [1060927310439657577].json"
CHILL = GUILD + "Example guild - Text Channels - chill talk [1012224565567125544].json"
CHILL_LATER = GUILD + "Example guild - Text Channels - chill talk [1012224565567125544] without deleted message.json"


def utc(text: str) -> datetime:
    """An ISO time as written in EXPECTED.md (1 to 6 fraction digits, with offset), in UTC."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(timezone.utc)


def by_id(parsed: Parsed) -> dict[str, Message]:
    return {m.source_id: m for m in parsed.messages if m.source_id}


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def detects(path: Path) -> list[str]:
    return [f.name for f in discord.FORMATS if f.detect(path)]


# ---------------------------------------------------------------------------------------------
# Corpus (../shared/corpus/discord/dce): what EXPECTED.md asserts


@pytest.mark.corpus
def test_chat_analytics_dm() -> None:
    path = corpus_file("discord/dce/chat-analytics_DM_2A_2M.json")
    assert detects(path) == ["discord"]
    parsed = parse(path)
    (chat,) = parsed.chats
    assert (chat.source, chat.key, chat.kind) == ("discord", "530805775262679064", "direct")
    msgs = by_id(parsed)
    blah = msgs["530805779645595660"]
    assert (blah.sender, blah.sender_id, blah.text) == ("mlomb", "111111111111111111", "blah")
    assert blah.ts == utc("2019-01-04T17:52:39.762+00:00")
    assert blah.extra["reactions"] == [{"emoji": "👆", "count": 42}]  # "\uD83D\uDC46", id ""
    bot = msgs["538148765782114306"]
    assert bot.sender == "Someones nickname"  # nickname wins over name
    assert bot.sender_id == "444444444444444444" and bot.extra["bot"] is True
    assert bot.text == "something something text"
    assert bot.ts == utc("2019-01-25T00:11:04.083+00:00")
    (call,) = parsed.events  # the Call message is a call event, not a message
    assert (call.kind, call.source_id, call.actor) == (EV_CALL, "100", "Someones nickname")
    assert call.ts == utc("2020-07-17T17:03:14.366+00:00")
    assert call.extra["ended"] == "2020-07-17T21:14:52.787000+00:00"
    assert call.extra["duration_s"] == 15099  # 4 h 11 min 38.421 s, rounded up
    assert len(parsed.messages) == 2 and not parsed.problems


@pytest.mark.corpus
def test_chat_analytics_group() -> None:
    parsed = parse(corpus_file("discord/dce/chat-analytics_GC_3A_5M.json"), "discord")
    (chat,) = parsed.chats
    assert (chat.key, chat.kind, chat.title) == ("1064990764406419508", "group", "a group chat")
    msgs = by_id(parsed)
    plant = msgs["1064990824305274930"]
    assert (plant.sender, plant.text) == ("theplant", "Should honor nickname over name")
    assert plant.extra["username"] == "not a plant#6597"
    lombi = msgs["1064991070322180096"]
    assert lombi.sender == "lombi"
    assert lombi.text == "hey @mlomb whats up, check out https://chatanalytics.app"
    woah = msgs["530805779645595660"]  # a smaller snowflake than earlier messages: hand-edited
    assert (woah.sender, woah.text) == ("mlomb", "woah nice :custom_emoji:")
    assert woah.reply_to == "1064990824305274930"
    (call,) = [e for e in parsed.events if e.kind == EV_CALL]
    assert (call.source_id, call.actor) == ("100", "mlomb")
    assert call.ts == utc("2023-03-03T14:47:59.187+00:00")
    assert call.extra["duration_s"] == 6781
    # "messageCount": 5 although the file holds 6 entries: we count ourselves.
    assert len(parsed.messages) + len(parsed.events) == 6
    assert [(e.kind, e.actor, e.source_id) for e in parsed.events if e.kind != EV_CALL] == [
        (EV_TITLE, "lombi", "1064990775659729017"),
        (EV_SYSTEM, "lombi", "1064991038751649806"),
    ]


@pytest.mark.corpus
def test_chat_analytics_server() -> None:
    parsed = parse(corpus_file("discord/dce/chat-analytics_SV_5A_5M.json"), "discord")
    (chat,) = parsed.chats
    assert (chat.key, chat.kind) == ("253601524398293010", "channel")
    assert chat.title == "DefleMask / #general-chiptune"
    assert chat.extra["guild_id"] == "253601524398293010" and chat.extra["category"] == "Chat"
    # The file repeats message 459136077417021488 byte for byte: 4 unique messages.
    assert [m.source_id for m in parsed.messages] == [
        "459136077417021488",
        "447793085255123004",
        "447793085255123005",
        "447793085255123006",
    ]
    msgs = by_id(parsed)
    edited = msgs["459136077417021488"]
    assert edited.edited == utc("2018-05-20T16:09:56.439+00:00")
    assert (edited.sender, edited.sender_id) == ("Deleted User", "555555555555555555")
    assert msgs["447793085255123004"].sender == "mlomb"  # no nickname key: falls back to name
    files = msgs["447793085255123005"].attachments
    assert [(a.name, a.kind, a.size) for a in files] == [
        ("unknown.png", IMAGE, 165152),
        ("Laugh", STICKER, None),
    ]
    assert all(a.open is None for a in files)  # CDN urls: names only
    assert msgs["447793085255123006"].extra["reactions"] == [
        {"emoji": ":paul:", "count": 3},
        {"emoji": "❤", "count": 2},
    ]


@pytest.mark.corpus
def test_example_guild_general() -> None:
    parsed = parse(corpus_file(GENERAL), "discord")
    (chat,) = parsed.chats
    assert chat.key == "1012224565567721552" and chat.title == "Example guild / #general"
    assert chat.extra["category"] == "Text Channels"
    assert len(parsed.messages) + len(parsed.events) == 35
    assert Counter(e.kind for e in parsed.events) == {EV_JOIN: 3, EV_SYSTEM: 1}
    senders = Counter([m.sender for m in parsed.messages] + [e.actor for e in parsed.events])
    # Authors by name: Adam 19, Thomas 9, Patrick 6, aLittleSpammyBot 1 (shown by its nickname).
    assert senders == {"Adam": 19, "Thomas": 9, "Patrick": 6, "RICK NITRO": 1}
    (bot,) = [e for e in parsed.events if e.actor == "RICK NITRO"]
    assert bot.extra["username"] == "aLittleSpammyBot#9001"
    assert len([m for m in parsed.messages if m.edited]) == 1
    assert sum(1 for m in parsed.messages for a in m.attachments if a.kind != STICKER) == 7
    assert sum(len(m.extra.get("reactions", [])) for m in parsed.messages) == 4
    records: list[Message | Event] = sorted([*parsed.messages, *parsed.events], key=lambda r: r.ts)
    assert records[0].ts == utc("2023-01-06T14:03:03.853+00:00")
    assert records[-1].ts == utc("2023-01-06T16:05:35.86+00:00")  # 2 fraction digits
    assert len([r for r in records if r.text == ""]) == 3
    (thread,) = [e for e in parsed.events if e.extra.get("type") == "ThreadCreated"]
    assert thread.source_id == thread.extra["thread_id"] == "1060927310439657577"
    # Assets were exported ("Download assets") but not copied into the corpus.
    assert all(a.open is None for m in parsed.messages for a in m.attachments)
    assert any("attachment files named in the export were not found" in n.text for n in parsed.notes)


@pytest.mark.corpus
def test_example_guild_thread() -> None:
    parsed = parse(corpus_file(THREAD), "discord")
    (chat,) = parsed.chats
    assert chat.key == "1060927310439657577"
    assert chat.extra["thread_parent_id"] == "1012224565567721552"
    assert chat.extra["thread_parent"] == "general"
    assert chat.title == "Example guild / #general / Thomas is Thomas"
    assert len(parsed.messages) == 5
    assert len([m for m in parsed.messages if m.reply_to]) == 2
    assert sorted(m.kind for m in parsed.messages) == [TEXT] * 5


@pytest.mark.corpus
def test_same_channel_exported_twice() -> None:
    earlier, later = (
        parse(corpus_file(CHILL), "discord"),
        parse(corpus_file(CHILL_LATER), "discord"),
    )
    assert earlier.chats == later.chats and earlier.chats[0].key == "1012224565567875236"
    assert len(earlier.messages) == 6 and len(later.messages) == 5
    a, b = by_id(earlier), by_id(later)
    assert set(a) - set(b) == {"1060954094627463098"}  # deleted upstream between the exports
    assert b["1060954094627463198"].reply_to == "1060954094627463098"  # a dangling reply: kept
    for mid in set(a) & set(b):
        if mid == "1060954419862188072":  # edited between the two exports
            assert a[mid].edited is not None and a[mid].text != b[mid].text
        else:
            assert a[mid] == b[mid]
    assert parse(corpus_file(CHILL), "discord").records == earlier.records


@pytest.mark.corpus
def test_guild_folder() -> None:
    folder = corpus_file("discord/dce/example_guild")
    assert detects(folder) == ["discord"]
    parsed = parse(folder)
    assert sorted(c.key for c in parsed.chats) == [
        "1012224565567721552",
        "1012224565567875236",
        "1012224565567875236",
        "1060927310439657577",
    ]
    assert len(parsed.messages) + len(parsed.events) == 35 + 6 + 5 + 5


@pytest.mark.corpus
def test_registry_detects_every_corpus_export() -> None:
    for path in sorted(corpus_file("discord/dce").rglob("*.json")):
        assert importers.detect(path).name == "discord", path
        assert parse(path).chats  # every file parses
    with pytest.raises(ExportError):
        parse(corpus_file("discord/PROVENANCE.md"), "discord")
    with pytest.raises(ExportError):
        parse(corpus_file("discord/PROVENANCE.md"), "discord-package")


@pytest.mark.corpus
def test_detectors_refuse_other_apps_corpus() -> None:
    root = corpus_file("")
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != "discord"):
        for path in [folder, *sorted(folder.rglob("*"))]:
            assert detects(path) == [], path


# ---------------------------------------------------------------------------------------------
# DCE fixture: an asset beside the file, reactions by user, offsets, replies, forwards


def test_dce_with_asset_beside_it() -> None:
    assert detects(DCE_FILE) == ["discord"] and detects(DCE_FIXTURE) == ["discord"]
    parsed = parse(DCE_FILE)
    (chat,) = parsed.chats
    assert chat.title == "Test Guild / #photos" and chat.key == "888888888888888888"
    assert chat.extra["exported_at"] == "2023-04-22T09:00:00.0000000+02:00"
    msgs = by_id(parsed)
    cat = msgs["1100000000000000001"]
    assert cat.ts == datetime(2023, 4, 21, 8, 15, 30, 123456, tzinfo=timezone.utc)  # 7 digits
    (image,) = cat.attachments
    assert (image.name, image.kind, image.mime, image.size) == ("cat.png", IMAGE, "image/png", 24)
    assert image.open is not None
    with image.open() as fh:
        assert fh.read() == CAT.read_bytes()
    assert [(r.emoji, r.sender) for r in cat.reactions] == [
        ("😻", "Sam Lée"),
        ("😻", "Adam"),
        (":catjam:", "Sam Lée"),
    ]
    assert "reactions" not in cat.extra  # every reaction's people are listed
    reply = msgs["1100000000000000002"]
    assert reply.reply_to == "1100000000000000001"
    assert reply.ts == datetime(2023, 4, 21, 8, 16, 2, 600000, tzinfo=timezone.utc)
    assert reply.edited == datetime(2023, 4, 21, 8, 17, tzinfo=timezone.utc)
    video = msgs["1100000000000000003"]
    assert video.kind == VIDEO and video.attachments[0].open is None  # a CDN link only
    (pin,) = parsed.events
    assert (pin.kind, pin.extra["message_id"]) == (EV_PIN, "1100000000000000001")
    forward = msgs["1100000000000000005"]
    assert forward.text == "forwarded words" and forward.reply_to is None
    assert forward.extra["forwarded"]["messageId"] == "1099999999999999999"
    link = msgs["1100000000000000006"]
    assert link.ts == datetime(2023, 4, 21, 13, 53, 0, 500000, tzinfo=timezone.utc)  # -05:30
    assert link.extra["embeds"] == [
        {"title": "Example page", "url": "https://example.com/page", "description": "An example"}
    ]
    assert not parsed.problems and not parsed.notes


def test_dce_zip_and_folder(tmp_path: Path) -> None:
    archive = zip_folder(DCE_FIXTURE, tmp_path / "dce.zip")
    assert detects(archive) == ["discord"]
    from_zip, from_folder = parse(archive), parse(DCE_FIXTURE)
    assert from_zip.records == from_folder.records == parse(DCE_FILE).records
    assert all(a.open is not None for m in from_zip.messages for a in m.attachments if a.size == 24)


def test_dce_asset_path_escaping_the_folder(tmp_path: Path) -> None:
    (tmp_path / "secret.png").write_bytes(b"outside")
    export = tmp_path / "export"
    export.mkdir()
    doc = json.loads(DCE_FILE.read_text(encoding="utf-8"))
    doc["messages"][0]["attachments"][0]["url"] = "..\\secret.png"
    target = export / "channel.json"
    target.write_text(json.dumps(doc), encoding="utf-8")
    for path in (target, export):
        cat = by_id(parse(path, "discord"))["1100000000000000001"]
        assert cat.attachments[0].open is None


# ---------------------------------------------------------------------------------------------
# Discord's data package


def test_package_json_layout() -> None:
    assert detects(PACKAGE_JSON) == ["discord-package"]
    parsed = parse(PACKAGE_JSON)
    assert [(c.key, c.title, c.kind) for c in parsed.chats] == [
        ("222222222222222222", "samlee", "direct"),
        ("333333333333333333", "Test Guild / #general", "channel"),
        ("444444444444444444", "Discord channel 444444444444444444", "group"),
    ]
    assert parsed.chats[0].extra["recipients"] == ["111111111111111111", "555555555555555555"]
    msgs = by_id(parsed)
    # IDs are JSON numbers above 2^53: exact, never through a float.
    assert float(469641859543728149) != 469641859543728149
    boi = msgs["469641859543728149"]
    assert boi.ts == datetime(2018, 7, 19, 23, 9, 4, tzinfo=timezone.utc)  # zone-less = UTC
    # ... which the snowflake itself confirms (Discord epoch 2015-01-01 UTC).
    created = datetime(2015, 1, 1, tzinfo=timezone.utc) + timedelta(milliseconds=469641859543728149 >> 22)
    assert abs(created - boi.ts) < timedelta(seconds=1)
    assert (boi.sender, boi.sender_id, boi.from_me) == ("Alex Rivera", "111111111111111111", True)
    assert msgs["1183589260452962364"].attachments[0].name == "fit_2048.png"
    two = msgs["934944769845637140"]
    assert two.kind == IMAGE and [a.name for a in two.attachments] == [
        "IMG_5608.jpg",
        "clip one.mp4",
    ]
    assert all(a.open is None for a in two.attachments)
    assert msgs["897870239797215243"].text == "日本語 and emoji 🎉\nsecond line"
    assert len(parsed.messages) == 4 and not parsed.problems


def test_package_csv_layout() -> None:
    assert detects(PACKAGE_CSV) == ["discord-package"]
    parsed = parse(PACKAGE_CSV)
    assert [(c.key, c.title) for c in parsed.chats] == [
        ("222222222222222222", "samlee#1234"),
        ("777777777777777777", "Test Guild / #memes"),
    ]
    first, second, third, lol = parsed.messages
    assert first.text == 'multi\nline, with "quotes"' and first.line == 2
    assert first.source_id == "747951969171275807"
    assert first.ts == datetime(2020, 8, 25, 22, 54, 5, 726000, tzinfo=timezone.utc)
    assert (second.line, second.text, second.attachments[0].kind) == (4, "plain text 😀", AUDIO)
    assert (third.line, third.kind, third.text) == (5, OTHER, "")
    assert (lol.text, lol.kind, lol.line) == ("lol", TEXT, 2)  # CRLF line ends
    assert {m.sender for m in parsed.messages} == {"alexr"}
    assert not parsed.problems


def test_package_zip_channel_folder_and_file(tmp_path: Path) -> None:
    archive = zip_folder(PACKAGE_JSON, tmp_path / "package.zip", prefix="package/")
    assert detects(archive) == ["discord-package"]
    whole = parse(PACKAGE_JSON)
    assert parse(archive).records == whole.records
    channel = PACKAGE_JSON / "Messages" / "c333333333333333333"
    assert detects(channel) == ["discord-package"]
    one = parse(channel)
    assert [c.key for c in one.chats] == ["333333333333333333"]
    assert {m.sender for m in one.messages} == {"Alex Rivera"}  # user.json found at the root
    csv_file = PACKAGE_CSV / "messages" / "777777777777777777" / "messages.csv"
    assert detects(csv_file) == ["discord-package"]
    assert [m.text for m in parse(csv_file).messages] == ["lol"]
    for name in ("c333333333333333333", "copied elsewhere"):  # id from the name or channel.json
        lone = shutil.copytree(channel, tmp_path / name)
        alone = parse(lone, "discord-package")
        assert [c.key for c in alone.chats] == ["333333333333333333"]
        assert [m.source_id for m in alone.messages] == [m.source_id for m in one.messages]
    with pytest.raises(ExportError):
        parse(PACKAGE_JSON / "Messages" / "index.json", "discord-package")


def test_package_and_dce_share_keys() -> None:
    """A channel imported from both lands in one chat: same source, key = channel id."""
    package_chats = {c.key: c for c in parse(PACKAGE_JSON).chats}
    assert package_chats["333333333333333333"].source == "discord"
    assert parse(DCE_FILE).chats[0].source == "discord"


# ---------------------------------------------------------------------------------------------
# Timestamps


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-08-27T14:44:53.6+02:00", datetime(2022, 8, 27, 12, 44, 53, 600000, timezone.utc)),
        ("2023-01-06T16:05:35.86+00:00", datetime(2023, 1, 6, 16, 5, 35, 860000, timezone.utc)),
        (
            "2023-04-21T10:15:30.1234567+02:00",
            datetime(2023, 4, 21, 8, 15, 30, 123456, timezone.utc),
        ),
        ("2023-04-21T08:21:00Z", datetime(2023, 4, 21, 8, 21, tzinfo=timezone.utc)),
        (
            "2020-08-25 22:54:05.726000+00:00",
            datetime(2020, 8, 25, 22, 54, 5, 726000, timezone.utc),
        ),
        ("2021-01-01T00:00:00-0530", datetime(2021, 1, 1, 5, 30, tzinfo=timezone.utc)),
        ("2018-07-19 23:09:04", datetime(2018, 7, 19, 23, 9, 4)),
    ],
)
def test_parse_time(text: str, expected: datetime) -> None:
    assert parse_time(text) == expected
    assert (parse_time(text).tzinfo is None) == (expected.tzinfo is None)


@pytest.mark.parametrize("text", ["", "yesterday", "2023-13-01T00:00:00Z", "2023-01-01T25:00Z"])
def test_parse_time_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_time(text)


# ---------------------------------------------------------------------------------------------
# Bad input: ExportError or Problems, never another exception


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff\xfe garbage",
        b'{"guild": {"id": "1", "name": "G"}, "chan',
        b"[1, 2, 3]",
        b'{"participants": [], "messages": [{"sender_name": "A", "timestamp_ms": 1}]}',
        b'{"guild": {"id": "1"}, "channel": "2", "messages": []}',
        b'{"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": {"a": 1}}',
    ],
)
def test_unreadable_dce_file_is_an_export_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "channel.json"
    path.write_bytes(content)
    with pytest.raises(ExportError) as err:
        parse(path, "discord")
    assert str(path) in str(err.value)


def test_dce_cut_in_the_middle(tmp_path: Path) -> None:
    data = DCE_FILE.read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: data.index(b'"1100000000000000004"')])
    parsed = parse(path, "discord")
    assert [m.source_id for m in parsed.messages] == [
        "1100000000000000001",
        "1100000000000000002",
        "1100000000000000003",
    ]
    (problem,) = parsed.problems
    assert problem.line == 4 and "ends early after message 3" in problem.message


def test_dce_bad_records_are_problems(tmp_path: Path) -> None:
    doc = json.loads(DCE_FILE.read_text(encoding="utf-8"))
    doc["messages"] += [
        {"id": "7", "timestamp": "not a time", "content": "secret words"},
        {"id": "8", "timestamp": "2023-04-21T08:23:00", "content": "no zone"},
        {"timestamp": "2023-04-21T08:23:00Z"},
        "not an object",
    ]
    path = tmp_path / "channel.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    parsed = parse(path, "discord")
    assert len(parsed.messages) == 5 and [p.line for p in parsed.problems] == [7, 8, 9, 10]
    assert all("secret" not in p.message for p in parsed.problems)


def test_folder_with_one_bad_file(tmp_path: Path) -> None:
    folder = shutil.copytree(DCE_FIXTURE, tmp_path / "guild")
    data = DCE_FILE.read_bytes()
    (folder / "broken.json").write_bytes(data[: data.index(b'"messages"')])
    parsed = parse(folder, "discord")
    assert len(parsed.messages) == 5
    (problem,) = parsed.problems
    assert problem.path.endswith("broken.json")


def test_package_bad_input(tmp_path: Path) -> None:
    package = shutil.copytree(PACKAGE_JSON, tmp_path / "package")
    dm = package / "Messages" / "c222222222222222222"
    (dm / "messages.json").write_bytes((dm / "messages.json").read_bytes()[:-20])
    general = package / "Messages" / "c333333333333333333"
    (general / "channel.json").write_text("{not json")
    rows = json.loads((general / "messages.json").read_text(encoding="utf-8"))
    rows += [{"ID": 1.5, "Timestamp": "2021-10-13 15:35:46"}, {"ID": 12, "Timestamp": None}, []]
    (general / "messages.json").write_text(json.dumps(rows), encoding="utf-8")
    parsed = parse(package, "discord-package")
    assert len(parsed.chats) == 3
    assert parsed.chats[1].title == "general in Test Guild"  # from index.json
    assert [(p.path.split("/")[-1], p.line) for p in parsed.problems] == [
        ("messages.json", 2),
        ("channel.json", None),
        ("messages.json", 3),
        ("messages.json", 4),
        ("messages.json", 5),
    ]


def test_package_bad_csv(tmp_path: Path) -> None:
    package = shutil.copytree(PACKAGE_CSV, tmp_path / "package")
    memes = package / "messages" / "777777777777777777" / "messages.csv"
    memes.write_bytes(b"ID,Timestamp,Contents,Attachments\nabc,2020-01-01 00:00:00,x,\n1,\xff\xfe\n")
    parsed = parse(package, "discord-package")
    assert [(p.line, p.message.split(";")[0]) for p in parsed.problems] == [
        (2, "row has an unexpected structure"),
        (3, "not readable as UTF-8 CSV from here on (damaged?)"),
    ]
    dm = package / "messages" / "222222222222222222" / "messages.csv"
    dm.write_text("something,else\n1,2\n")
    assert "no ID,Timestamp header" in parse(package, "discord-package").problems[0].message


def test_package_zip_member_escaping(tmp_path: Path) -> None:
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("messages/c1/channel.json", '{"id": "1", "type": "DM"}')
        zf.writestr("messages/c1/messages.json", '[{"ID": 5, "Timestamp": "2020-01-01 00:00:00"}]')
        zf.writestr("../messages/c2/messages.json", "[]")
        zf.writestr("/etc/x", "x")
    parsed = parse(archive, "discord-package")
    assert [c.key for c in parsed.chats] == ["1"] and len(parsed.messages) == 1
    assert "2 archive entries with unsafe names" in parsed.problems[0].message

    only_bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(only_bad, "w") as zf:
        zf.writestr("../messages/c2/messages.json", "[]")
    assert detects(only_bad) == []
    with pytest.raises(ExportError):
        parse(only_bad, "discord-package")


def test_not_a_package(tmp_path: Path) -> None:
    garbage = tmp_path / "package.zip"
    garbage.write_bytes(b"PK\x03\x04" + os.urandom(200))
    for path in (garbage, tmp_path / "missing", FIXTURES / "messenger"):
        with pytest.raises(ExportError):
            parse(path, "discord-package")
    with pytest.raises(ExportError):
        parse(tmp_path, "discord")


def test_random_bytes_are_not_detected(tmp_path: Path) -> None:
    for i, data in enumerate([os.urandom(4096), b"{}", b"[]", b"", b"ID,Timestamp\n"]):
        for name in (f"file{i}.json", "messages.csv", "messages.json"):
            path = tmp_path / name
            path.write_bytes(data)
            assert detects(path) == [], (name, data[:20])
    assert detects(tmp_path) == []
    assert detects(FIXTURES / "messenger") == []


@given(st.integers(min_value=0, max_value=20_000))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_dce_truncated_anywhere(tmp_path: Path, cut: int) -> None:
    data = DCE_FILE.read_bytes()
    path = tmp_path / "cut.json"
    path.write_bytes(data[: cut % (len(data) + 1)])
    try:
        parsed = parse(path, "discord")
    except ExportError:
        return
    assert len(parsed.chats) == 1 and len(parsed.messages) <= 5


def test_detect_modules_agree_with_registry() -> None:
    assert discord_package.FORMAT in discord.FORMATS


def test_dce_kinds_dce_does_not_name(tmp_path: Path) -> None:
    def entry(mid: str, mtype: str, content: str, **more: object) -> dict[str, object]:
        author = {"id": "9", "name": "bot", "nickname": "Helper", "isBot": True}
        return {"id": mid, "type": mtype, "timestamp": "2024-01-01T00:00:00+00:00", "content": content,
                "author": author, **more}  # fmt: skip

    doc = {
        "guild": {"id": "0", "name": "Direct Messages"},
        "channel": {"id": "5", "type": "DirectGroupTextChat", "name": "pals"},
        "messages": [
            entry("1", "20", "Here is your answer"),  # a slash command's reply
            entry("2", "8", ""),  # a boost notice: nothing a person wrote
            entry("3", "RecipientAdd", "Added a recipient.", mentions=[{"id": "7", "name": "sam"}]),
            entry("4", "RecipientRemove", "Removed a recipient."),
        ],
    }
    path = tmp_path / "dm.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    parsed = parse(path, "discord")
    (reply,) = parsed.messages
    assert (reply.text, reply.extra["type"], reply.extra["bot"]) == ("Here is your answer", "20", True)
    assert [(e.source_id, e.kind) for e in parsed.events] == [("2", EV_SYSTEM), ("3", EV_JOIN), ("4", EV_LEAVE)]
    assert parsed.events[1].extra["users"] == ["sam"]
    assert parsed.chats[0].kind == "group"
