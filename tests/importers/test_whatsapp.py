"""WhatsApp "Export chat": every corpus file against corpus/EXPECTED.md, plus fixtures of our own."""

from __future__ import annotations

import json
import os
import re
import shutil
import zipfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import importers
from importers.base import ParseOptions
from importers.whatsapp import detect
from tests.conftest import CORPUS, FIXTURES, corpus_file
from tests.importers.util import Parsed, parse
from vault.records import (
    AUDIO,
    CALL,
    CONTACT,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_PIN,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GIF,
    GROUP,
    IMAGE,
    LOCATION,
    MEDIA,
    POLL,
    STICKER,
    TEXT,
    VIDEO,
    Event,
    Message,
    title_key,
)

WA = FIXTURES / "whatsapp"
IOS_LANGUAGES = [
    "english",
    "arabic",
    "arabic2",
    "czech",
    "deutch",
    "french",
    "hindi",
    "indonesian",
    "italian",
    "japanese",
    "portugal",
    "russian",
    "spanish",
    "thai",
    "ukrainian",
    "vietnamese",
]
FOURSQUARE = "https://foursquare.com/v/4e89af95e5fa82ad4c0aa03b"
GOOGLE_IOS = "https://maps.google.com/?q=51.5021456,-0.127397"


def wa(path: Path, **opts: object) -> Parsed:
    return parse(path, "whatsapp", **opts)


def attachment_bytes(path: Path) -> dict[str, bytes]:
    """Each attachment's bytes, read while the parser is suspended (as the vault reads them)."""
    out: dict[str, bytes] = {}
    for rec in importers.get("whatsapp").parse(path, ParseOptions()):
        if isinstance(rec, Message):
            for att in rec.attachments:
                if att.open is not None:
                    with att.open() as fh:
                        out[att.name] = fh.read()
    return out


def kinds(parsed: Parsed) -> Counter[str]:
    return Counter(m.kind for m in parsed.messages)


def total(parsed: Parsed) -> int:
    return len(parsed.messages) + len(parsed.events)


def texts(parsed: Parsed) -> list[str]:
    return [m.text for m in parsed.messages if m.kind == TEXT]


def timeline(parsed: Parsed) -> list[Message | Event]:
    """Messages and events in file order."""
    return [r for r in parsed.records if isinstance(r, (Message, Event))]


# ---------------------------------------------------------------------------------------------
# corpus/EXPECTED.md, WhatsApp rows


@pytest.mark.corpus
@pytest.mark.parametrize("language", IOS_LANGUAGES)
def test_ios_languages(language: str) -> None:
    """23 records each; 4 text; 2 locations (Foursquare with its caption, Google with coordinates)."""
    p = wa(corpus_file(f"whatsapp/whats_json/languages/{language}_ios.txt"))
    assert total(p) == 23
    assert not p.problems
    k = kinds(p)
    assert k[TEXT] == 4
    assert k[LOCATION] == 2
    assert k[DELETED] == 2
    assert k[IMAGE] == 4 and k[VIDEO] == 2 and k[AUDIO] == 1 and k[STICKER] == 2
    assert k[GIF] == 1 and k[CONTACT] == 1 and k[FILE] == 3
    # The end-to-end notice printed under the contact's name is an event, not a message.
    assert [e.kind for e in p.events] == [EV_ENCRYPTION]
    assert sorted(texts(p)) == sorted(["Hello World", "😊", "This message is reply to another", "Hello World"])
    venue, google = (m for m in p.messages if m.kind == LOCATION)
    assert venue.extra["url"].startswith("https://foursquare.com/v/")
    assert venue.extra["venue"] in ("Pimlico Gardens", "Çalış Plajı")
    assert "q=" in google.extra["url"] and isinstance(google.extra["latitude"], float)
    assert google.extra["url"] in google.text  # the link stays in the text
    files = sorted(a.name for m in p.messages for a in m.attachments)
    assert files == ["Resume-Dmitry-Starkov.pdf", "Some file.txt", "Template.docx"]
    assert p.chats[0].kind == DIRECT and len(p.chats[0].participants) == 2


@pytest.mark.corpus
@pytest.mark.parametrize("language", ["english", "czech", "russian"])
def test_android_languages(language: str) -> None:
    """60 records; 15 text; 2 contact cards; 3 locations (1 Foursquare + 2 Google)."""
    p = wa(corpus_file(f"whatsapp/whats_json/languages/{language}_android.txt"))
    assert total(p) == 60 and not p.problems
    k = kinds(p)
    assert k[TEXT] == 15
    assert k[CONTACT] == 2
    assert sorted(a.name for m in p.messages for a in m.attachments) == ["Alex.vcf", "TR.vcf"]
    locations = [m for m in p.messages if m.kind == LOCATION]
    assert len(locations) == 3
    assert sum("foursquare.com" in m.text for m in locations) == 1
    venue = next(m for m in locations if "foursquare" in m.text)
    assert venue.text == f"Pimlico Gardens\nLondon, United Kingdom\n{FOURSQUARE}"
    assert venue.extra["address"] == "London, United Kingdom"
    # "null" (view once), "<Media omitted>" and deleted are messages of their kinds, not text;
    # calls are events (cli-contract.md).
    assert k[MEDIA] == 29 and k[DELETED] == 8 and k[CALL] == 0
    assert "null" not in texts(p)
    assert sorted(e.kind for e in p.events) == [EV_CALL, EV_CALL, EV_ENCRYPTION]


