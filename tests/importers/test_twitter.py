"""X/Twitter DM archive: an archive built here from the real `window.YTD…` layout, as a folder,
its data folder, one file and the zip; multi-part files; media present and missing; into a vault."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import twitter
from importers.base import ParseOptions
from tests.conftest import FIXTURES
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import DIRECT, EV_JOIN, EV_LEAVE, EV_TITLE, GIF, GROUP, IMAGE, TEXT, Chat, Message

UTC = timezone.utc
ME = "1001"
OMAR = "2002"
NOA = "3003"
LI = "4004"
ONE = f"{ME}-{OMAR}"
GROUP_ID = "1719000000000000000"


def ytd(name: str, doc: Any, part: int = 0) -> str:
    """A data file as X writes it: a JavaScript assignment of pretty-printed JSON."""
    return f"window.YTD.{name}.part{part} = " + json.dumps(doc, ensure_ascii=False, indent=2)


def mc(mid: str, sender: str, when: str, text: str, recipient: str = "0", **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipientId": recipient,
        "reactions": [],
        "urls": [],
        "text": text,
        "mediaUrls": [],
        "senderId": sender,
        "id": mid,
        "createdAt": when,
        "editHistory": [],
    }
    body.update(kw)
    return {"messageCreate": body}


ONE_TO_ONE = [  # newest first, as in the archive
    mc(
        "9005",
        OMAR,
        "2024-06-05T13:50:00.000Z",
        "شكرا https://t.co/abc123",
        ME,
        urls=[{"url": "https://t.co/abc123", "expanded": "https://example.org/شكرا", "display": "example.org/…"}],
    ),
    mc(
        "9004",
        ME,
        "2024-06-05T13:49:00.000Z",
        "警察 &amp; 消防 &lt;3",
        OMAR,
        reactions=[{"senderId": OMAR, "reactionKey": "like", "eventId": "r1", "createdAt": "2024-06-05T13:49:30.000Z"}],
    ),
    mc(
        "9003",
        OMAR,
        "2024-06-05T13:48:00.000Z",
        "photo https://t.co/img1",
        ME,
        mediaUrls=["https://ton.twitter.com/dm/9003/7001/AbCdEf.jpg"],
    ),
    mc(
        "9002",
        OMAR,
        "2024-06-05T13:47:00.000Z",
        "https://t.co/gone",
        ME,
        mediaUrls=["https://ton.twitter.com/dm/9002/7002/Missing.png"],
    ),
    mc(
        "9001",
        ME,
        "2024-06-05T13:46:00.000Z",
        "edited now",
        OMAR,
        editHistory=[{"createdAt": "2024-06-05T13:46:40.000Z", "text": "edited nwo"}],
    ),
]

GROUP_ENTRIES = [
    {
        "conversationNameUpdate": {
            "initiatingUserId": NOA,
            "name": "周末 חברים",
            "createdAt": "2024-07-02T09:00:00.000Z",
        }
    },
    mc("8006", LI, "2024-07-01T10:05:00.000Z", "ok"),
    mc("8005", LI, "2024-07-01T10:05:00.000Z", "ok"),
    mc("8004", NOA, "2024-07-01T10:04:00.000Z", "GIF", mediaUrls=["https://video.twimg.com/dm_gif/8004/fun.mp4"]),
    {"participantsLeave": {"userIds": [LI], "createdAt": "2024-07-01T10:03:30.000Z"}},
    mc("8003", LI, "2024-07-01T10:03:00.000Z", "明天见 警察"),
    mc("8002", NOA, "2024-07-01T10:02:00.000Z", "שלום לכולם"),
    {"participantsJoin": {"initiatingUserId": NOA, "userIds": [LI], "createdAt": "2024-07-01T10:01:00.000Z"}},
    {"conversationNameUpdate": {"initiatingUserId": NOA, "name": "old name", "createdAt": "2024-07-01T10:00:30.000Z"}},
    {
        "joinConversation": {
            "initiatingUserId": NOA,
            "participantsSnapshot": [ME, NOA, OMAR],
            "createdAt": "2024-07-01T10:00:00.000Z",
        }
    },
    {"messageCreate": {"id": "8000", "senderId": NOA, "text": "no date"}},
]

PART1 = [mc("9000", OMAR, "2024-06-04T08:00:00.000Z", "older part", ME)]


def archive(root: Path) -> Path:
    data = root / "data"
    data.mkdir(parents=True)
    (root / "Your archive.html").write_text("<html></html>", encoding="utf-8")
    (data / "manifest.js").write_text("window.__THAR_CONFIG = {}", encoding="utf-8")
    (data / "account.js").write_text(
        ytd(
            "account",
            [
                {
                    "account": {
                        "email": "mei@example.com",
                        "createdVia": "web",
                        "username": "mei_chen",
                        "accountId": ME,
                        "createdAt": "2015-01-01T00:00:00.000Z",
                        "accountDisplayName": "Mei 陈",
                    }
                }
            ],
        ),
        encoding="utf-8",
    )
    (data / "direct-messages.js").write_text(
        ytd("direct_messages", [{"dmConversation": {"conversationId": ONE, "messages": ONE_TO_ONE}}]) + ";\n",
        encoding="utf-8",
    )
    (data / "direct-messages-part1.js").write_text(
        ytd("direct_messages", [{"dmConversation": {"conversationId": ONE, "messages": PART1}}], part=1),
        encoding="utf-8",
    )
    (data / "direct-messages-group.js").write_text(
        ytd("direct_messages_group", [{"dmConversation": {"conversationId": GROUP_ID, "messages": GROUP_ENTRIES}}]),
        encoding="utf-8",
    )
    media = data / "direct_messages_media"
    media.mkdir()
    (media / "9003-AbCdEf.jpg").write_bytes(b"\xff\xd8\xff jpeg")
    group_media = data / "direct_messages_group_media"
    group_media.mkdir()
    (group_media / "8004-fun.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp4")
    return root


def zipped(root: Path, dest: Path, prefix: str = "") -> Path:
    with zipfile.ZipFile(dest, "w") as zf:
        for p in sorted(root.rglob("*")):
            if p.is_file():
                zf.write(p, prefix + p.relative_to(root).as_posix())
    return dest


def check(result: Parsed, *, read: bool = True) -> None:
    chats = {c.key: c for c in result.chats}
    assert set(chats) == {ONE, GROUP_ID}
    assert (chats[ONE].title, chats[ONE].kind, chats[ONE].participants) == (f"@{OMAR}", DIRECT, ("Mei 陈", f"@{OMAR}"))
    # the group: a placeholder title first, then the latest name, whatever order the file has
    group_titles = [c.title for c in result.chats if c.key == GROUP_ID]
    assert group_titles == [f"Group DM {GROUP_ID}", "周末 חברים"]
    assert chats[GROUP_ID].kind == GROUP

    msgs = result.messages
    assert len(msgs) == 11
    assert Counter(m.chat for m in msgs) == {ONE: 6, GROUP_ID: 5}
    m = {x.source_id: x for x in msgs}

    link = m["9005"]
    assert link.text == "شكرا https://example.org/شكرا"  # t.co replaced by the expanded URL
    assert (link.sender, link.sender_id, link.from_me) == (f"@{OMAR}", OMAR, False)
    assert link.ts == datetime(2024, 6, 5, 13, 50, tzinfo=UTC)

    own = m["9004"]
    assert (own.text, own.sender, own.from_me, own.kind) == ("警察 & 消防 <3", "Mei 陈", True, TEXT)
    assert [(r.emoji, r.sender, r.ts) for r in own.reactions] == [
        ("\u2764\ufe0f", f"@{OMAR}", datetime(2024, 6, 5, 13, 49, 30, tzinfo=UTC))
    ]

    photo = m["9003"]
    (att,) = photo.attachments
    assert (photo.kind, att.name, att.kind, att.mime, att.size) == (IMAGE, "AbCdEf.jpg", IMAGE, "image/jpeg", 8)
    assert att.open is not None
    if read:
        with att.open() as fh:
            assert fh.read() == b"\xff\xd8\xff jpeg"
    missing = m["9002"]
    assert [(a.name, a.kind, a.open) for a in missing.attachments] == [("Missing.png", IMAGE, None)]

    edited = m["9001"]
    assert edited.edited == datetime(2024, 6, 5, 13, 46, 40, tzinfo=UTC) and m["9005"].edited is None
    assert m["9000"].text == "older part"  # from direct-messages-part1.js

    gif = m["8004"]
    assert gif.kind == GIF and gif.attachments[0].name == "fun.mp4" and gif.attachments[0].open is not None
    oks = [m["8005"], m["8006"]]
    assert [o.text for o in oks] == ["ok", "ok"] and oks[0].ts == oks[1].ts
    assert (m["8003"].sender, m["8003"].text) == (f"@{LI}", "明天见 警察")
    assert m["8002"].text == "שלום לכולם"

    events = {(e.kind, e.text) for e in result.events}
    assert events == {
        (EV_TITLE, f"@{NOA} renamed the conversation to 周末 חברים"),
        (EV_TITLE, f"@{NOA} renamed the conversation to old name"),
        (EV_LEAVE, f"@{LI} left"),
        (EV_JOIN, f"@{NOA} added @{LI}"),
        (EV_JOIN, f"@{NOA} added Mei 陈"),
    }
    assert len(result.events) == 5
    assert [p.message for p in result.problems] == ["entry 11 (messageCreate) has no readable createdAt; skipped"]
    for key in chats:
        chat_at = next(i for i, r in enumerate(result.records) if isinstance(r, Chat) and r.key == key)
        first_at = next(i for i, r in enumerate(result.records) if isinstance(r, Message) and r.chat == key)
        assert chat_at < first_at


def test_archive_folder_data_folder_and_file(tmp_path: Path) -> None:
    root = archive(tmp_path / "twitter-2024-07-03-abc")
    for path in (root, root / "data"):
        assert importers.detect(path).name == "twitter-dm"
        check(parse(path))
    one = root / "data" / "direct-messages-group.js"
    assert importers.detect(one).name == "twitter-dm"
    result = parse(one)
    assert [c.key for c in result.chats] == [GROUP_ID, GROUP_ID] and len(result.messages) == 5
    assert next(x for x in result.messages if x.source_id == "8004").attachments[0].open is not None


@pytest.mark.parametrize("prefix", ["", "twitter-2024-07-03-abc/"])
def test_zip(tmp_path: Path, prefix: str) -> None:
    dest = zipped(archive(tmp_path / "a"), tmp_path / "twitter-2024-07-03-abc.zip", prefix)
    assert importers.detect(dest).name == "twitter-dm"
    check(parse(dest), read=False)
    contents = {}
    for rec in importers.get("twitter-dm").parse(dest, ParseOptions()):
        for att in getattr(rec, "attachments", ()):
            if att.open is not None:
                with att.open() as fh:
                    contents[att.name] = fh.read()
    assert contents == {"AbCdEf.jpg": b"\xff\xd8\xff jpeg", "fun.mp4": b"\x00\x00\x00\x18ftypmp4"}


def test_import_into_vault_search_and_reimport(tmp_path: Path, new_vault: Any) -> None:
    dest = zipped(archive(tmp_path / "a"), tmp_path / "twitter.zip")
    report = new_vault.import_path(dest)
    assert report.format == "twitter-dm"
    assert (report.added, report.events, report.attachments) == (11, 5, 2)
    hits = new_vault.search("警察")
    assert sorted(h["sender"] for h in hits) == ["@4004", "Mei 陈"]
    assert {h["source"] for h in hits} == {"twitter"}
    again = new_vault.import_path(dest)
    assert (again.added, again.duplicates) == (0, 16)
    titles = {c["title"]: c for c in new_vault.chats()}
    assert titles["周末 חברים"]["messages"] == 5 and titles["周末 חברים"]["events"] == 5


def test_without_account_js_nothing_is_from_me(tmp_path: Path) -> None:
    root = archive(tmp_path / "a")
    (root / "data" / "account.js").unlink()
    result = parse(root)
    assert {m.from_me for m in result.messages} == {None}
    assert result.notes and len(result.messages) == 11


# --- detection ------------------------------------------------------------------------------------


def test_no_other_fixture_detects_as_twitter(tmp_path: Path) -> None:
    paths = [p for p in FIXTURES.rglob("*") if not p.name.startswith(".")]
    assert len(paths) > 20
    for p in paths:
        assert not twitter.detect(p), p


def test_google_chat_and_twitter_do_not_claim_each_other(tmp_path: Path) -> None:
    from tests.importers.test_google_chat import takeout

    tw = archive(tmp_path / "tw")
    gc = takeout(tmp_path / "gc")
    for fmt in importers.get("google-chat"), importers.get("hangouts"):
        for p in (tw, tw / "data", *sorted((tw / "data").iterdir())):
            assert not fmt.detect(p), (fmt.name, p)
    for p in (gc, gc / "Google Chat", gc / "Hangouts" / "Hangouts.json", *sorted(gc.rglob("*.json"))):
        assert not twitter.detect(p), p


def test_lookalikes_are_not_claimed(tmp_path: Path) -> None:
    tweets = tmp_path / "data" / "tweets.js"
    tweets.parent.mkdir()
    tweets.write_text(ytd("tweets", [{"tweet": {"id": "1"}}]), encoding="utf-8")
    plain = tmp_path / "direct-messages.js"
    plain.write_text('[{"dmConversation": {}}]', encoding="utf-8")
    for p in (tweets, tweets.parent, plain, tmp_path / "nothing"):
        assert not twitter.detect(p), p


# --- malformed input --------------------------------------------------------------------------------


def test_truncated_file_is_a_clean_error(tmp_path: Path) -> None:
    root = archive(tmp_path / "a")
    dm = root / "data" / "direct-messages.js"
    dm.write_bytes(dm.read_bytes()[:900])
    assert twitter.detect(root)
    with pytest.raises(ExportError) as err:
        list(twitter.parse(root, ParseOptions()))
    assert "direct-messages.js" in str(err.value) and "警察" not in str(err.value)


def test_wrong_preface_is_a_clean_error(tmp_path: Path) -> None:
    root = archive(tmp_path / "a")
    (root / "data" / "direct-messages-part1.js").write_text("var x = 1", encoding="utf-8")
    with pytest.raises(ExportError) as err:
        list(twitter.parse(root, ParseOptions()))
    assert "direct-messages-part1.js" in str(err.value)
    with pytest.raises(ExportError):
        list(twitter.parse(tmp_path / "a" / "Your archive.html", ParseOptions()))


def test_bad_entries_are_problems(tmp_path: Path) -> None:
    root = archive(tmp_path / "a")
    entries = [42, {"a": {}, "b": {}}, {"messageCreate": "text"}, *PART1]
    (root / "data" / "direct-messages-part1.js").write_text(
        ytd("direct_messages", [{"dmConversation": {"conversationId": ONE, "messages": entries}}], part=1),
        encoding="utf-8",
    )
    result = parse(root)
    assert len(result.messages) == 11
    assert [p.message for p in result.problems if "part1" in p.path] == [
        "entry 1 of a conversation is not one event; skipped",
        "entry 2 of a conversation is not one event; skipped",
        "entry 3 of a conversation is not an object; skipped",
    ]


def test_damaged_zip_is_a_clean_error(tmp_path: Path) -> None:
    dest = zipped(archive(tmp_path / "a"), tmp_path / "t.zip")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(dest.read_bytes()[:-100])
    assert not twitter.detect(broken)
    with pytest.raises(ExportError) as err:
        list(importers.get("twitter-dm").parse(broken, ParseOptions()))
    assert "broken.zip" in str(err.value)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    texts=st.lists(
        st.text(alphabet=st.characters(blacklist_characters="&", blacklist_categories=("Cs",))), min_size=1, max_size=6
    )
)
def test_any_text_survives_the_js_wrapper(tmp_path_factory: pytest.TempPathFactory, texts: list[str]) -> None:
    """Brackets, `;`, `=`, quotes, newlines, CJK, RTL, emoji in messages: each comes back as written."""
    data = tmp_path_factory.mktemp("tw") / "data"
    data.mkdir()
    entries = [mc(str(9000 + i), OMAR, "2024-06-05T13:50:00.000Z", t, ME) for i, t in enumerate(texts)]
    (data / "direct-messages.js").write_text(
        ytd("direct_messages", [{"dmConversation": {"conversationId": ONE, "messages": entries}}]) + ";",
        encoding="utf-8",
    )
    result = parse(data.parent, "twitter-dm")
    assert [m.text for m in result.messages] == texts
    assert not result.problems


def test_no_other_format_claims_an_archive(tmp_path: Path) -> None:
    root = archive(tmp_path / "a")
    paths = [root, root / "data", zipped(root, tmp_path / "a.zip"), *sorted((root / "data").iterdir())]
    for fmt in importers.formats():
        if fmt.source == "twitter":
            continue
        for p in paths:
            assert not fmt.detect(p), (fmt.name, p)


def test_cli_imports_both_archives_from_a_downloads_folder(tmp_path: Path, cli_vault: dict[str, str]) -> None:
    """`talkvault import ~/Downloads` finds the X zip and the Takeout zip, and search finds 警察 in all."""
    from tests.conftest import cli
    from tests.importers.test_google_chat import takeout, zip_tree

    downloads = tmp_path / "Downloads"
    downloads.mkdir()
    zipped(archive(tmp_path / "a"), downloads / "twitter-2024-07-03-abc.zip")
    zip_tree(takeout(tmp_path / "g"), downloads / "takeout-20240110T000000Z-001.zip")
    run = cli("import", str(downloads), "--json", env=cli_vault)
    assert run.code == 0, run.err
    files = {Path(f["path"]).name: f for f in run.json()["files"]}
    assert {n: (f["format"], f["added"], f["error"]) for n, f in files.items()} == {
        "twitter-2024-07-03-abc.zip": ("twitter-dm", 11, None),
        "takeout-20240110T000000Z-001.zip": ("google-chat", 17, None),
    }
    hits = cli("search", "警察", "--json", env=cli_vault).json()
    assert Counter(h["source"] for h in hits) == {"twitter": 2, "googlechat": 2, "hangouts": 1}
    again = cli("import", str(downloads), "--json", env=cli_vault).json()
    assert again["added"] == 0
