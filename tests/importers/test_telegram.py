"""Telegram Desktop JSON: the corpus facts of corpus/EXPECTED.md, and our own fixtures for the rest."""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import telegram
from tests.conftest import corpus_file, tg_export, tg_msg, write
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import EV_CALL, EV_JOIN, IMAGE, STICKER


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def test_dm_2a_7m():
    p = parse(corpus_file("telegram/chat-analytics/DM_2A_7M.json"))
    (chat,) = p.chats
    assert (chat.key, chat.title, chat.kind) == ("700000000", "Bob", "direct")
    msgs = {m.source_id: m for m in p.messages}
    assert len(msgs) == 6
    assert msgs["3644"].text == "https://google.com 👀" and msgs["3644"].sender == "Bob"
    assert msgs["3644"].ts == datetime(2019, 7, 12, 16, 55, 32)  # `date` only: wall-clock time
    assert msgs["3645"].text == "hello world" and msgs["3645"].sender == "Alice"
    assert msgs["3662"].ts == datetime.fromtimestamp(1652135033, timezone.utc) and msgs["3662"].text == "world?"
    assert msgs["3663"].ts == datetime.fromtimestamp(1652138769, timezone.utc)
    assert msgs["3672"].kind == IMAGE and msgs["3673"].kind == IMAGE
    assert msgs["3672"].ts == datetime.fromtimestamp(1654898798, timezone.utc)
    calls = [e for e in p.events if e.kind == EV_CALL]
    assert len(calls) == 1 and calls[0].source_id == "3674" and calls[0].actor == "Alice"
    assert calls[0].ts == datetime.fromtimestamp(1691719862, timezone.utc)
    assert calls[0].extra["duration_s"] == 56
    assert [e.kind for e in p.events if e.kind == EV_JOIN]  # joined_telegram is an event, not a message


def test_entities_are_kept_only_when_they_say_more_than_the_text(tmp_path):
    """Telegram writes text_entities for every message; all-plain ones repeat the text word for word."""
    link = [{"type": "link", "text": "https://example.org"}, {"type": "plain", "text": " look"}]
    path = tg_export(
        tmp_path / "result.json",
        [
            tg_msg(1, "just words", text_entities=[{"type": "plain", "text": "just words"}]),
            tg_msg(2, link, text_entities=link),
            tg_msg(3, "", text_entities=[]),
        ],
    )
    m = {x.source_id: x for x in parse(path).messages}
    assert m["1"].text == "just words" and "text_entities" not in m["1"].extra
    assert m["2"].text == "https://example.org look" and m["2"].extra["text_entities"] == link
    assert "text_entities" not in m["3"].extra


@pytest.mark.parametrize("name", ["test_single_export.json", "test_batch_export.json"])
def test_chat_miner(name):
    p = parse(corpus_file(f"telegram/chat-miner/{name}"))
    got = [(m.ts, m.sender, m.text) for m in p.messages]
    assert got == [
        (utc(2018, 12, 5, 10, 39, 10), "Author 1", "Minimal Message"),
        (utc(2018, 12, 5, 10, 49, 24), "Author 2", "Link:https://telegram.org/"),
    ]
    if name == "test_batch_export.json":
        assert p.chats[0].title == "Chatname"


def test_full_account_export_reads_left_chats_and_files(tmp_path):
    root = tmp_path / "Telegram Desktop" / "DataExport_2024-01-01"
    (root / "photos").mkdir(parents=True)
    (root / "photos" / "photo_1.jpg").write_bytes(b"\xff\xd8\xff" + os.urandom(500))
    doc = {
        "about": "Here is the data you requested.",
        "personal_information": {"user_id": 1, "first_name": "Mei"},
        "chats": {
            "about": "",
            "list": [
                {
                    "name": "Jon",
                    "type": "personal_chat",
                    "id": 11,
                    "messages": [
                        {
                            "id": 1,
                            "type": "message",
                            "date": "2024-01-01T10:00:00",
                            "date_unixtime": "1704103200",
                            "from": "Jon",
                            "from_id": "user11",
                            "text": ["see ", {"type": "bold", "text": "you"}],
                            "photo": "photos/photo_1.jpg",
                            "width": 10,
                            "height": 10,
                        },
                        {
                            "id": 2,
                            "type": "message",
                            "date_unixtime": "1704103260",
                            "from": None,
                            "from_id": "user0",
                            "text": "",
                            "file": "(File not included. Change data exporting settings to download.)",
                            "media_type": "sticker",
                            "sticker_emoji": "👍",
                        },
                        {
                            "id": 3,
                            "type": "message",
                            "date_unixtime": "1704103300",
                            "from": "Mei",
                            "from_id": "user1",
                            "text": "reply",
                            "reply_to_message_id": 1,
                            "edited_unixtime": "1704103400",
                            "forwarded_from": "Ana",
                        },
                        {"id": 4, "type": "unsupported"},
                        {"id": 5, "type": "message", "from": "Mei", "text": "no date at all"},
                    ],
                },
            ],
        },
        "left_chats": {
            "about": "",
            "list": [
                {
                    "name": "Old channel",
                    "type": "public_channel",
                    "id": 99,
                    "messages": [
                        {
                            "id": 7,
                            "type": "service",
                            "date_unixtime": "1600000000",
                            "actor": "Old channel",
                            "action": "create_channel",
                            "title": "Old channel",
                            "text": "",
                        },
                        {
                            "id": 8,
                            "type": "message",
                            "date_unixtime": "1600000100",
                            "from": "Old channel",
                            "text": "post",
                        },
                    ],
                },
            ],
        },
    }
    write(root / "result.json", json.dumps(doc))
    assert telegram.detect(root) and telegram.detect(root / "result.json")
    p = parse(root)
    assert [c.title for c in p.chats] == ["Jon", "Old channel"]
    jon = [m for m in p.messages if m.chat == "11"]
    assert jon[0].text == "see you" and jon[0].kind == IMAGE
    (att,) = jon[0].attachments
    assert att.open is not None and att.size == 503
    assert jon[1].kind == STICKER and jon[1].sender is None and jon[1].attachments[0].open is None
    assert jon[2].reply_to == "1" and jon[2].edited == utc(2024, 1, 1, 10, 3, 20) and jon[2].forwarded_from == "Ana"
    assert [m.text for m in p.messages if m.chat == "99"] == ["post"]
    assert len(p.events) == 1
    assert len(p.problems) == 1 and "message 5" in str(p.problems[0]) and "no date" not in str(p.problems[0])


