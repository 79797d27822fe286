"""Messenger and Instagram "Download your information" JSON, and the E2EE Messenger download."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import meta
from importers.meta.thread import repair_mojibake
from tests.conftest import FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CALL,
    DELETED,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    IMAGE,
    OTHER,
    STICKER,
    TEXT,
    VIDEO,
    Message,
)

FB_EXPORT = FIXTURES / "messenger" / "facebook-export"
FB_MESSAGES = FB_EXPORT / "your_facebook_activity" / "messages"
ZOE_THREAD = FB_MESSAGES / "inbox" / "zoegarcia_1234567890"
E2EE_EXPORT = FIXTURES / "messenger" / "e2ee"
IG_EXPORT = FIXTURES / "instagram" / "ig-2024"
IG_THREAD = IG_EXPORT / "your_instagram_activity/messages/inbox/samlee_17841400000000001"
MY_CORPUS = ("messenger", "instagram")
NAMES = ("Zoë", "Renée", "Marc", "García", "Dupont", "Sam", "Alex")


def ms(value: int) -> datetime:
    return datetime.fromtimestamp(value / 1000, timezone.utc)


def by_ts(parsed: Parsed) -> list[Message]:
    return sorted(parsed.messages, key=lambda m: m.ts)


def zip_folder(folder: Path, target: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, prefix + path.relative_to(folder).as_posix())
    return target


def all_media_found(parsed: Parsed) -> bool:
    """Every attachment but the one the fixture leaves out (menu.pdf) has its bytes."""
    return all(a.open is not None for m in parsed.messages for a in m.attachments if a.name != "menu.pdf")


def assert_private(parsed: Parsed) -> None:
    """Problems and notes never carry names or text."""
    texts = [p.message for p in parsed.problems] + [n.text for n in parsed.notes]
    for text in texts:
        assert not any(name in text for name in NAMES), text


# ---------------------------------------------------------------------------------------------
# Corpus (../shared/corpus): what EXPECTED.md asserts


@pytest.mark.corpus
def test_chat_analytics_2a_7m() -> None:
    path = corpus_file("messenger/chat-analytics_2A_7M.json")  # starts with a UTF-8 BOM
    assert meta.detect_messenger(path) and not meta.detect_instagram(path)
    parsed = parse(path, "messenger")
    (chat,) = parsed.chats
    assert chat.key == "alice_aaaaaaaaaa"  # thread_path "inbox/alice_aaaaaaaaaa"
    assert chat.kind == "direct" and chat.participants == ("Alice", "Bob")
    assert chat.title == "Alice"
    expected = [
        (1415147240411, "Bob", "", IMAGE),
        (1415147254275, "Bob", "", STICKER),
        (1415147297141, "Alice", "", AUDIO),
        (1415147308604, "Bob", "", FILE),
        (1415147325354, "Bob", "you what", TEXT),
        (1415147681489, "Bob", "Whats up!", TEXT),
        (1415147732056, "Alice", "Hello", TEXT),
    ]
    got = [(m.ts, m.sender, m.text, m.kind) for m in by_ts(parsed)]
    assert got == [(ms(t), s, x, k) for t, s, x, k in expected]
    assert all(m.source_id is None and m.chat == chat.key for m in parsed.messages)
    assert not any(m.kind == CALL for m in parsed.messages)
    assert not parsed.problems and not parsed.events
    # The media are named by the export but not in the corpus: names kept, no bytes.
    assert [a.name for m in by_ts(parsed) for a in m.attachments] == [
        "123123123123123.jpg",
        "123123123123123.png",
        "audioclip11111.mp4",
        "blabla.docx",
    ]
    assert all(a.open is None for m in parsed.messages for a in m.attachments)


@pytest.mark.corpus
def test_chat_miner_messenger_same_millisecond() -> None:
    path = corpus_file("messenger/chat-miner_testlog.json")
    parsed = parse(path, "messenger")
    got = [(m.sender, m.text, m.ts) for m in parsed.messages]
    # Both messages share timestamp_ms 1668628203612 and both must stay.
    assert sorted(got) == [
        ("Allan Smith", "Hello John", ms(1668628203612)),
        ("John Doe", "Hello Allan", ms(1668628203612)),
    ]
    assert ms(1668628203612).strftime("%A") == "Wednesday"


# The 11 rows chat-miner asserts (its placeholders for media), in file order.
INSTAGRAM_ROWS = [
    ("John Doe", "disappearingmessage"),
    ("John Doe", "sentaudio"),
    ("Jane Doe", "sentvideo"),
    ("Lionel Messi", "sentshare"),
    ("John Doe", "sentphoto"),
    ("Jane Doe", "Jane Doe joined the group."),
    ("John Doe", "Testing message with reactions."),
    ("❤️", "Testing username only emoji: ❤️"),
    ("J❤️hn Doe", "Testing username with emoji: J❤️hn Doe"),
    ("John Doe", "Testing message with emoji: ❤️"),
    ("John Doe", "Testing normal message."),
]
POLL_NOTICES = ["John Doe's poll has multiple updates.", "This poll is no longer available."]


def _as_chat_miner_row(record: object) -> tuple[str | None, str]:
    """Our record in chat-miner's terms (its placeholders for media and empty messages)."""
    if not isinstance(record, Message):
        return record.actor, record.text  # type: ignore[attr-defined]
    placeholders = {
        AUDIO: "sentaudio",
        VIDEO: "sentvideo",
        IMAGE: "sentphoto",
        OTHER: "disappearingmessage",
    }
    if record.kind in placeholders:
        return record.sender, placeholders[record.kind]
    if "share" in record.extra:
        return record.sender, "sentshare"
    return record.sender, record.text


