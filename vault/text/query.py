"""The search query language (cli-contract.md), parsed by hand into FTS5 phrases and SQL conditions.

    words            ANDed; a bare word matches as a prefix (Latin) or a substring (CJK)
    "a phrase"       exact sequence; "phrase"* makes its last word a prefix
    -word  -(...)    excluded
    a OR b, ( )      alternatives and grouping
    from:NAME in:CHAT source:APP after:DATE before:DATE on:DATE has:attachment|image|link

Anything a person can type parses: unbalanced quotes and parentheses are closed at the end, a stray
`)` is ignored, FTS5 syntax is only ever text (every token reaches MATCH inside double quotes), and
unknown `key:value` words are searched for as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from vault.errors import UsageError
from vault.text.normalize import fts_phrase, phrase_tokens
from vault.timeutil import SEQ_SPAN

FILTER_KEYS = ("from", "in", "source", "after", "before", "on", "has")
#: How deeply parentheses group; deeper ones are read as if they were not there (a query of 3,000
#: nested parentheses is still a query; the parser and compiler recurse once per level, and FTS5's own
#: parser overflows its stack at about 32 levels of "a OR (").
MAX_GROUP_DEPTH = 16
#: At most this many senders or chats are merged walk by walk (SQLite allows 500 arms of a UNION);
#: more are one IN list, checked on each row of a newest-first walk of the messages.
MAX_DRIVER_IDS = 64
# Message ids are SQLite integers (ts_ms * SEQ_SPAN + n); a date beyond them clamps to the ends.
_ID_MIN, _ID_MAX = -(2**63), 2**63 - 1
HAS_VALUES = ("attachment", "image", "link", "video", "audio", "file")
# The has: conditions. Each is, character for character, the WHERE of a partial index on
# messages(id) (vault/store/schema.py, version 3, without the `m.`; tests/test_filter_index.py holds
# the two together), so that a query with only filters walks that index newest-first and stops.
# `messages.flags` bits say which attachments a message has (kept exact by triggers there).
FLAG_ATTACHMENT = 1
FLAG_KINDS = {"image": 2, "video": 4, "audio": 8, "file": 16}
HAS_LINK_SQL = "(m.text LIKE '%://%' OR m.text LIKE '%www.%')"
HAS_ATTACHMENT_SQL = f"(m.flags & {FLAG_ATTACHMENT})"


def has_kind_sql(kind: str) -> str:
    """has:image|video|audio|file: the message is of that kind or has an attachment of that kind."""
    return f"(m.kind = '{kind}' OR m.flags & {FLAG_KINDS[kind]})"


# -- the syntax tree ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Text:
    tokens: tuple[str, ...]
    prefix: bool
    raw: str  # what the person typed (for highlighting)

    def fts(self) -> str:
        return fts_phrase(list(self.tokens), self.prefix)


@dataclass(frozen=True)
class Filter:
    key: str
    value: str


@dataclass(frozen=True)
class Not:
    node: Node


@dataclass(frozen=True)
class And:
    nodes: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    nodes: tuple[Node, ...]


Node = Text | Filter | Not | And | Or


# -- lexing --------------------------------------------------------------------------------------
@dataclass
class _Tok:
    kind: str  # "(" ")" "OR" "-" "word" "phrase" "filter"
    value: str = ""
    key: str = ""
    star: bool = False


_FILTER_RE = re.compile(r"^(" + "|".join(FILTER_KEYS) + r"):(.*)$", re.IGNORECASE | re.DOTALL)


def _lex(q: str) -> list[_Tok]:
    toks: list[_Tok] = []
    i, n = 0, len(q)
    while i < n:
        ch = q[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            toks.append(_Tok("("))
            i += 1
            continue
        if ch == ")":
            toks.append(_Tok(")"))
            i += 1
            continue
        if ch == "-" and i + 1 < n and not q[i + 1].isspace() and q[i + 1] != "-":
            toks.append(_Tok("-"))
            i += 1
            continue
        if ch == '"':
            j = q.find('"', i + 1)
            end = n if j < 0 else j
            value = q[i + 1 : end]
            i = n if j < 0 else j + 1
            star = i < n and q[i] == "*"
            if star:
                i += 1
            toks.append(_Tok("phrase", value, star=star))
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in "()" and not (q[j] == '"' and j > i and q[j - 1] == ":"):
            j += 1
        word = q[i:j]
        i = j
        m = _FILTER_RE.match(word)
        if m:
            key, value = m.group(1).lower(), m.group(2)
            if value == "" and i < n and q[i] == '"':  # from:"Mei Ling"
                k = q.find('"', i + 1)
                value = q[i + 1 : (n if k < 0 else k)]
                i = n if k < 0 else k + 1
            if value:
                toks.append(_Tok("filter", value, key=key))
                continue
        if word == "OR":
            toks.append(_Tok("OR", word))
            continue
        star = word.endswith("*")
        toks.append(_Tok("word", word.rstrip("*") if star else word, star=star))
    return toks


# -- parsing -------------------------------------------------------------------------------------
class _Parser:
    def __init__(self, toks: list[_Tok]) -> None:
        self.toks = toks
        self.i = 0
        self.depth = 0  # of the parentheses open around the current token

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def parse(self) -> Node | None:
        nodes = []
        while self.peek() is not None:
            node = self.or_expr()
            if node is not None:
                nodes.append(node)
            if self.peek() is not None and self.peek().kind == ")":  # type: ignore[union-attr]
                self.i += 1  # a stray ')' is ignored
        return _and(nodes)

    def or_expr(self) -> Node | None:
        parts = [self.and_expr()]
        while (t := self.peek()) is not None and t.kind == "OR":
            self.i += 1
            parts.append(self.and_expr())
        kept = [p for p in parts if p is not None]
        if not kept:
            return None
        return kept[0] if len(kept) == 1 else Or(tuple(kept))

    def and_expr(self) -> Node | None:
        nodes = []
        while (t := self.peek()) is not None and t.kind not in ("OR", ")"):
            node = self.unary()
            if node is not None:
                nodes.append(node)
        return _and(nodes)

    def unary(self) -> Node | None:
        t = self.peek()
        assert t is not None
        if t.kind == "-":
            self.i += 1
            if self.peek() is None or self.peek().kind in ("OR", ")"):  # type: ignore[union-attr]
                return None
            inner = self.unary()
            return Not(inner) if inner is not None else None
        return self.atom()

    def atom(self) -> Node | None:
        t = self.peek()
        assert t is not None
        self.i += 1
        if t.kind == "(":
            if self.depth >= MAX_GROUP_DEPTH:
                return None  # this '(' groups nothing more: its contents join the enclosing group
            self.depth += 1
            node = self.or_expr()
            self.depth -= 1
            if (c := self.peek()) is not None and c.kind == ")":
                self.i += 1
            return node
        if t.kind == "filter":
            return Filter(t.key, t.value)
        bare = t.kind == "word"
        toks, prefix = phrase_tokens(t.value, bare=bare)
        if not toks:
            return None  # only punctuation: nothing to search for
        return Text(tuple(toks), prefix or t.star, t.value)


def _and(nodes: list[Node]) -> Node | None:
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else And(tuple(nodes))


def parse(query: str) -> Node | None:
    """The query's syntax tree; None when nothing in it can be searched for."""
    return _Parser(_lex(query)).parse()


