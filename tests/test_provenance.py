"""Provenance, shared export ids, calls as events, ghost chats, and a WhatsApp text export merged
with the phone's database (issues 17.11, 17.19, 18, 19.4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli, write
from tests.importers.whatsapp_android_fixtures import MEI, MODERN, _db, wa_db


def jsonl(
    path: Path, lines: list[dict[str, object]], key: str = "room", source: str = "mychat", title: str = "Room"
) -> Path:
    head = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": source, "key": key, "title": title, "kind": "group"},
    ]
    body = [{"chat": key, **x} for x in lines]
    return write(path, "\n".join(json.dumps(x, ensure_ascii=False) for x in head + body) + "\n")


def msg(mid: str | None, text: str, ts: str = "2023-03-14T09:06:00Z", sender: str = "Mei", **kw: object) -> dict:
    out: dict[str, object] = {"type": "message", "ts": ts, "sender": sender, "text": text, **kw}
    if mid is not None:
        out["id"] = mid
    return out


def rows(v) -> list[tuple]:  # type: ignore[no-untyped-def]
    return v.conn.execute("SELECT text, kind, is_event, source_id FROM messages ORDER BY id").fetchall()


# -- 1. provenance -------------------------------------------------------------------------


def test_show_and_stats_name_every_import_that_contained_a_message(new_vault, tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [msg("1", "one"), msg("2", "two", ts="2023-03-14T09:07:00Z")])
    b = jsonl(
        tmp_path / "b.jsonl", [msg("2", "two", ts="2023-03-14T09:07:00Z"), msg("3", "three", ts="2023-03-15T09:00:00Z")]
    )
    new_vault.import_path(a)
    new_vault.import_path(b)
    new_vault.import_path(b)  # the same file again: no second provenance row for the same import
    shown = new_vault.show("Room")
    files = {m["text"]: [i["file"] for i in m["imports"]] for m in shown}
    assert files == {"one": ["a.jsonl"], "two": ["a.jsonl", "b.jsonl", "b.jsonl"], "three": ["b.jsonl", "b.jsonl"]}
    assert all(i["format"] == "jsonl" and i["imported"] for m in shown for i in m["imports"])
    by_chat = new_vault.stats()["by_chat"]
    assert by_chat == [{"id": by_chat[0]["id"], "chat": "Room", "messages": 3, "formats": ["jsonl"]}]


def test_provenance_rows_go_with_a_secure_delete(new_vault, tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [msg("1", "one")])
    new_vault.import_path(a)
    new_vault.import_path(jsonl(tmp_path / "b.jsonl", [msg("1", "one")]))
    assert new_vault.conn.execute("SELECT count(*) FROM message_imports").fetchone()[0] == 1
    new_vault.delete(chat="Room")
    assert new_vault.conn.execute("SELECT count(*) FROM message_imports").fetchone()[0] == 0
    r = new_vault.import_path(a)
    assert (r.added, r.deleted_skipped) == (0, 1)


def test_show_json_carries_imports(cli_vault, tmp_path):
    a = jsonl(tmp_path / "a.jsonl", [msg("1", "one")])
    assert cli("import", str(a), env=cli_vault).code == 0
    assert cli("import", str(jsonl(tmp_path / "b.jsonl", [msg("1", "one")])), env=cli_vault).code == 0
    out = cli("show", "Room", "--json", env=cli_vault)
    assert out.code == 0, out.err
    doc = out.json()
    messages = doc["messages"] if isinstance(doc, dict) else doc
    assert [i["file"] for i in messages[0]["imports"]] == ["a.jsonl", "b.jsonl"]
    st = cli("stats", env=cli_vault)
    assert "(from jsonl)" in st.out


# -- 2. one export id, two different messages ------------------------------------------------------


def test_a_shared_id_with_different_text_is_two_messages_and_a_problem(new_vault, tmp_path):
    f = jsonl(tmp_path / "a.jsonl", [msg("77", "the first message"), msg("77", "another one entirely", sender="Jon")])
    r = new_vault.import_path(f)
    assert (r.added, r.duplicates, r.conflicts) == (2, 0, 1)
    assert any("shares its export id" in p for p in r.problems)
    assert not any("first message" in p or "another" in p for p in r.problems)  # no content in problems
    assert sorted(t for t, *_ in rows(new_vault)) == ["another one entirely", "the first message"]
    again = new_vault.import_path(f)
    assert (again.added, again.duplicates, again.conflicts) == (0, 2, 0)
    assert new_vault.conn.execute("SELECT count(DISTINCT message_id) FROM message_imports").fetchone()[0] == 2
    assert new_vault.counts()["messages"] == 2


def test_the_same_message_from_two_tools_stays_one(new_vault, tmp_path):
    new_vault.import_path(jsonl(tmp_path / "a.jsonl", [msg("5", "Hello  World"), msg("6", "[图片]", kind="image")]))
    r = new_vault.import_path(
        jsonl(tmp_path / "b.jsonl", [msg("5", "hello world"), msg("6", "", kind="image"), msg("7", "x")])
    )
    assert (r.added, r.duplicates, r.conflicts) == (1, 2, 0)
    assert new_vault.counts()["messages"] == 3


# -- 6. a call read as a message, then as an event --------------------------------------------------


def test_a_call_as_message_then_as_event_is_one_row(new_vault, tmp_path):
    new_vault.import_path(jsonl(tmp_path / "old.jsonl", [msg("c1", "", kind="call")]))
    ev = {"type": "event", "ts": "2023-03-14T09:06:00Z", "text": "", "kind": "call", "actor": "Mei", "id": "c1"}
    r = new_vault.import_path(jsonl(tmp_path / "new.jsonl", [ev]))
    assert (r.added, r.events, r.duplicates) == (0, 0, 1)
    assert len(rows(new_vault)) == 1


def test_migration_2_gives_old_event_rows_the_shared_identity(new_vault, tmp_path):
    from vault.operations.ingest import mac
    from vault.store import schema

    ev = {"type": "event", "ts": "2023-03-14T09:06:00Z", "text": "", "kind": "call", "actor": "Mei", "id": "c1"}
    new_vault.import_path(jsonl(tmp_path / "ev.jsonl", [ev, {**ev, "id": "c2", "ts": "2023-03-14T10:00:00Z"}]))
    c = new_vault.conn
    c.execute("BEGIN")  # the vault as version 1 left it: event identities with "e"
    for mid, sid in c.execute("SELECT id, source_id FROM messages").fetchall():
        c.execute("UPDATE messages SET uid = ? WHERE id = ?", (schema._id_uid("mychat", "room", "e", sid), mid))
    c.execute("DROP TABLE uid_aliases")
    c.execute("DROP INDEX message_imports_import")
    c.execute("DELETE FROM migrations WHERE version >= 2")
    for kind, name in c.execute(  # and without what version 3 added
        "SELECT type, name FROM sqlite_schema WHERE name LIKE 'messages_has_%' OR name LIKE 'attachments_flags_%'"
    ).fetchall():
        c.execute(f"DROP {kind.upper()} {name}")
    c.execute("ALTER TABLE messages DROP COLUMN flags")
    old_c2 = c.execute("SELECT uid FROM messages WHERE source_id = 'c2'").fetchone()[0]
    # c2 deleted under version 1: its tombstone holds the old identity
    c.execute(
        "INSERT INTO tombstones(mac, chat_mac, deleted) VALUES (?, x'00', '2026-01-01')",
        (mac(new_vault.store._mac_key, old_c2),),
    )
    c.execute("DELETE FROM messages WHERE source_id = 'c2'")
    c.execute("COMMIT")
    assert schema.migrate(c) == schema.SCHEMA_VERSION == 4
    assert c.execute("SELECT version FROM migrations ORDER BY version").fetchall() == [(1,), (2,), (3,), (4,)]
    assert c.execute("SELECT count(*) FROM uid_aliases").fetchone()[0] == 1  # c1's old identity
    r = new_vault.import_path(jsonl(tmp_path / "msg.jsonl", [msg("c1", "", kind="call")]))
    assert (r.added, r.duplicates) == (0, 1)
    again = new_vault.import_path(tmp_path / "ev.jsonl")  # c2 was deleted under its old identity
    assert (again.added, again.events, again.duplicates, again.deleted_skipped) == (0, 0, 1, 1)
    assert old_c2 != schema._id_uid("mychat", "room", "m", "c2")
    assert len(rows(new_vault)) == 1


# -- 4. ghost chats ---------------------------------------------------------------------------------


def test_a_deleted_chat_does_not_come_back_empty(new_vault, tmp_path):
    f = jsonl(tmp_path / "a.jsonl", [msg(None, "one"), msg(None, "two", ts="2023-03-14T09:07:00Z")])
    new_vault.import_path(f)
    new_vault.delete(chat="Room")
    r = new_vault.import_path(f)
    assert (r.added, r.deleted_skipped, r.chats) == (0, 2, 0)
    assert new_vault.chats() == []
    assert new_vault.conn.execute("SELECT count(*) FROM chats").fetchone()[0] == 0
    assert new_vault.conn.execute("SELECT count(*) FROM people").fetchone()[0] == 0
    assert any("not added" in n for n in r.notes)


def test_chats_never_lists_an_empty_chat(new_vault, tmp_path):
    new_vault.import_path(jsonl(tmp_path / "a.jsonl", [msg("1", "one")]))
    new_vault.import_path(jsonl(tmp_path / "b.jsonl", [msg("1", "x")], key="other", title="Other"))
    ids = [m["id"] for m in new_vault.show("Room")]
    new_vault.delete(message_ids=ids, before="2030")  # a partial delete keeps the chat row, but it is empty now
    assert new_vault.conn.execute("SELECT count(*) FROM chats").fetchone()[0] == 2
    assert [c["title"] for c in new_vault.chats()] == ["Other"]
    assert new_vault.chats()[0]["messages"] == 1


# -- 3. a WhatsApp text export and the phone's database ---------------------------------------------

T = 1_699_956_000_000  # 2023-11-14T10:00:00Z; Berlin is UTC+1 that day
TXT = """14/11/2023, 11:00 - Mei: hello
14/11/2023, 11:01 - Alex: hi Mei
14/11/2023, 11:02 - Mei: ok
14/11/2023, 11:02 - Mei: ok
14/11/2023, 11:10 - Mei: only in the text export
"""


def phone(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    wa_db(folder / "wa.db")  # Mei's contact name there: "Mei 美"; our chat is titled by the file
    s = 1000
    db = _db(
        folder / "msgstore.db",
        MODERN,
        {
            "jid": [(1, "4915110000001", "s.whatsapp.net", 0, 0, MEI)],
            "chat": [(1, 1, None)],
            "message": [
                (1, 1, 0, "K1", 0, 0, T + 5 * s, 0, "hello"),
                (2, 1, 1, "K2", 0, 13, T + 70 * s, 0, "hi Mei"),
                (3, 1, 0, "K3", 0, 0, T + 120 * s, 0, "ok"),
                (4, 1, 0, "K4", 0, 0, T + 150 * s, 0, "ok"),
                (5, 1, 1, "K5", 0, 13, T + 300 * s, 0, "only in the database"),
            ],
        },
    )
    import sqlite3

    con = sqlite3.connect(folder / "wa.db")
    con.execute("UPDATE wa_contacts SET display_name = 'Mei' WHERE jid = ?", (MEI,))
    con.commit()
    con.close()
    return db


def merged_state(v) -> list[tuple]:  # type: ignore[no-untyped-def]
    return v.conn.execute(
        "SELECT m.ts_ms, m.text, m.source_id, (SELECT count(*) FROM message_imports mi WHERE mi.message_id = m.id)"
        " FROM messages m ORDER BY m.id"
    ).fetchall()


EXPECTED = [
    (T + 5_000, "hello", "K1", 1),
    (T + 70_000, "hi Mei", "K2", 1),
    (T + 120_000, "ok", "K3", 1),
    (T + 150_000, "ok", "K4", 1),
    (T + 300_000, "only in the database", "K5", 0),
    (T + 600_000, "only in the text export", None, 0),
]


@pytest.mark.parametrize("order", ["text-first", "database-first"])
def test_a_text_export_and_the_database_are_one_chat(new_vault, tmp_path, order):
    txt = write(tmp_path / "WhatsApp Chat with Mei.txt", TXT)
    db = phone(tmp_path / "phone")
    steps = [(txt, "Europe/Berlin"), (db, None)]
    if order == "database-first":
        steps.reverse()
    reports = [new_vault.import_path(p, tz=tz) for p, tz in steps]
    assert [c["messages"] for c in new_vault.chats()] == [6]
    assert merged_state(new_vault) == EXPECTED
    assert reports[1].merged == 4
    assert not any("differ by" in n for n in reports[1].notes)
    shown = new_vault.show(new_vault.chats()[0]["id"])
    assert {i["format"] for i in shown[0]["imports"]} == {"whatsapp", "whatsapp-android-db"}
    assert new_vault.stats()["by_chat"][0]["formats"] == ["whatsapp", "whatsapp-android-db"]
    for p, tz in steps:  # each again: nothing new, nothing doubled
        r = new_vault.import_path(p, tz=tz)
        assert (r.added, r.events) == (0, 0), (p.name, r.to_json())
    assert [m[:3] for m in merged_state(new_vault)] == [e[:3] for e in EXPECTED]


@pytest.mark.parametrize("order", ["text-first", "database-first"])
def test_a_text_export_read_in_the_wrong_zone_is_noted_not_doubled(new_vault, tmp_path, order):
    txt = write(tmp_path / "WhatsApp Chat with Mei.txt", TXT)
    db = phone(tmp_path / "phone")
    steps = [(txt, "UTC"), (db, None)]  # the text export was written in Berlin
    if order == "database-first":
        steps.reverse()
    reports = [new_vault.import_path(p, tz=tz) for p, tz in steps]
    assert new_vault.counts()["messages"] == 6
    assert [n for n in reports[1].notes if "differ by -1 h" in n], reports[1].notes
    assert [m[1] for m in merged_state(new_vault)][:5] == [e[1] for e in EXPECTED][:5]


def test_a_deleted_merged_message_stays_deleted(new_vault, tmp_path):
    txt = write(tmp_path / "WhatsApp Chat with Mei.txt", TXT)
    new_vault.import_path(txt, tz="Europe/Berlin")
    new_vault.import_path(phone(tmp_path / "phone"))
    hello = [m["id"] for m in new_vault.show(new_vault.chats()[0]["id"]) if m["text"] == "hello"]
    new_vault.delete(message_ids=hello)
    assert new_vault.conn.execute("SELECT count(*) FROM uid_aliases").fetchone()[0] == 3  # hello's went
    r = new_vault.import_path(txt, tz="Europe/Berlin")
    assert (r.added, r.deleted_skipped) == (0, 1)
    assert new_vault.counts()["messages"] == 5


# -- 5. export --format chatlab --------------------------------------------------------------------

CHATLAB_LINES = [
    msg("1", "Chapter 3 tonight?", ts="2023-03-14T09:06:00.250Z"),
    msg("2", "👍 当然", ts="2023-03-14T09:07:00Z", sender="Jon", reply_to="1"),
    msg("3", "", ts="2023-03-14T09:08:00Z", kind="image"),
    msg("4", "", ts="2023-03-14T09:09:00Z", sender="Jon", kind="deleted"),
    msg(None, "no id here", ts="2023-03-14T09:10:00Z"),
    {"type": "event", "ts": "2023-03-14T09:11:00Z", "text": "Ana joined", "kind": "join", "actor": "Ana", "id": "5"},
    {"type": "event", "ts": "2023-03-14T09:12:00Z", "text": "", "kind": "call", "actor": "Mei", "id": "6"},
]


def content(v) -> list[tuple]:  # type: ignore[no-untyped-def]
    return v.conn.execute(
        "SELECT m.ts_ms, p.name, m.text, m.kind, m.is_event, m.source_id, m.reply_to FROM messages m"
        " LEFT JOIN people p ON p.id = m.sender_id ORDER BY m.id"
    ).fetchall()


@pytest.mark.parametrize("name", ["room.json", "room.jsonl"])
def test_chatlab_export_round_trip(new_vault, tmp_path, weak_kdf, name):
    import vault
    from tests.conftest import PASSPHRASE

    new_vault.import_path(jsonl(tmp_path / "a.jsonl", CHATLAB_LINES))
    out = tmp_path / "out" / name
    out.parent.mkdir()
    res = new_vault.export("Room", format="chatlab", out=out)
    assert (res["messages"], res["events"]) == (5, 2)
    raw = out.read_text(encoding="utf-8")
    if name.endswith(".json"):
        doc = json.loads(raw)
        assert doc["chatlab"]["version"] == "0.0.2" and doc["meta"]["platform"] == "mychat"
        assert [m["type"] for m in doc["messages"]] == [0, 25, 1, 81, 0, 80, 23]
        assert doc["messages"][0]["timestamp"] == 1678784760.25
    else:
        lines = [json.loads(x) for x in raw.splitlines()]
        assert [x["_type"] for x in lines][:1] == ["header"] and lines[-1]["_type"] == "message"
    with vault.create(tmp_path / "other", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as other:
        r = other.import_path(out)
        assert r.format == ("chatlab-json" if name.endswith(".json") else "chatlab-jsonl")
        # ChatLab has one code for every notice (80) but calls (23): a join comes back as a system event
        want = [(*r[:3], "system" if r[4] and r[3] != "call" else r[3], *r[4:]) for r in content(new_vault)]
        assert content(other) == want


def test_chatlab_export_of_every_chat_is_a_folder_of_files(new_vault, tmp_path):
    new_vault.import_path(jsonl(tmp_path / "a.jsonl", CHATLAB_LINES))
    new_vault.import_path(jsonl(tmp_path / "b.jsonl", [msg("1", "x")], key="other", title="Other"))
    res = new_vault.export(None, format="chatlab", out=tmp_path / "all", all_chats=True)
    assert res["chats"] == 2
    assert sorted(p.suffix for p in (tmp_path / "all").iterdir()) == [".json", ".json"]


def test_a_second_contact_of_the_same_name_is_not_merged_into_the_text_export(new_vault, tmp_path):
    import sqlite3

    from tests.importers.whatsapp_android_fixtures import OMAR

    new_vault.import_path(write(tmp_path / "WhatsApp Chat with Mei.txt", TXT), tz="Europe/Berlin")
    db = phone(tmp_path / "phone")
    con = sqlite3.connect(db)  # another contact, also saved as "Mei", who also said "hello" then
    con.execute("INSERT INTO jid VALUES (2, '4915110000002', 's.whatsapp.net', 0, 0, ?)", (OMAR,))
    con.execute("INSERT INTO chat VALUES (2, 2, NULL)")
    con.execute("INSERT INTO message VALUES (6, 2, 0, 'O1', 0, 0, ?, 0, 'hello')", (T + 5_000,))
    con.commit()
    con.close()
    con = sqlite3.connect(tmp_path / "phone" / "wa.db")
    con.execute("UPDATE wa_contacts SET display_name = 'Mei' WHERE jid = ?", (OMAR,))
    con.commit()
    con.close()
    r = new_vault.import_path(db)
    assert r.merged == 4
    assert sorted((c["messages"], c["title"]) for c in new_vault.chats()) == [(1, "Mei"), (6, "Mei")]
