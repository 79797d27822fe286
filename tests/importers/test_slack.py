"""Slack workspace export: the corpus (corpus/EXPECTED.md §4), our fixture, bad input, threads."""

from __future__ import annotations

import functools
import io
import itertools
import json
import shutil
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from importers import slack
from importers.slack import slack_time
from importers.slack.text import render
from tests.conftest import CORPUS, FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    CHANNEL,
    DELETED,
    DIRECT,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    GROUP,
    IMAGE,
    OTHER,
)

WORKSPACE = FIXTURES / "slack" / "workspace"
UTC = timezone.utc


def slack_parse(path: Path) -> Parsed:
    return parse(path, "slack")


def by_id(result: Parsed) -> dict[str, Any]:
    return {r.source_id: r for r in [*result.messages, *result.events] if r.source_id}


def no_secrets(result: Parsed) -> None:
    """File URLs carry export tokens (?t=xoxe-…): nothing of them may reach the records."""
    for record in result.records:
        assert "xoxe" not in repr(record)
        assert "files-pri" not in repr(record)


# --- corpus ------------------------------------------------------------------------------------


@pytest.mark.corpus
def test_slack_export_viewer_testarchive() -> None:
    path = corpus_file("slack/slack-export-viewer/testarchive.zip")
    assert slack.detect(path)
    result = slack_parse(path)
    assert not result.problems
    chats = {c.key: c for c in result.chats}
    assert set(chats) == {"C0JGLMMNX", "C0JL6CGQ2"}
    assert chats["C0JGLMMNX"].title == "enrique"
    assert chats["C0JL6CGQ2"].title == "traveling-sailor"
    assert all(len(c.participants) == 4 and c.kind == CHANNEL for c in chats.values())
    # `created` is a string in this 2016 export
    assert chats["C0JGLMMNX"].extra["created"] == "2016-01-15T05:55:18+00:00"

    entries = [*result.messages, *result.events]
    assert len(entries) == 158
    per_chat = Counter(e.chat for e in entries)
    assert per_chat == {"C0JGLMMNX": 102, "C0JL6CGQ2": 56}
    subtypes = Counter(e.extra.get("subtype") for e in entries)
    assert subtypes == {
        "bot_message": 94,
        None: 49,
        "channel_join": 8,
        "bot_add": 3,
        "file_share": 3,
        "file_comment": 1,
    }
    assert Counter(e.kind for e in result.events) == {EV_JOIN: 8, EV_SYSTEM: 3}

    reacted = [m for m in result.messages if m.reactions]
    assert len(reacted) == 1
    assert [(r.emoji, r.sender) for r in reacted[0].reactions] == [(":botman:", "abilinski")]

    edited = [m for m in result.messages if m.edited]
    assert len(edited) == 1
    assert edited[0].source_id == "1458972985.000010"
    assert edited[0].edited == datetime(2016, 3, 26, 8, 32, 14, tzinfo=UTC)

    with_files = [m for m in result.messages if m.attachments]
    assert len(with_files) == 4  # the singular legacy `file`
    assert all(a.open is None for m in with_files for a in m.attachments)
    assert {a.name for m in with_files for a in m.attachments} == {
        "100_cities.js",
        "10_cities.js",
        "cities1000.js",
    }
    assert not any(m.reply_to for m in result.messages)  # no threads in 2016

    first = min(entries, key=lambda e: e.ts)
    assert first.ts == datetime(2016, 1, 15, 5, 55, 18, 2, tzinfo=UTC)
    assert first.text == "@hamza has joined the channel"  # <@U0BMQB6JE> → display name
    mention = next(m for m in result.messages if m.source_id == "1452837352.000006")
    assert mention.text.startswith("@abilinski: Created an issue")
    assert mention.sender == "hamza" and mention.sender_id == "U0BMQB6JE"
    no_secrets(result)


