"""Completion in `talkvault shell`: a pure suggestion function, and the prompt_toolkit completer over it.

`suggest(text before the cursor, names)` knows the command registry and the query language and
returns `Suggestion`s; it touches no vault and no terminal, so it is tested with plain strings.
`Names` is a snapshot of what the vault holds (chat titles and ids, sender names, sources, years),
loaded by the shell in the background; `ShellCompleter` adapts one snapshot to prompt_toolkit, and
the shell swaps in a new one behind a `DynamicCompleter` when the names change.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field

from prompt_toolkit.completion import CompleteEvent, Completer, Completion
from prompt_toolkit.document import Document

from vault.display import plural
from vault.shell.commands import Command, commands, lookup
from vault.shell.session import ChatName, Names
from vault.text.query import FILTER_KEYS, HAS_VALUES

MAX_SUGGESTIONS = 200
_FILTER_RE = re.compile(r"^(" + "|".join(FILTER_KEYS) + r"):(.*)$", re.IGNORECASE | re.DOTALL)
FILTER_META = {
    "from": "sender (a name or part of it; from:me)",
    "in": "chat (title or id)",
    "source": "app (whatsapp, telegram, ...)",
    "after": "on or after YYYY[-MM[-DD]]",
    "before": "before YYYY[-MM[-DD]]",
    "on": "on YYYY[-MM[-DD]]",
    "has": "attachment, image, link, ...",
}


@dataclass(frozen=True)
class Suggestion:
    """Replace the `-start` characters before the cursor with `text`."""

    text: str
    start: int  # <= 0, relative to the cursor (prompt_toolkit's start_position)
    display: str = ""
    meta: str = ""


# -- matching names ------------------------------------------------------------------------------
def _fold(s: str) -> str:
    from vault.text.normalize import fold

    return fold(s)


def ranked(typed: str, candidates: Iterable[str], *, inside: bool = True) -> list[str]:
    """Candidates that start with `typed` (case and accents ignored), then (with `inside`) those
    with a word that starts with it, then those that contain it (two characters or more)."""
    want = _fold(typed)
    first, words, middle = [], [], []
    for c in candidates:
        f = _fold(c)
        if f.startswith(want):
            first.append(c)
        elif inside and want and any(w.startswith(want) for w in f.split()):
            words.append(c)
        elif inside and len(want) > 1 and want in f:
            middle.append(c)
    return (first + words + middle)[:MAX_SUGGESTIONS]


def quote(value: str) -> str:
    """A filter value as the query language reads it back: in quotes when it has spaces or ( ) "."""
    if value and not re.search(r'[\s()"]', value):
        return value
    return '"' + value.replace('"', "") + '"'


# -- the current word ----------------------------------------------------------------------------
def current_token(line: str) -> str:
    """The token the cursor is in: from the last space outside quotes to the end."""
    start, in_quote = 0, False
    for i, ch in enumerate(line):
        if ch == '"':
            in_quote = not in_quote
        elif ch.isspace() and not in_quote:
            start = i + 1
    return line[start:]


def _filter_values(key: str, typed: str, names: Names) -> list[tuple[str, str, str]]:
    """(value as inserted, display, meta) for `key:` with `typed` so far."""
    bare = typed.lstrip('"')
    out: list[tuple[str, str, str]] = []
    if key == "from":
        for name in ranked(bare, ["me", *names.senders]):
            out.append((quote(name), name, "you" if name == "me" else "sender"))
    elif key == "in":
        by_title: dict[str, list[ChatName]] = {}
        for c in names.chats:
            by_title.setdefault(c.title, []).append(c)
        for title in ranked(bare, by_title):
            same = by_title[title]
            if len(same) == 1:
                out.append((quote(title), title, f"{same[0].source} · {plural(same[0].messages, 'message')}"))
            else:  # two chats with one title: offer their ids
                out += [(c.id, f"{title} ({c.id})", f"{c.source} · {plural(c.messages, 'message')}") for c in same]
        if bare.isdigit():
            out += [(c.id, c.id, c.title) for c in names.chats if c.id.startswith(bare)]
    elif key == "source":
        out = [(s, s, "app") for s in ranked(bare, names.sources, inside=False)]
    elif key == "has":
        out = [(h, h, "") for h in ranked(bare, HAS_VALUES, inside=False)]
    elif key in ("after", "before", "on"):
        m = re.match(r"^(\d{4})-(\d{0,2})$", bare)
        if m:
            months = [f"{m.group(1)}-{mo:02d}" for mo in range(1, 13)]
            out = [(d, d, "") for d in months if d.startswith(bare)]
        else:
            out = [(y, y, "") for y in names.years if y.startswith(bare)]
    return out


def query_suggestions(line: str, names: Names) -> list[Suggestion]:
    """Suggestions for the word being typed in a search query."""
    token = current_token(line)
    core = token.lstrip("-(")
    m = _FILTER_RE.match(core)
    if m:
        key, typed = m.group(1).lower(), m.group(2)
        return [
            Suggestion(text, -len(typed), display, meta) for text, display, meta in _filter_values(key, typed, names)
        ]
    if not core or '"' in core:
        return []
    low = core.casefold()
    return [Suggestion(f"{k}:", -len(core), f"{k}:", FILTER_META[k]) for k in FILTER_KEYS if k.startswith(low)]


