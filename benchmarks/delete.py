"""Delete benchmark: one message, and a whole 100,000-message chat, from a vault of N messages.

    python benchmarks/delete.py [--messages N] [--quick] [--chat M]

Targets (issue: deletion): one message <= 0.2 s; a 100,000-message chat <= 30 s, in a
1,000,000-message vault. Baseline in the same run: the same deletes in an unencrypted stdlib
sqlite3 database with an external-content FTS5 index (no secure delete, no tombstones).
"""

from __future__ import annotations

import itertools
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from common import PASSPHRASE, build_vault, copy_vault, write_results


def baseline(rows: Iterable[tuple[int, str]], d: Path, chat: int, one: int = 12345) -> tuple[float, float]:
    """Bare SQLite: load `rows` (chat number, text), untimed; then the timed deletes of message `one`
    and of every message of `chat`."""
    con = sqlite3.connect(d / "baseline.db", isolation_level=None)
    con.execute("CREATE TABLE m (id INTEGER PRIMARY KEY, chat INTEGER, text TEXT)")
    con.execute("CREATE INDEX m_chat ON m(chat)")
    con.execute("CREATE VIRTUAL TABLE f USING fts5(text, content='m', content_rowid='id')")
    con.execute(
        "CREATE TRIGGER md AFTER DELETE ON m BEGIN"
        " INSERT INTO f(f, rowid, text) VALUES ('delete', old.id, old.text); END"
    )
    con.execute("BEGIN")
    for chat_no, text in rows:
        cur = con.execute("INSERT INTO m(chat, text) VALUES (?, ?)", (chat_no, text))
        con.execute("INSERT INTO f(rowid, text) VALUES (?, ?)", (cur.lastrowid, text))
    con.execute("COMMIT")
    t = time.perf_counter()
    con.execute("DELETE FROM m WHERE id = ?", (one,))
    one_s = time.perf_counter() - t
    t = time.perf_counter()
    con.execute("DELETE FROM m WHERE chat = ?", (chat,))
    chat_s = time.perf_counter() - t
    con.close()
    (d / "baseline.db").unlink()
    return one_s, chat_s


def vault_deletes(v: Any, title: str) -> tuple[float, float, tuple[int, int]]:
    """Through the vault's API: the seconds to delete one message (the newest match of `time`), then
    the chat titled `title`; and the counts deleted."""
    one_id = v.search("time", limit=1)[0]["id"]
    t = time.perf_counter()
    r1 = v.delete(message_ids=[one_id])
    one = time.perf_counter() - t
    chat_id = next(c["id"] for c in v.chats() if c["title"] == title)
    t = time.perf_counter()
    r2 = v.delete(chat=chat_id)
    return one, time.perf_counter() - t, (r1["deleted"], r2["deleted"])


def plaintext_rows(plain: Path) -> Iterator[tuple[int, str]]:
    """The plaintext export of common.build_vault, as chat 1."""
    with plain.open(encoding="utf-8") as fh:
        for line in fh:
            yield 1, line.rstrip("\n").split("\t", 2)[2]


def main() -> dict[str, object]:
    from common import arguments, messages

    ap = arguments(__doc__, quick="100,000 messages and a 10,000-message chat", json_out=False)
    ap.add_argument("--chat", type=int, default=None, help="size of the chat to delete (default N/10)")
    a = ap.parse_args()
    n = messages(a)
    extra = a.chat or n // 10
    from datagen import messages as generated
    from datagen import write_telegram

    import vault

    src, plain = build_vault(n)
    with tempfile.TemporaryDirectory(dir=src.parent.parent) as tmp:
        d = Path(tmp)
        path = copy_vault(src, d / "vault")
        chat_export = write_telegram(d / "chat" / "result.json", extra, seed=2, chat_id=654321, name="Big chat")
        with vault.open(path, PASSPHRASE) as v:
            v.import_path(chat_export)
            one, chat, deleted = vault_deletes(v, "Big chat")
            ok = v.check()["ok"]
        assert deleted == (1, extra) and ok
        extra_rows = ((2, text) for _ts, _s, text in generated(extra, seed=2))
        b_one, b_chat = baseline(itertools.chain(plaintext_rows(plain), extra_rows), d, chat=2)
    res = {
        "benchmark": "delete",
        "messages": n + extra,
        "one_message_s": round(one, 3),
        "one_message_target_s": 0.2,
        "one_message_baseline_s": round(b_one, 4),
        "chat_messages": extra,
        "chat_s": round(chat, 2),
        "chat_target_s": 30,
        "chat_baseline_s": round(b_chat, 2),
        "chat_ratio": round(chat / max(b_chat, 1e-6), 1),
    }
    for k, v_ in res.items():
        print(f"{k:>24}: {v_}")
    write_results("delete", [res])
    return res


if __name__ == "__main__":
    main()