@pytest.mark.corpus
def test_slackdump_source_export() -> None:
    path = corpus_file("slack/slackdump/source_export.zip")
    assert slack.detect(path)
    result = slack_parse(path)
    assert not result.problems
    assert [(c.key, c.title, len(c.participants)) for c in result.chats] == [("CO69735E8A", "B75B4C7", 3)]
    entries = by_id(result)
    assert len(entries) == 16
    assert [e.kind for e in result.events] == [EV_JOIN]
    parents = {"1736478630.905399", "1736554801.872639", "1736554828.343759"}
    replies = {m.source_id: m.reply_to for m in result.messages if m.reply_to}
    assert len(replies) == 4
    assert set(replies.values()) == parents
    assert replies["1736554746.482349"] == "1736478630.905399"
    tombstone = entries["1736554828.343759"]
    assert tombstone.kind == DELETED and tombstone.text == ""
    assert replies["1736554838.911679"] == tombstone.source_id  # its reply stays attached
    assert sum(1 for m in result.messages if m.attachments) == 2
    edited_bots = [m for m in result.messages if m.edited and m.extra.get("bot_id")]
    assert len(edited_bots) == 1
    textless = entries["1736582524.607359"]  # the message without a `text` key
    assert textless.text == "" and textless.kind == IMAGE
    assert textless.attachments[0].mime == "image/jpeg"
    no_secrets(result)


@pytest.mark.corpus
def test_slackdump_workspace_lists() -> None:
    """channels/groups/mpims/dms.json without day files: every conversation is still listed."""
    path = corpus_file("slack/slackdump/export_fixtures")
    assert slack.detect(path)
    result = slack_parse(path)
    assert not result.problems and not result.messages
    kinds = Counter(c.kind for c in result.chats)
    assert kinds == {CHANNEL: 2, GROUP: 2, DIRECT: 8}
    chats = {c.key: c for c in result.chats}
    assert chats["CFCHDMLG3"].title == "general"
    assert chats["DGUHYUMAT"].participants == ("Slackbot", "cs")
    assert chats["DGSP8D83S"].participants == ("cs",)  # a DM with oneself
    assert chats["GJPBBJKE0"].participants == ("cs", "Seymore Arsehole", "Jane")


ZULIP_USERS = [
    {
        "id": "U06NU4E26M9",
        "name": "pieterceka123",
        "profile": {"display_name": "", "real_name": "Peter"},
    },
    {"id": "U074VRHQ11T", "name": "other", "profile": {"display_name": "Olga"}},
    {"id": "U061A5N1G", "name": "jane"},
    {"id": "U061A1R2R", "name": "john"},
]


@pytest.fixture
def zulip_export(tmp_path: Path) -> Path:
    """Zulip's Slack fixtures are messages, not an export: put each file into a day file."""
    base = corpus_file("slack/zulip")
    root = tmp_path / "zulip-export"
    (root / "random").mkdir(parents=True)
    shutil.copy(base / "channels.json", root / "channels.json")
    (root / "users.json").write_text(json.dumps(ZULIP_USERS), encoding="utf-8")
    shutil.copy(base / "test_slack_importer/random/2017-06-25.json", root / "random/2017-06-25.json")
    for fixture in sorted((base / "exported_messages_fixtures").glob("*.json")):
        data = json.loads(fixture.read_text(encoding="utf-8"))
        folder = root / fixture.stem
        folder.mkdir()
        day = folder / "2024-01-01.json"
        day.write_text(json.dumps(data if isinstance(data, list) else [data]), encoding="utf-8")
    return root


@pytest.mark.corpus
def test_zulip_fixtures(zulip_export: Path) -> None:
    assert slack.detect(zulip_export)
    result = slack_parse(zulip_export)
    assert not result.problems
    chats = {c.title: c for c in result.chats}
    assert chats["random"].key == "C061A0WJG"
    random = [m for m in result.messages if m.chat == "C061A0WJG"]
    assert [m.text for m in random] == ["edfadfa"]
    assert [e.kind for e in result.events if e.chat == "C061A0WJG"] == [EV_JOIN]
    assert any("not listed" in n.text for n in result.notes)

    def chat_of(name: str) -> list:
        return [m for m in result.messages if m.chat == chats[name].key]

    thread = {m.source_id: m.reply_to for m in chat_of("normal_thread")}
    assert thread == {
        "1434139102.000002": None,
        "1439868294.000007": "1434139102.000002",
        "1539868294.000007": None,
        "1449868294.000007": "1539868294.000007",  # a reply older than its parent
    }
    broadcast = {m.source_id: m for m in chat_of("thread_with_broadcast_reply")}
    assert len(broadcast) == 3
    assert broadcast["1434139104.000002"].reply_to == "1434139102.000002"
    assert broadcast["1434139104.000002"].extra["thread_broadcast"] is True

    (mention,) = chat_of("message_with_user_mentions")
    assert mention.text == "@Peter test user mention @Olga"
    assert mention.sender == "Peter"
    (emoji,) = chat_of("message_with_emojis")
    assert emoji.text == "Hello there! Here are some emojis :basketball: :snowboarder: :checkered_flag:"
    (files,) = chat_of("message_with_variety_files_and_rich_text")
    assert files.text == "message with *files  @Olga* \nF07A32DC2GG"
    assert len(files.attachments) == 2
    assert "application/vnd.slack-docs" in {a.mime for a in files.attachments}
    assert all(a.open is None for a in files.attachments)
    normal = chat_of("normal_messages")
    assert [m.text for m in normal] == ["@jane: hey!"]
    no_secrets(result)


