"""Google Chat (Takeout) and legacy Hangouts.json: a Takeout built here from the real layouts, in
every form a person may hand over (Takeout folder, Google Chat folder, one conversation, zip)."""

from __future__ import annotations

import json
import shutil
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import importers
from importers import google_chat
from importers.google_chat.dates import parse_chat_date
from tests.conftest import FIXTURES
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    DELETED,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GROUP,
    IMAGE,
    TEXT,
    Chat,
    Message,
)

UTC = timezone.utc
NNBSP = "\u202f"
SPACE = "Space AAAAxyz"
DM = "DM BBBBqrs"
HANGOUT = "UgzHangoutGroup"

MEI = {"name": "Mei Chen", "email": "Mei@Example.com", "user_type": "Human"}
OMAR = {"name": "عمر الفاروق", "email": "omar@example.com", "user_type": "Human"}
NOA = {"name": "נועה לוי", "email": "noa@example.com", "user_type": "Human"}
LI = {"name": "李伟", "email": "li@example.com", "user_type": "Human"}


def msg(mid: str, creator: dict[str, str], date: str, text: str | None = None, **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"creator": creator, "created_date": date}
    if text is not None:
        d["text"] = text
    d.update(topic_id=mid.split("/")[1], message_id=mid, **kw)
    return d


SPACE_MESSAGES = [
    msg("AAAAxyz/t1/t1", OMAR, "Monday, January 8, 2024 at 10:03:41 AM UTC", "مرحبا بالجميع"),
    msg(
        "AAAAxyz/t2/t2",
        MEI,
        f"Monday, January 8, 2024 at 10:04:00{NNBSP}AM UTC",
        "警察来了吗？",
        reactions=[{"emoji": {"unicode": "👍"}, "reactor_emails": ["noa@example.com", "omar@example.com"]}],
    ),
    msg(
        "AAAAxyz/t3/t3",
        NOA,
        "Monday, January 8, 2024 at 2:05:00 PM PST",
        "שלום, עוד לא",
        quoted_message_metadata={"creator": OMAR, "text": "مرحبا بالجميع", "message_id": "AAAAxyz/t1/t1"},
    ),
    msg(
        "AAAAxyz/t4/t4",
        OMAR,
        "Monday, January 8, 2024 at 10:10:00 AM UTC",
        "fixed typo",
        updated_date="Monday, January 8, 2024 at 10:12:30 AM UTC",
    ),
    msg(
        "AAAAxyz/t5/t5",
        OMAR,
        "Monday, January 8, 2024 at 10:20:00 AM UTC",
        "看这只猫",
        attached_files=[{"original_name": "cat.jpg", "export_name": "File-cat.jpg"}],
    ),
    msg(
        "AAAAxyz/t6/t6",
        NOA,
        "Monday, January 8, 2024 at 10:21:00 AM UTC",
        attached_files=[{"original_name": "plan.pdf", "export_name": "File-plan.pdf"}],
    ),
    msg(
        "AAAAxyz/t7/t7",
        MEI,
        "Monday, January 8, 2024 at 10:22:00 AM UTC",
        attached_files=[{"original_name": "4926?account_id=3.png", "export_name": "File-4926?account_id=3.png"}],
    ),
    msg(
        "AAAAxyz/t8/t8",
        OMAR,
        "Monday, January 8, 2024 at 10:23:00 AM UTC",
        deletion_metadata={"deletion_type": "CREATOR"},
    ),
    msg("AAAAxyz/t9/t9", NOA, "Monday, January 8, 2024 at 10:24:00 AM UTC", "ok"),
    msg("AAAAxyz/t9/ta", NOA, "Monday, January 8, 2024 at 10:24:00 AM UTC", "ok"),
    msg("AAAAxyz/tb/tb", OMAR, "sometime last week", "lost"),
    msg("AAAAxyz/tc/tc", LI, "Tuesday, 9 January 2024 at 22:41:03 UTC", "明天见"),
]

DM_MESSAGES = [
    msg("BBBBqrs/u1/u1", LI, "Wednesday, January 10, 2024 at 8:00:00 AM UTC", "你好，警察局在哪里？"),
    msg("BBBBqrs/u2/u2", MEI, "Wednesday, January 10, 2024 at 8:01:00 AM UTC", "就在前面"),
]


