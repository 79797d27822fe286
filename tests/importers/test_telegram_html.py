"""Telegram Desktop HTML export: fixtures in tdesktop's layout (tests/importers/tdesktop_html.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from datetime import datetime, timezone
from pathlib import Path

import pytest

import importers
from importers.base import ParseOptions
from importers.telegram_html import page as page_mod
from tests.conftest import write as write_file
from tests.importers import tdesktop_html as th
from tests.importers.tdesktop_html import M
from tests.importers.util import parse
from vault.errors import ExportError
from vault.records import (
    AUDIO,
    CHANNEL,
    DIRECT,
    EV_CALL,
    EV_JOIN,
    EV_PIN,
    EV_TITLE,
    GROUP,
    IMAGE,
    STICKER,
    TEXT,
)

TITLE = "Night Shift 夜班"
CHAT_ID = 1234567890
PHOTO = "photos/photo_1@05-01-2024_14-08-00.jpg"
VOICE = "voice_messages/audio_1@06-01-2024_09-05-00.ogg"
NOT_INCLUDED = "Not included, change data exporting settings to download."


def utc(*a: int) -> datetime:
    return datetime(*a, tzinfo=timezone.utc)


def t(day: int, hms: str, zone: str = " UTC+01:00") -> str:
    return f"{day:02d}.01.2024 {hms}{zone}"


def page1(zone: str = " UTC+01:00") -> str:
    body = [
        th.date_sep(1, "5 January 2024"),
        th.service(1, "Alice created group &laquo;Night Shift&raquo;"),
        M(2, t(5, "14:03:12", zone), "Alice", "Hello everyone").html(),
        M(3, t(5, "14:03:40", zone), None, "line one\nline two").html(),
        M(4, t(5, "14:05:00", zone), "王伟", "警察来了").html(),
        th.service(5, "Alice invited سارة"),
        M(6, t(5, "14:06:00", zone), "سارة", "مرحبا بالجميع", reply_to=4).html(),
        M(7, t(5, "14:07:00", zone), "Dana", "forwarded news", forwarded="Bob Forwarder").html(),
        M(8, t(5, "14:08:00", zone), "Dana", "look", media=th.photo(PHOTO)).html(),
        M(
            9,
            t(5, "14:08:30", zone),
            "王伟",
            media=th.generic("media_photo", "Photo", "1280x960, 120.5 KB", description=NOT_INCLUDED),
        ).html(),
        M(10, t(5, "14:09:00", zone), "Alice", "ok").html(),
        M(11, t(5, "14:09:00", zone), None, "ok").html(),
        M(
            12, t(5, "14:10:00", zone), "Dana", media=th.generic("media_call success", "王伟", "Outgoing (300 seconds)")
        ).html(),
    ]
    return th.chat_page(TITLE, body, nxt="messages2.html")


def page2(zone: str = " UTC+01:00") -> str:
    body = [
        th.date_sep(2, "6 January 2024"),
        M(
            13,
            t(6, "09:00:00", zone),
            "Alice",
            text_html='See <a href="https://example.org">example.org</a> <strong>now</strong>',
            reactions=th.reactions(("👍", ["王伟", "Dana"], None, True), ("❤", [], 3, False)),
        ).html(),
        th.service(
            14,
            'Dana pinned <a href="messages.html#go_to_message4" onclick="return GoToMessage(4)">this message</a>',
        ),
        M(
            15,
            t(6, "09:05:00", zone),
            "Dana",
            media=th.generic("media_voice_message", "Voice message", "00:07", href=VOICE),
        ).html(),
        M(16, t(6, "09:06:00", zone), "سارة", "שלום לכולם").html(),
        th.service(17, "Alice changed group title to &laquo;Night Shift 夜班&raquo;"),
        M(
            18,
            t(6, "09:10:00", zone),
            "王伟",
            media=th.generic("media_photo", "Sticker", "😀, 20.1 KB", description=NOT_INCLUDED),
        ).html(),
    ]
    return th.chat_page(TITLE, body, prev="messages.html")


def chat_export(root: Path, zone: str = " UTC+01:00") -> Path:
    th.write(root / "messages.html", page1(zone))
    th.write(root / "messages2.html", page2(zone))
    (root / "css").mkdir(parents=True, exist_ok=True)
    (root / "css" / "style.css").write_text("body{}")
    (root / "photos").mkdir(exist_ok=True)
    (root / PHOTO).write_bytes(b"\xff\xd8\xff" + os.urandom(400))
    (root / "voice_messages").mkdir(exist_ok=True)
    (root / VOICE).write_bytes(b"OggS" + os.urandom(300))
    return root


# -- the single-chat export -------------------------------------------------------------------------
def test_group_chat_two_pages(tmp_path):
    root = chat_export(tmp_path / "ChatExport_2024-01-07")
    assert importers.detect(root).name == "telegram-html"
    p = parse(root)
    (chat,) = p.chats
    assert (chat.source, chat.key, chat.title, chat.kind) == ("telegram", "title:night shift 夜班", TITLE, GROUP)
    assert not p.problems
    msgs = {m.source_id: m for m in p.messages}
    assert list(msgs) == ["2", "3", "4", "6", "7", "8", "9", "10", "11", "13", "15", "16", "18"]
    assert [(m.sender, m.text) for m in p.messages[:3]] == [
        ("Alice", "Hello everyone"),
        ("Alice", "line one\nline two"),  # a joined follow-up: Alice goes on; <br> is a line break
        ("王伟", "警察来了"),
    ]
    assert msgs["2"].ts == utc(2024, 1, 5, 13, 3, 12) and msgs["18"].ts == utc(2024, 1, 6, 8, 10)
    assert {m.sender for m in p.messages} == {"Alice", "王伟", "سارة", "Dana"}
    assert msgs["6"].text == "مرحبا بالجميع" and msgs["6"].reply_to == "4"
    assert msgs["16"].text == "שלום לכולם"
    assert msgs["7"].forwarded_from == "Bob Forwarder" and msgs["7"].sender == "Dana"
    assert msgs["8"].forwarded_from is None
    # Two identical messages in the same second stay two (each has its own id).
    assert (msgs["10"].ts, msgs["10"].text) == (msgs["11"].ts, msgs["11"].text) and msgs["11"].sender == "Alice"
    # Media: the photo present, the photo and sticker missing, the voice message present.
    (ph,) = msgs["8"].attachments
    assert (msgs["8"].kind, ph.kind, ph.name, ph.size, ph.open is not None) == (
        IMAGE,
        IMAGE,
        "photo_1@05-01-2024_14-08-00.jpg",
        403,
        True,
    )
    assert msgs["9"].kind == IMAGE and msgs["9"].attachments[0].open is None
    assert msgs["18"].kind == STICKER and msgs["18"].attachments[0].open is None
    (vo,) = msgs["15"].attachments
    assert (msgs["15"].kind, vo.kind, vo.mime, vo.open is not None) == (AUDIO, AUDIO, "audio/ogg", True)
    # Links and formatting are flattened; reactions with who reacted.
    assert msgs["13"].text == "See example.org now" and msgs["13"].kind == TEXT
    assert sorted((r.emoji, r.sender) for r in msgs["13"].reactions) == [("❤", None), ("👍", "Dana"), ("👍", "王伟")]
    assert msgs["13"].extra["reaction_counts"] == {"👍": 2, "❤": 3}
    # HTML has no edit marks and no sender ids (tdesktop writes neither); the owner is not marked.
    assert all(m.edited is None and m.sender_id is None and m.from_me is None for m in p.messages)
    ev = {e.source_id: e for e in p.events}
    assert [(k, ev[k].kind, ev[k].actor) for k in sorted(ev, key=int)] == [
        ("1", EV_TITLE, "Alice"),
        ("5", EV_JOIN, "Alice"),
        ("12", EV_CALL, "Dana"),
        ("14", EV_PIN, "Dana"),
        ("17", EV_TITLE, "Alice"),
    ]
    assert ev["12"].extra["duration_s"] == 300 and ev["12"].ts == utc(2024, 1, 5, 13, 10)
    # Service entries have no time in the HTML: the message before (same day) or after lends its.
    assert ev["1"].ts == msgs["2"].ts and ev["5"].ts == msgs["4"].ts and ev["14"].ts == msgs["13"].ts
    assert ev["17"].text == "Alice changed group title to «Night Shift 夜班»"


def test_the_page_itself_reads_the_whole_chat(tmp_path):
    root = chat_export(tmp_path / "export")
    assert importers.detect(root / "messages.html").name == "telegram-html"
    assert importers.detect(root / "messages2.html").name == "telegram-html"
    assert len(parse(root / "messages.html").messages) == 13


def test_older_export_without_offset_is_naive_and_says_so(tmp_path):
    root = chat_export(tmp_path / "old", zone="")
    p = parse(root)
    assert p.messages[0].ts == datetime(2024, 1, 5, 14, 3, 12)
    assert any("without their UTC offset" in n.text for n in p.notes)


def test_zone_param_reads_daylight_saving_times_right(tmp_path):
    """tdesktop writes the standard offset (UTC+01:00 in Berlin) also in summer."""
    body = [M(1, "05.07.2024 14:00:00 UTC+01:00", "Alice", "summer").html()]
    f = th.write(tmp_path / "c" / "messages.html", th.chat_page("Summer", body))
    assert parse(f).messages[0].ts == utc(2024, 7, 5, 13)
    assert parse(f, params={"zone": "Europe/Berlin"}).messages[0].ts == utc(2024, 7, 5, 12)
    assert parse(f, params={"zone": "Asia/Tokyo"}).messages[0].ts == utc(2024, 7, 5, 13)  # offsets disagree


def test_kinds_guessed_from_senders(tmp_path):
    dm = [M(1, t(5, "10:00:00"), "Mei", "hi").html(), M(2, t(5, "10:01:00"), "Dana", "hey").html()]
    d = th.write(tmp_path / "dm" / "messages.html", th.chat_page("Mei", dm))
    ch = [M(1, t(5, "10:00:00"), "News", "post", signature="Editor").html()]
    c = th.write(tmp_path / "ch" / "messages.html", th.chat_page("News", ch))
    assert parse(d).chats[0].kind == DIRECT
    pc = parse(c)
    assert pc.chats[0].kind == CHANNEL and pc.messages[0].extra["author"] == "Editor"


# -- the whole-account export ----------------------------------------------------------------------
def account_export(root: Path) -> Path:
    th.write(root / "export_results.html", th.summary())
    th.write(
        root / "lists" / "chats.html", th.chats_list([("chat_1", "Mei", "private", 2), ("chat_2", TITLE, "group", 13)])
    )
    dm = [
        th.date_sep(1, "5 January 2024"),
        M(7, t(5, "10:00:00"), "Mei", "你好").html(),
        M(8, t(5, "10:00:30"), None, "photo?", media=th.photo("photos/photo_2@05-01-2024_10-00-30.jpg")).html(),
    ]
    th.write(root / "chats" / "chat_1" / "messages.html", th.chat_page("Mei", dm, back=True))
    chat_export(root / "chats" / "chat_2")
    (root / "chats" / "chat_2" / "messages.html").write_text(
        page1().replace('<div class="content">', '<a class="content block_link" href="../../lists/chats.html">'),
        encoding="utf-8",
    )
    return root


def test_full_account_export_reads_every_chat(tmp_path):
    root = account_export(tmp_path / "DataExport_2024-01-07")
    assert importers.detect(root).name == "telegram-html"
    assert importers.detect(root / "export_results.html").name == "telegram-html"
    p = parse(root)
    assert [(c.title, c.kind) for c in p.chats] == [("Mei", DIRECT), (TITLE, GROUP)]
    mei = [m for m in p.messages if m.chat == p.chats[0].key]
    assert [(m.source_id, m.sender, m.text) for m in mei] == [("7", "Mei", "你好"), ("8", "Mei", "photo?")]
    assert mei[1].attachments[0].open is None  # named, not there
    assert len([m for m in p.messages if m.chat == p.chats[1].key]) == 13
    assert not p.problems


def test_full_export_into_a_vault_and_search(new_vault, tmp_path):
    root = account_export(tmp_path / "DataExport")
    r = new_vault.import_path(root)
    assert (r.format, r.chats, r.added, r.events, r.attachments) == ("telegram-html", 2, 15, 5, 2)
    (hit,) = new_vault.search("警察")
    assert hit["text"] == "警察来了"
    assert new_vault.import_path(root).added == 0


def test_parsed_in_a_second_process_gives_the_same_vault(new_vault, tmp_path, monkeypatch):
    from vault.operations import parse_ahead

    root = account_export(tmp_path / "DataExport")
    done: list[bool] = []
    real = parse_ahead.prepared_ahead

    def through_the_child(*a):  # type: ignore[no-untyped-def]
        yield from real(*a)
        done.append(True)  # every record travelled (pickled): no fallback to this process

    monkeypatch.setattr(parse_ahead, "THRESHOLD", 0)
    monkeypatch.setattr(parse_ahead, "prepared_ahead", through_the_child)
    r = new_vault.import_path(root)
    assert done == [True]
    assert (r.chats, r.added, r.events, r.attachments, r.problems) == (2, 15, 5, 2, [])
    assert new_vault.search("警察")[0]["text"] == "警察来了"


# -- one chat, exported as JSON and as HTML ---------------------------------------------------------
def json_twin(path: Path) -> Path:
    """The same chat as tdesktop's result.json (ids, times and senders as the HTML shows them)."""

    def m(mid: int, day: int, hms: str, sender: str, text: str, **kw: object) -> dict:
        h, mi, s = (int(x) for x in hms.split(":"))
        ts = int(datetime(2024, 1, day, h - 1, mi, s, tzinfo=timezone.utc).timestamp())
        d = {"id": mid, "type": "message", "date": f"2024-01-{day:02d}T{hms}", "date_unixtime": str(ts)}
        d.update({"from": sender, "from_id": f"user{abs(hash(sender)) % 10**6}", "text": text})
        d.update(kw)
        return d

    def s(mid: int, day: int, hms: str, actor: str, action: str, **kw: object) -> dict:
        d = m(mid, day, hms, actor, "", **kw)
        d.update({"type": "service", "actor": d.pop("from"), "actor_id": d.pop("from_id"), "action": action})
        return d

    msgs = [
        s(1, 5, "14:03:00", "Alice", "create_group", title="Night Shift", members=["Alice"]),
        m(2, 5, "14:03:12", "Alice", "Hello everyone"),
        m(3, 5, "14:03:40", "Alice", "line one\nline two", edited="2024-01-05T14:04:00", edited_unixtime="1704459840"),
        m(4, 5, "14:05:00", "王伟", "警察来了"),
        s(5, 5, "14:05:30", "Alice", "invite_members", members=["سارة"]),
        m(6, 5, "14:06:00", "سارة", "مرحبا بالجميع", reply_to_message_id=4),
        m(7, 5, "14:07:00", "Dana", "forwarded news", forwarded_from="Bob Forwarder"),
        m(8, 5, "14:08:00", "Dana", "look", photo=PHOTO, width=1280, height=960),
        m(9, 5, "14:08:30", "王伟", "", photo="(File not included. Change data exporting settings to download.)"),
        m(10, 5, "14:09:00", "Alice", "ok"),
        m(11, 5, "14:09:00", "Alice", "ok"),
        s(12, 5, "14:10:00", "Dana", "phone_call", duration_seconds=300),
        m(13, 6, "09:00:00", "Alice", [{"type": "plain", "text": "See "}, {"type": "link", "text": "example.org"}]),
        s(14, 6, "09:01:00", "Dana", "pin_message", message_id=4),
        m(15, 6, "09:05:00", "Dana", "", file=VOICE, media_type="voice_message", mime_type="audio/ogg"),
        m(16, 6, "09:06:00", "سارة", "שלום לכולם"),
        s(17, 6, "09:07:00", "Alice", "edit_group_title", title=TITLE),
        m(18, 6, "09:10:00", "王伟", "", file="(File not included.)", media_type="sticker", sticker_emoji="😀"),
    ]
    doc = {"name": TITLE, "type": "private_supergroup", "id": CHAT_ID, "messages": msgs}
    return write_file(path, json.dumps(doc, ensure_ascii=False, indent=1))