# --- our own fixture ---------------------------------------------------------------------------


def test_workspace_fixture_conversations() -> None:
    assert slack.detect(WORKSPACE)
    result = slack_parse(WORKSPACE)
    chats = {c.key: c for c in result.chats}
    assert list(chats) == ["C100GEN", "C200RND", "G300PRV", "G400MP", "D500DM"]
    assert chats["G300PRV"].kind == CHANNEL and chats["G300PRV"].extra["is_private"] is True
    assert chats["G400MP"].kind == GROUP and chats["G400MP"].title == "anna.b, Bo Chen, cy"
    assert chats["D500DM"].kind == DIRECT and chats["D500DM"].title == "anna.b, Dänu 🚲"
    assert chats["C200RND"].participants == ("anna.b",)  # no day files: an empty chat
    # every chat comes before its messages
    seen: set[str] = set()
    for record in result.records:
        if hasattr(record, "key"):
            seen.add(record.key)
        elif hasattr(record, "chat"):
            assert record.chat in seen


def test_workspace_fixture_messages() -> None:
    result = slack_parse(WORKSPACE)
    entries = by_id(result)
    parent = entries["1699990100.000200"]
    assert parent.text == (
        "Plan for Friday? cc @Bo Chen see #random & the plan (https://example.com/plan?a=1&b=2) <draft>"
    )
    assert parent.sender == "anna.b"  # display_name first
    assert parent.edited == datetime(2023, 11, 14, 19, 29, 20, tzinfo=UTC)
    assert parent.ts == datetime(2023, 11, 14, 19, 28, 20, 200, tzinfo=UTC)
    assert [(r.emoji, r.sender) for r in parent.reactions] == [
        (":thumbsup:", "Bo Chen"),
        (":thumbsup:", "cy"),
        (":tada:", "Bo Chen"),
    ]
    # replies in the next day file attach to the parent; a broadcast reply too
    assert entries["1700050000.000100"].reply_to == parent.source_id
    assert entries["1700050100.000200"].reply_to == parent.source_id
    photo = entries["1699990200.000300"]
    assert photo.kind == IMAGE and photo.sender == "Bo Chen"
    (att,) = photo.attachments  # the tombstoned file is left out
    assert (att.name, att.mime, att.size, att.open) == ("IMG_0001.jpg", "image/jpeg", 52311, None)
    bot = entries["1699990300.000400"]
    assert bot.sender == "deploybot" and bot.sender_id == "B09DEPLOY"
    assert bot.text == "Deploy finished\nbuild 42 (https://ci.example.com/42) passed"
    empty = entries["1699990400.000500"]  # no text, blocks null
    assert empty.text == "" and empty.kind == OTHER
    assert entries["1699990500.000600"].text == "hi @anna.b 👋"  # from rich_text blocks
    assert entries["1699990600.000700"].kind == EV_SYSTEM  # channel_topic
    assert entries["1700050200.000300"].kind == EV_LEAVE
    tomb = entries["1699990800.000200"]
    assert tomb.kind == DELETED and tomb.text == ""
    assert entries["1699990900.000300"].reply_to == tomb.source_id
    assert entries["1699991100.000100"].text == "Grüezi! 🚲 dan@example.com"
    assert entries["1699991100.000100"].sender == "Dänu 🚲"
    # the message_changed notification is skipped, and said so
    assert "1699990950.000000" not in entries
    assert any("change notification" in n.text for n in result.notes)
    no_secrets(result)


def test_workspace_fixture_problems_name_no_content() -> None:
    result = slack_parse(WORKSPACE)
    messages = [p.message for p in result.problems]
    assert len(messages) == 3
    assert any("record 4: not a message object" in m for m in messages)
    assert any("record 5: missing or invalid ts" in m for m in messages)
    assert any("2023-11-16.json: not valid UTF-8 JSON at record 2" in m for m in messages)
    # the good record before the break in the damaged day file is kept
    assert any(m.text == "before the break" for m in result.messages)
    for problem in result.problems:
        for secret in ("no time", "Friday", "general", "anna", "Anna"):
            assert secret not in problem.message


