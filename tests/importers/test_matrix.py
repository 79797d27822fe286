"""Element (Matrix) "Export chat" JSON: the plain .json, the .zip with attachments, its folder; vault; bad input."""

from __future__ import annotations

import json
import zipfile
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
from importers import matrix
from importers.matrix.events import strip_reply_fallback
from tests.conftest import FIXTURES
from tests.importers.util import Parsed, parse
from vault.errors import ExportError
from vault.records import (
    DELETED,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    GROUP,
    IMAGE,
    LOCATION,
    STICKER,
    TEXT,
)

UTC = timezone.utc
ROOM = "!devroom42:example.org"
ALICE, BOB, NOA, SPAM = "@alice:example.org", "@bob:example.org", "@noa:example.org", "@spam:example.org"
T0 = datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC)
CAT_BYTES = b"\x89PNG\r\n\x1a\n fake cat"
STICKER_BYTES = b"\x89PNG\r\n\x1a\n fake sticker"


def ts(minutes: float) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)


def when(minutes: float) -> datetime:
    return datetime.fromtimestamp(ts(minutes) / 1000, UTC)


def ev(eid: str, etype: str, sender: str, minute: float, content: dict[str, Any], **kw: Any) -> dict[str, Any]:
    d: dict[str, Any] = {
        "type": etype,
        "sender": sender,
        "content": content,
        "origin_server_ts": ts(minute),
        "unsigned": kw.pop("unsigned", {"age": 1000}),
        "event_id": eid,
        "user_id": sender,
        "room_id": ROOM,
    }
    d.update(kw)
    return d


def member(
    eid: str, sender: str, target: str, minute: float, membership: str, name: str | None = None, **kw: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"membership": membership}
    if name:
        content["displayname"] = name
    return ev(eid, "m.room.member", sender, minute, content, state_key=target, **kw)


def text(eid: str, sender: str, minute: float, body: str, **content: Any) -> dict[str, Any]:
    return ev(eid, "m.room.message", sender, minute, {"msgtype": "m.text", "body": body, **content})