def _one_chat(v) -> dict:  # type: ignore[no-untyped-def]
    chats = v.chats()
    assert len(chats) == 1, [c["title"] for c in chats]
    return chats[0]


@pytest.mark.parametrize("json_first", [True, False])
def test_html_and_json_of_one_chat_merge_with_the_chat_id(new_vault, tmp_path, json_first):
    """With `--param chat_id=ID` (the id in result.json) both land on the same identities."""
    j = json_twin(tmp_path / "json" / "result.json")
    h = chat_export(tmp_path / "html")
    opts = ParseOptions(params={"chat_id": str(CHAT_ID)})
    order = [(j, None), (h, opts)] if json_first else [(h, opts), (j, None)]
    first = new_vault.import_path(order[0][0], options=order[0][1])
    second = new_vault.import_path(order[1][0], options=order[1][1])
    assert (first.added, first.events) == (13, 5)
    assert (second.added, second.events, second.duplicates) == (0, 0, 18)
    chat = _one_chat(new_vault)
    assert (chat["messages"], chat["events"], chat["title"]) == (13, 5, TITLE)


def test_html_beside_its_json_takes_the_chat_id(new_vault, tmp_path):
    """An "HTML and JSON" export: the folder is the JSON's; the pages alone find the id beside them."""
    root = chat_export(tmp_path / "both")
    json_twin(root / "result.json")
    assert importers.detect(root).name == "telegram"  # the JSON says more
    assert importers.detect(root / "messages.html").name == "telegram-html"
    assert parse(root / "messages.html").chats[0].key == str(CHAT_ID)
    new_vault.import_path(root)
    r = new_vault.import_path(root / "messages.html")
    assert (r.added, r.events) == (0, 0)
    assert _one_chat(new_vault)["messages"] == 13