@pytest.mark.corpus
@pytest.mark.parametrize("version", ["v2023-02-01", "v2023-01-08"])
def test_chat_miner_instagram_testlog(version: str) -> None:
    path = corpus_file(f"instagram/chat-miner_testlog_{version}.json")
    assert meta.detect_instagram(path) and not meta.detect_messenger(path)
    parsed = parse(path, "instagram")
    (chat,) = parsed.chats
    assert chat.source == "instagram" and chat.key == "testlog_2765720812686121"
    assert chat.title == "Test Log" and chat.kind == "group"
    assert chat.participants == ("John Doe", "J❤️hn Doe", "Jane Doe", "Lionel Messi")
    # 13 entries: 12 messages and the join notice; poll notices are kept (not dropped).
    records = [r for r in parsed.records if isinstance(r, Message) or r in parsed.events]
    assert len(records) == 13
    rows = [_as_chat_miner_row(r) for r in records if getattr(r, "text", None) not in POLL_NOTICES]
    assert rows == INSTAGRAM_ROWS
    assert sorted(m.text for m in parsed.messages if m.text in POLL_NOTICES) == sorted(POLL_NOTICES)
    (join,) = parsed.events
    assert join.kind == EV_JOIN and join.extra["users"] == ["Jane Doe"]
    reacted = [m for m in parsed.messages if m.reactions]
    assert len(reacted) == 2
    for m in reacted:
        assert [(r.emoji, r.sender) for r in m.reactions] == [("❤️", "J❤️hn Doe"), ("💖", "Jane Doe")]
    same_ms = [m for m in parsed.messages if m.ts == ms(1579359180000)]
    assert {m.sender for m in same_ms} == {"❤️", "J❤️hn Doe"}
    assert not parsed.problems


@pytest.mark.corpus
def test_correct_share_text_is_left_alone() -> None:
    parsed = parse(corpus_file("instagram/chat-miner_testlog_v2023-01-08.json"), "instagram")
    (shared,) = [m for m in parsed.messages if "share" in m.extra]
    share_text = shared.extra["share"]["share_text"]
    assert share_text.startswith("CAMPEONES DEL MUNDO!!!!!!! 🌎🏆")
    assert "Tantas veces lo soñé" in share_text and "🇦🇷" in share_text
    assert "https://www.instagram.com/p/CmUv48DLvxd/" in shared.text


