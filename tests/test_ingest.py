"""Identity and dedup (design.md): re-imports add nothing, overlaps add only what is new, order does not matter."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import vault
from tests.conftest import PASSPHRASE, ROOT, tg_export, tg_msg, write


def jsonl(path: Path, chat_key: str, msgs: list[tuple[str, str, str]], source: str = "whatsapp") -> Path:
    """A JSONL export with wall-clock times and no message ids (like WhatsApp)."""
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": source, "key": chat_key, "title": chat_key, "kind": "direct"},
    ]
    for ts, sender, text in msgs:
        lines.append({"type": "message", "chat": chat_key, "ts": ts, "sender": sender, "text": text})
    return write(path, "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")


def all_messages(v) -> list[tuple]:  # type: ignore[no-untyped-def]
    return sorted(
        v.conn.execute(
            "SELECT c.source, c.key, m.ts_ms, p.name, m.text, m.kind, m.uid FROM messages m"
            " JOIN chats c ON c.id = m.chat_id LEFT JOIN people p ON p.id = m.sender_id"
        ).fetchall()
    )


A = [
    ("2023-03-14T09:06:00", "Mei", "ok"),
    ("2023-03-14T09:06:00", "Mei", "ok"),
    ("2023-03-14T09:07:00", "Jon", "see you"),
    ("2023-03-15T10:00:00", "Mei", "早上好"),
]
B = [
    ("2023-03-14T09:07:00", "Jon", "see you"),
    ("2023-03-15T10:00:00", "Mei", "早上好"),
    ("2023-03-16T10:00:00", "Jon", "new one"),
    ("2023-03-16T10:00:00", "Jon", "new one"),
]


def test_same_export_twice_adds_nothing(new_vault, tmp_path):
    f = jsonl(tmp_path / "a.jsonl", "chat-1", A)
    r1 = new_vault.import_path(f, tz="UTC")
    r2 = new_vault.import_path(f, tz="UTC")
    assert (r1.added, r1.duplicates) == (4, 0)
    assert (r2.added, r2.duplicates) == (0, 4)
    assert new_vault.counts()["messages"] == 4


def test_two_identical_messages_in_one_minute_stay_two(new_vault, tmp_path):
    new_vault.import_path(jsonl(tmp_path / "a.jsonl", "chat-1", A), tz="UTC")
    n = new_vault.conn.execute("SELECT count(*) FROM messages WHERE text = 'ok'").fetchone()[0]
    assert n == 2


def test_overlapping_export_adds_only_what_is_new(new_vault, tmp_path):
    new_vault.import_path(jsonl(tmp_path / "a.jsonl", "chat-1", A), tz="UTC")
    r = new_vault.import_path(jsonl(tmp_path / "b.jsonl", "chat-1", B), tz="UTC")
    assert (r.added, r.duplicates) == (2, 2)
    assert new_vault.counts()["messages"] == 6


def test_a_then_b_equals_b_then_a(tmp_path, weak_kdf):
    fa = jsonl(tmp_path / "a.jsonl", "chat-1", A)
    fb = jsonl(tmp_path / "b.jsonl", "chat-1", B)
    results = []
    for order, name in (((fa, fb), "ab"), ((fb, fa), "ba")):
        with vault.create(tmp_path / name, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
            for f in order:
                v.import_path(f, tz="Asia/Shanghai")
            results.append([r[:6] for r in all_messages(v)])
    assert results[0] == results[1]
    assert len(results[0]) == 6


def test_wall_clock_times_use_tz_and_a_reimport_with_another_tz_adds_nothing(new_vault, tmp_path):
    f = jsonl(tmp_path / "a.jsonl", "chat-1", A[:1])
    r = new_vault.import_path(f, tz="Asia/Shanghai")
    assert r.tz == "Asia/Shanghai"
    ts = new_vault.conn.execute("SELECT ts_ms FROM messages").fetchone()[0]
    assert ts == 1678755960000  # 2023-03-14 09:06 +08:00 = 01:06Z
    assert new_vault.import_path(f, tz="Europe/Berlin").added == 0


def test_source_ids_dedup_across_exports(new_vault, tmp_path):
    first = tg_export(tmp_path / "1" / "result.json", [tg_msg(1, "one"), tg_msg(2, "two")])
    second = tg_export(tmp_path / "2" / "result.json", [tg_msg(2, "two"), tg_msg(3, "three")])
    assert new_vault.import_path(first).added == 2
    r = new_vault.import_path(second)
    assert (r.added, r.duplicates) == (1, 1)


def test_messages_get_time_ordered_ids(new_vault, tmp_path):
    f = jsonl(
        tmp_path / "a.jsonl", "c", [("2024-01-02T00:00:00", "a", "later"), ("2020-01-01T00:00:00", "a", "earlier")]
    )
    new_vault.import_path(f, tz="UTC")
    rows = new_vault.conn.execute("SELECT text FROM messages ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["earlier", "later"]


def test_every_import_is_recorded(new_vault, tmp_path):
    f = jsonl(tmp_path / "a.jsonl", "c", A)
    new_vault.import_path(f, tz="UTC")
    row = new_vault.conn.execute("SELECT format, file_name, file_sha256, tz, status, counts FROM imports").fetchone()
    assert row[:2] == ("jsonl", "a.jsonl") and len(row[2]) == 64 and row[3] == "UTC" and row[4] == "done"
    assert json.loads(row[5])["added"] == 4
    first = new_vault.conn.execute("SELECT count(*) FROM messages WHERE import_id = 1").fetchone()[0]
    assert first == 4
    new_vault.import_path(f, tz="UTC")  # a second import that contains the same messages is known too
    contained = new_vault.conn.execute("SELECT count(*) FROM message_imports WHERE import_id = 2").fetchone()[0]
    assert contained == 4


def test_a_malformed_export_changes_nothing(new_vault, tmp_path):
    from vault.errors import ExportError

    new_vault.import_path(jsonl(tmp_path / "good.jsonl", "c", A), tz="UTC")
    before = all_messages(new_vault)
    bad = tg_export(tmp_path / "bad" / "result.json", [tg_msg(i, f"m{i}") for i in range(50)])
    bad.write_bytes(bad.read_bytes()[:-200])  # truncated JSON: 40-odd messages parse, then it breaks
    with pytest.raises(ExportError) as err:
        new_vault.import_path(bad)
    assert "result.json" in str(err.value) and "m4" not in str(err.value)
    assert all_messages(new_vault) == before
    status = new_vault.conn.execute("SELECT status FROM imports ORDER BY id DESC LIMIT 1").fetchone()[0]
    assert status == "failed"


def test_dry_run_counts_exactly_and_changes_nothing(new_vault, tmp_path):
    f = jsonl(tmp_path / "a.jsonl", "c", A)
    r = new_vault.import_path(f, tz="UTC", dry_run=True)
    assert r.added == 4
    assert new_vault.counts()["messages"] == 0
    assert new_vault.conn.execute("SELECT count(*) FROM imports").fetchone()[0] == 0


_IMPORTER = """
import sys, vault
with vault.open(sys.argv[1], sys.argv[2]) as v:
    print("open", flush=True)
    v.import_path(sys.argv[3])
    print("done", flush=True)