@pytest.mark.parametrize("json_first", [True, False])
def test_html_and_json_of_one_chat_merge_unaided(new_vault, tmp_path, json_first):
    j = json_twin(tmp_path / "json" / "result.json")
    h = chat_export(tmp_path / "html")
    for p in [j, h] if json_first else [h, j]:
        new_vault.import_path(p)
    chat = _one_chat(new_vault)
    assert (chat["messages"], chat["events"]) == (13, 5)


@pytest.mark.parametrize("json_first", [True, False])
def test_a_chat_titled_differently_in_html_and_json_is_still_one(new_vault, tmp_path, json_first):
    """A personal chat's JSON names the first name, the HTML the full one: ids and times tell."""
    j = json_twin(tmp_path / "json" / "result.json")
    j.write_text(j.read_text(encoding="utf-8").replace(f'"name": "{TITLE}"', '"name": "Alice"'), encoding="utf-8")
    h = chat_export(tmp_path / "html")
    first, second = (j, h) if json_first else (h, j)
    new_vault.import_path(first)
    r = new_vault.import_path(second)
    assert r.added == 0 and not any("not added" in n for n in r.notes)
    chat = _one_chat(new_vault)
    assert (chat["messages"], chat["events"]) == (13, 5)
    hits = new_vault.search("警察")
    assert len(hits) == 1
    assert len(new_vault.show(chat["id"], limit=100)) == 18


