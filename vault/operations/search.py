"""Full-text search over the vault: newest-first by streaming FTS5 rowids, oldest-first, or by relevance.

Message ids are time-ordered, so `ORDER BY rowid DESC LIMIT n` on the FTS table walks the index in
time order and stops after n hits: no ranking of every match. Snippets and highlights are made here
from the stored text (the index is contentless).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault.operations.rows import ContextRows, MessageRow
from vault.text.normalize import fold, fts_phrase, phrase_tokens
from vault.text.query import Compiled, Compiler, Text, parse
from vault.timeutil import iso_z

if TYPE_CHECKING:
    from vault.store.handle import Store

SORTS = ("newest", "oldest", "relevance")
# Relevance ranks the most recent matches of the words only: ranking and filtering cost ~20 us a
# match, and a common word in a big vault matches tens of thousands of messages (measured 0.75 s
# for 26k). Documented in docs/search.md.
RELEVANCE_WINDOW = 5_000
# Words with filters: when the filters alone match at most this many messages (counted on their
# index, stopping there), those ids are gathered first and the word's matches are checked against
# them, without reading a message row; otherwise each word match is checked against the filters
# (they match at least 1 in 200 of a million messages then, so the walk stops soon). Measured at 1M
# in docs/performance.md.
FILTER_FIRST_CAP = 5_000

MESSAGE_COLUMNS = "m.id, m.chat_id, c.title, c.source, p.name, m.ts_ms, m.text, m.kind, m.is_event, m.from_me"
MESSAGE_JOINS = "JOIN chats c ON c.id = m.chat_id LEFT JOIN people p ON p.id = m.sender_id"


def message_dict(row: tuple[Any, ...]) -> MessageRow:
    mid, chat_id, title, source, sender, ts_ms, text, kind, is_event, from_me = row
    return {
        "id": str(mid),
        "chat_id": str(chat_id),
        "chat": title,
        "source": source,
        "sender": sender,
        "ts": iso_z(ts_ms),
        "text": text,
        "kind": kind,
        "event": bool(is_event),
        "from_me": None if from_me is None else bool(from_me),
    }


def _name_ids(v: Store, value: str, people: bool) -> list[int]:
    toks, prefix = phrase_tokens(value, bare=True)
    if not toks:
        return []
    sign = "rowid < 0" if people else "rowid > 0"
    rows = v.conn.execute(
        f"SELECT rowid FROM names_fts WHERE names_fts MATCH ? AND {sign}", (fts_phrase(toks, prefix),)
    ).fetchall()
    ids = [abs(int(r[0])) for r in rows]
    if not people and value.isascii() and value.isdigit():
        ids.append(int(value))
    return ids


def _source_chats(v: Store, source: str) -> list[int]:
    return [int(r[0]) for r in v.conn.execute("SELECT id FROM chats WHERE source = ? ORDER BY id", (source,))]


def compile_query(v: Store, query: str) -> Compiled:
    from vault.timeutil import local_zone

    return Compiler(
        lambda s: _name_ids(v, s, True),
        lambda s: _name_ids(v, s, False),
        local_zone(),
        lambda s: _source_chats(v, s),
    ).compile(parse(query))


def _as_sql_int(n: int) -> int:
    """A count clamped to SQLite's integers: an offset past any vault finds nothing, never overflows."""
    return max(0, min(int(n), 2**63 - 1))


def _count(v: Store, filters_sql: str, params: list[object]) -> int:
    """How many messages the filters alone match, counted up to FILTER_FIRST_CAP + 1."""
    row = v.conn.execute(f"SELECT count(*) FROM ({filters_sql} LIMIT {FILTER_FIRST_CAP + 1})", params).fetchone()
    return int(row[0])


def matching_ids(v: Store, query: str, *, sort: str = "newest", limit: int | None = 20, offset: int = 0) -> list[int]:
    """Ids of the messages matching `query`, in the requested order.

    With words, FTS5 drives: it walks its rowids (= time order) with the date range pushed into
    it, and each candidate is checked against the filters. Without words, an index of the messages
    walks the same way: a has: filter's partial index, a chat's or sender's (chat_id, id) or
    (sender_id, id) index (several merged), else the table itself.
    """
    plan = search_sql(v, query, sort=sort, limit=limit, offset=offset)
    if plan is None:
        return []
    sql, params = plan
    return [int(r[0]) for r in v.conn.execute(sql, params)]


