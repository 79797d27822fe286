"""The full-text index as a whole: rebuilt from the stored text when the normaliser changes."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vault.store import db
from vault.text.names import name_index_text
from vault.text.normalize import fingerprint, index_text

if TYPE_CHECKING:
    from vault.store.handle import Store


def rebuild_if_stale(v: Store) -> None:
    """Rebuild the index when it was made by another version of the text rules."""
    if v.meta("normaliser_version") != fingerprint():
        rebuild(v)


def rebuild(v: Store, progress: Callable[[int], None] | None = None) -> int:
    """Re-create the full-text index from the stored text; the number of messages read."""
    c = v.conn
    n = 0
    with db.transaction(c):
        # 'delete-all' empties a contentless index; secure-delete stays on.
        c.execute("INSERT INTO fts(fts) VALUES ('delete-all')")
        c.execute("INSERT INTO names_fts(names_fts) VALUES ('delete-all')")
        cur = c.execute("SELECT id, text FROM messages")
        ins = c.cursor()
        for mid, text in cur:
            body = index_text(text)
            if body:
                ins.execute("INSERT INTO fts(rowid, body) VALUES (?, ?)", (mid, body))
            n += 1
            if progress and n % 10000 == 0:
                progress(n)
        for cid, title in c.execute("SELECT id, title FROM chats").fetchall():
            c.execute("INSERT INTO names_fts(rowid, body) VALUES (?, ?)", (cid, name_index_text(title)))
        for pid, name in c.execute("SELECT id, name FROM people").fetchall():
            c.execute("INSERT INTO names_fts(rowid, body) VALUES (?, ?)", (-pid, name_index_text(name)))
        c.execute("INSERT INTO fts(fts) VALUES ('optimize')")
        c.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('normaliser_version', ?)", (fingerprint(),))
    return n