def test_another_chat_with_the_same_ids_at_other_times_stays_apart(new_vault, tmp_path):
    """Telegram numbers messages per chat: the same ids at other instants (not whole hours off,
    so not a zone mistake) under another title are another chat."""
    j = json_twin(tmp_path / "json" / "result.json")
    j.write_text(j.read_text(encoding="utf-8").replace(f'"name": "{TITLE}"', '"name": "Other"'), encoding="utf-8")
    h = chat_export(tmp_path / "html", zone=" UTC+05:30")
    new_vault.import_path(j)
    new_vault.import_path(h)
    assert sorted((c["messages"], c["events"]) for c in new_vault.chats()) == [(13, 5), (13, 5)]


@pytest.mark.parametrize("same_title", [True, False])
def test_an_export_read_an_hour_off_is_the_same_chat_and_says_so(new_vault, tmp_path, same_title):
    """tdesktop's HTML may state a zone's standard offset in summer: the same ids a whole hour off."""
    j = json_twin(tmp_path / "json" / "result.json")
    if not same_title:
        j.write_text(j.read_text(encoding="utf-8").replace(f'"name": "{TITLE}"', '"name": "Alice"'), encoding="utf-8")
    h = chat_export(tmp_path / "html", zone=" UTC+02:00")  # every instant an hour early
    new_vault.import_path(j)
    r = new_vault.import_path(h)
    assert r.added == 0
    assert any("differ by +1 h" in n for n in r.notes), r.notes
    chat = _one_chat(new_vault)
    assert (chat["messages"], chat["events"]) == (13, 5)