@pytest.mark.corpus
def test_english_ios_media(tmp_path: Path) -> None:
    """25 records; 4 text, 3 image (+1 view-once omitted), 2 video, 1 audio, 1 GIF, 2 sticker,
    4 file (3 documents + 1 contact card), 2 location; the rest notices and deleted placeholders."""
    path = corpus_file("whatsapp/whats_json/languages/english_ios_media.txt")
    p = wa(path)
    assert total(p) == 25 and not p.problems
    k = kinds(p)
    assert (k[TEXT], k[VIDEO], k[AUDIO], k[GIF], k[STICKER], k[LOCATION]) == (4, 2, 1, 1, 2, 2)
    assert k[FILE] + k[CONTACT] == 4
    images = [m for m in p.messages if m.kind == IMAGE]
    assert len(images) == 4 and sum(bool(m.extra.get("media_omitted")) for m in images) == 1
    assert k[DELETED] == 2
    # Two "security code changed" notices under the contact's name, and the end-to-end notice.
    assert sorted(e.kind for e in p.events) == [EV_ENCRYPTION, EV_SYSTEM, EV_SYSTEM]
    # The corpus file was renamed, so the chat's name is unknown and the printed name is kept as
    # the notices' actor; under its upstream name "WhatsApp Chat - Elon Musk" it is the chat's.
    assert [e.actor for e in p.events] == [None, "Elon Musk", "Elon Musk"]
    upstream = tmp_path / "WhatsApp Chat - Elon Musk.txt"
    shutil.copy(path, upstream)
    named = wa(upstream)
    assert [e.actor for e in named.events] == [None, None, None]
    assert named.records[1:] != p.records[1:] and total(named) == 25
    assert p.chats[0].participants == ("Dmitry S", "Elon Musk")


@pytest.mark.corpus
def test_english_android_media() -> None:
    """60 records; 15 text, 2 image, 2 video, 1 audio, 4 sticker, 2 file (.vcf), 3 location, and
    31 that upstream calls system (media omitted, deleted, calls, the notice)."""
    p = wa(corpus_file("whatsapp/whats_json/languages/english_android_media.txt"))
    assert total(p) == 60 and not p.problems
    k = kinds(p)
    assert (k[TEXT], k[IMAGE], k[VIDEO], k[AUDIO], k[STICKER]) == (15, 2, 2, 1, 4)
    assert (k[CONTACT], k[LOCATION]) == (2, 3)
    assert k[MEDIA] + k[DELETED] + len(p.events) == 31 and k[CALL] == 0
    # The caption of a media message is its text.
    captions = [m.text for m in p.messages if m.kind == MEDIA and m.text]
    assert "Caption" in captions and "Image with caption" in captions
    voice = next(m for m in p.messages if m.kind == AUDIO)
    assert voice.attachments[0].name == "PTT-20220323-WA0000.opus"
    assert voice.attachments[0].open is None  # the .txt alone: the file is not there


@pytest.mark.corpus
def test_dutch_android_media_parses() -> None:
    """Skipped upstream ("contains less messages"); every header line is one record here."""
    path = corpus_file("whatsapp/whats_json/languages/deutch_android_media.txt")
    p = wa(path)
    headers = sum(1 for line in path.read_text("utf-8").split("\n") if re.match(r"\d\d-\d\d-\d{4} ", line))
    assert total(p) == headers == 41 and not p.problems
    assert p.messages[0].ts == datetime(2022, 3, 18, 14, 56)