def pid(gaia: str) -> dict[str, str]:
    return {"gaia_id": gaia, "chat_id": gaia}


def hevent(eid: str, sender: str, micros: int, event_type: str, **body: Any) -> dict[str, Any]:
    return {
        "conversation_id": {"id": HANGOUT},
        "sender_id": pid(sender),
        "timestamp": str(micros),
        "self_event_state": {"user_id": pid("100")},
        "event_id": eid,
        "event_type": event_type,
        **body,
    }


def text_message(*segments: dict[str, Any], attachment: list[Any] | None = None) -> dict[str, Any]:
    content: dict[str, Any] = {"segment": list(segments)}
    if attachment is not None:
        content["attachment"] = attachment
    return {"chat_message": {"message_content": content}}


T0 = 1_369_539_622_561_784  # 2013-05-26T03:40:22.561784Z

HANGOUT_EVENTS = [
    hevent(
        "e1",
        "200",
        T0,
        "HANGOUT_EVENT",
        hangout_event={"event_type": "START_HANGOUT", "media_type": "AUDIO_VIDEO", "participant_id": [pid("200")]},
    ),
    hevent(
        "e2",
        "200",
        T0 + 102_000_000,
        "HANGOUT_EVENT",
        hangout_event={
            "event_type": "END_HANGOUT",
            "media_type": "AUDIO_VIDEO",
            "participant_id": [pid("200"), pid("100")],
            "hangout_duration_secs": "102",
        },
    ),
    hevent(
        "e3",
        "100",
        T0 + 200_000_000,
        "REGULAR_CHAT_MESSAGE",
        **text_message(
            {"type": "TEXT", "text": "警察说"},
            {"type": "LINE_BREAK", "text": "\n"},
            {"type": "LINK", "text": "https://example.org/a", "link_data": {"link_target": "https://example.org/a"}},
        ),
    ),
    hevent(
        "e4",
        "300",
        T0 + 300_000_000,
        "REGULAR_CHAT_MESSAGE",
        **text_message(
            attachment=[
                {
                    "embed_item": {
                        "plus_photo": {
                            "url": "https://plus.google.com/photos/albums/p1?pid=1",
                            "original_content_url": "https://lh3.googleusercontent.com/abc/IMG_0001.jpg",
                            "media_type": "PHOTO",
                        }
                    },
                    "id": "att1",
                }
            ]
        ),
    ),
    hevent(
        "e5", "200", T0 + 400_000_000, "ADD_USER", membership_change={"type": "JOIN", "participant_id": [pid("400")]}
    ),
    hevent(
        "e6",
        "200",
        T0 + 500_000_000,
        "RENAME_CONVERSATION",
        conversation_rename={"new_name": "周末 رحلة", "old_name": ""},
    ),
    hevent("e7", "300", T0 + 600_000_000, "REGULAR_CHAT_MESSAGE", **text_message({"type": "TEXT", "text": "ok"})),
    hevent("e8", "300", T0 + 600_000_000, "REGULAR_CHAT_MESSAGE", **text_message({"type": "TEXT", "text": "ok"})),
    hevent(
        "e9",
        "400",
        T0 + 700_000_000,
        "REMOVE_USER",
        membership_change={"type": "LEAVE", "participant_id": [pid("400")]},
    ),
    hevent("e10", "200", T0 + 800_000_000, "OTR_MODIFICATION", otr_modification={"new_otr_status": "OFF_THE_RECORD"}),
    {
        "conversation_id": {"id": HANGOUT},
        "sender_id": pid("200"),
        "timestamp": "soon",
        "event_id": "bad",
        "event_type": "REGULAR_CHAT_MESSAGE",
    },
]

HANGOUT_HEADER = {
    "conversation_id": {"id": HANGOUT},
    "conversation": {
        "id": {"id": HANGOUT},
        "type": "GROUP",
        "self_conversation_state": {"self_read_state": {"participant_id": pid("100"), "latest_read_timestamp": "0"}},
        "participant_data": [
            {"id": pid("100"), "fallback_name": "Mei Chen"},
            {"id": pid("200"), "fallback_name": "Omar"},
            {"id": pid("300"), "fallback_name": "נועה"},
            {"id": pid("400"), "fallback_name": "王芳"},
        ],
    },
}


