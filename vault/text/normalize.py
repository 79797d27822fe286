"""Search normalisation: one function folds and splits text for the index and for queries alike.

Steps (design.md "Search", formats/cjk-search.md section 5): NFKC; traditional to simplified Chinese
(OpenCC t2s, only when the text has ideographs); case-fold; diacritics removed from Latin, Greek,
Cyrillic, Arabic and Hebrew letters; invisible marks (bidi, zero-width, variation selectors) dropped.
Then the text is split into runs:

- CJK and other space-less scripts (Han incl. extensions up to U+3FFFF, kana, Hangul, Thai, Lao,
  Khmer, Myanmar): overlapping bigrams plus the run's last character, so that any substring of one or
  more characters can be found exactly (a 1-character query is a prefix query);
- words (letters, digits and their marks): one token each;
- symbols and emoji: one token per character; punctuation separates and is dropped.

Bump NORMALISER_VERSION whenever the output of `index_text` changes: the vault then rebuilds its
index on open.
"""

from __future__ import annotations

import operator
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

NORMALISER_VERSION = 1


def fingerprint() -> str:
    """What the index depends on: this code's version and the dictionaries it uses.

    Stored in the vault; when it differs on open, the index is rebuilt, so that the tokens
    recomputed for a deletion are always the tokens that were indexed."""
    from importlib.metadata import PackageNotFoundError, version

    parts = [str(NORMALISER_VERSION)]
    for dist in ("opencc", "pypinyin"):
        try:
            parts.append(f"{dist}-{version(dist)}")
        except PackageNotFoundError:  # pragma: no cover - both are dependencies
            parts.append(f"{dist}-?")
    return "/".join(parts)


# Runs of scripts written without spaces (bigram-indexed).
_CJK_RANGES = (
    "\u0e00-\u0eff"  # Thai, Lao
    "\u1000-\u109f"  # Myanmar
    "\u1100-\u11ff"  # Hangul Jamo
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007"  # 々 〆 〇
    "\u3021-\u3029"  # Hangzhou numerals
    "\u3040-\u30ff"  # Hiragana, Katakana (incl. ー)
    "\u3100-\u312f"  # Bopomofo
    "\u3130-\u318f"  # Hangul compatibility Jamo
    "\u31a0-\u31ff"  # Bopomofo ext., Katakana phonetic ext.
    "\u3400-\u4dbf"  # CJK ext. A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua960-\ua97f"  # Hangul Jamo ext. A
    "\uac00-\ud7ff"  # Hangul syllables, Jamo ext. B
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\U00020000-\U0003ffff"  # CJK ext. B and later, compatibility supplement
)
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff]")

# Combining marks removed as diacritics (after NFD): Latin/Greek/Cyrillic combining marks,
# Arabic harakat, Hebrew points. Marks of other scripts (Indic vowel signs, kana voicing) stay.
_DIACRITICS = re.compile(
    "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
    "\u0591-\u05bd\u05bf\u05c1\u05c2\u05c4\u05c5\u05c7"
    "\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06dc\u06df-\u06e4\u06e7\u06e8\u06ea-\u06ed]"
)
# Invisible characters: bidi controls, zero-width (joiner) marks, BOM, variation selectors, tags.
_INVISIBLE = re.compile(
    "[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff"
    "\ufe00-\ufe0f\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)


@lru_cache(maxsize=1)
def _mark_class() -> str:
    """A regex class of every combining mark (Mn, Mc, Me) outside the removed diacritics."""
    ranges: list[tuple[int, int]] = []
    start = prev = -2
    for cp in range(0x300, 0x20000):
        if unicodedata.category(chr(cp))[0] == "M":
            if cp == prev + 1:
                prev = cp
                continue
            if start >= 0:
                ranges.append((start, prev))
            start = prev = cp
    if start >= 0:
        ranges.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


@lru_cache(maxsize=1)
def _token_re() -> re.Pattern[str]:
    return re.compile(
        f"(?P<cjk>[{_CJK_RANGES}]+)|(?P<word>(?:[^\\W_{_CJK_RANGES}]|[{_mark_class()}])+)|(?P<sym>[^\\w\\s])"
    )


_ASCII_WORD = re.compile(r"[a-z0-9]+|[^a-z0-9\s]")
# The ASCII characters of Unicode category S (symbols): the only ASCII punctuation kept as tokens.
_ASCII_TOKEN = re.compile(r"[a-z0-9]+|[$+<=>^`|~]")


@lru_cache(maxsize=1)
def _t2s() -> Any:
    import opencc

    return opencc.OpenCC("t2s")


@lru_cache(maxsize=1)
def _decomposes_to_diacritic() -> re.Pattern[str]:
    """A character whose NFD holds a removed diacritic (or is one): without one, NFD finds none.

    NFD of a string is the NFD of each character, reordered; so a string has a diacritic after NFD
    exactly when one of its characters does. Every canonical decomposition is below U+30000."""
    chars = [
        chr(cp)
        for cp in range(0xC0, 0x30000)
        if unicodedata.decomposition(chr(cp)) and _DIACRITICS.search(unicodedata.normalize("NFD", chr(cp)))
    ]
    return re.compile(f"{_DIACRITICS.pattern[:-1]}{re.escape(''.join(chars))}]")


def fold(text: str) -> str:
    """The normalised form of `text` (same length semantics as the original: no tokenisation)."""
    if text.isascii():
        return text.lower()
    t = unicodedata.normalize("NFKC", text)
    t = _INVISIBLE.sub("", t)
    if _HAN.search(t):
        t = _t2s().convert(t)
    t = t.casefold()
    if _decomposes_to_diacritic().search(t) is None:
        return t  # NFD would find no diacritic: the steps below would give `t` back
    d = unicodedata.normalize("NFD", t)
    if _DIACRITICS.search(d):
        t = unicodedata.normalize("NFC", _DIACRITICS.sub("", d))
    return t


@dataclass(frozen=True)
class Run:
    kind: str  # "cjk" | "word" | "sym"
    text: str


def runs(folded: str) -> list[Run]:
    """Split folded text into CJK runs, words and symbol characters (punctuation dropped)."""
    out: list[Run] = []
    if folded.isascii():
        for m in _ASCII_WORD.finditer(folded):
            s = m.group()
            if s[0].isalnum():
                out.append(Run("word", s))
            elif unicodedata.category(s)[0] == "S":
                out.append(Run("sym", s))
        return out
    for m in _token_re().finditer(folded):
        kind = m.lastgroup or "sym"
        s = m.group()
        if kind == "sym" and unicodedata.category(s)[0] != "S":
            continue  # punctuation
        out.append(Run(kind, s))
    return out


def cjk_tokens(run: str) -> list[str]:
    """Overlapping bigrams of a run, plus its last character."""
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)] + [run[-1]]