@pytest.mark.corpus
def test_ios_dmitry_attached() -> None:
    p = wa(corpus_file("whatsapp/whats_json/misc/ios_EN_dmitry_attached_asserted.txt"))
    assert total(p) == 23 and not p.problems
    times = sorted(r.ts for r in timeline(p))
    assert times[0] == datetime(2022, 3, 18, 14, 56, 1)
    assert times[-1] == datetime(2022, 3, 27, 21, 56, 46)
    hello = [m for m in p.messages if m.text == "Hello World"]
    assert len(hello) == 2
    assert any(m.sender == "Dmitry S" and m.ts == datetime(2022, 3, 27, 21, 53, 30) for m in hello)
    assert "😊" in texts(p) and "This message is reply to another" in texts(p)
    assert not any("deleted" in t.casefold() or "omitted" in t for t in texts(p))
    assert kinds(p)[DELETED] == 2
    view_once = [m for m in p.messages if m.extra.get("media_omitted")]
    assert [m.kind for m in view_once] == [IMAGE]
    attached = {(a.name, m.kind) for m in p.messages for a in m.attachments}
    assert attached == {
        ("00000035-PHOTO-2022-03-27-21-41-55.jpg", IMAGE),
        ("00000036-PHOTO-2022-03-27-21-43-56.jpg", IMAGE),
        ("00000055-PHOTO-2022-03-27-21-53-56.jpg", IMAGE),
        ("00000057-VIDEO-2022-03-27-21-55-12.mp4", VIDEO),
        ("00000037-VIDEO-2022-03-27-21-44-16.mp4", VIDEO),
        ("00000038-AUDIO-2022-03-27-21-44-47.opus", AUDIO),
        ("00000051-GIF-2022-03-27-21-51-57.mp4", GIF),
        ("00000046-Some file.txt", FILE),
        ("00000047-Resume-Dmitry-Starkov.pdf", FILE),
        ("00000048-Template.docx", FILE),
        ("00000042-TR.vcf", CONTACT),
        ("00000043-STICKER-2022-03-27-21-49-16.webp", STICKER),
        ("00000044-STICKER-2022-03-27-21-49-19.webp", STICKER),
    }
    google = next(m for m in p.messages if m.kind == LOCATION and "maps.google" in m.text)
    assert google.extra["url"] == GOOGLE_IOS
    # q=lat,lon: latitude first (upstream swaps them).
    assert (google.extra["latitude"], google.extra["longitude"]) == (51.5021456, -0.127397)
    venue = next(m for m in p.messages if m.kind == LOCATION and "foursquare" in m.text)
    assert venue.extra["url"] == FOURSQUARE
    assert venue.text.startswith("Pimlico Gardens (London, United Kingdom)")
    # The phone number wrapped in LRE…PDF with NBSPs is one sender, the chat's other person.
    assert p.chats[0].participants == ("Dmitry S", "+40 521 028 62 18")


@pytest.mark.corpus
def test_ios_bad_edited_does_not_fail() -> None:
    p = wa(corpus_file("whatsapp/whats_json/misc/ios_EN_bad_edited_asserted.txt"))
    assert total(p) == 8
    names = [a.name for m in p.messages for a in m.attachments]
    # The name split over three lines is joined again; the doubled "<attached: " is read.
    assert "00000035-PHOTO-2022-03-27-21-41-55.jpg" in names
    assert "00000046-Some file.txt" in names
    assert [pr.line for pr in p.problems] == [5]  # "<attached: >" names no file


@pytest.mark.corpus
def test_android_ru_group_2019() -> None:
    p = wa(corpus_file("whatsapp/whats_json/misc/android_RU_group_2019.txt"))
    assert len(p.messages) == 12 and not p.problems
    (added,) = p.events
    assert added.text.startswith("Ольга Р Х (МСК) добавил(-а) контакт")
    assert added.kind == EV_JOIN
    assert p.chats[0].kind == GROUP
    last = p.messages[-1]
    assert last.text.count("\n") == 2 and last.text.endswith("🌈")


@pytest.mark.corpus
@pytest.mark.parametrize("calendar", ["buddhist", "japanese_era"])
def test_calendars(calendar: str) -> None:
    """3/18/2565 BE and 3/18/R4 are 2022-03-18, like the Gregorian twin."""
    other = wa(corpus_file(f"whatsapp/whats_json/calendars/{calendar}_ios.txt"))
    gregorian = wa(corpus_file("whatsapp/whats_json/calendars/gregorian_ios.txt"))
    assert other.events[0].ts.date() == datetime(2022, 3, 18).date()
    rows = [(r.ts.replace(second=0), r.text) for r in timeline(other)]
    twin = [(r.ts.replace(second=0), r.text) for r in timeline(gregorian)]
    assert rows[: len(twin)] == twin
    assert rows[-1][0].year == 2023  # 2566 BE, R5


@pytest.mark.corpus
def test_group_events_android_and_ios() -> None:
    android = wa(corpus_file("whatsapp/whats_json/android/android_EN_group_events.txt"))
    assert total(android) == 20 and len(android.events) == 16
    assert [m.sender for m in android.messages] == ["Dmitry S"] * 4
    assert [m.text for m in android.messages if m.kind == TEXT] == [
        "Hello all",
        "This is group chat",
        "We",
    ]
    assert [m.kind for m in android.messages].count(DELETED) == 1
    # Nothing in the iOS file settles 1/11/23; the phone's region was the US (formats §1.2).
    ios = wa(corpus_file("whatsapp/whats_json/misc/ios_EN_group_events.txt"), date_order="mdy")
    assert total(ios) == 17 and len(ios.events) == 15
    assert [m.text for m in ios.messages] == ["Hello all", "This is group chat"]
    for p in (android, ios):
        assert p.chats[0].kind == GROUP and p.chats[0].participants == ("Dmitry S",)
    # iOS prints the notice under the group's name: no participant "Group Chat XXX".
    assert ios.events[0].kind == EV_ENCRYPTION and ios.events[0].actor is None
    assert max(m.ts for m in ios.messages) < datetime(2023, 1, 11, 16, 57)
    kinds_ios = Counter(e.kind for e in ios.events)
    assert kinds_ios[EV_TITLE] == 1 and kinds_ios[EV_JOIN] == 1 and kinds_ios[EV_LEAVE] == 1