def test_zip_with_top_folder_equals_folder(tmp_path: Path) -> None:
    archive = tmp_path / "Acme Slack export Nov 14 2023.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in sorted(WORKSPACE.rglob("*")):
            if f.is_file():
                zf.write(f, "Acme Slack export/" + f.relative_to(WORKSPACE).as_posix())
    assert slack.detect(archive)
    from_zip = slack_parse(archive)
    from_folder = slack_parse(WORKSPACE)
    assert from_zip.chats == from_folder.chats
    assert from_zip.messages == from_folder.messages
    assert from_zip.events == from_folder.events
    assert len(from_zip.problems) == len(from_folder.problems)


# --- detection and bad input -------------------------------------------------------------------


def other_apps_files() -> list[Path]:
    if not CORPUS.exists():
        return []
    return sorted(p for p in CORPUS.rglob("*") if "slack" not in p.relative_to(CORPUS).parts)


@pytest.mark.corpus
def test_detect_is_false_on_other_apps() -> None:
    paths = other_apps_files()
    if not paths:
        pytest.skip("sample corpus not available")
    assert [p for p in paths if slack.detect(p)] == []
    assert not slack.detect(CORPUS)


def test_detect_false_on_junk(tmp_path: Path) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(bytes(range(256)) * 50)
    empty = tmp_path / "empty"
    empty.mkdir()
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as zf:
        zf.writestr("result.json", "{}")
    lookalike = tmp_path / "lookalike"
    lookalike.mkdir()
    (lookalike / "users.json").write_text('{"users": []}')
    (lookalike / "channels.json").write_text('{"not": "a list"}')
    for p in (junk, empty, other_zip, lookalike, tmp_path / "missing", WORKSPACE / "users.json"):
        assert not slack.detect(p)


def test_truncated_zip_is_an_export_error(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for f in sorted(WORKSPACE.rglob("*.json")):
            zf.write(f, f.relative_to(WORKSPACE).as_posix())
    truncated = tmp_path / "truncated.zip"
    truncated.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    assert not slack.detect(truncated)
    with pytest.raises(ExportError):
        slack_parse(truncated)


def test_garbage_is_an_export_error(tmp_path: Path) -> None:
    garbage = tmp_path / "export.zip"
    garbage.write_bytes(b"\x00\xffPK\x03garbage" * 100)
    with pytest.raises(ExportError):
        slack_parse(garbage)
    with pytest.raises(ExportError):
        slack_parse(tmp_path / "does-not-exist.zip")
    empty = tmp_path / "empty-folder"
    empty.mkdir()
    with pytest.raises(ExportError):
        slack_parse(empty)


def test_member_escaping_the_archive_is_skipped(tmp_path: Path) -> None:
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("users.json", json.dumps(ZULIP_USERS))
        zf.writestr("channels.json", json.dumps([{"id": "C1", "name": "general"}]))
        zf.writestr(
            "general/2024-01-01.json",
            json.dumps([{"user": "U061A5N1G", "text": "hi", "ts": "1.5"}]),
        )
        zf.writestr("../x", "[]")
        zf.writestr("../general/2024-01-02.json", json.dumps([{"text": "sneaky", "ts": "2.0"}]))
    result = slack_parse(archive)
    assert [m.text for m in result.messages] == ["hi"]
    assert len(result.problems) == 1 and "to leave the archive" in result.problems[0].message


def test_bad_encodings_and_shapes_become_problems(tmp_path: Path) -> None:
    root = tmp_path / "export"
    (root / "general").mkdir(parents=True)
    (root / "users.json").write_bytes(b'[{"id": "U1", "name": "\xff\xfe"}]')
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}, "junk", {"id": 5}]))
    (root / "general/2024-01-01.json").write_bytes(b'[{"user": "U1", "text": "caf\xe9", "ts": "1.0"}]')
    (root / "general/2024-01-02.json").write_text('{"user": "U1", "text": "not in a list", "ts": "2.0"}')
    (root / "general/2024-01-03.json").write_text("")
    (root / "general/2024-01-04.json").write_text(
        json.dumps(
            [
                {
                    "user": ["x"],
                    "text": 5,
                    "ts": "4.0",
                    "files": "nope",
                    "reactions": [1, {"name": 2}],
                    "edited": "x",
                    "bot_profile": "y",
                    "user_profile": [],
                    "blocks": {"a": 1},
                },
                {"user": "U1", "text": "ok", "ts": 4.5},
            ]
        )
    )
    result = slack_parse(root)
    assert len(result.chats) == 1
    assert len(result.problems) >= 5  # users.json, two bad channel records, three bad day files
    assert [m.text for m in result.messages] == ["", "ok"]
    assert result.messages[1].ts == datetime(1970, 1, 1, 0, 0, 4, 500000, tzinfo=UTC)


