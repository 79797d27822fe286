"""One function makes index tokens and query tokens (issue 16 item 4): the tokens stay byte-identical
to what the index already stores, and a text's query phrase is always found in its index tokens."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from vault.text import normalize
from vault.text.normalize import cjk_tokens, fold, index_text, index_tokens, phrase_tokens, runs, tokens


# The two tokenisers as they were before they became one (normalize.py at the merge of issue 16):
# the index stores their output, so the one function must give exactly the same.
def _old_index_text(text: str) -> str:
    if text.isascii():
        return " ".join(normalize._ASCII_TOKEN.findall(text.lower()))
    toks: list[str] = []
    for r in runs(fold(text)):
        if r.kind == "cjk":
            toks.extend(cjk_tokens(r.text))
        else:
            toks.append(r.text)
    return " ".join(toks)


def _old_phrase_tokens(text: str, *, bare: bool) -> tuple[list[str], bool]:
    rs = runs(fold(text))
    toks: list[str] = []
    prefix = False
    for i, r in enumerate(rs):
        last = i == len(rs) - 1
        if r.kind == "cjk":
            s = r.text
            if len(s) == 1:
                toks.append(s)
                prefix = last
            else:
                toks.extend(s[j : j + 2] for j in range(len(s) - 1))
                if not last:
                    toks.append(s[-1])
                prefix = False
        else:
            toks.append(r.text)
            prefix = last and bare and r.kind == "word"
    return toks, prefix


ALPHABET = st.sampled_from(
    list("abcXYZ019 ._-+$~'\"")
    + list("警察國家签约簽約日本語한국어ひらがなカタカナ")
    + list("éüßİıÅ")
    + ["😀", "👍", "\U0001f3fd", "\u200b", "\u0301", "Ⅻ", "ﬁ"]
)
TEXT = st.text(alphabet=ALPHABET, max_size=40) | st.text(max_size=20)


@settings(max_examples=600, deadline=None)
@given(text=TEXT, bare=st.booleans())
def test_tokens_are_as_before(text: str, bare: bool) -> None:
    assert index_text(text) == _old_index_text(text)
    assert " ".join(index_tokens(text)) == _old_index_text(text)
    assert phrase_tokens(text, bare=bare) == _old_phrase_tokens(text, bare=bare)
    assert tokens(text, query=True, bare=bare) == _old_phrase_tokens(text, bare=bare)


@settings(max_examples=600, deadline=None)
@given(text=TEXT, bare=st.booleans())
def test_a_texts_query_phrase_is_in_its_index_tokens(text: str, bare: bool) -> None:
    index = index_tokens(text)
    query, prefix = tokens(text, query=True, bare=bare)
    n = len(query)
    assert query == index[:n]  # the phrase is the index's tokens from the start...
    assert len(index) - n in (0, 1)  # ...less at most the last CJK run's last character
    if prefix:  # the last query token, as a prefix, matches the index token there
        assert index[n - 1].startswith(query[-1])


def test_examples() -> None:
    assert index_text("警察國家 Café!") == "警察 察国 国家 家 cafe"
    assert phrase_tokens("警察", bare=True) == (["警察"], False)
    assert phrase_tokens("警", bare=True) == (["警"], True)
    assert phrase_tokens("dump", bare=True) == (["dump"], True)
    assert phrase_tokens("dump", bare=False) == (["dump"], False)