def search_sql(
    v: Store, query: str, *, sort: str = "newest", limit: int | None = 20, offset: int = 0
) -> tuple[str, list[object]] | None:
    """The SQL (and its parameters) that `matching_ids` runs; None when nothing can match."""
    if sort not in SORTS:
        from vault.errors import UsageError

        raise UsageError(f"--sort takes one of {', '.join(SORTS)}")
    cq = compile_query(v, query)
    if cq.empty and not cq.where and cq.lo is None and cq.hi is None and cq.driver is None:
        return None
    filters = "".join(f" AND {cond}" for cond in cq.where)
    params: list[object] = []

    def id_range(col: str) -> str:
        out = ""
        if cq.lo is not None:
            out += f" AND {col} >= ?"
            params.append(cq.lo)
        if cq.hi is not None:
            out += f" AND {col} < ?"
            params.append(cq.hi)
        return out

    if cq.match is None and cq.driver is not None:
        # Several chats or senders: one walk of the (column, id) index per id, merged by SQLite
        # (MERGE (UNION ALL)): each walk is in id order, so the merge stops after `limit` rows.
        col, ids = cq.driver
        arms = []
        for one in ids:
            params.append(one)
            arms.append(f"SELECT m.id FROM messages m WHERE {col} = ?{id_range('m.id')}{filters}")
            params.extend(cq.params)
        sql = " UNION ALL ".join(arms) + (" ORDER BY 1 ASC" if sort == "oldest" else " ORDER BY 1 DESC")
    elif cq.match is None:
        params_range = id_range("m.id")
        order = "m.id ASC" if sort == "oldest" else "m.id DESC"
        sql = f"SELECT m.id FROM messages m WHERE 1{params_range}{filters} ORDER BY {order}"
    elif sort == "relevance":
        # Rank the newest RELEVANCE_WINDOW matches of the words (walked in rowid order, no sort),
        # then apply the filters to those.
        params.append(cq.match)
        window = (
            f"SELECT rowid AS id, rank AS r FROM fts WHERE fts MATCH ?{id_range('rowid')}"
            f" ORDER BY rowid DESC LIMIT {RELEVANCE_WINDOW}"
        )
        sql = (
            f"SELECT m.id FROM ({window}) w CROSS JOIN messages m ON m.id = w.id"
            f" WHERE 1{filters} ORDER BY w.r, m.id DESC"
        )
    elif (
        cq.indexed
        and (few := _count(v, f"SELECT 1 FROM messages m WHERE 1{id_range('m.id')}{filters}", params + cq.params))
        <= FILTER_FIRST_CAP
    ):
        # Few messages pass the filters: they are gathered from their index, and the word's matches
        # (walked in rowid order) are checked against that set, no message row read.
        if few == 0:
            return None  # none at all: no word match needs looking at
        params.clear()
        params.append(cq.match)
        order = "f.rowid ASC" if sort == "oldest" else "f.rowid DESC"
        rng = id_range("f.rowid")
        sql = (
            f"SELECT f.rowid FROM fts f WHERE f.fts MATCH ?{rng}"
            f" AND +f.rowid IN (SELECT m.id FROM messages m WHERE 1{id_range('m.id')}{filters}) ORDER BY {order}"
        )
    else:
        params.clear()
        params.append(cq.match)
        order = "f.rowid ASC" if sort == "oldest" else "f.rowid DESC"
        sql = (
            "SELECT m.id FROM fts f CROSS JOIN messages m ON m.id = f.rowid WHERE f.fts MATCH ?"
            f"{id_range('f.rowid')}{filters} ORDER BY {order}"
        )
    if cq.driver is None:
        params.extend(cq.params)
    if limit is not None:
        sql += " LIMIT ? OFFSET ?"
        params.extend([_as_sql_int(limit), _as_sql_int(offset)])
    return sql, params


#: How far `count_matches` counts: beyond it, front ends say "more than COUNT_CAP".
COUNT_CAP = 10_000


def count_matches(v: Store, query: str, *, cap: int = COUNT_CAP) -> int:
    """How many messages match `query`, counted up to `cap + 1` (so "more than cap" can be said).

    It walks the same index as the newest-first search, so its cost grows with the count and stops
    at the cap (docs/search.md gives the figures).
    """
    return len(matching_ids(v, query, sort="newest", limit=cap + 1, offset=0))