# -- dates ---------------------------------------------------------------------------------------
_DATE_RE = re.compile(r"^(\d{4})(?:[-/.](\d{1,2})(?:[-/.](\d{1,2}))?)?$")


def parse_date(value: str, tz: ZoneInfo | None = None) -> tuple[datetime, datetime] | None:
    """The [start, end) of YYYY, YYYY-MM or YYYY-MM-DD in `tz`; None if it is not written as such a
    date; UsageError naming it if it is, but no such day exists (2023-13-45, 2023-02-30, 0000)."""
    m = _DATE_RE.match(value.strip())
    if not m:
        return None
    y, mo, d = int(m.group(1)), m.group(2), m.group(3)
    try:
        if d is not None and mo is not None:
            start = datetime(y, int(mo), int(d), tzinfo=tz)
        elif mo is not None:
            start = datetime(y, int(mo), 1, tzinfo=tz)
        else:
            start = datetime(y, 1, 1, tzinfo=tz)
    except ValueError:
        raise UsageError(
            f"{value.strip()} is not a date that exists; dates are YYYY, YYYY-MM or YYYY-MM-DD (e.g. 2023-03-14)"
        ) from None
    try:
        if d is not None and mo is not None:
            end = start + timedelta(days=1)
        elif mo is not None:
            end = datetime(y + (int(mo) == 12), int(mo) % 12 + 1, 1, tzinfo=tz)
        else:
            end = datetime(y + 1, 1, 1, tzinfo=tz)
    except (ValueError, OverflowError):  # the last day of year 9999
        end = datetime.max.replace(tzinfo=tz)
    return start, end


