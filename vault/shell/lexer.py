"""Highlighting what is typed at the `talkvault shell` prompt, as it is typed.

`line_tokens` is pure: a line in, (style, text) fragments out whose texts put together are the line
again. It marks the command word, and in a search (a line that is not a command, or the argument
of `search` and `delete query`) the filters (`from:` and their values), quoted phrases, `OR`,
parentheses and `-` exclusions, following the query language of vault/text/query.py. `QueryLexer`
adapts it to prompt_toolkit.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from prompt_toolkit.document import Document
from prompt_toolkit.formatted_text import StyleAndTextTuples
from prompt_toolkit.lexers import Lexer

from vault.shell.commands import Command, lookup
from vault.text.query import FILTER_KEYS

Fragment = tuple[str, str]

_FILTER_RE = re.compile(r"^(" + "|".join(FILTER_KEYS) + r"):", re.IGNORECASE)
_EXCLUDE = "class:exclude"


def query_tokens(q: str) -> list[Fragment]:
    """Fragments of a search query, styled by what each part means to the query language."""
    out: list[Fragment] = []
    i, n = 0, len(q)
    negate = False

    def add(style: str, text: str) -> None:
        out.append((f"{_EXCLUDE} {style}".strip() if negate else style, text))

    while i < n:
        ch = q[i]
        if ch.isspace():
            j = i
            while j < n and q[j].isspace():
                j += 1
            out.append(("", q[i:j]))
            negate = False
            i = j
            continue
        if ch in "()":
            out.append(("class:paren", ch))
            negate = False
            i += 1
            continue
        if ch == "-" and i + 1 < n and not q[i + 1].isspace() and q[i + 1] != "-":
            out.append((_EXCLUDE, ch))
            negate = True
            i += 1
            continue
        if ch == '"':
            j = q.find('"', i + 1)
            end = n if j < 0 else j + 1
            if end < n and q[end] == "*":
                end += 1
            add("class:phrase", q[i:end])
            negate = False
            i = end
            continue
        j = i
        while j < n and not q[j].isspace() and q[j] not in "()" and not (q[j] == '"' and j > i and q[j - 1] == ":"):
            j += 1
        word = q[i:j]
        m = _FILTER_RE.match(word)
        if m:
            key = word[: m.end()]
            add("class:filter-key", key)
            value = word[m.end() :]
            if value:
                add("class:filter-value", value)
            elif j < n and q[j] == '"':  # from:"Mei Ling"
                k = q.find('"', j + 1)
                end = n if k < 0 else k + 1
                add("class:filter-value", q[j:end])
                j = end
        elif word == "OR":
            add("class:operator", word)
        else:
            add("", word)
        negate = False
        i = j
    return out


def _split_word(text: str) -> tuple[str, str, str]:
    """(leading spaces, first word, rest)."""
    stripped = text.lstrip()
    lead = text[: len(text) - len(stripped)]
    m = re.match(r"\S+", stripped)
    word = m.group(0) if m else ""
    return lead, word, stripped[len(word) :]


def line_tokens(line: str, find: Callable[[str], Command | None] = lookup) -> list[Fragment]:
    """Fragments of a whole prompt line: a command and its arguments, or a search."""
    lead, word, rest = _split_word(line)
    cmd = find(word) if word else None
    if cmd is None:
        return query_tokens(line)
    out: list[Fragment] = [("", lead)] if lead else []
    out.append(("class:command", word))
    if cmd.args == "query":
        return out + query_tokens(rest)
    if cmd.args == "delete":
        lead2, word2, rest2 = _split_word(rest)
        if word2.casefold() == "query":
            return [*out, ("", lead2), ("class:command", word2), *query_tokens(rest2)]
        if word2.casefold() == "chat":
            return [*out, ("", lead2), ("class:command", word2), ("class:argument", rest2)]
    if rest:
        out.append(("class:argument", rest))
    return out


class QueryLexer(Lexer):
    """prompt_toolkit's view of `line_tokens` (the prompt is one line; each line is lexed alone)."""

    def lex_document(self, document: Document) -> Callable[[int], StyleAndTextTuples]:
        lines = document.lines

        def get_line(lineno: int) -> StyleAndTextTuples:
            if 0 <= lineno < len(lines):
                return list(line_tokens(lines[lineno]))
            return []

        return get_line