def hangouts_doc() -> dict[str, Any]:
    return {"conversations": [{"conversation": HANGOUT_HEADER, "events": HANGOUT_EVENTS}]}


def old_hangouts_doc() -> dict[str, Any]:
    """The pre-2018 layout: conversation_state[] with the details and `event` beside them."""
    return {
        "continuation_end_timestamp": "1400000000000000",
        "conversation_state": [
            {
                "conversation_id": {"id": HANGOUT},
                "conversation_state": {
                    "conversation_id": {"id": HANGOUT},
                    "conversation": HANGOUT_HEADER["conversation"],
                    "event": HANGOUT_EVENTS,
                },
            }
        ],
    }


def write_json(path: Path, doc: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def takeout(root: Path, *, hangouts: bool = True) -> Path:
    """Takeout/Google Chat/{Groups,Users} (+ Takeout/Hangouts/Hangouts.json) as Google writes them."""
    chat = root / "Takeout" / "Google Chat"
    write_json(
        chat / "Users" / "User 1111" / "user_info.json",
        {
            "user": MEI,
            "membership_info": [{"group_id": SPACE, "group_name": "家庭群", "membership_state": "MEMBER_JOINED"}],
        },
    )
    space = chat / "Groups" / SPACE
    write_json(space / "group_info.json", {"name": "家庭群 عائلة", "members": [MEI, OMAR, NOA, LI]})
    write_json(space / "messages.json", {"messages": SPACE_MESSAGES})
    (space / "File-cat.jpg").write_bytes(b"\xff\xd8\xff\xe0 cat")
    (space / "File-4926_account_id=3.png").write_bytes(b"\x89PNG account")
    dm = chat / "Groups" / DM
    write_json(dm / "group_info.json", {"members": [MEI, LI]})
    write_json(dm / "messages.json", {"messages": DM_MESSAGES})
    if hangouts:
        write_json(root / "Takeout" / "Hangouts" / "Hangouts.json", hangouts_doc())
    return root / "Takeout"


def zip_tree(folder: Path, dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(folder.parent.rglob("*")):
            if p.is_file() and p.is_relative_to(folder):
                zf.write(p, p.relative_to(folder.parent).as_posix())
    return dest


def by_id(result: Parsed) -> dict[str, Any]:
    return {r.source_id: r for r in [*result.messages, *result.events] if r.source_id}


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Monday, January 8, 2024 at 10:03:41 AM UTC", datetime(2024, 1, 8, 10, 3, 41, tzinfo=UTC)),
        (f"Monday, January 8, 2024 at 12:03:41{NNBSP}AM UTC", datetime(2024, 1, 8, 0, 3, 41, tzinfo=UTC)),
        ("Monday, January 8, 2024 at 12:03:41 PM UTC", datetime(2024, 1, 8, 12, 3, 41, tzinfo=UTC)),
        ("Monday, January 8, 2024 at 2:05:00 PM PST", datetime(2024, 1, 8, 22, 5, tzinfo=UTC)),
        ("Monday, July 8, 2024 at 2:05:00 PM PDT", datetime(2024, 7, 8, 21, 5, tzinfo=UTC)),
        ("Tuesday, 9 January 2024 at 22:41:03 UTC", datetime(2024, 1, 9, 22, 41, 3, tzinfo=UTC)),
        ("Tuesday, 9 January 2024 at 22:41:03 CET", datetime(2024, 1, 9, 21, 41, 3, tzinfo=UTC)),
        ("Tuesday, 9 January 2024 at 22:41:03 GMT+05:30", datetime(2024, 1, 9, 17, 11, 3, tzinfo=UTC)),
        ("Tuesday, 9 January 2024 at 22:41:03\u00a0GMT-3", datetime(2024, 1, 10, 1, 41, 3, tzinfo=UTC)),
    ],
)
def test_dates(text: str, expected: datetime) -> None:
    assert parse_chat_date(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "sometime",
        "Monday, Smarch 8, 2024 at 10:03:41 AM UTC",
        "Monday, January 8, 2024 at 13:03:41 PM UTC",
        "Monday, January 8, 2024 at 10:03:41 AM XYZ",
        "Monday, February 30, 2024 at 10:03:41 AM UTC",
        "2024-01-08T10:03:41",
    ],
)
def test_dates_refused(text: str) -> None:
    assert parse_chat_date(text) is None


_DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


@settings(max_examples=200, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    space=st.sampled_from([" ", NNBSP, "\u00a0"]),
    day_first=st.booleans(),
)
def test_dates_round_trip(when: datetime, space: str, day_first: bool) -> None:
    """Any second, written the way Takeout writes it (en-US 12-hour or day-first 24-hour), reads back."""
    when = when.replace(microsecond=0, tzinfo=UTC)
    day, month = _DAYS[when.weekday()], _MONTHS[when.month - 1]
    if day_first:
        text = f"{day}, {when.day} {month} {when.year} at {when:%H:%M:%S} UTC"
    else:
        hour = when.hour % 12 or 12
        text = f"{day}, {month} {when.day}, {when.year} at {hour}:{when:%M:%S}{space}{when:%p} UTC"
    assert parse_chat_date(text) == when


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_dates_never_raise(text: str) -> None:
    result = parse_chat_date(text)
    assert result is None or result.tzinfo is not None


# --- the Takeout --------------------------------------------------------------------------------


def check_google_chat(result: Parsed, where: str, *, read: bool = True) -> None:
    """What the fixture must give. `read`: whether attachments can still be opened (a zip's cannot
    once the parser is done; tests.importers.util.parse reads them while it runs)."""
    chats = {c.key: c for c in result.chats if c.source == "googlechat"}
    assert set(chats) == {SPACE, DM}
    assert chats[SPACE].title == "家庭群 عائلة" and chats[SPACE].kind == GROUP
    assert chats[SPACE].participants == ("Mei Chen", "عمر الفاروق", "נועה לוי", "李伟")
    assert chats[DM].title == "李伟" and chats[DM].kind == DIRECT  # a DM is named after the other member

    msgs = [m for m in result.messages if m.chat in chats]
    assert len(msgs) == 13  # 12 + 2 in the two groups, less the one without a readable date
    assert Counter(m.chat for m in msgs) == {SPACE: 11, DM: 2}
    problems = [p for p in result.problems if "Hangouts" not in p.path]
    assert [p.message for p in problems] == ["message 11 has no created_date this reader understands; skipped"]
    assert problems[0].path.endswith(f"{SPACE}/messages.json") and where in problems[0].path
    m = {x.source_id: x for x in msgs}

    first = m["AAAAxyz/t1/t1"]
    assert (first.sender, first.sender_id, first.from_me, first.kind) == (
        "عمر الفاروق",
        "omar@example.com",
        False,
        TEXT,
    )
    assert first.ts == datetime(2024, 1, 8, 10, 3, 41, tzinfo=UTC)
    assert first.extra["topic_id"] == "t1"

    own = m["AAAAxyz/t2/t2"]
    assert own.from_me is True and own.sender == "Mei Chen" and own.sender_id == "mei@example.com"
    assert own.ts == datetime(2024, 1, 8, 10, 4, tzinfo=UTC)  # U+202F before AM
    assert [(r.emoji, r.sender) for r in own.reactions] == [("👍", "נועה לוי"), ("👍", "عمر الفاروق")]

    reply = m["AAAAxyz/t3/t3"]
    assert reply.reply_to == "AAAAxyz/t1/t1" and reply.text == "שלום, עוד לא"
    assert reply.ts == datetime(2024, 1, 8, 22, 5, tzinfo=UTC)  # 2:05 PM PST

    edited = m["AAAAxyz/t4/t4"]
    assert edited.edited == datetime(2024, 1, 8, 10, 12, 30, tzinfo=UTC)
    assert m["AAAAxyz/t1/t1"].edited is None

    cat = m["AAAAxyz/t5/t5"]
    assert cat.kind == IMAGE and cat.text == "看这只猫"
    (att,) = cat.attachments
    assert (att.name, att.kind, att.mime, att.size) == ("cat.jpg", IMAGE, "image/jpeg", 8)
    assert att.open is not None
    if read:
        with att.open() as fh:
            assert fh.read() == b"\xff\xd8\xff\xe0 cat"

    missing = m["AAAAxyz/t6/t6"]
    assert missing.kind == FILE and missing.text == ""
    assert [(a.name, a.open, a.size) for a in missing.attachments] == [("plan.pdf", None, None)]

    renamed = m["AAAAxyz/t7/t7"].attachments[0]  # export_name's "?" is "_" on disk
    assert renamed.kind == IMAGE and renamed.open is not None
    if read:
        with renamed.open() as fh:
            assert fh.read() == b"\x89PNG account"

    deleted = m["AAAAxyz/t8/t8"]
    assert (deleted.kind, deleted.text, deleted.attachments) == (DELETED, "", ())
    assert deleted.extra["deletion"] == "CREATOR"

    oks = [x for x in msgs if x.text == "ok"]
    assert len(oks) == 2 and oks[0].ts == oks[1].ts and oks[0].source_id != oks[1].source_id

    assert m["AAAAxyz/tc/tc"].ts == datetime(2024, 1, 9, 22, 41, 3, tzinfo=UTC)  # day-first English
    assert m["BBBBqrs/u1/u1"].sender == "李伟" and m["BBBBqrs/u2/u2"].from_me is True
    # each Chat comes before its messages
    for key in chats:
        chat_at = next(i for i, r in enumerate(result.records) if isinstance(r, Chat) and r.key == key)
        first_at = next(i for i, r in enumerate(result.records) if isinstance(r, Message) and r.chat == key)
        assert chat_at < first_at