# -- detection and damage --------------------------------------------------------------------------
def test_detection_claims_nothing_else(tmp_path):
    fmt = importers.get("telegram-html")
    from tests.conftest import CORPUS

    repo = Path(__file__).resolve().parents[1] / "fixtures"
    for p in sorted([*repo.rglob("*"), *CORPUS.rglob("*")]):  # the sample corpus, where it is present
        assert not fmt.detect(p), p
    json_twin(tmp_path / "j" / "result.json")
    assert not fmt.detect(tmp_path / "j") and not fmt.detect(tmp_path / "j" / "result.json")
    plain = th.write(tmp_path / "x" / "messages.html", "<html><head><title>Chat</title></head><body></body></html>")
    assert not fmt.detect(plain) and not fmt.detect(plain.parent)
    summary_only = th.write(tmp_path / "s" / "messages.html", th.summary())
    assert not fmt.detect(summary_only)
    # A real chat page under another name is not a page of a chat export.
    other = th.write(tmp_path / "o" / "chat.html", page1())
    assert not fmt.detect(other)


def test_not_utf8_is_a_clean_error(tmp_path):
    root = chat_export(tmp_path / "bad")
    raw = (root / "messages2.html").read_bytes().replace("שלום".encode(), b"\xff\xfe\xfa")
    (root / "messages2.html").write_bytes(raw)
    with pytest.raises(ExportError) as e:
        list(importers.get("telegram-html").parse(root, ParseOptions()))
    assert "messages2.html" in str(e.value) and "UTF-8" in str(e.value)