def tokens(text: str, *, query: bool = False, bare: bool = False) -> tuple[list[str], bool]:
    """The one tokeniser: what the index stores for `text`, or what a query term `text` looks for.

    Index (query=False): each word and symbol, and each CJK run's bigrams plus its last character
    (cjk_tokens); the second value is False. Query (query=True): the FTS5 phrase of the term and
    whether its last token is a prefix. It is the index's tokens, except that a CJK run at the end
    leaves out its last character (the indexed run may go on past it) and a 1-character run at the
    end is a prefix; a bare word (not inside quotes) at the end is a prefix too: Latin words match
    by prefix. A phrase of a text's query tokens is thus always found in that text's index tokens.
    """
    if not query and text.isascii():  # the fast path: the same tokens as runs() gives ASCII
        return _ASCII_TOKEN.findall(text.lower()), False
    rs = runs(fold(text))
    toks: list[str] = []
    prefix = False
    for i, r in enumerate(rs):
        last = query and i == len(rs) - 1
        if r.kind == "cjk":
            grams = cjk_tokens(r.text)
            toks.extend(grams[:-1] if last and len(r.text) > 1 else grams)
            prefix = last and len(r.text) == 1
        else:
            toks.append(r.text)
            prefix = last and bare and r.kind == "word"
    return toks, prefix


def index_tokens(text: str) -> list[str]:
    """The tokens the index stores for `text` (tokens())."""
    return tokens(text)[0]


def index_text(text: str) -> str:
    """What goes into the FTS table for `text`: space-separated tokens.

    The same string as `" ".join(index_tokens(text))` (the tests compare the two), made without
    Run objects or per-bigram slices: it is computed for every imported message.
    """
    if text.isascii():
        return " ".join(_ASCII_TOKEN.findall(text.lower()))
    folded = fold(text)
    if folded.isascii():
        return " ".join(_ASCII_TOKEN.findall(folded))  # runs() gives ASCII the same tokens
    out: list[str] = []
    add = out.append
    for cjk, word, sym in _token_re().findall(folded):
        if word:
            add(word)
        elif cjk:
            if len(cjk) > 1:
                add(" ".join(map(operator.add, cjk, cjk[1:])))  # the bigrams (cjk_tokens)
            add(cjk[-1])
        elif unicodedata.category(sym)[0] == "S":
            add(sym)  # a symbol; punctuation is dropped
    return " ".join(out)


def phrase_tokens(text: str, *, bare: bool) -> tuple[list[str], bool]:
    """The FTS5 phrase for a query term: (tokens, last token is a prefix); see tokens()."""
    return tokens(text, query=True, bare=bare)


def fts_phrase(tokens: list[str], prefix: bool) -> str:
    """An FTS5 phrase string: every token quoted, so no user text is ever FTS5 syntax."""
    body = " ".join(tokens).replace('"', '""')
    return f'"{body}"' + (" *" if prefix else "")


if __name__ == "__main__":  # pragma: no cover - manual inspection
    for arg in sys.argv[1:]:
        print(index_text(arg))