def check_hangouts(result: Parsed) -> None:
    (chat,) = [c for c in result.chats if c.source == "hangouts"]
    assert (chat.key, chat.kind, chat.title) == (HANGOUT, GROUP, "Omar, נועה, 王芳")
    assert chat.participants == ("Mei Chen", "Omar", "נועה", "王芳")
    msgs = [m for m in result.messages if m.chat == HANGOUT]
    events = [e for e in result.events if e.chat == HANGOUT]
    assert len(msgs) == 4 and len(events) == 6
    got = by_id(result)
    start, end = got["e1"], got["e2"]
    assert (start.kind, start.text, start.actor) == (EV_CALL, "video call started", "Omar")
    assert (end.kind, end.text, end.extra["duration_s"]) == (EV_CALL, "video call ended after 102 s", 102)
    assert start.ts == datetime(2013, 5, 26, 3, 40, 22, 561784, tzinfo=UTC)
    own = got["e3"]
    assert (own.text, own.from_me, own.sender, own.sender_id) == (
        "警察说\nhttps://example.org/a",
        True,
        "Mei Chen",
        "100",
    )
    photo = got["e4"]
    assert photo.kind == IMAGE and photo.from_me is False and photo.sender == "נועה"
    assert [(a.name, a.open) for a in photo.attachments] == [("IMG_0001.jpg", None)]
    assert (got["e5"].kind, got["e5"].text) == (EV_JOIN, "Omar added 王芳")
    assert (got["e6"].kind, got["e6"].text) == (EV_TITLE, "Omar renamed the conversation to 周末 رحلة")
    assert (got["e9"].kind, got["e9"].text) == (EV_LEAVE, "王芳 left")
    assert (got["e10"].kind, got["e10"].text) == (EV_SYSTEM, "otr modification")
    oks = [got["e7"], got["e8"]]
    assert [o.text for o in oks] == ["ok", "ok"] and oks[0].ts == oks[1].ts
    assert any("has no readable timestamp" in p.message for p in result.problems)


def test_takeout_folder(tmp_path: Path) -> None:
    root = takeout(tmp_path)
    for path in (tmp_path, root):
        assert importers.detect(path).name == "google-chat"
        result = parse(path)
        check_google_chat(result, str(path))
        check_hangouts(result)
        assert len(result.problems) == 2