@functools.cache
def workspace_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(WORKSPACE.rglob("*.json")):
            zf.write(f, f.relative_to(WORKSPACE).as_posix())
    return buf.getvalue()


_damaged_numbers = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_damaged_zip_is_an_export_error_or_problems(tmp_path: Path, data: st.DataObject) -> None:
    blob = bytearray(workspace_zip())
    for _ in range(data.draw(st.integers(1, 6))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(blob) // 2, len(blob)))
    damaged = tmp_path / f"damaged{next(_damaged_numbers)}.zip"
    damaged.write_bytes(bytes(blob[:cut]))
    try:
        slack_parse(damaged)
    except ExportError:
        pass


# --- helpers -----------------------------------------------------------------------------------


def test_slack_time() -> None:
    assert slack_time("1452837352.000006") == datetime(2016, 1, 15, 5, 55, 52, 6, tzinfo=UTC)
    assert slack_time("1452837352") == datetime(2016, 1, 15, 5, 55, 52, tzinfo=UTC)
    assert slack_time("1452837352.5") == datetime(2016, 1, 15, 5, 55, 52, 500000, tzinfo=UTC)
    for bad in (None, "", "abc", "1.2.3", True, [], "-5"):
        assert slack_time(bad) is None


def test_render_tokens() -> None:
    users = {"U1": "Ann"}
    channels = {"C1": "general"}
    assert render("<@U1> <@U2|bob> <@U3>", users, channels) == "@Ann @bob @U3"
    assert render("<#C1> <#C2|random>", users, channels) == "#general #random"
    assert render("<!here> <!channel> <!subteam^S1|@devs> <!date^1392734382^{date}|Feb 18>", {}, {}) == (
        "@here @channel @devs Feb 18"
    )
    assert render("<https://a.example|https://a.example> <https://b.example>", {}, {}) == (
        "https://a.example https://b.example"
    )
    assert render("a &lt;b&gt; &amp;lt; &amp;", {}, {}) == "a <b> &lt; &"
    assert render("&lt;@U1&gt;", users, {}) == "<@U1>"  # escaped text stays literal


# --- property: thread assembly -----------------------------------------------------------------

_export_numbers = itertools.count()


@st.composite
def threaded_days(draw: st.DrawFn) -> tuple[dict[str, str | None], dict[int, list[str]]]:
    """Random threads: {ts: parent ts or None} and a random spread of messages over day files."""
    seconds = draw(st.lists(st.integers(1_000_000_000, 1_900_000_000), min_size=1, max_size=30, unique=True))
    stamps = [f"{s}.{i:06d}" for i, s in enumerate(seconds)]
    parents: dict[str, str | None] = {}
    roots: list[str] = []
    for ts in stamps:
        if roots and draw(st.booleans()):
            parents[ts] = draw(st.sampled_from(roots))  # replies may be older than parents
        else:
            parents[ts] = None
            roots.append(ts)
    days: dict[int, list[str]] = {}
    for ts in stamps:
        days.setdefault(draw(st.integers(0, 6)), []).append(ts)
    return parents, {d: draw(st.permutations(msgs)) for d, msgs in days.items()}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(threaded_days())
def test_replies_attach_to_parents_across_day_files(
    tmp_path: Path, case: tuple[dict[str, str | None], dict[int, list[str]]]
) -> None:
    parents, days = case
    root = tmp_path / f"export{next(_export_numbers)}"
    (root / "general").mkdir(parents=True)
    (root / "users.json").write_text(json.dumps([{"id": "U1", "name": "ann"}]))
    (root / "channels.json").write_text(json.dumps([{"id": "C1", "name": "general"}]))
    for day, stamps in days.items():
        records = []
        for ts in stamps:
            rec = {"type": "message", "user": "U1", "text": f"m {ts}", "ts": ts}
            if parents[ts] is not None:
                rec["thread_ts"] = parents[ts]
            elif any(p == ts for p in parents.values()):
                rec["thread_ts"] = ts  # a parent names itself
            records.append(rec)
        (root / "general" / f"2024-01-{day + 1:02d}.json").write_text(json.dumps(records))
    result = slack_parse(root)
    assert not result.problems
    got = {m.source_id: m.reply_to for m in result.messages}
    assert got == parents