@pytest.mark.corpus
def test_chat_miner_instagram_test_export() -> None:
    path = corpus_file("instagram/chat-miner_test_export.json")  # only a "messages" key
    # Nothing in the file says Instagram: detection reads it as Messenger; --format decides.
    assert meta.detect_messenger(path)
    parsed = parse(path, "instagram")
    got = [(m.ts, m.sender, m.text) for m in parsed.messages]
    assert got == [
        (datetime(2020, 1, 17, 20, 49, tzinfo=timezone.utc), "John Doe", "Hello Jane!"),
        (datetime(2019, 12, 24, 11, 23, tzinfo=timezone.utc), "Jane Doe", "Hello John!"),
    ]
    assert parsed.chats[0].source == "instagram"


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "fmt"),
    [
        ("messenger/chat-analytics_2A_7M.json", "messenger"),
        ("messenger/chat-miner_testlog.json", "messenger"),
        ("instagram/chat-miner_testlog_v2023-01-08.json", "instagram"),
        ("instagram/chat-miner_testlog_v2023-02-01.json", "instagram"),
        ("instagram/chat-miner_test_export.json", "messenger"),  # nothing says Instagram
    ],
)
def test_registry_detects_corpus_files(rel: str, fmt: str) -> None:
    assert importers.detect(corpus_file(rel)).name == fmt


@pytest.mark.corpus
@pytest.mark.parametrize(
    "rel",
    [
        "messenger/chat-miner_target.json",
        "messenger/PROVENANCE.md",
        "instagram/chat-miner_test_export_target.json",
        "instagram/chat-miner_testlog_target.csv",
        "instagram/PROVENANCE.md",
    ],
)
def test_corpus_files_that_are_not_exports_are_refused(rel: str) -> None:
    for fmt in ("messenger", "instagram"):
        with pytest.raises(ExportError):
            parse(corpus_file(rel), fmt)


@pytest.mark.corpus
def test_detectors_refuse_other_apps_corpus() -> None:
    root = corpus_file("")
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name not in MY_CORPUS):
        for path in [folder, *sorted(folder.rglob("*"))]:
            assert not meta.detect_messenger(path), path
            assert not meta.detect_instagram(path), path
    for path in corpus_file("messenger").iterdir():
        if path.name.endswith(("target.json", ".md")):
            assert meta.sniff(path) is None, path


# ---------------------------------------------------------------------------------------------
# Own fixtures: a 2024+ Facebook folder export (mojibake, calls, video, unsent, shares, groups)


def _check_facebook_export(parsed: Parsed, *, from_zip: bool = False) -> None:
    assert [c.key for c in parsed.chats] == ["lesamis_987654321", "zoegarcia_1234567890"]
    group, direct = parsed.chats
    assert direct.title == "Zoë García" and direct.kind == "direct"
    assert direct.participants == ("Zoë García", "Renée Dupont")
    assert direct.extra["folder"] == "inbox" and group.extra["folder"] == "archived_threads"
    assert group.title == "Les Amis" and group.kind == "group"

    zoe = [m for m in parsed.messages if m.chat == direct.key]
    assert len(zoe) == 10  # message_1.json and message_2.json merged into one chat (2 calls aside)
    assert zoe[0].ts == ms(1700000300000)  # newest first, as the files are
    first = zoe[0]
    assert (first.sender, first.text) == ("Renée Dupont", "À bientôt ! 😘")
    assert [(r.emoji, r.sender) for r in first.reactions] == [("❤️", "Zoë García")]
    assert any(m.text == "Ça va ? 中文也可以 — naïve café" for m in zoe)

    (unsent,) = [m for m in zoe if m.kind == DELETED]
    assert unsent.sender == "Zoë García" and unsent.text == ""
    assert not any(m.kind == CALL for m in zoe)  # calls are events, with their length
    calls = [e for e in parsed.events if e.kind == EV_CALL]
    assert [(c.extra["duration_s"], c.extra.get("missed")) for c in calls] == [(754, None), (0, True)]

    (video,) = [m for m in zoe if m.kind == VIDEO]
    (clip,) = video.attachments
    assert (clip.name, clip.kind, clip.mime) == ("clip_1.mp4", VIDEO, "video/mp4")
    assert clip.open is not None
    if not from_zip:  # a zip member opens only while the parser runs (util.parse reads it then)
        with clip.open() as fh:
            assert fh.read() == (ZOE_THREAD / "videos" / "clip_1.mp4").read_bytes()
    assert clip.size == (ZOE_THREAD / "videos" / "clip_1.mp4").stat().st_size
    # An old-layout uri ("messages/inbox/...") still finds the photo in a 2024 layout.
    (photo,) = [a for m in zoe if m.kind == IMAGE for a in m.attachments]
    assert photo.open is not None
    # messages/stickers_used/ lives above the thread folders.
    (sticker,) = [a for m in zoe if m.kind == STICKER for a in m.attachments]
    assert sticker.open is not None
    (pdf,) = [a for m in zoe if m.kind == FILE for a in m.attachments]
    assert pdf.name == "menu.pdf" and pdf.open is None  # not in the export

    (share,) = [m for m in zoe if "share" in m.extra]
    assert share.text == "Zoë García sent a link.\nhttps://example.com/article"
    assert share.extra["share"]["share_text"] == "Un article intéressant"
    oks = [m for m in zoe if m.text == "ok"]
    assert len(oks) == 2 and oks[0] == oks[1]  # two identical messages in one ms stay two

    events = [(e.kind, e.actor) for e in parsed.events if e.kind != EV_CALL]
    assert events == [
        (EV_SYSTEM, "Renée Dupont"),
        (EV_LEAVE, "Marc Petit"),
        (EV_JOIN, "Zoë García"),
        (EV_TITLE, "Renée Dupont"),
    ]
    assert [e.extra.get("title") for e in parsed.events if e.kind == EV_TITLE] == ["Les Amis"]
    # A person typing similar words is not a notice.
    group_texts = [m.text for m in parsed.messages if m.chat == group.key]
    assert group_texts == ["Salut tout le monde 👋", "I named the group chat in my head already"]
    assert [n.text for n in parsed.notes] == [
        "1 media files named in the export were not found in it (the export was requested "
        "without media, or they are in another part of a split download); their names were kept"
    ]
    assert not parsed.problems
    assert_private(parsed)