def test_takeout_zip_reads_members_in_place(tmp_path: Path) -> None:
    root = takeout(tmp_path / "t")
    archive = zip_tree(root, tmp_path / "takeout-20240110T000000Z-001.zip")
    assert importers.detect(archive).name == "google-chat"
    result = parse(archive)
    check_google_chat(result, str(archive), read=False)
    check_hangouts(result)
    assert not list((tmp_path).glob("*.jpg"))  # nothing was unpacked
    contents = {}
    for rec in importers.get("google-chat").parse(archive, importers.ParseOptions()):
        for att in getattr(rec, "attachments", ()):
            if att.open is not None:
                with att.open() as fh:
                    contents[att.name] = fh.read()
    assert contents == {"cat.jpg": b"\xff\xd8\xff\xe0 cat", "4926?account_id=3.png": b"\x89PNG account"}


def test_google_chat_folder_group_folder_and_file(tmp_path: Path) -> None:
    root = takeout(tmp_path, hangouts=False)
    chat = root / "Google Chat"
    assert importers.detect(chat).name == "google-chat"
    check_google_chat(parse(chat), str(chat))

    group = chat / "Groups" / SPACE
    for path in (group, group / "messages.json"):
        assert importers.detect(path).name == "google-chat"
        result = parse(path)
        assert [c.key for c in result.chats] == [SPACE]
        assert len(result.messages) == 11
        own = next(m for m in result.messages if m.source_id == "AAAAxyz/t2/t2")
        assert own.from_me is True  # Users/ found two levels up


def test_lone_conversation_folder(tmp_path: Path) -> None:
    takeout(tmp_path / "t", hangouts=False)
    lone = shutil.copytree(tmp_path / "t" / "Takeout" / "Google Chat" / "Groups" / DM, tmp_path / DM)
    result = parse(lone, "google-chat")
    assert [c.key for c in result.chats] == [DM]
    assert [m.from_me for m in result.messages] == [None, None]  # no Users/: unknown, not "no"
    assert result.notes


def test_hangouts_alone_both_layouts(tmp_path: Path) -> None:
    new = write_json(tmp_path / "new" / "Hangouts.json", hangouts_doc())
    old = write_json(tmp_path / "old" / "Hangouts.json", old_hangouts_doc())
    for path in (new, old, new.parent):
        assert importers.detect(path).name == "hangouts"
        check_hangouts(parse(path))
    bare = takeout(tmp_path / "h", hangouts=True)
    shutil.rmtree(bare / "Google Chat")
    assert importers.detect(bare).name == "hangouts"
    archive = zip_tree(bare, tmp_path / "h.zip")
    assert importers.detect(archive).name == "hangouts"
    check_hangouts(parse(archive))


def test_hangouts_events_before_header_are_kept(tmp_path: Path) -> None:
    doc = {"conversations": [{"events": HANGOUT_EVENTS, "conversation": HANGOUT_HEADER}]}
    check_hangouts(parse(write_json(tmp_path / "Hangouts.json", doc), "hangouts"))


# --- into a vault -----------------------------------------------------------------------------------


def test_import_into_vault_search_and_reimport(tmp_path: Path, new_vault: Any) -> None:
    archive = zip_tree(takeout(tmp_path / "t"), tmp_path / "takeout.zip")
    report = new_vault.import_path(archive)
    assert report.format == "google-chat"
    assert report.added == 13 + 4 and report.events == 6
    assert report.attachments == 2
    hits = new_vault.search("警察")
    assert {(h["source"], h["sender"]) for h in hits} == {
        ("googlechat", "Mei Chen"),
        ("googlechat", "李伟"),
        ("hangouts", "Mei Chen"),
    }
    assert len(new_vault.search("警察 source:googlechat")) == 2
    again = new_vault.import_path(archive)
    assert again.added == 0 and again.duplicates == 13 + 4 + 6 and again.events == 0
    chats = {c["title"]: c for c in new_vault.chats()}
    assert chats["家庭群 عائلة"]["messages"] == 11
    assert chats["Omar, נועה, 王芳"]["events"] == 6


# --- detection ------------------------------------------------------------------------------------