@pytest.mark.parametrize(
    "junk", ["<![bogus[ x ]]>", "<div>" * 600, '<a href="' + "x" * (9 << 20)], ids=["decl", "deep", "endless"]
)
def test_broken_markup_is_a_clean_error(tmp_path, junk):
    root = chat_export(tmp_path / "broken")
    raw = (root / "messages2.html").read_text(encoding="utf-8").replace("שלום", junk)
    (root / "messages2.html").write_text(raw, encoding="utf-8")
    with pytest.raises(ExportError) as e:
        list(importers.get("telegram-html").parse(root, ParseOptions()))
    assert "messages2.html" in str(e.value) and "export the chat again" in str(e.value)


def test_a_message_without_time_is_a_problem_and_the_rest_imports(tmp_path):
    body = [
        M(1, t(5, "10:00:00"), "Mei", "fine").html(),
        M(2, "garbage", "Mei", "secret words").html(),
        M(3, t(5, "10:02:00"), "Mei", "also fine").html(),
    ]
    f = th.write(tmp_path / "c" / "messages.html", th.chat_page("Mei", body))
    p = parse(f)
    assert [m.source_id for m in p.messages] == ["1", "3"]
    (prob,) = p.problems
    assert "secret" not in str(prob) and "Mei" not in str(prob) and prob.line is not None