def test_facebook_folder_export() -> None:
    assert meta.detect_messenger(FB_EXPORT) and not meta.detect_instagram(FB_EXPORT)
    _check_facebook_export(parse(FB_EXPORT))


def test_facebook_zip_export_gives_the_same_records(tmp_path: Path) -> None:
    archive = zip_folder(FB_EXPORT, tmp_path / "facebook-zoe-2024-01-01-abc.zip")
    assert meta.detect_messenger(archive)
    from_zip = parse(archive)
    _check_facebook_export(from_zip, from_zip=True)
    assert from_zip.records == parse(FB_EXPORT).records


def test_zip_with_a_top_folder(tmp_path: Path) -> None:
    archive = zip_folder(FB_EXPORT, tmp_path / "export.zip", prefix="facebook-zoe-2024-01-01-abc/")
    parsed = parse(archive, "messenger")
    assert [c.key for c in parsed.chats] == ["lesamis_987654321", "zoegarcia_1234567890"]
    assert all_media_found(parsed)


def test_reimport_gives_identical_records() -> None:
    first, second = parse(FB_EXPORT, "messenger"), parse(FB_EXPORT, "messenger")
    assert first.records == second.records
    assert [m.extra for m in first.messages] == [m.extra for m in second.messages]


def test_thread_folder_and_single_file() -> None:
    folder = parse(ZOE_THREAD, "messenger")
    assert [c.key for c in folder.chats] == ["zoegarcia_1234567890"]
    assert len(folder.messages) == 10 and len([e for e in folder.events if e.kind == EV_CALL]) == 2
    assert all_media_found(folder)

    single = parse(ZOE_THREAD / "message_1.json", "messenger")
    assert [c.key for c in single.chats] == ["zoegarcia_1234567890"]
    assert len(single.messages) == 4  # and 2 call events
    (video,) = [m for m in single.messages if m.kind == VIDEO]
    assert video.attachments[0].open is not None  # found by climbing to the export root
    assert any("1 more message_N.json" in n.text for n in single.notes)


def test_messages_folder_of_an_export() -> None:
    parsed = parse(FB_MESSAGES / "inbox", "messenger")
    assert [c.key for c in parsed.chats] == ["zoegarcia_1234567890"]


def test_thread_folder_outside_an_export(tmp_path: Path) -> None:
    copy = shutil.copytree(ZOE_THREAD, tmp_path / "zoegarcia_1234567890")
    parsed = parse(copy, "messenger")
    assert [c.key for c in parsed.chats] == ["zoegarcia_1234567890"]
    (video,) = [m for m in parsed.messages if m.kind == VIDEO]
    assert video.attachments[0].open is not None  # by the part of the uri after the folder


# ---------------------------------------------------------------------------------------------
# Instagram 2024+ layout and the E2EE Messenger download


