"""Search: exact hit sets against a brute-force oracle, the whole query language, and robustness."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vault
from tests.conftest import PASSPHRASE, write
from vault.text.normalize import fold, runs

# -- a generated corpus ---------------------------------------------------------------------------
HAN_PAIRS = "警察國国家腾騰讯訊微信這这里裡後后來来學学們们說说時时會会龍龙"
KANA = "あいうえおかきくけこアイウエオカキ"
HANGUL = "가나다라마바사아자차카"
LATIN = [
    "cafe",
    "Café",
    "CAFÉ",
    "naïve",
    "resume",
    "résumé",
    "Zürich",
    "zurich",
    "gen",
    "itgc",
    "hello",
    "help",
    "world",
    "Straße",
    "strasse",
    "iPhone",
    "ok",
]
EMOJI = ["😂", "❤️", "👍", "🎉"]


def gen_text(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 6)):
        r = rng.random()
        if r < 0.35:
            parts.append("".join(rng.choice(HAN_PAIRS) for _ in range(rng.randint(1, 6))))
        elif r < 0.45:
            parts.append("".join(rng.choice(KANA + HANGUL) for _ in range(rng.randint(1, 4))))
        elif r < 0.85:
            parts.append(rng.choice(LATIN))
        else:
            parts.append(rng.choice(EMOJI))
    sep = rng.choice(["", " ", " ", ", "])
    return sep.join(parts)


def oracle(query: str, text: str, bare: bool = True) -> bool:
    """Does `text` contain the term `query`, by the documented semantics, computed by brute force?"""
    q = runs(fold(query))
    d = runs(fold(text))
    if not q:
        return False
    if len(q) == 1:
        (r,) = q
        if r.kind == "cjk":
            return any(x.kind == "cjk" and r.text in x.text for x in d)
        if r.kind == "word" and bare:
            return any(x.text.startswith(r.text) for x in d if x.kind == "word")
        return any(x.text == r.text for x in d)
    for i in range(len(d) - len(q) + 1):
        ok = True
        for j, r in enumerate(q):
            x = d[i + j]
            first, last = j == 0, j == len(q) - 1
            if r.kind == "cjk" and x.kind == "cjk":
                ok = x.text.endswith(r.text) if first else x.text.startswith(r.text) if last else x.text == r.text
            elif r.kind == "word" and last and bare:
                ok = x.kind == "word" and x.text.startswith(r.text)
            else:
                ok = x.text == r.text and x.kind == r.kind
            if not ok:
                break
        if ok:
            return True
    return False


@pytest.fixture(scope="module")
def corpus_vault(tmp_path_factory):
    rng = random.Random(42)
    d = tmp_path_factory.mktemp("search")
    texts = [gen_text(rng) for _ in range(1500)]
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "test", "key": "c1", "title": "Corpus", "kind": "group"},
    ]
    for i, t in enumerate(texts):
        lines.append(
            {"type": "message", "chat": "c1", "ts": "2020-01-01T00:00:00Z", "sender": "s", "text": t, "id": str(i)}
        )
    f = write(d / "c.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n")
    from vault.store.keys import KdfParams

    v = vault.create(d / "v", PASSPHRASE, kdf=KdfParams(1, 8, 1), kdf_chosen=True)
    v.import_path(f)
    ids = {int(r[1]): int(r[0]) for r in v.conn.execute("SELECT id, source_id FROM messages")}
    yield v, texts, ids
    v.close()


def _hits(v, q: str) -> set[int]:  # type: ignore[no-untyped-def]
    return {int(h["id"]) for h in v.search(q, limit=None)}


def _queries(texts: list[str], rng: random.Random, n: int) -> list[str]:
    out = [
        "警",
        "察",
        "国",
        "國家",
        "腾讯",
        "騰訊",
        "微信",
        "cafe",
        "CAFE",
        "café",
        "naive",
        "zurich",
        "zür",
        "strasse",
        "straße",
        "he",
        "hel",
        "itgc",
        "gen",
        "😂",
        "👍",
        "あい",
        "カ",
        "가나",
        "iphone",
        "ok",
    ]
    while len(out) < n:
        t = rng.choice(texts)
        a = rng.randrange(len(t))
        b = rng.randrange(a, min(len(t), a + 6)) + 1
        q = t[a:b].strip(" ,")
        if q:
            out.append(q)
    return out


def test_hits_equal_a_brute_force_scan(corpus_vault):
    v, texts, ids = corpus_vault
    rng = random.Random(7)
    checked = 0
    for q in _queries(texts, rng, 250):
        want = {ids[i] for i, t in enumerate(texts) if oracle(q, t)}
        # Words are ANDed; a query that spans several runs is searched as a phrase (last word a prefix).
        got = _hits(v, q if len(runs(fold(q))) == 1 else f'"{q}"*')
        assert got == want, (q, len(got), len(want))
        checked += 1
    assert checked == 250


def test_phrases_match_exactly(corpus_vault):
    v, texts, ids = corpus_vault
    for q in ["hello world", "cafe 😂", "gen itgc"]:
        want = {ids[i] for i, t in enumerate(texts) if oracle(q, t, bare=False)}
        assert _hits(v, f'"{q}"') == want, q


def test_traditional_and_simplified_find_each_other(corpus_vault):
    v, _texts, _ids = corpus_vault
    assert _hits(v, "騰訊") == _hits(v, "腾讯") and _hits(v, "腾讯")
    assert _hits(v, "國家") == _hits(v, "国家")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
    | st.lists(
        st.sampled_from(
            [
                '"',
                "(",
                ")",
                "-",
                "OR",
                "AND",
                "NEAR",
                "*",
                "^",
                ":",
                "+",
                "from:",
                "in:",
                "after:",
                "on:2020-13-45",
                "has:",
                "C++",
                "what?",
                "example.org",
                "警察",
                " ",
                "NOT",
                "{",
                "}",
                "'",
                "\\",
                "\x00",
            ]
        ),
        max_size=12,
    ).map("".join)
)
def test_any_query_is_valid(corpus_vault, q):
    from vault.errors import UsageError

    v, _texts, _ids = corpus_vault
    try:
        hits = v.search(q, limit=5)
    except UsageError as exc:  # the one refusal: a date that cannot exist (issue 17 item 7)
        assert "is not a date that exists" in exc.message
        return
    assert isinstance(hits, list)


# -- the query language on a small hand-made vault --------------------------------------------------
@pytest.fixture
def lang_vault(new_vault, tmp_path):
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "whatsapp", "key": "mei", "title": "Mei", "kind": "direct"},
        {"type": "chat", "source": "telegram", "key": "club", "title": "Book club", "kind": "group"},
        {"type": "chat", "source": "wechat", "key": "fam", "title": "张伟家人", "kind": "group"},
    ]
    msgs = [
        ("mei", "2022-12-31T23:00:00Z", "Mei", "dinner friday? see https://example.org", []),
        ("mei", "2023-03-14T09:06:00Z", "Jon", "pizza or sushi", []),
        ("mei", "2023-03-14T10:00:00Z", "Mei", "sushi tonight, not pizza", [{"name": "a.jpg", "kind": "image"}]),
        ("club", "2023-04-01T12:00:00Z", "Ana", "chapter three of the book", [{"name": "n.pdf", "kind": "file"}]),
        ("club", "2024-01-01T00:00:00Z", "Jon", "happy new year 🎉", []),
        ("fam", "2023-06-18T08:15:00Z", "张伟", "明天见", []),
        ("fam", "2023-06-18T08:16:00Z", "李娜", "I love C++ and what? questions", []),
    ]
    for chat, ts, sender, text, atts in msgs:
        lines.append({"type": "message", "chat": chat, "ts": ts, "sender": sender, "text": text, "attachments": atts})
    new_vault.import_path(write(tmp_path / "l.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines)))
    return new_vault


def _texts(v, q: str, **kw) -> list[str]:  # type: ignore[no-untyped-def]
    return [h["text"] for h in v.search(q, limit=50, **kw)]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("pizza", ["sushi tonight, not pizza", "pizza or sushi"]),
        ("pizza sushi", ["sushi tonight, not pizza", "pizza or sushi"]),
        ("pizza -tonight", ["pizza or sushi"]),
        ("pizza OR book", ["chapter three of the book", "sushi tonight, not pizza", "pizza or sushi"]),
        ("(dinner OR chapter) -book", ["dinner friday? see https://example.org"]),
        ('"or sushi"', ["pizza or sushi"]),
        ('"sush"', []),
        ('"sush"*', ["sushi tonight, not pizza", "pizza or sushi"]),
        ("sus", ["sushi tonight, not pizza", "pizza or sushi"]),
        ("from:mei", ["sushi tonight, not pizza", "dinner friday? see https://example.org"]),
        ("from:Jon pizza", ["pizza or sushi"]),
        ("from:zhangwei", ["明天见"]),
        ("from:zw", ["明天见"]),
        ("in:book", ["happy new year 🎉", "chapter three of the book"]),
        ("in:zhangwei", ["I love C++ and what? questions", "明天见"]),
        ("source:telegram", ["happy new year 🎉", "chapter three of the book"]),
        ("on:2023-03-14", ["sushi tonight, not pizza", "pizza or sushi"]),
        ("after:2023-06 before:2024", ["I love C++ and what? questions", "明天见"]),
        ("before:2023", ["dinner friday? see https://example.org"]),
        ("has:image", ["sushi tonight, not pizza"]),
        ("has:attachment", ["chapter three of the book", "sushi tonight, not pizza"]),
        ("has:link", ["dinner friday? see https://example.org"]),
        ("example.org", ["dinner friday? see https://example.org"]),
        ("C++", ["I love C++ and what? questions"]),
        ("what?", ["I love C++ and what? questions"]),
        ("🎉", ["happy new year 🎉"]),
        ("明", ["明天见"]),
        ('"unbalanced', []),
        ("(pizza", ["sushi tonight, not pizza", "pizza or sushi"]),
        ("pizza)", ["sushi tonight, not pizza", "pizza or sushi"]),
        ("?", []),
    ],
)
def test_query_language(lang_vault, query, expected):
    assert _texts(lang_vault, query) == expected


def test_orders_and_paging(lang_vault):
    newest = _texts(lang_vault, "sushi OR pizza OR book")
    assert _texts(lang_vault, "sushi OR pizza OR book", sort="oldest") == list(reversed(newest))
    assert sorted(_texts(lang_vault, "sushi OR pizza OR book", sort="relevance")) == sorted(newest)
    page1 = [h["id"] for h in lang_vault.search("sushi OR pizza OR book", limit=2)]
    page2 = [h["id"] for h in lang_vault.search("sushi OR pizza OR book", limit=2, offset=2)]
    assert len(page1) == 2 and len(page2) == 1 and not set(page1) & set(page2)


def test_highlights_map_back_to_the_original_text(lang_vault):
    (h,) = lang_vault.search("CAFE OR love", highlight=True, limit=1)
    t = h["text"]
    assert [t[a:b] for a, b in h["highlights"]] == ["love"]
    from vault.operations.search import highlight_spans
    from vault.text.query import parse

    text = "Ein Café in der Straße, 騰訊 HQ"
    terms = [n for n in [parse("cafe"), parse("strasse"), parse("腾讯")]]
    spans = highlight_spans(text, terms)  # type: ignore[arg-type]
    assert [text[a:b] for a, b in spans] == ["Café", "Straße", "騰訊"]


def test_reindex_gives_the_same_answers(lang_vault):
    before = _texts(lang_vault, "pizza OR 明 OR from:zw")
    lang_vault.rebuild_index()
    assert _texts(lang_vault, "pizza OR 明 OR from:zw") == before
    assert lang_vault.check()["ok"]


def test_newest_first_does_not_rank_every_match(lang_vault):
    """The plan walks the FTS index by rowid: no temp B-tree for ORDER BY."""
    from vault.operations.search import compile_query

    cq = compile_query(lang_vault, "pizza")
    plan = lang_vault.conn.execute(
        "EXPLAIN QUERY PLAN SELECT m.id FROM fts f CROSS JOIN messages m ON m.id = f.rowid"
        " WHERE f.fts MATCH ? ORDER BY f.rowid DESC LIMIT 20",
        (cq.match,),
    ).fetchall()
    assert not any("TEMP B-TREE" in str(row) for row in plan), plan