def _chat_suggestions(typed: str, names: Names) -> list[Suggestion]:
    """A chat as a command argument (the rest of the line): its title, or its id when titles repeat."""
    by_title: dict[str, list[ChatName]] = {}
    for c in names.chats:
        by_title.setdefault(c.title, []).append(c)
    out = []
    for title in ranked(typed, by_title):
        for c in by_title[title]:
            text = title if len(by_title[title]) == 1 and title.strip() == title and title else c.id
            out.append(
                Suggestion(text, -len(typed), f"{title} ({c.id})", f"{c.source} · {plural(c.messages, 'message')}")
            )
    if typed.isdigit():
        out += [Suggestion(c.id, -len(typed), c.id, c.title) for c in names.chats if c.id.startswith(typed)]
    return out[:MAX_SUGGESTIONS]


def _words(words: Sequence[str], typed: str, meta: dict[str, str] | None = None) -> list[Suggestion]:
    low = typed.casefold()
    return [Suggestion(w, -len(typed), w, (meta or {}).get(w, "")) for w in words if w.startswith(low)]


def _numbers(typed: str, names: Names) -> list[Suggestion]:
    return [Suggestion(str(n), -len(typed)) for n in range(1, names.results + 1) if str(n).startswith(typed)][
        :MAX_SUGGESTIONS
    ]


def _export_suggestions(cmd: Command, arg: str, names: Names) -> list[Suggestion]:
    """`export CHAT --format F --out PATH`: a chat title (quoted), the options, the formats."""
    token = current_token(arg)
    before = arg[: len(arg) - len(token)].split()
    if before and before[-1] == "--format":
        return _words(cmd.choices, token)
    if before and before[-1] == "--out":
        return []
    if token.startswith("-"):
        meta = {"--format": "txt, jsonl or html", "--out": "a new file or folder", "--all": "every chat"}
        return [s for s in _words(["--format", "--out", "--all"], token, meta) if s.text not in before]
    if not before:  # the chat: a title in quotes when it has spaces, or an id
        typed = token.lstrip('"')
        return [Suggestion(quote(s.text), -len(token), s.display, s.meta) for s in _chat_suggestions(typed, names)]
    return []


def argument_suggestions(cmd: Command, rest: str, names: Names) -> list[Suggestion]:
    """Suggestions for what follows a command word (`rest` is everything after its first space)."""
    arg = rest.lstrip()
    if cmd.args == "export":
        return _export_suggestions(cmd, arg, names)
    if cmd.args == "query":
        return query_suggestions(arg, names)
    if cmd.args == "chat":
        return _chat_suggestions(arg, names)
    if " " in arg:
        if cmd.args != "delete":
            return []
        word, _, more = arg.partition(" ")
        if word.casefold() == "chat":
            return _chat_suggestions(more.lstrip(), names)
        if word.casefold() == "query":
            return query_suggestions(more.lstrip(), names)
        return []
    if cmd.args == "command":
        return _words(sorted(c.name for c in commands()), arg, {c.name: c.summary for c in commands()})
    if cmd.args == "choice":
        return _words(cmd.choices, arg)
    if cmd.args == "number":
        return _numbers(arg, names)
    if cmd.args == "delete":
        meta = {"chat": "a whole chat", "query": "every message a query finds"}
        return _words(["chat", "query"], arg, meta) + _numbers(arg, names)
    return []


def suggest(before_cursor: str, names: Names) -> list[Suggestion]:
    """Everything worth offering for the text before the cursor.

    The first word offers commands and filter keys; after a command word, what that command takes;
    anywhere in a search, filter keys and the values of `from:`, `in:`, `source:`, `has:` and the
    date filters.
    """
    stripped = before_cursor.lstrip()
    m = re.match(r"(\S+)(\s.*)?$", stripped, re.DOTALL)
    if not m:
        return []
    word, rest = m.group(1), m.group(2)
    if rest is None:  # still typing the first word
        low = word.casefold()
        cmds = sorted(commands(), key=lambda c: c.name)
        out = [Suggestion(c.name, -len(word), c.name, c.summary) for c in cmds if c.name.startswith(low)]
        return out + query_suggestions(word, names)
    cmd = lookup(word)
    if cmd is None:
        return query_suggestions(stripped, names)
    return argument_suggestions(cmd, rest[1:], names)


# -- prompt_toolkit ------------------------------------------------------------------------------
@dataclass
class ShellCompleter(Completer):
    """`suggest` for one snapshot of names."""

    names: Names = field(default_factory=Names)

    def get_completions(self, document: Document, complete_event: CompleteEvent) -> Iterator[Completion]:
        for s in suggest(document.text_before_cursor, self.names):
            yield Completion(s.text, start_position=s.start, display=s.display or None, display_meta=s.meta or None)