def fetch_messages(v: Store, ids: list[int]) -> list[MessageRow]:
    """Message dicts for `ids`, in the order given."""
    if not ids:
        return []
    out: dict[int, MessageRow] = {}
    for i in range(0, len(ids), 500):
        part = ids[i : i + 500]
        rows = v.conn.execute(
            f"SELECT {MESSAGE_COLUMNS} FROM messages m {MESSAGE_JOINS} WHERE m.id IN ({','.join('?' * len(part))})",
            part,
        ).fetchall()
        for row in rows:
            out[int(row[0])] = message_dict(row)
    return [out[i] for i in ids if i in out]


def add_attachments(v: Store, msgs: list[MessageRow]) -> None:
    """Each message's attachments and reactions, in one query each (show, and search hits)."""
    by_id = {int(m["id"]): m for m in msgs}
    for m in msgs:
        m["attachments"] = []
        m["reactions"] = []
    if not by_id:
        return
    ids = list(by_id)
    marks = ",".join("?" * len(ids))
    for mid, aid, name, kind, mime, size, blob in v.conn.execute(
        "SELECT message_id, id, name, kind, mime, size, blob_id FROM attachments"
        f" WHERE message_id IN ({marks}) ORDER BY id",
        ids,
    ):
        by_id[mid]["attachments"].append(
            {"id": str(aid), "name": name, "kind": kind, "mime": mime, "size": size, "stored": blob is not None}
        )
    for mid, emoji, sender, removed in v.conn.execute(
        f"SELECT message_id, emoji, sender, removed FROM reactions WHERE message_id IN ({marks})", ids
    ):
        if not removed:
            by_id[mid]["reactions"].append({"emoji": emoji, "sender": sender})


def context_of(v: Store, mid: int, chat_id: int, n: int) -> ContextRows:
    before = [
        int(r[0])
        for r in v.conn.execute(
            "SELECT id FROM messages WHERE chat_id = ? AND id < ? ORDER BY id DESC LIMIT ?", (chat_id, mid, n)
        )
    ]
    after = [
        int(r[0])
        for r in v.conn.execute(
            "SELECT id FROM messages WHERE chat_id = ? AND id > ? ORDER BY id ASC LIMIT ?", (chat_id, mid, n)
        )
    ]
    rows: ContextRows = {"before": fetch_messages(v, list(reversed(before))), "after": fetch_messages(v, after)}
    add_attachments(v, rows["before"] + rows["after"])
    return rows


def search(
    v: Store,
    query: str,
    *,
    limit: int | None = 20,
    sort: str = "newest",
    context: int = 0,
    offset: int = 0,
    highlight: bool = False,
) -> list[MessageRow]:
    ids = matching_ids(v, query, sort=sort, limit=limit, offset=offset)
    hits = fetch_messages(v, ids)
    add_attachments(v, hits)  # a hit without text says what it is: its attachments
    if context > 0:
        for h in hits:
            h["context"] = context_of(v, int(h["id"]), int(h["chat_id"]), context)
    if highlight:
        texts = compile_query(v, query).texts
        for h in hits:
            h["highlights"] = highlight_spans(h["text"], texts)
    return hits


def highlight_spans(text: str, terms: list[Text]) -> list[tuple[int, int]]:
    """[start, end) spans of `text` where a query term occurs (case, width and accents folded).

    Folding can change a string's length (ß -> ss), so each character is folded on its own and
    the spans are mapped back to the original positions.
    """
    if not terms or not text:
        return []
    folded_chars: list[str] = []
    owner: list[int] = []
    for i, ch in enumerate(text):
        f = fold(ch)
        folded_chars.append(f)
        owner.extend([i] * len(f))
    folded = "".join(folded_chars)
    spans: list[tuple[int, int]] = []
    for t in terms:
        needles = _needles(t)
        for needle in needles:
            start = 0
            while needle and (k := folded.find(needle, start)) >= 0:
                a, b = owner[k], owner[k + len(needle) - 1] + 1
                spans.append((a, b))
                start = k + len(needle)
    return _merge(spans)


def _needles(t: Text) -> list[str]:
    """The folded substrings a term stands for (its words and CJK runs)."""
    from vault.text.normalize import runs

    return [r.text for r in runs(fold(t.raw))]


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out