def date_ids(value: str, tz: ZoneInfo | None = None) -> tuple[int, int] | None:
    """The message ids [lo, hi) of a DATE's span (parse_date's day, month or year), clamped to what a
    message id can be; None if `value` is not written as a date. The one place dates become ids."""
    span = parse_date(value, tz)
    if span is None:
        return None
    lo, hi = (_ms_to_id(t) for t in span)
    return lo, hi


def _ms_to_id(t: datetime) -> int:
    try:
        ms = int(t.timestamp() * 1000)
    except (OverflowError, ValueError, OSError):
        return _ID_MIN if t.year < 1970 else _ID_MAX
    return max(_ID_MIN, min(_ID_MAX, ms * SEQ_SPAN))


# -- compiling -----------------------------------------------------------------------------------
@dataclass
class Compiled:
    """`match` drives the search through FTS5 (None: scan messages); `where` filters rows of m."""

    match: str | None = None
    where: list[str] = field(default_factory=list)
    params: list[object] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)  # positive terms, for highlighting
    empty: bool = False  # the query had nothing to search for
    lo: int | None = None  # id range from top-level dates (ids are time-ordered): lo <= id < hi
    hi: int | None = None
    # Without words: a top-level from:/in:/source: naming several senders or chats, as (column, ids),
    # not in `where`: the search merges one newest-first walk of the column's index per id.
    driver: tuple[str, list[int]] | None = None
    # Every condition in `where` is a top-level filter, one of them with an index (has:, in:, from:
    # NAME, source:): the search may count the filters' matches and, when few, check the words
    # against them rather than each word match against the filters.
    indexed: bool = False


def _is_text(node: Node) -> bool:
    if isinstance(node, Text):
        return True
    if isinstance(node, Filter):
        return False
    if isinstance(node, Not):
        return _is_text(node.node)
    return all(_is_text(n) for n in node.nodes)


def _fts(node: Node) -> str | None:
    """An FTS5 expression for a pure-text node; None if it has no positive part."""
    if isinstance(node, Text):
        return node.fts()
    if isinstance(node, Or):
        parts = [_fts(n) for n in node.nodes]
        if any(p is None for p in parts):
            return None  # "a OR -b" cannot be an FTS expression
        return "(" + " OR ".join(p for p in parts if p) + ")"
    if isinstance(node, And):
        pos = [_fts(n) for n in node.nodes if not isinstance(n, Not)]
        neg = [_fts(n.node) for n in node.nodes if isinstance(n, Not)]
        if not pos or any(p is None for p in pos) or any(p is None for p in neg):
            return None
        expr = "(" + " AND ".join(p for p in pos if p) + ")"
        for p in neg:
            expr += f" NOT {p}"
        return expr
    return None


def _positive_texts(node: Node, out: list[Text]) -> None:
    if isinstance(node, Text):
        out.append(node)
    elif isinstance(node, And | Or):
        for n in node.nodes:
            _positive_texts(n, out)