def test_instagram_2024_layout() -> None:
    assert meta.detect_instagram(IG_EXPORT) and not meta.detect_messenger(IG_EXPORT)
    assert meta.detect_instagram(IG_THREAD / "message_1.json")
    parsed = parse(IG_EXPORT)
    (chat,) = parsed.chats
    assert (chat.source, chat.title) == ("instagram", "Sam Lée")
    assert chat.key == "samlee_17841400000000001"
    texts = [m.text for m in parsed.messages]
    assert "Reacted ❤️ to your message" in texts  # reaction notices are kept as text
    assert "안녕하세요 Sam! 🙂" in texts
    (audio,) = [m for m in parsed.messages if m.kind == AUDIO]
    assert audio.sender == "Sam Lée" and audio.attachments[0].open is not None
    (reel,) = [m for m in parsed.messages if "share" in m.extra]
    assert reel.text.endswith("\nhttps://www.instagram.com/reel/C7abcdEFGH/")
    assert reel.extra["share"]["original_content_owner"] == "surf.daily"
    assert reel.extra["share"]["share_text"] == "Plage 🌊"
    (photo,) = [m for m in parsed.messages if m.kind == IMAGE]
    assert photo.attachments[0].open is None
    assert all(m.ts.tzinfo is not None for m in parsed.messages)


def test_e2ee_download(tmp_path: Path) -> None:
    assert meta.detect_messenger(E2EE_EXPORT)
    assert meta.detect_messenger(E2EE_EXPORT / "Zoe Garcia_2.json")
    parsed = parse(E2EE_EXPORT)
    (chat,) = parsed.chats
    assert chat.title == "Zoë García" and chat.extra["end_to_end_encrypted"] is True
    assert chat.participants == ("Zoë García", "Renée Dupont") and chat.kind == "direct"
    first, photo, unsent = parsed.messages
    assert (first.sender, first.text) == ("Renée Dupont", "Déjà vu ☕")  # proper UTF-8: no repair
    assert [(r.emoji, r.sender) for r in first.reactions] == [("👍", "Zoë García")]
    assert first.ts == ms(1720000300000)
    assert photo.kind == IMAGE and photo.attachments[0].open is not None
    assert unsent.kind == DELETED
    archive = zip_folder(E2EE_EXPORT, tmp_path / "secure_storage.zip")
    assert meta.detect_messenger(archive)
    assert parse(archive).records == parsed.records


# ---------------------------------------------------------------------------------------------
# The mojibake repair


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_repair_undoes_metas_encoding(text: str) -> None:
    as_meta_writes_it = text.encode("utf-8").decode("latin-1")
    assert repair_mojibake(as_meta_writes_it) == text


CJK_EMOJI = st.text(alphabet=st.sampled_from("中文字漢字日本語한국어😀🎉❤️👍🏽🇦🇷é"), min_size=1)


@given(st.text(), CJK_EMOJI, st.text())
@settings(max_examples=200, deadline=None)
def test_repair_leaves_correct_text_alone(before: str, wide: str, after: str) -> None:
    text = before + wide + after  # holds characters above U+00FF: cannot be mojibake
    assert repair_mojibake(text) == text


@given(st.text(alphabet=st.characters(max_codepoint=0xFF)))
@settings(max_examples=300, deadline=None)
def test_repair_of_latin1_range_text(text: str) -> None:
    try:
        decoded = text.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        assert repair_mojibake(text) == text  # "soñé", "café": not mojibake, left as they are
    else:
        assert repair_mojibake(text) == decoded  # ASCII stays; "Ã©" is read as Meta meant "é"


def test_repair_examples() -> None:
    assert repair_mojibake("Buz\u00c3\u00a1s") == "Buzás"
    assert repair_mojibake("\u00f0\u009f\u0098\u0086") == "😆"
    assert repair_mojibake("so\u00f1\u00e9") == "soñé"
    assert repair_mojibake("plain") == "plain"
    assert repair_mojibake("“quoted”") == "“quoted”"


# ---------------------------------------------------------------------------------------------
# Bad input: ExportError or Problems, never another exception