CHAT_MINER = [
    "test_bracket_mmddyy_24hrs.txt",
    "test_ddmmyy_24hrs.txt",
    "test_mmddyy_24hrs.txt",
    "test_mmddyyyy_12hrs.txt",
    "test_yyyymmdd_24hrs.txt",
]


@pytest.mark.corpus
@pytest.mark.parametrize("name", CHAT_MINER)
def test_chat_miner(name: str) -> None:
    """The same 6 messages in every header style; chat-miner joins bodies with a space, we keep
    the newline; `John Doe:.`, "created group" and "You were added" are not messages."""
    target = json.loads(corpus_file("whatsapp/chat-miner/target.json").read_text("utf-8"))
    p = wa(corpus_file(f"whatsapp/chat-miner/{name}"))
    got = sorted(((m.ts, m.sender, m.text) for m in p.messages), reverse=True)
    want = [
        (
            datetime.fromisoformat(t["timestamp"]),
            t["author"],
            t["message"].replace("amet, consectetur", "amet,\nconsectetur"),
        )
        for t in target
    ]
    assert got == want
    assert [e.text for e in p.events] == [
        "John Doe:.",
        '+12 345 578 created group "Groupname"',
        "You were added",
    ]
    # The 12-hour file's impossible "00:08 a. m." is read as 00:08, like the 24-hour files.
    assert p.events[1].ts == datetime(2020, 6, 20, 0, 8)
    assert not p.problems


@pytest.mark.corpus
def test_chat_analytics_2a_5m() -> None:
    p = wa(corpus_file("whatsapp/chat-analytics/2A_5M.txt"))
    ordered = sorted(p.messages, key=lambda m: m.ts)  # the vault orders by time; file order breaks ties
    assert [(m.sender, m.ts.strftime("%H:%M"), m.text, m.kind) for m in ordered] == [
        ("A", "12:00", "Hi", TEXT),
        ("B", "12:01", "Whats up?", TEXT),
        ("A", "12:02", "All good", TEXT),
        ("A", "12:02", "This message should be reordered", TEXT),
        ("B", "12:03", "", MEDIA),
    ]
    assert ordered[0].ts == datetime(2021, 1, 1, 12, 0)
    assert p.chats[0].kind == DIRECT and p.chats[0].participants == ("A", "B")


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["4A_11M.txt", "4A_11M.zip"])
def test_chat_analytics_4a_11m(name: str) -> None:
    """Nothing in the file settles 12/9/20; day first (as upstream) when asked for."""
    p = wa(corpus_file(f"whatsapp/chat-analytics/{name}"), date_order="dmy")
    assert p.chats[0].kind == GROUP
    assert set(p.chats[0].participants) == {"Alice", "Bob", "Eve", "Mallory", "Trent"}
    assert Counter(m.sender for m in p.messages) == {
        "Bob": 2,
        "Eve": 2,
        "Alice": 3,
        "Mallory": 2,
        "Trent": 2,
    }
    when = datetime(2020, 9, 12, 23, 55)
    assert any(m.sender == "Alice" and m.text == "boiii" and m.ts == when for m in p.messages)
    assert any(m.sender == "Trent" and m.text == "👩🏻‍⚖️" and m.ts == when for m in p.messages)
    assert [n.text for n in p.notes] == [
        "date order: day/month/year, as --date-order dmy says (the file's dates fit both)"
    ]


@pytest.mark.corpus
def test_4a_11m_zip_equals_txt() -> None:
    txt = wa(corpus_file("whatsapp/chat-analytics/4A_11M.txt"), date_order="dmy")
    zipped = wa(corpus_file("whatsapp/chat-analytics/4A_11M.zip"), date_order="dmy")
    assert txt.records[1:] == zipped.records[1:]  # the zip's _chat.txt is CRLF; same records


@pytest.mark.corpus
def test_ambiguous_order_follows_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_TIME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "en_US.UTF-8")
    us = wa(corpus_file("whatsapp/chat-analytics/4A_11M.txt"))
    assert us.messages[0].ts.date() == datetime(2020, 12, 9).date()
    assert us.chats[0].extra["date_order"] == "mdy"
    (note,) = us.notes
    assert note.text.startswith("date order assumed: month/day/year")
    assert "en_US" in note.text and "--date-order" in note.text
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    de = wa(corpus_file("whatsapp/chat-analytics/4A_11M.txt"))
    assert de.messages[0].ts.date() == datetime(2020, 9, 12).date()


@pytest.mark.corpus
def test_pokemon_chat_name_notice_is_system() -> None:
    p = wa(corpus_file("whatsapp/whatstk/pokemon.txt"))
    assert "Pokemon Chat" not in {m.sender for m in p.messages}
    assert "Pokemon Chat" not in p.chats[0].participants
    assert [e.kind for e in p.events] == [EV_ENCRYPTION, EV_ENCRYPTION]
    assert len(p.messages) == 18


