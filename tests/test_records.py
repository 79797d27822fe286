"""The record contract's kinds: one Literal type each, which mypy checks every importer against."""

from __future__ import annotations

import shutil
import subprocess
import sys
from typing import get_args

import pytest

from tests.conftest import ROOT
from vault import records as r


def test_each_kind_list_is_its_literal_type():
    assert set(get_args(r.MessageKind)) == r.MESSAGE_KINDS
    assert set(get_args(r.EventKind)) == r.EVENT_KINDS
    assert set(get_args(r.ChatKind)) == r.CHAT_KINDS
    constants = {r.TEXT, r.IMAGE, r.VIDEO, r.AUDIO, r.STICKER, r.GIF, r.FILE, r.CONTACT, r.LOCATION, r.POLL}
    assert constants | {r.CALL, r.DELETED, r.MEDIA, r.OTHER} == r.MESSAGE_KINDS
    events = {r.EV_SYSTEM, r.EV_JOIN, r.EV_LEAVE, r.EV_TITLE, r.EV_CALL, r.EV_ENCRYPTION, r.EV_PIN}
    assert events == r.EVENT_KINDS
    assert {r.DIRECT, r.GROUP, r.CHANNEL, r.UNKNOWN} == r.CHAT_KINDS


def test_a_kind_read_from_data_is_checked():
    assert [r.message_kind(k) for k in sorted(r.MESSAGE_KINDS)] == sorted(r.MESSAGE_KINDS)
    assert [r.event_kind(k) for k in sorted(r.EVENT_KINDS)] == sorted(r.EVENT_KINDS)
    assert [r.chat_kind(k) for k in sorted(r.CHAT_KINDS)] == sorted(r.CHAT_KINDS)
    assert r.message_kind("call") == "call" and r.event_kind("call") == "call"  # both lists have it
    for bad in ("", "Text", "weird", "join "):
        assert r.message_kind(bad) is None and r.event_kind(bad) is None and r.chat_kind(bad) is None
    assert r.message_kind("join") is None and r.event_kind("text") is None and r.chat_kind("text") is None


def _mypy() -> list[str]:
    exe = shutil.which("mypy", path=str(ROOT / ".venv" / "bin")) or shutil.which("mypy")
    if exe:
        return [exe]
    pytest.importorskip("mypy")
    return [sys.executable, "-m", "mypy"]


def test_mypy_refuses_a_kind_outside_the_lists(tmp_path):
    """An importer that gives a record a loose string, or a misspelt kind, no longer type-checks."""
    code = (
        "from datetime import datetime\n"
        "from vault.records import TEXT, Attachment, Chat, Event, Message\n"
        "def loose(kind: str) -> Message:\n"
        "    return Message('k', datetime.now(), None, '', kind=kind)\n"
        "Message('k', datetime.now(), None, '', kind='txt')\n"
        "Event('k', datetime.now(), '', kind=TEXT)\n"
        "Attachment('a', kind='join')\n"
        "Chat('s', 'k', 't', kind='private')\n"
        "Message('k', datetime.now(), None, '', kind=TEXT)\n"
    )
    f = tmp_path / "importer_like.py"
    f.write_text(code)
    run = subprocess.run(
        [*_mypy(), "--no-incremental", "--cache-dir", str(tmp_path / "cache"), str(f)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    errors = [line for line in run.stdout.splitlines() if ": error:" in line]
    assert sorted(int(line.split(":")[1]) for line in errors) == [4, 5, 6, 7, 8], run.stdout


def _every_field(cls: type) -> dict[str, object]:
    """A value for each field of a Message or Event, none of them its default."""
    from datetime import datetime, timezone

    values: dict[str, object] = {
        "chat": "c1",
        "ts": datetime(2024, 2, 3, 4, 5, 6, 7, tzinfo=timezone.utc),
        "sender": "Mei",
        "text": "hello 你好",
        "kind": "image" if cls is r.Message else "join",
        "source_id": "42",
        "sender_id": "u7",
        "from_me": True,
        "reply_to": "41",
        "edited": datetime(2024, 2, 3, 5, 0),
        "forwarded_from": "Li",
        "attachments": (r.Attachment(name="a.jpg"),),
        "reactions": (r.Reaction(emoji="👍"),),
        "line": 9,
        "extra": {"k": [1, 2]},
        "identity": "00" * 16,
        "actor": "Ann",
    }
    import dataclasses

    return {f.name: values[f.name] for f in dataclasses.fields(cls)}


@pytest.mark.parametrize("cls,make", [(r.Message, r.new_message), (r.Event, r.new_event)])
def test_the_fast_constructors_make_the_same_records(cls, make):
    """new_message/new_event take the fields in the dataclass's order and make equal objects, with
    the same attributes in the same order (a field added to the dataclass must be added there)."""
    import dataclasses
    import inspect
    import pickle

    names = [f.name for f in dataclasses.fields(cls)]
    assert list(inspect.signature(make).parameters) == names
    full = _every_field(cls)
    required = {k: full[k] for k in names[: 4 if cls is r.Message else 3]}
    for kwargs in (full, required):
        made, slow = make(**kwargs), cls(**kwargs)  # type: ignore[operator]
        assert type(made) is cls and made == slow
        assert list(vars(made).items()) == list(vars(slow).items())
        assert pickle.loads(pickle.dumps(made)) == slow
    assert make(**required).extra is not make(**required).extra  # a fresh dict each, as default_factory
    with pytest.raises(dataclasses.FrozenInstanceError):
        make(**required).text = "x"  # type: ignore[misc]