def test_truncated_page_keeps_what_was_complete(tmp_path):
    root = chat_export(tmp_path / "cut")
    raw = (root / "messages2.html").read_text(encoding="utf-8")
    (root / "messages2.html").write_text(raw[: raw.index("שלום")], encoding="utf-8")
    p = parse(root)
    assert p.messages[-1].source_id == "15" and len(p.messages) == 11
    (prob,) = p.problems
    assert prob.path.endswith("messages2.html") and "cut short" in prob.message and prob.line


def test_attachment_paths_stay_inside_the_export(tmp_path):
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(b"\xff\xd8\xffsecret")
    body = [
        M(1, t(5, "10:00:00"), "Mei", media=th.photo("../secret.jpg")).html(),
        M(2, t(5, "10:01:00"), "Mei", media=th.photo(str(secret))).html(),
    ]
    f = th.write(tmp_path / "c" / "messages.html", th.chat_page("Mei", body))
    assert all(a.open is None for m in parse(f).messages for a in m.attachments)


# -- bounded memory -------------------------------------------------------------------------------
_MEASURE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from importers.base import ParseOptions
    from importers.telegram_html import parse
    n = 0
    for rec in parse(Path(sys.argv[1]), ParseOptions()):
        n += 1
    # VmHWM: this process's own peak (ru_maxrss would carry the forking parent's over exec).
    hwm = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
    print(n, hwm.split()[1])
    """
)


def big_export(root: Path, pages: int, per_page: int = 1000, words: int = 40) -> int:
    """A chat of `pages` pages of `per_page` messages each; returns the bytes written."""
    size = 0
    mid = 0
    for n in range(pages):
        body = []
        for i in range(per_page):
            mid += 1
            sender = None if i % 3 else f"Person {i % 7} 用户"
            body.append(M(mid, t(5, f"10:{i % 60:02d}:{i % 59:02d}"), sender, f"消息 {mid} " + "word " * words).html())
        name = "messages.html" if n == 0 else f"messages{n + 1}.html"
        text = th.chat_page("Big", body)
        size += th.write(root / name, text).stat().st_size
    return size


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the peak from /proc (Linux)")
def test_memory_stays_bounded_on_a_large_export(tmp_path):
    root = tmp_path / "big"
    size = big_export(root, pages=40, per_page=500, words=500)  # long texts: bytes fast, tags few
    assert size > 50_000_000
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    out = subprocess.run(
        [sys.executable, "-c", _MEASURE, str(root)], capture_output=True, text=True, env=env, check=True, timeout=300
    ).stdout.split()
    records, peak_kib = int(out[0]), int(out[1])
    assert records == 40 * 500 + 1
    assert peak_kib * 1024 < size / 2, (peak_kib, size)  # measured: 18 MB for 52 MB of pages


def test_page_parser_hands_out_each_message_as_it_closes():
    parser = page_mod.PageParser()
    parser.feed(th.head() + M(1, t(5, "10:00:00"), "A", "x").html())
    assert [i.mid for i in parser.ready] == [1]


def test_cli_import_json_then_html_with_the_chat_id(tmp_path, cli_vault):
    from tests.conftest import cli

    j = json_twin(tmp_path / "json" / "result.json")
    h = chat_export(tmp_path / "html")
    assert cli("import", str(j.parent), "--json", env=cli_vault).code == 0
    r = cli("import", str(h), "--param", f"chat_id={CHAT_ID}", "--json", env=cli_vault)
    assert r.code == 0, r.err
    (rep,) = r.json()["files"]
    assert (rep["format"], rep["added"], rep["events"], rep["duplicates"]) == ("telegram-html", 0, 0, 18)
    bad = cli("import", str(h), "--param", "chat_id=Night Shift", "--json", env=cli_vault)
    assert bad.code != 0 and "chat_id" in (bad.err + bad.out) and "Traceback" not in bad.err