@pytest.mark.corpus
def test_whatstk_merge_parts() -> None:
    one = wa(corpus_file("whatsapp/whatstk/lorem-merge-part1.txt"))
    two = wa(corpus_file("whatsapp/whatstk/lorem-merge-part2.txt"))
    assert set(one.chats[0].participants) == {"+1 123 456 789", "Giuseppe", "John", "Mary"}
    assert set(two.chats[0].participants) == {
        "+1 123 456 789",
        "Giuseppe",
        "John",
        "Maria",
        "Maria2",
    }
    assert len(set(one.chats[0].participants) | set(two.chats[0].participants)) == 6
    assert max(m.ts for m in one.messages) == datetime(2020, 1, 10, 0, 0)
    assert min(m.ts for m in two.messages) == datetime(2020, 6, 20, 10, 16)


@pytest.mark.corpus
def test_whatstk_lorem_day_first() -> None:
    p = wa(corpus_file("whatsapp/whatstk/lorem.txt"))
    assert p.chats[0].extra["date_order"] == "dmy" and not p.notes
    assert p.messages[0].ts == datetime(2020, 1, 15, 2, 22, 56)
    assert len(p.messages) == 500


@pytest.mark.corpus
def test_ios_ru_zip() -> None:
    p = wa(corpus_file("whatsapp/whats_json/ios/ios_RU_chat.zip"))
    assert total(p) == 25 and not p.problems
    assert p.chats[0].title == "ios_RU_chat"  # _chat.txt takes the zip's name


# ---------------------------------------------------------------------------------------------
# Pustur/whatsapp-chat-parser's test data (pustur_header_variants.json)


def _pustur() -> Any:
    return json.loads(corpus_file("whatsapp/pustur_header_variants.json").read_text("utf-8"))