def test_no_other_fixture_detects_as_google_chat_or_hangouts(tmp_path: Path) -> None:
    paths = [p for p in FIXTURES.rglob("*") if not p.name.startswith(".")]
    assert len(paths) > 20
    for p in paths:
        for fmt in google_chat.FORMATS:
            assert not fmt.detect(p), (fmt.name, p)


def test_lookalikes_are_not_claimed(tmp_path: Path) -> None:
    # Discord's data package also has messages.json files (an array, beside channel.json)
    discord = write_json(tmp_path / "messages" / "c123" / "messages.json", [{"ID": 1, "Contents": "x"}])
    write_json(discord.parent / "channel.json", {"id": "123"})
    # a messages.json without group_info.json beside it, and a JSON object with other keys
    plain = write_json(tmp_path / "x" / "messages.json", {"messages": [{"creator": {}, "created_date": "x"}]})
    other = write_json(tmp_path / "y" / "Hangouts.json", {"conversations": [{"id": 1}]})
    for p in (discord, discord.parent, plain, plain.parent, other, tmp_path):
        for fmt in google_chat.FORMATS:
            assert not fmt.detect(p), (fmt.name, p)


# --- malformed input --------------------------------------------------------------------------------


def test_malformed_messages_json_is_a_clean_error(tmp_path: Path) -> None:
    root = takeout(tmp_path, hangouts=False)
    group = root / "Google Chat" / "Groups" / SPACE
    raw = (group / "messages.json").read_bytes()
    (group / "messages.json").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ExportError) as err:
        list(google_chat.parse_google_chat(group, importers.ParseOptions()))
    assert "messages.json" in str(err.value) and "警察" not in str(err.value)
    # in a whole Takeout, the other conversation still imports and the broken one is a Problem
    result = parse(root, "google-chat")
    assert [m.chat for m in result.messages].count(DM) == 2
    broken = [p for p in result.problems if "not readable" in p.message]
    assert len(broken) == 1 and broken[0].path.endswith("messages.json")
    assert all("مرحبا" not in str(p) for p in result.problems)


def test_malformed_records_are_problems(tmp_path: Path) -> None:
    root = takeout(tmp_path, hangouts=False)
    group = root / "Google Chat" / "Groups" / DM
    write_json(group / "messages.json", {"messages": [42, {"creator": LI}, *DM_MESSAGES]})
    result = parse(group, "google-chat")
    assert len(result.messages) == 2
    assert [p.message for p in result.problems] == [
        "message 1 is not an object; skipped",
        "message 2 has no created_date this reader understands; skipped",
    ]


def test_malformed_hangouts_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "Hangouts.json"
    path.write_text('{"conversations": [{"conversation": {"conversation_id": {"id": "x"}, ', encoding="utf-8")
    assert importers.detect(path).name == "hangouts"
    with pytest.raises(ExportError) as err:
        list(importers.get("hangouts").parse(path, importers.ParseOptions()))
    assert "Hangouts.json" in str(err.value)
    with pytest.raises(ExportError):
        list(importers.get("google-chat").parse(tmp_path / "nothing-here", importers.ParseOptions()))


def test_damaged_zip_is_a_clean_error(tmp_path: Path) -> None:
    archive = zip_tree(takeout(tmp_path / "t"), tmp_path / "takeout.zip")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(archive.read_bytes()[:-200])
    assert not google_chat.detect_google_chat(broken)
    with pytest.raises(ExportError) as err:
        list(importers.get("google-chat").parse(broken, importers.ParseOptions()))
    assert "broken.zip" in str(err.value)


def test_no_other_format_claims_a_takeout(tmp_path: Path) -> None:
    root = takeout(tmp_path / "t")
    archive = zip_tree(root, tmp_path / "takeout.zip")
    hangouts = root / "Hangouts" / "Hangouts.json"
    paths = [
        tmp_path / "t",
        root,
        root / "Google Chat",
        root / "Google Chat" / "Groups" / SPACE,
        hangouts,
        archive,
        *sorted(root.rglob("*.json")),
    ]
    for fmt in importers.formats():
        if fmt.source in ("googlechat", "hangouts"):
            continue
        for p in paths:
            assert not fmt.detect(p), (fmt.name, p)
