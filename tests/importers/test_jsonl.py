"""The JSONL interchange format (docs/jsonl-format.md)."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from importers import jsonl
from tests.conftest import write
from tests.importers.util import parse
from vault.errors import ExportError

HEADER = '{"type": "talkvault", "version": 1}\n'


def test_documented_example_parses(tmp_path):
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "a.jpg").write_bytes(b"\xff\xd8\xff jpeg")
    f = write(
        tmp_path / "x.jsonl",
        HEADER
        + "\n".join(
            json.dumps(x, ensure_ascii=False)
            for x in [
                {
                    "type": "chat",
                    "source": "mychat",
                    "key": "room-42",
                    "title": "Book club",
                    "kind": "group",
                    "participants": ["Mei", "Jon"],
                },
                {
                    "type": "message",
                    "chat": "room-42",
                    "ts": "2023-03-14T09:06:00Z",
                    "sender": "Mei",
                    "text": "Chapter 3?",
                },
                {
                    "type": "message",
                    "chat": "room-42",
                    "ts": "2023-03-14T09:07:30",
                    "sender": "Jon",
                    "text": "👍",
                    "id": "m-2",
                    "reply_to": "m-1",
                    "attachments": [{"name": "a.jpg", "kind": "image", "path": "files/a.jpg"}],
                    "reactions": [{"emoji": "❤️", "sender": "Mei"}],
                },
                {
                    "type": "event",
                    "chat": "room-42",
                    "ts": "2023-03-14T09:08:00+02:00",
                    "text": "Ana joined",
                    "kind": "join",
                    "actor": "Ana",
                },
            ]
        )
        + "\n",
    )
    assert jsonl.detect(f)
    p = parse(f)
    assert p.chats[0].participants == ("Mei", "Jon")
    a, b = p.messages
    assert a.ts == datetime(2023, 3, 14, 9, 6, tzinfo=timezone.utc)
    assert b.ts == datetime(2023, 3, 14, 9, 7, 30) and b.source_id == "m-2" and b.reply_to == "m-1"
    assert b.attachments[0].open is not None and b.attachments[0].size == 8
    assert b.reactions[0].emoji == "❤️"
    assert p.events[0].ts == datetime(2023, 3, 14, 7, 8, tzinfo=timezone.utc) and p.events[0].kind == "join"


def test_bad_lines_are_problems_with_line_numbers_and_no_content(tmp_path):
    f = write(
        tmp_path / "x.jsonl",
        HEADER
        + "\n".join(
            [
                '{"type": "chat", "source": "s", "key": "k", "title": "t"}',
                "{not json at all: secret words",
                '{"type": "message", "chat": "k", "ts": "yesterday", "sender": "a", "text": "secret words"}',
                '{"type": "message", "chat": "k", "sender": "a", "text": "no time"}',
                '{"type": "message", "chat": "k", "ts": "2020-01-01T00:00:00Z", "sender": "a", "text": "ok",'
                ' "kind": "weird"}',
                '{"type": "message", "chat": "k", "ts": "2020-01-01T00:00:00Z", "sender": "a", "text": "fine"}',
            ]
        )
        + "\n",
    )
    p = parse(f)
    assert [m.text for m in p.messages] == ["fine"]
    assert [pr.line for pr in p.problems] == [3, 4, 5, 6]
    assert all("secret" not in str(pr) and "yesterday" not in str(pr) for pr in p.problems)


def test_attachment_outside_the_folder_is_refused(tmp_path):
    f = write(
        tmp_path / "d" / "x.jsonl",
        HEADER + '{"type": "chat", "source": "s", "key": "k", "title": "t"}\n'
        '{"type": "message", "chat": "k", "ts": "2020-01-01T00:00:00Z", "sender": "a", "text": "",'
        ' "attachments": [{"name": "p", "path": "../../etc/passwd"}]}\n',
    )
    p = parse(f)
    assert not p.messages and p.problems and "leaves" in p.problems[0].message


@pytest.mark.parametrize("content", ["", '{"type": "other"}\n', "garbage\n", '{"type": "talkvault", "version": 9}\n'])
def test_files_without_a_valid_header_are_refused(tmp_path, content):
    f = write(tmp_path / "x.jsonl", content)
    with pytest.raises(ExportError):
        parse(f, "jsonl")


def test_invalid_utf8_is_an_error_with_a_line(tmp_path):
    f = tmp_path / "x.jsonl"
    f.write_bytes(HEADER.encode() + b'{"type": "chat", "source": "s", "key": "k", "title": "\xff\xfe"}\n')
    with pytest.raises(ExportError, match="line 2"):
        parse(f, "jsonl")


def test_kinds_outside_the_lists(tmp_path):
    """An unknown message or event kind is a problem (the line is refused); an unknown chat or
    attachment kind, a hint only, reads as `unknown` / `file` so that the message is kept."""
    f = write(
        tmp_path / "x.jsonl",
        HEADER
        + "\n".join(
            [
                '{"type": "chat", "source": "s", "key": "k", "title": "t", "kind": "private"}',
                '{"type": "message", "chat": "k", "ts": "2020-01-01T00:00:00Z", "sender": "a", "text": "x",'
                ' "kind": "image", "attachments": [{"name": "p.bin", "kind": "blob"}, {"name": "q.jpg"}]}',
                '{"type": "event", "chat": "k", "ts": "2020-01-01T00:00:00Z", "text": "e", "kind": "text"}',
                '{"type": "event", "chat": "k", "ts": "2020-01-01T00:00:00Z", "text": "c", "kind": "call"}',
            ]
        )
        + "\n",
    )
    p = parse(f)
    assert p.chats[0].kind == "unknown"
    assert [(a.name, a.kind) for a in p.messages[0].attachments] == [("p.bin", "file"), ("q.jpg", "file")]
    assert [e.kind for e in p.events] == ["call"]
    assert [pr.line for pr in p.problems] == [4] and "unknown event kind" in p.problems[0].message