def _one_line_chat(tmp_path: Path, text: str, name: str = "chat.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


@pytest.mark.corpus
def test_pustur_header_variants(tmp_path: Path) -> None:
    variants = _pustur()["header_variants"]
    assert isinstance(variants, list) and len(variants) == 12
    for v in variants:
        p = wa(_one_line_chat(tmp_path, v["line"] + "\n"), date_order="dmy")
        (m,) = p.messages
        want = datetime.fromisoformat(v["expected_utc_naive"].removesuffix("Z").split(".")[0])
        assert (m.ts, m.sender, m.text) == (want, v["author"], v["message"]), v["id"]


@pytest.mark.corpus
def test_pustur_attachment_variants(tmp_path: Path) -> None:
    for v in _pustur()["attachment_variants"]:
        p = wa(_one_line_chat(tmp_path, v["line"] + "\n"), date_order="dmy")
        (m,) = p.messages
        assert [a.name for a in m.attachments] == [v["expected_attachment_fileName"]], v["id"]
    caption = wa(_one_line_chat(tmp_path, v["line"] + "\n"), date_order="dmy").messages[0]
    assert caption.text == "Dir auch frohe Ostern."


@pytest.mark.corpus
def test_pustur_days_first_option(tmp_path: Path) -> None:
    case = _pustur()["daysFirst_option_case"]
    path = _one_line_chat(tmp_path, case["line"] + "\n")
    for option, key in (("dmy", "daysFirst_true"), ("mdy", "daysFirst_false")):
        ts = wa(path, date_order=option).messages[0].ts
        assert (ts.day, ts.month) == (case[key]["day"], case[key]["month_1based"])


@pytest.mark.corpus
def test_pustur_index_cases(tmp_path: Path) -> None:
    cases = _pustur()["index_test_cases"]
    example = cases["chatExample"]
    p = wa(_one_line_chat(tmp_path, example["text"]))
    assert total(p) == example["expected_message_count"]
    # The trailing newline of the file ends the line; it is not part of the message.
    assert p.messages[-1].text == example["expected_last_message"].rstrip("\n")
    issue = cases["issue_237"]
    p = wa(_one_line_chat(tmp_path, issue["text"]))
    got = [m.ts for m in p.messages]
    want = [datetime.fromisoformat(t.split(".")[0]) for t in issue["expected_dates_utc_naive"]]
    assert got == want


# ---------------------------------------------------------------------------------------------
# Our fixtures: edited marker, Android and iOS groups, media from zips and folders


def test_android_direct_with_edited_marker() -> None:
    p = wa(WA / "WhatsApp Chat with Anna.txt")
    (chat,) = p.chats
    assert (chat.title, chat.key, chat.kind) == ("Anna", title_key("Anna"), DIRECT)
    assert chat.participants == ("Anna", "Ben")
    edited = [m for m in p.messages if m.extra.get("edited")]
    assert [(m.sender, m.text) for m in edited] == [
        ("Ben", "Yes, 19:30 at the station"),
        ("Anna", "好的 😀"),
    ]
    assert all(m.edited is None and m.source_id is None for m in p.messages)
    rows = [(m.ts, m.kind, m.text) for m in p.messages]
    assert (datetime(2023, 1, 4, 19, 6), TEXT, "Great\nSee you there") in rows
    assert (datetime(2023, 1, 4, 19, 10), MEDIA, "the ticket") in rows
    assert not any(kind == CALL for _, kind, _ in rows)
    (call,) = [e for e in p.events if e.kind == EV_CALL]  # a call is an event, the caller its actor
    assert (call.ts, call.text, call.actor, call.extra) == (
        datetime(2023, 1, 4, 23, 58),
        "Missed voice call",
        "Ben",
        {"missed": True},
    )
    assert (datetime(2023, 1, 13, 12, 20), IMAGE, "Look at this") in rows
    poll = next(m for m in p.messages if m.kind == POLL)
    assert poll.text.startswith("POLL:\nDinner?\nOPTION: Pizza")
    assert all(m.ts.tzinfo is None for m in p.messages)


def test_android_group_with_events() -> None:
    p = wa(WA / "WhatsApp Chat with Hiking.txt")
    (chat,) = p.chats
    assert chat.kind == GROUP and chat.participants == ("Carla", "Dev", "Eli")
    assert [(e.kind, e.text) for e in p.events] == [
        (EV_ENCRYPTION, p.events[0].text),
        (EV_SYSTEM, 'Carla created group "Hiking"'),
        (EV_JOIN, "Carla added you"),
        (EV_JOIN, "Carla added Dev"),
        (EV_TITLE, 'You changed the subject from "Hiking" to "Hiking: Alps 2023"'),
        (EV_SYSTEM, "Carla changed this group's icon"),
        (EV_JOIN, "Eli joined using this group's invite link"),
        (EV_PIN, "Carla pinned a message"),
        (EV_LEAVE, "Dev left"),
        (EV_LEAVE, "Carla removed Eli"),
    ]
    assert [m.text for m in p.messages] == [
        "Welcome all! 🏔️",
        "Thanks: happy to be here",
        "Hi! What's the plan?\nDay 1: Zermatt\nDay 2: Matterhorn glacier",
    ]


def test_ios_group_with_events() -> None:
    p = wa(WA / "ios_group_chat.txt")
    (chat,) = p.chats
    assert chat.kind == GROUP and chat.participants == ("Carla", "Eli", "Dev")
    assert [e.kind for e in p.events] == [
        EV_ENCRYPTION,
        EV_SYSTEM,
        EV_JOIN,
        EV_TITLE,
        EV_SYSTEM,
        EV_JOIN,
        EV_LEAVE,
    ]
    assert "\u200e" not in "".join(e.text for e in p.events)
    rows = [(m.sender, m.kind, m.text) for m in p.messages]
    assert rows == [
        ("Carla", TEXT, "Welcome all! 🏔️"),
        ("Eli", TEXT, "Hi! What's the plan?\nDay 1: Zermatt\nDay 2: Matterhorn glacier"),
        ("Carla", IMAGE, ""),
        ("Dev", FILE, ""),
        ("Dev", TEXT, "Nice"),
        ("Carla", DELETED, ""),
        ("Dev", AUDIO, ""),
    ]
    eli = p.messages[1]
    assert eli.extra["not_in_contacts"] is True and eli.ts == datetime(2023, 1, 11, 16, 30, 12)
    assert p.messages[4].extra["edited"] is True


def _media_zip(tmp_path: Path, name: str = "WhatsApp Chat - Hiking.zip") -> Path:
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("_chat.txt", (WA / "ios_group_chat.txt").read_bytes())
        zf.writestr("00000003-PHOTO-2023-01-11-16-31-00.jpg", b"\xff\xd8\xff\xe0 a photo")
        zf.writestr("00000004-Route.pdf", b"%PDF-1.4 a route")
    return path


def test_zip_with_media(tmp_path: Path) -> None:
    path = _media_zip(tmp_path)
    assert detect(path)
    p = wa(path)
    (chat,) = p.chats
    assert chat.title == "Hiking" and chat.key == title_key("Hiking")
    found = {a.name: a for m in p.messages for a in m.attachments}
    photo = found["00000003-PHOTO-2023-01-11-16-31-00.jpg"]
    assert photo.open is not None and photo.mime == "image/jpeg" and photo.size == 12
    assert attachment_bytes(path) == {
        "00000003-PHOTO-2023-01-11-16-31-00.jpg": b"\xff\xd8\xff\xe0 a photo",
        "00000004-Route.pdf": b"%PDF-1.4 a route",
    }
    route = found["00000004-Route.pdf"]
    assert route.kind == FILE and route.open is not None
    # The E2E notice under the group's own name is recognised by the title too.
    assert p.events[0].kind == EV_ENCRYPTION
    assert not p.problems


def test_android_zip_with_media(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Anna.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.write(WA / "WhatsApp Chat with Anna.txt", "WhatsApp Chat with Anna.txt")
        zf.writestr("IMG-20230113-WA0001.jpg", b"jpeg bytes")
    p = wa(path)
    assert p.chats[0].title == "Anna"
    (image,) = [m for m in p.messages if m.attachments]
    att = image.attachments[0]
    assert att.open is not None and att.size == 10
    assert attachment_bytes(path) == {"IMG-20230113-WA0001.jpg": b"jpeg bytes"}


def test_txt_beside_its_media(tmp_path: Path) -> None:
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(WA / "WhatsApp Chat with Anna.txt", folder)
    (folder / "IMG-20230113-WA0001.jpg").write_bytes(b"beside")
    for path in (folder / "WhatsApp Chat with Anna.txt", folder):
        assert detect(path)
        p = wa(path)
        (att,) = [a for m in p.messages for a in m.attachments]
        assert att.open is not None and att.size == 6


def test_media_link_outside_the_folder_is_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(b"not yours")
    folder = tmp_path / "export"
    folder.mkdir()
    shutil.copy(WA / "WhatsApp Chat with Anna.txt", folder)
    try:
        os.symlink(outside, folder / "IMG-20230113-WA0001.jpg")
    except OSError:
        pytest.skip("symlinks not available")
    p = wa(folder / "WhatsApp Chat with Anna.txt")
    (att,) = [a for m in p.messages for a in m.attachments]
    assert att.open is None


def test_unpacked_ios_folder_takes_its_title(tmp_path: Path) -> None:
    folder = tmp_path / "WhatsApp Chat - Hiking"
    folder.mkdir()
    shutil.copy(WA / "ios_group_chat.txt", folder / "_chat.txt")
    assert detect(folder)
    assert wa(folder).chats[0].title == "Hiking"


@pytest.mark.parametrize(
    ("name", "title"),
    [
        ("WhatsApp Chat with Dmitry S.txt", "Dmitry S"),
        ("WhatsApp Chat with Dmitry S (1).txt", "Dmitry S"),
        ("WhatsApp Chat - Elon Musk.zip", "Elon Musk"),
        ("Chat WhatsApp s\u00a0uživatelem Dmitry S.txt", "Dmitry S"),
        ("Чат WhatsApp с\u00a0контактом Dmitry S.txt", "Dmitry S"),
        ("WhatsApp-Chat mit Jonas.txt", "Jonas"),
        ("Chat de WhatsApp con Lucía.txt", "Lucía"),
        ("Discussion WhatsApp avec Léa.txt", "Léa"),
        ("some chat.txt", "some chat"),
    ],
)
def test_title_from_file_name(tmp_path: Path, name: str, title: str) -> None:
    text = (WA / "WhatsApp Chat with Anna.txt").read_bytes()
    path = tmp_path / name
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("_chat.txt", text)
    else:
        path.write_bytes(text)
    chat = wa(path).chats[0]
    assert (chat.title, chat.key) == (title, title_key(title))


def test_overlapping_exports_give_identical_records(tmp_path: Path) -> None:
    """Two windows onto one chat (a year apart, or a re-download): shared lines, same records."""
    lines = (WA / "WhatsApp Chat with Hiking.txt").read_text("utf-8").split("\n")
    first = tmp_path / "WhatsApp Chat with Hiking.txt"
    second = tmp_path / "later" / "WhatsApp Chat with Hiking (1).txt"
    second.parent.mkdir()
    first.write_text("\n".join(lines[:12]) + "\n", encoding="utf-8")
    extra = "14/01/2023, 10:00 - Carla: Anyone still here?"
    second.write_text("\n".join([*lines[6:-1], extra]) + "\n", encoding="utf-8")
    a, b = wa(first), wa(second)
    assert a.chats[0].key == b.chats[0].key
    shared_a = [(m.ts, m.sender, m.text, m.kind) for m in a.messages][-3:]
    shared_b = [(m.ts, m.sender, m.text, m.kind) for m in b.messages][:3]
    assert shared_a == shared_b


# ---------------------------------------------------------------------------------------------
# detect()


@pytest.mark.corpus
def test_detect_every_whatsapp_corpus_file() -> None:
    files = [p for p in (CORPUS / "whatsapp").rglob("*") if p.suffix in (".txt", ".zip")]
    if not files:
        pytest.skip("sample corpus not available")
    assert len(files) == 43
    assert all(detect(p) for p in files)


@pytest.mark.corpus
def test_detect_false_on_other_apps() -> None:
    others = [
        p for p in CORPUS.rglob("*") if "whatsapp" not in p.relative_to(CORPUS).parts[:1] and p.name != "EXPECTED.md"
    ]
    if not others:
        pytest.skip("sample corpus not available")
    assert [p for p in others if detect(p)] == []


def test_detect_false_on_random_and_odd_input(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_bytes(os.urandom(70_000))
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    log = tmp_path / "app.log"
    log.write_text("2023-01-04 19:02:03,123 - root - INFO - started\n", encoding="utf-8")
    signal_md = tmp_path / "chat.md"
    signal_md.write_text("[2019-12-24, 12:23] Jane Doe: Hello John!\n", encoding="utf-8")
    for path in (junk, empty, log, signal_md, tmp_path, tmp_path / "missing.txt"):
        assert detect(path) is False
    assert detect(WA / "WhatsApp Chat with Anna.txt")
    assert detect(WA / "ios_group_chat.txt")


# ---------------------------------------------------------------------------------------------
# issue 17 item 18: year-first brackets, every locale's notices, files mixing date orders


def test_year_first_bracket_header_with_slashes_is_detected(tmp_path: Path) -> None:
    """`[2016/04/15 15:04]` is WhatsApp's (signal-export writes its year-first dates with dashes)."""
    path = tmp_path / "chat.txt"
    path.write_text(
        "[2016/04/15 15:04] Ana: olá\n[2016/04/15 15:05] Bruno: 警察 chegou\n[2016/04/16 09:00] Ana: ok\n",
        encoding="utf-8",
    )
    assert detect(path) and importers.detect(path).name == "whatsapp"
    p = wa(path)
    assert [(m.ts, m.sender) for m in p.messages] == [
        (datetime(2016, 4, 15, 15, 4), "Ana"),
        (datetime(2016, 4, 15, 15, 5), "Bruno"),
        (datetime(2016, 4, 16, 9, 0), "Ana"),
    ]
    signal_md = tmp_path / "signal.md"
    signal_md.write_text("[2019-12-24, 12:23] Jane Doe: Hello John!\n", encoding="utf-8")
    assert not detect(signal_md)


@pytest.mark.parametrize(
    "notice",
    [
        # zh-CN iOS, a wording newer than the strings collected (消息和通话都进行… / 现已进行…)
        "消息和通话已进行端到端加密。对话之外的任何人，甚至包括 WhatsApp，都无法读取或收听。",
        # Polish and Hebrew: languages the hand-made table never had
        "Wiadomości i połączenia są szyfrowane end-to-end. Nikt spoza tego czatu, nawet WhatsApp,"
        " nie może ich odczytać ani odsłuchać.",
        "ההודעות והשיחות מוצפנות מקצה לקצה. לאף אחד מחוץ לצ'אט הזה, גם לא ל-WhatsApp, אין אפשרות"
        " לקרוא אותן או להאזין להן.",
    ],
)
def test_end_to_end_notice_of_any_locale_is_an_event(tmp_path: Path, notice: str) -> None:
    path = tmp_path / "WhatsApp Chat - 小明.txt"
    path.write_text(f"[2024/03/01 10:00:00] 小明: {notice}\r\n[2024/03/01 10:01:00] 小明: 你好\r\n", encoding="utf-8")
    p = wa(path)
    (event,) = p.events
    assert (event.kind, event.text) == (EV_ENCRYPTION, notice)
    assert [m.text for m in p.messages] == ["你好"]


def test_deleted_and_missed_call_placeholders_of_other_locales(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat with Ola.txt"
    path.write_text(
        "01.03.2024, 10:00 - Ola: Ta wiadomość została usunięta\n"
        "01.03.2024, 10:01 - Ola: Nieodebrane połączenie\n"
        "01.03.2024, 10:02 - Ola: cześć\n",
        encoding="utf-8",
    )
    p = wa(path)
    assert [(m.kind, m.text) for m in p.messages] == [(DELETED, ""), (TEXT, "cześć")]
    assert [e.kind for e in p.events] == [EV_CALL]


def test_ios_call_length_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "WhatsApp Chat - Ana.txt"
    path.write_text(
        "[3/1/24, 10:00:00] Ana: \u200eVoice call, \u200e19 sec\r\n"
        "[3/1/24, 10:05:00] Ana: \u200eVideo call, 1 hr 2 min\r\n",
        encoding="utf-8",
    )
    p = wa(path)
    assert [(e.kind, e.actor, e.extra.get("duration_s")) for e in p.events] == [
        (EV_CALL, "Ana", 19),
        (EV_CALL, "Ana", 3720),
    ]
    assert not p.messages


def test_a_file_mixing_date_orders_keeps_the_unambiguous_lines(tmp_path: Path) -> None:
    """Headers `30/6/2023` and `6/30/23` in one file: the file reads day/month (its majority), a line
    that can only be month/day is read so instead of dropped, and a Note says so."""
    path = tmp_path / "WhatsApp Chat with Sam.txt"
    path.write_text(
        "30/6/2023, 10:00 - Sam: one\n"
        "29/6/2023, 10:01 - Kim: two\n"
        "6/30/23, 10:02 - Sam: three\n"
        "1/7/2023, 10:03 - Kim: four\n",
        encoding="utf-8",
    )
    p = wa(path)
    assert [(m.ts, m.text) for m in p.messages] == [
        (datetime(2023, 6, 30, 10, 0), "one"),
        (datetime(2023, 6, 29, 10, 1), "two"),
        (datetime(2023, 6, 30, 10, 2), "three"),
        (datetime(2023, 7, 1, 10, 3), "four"),  # ambiguous: the file's order
    ]
    assert not p.problems
    assert any("1 record(s) had a date that can only be month/day/year" in n.text for n in p.notes)