def events() -> list[dict[str, Any]]:
    mxc = "mxc://example.org/"
    return [
        ev("$create", "m.room.create", ALICE, 0, {"creator": ALICE, "room_version": "10"}, state_key=""),
        member("$m1", ALICE, ALICE, 0.1, "join", "Alice Wang"),
        ev("$name", "m.room.name", ALICE, 0.2, {"name": "开发组 Dev"}, state_key=""),
        ev("$topic", "m.room.topic", ALICE, 0.3, {"topic": "每日站会"}, state_key=""),
        ev("$enc", "m.room.encryption", ALICE, 0.4, {"algorithm": "m.megolm.v1.aes-sha2"}, state_key=""),
        member("$m2", BOB, BOB, 1, "join", "Bob"),
        member("$m3", ALICE, NOA, 2, "invite", "נועה"),
        member("$m4", NOA, NOA, 3, "join", "נועה", unsigned={"prev_content": {"membership": "invite"}}),
        text("$e1", BOB, 5, "我们明天去警察局"),
        text("$e2", NOA, 6, "שלום לכולם"),
        text("$e3", BOB, 7, "مرحبا بالجميع"),
        text(
            "$e4",
            ALICE,
            8,
            "> <@bob:example.org> 我们明天去警察局\n\n好的，我也去",
            format="org.matrix.custom.html",
            formatted_body="<mx-reply><blockquote>…</blockquote></mx-reply>好的，我也去",
            **{"m.relates_to": {"m.in_reply_to": {"event_id": "$e1"}}},
        ),
        text("$e5", BOB, 9, "helo wrld"),
        text(
            "$e6",
            BOB,
            9.5,
            "* hello world",
            **{
                "m.new_content": {"msgtype": "m.text", "body": "hello world"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$e5"},
            },
        ),
        ev(
            "$r1", "m.reaction", NOA, 10, {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e1", "key": "👍"}}
        ),
        ev(
            "$r2",
            "m.reaction",
            ALICE,
            10.1,
            {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$e1", "key": "🎉"}},
        ),
        ev("$x1", "m.room.redaction", ALICE, 10.2, {}, redacts="$r2"),
        text("$e10", BOB, 11, "oops, wrong room"),
        ev("$x2", "m.room.redaction", BOB, 11.5, {"redacts": "$e10"}),  # room v11: redacts in content
        ev("$e12", "m.room.message", NOA, 12, {}, unsigned={"redacted_because": {"type": "m.room.redaction"}}),
        ev(
            "$img",
            "m.room.message",
            ALICE,
            20,
            {
                "msgtype": "m.image",
                "body": "cat.png",
                "url": mxc + "cat",
                "info": {"mimetype": "image/png", "size": 18},
            },
        ),
        ev(
            "$file",
            "m.room.message",
            BOB,
            21,
            {
                "msgtype": "m.file",
                "body": "报告.pdf",
                "url": mxc + "report",
                "info": {"mimetype": "application/pdf", "size": 4096},
            },
        ),
        text("$ok1", ALICE, 22, "ok"),
        {**text("$ok2", ALICE, 22, "ok"), "origin_server_ts": ts(22) + 400},
        ev("$c1", "m.call.invite", BOB, 30, {"call_id": "c1", "version": "1", "offer": {"sdp": "v=0 m=audio"}}),
        ev("$c2", "m.call.answer", ALICE, 30.1, {"call_id": "c1", "version": "1"}),
        ev("$c3", "m.call.hangup", BOB, 31.1, {"call_id": "c1", "version": "1", "reason": "user_hangup"}),
        ev("$gc1", "org.matrix.msc3401.call.member", NOA, 31.2, {"application": "m.call"}, state_key="_" + NOA),
        ev("$gc2", "org.matrix.msc3401.call.member", NOA, 31.3, {}, state_key="_" + NOA),
        ev(
            "$st",
            "m.sticker",
            NOA,
            32,
            {"body": "party", "url": mxc + "party", "info": {"mimetype": "image/png", "size": 21}},
        ),
        ev("$emote", "m.room.message", NOA, 33, {"msgtype": "m.emote", "body": "waves"}),
        ev(
            "$loc",
            "m.room.message",
            BOB,
            34,
            {"msgtype": "m.location", "body": "Office", "geo_uri": "geo:31.77,35.21"},
        ),
        member(
            "$m5",
            BOB,
            BOB,
            35,
            "join",
            "Bobby",
            unsigned={"prev_content": {"membership": "join", "displayname": "Bob"}},
        ),
        text("$e20", BOB, 36, "new name, same me"),
        {
            "decrypted": text("$e21", NOA, 37, "סוד 秘密"),
            "encrypted": {
                "type": "m.room.encrypted",
                "sender": NOA,
                "event_id": "$e21",
                "origin_server_ts": ts(37),
                "room_id": ROOM,
                "content": {
                    "algorithm": "m.megolm.v1.aes-sha2",
                    "m.relates_to": {"m.in_reply_to": {"event_id": "$e2"}},
                },
            },
        },
        ev("$undec", "m.room.encrypted", BOB, 38, {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgA"}),
        member("$m6", NOA, NOA, 40, "leave"),
        member("$m7", ALICE, SPAM, 41, "ban"),
        ev(
            "$late",
            "m.room.message",
            BOB,
            42,
            {"msgtype": "m.text", "body": "after the leave and the ban"},
            # an edit the server bundled, whose event is not in the export (Element shows the new text)
            unsigned={"m.relations": {"m.replace": {"event_id": "$e98", "origin_server_ts": ts(42.5), "sender": BOB}}},
        ),
        # an edit whose original is not in the export
        text(
            "$e99",
            BOB,
            43,
            "* edited later",
            **{
                "m.new_content": {"msgtype": "m.text", "body": "edited later"},
                "m.relates_to": {"rel_type": "m.replace", "event_id": "$gone"},
            },
        ),
    ]


def export_doc() -> dict[str, Any]:
    return {
        "room_name": "开发组 Dev",
        "room_creator": "Alice Wang",
        "topic": "每日站会",
        "export_date": "01/04/2024",
        "exported_by": "Alice Wang",
        "messages": events(),
    }


FILES = {
    "images/cat-3-1-2024 at 10-20-00 AM.png": CAT_BYTES,
    "stickers/party-3-1-2024 at 10-32-00 AM.png": STICKER_BYTES,
    "images/dog-3-1-2024 at 10-20-00 AM.png": b"not the cat",
}


def write_zip(path: Path, doc: Any = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in FILES.items():
            zf.writestr(name, blob)
        zf.writestr("export.json", json.dumps(doc or export_doc(), ensure_ascii=False, indent=2))
    return path


@pytest.fixture
def element_zip(tmp_path: Path) -> Path:
    return write_zip(tmp_path / "matrix-export-3-1-2024 at 12-00-00.zip")


@pytest.fixture
def element_json(tmp_path: Path) -> Path:
    p = tmp_path / "matrix - 开发组 Dev - Chat Export - 2024-04-01T12-00-00.000Z.json"
    p.write_text(json.dumps(export_doc(), ensure_ascii=False, indent=2), encoding="utf-8")
    return p


def by_id(result: Parsed) -> dict[str, Any]:
    return {r.source_id: r for r in [*result.messages, *result.events]}


def test_zip_export_records(element_zip: Path) -> None:
    assert importers.detect(element_zip).name == "matrix"
    result = parse(element_zip)
    assert not result.problems
    (chat,) = result.chats
    assert (chat.key, chat.title, chat.kind, chat.source) == (ROOM, "开发组 Dev", GROUP, "matrix")
    assert chat.extra["topic"] == "每日站会" and chat.extra["exported_by"] == "Alice Wang"
    assert [n.text for n in result.notes] == [
        "1 event(s) were still encrypted in the export (Element had no key); skipped"
    ]
    recs = by_id(result)
    # no record for reactions, redactions, edits or the undecryptable event
    assert not {"$r1", "$r2", "$x1", "$x2", "$e6", "$e99", "$undec"} & set(recs)
    assert len(result.messages) == 18
    kinds = Counter(m.kind for m in result.messages)
    assert kinds == {TEXT: 12, DELETED: 2, IMAGE: 1, FILE: 1, STICKER: 1, LOCATION: 1}
    assert Counter(e.kind for e in result.events) == {
        EV_SYSTEM: 4,  # create, topic, invite, display-name change
        EV_TITLE: 1,
        EV_ENCRYPTION: 1,
        EV_JOIN: 3,
        EV_LEAVE: 2,
        EV_CALL: 5,
    }
    senders = Counter(m.sender for m in result.messages)
    # names as they were when each was sent: Bob became Bobby at minute 35
    assert senders == {"Bob": 6, "Bobby": 3, "Alice Wang": 4, "נועה": 5}


def test_zip_export_details(element_zip: Path) -> None:
    recs = by_id(parse(element_zip))
    e1 = recs["$e1"]
    assert (e1.ts, e1.sender, e1.sender_id, e1.text, e1.kind, e1.from_me) == (
        when(5),
        "Bob",
        BOB,
        "我们明天去警察局",
        TEXT,
        False,
    )
    # the redacted 🎉 is gone; the 👍 stays, by its sender's display name
    assert [(r.emoji, r.sender, r.ts) for r in e1.reactions] == [("👍", "נועה", when(10))]
    assert recs["$e2"].text == "שלום לכולם" and recs["$e3"].text == "مرحبا بالجميع"
    reply = recs["$e4"]
    assert (reply.reply_to, reply.text, reply.from_me, reply.sender) == ("$e1", "好的，我也去", True, "Alice Wang")
    edited = recs["$e5"]
    assert (edited.text, edited.ts, edited.edited) == ("hello world", when(9), when(9.5))
    for gone in ("$e10", "$e12"):
        assert (recs[gone].kind, recs[gone].text) == (DELETED, "")
    assert recs["$e10"].extra["deleted"] == when(11.5).isoformat()

    img = recs["$img"]
    assert (img.kind, img.text) == (IMAGE, "")
    (att,) = img.attachments
    assert (att.name, att.kind, att.mime, att.size) == ("cat.png", IMAGE, "image/png", len(CAT_BYTES))
    assert att.open is not None  # its bytes: test_attachment_bytes_stream_from_the_zip
    (pdf,) = recs["$file"].attachments
    assert (pdf.name, pdf.size, pdf.open) == ("报告.pdf", 4096, None)
    (sticker,) = recs["$st"].attachments
    assert sticker.open is not None and recs["$st"].kind == STICKER

    oks = [recs["$ok1"], recs["$ok2"]]
    assert [(m.text, m.ts.replace(microsecond=0)) for m in oks] == [("ok", when(22)), ("ok", when(22))]

    invite, answer, hangup = recs["$c1"], recs["$c2"], recs["$c3"]
    assert all(c.kind == EV_CALL for c in (invite, answer, hangup))
    assert invite.text == "Bob started a call" and invite.extra["video"] is False
    assert hangup.extra["duration_s"] == 60.0 and hangup.text == "Bob ended the call (1:00)"
    assert "duration_s" not in invite.extra
    assert recs["$gc1"].text == "נועה joined the call" and recs["$gc2"].text == "נועה left the call"
    assert recs["$gc1"].kind == recs["$gc2"].kind == EV_CALL

    assert recs["$emote"].text == "* נועה waves" and recs["$emote"].extra["msgtype"] == "m.emote"
    assert recs["$loc"].kind == LOCATION and recs["$loc"].extra["geo_uri"] == "geo:31.77,35.21"
    assert recs["$m5"].text == "Bob changed their display name to Bobby"
    assert recs["$e20"].sender == "Bobby" and recs["$e20"].sender_id == BOB
    secret = recs["$e21"]
    assert (secret.text, secret.reply_to, secret.sender) == ("סוד 秘密", "$e2", "נועה")
    assert recs["$m3"].text == "Alice Wang invited נועה" and recs["$m3"].kind == EV_SYSTEM
    assert recs["$m4"].kind == EV_JOIN and recs["$m6"].text == "נועה left" and recs["$m6"].kind == EV_LEAVE
    assert recs["$m7"].text == "Alice Wang banned @spam:example.org" and recs["$m7"].kind == EV_LEAVE
    assert recs["$name"].text == "Alice Wang changed the room name to 开发组 Dev"
    assert recs["$create"].text == "Alice Wang created the room"
    assert (recs["$late"].text, recs["$late"].edited) == ("after the leave and the ban", when(42.5))
    orphan = recs["$gone"]
    assert (orphan.text, orphan.edited, orphan.sender) == ("edited later", when(43), "Bobby")


def test_attachment_bytes_stream_from_the_zip(element_zip: Path) -> None:
    seen = {}
    for rec in importers.get("matrix").parse(element_zip, importers.ParseOptions()):
        for att in getattr(rec, "attachments", ()):
            if att.open is not None:
                with att.open() as fh:
                    seen[att.name] = fh.read()
    assert seen == {"cat.png": CAT_BYTES, "party": STICKER_BYTES}  # not dog.png, not the missing pdf


def test_plain_json_has_no_file_bytes(element_json: Path, element_zip: Path) -> None:
    assert importers.detect(element_json).name == "matrix"
    plain, zipped = parse(element_json), parse(element_zip)
    assert [(r.source_id, r.text) for r in plain.messages] == [(r.source_id, r.text) for r in zipped.messages]
    assert all(a.open is None for m in plain.messages for a in m.attachments)


def test_unpacked_folder(tmp_path: Path, element_zip: Path) -> None:
    folder = tmp_path / "unpacked"
    with zipfile.ZipFile(element_zip) as zf:
        zf.extractall(folder)
    assert importers.detect(folder).name == "matrix"
    assert parse(folder).records == parse(element_zip).records
    assert parse(folder / "export.json").records == parse(folder).records


def test_owner_by_user_id_and_ambiguous_files(tmp_path: Path) -> None:
    doc = export_doc()
    doc["exported_by"] = BOB
    doc["messages"] = [
        member("$m", BOB, BOB, 0, "join", "Bob"),
        ev("$a", "m.room.message", BOB, 1, {"msgtype": "m.image", "body": "img.png", "info": {"size": 5}}),
        ev("$b", "m.room.message", BOB, 2, {"msgtype": "m.image", "body": "img.png", "info": {"size": 7}}),
        ev("$c", "m.room.message", BOB, 3, {"msgtype": "m.image", "body": "img.png"}),
    ]
    p = tmp_path / "x.zip"
    with zipfile.ZipFile(p, "w") as zf:
        zf.writestr("export.json", json.dumps(doc))
        zf.writestr("images/img-1-1-2024 at 1-00-00.png", b"12345")
        zf.writestr("images/img-1-1-2024 at 2-00-00.png", b"1234567")
        zf.writestr("../evil/img-x.png", b"outside")
    result = parse(p)
    recs = by_id(result)
    assert [n.text for n in result.notes] == [
        "1 attachment(s) left without their file: several files match by name and size"
    ]
    assert [pr.message for pr in result.problems] == ["1 archive entries with unsafe names (../ or absolute) ignored"]
    assert recs["$a"].from_me is True
    sizes = {k: (recs[k].attachments[0].size, recs[k].attachments[0].open is not None) for k in ("$a", "$b", "$c")}
    # matched by size where names are alike; the one without a size stays unmatched
    assert sizes == {"$a": (5, True), "$b": (7, True), "$c": (None, False)}


# --- into a real vault --------------------------------------------------------------------------


def test_import_into_vault_search_and_reimport(new_vault: Any, element_zip: Path, element_json: Path) -> None:
    r1 = new_vault.import_path(element_zip)
    assert r1.error is None and not r1.problems
    assert (r1.format, r1.chats, r1.added, r1.events, r1.attachments) == ("matrix", 1, 18, 16, 2)
    hits = new_vault.search("警察")
    assert [(h["sender"], h["ts"], h["text"]) for h in hits] == [("Bob", "2024-03-01T10:05:00Z", "我们明天去警察局")]
    assert [h["text"] for h in new_vault.search("秘密")] == ["סוד 秘密"]
    r2 = new_vault.import_path(element_zip)
    assert (r2.added, r2.events, r2.duplicates) == (0, 0, 34)
    # the plain .json is the same room and the same events: nothing new either
    r3 = new_vault.import_path(element_json)
    assert (r3.added, r3.events, r3.duplicates) == (0, 0, 34)


# --- detection ----------------------------------------------------------------------------------


def test_no_existing_fixture_detects_as_matrix() -> None:
    assert [p for p in sorted(FIXTURES.rglob("*")) if matrix.detect(p)] == []


def test_matrix_export_is_claimed_by_matrix_alone(element_zip: Path, element_json: Path) -> None:
    for p in (element_zip, element_json):
        assert [f.name for f in importers.formats() if f.detect(p)] == ["matrix"], p


def test_neither_claims_the_other(tmp_path: Path, element_zip: Path, element_json: Path) -> None:
    from importers import skype
    from tests.importers.test_skype import export_doc as skype_doc
    from tests.importers.test_skype import write_tar

    tar = write_tar(tmp_path / "s.tar", skype_doc())
    assert not matrix.detect(tar) and skype.detect(tar)
    assert not skype.detect(element_zip) and not skype.detect(element_json)


def test_detection_needs_the_header_keys(tmp_path: Path) -> None:
    p = tmp_path / "export.json"
    p.write_text('{"room_name": "x", "messages": []}', encoding="utf-8")
    assert not matrix.detect(p)
    p.write_text('{"room_name": "x", "export_date": "1", "exported_by": "y", "messages": []}', encoding="utf-8")
    assert matrix.detect(p)
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("result.json", '{"messages": []}')
    assert not matrix.detect(z)


# --- bad input ----------------------------------------------------------------------------------


def test_truncated_export_is_one_clean_error(tmp_path: Path) -> None:
    data = json.dumps(export_doc(), ensure_ascii=False)
    p = tmp_path / "cut.json"
    p.write_text(data[: len(data) // 2], encoding="utf-8")
    with pytest.raises(ExportError) as exc:
        list(importers.get("matrix").parse(p, importers.ParseOptions()))
    assert str(p) in str(exc.value) and "export the chat from Element again" in str(exc.value)
    assert "警察" not in str(exc.value)


def test_messages_not_a_list(tmp_path: Path) -> None:
    p = tmp_path / "x.json"
    p.write_text('{"room_name": "x", "export_date": "1", "exported_by": "y", "messages": {}}', encoding="utf-8")
    with pytest.raises(ExportError, match="no list of messages"):
        list(importers.get("matrix").parse(p, importers.ParseOptions()))


def test_zip_without_export_json(tmp_path: Path) -> None:
    z = tmp_path / "x.zip"
    with zipfile.ZipFile(z, "w") as zf:
        zf.writestr("images/a.png", b"x")
    with pytest.raises(ExportError, match="holds no Element export JSON"):
        list(importers.get("matrix").parse(z, importers.ParseOptions()))


def test_bad_events_are_problems_and_the_rest_imports(tmp_path: Path) -> None:
    doc = export_doc()
    doc["messages"][8:8] = ["not an event", {"type": "m.room.message", "sender": BOB, "content": {"body": "secret"}}]
    p = tmp_path / "x.json"
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    result = parse(p)
    assert [(p.line, p.message) for p in result.problems] == [
        (None, "an event is not an object; skipped"),
        (None, "event 10 could not be read; skipped"),
    ]
    assert all("secret" not in str(x) for x in result.problems)
    assert len(result.messages) == 18


def test_reply_fallback_stripping() -> None:
    assert strip_reply_fallback("> <@a:b> one\n> two\n\nthree\n> not a quote") == "three\n> not a quote"
    assert strip_reply_fallback("no quote") == "no quote"
    assert strip_reply_fallback("> only quote") == ""


# --- structure fuzz -----------------------------------------------------------------------------

_KEYS = [
    "type",
    "sender",
    "content",
    "origin_server_ts",
    "event_id",
    "unsigned",
    "state_key",
    "redacts",
    "m.relates_to",
]
_VALUES = st.sampled_from(["m.room.message", "m.room.member", "m.reaction", "m.room.redaction", "m.replace", "$e1"])
_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**62), 2**62)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | _VALUES,
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.sampled_from(_KEYS) | st.text(max_size=8), c, max_size=6),
    max_leaves=25,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.lists(_json, max_size=5))
def test_odd_events_never_escape_as_anything_but_records(tmp_path_factory: Any, junk: list[Any]) -> None:
    doc = export_doc()
    doc["messages"] = [*junk, text("$good", BOB, 1, "still here")]
    p = tmp_path_factory.mktemp("fuzz") / "export.json"
    p.write_text(json.dumps(doc), encoding="utf-8")
    result = parse(p)  # raises on anything but records
    assert len(result.chats) == 1
    assert "$good" in {m.source_id for m in result.messages}