class Compiler:
    """Turns a tree into SQL over `messages m`; name lookups go through `resolve`."""

    def __init__(
        self, resolve_people: object, resolve_chats: object, tz: ZoneInfo, resolve_source: object = None
    ) -> None:
        self.people = resolve_people  # callable(value) -> list[int]
        self.chats = resolve_chats  # callable(value) -> list[int]
        self.sources = resolve_source  # callable(source) -> list[int] (chat ids); None: a subquery
        self.tz = tz

    def compile(self, node: Node | None) -> Compiled:
        out = Compiled()
        if node is None:
            out.empty = True
            return out
        _positive_texts(node, out.texts)
        conj: list[Node] = list(node.nodes) if isinstance(node, And) else [node]
        text_pos: list[Node] = [n for n in conj if _is_text(n) and not isinstance(n, Not)]
        text_neg: list[Node] = [n for n in conj if isinstance(n, Not) and _is_text(n.node)]
        rest: list[Node] = [n for n in conj if n not in text_pos and n not in text_neg]
        if text_pos:
            expr = _fts(And(tuple(text_pos + text_neg)) if len(text_pos) + len(text_neg) > 1 else text_pos[0])
            if expr is not None:
                out.match = expr
            else:
                rest = conj
        else:
            rest = conj
        # Several ids as an IN list would make SQLite sort every match (it can walk one (chat_id, id)
        # range in order, not several at once): without words, they are merged walk by walk.
        may_drive = out.match is None
        out.indexed = all(isinstance(n, Filter) for n in rest) and any(
            isinstance(n, Filter)
            and (n.key in ("has", "in", "source") or (n.key == "from" and n.value.casefold() != "me"))
            for n in rest
        )
        for n in rest:
            if isinstance(n, Filter) and self._bound(n, out):
                continue
            if may_drive and out.driver is None and isinstance(n, Filter):
                ids = self._ids(n)
                if ids is not None and 1 < len(ids[1]) <= MAX_DRIVER_IDS:
                    out.driver = ids
                    continue
            sql, params = self.cond(n)
            out.where.append(sql)
            out.params.extend(params)
        return out

    def _bound(self, f: Filter, out: Compiled) -> bool:
        """A top-level date becomes an id range, which FTS5 and the primary key both seek to."""
        if f.key not in ("after", "before", "on"):
            return False
        span = date_ids(f.value, self.tz)
        if span is None:
            return False
        lo, hi = span
        if f.key in ("after", "on"):
            out.lo = lo if out.lo is None else max(out.lo, lo)
        if f.key == "before":
            out.hi = lo if out.hi is None else min(out.hi, lo)
        if f.key == "on":
            out.hi = hi if out.hi is None else min(out.hi, hi)
        return True

    def cond(self, node: Node) -> tuple[str, list[object]]:
        if isinstance(node, Text) or (_is_text(node) and _fts(node) is not None):
            expr = _fts(node)
            return "m.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)", [expr]
        if isinstance(node, Not):
            sql, params = self.cond(node.node)
            return f"NOT coalesce(({sql}), 0)", params
        if isinstance(node, And | Or):
            parts = [self.cond(n) for n in node.nodes]
            joiner = " AND " if isinstance(node, And) else " OR "
            return "(" + joiner.join(p[0] for p in parts) + ")", [x for p in parts for x in p[1]]
        assert isinstance(node, Filter)
        return self.filter(node)

    def _ids(self, f: Filter) -> tuple[str, list[int]] | None:
        """The indexed column and ids a from:NAME, in:CHAT or source:APP stands for; None otherwise."""
        key, value = f.key, f.value
        if key == "from" and value.casefold() != "me":
            return "m.sender_id", list(dict.fromkeys(self.people(value)))  # type: ignore[operator]
        if key == "in":
            return "m.chat_id", list(dict.fromkeys(self.chats(value)))  # type: ignore[operator]
        if key == "source" and self.sources is not None:
            return "m.chat_id", list(dict.fromkeys(self.sources(value.casefold())))  # type: ignore[operator]
        return None

    def filter(self, f: Filter) -> tuple[str, list[object]]:
        key, value = f.key, f.value
        if key == "from" and value.casefold() == "me":
            return "(m.from_me = 1)", []
        if key == "source" and self.sources is None:
            return "m.chat_id IN (SELECT id FROM chats WHERE source = ?)", [value.casefold()]
        if (ids := self._ids(f)) is not None:
            return _in_list(*ids)
        if key in ("after", "before", "on"):
            span = date_ids(value, self.tz)
            if span is None:
                return _text_cond(f"{key}:{value}")
            lo, hi = span
            if key == "after":
                return "m.id >= ?", [lo]
            if key == "before":
                return "m.id < ?", [lo]
            return "(m.id >= ? AND m.id < ?)", [lo, hi]
        if key == "has":
            v = value.casefold()
            if v == "link":
                return HAS_LINK_SQL, []
            if v in FLAG_KINDS:
                return has_kind_sql(v), []
            if v in ("attachment", "attachments", "media"):
                return HAS_ATTACHMENT_SQL, []
            return _text_cond(f"{key}:{value}")
        return _text_cond(f"{key}:{value}")


def _text_cond(raw: str) -> tuple[str, list[object]]:
    toks, prefix = phrase_tokens(raw, bare=True)
    if not toks:
        return "0", []
    return "m.id IN (SELECT rowid FROM fts WHERE fts MATCH ?)", [fts_phrase(toks, prefix)]


def _in_list(col: str, ids: list[int]) -> tuple[str, list[object]]:
    if not ids:
        return "0", []
    return f"{col} IN ({','.join('?' * len(ids))})", list(ids)