def _thread_json(**extra: object) -> str:
    doc = {
        "participants": [{"name": "A"}, {"name": "B"}],
        "messages": [{"sender_name": "A", "timestamp_ms": 1700000000000, "content": "hi"}],
        "title": "B",
        "thread_path": "inbox/b_1",
    }
    doc.update(extra)
    return json.dumps(doc)


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x00\xff\xfe garbage \x89PNG",
        b'{"participants": [{"name": "A"}], "messages": [{"sender_name": "A", "timesta',
        b"[1, 2, 3]",
        b'{"guild": {"id": "1"}, "channel": {"id": "2"}, "messages": [{"id": "3"}]}',
        b'{"messages": [{"id": 1, "type": "message", "date_unixtime": "1"}]}',
        b'{"messages": {"sender_name": "A"}}',
        b'{"title": "x"}',
        '{"messages": [{"sender_name": "\udcff"}]}'.encode("utf-8", "surrogatepass"),
    ],
)
def test_unreadable_single_file_is_an_export_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "message_1.json"
    path.write_bytes(content)
    with pytest.raises(ExportError) as err:
        parse(path, "messenger")
    assert str(path) in str(err.value)
    assert not meta.detect_messenger(path)


def test_bad_records_are_problems(tmp_path: Path) -> None:
    doc = json.loads(_thread_json())
    doc["messages"] += [
        {"sender_name": "B", "content": "no time"},
        {"sender_name": "B", "timestamp_ms": "yesterday", "content": "bad time"},
        {"sender_name": "B", "timestamp_ms": 10**30, "content": "far future"},
        "not an object",
        {"sender_name": "B", "timestamp_ms": 1700000001000, "photos": [{"uri": "../../../x.jpg"}]},
    ]
    path = tmp_path / "message_1.json"
    path.write_text(json.dumps(doc))
    parsed = parse(path, "messenger")
    assert [m.text for m in parsed.messages] == ["hi", ""]
    assert [p.line for p in parsed.problems] == [2, 3, 4, 5]
    assert parsed.messages[1].attachments[0].open is None  # a uri escaping the export
    assert all("hi" not in p.message and 'time"' not in p.message for p in parsed.problems)


def test_one_damaged_thread_in_a_folder_is_a_problem(tmp_path: Path) -> None:
    export = shutil.copytree(FB_EXPORT, tmp_path / "export")
    damaged = export / "your_facebook_activity/messages/inbox/zoegarcia_1234567890/message_2.json"
    damaged.write_bytes(damaged.read_bytes()[:300])
    parsed = parse(export, "messenger")
    assert [c.key for c in parsed.chats] == ["lesamis_987654321", "zoegarcia_1234567890"]
    assert len([m for m in parsed.messages if m.chat == "zoegarcia_1234567890"]) == 4
    (problem,) = parsed.problems
    assert problem.path.endswith("message_2.json") and "truncated" in problem.message
    assert_private(parsed)


def test_zip_member_escaping_the_archive(tmp_path: Path) -> None:
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("messages/inbox/b_1/message_1.json", _thread_json())
        zf.writestr("../x", "outside")
        zf.writestr("../messages/inbox/evil_2/message_1.json", _thread_json(title="evil"))
    parsed = parse(archive, "messenger")
    assert [c.key for c in parsed.chats] == ["b_1"]
    (problem,) = parsed.problems
    assert "2 archive entries with unsafe names" in problem.message

    only_bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(only_bad, "w") as zf:
        zf.writestr("../messages/inbox/evil_2/message_1.json", _thread_json())
    assert not meta.detect_messenger(only_bad)
    with pytest.raises(ExportError):
        parse(only_bad, "messenger")


def test_damaged_zip_and_missing_paths(tmp_path: Path) -> None:
    archive = zip_folder(FB_EXPORT, tmp_path / "export.zip")
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    for path in (cut, tmp_path / "missing", tmp_path):
        with pytest.raises(ExportError):
            parse(path, "messenger")


def test_random_bytes_are_not_detected(tmp_path: Path) -> None:
    for i, data in enumerate([os.urandom(2048), b"PK\x03\x04" + os.urandom(100), b"{}", b""]):
        path = tmp_path / f"file{i}.json"
        path.write_bytes(data)
        assert meta.sniff(path) is None
    assert meta.sniff(tmp_path) is None


@given(st.integers(min_value=0, max_value=10_000))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_truncated_anywhere(tmp_path: Path, cut: int) -> None:
    data = (ZOE_THREAD / "message_1.json").read_bytes()
    path = tmp_path / "message_1.json"
    path.write_bytes(data[: cut % (len(data) + 1)])
    try:
        parsed = parse(path, "messenger")
    except ExportError:
        return
    assert len(parsed.messages) == 6  # only the complete file parses