def test_attachment_paths_cannot_leave_the_export(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("outside")
    doc = {
        "name": "X",
        "type": "personal_chat",
        "id": 1,
        "messages": [
            {
                "id": 1,
                "type": "message",
                "date_unixtime": "1700000000",
                "from": "X",
                "text": "",
                "file": "../secret.txt",
            }
        ],
    }
    f = write(tmp_path / "export" / "result.json", json.dumps(doc))
    (m,) = parse(f).messages
    assert m.attachments[0].open is None


def test_detection_is_certain(tmp_path):
    assert not telegram.detect(write(tmp_path / "a.json", '{"guild": {}, "channel": {}, "messages": []}'))
    assert not telegram.detect(write(tmp_path / "b.json", "[1, 2, 3]"))
    assert not telegram.detect(write(tmp_path / "c.txt", "hello"))
    rnd = tmp_path / "r.json"
    rnd.write_bytes(os.urandom(3000))
    assert not telegram.detect(rnd)
    assert importers.detect(corpus_file("telegram/chat-analytics/DM_2A_7M.json")).name == "telegram"


@pytest.mark.parametrize("cut", [10, 200, 700])
def test_truncated_json_is_one_clear_error(tmp_path, cut):
    f = corpus_file("telegram/chat-analytics/DM_2A_7M.json")
    bad = tmp_path / "result.json"
    bad.write_bytes(f.read_bytes()[:cut] if cut > 10 else b'{"name": "x", "type": "personal_chat", "messages": [')
    with pytest.raises(ExportError) as err:
        parse(bad, "telegram")
    assert "result.json" in str(err.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_export_error(tmp_path, data):
    f = tmp_path / "result.json"
    f.write_bytes(b'{"name": "x", "type": "personal_chat", "id": 1, "messages": [' + data)
    try:
        parse(f, "telegram")
    except ExportError:
        pass


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda c: (
            st.lists(c, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "id",
                        "type",
                        "date",
                        "date_unixtime",
                        "from",
                        "text",
                        "photo",
                        "file",
                        "action",
                        "poll",
                        "edited_unixtime",
                        "reply_to_message_id",
                        "media_type",
                    ]
                ),
                c,
                max_size=6,
            )
        ),
        max_leaves=20,
    )
)
def test_structurally_odd_messages_never_crash(tmp_path, msg):
    f = tmp_path / "result.json"
    f.write_text(json.dumps({"name": "x", "type": "personal_chat", "id": 1, "messages": [msg, msg]}))
    try:
        parse(f, "telegram")
    except ExportError:
        pass


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmHWM from /proc (Linux)")
def test_streams_big_exports_in_bounded_memory(tmp_path):
    """The parser holds one message at a time: a 60 MB result.json parses with little memory."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    f = tmp_path / "result.json"
    with f.open("w") as fh:
        fh.write('{"name": "big", "type": "private_group", "id": 5, "messages": [')
        for i in range(200_000):
            fh.write(
                ("," if i else "")
                + json.dumps(
                    {"id": i, "type": "message", "date_unixtime": str(1600000000 + i), "from": "A", "text": "x" * 250}
                )
            )
        fh.write("]}")
    code = (
        "import resource, sys; from pathlib import Path; from importers import telegram; "
        "from importers.base import ParseOptions\n"
        "n = sum(1 for _ in telegram.parse(Path(sys.argv[1]), ParseOptions()))\n"
        # VmHWM is this process's own peak; ru_maxrss would include the pytest parent's (kept across exec).
        "print(n, next(int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM')))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(f)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout.split()
    assert int(out[0]) == 200_001
    assert int(out[1]) < 120_000, f"peak RSS {int(out[1]) // 1024} MB for a {f.stat().st_size // 2**20} MB file"