"""


def test_killed_import_leaves_the_vault_intact_and_a_rerun_completes_it(tmp_path, weak_kdf, request):
    """kill -9 at a random instant of a big import: nothing half-written; running it again is exact.

    4 kills in CI; `pytest --long` does 30."""
    import random

    kills = 30 if request.config.getoption("--long") else 4
    msgs = [tg_msg(i, f"message number {i} 中文 {i % 97}") for i in range(1, 20001)]
    export = tg_export(tmp_path / "big" / "result.json", msgs)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    rng = random.Random(11)
    for k in range(kills):
        path = tmp_path / f"v{k}"
        vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True).close()
        p = subprocess.Popen(
            [sys.executable, "-c", _IMPORTER, str(path), PASSPHRASE, str(export)], stdout=subprocess.PIPE, env=env
        )
        assert p.stdout is not None
        assert p.stdout.readline().strip() == b"open"
        time.sleep(rng.uniform(0.05, 1.2))
        p.send_signal(signal.SIGKILL)
        p.wait()
        with vault.open(path, PASSPHRASE) as v:
            assert v.check()["ok"], v.check()["problems"]
            n = v.counts()["messages"]
            assert n in (0, 20000), f"half an import: {n}"
            r = v.import_path(export)
            assert r.added + r.duplicates == 20000
            assert v.counts()["messages"] == 20000
            assert v.check()["ok"]


def test_messages_before_1970_and_exact_milliseconds(new_vault, tmp_path):
    f = jsonl(tmp_path / "old.jsonl", "c", [("1965-05-01T12:00:00.123", "Grandma", "a letter, typed in later")])
    r = new_vault.import_path(f, tz="UTC")
    assert r.added == 1 and not r.problems
    ts = new_vault.conn.execute("SELECT ts_ms FROM messages").fetchone()[0]
    assert ts == -147355199877  # 1965-05-01T12:00:00.123Z, to the millisecond
    assert [h["text"] for h in new_vault.search("letter")] == ["a letter, typed in later"]


def test_looking_for_a_chat_under_its_other_key_reads_one_millisecond_not_every_chat(new_vault, tmp_path):
    """`_same_chat_by_id` runs for every new chat with export ids, 29 times: its query must start
    from the millisecond's rows (a rowid range), not walk every chat of the source (issue 22.6)."""
    from vault.operations.ingest import SAME_INSTANT_SQL

    for i in range(3):  # chats of one source, as a whole Telegram account gives
        f = jsonl(
            tmp_path / f"c{i}.jsonl", f"chat{i}", [("2024-01-01T10:00:00", "Mei", f"hello {i}")], source="telegram"
        )
        new_vault.import_path(f, tz="UTC")
    c = new_vault.conn
    plan = [r[3] for r in c.execute("EXPLAIN QUERY PLAN " + SAME_INSTANT_SQL, (0, 1 << 16, "1", "telegram"))]
    assert plan[0].startswith("SEARCH m USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)"), plan
    assert plan[1].startswith("SEARCH c USING INTEGER PRIMARY KEY (rowid=?)"), plan


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"])
def test_stamper_converts_wall_clock_times_as_the_zone_does(zone: str) -> None:
    """Stamper.ts_ms of a naive time is (ts.replace(tzinfo=zone) - epoch) in ms, folds and gaps included
    (it computes it from the zone's offset directly), and a repeated time gives the same again."""
    import random
    from datetime import datetime, timedelta, timezone
    from zoneinfo import ZoneInfo

    from vault.operations.ingest import Stamper

    tz = ZoneInfo(zone)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    rng = random.Random(7)
    times = [datetime(1901, 1, 1) + timedelta(seconds=rng.randrange(0, 140 * 365 * 86400)) for _ in range(3000)]
    for day, month in ((26, 3), (29, 10), (12, 3), (5, 11), (2, 4), (1, 10)):  # DST changes, both hemispheres
        for minute in range(0, 240, 15):
            t = datetime(2023, month, day, 0, 0) + timedelta(minutes=minute)
            times += [t, t.replace(fold=1), t, t.replace(microsecond=999)]
    stamper = Stamper(tz)
    for t in times:
        assert stamper.ts_ms(t) == (t.replace(tzinfo=tz) - epoch) // timedelta(milliseconds=1), t
