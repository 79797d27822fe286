"""The shell's pure parts: suggestions from plain strings, the completer through a prompt_toolkit
Document, the query highlighter, the command registry and help, and the formatting that must fit a
terminal and keep an imported message from steering it."""

from __future__ import annotations

from datetime import timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

from vault.errors import UsageError
from vault.shell.commands import REGISTRY, commands, help_lines, lookup, parse_export, split_command
from vault.shell.complete import ChatName, Names, ShellCompleter, current_token, quote, suggest
from vault.shell.lexer import QueryLexer, line_tokens, query_tokens
from vault.shell.render import (
    chat_lines,
    clean,
    conversation_lines,
    hit_lines,
    line_width,
    plain,
    wrap,
)

NAMES = Names(
    chats=(
        ChatName("1", "家人 Family", "wechat", 8),
        ChatName("2", "Book club 📚", "telegram", 9),
        ChatName("3", "Sora", "line", 6),
        ChatName("7", "Work", "slack", 3),
        ChatName("8", "Work", "whatsapp", 2),
    ),
    senders=("Ana", "Jon", "Lukas", "Mei", "Mei Ling", "Zoë", "妈妈", "張偉"),
    sources=("line", "slack", "telegram", "wechat", "whatsapp"),
    years=("2024", "2023"),
    results=12,
)


def texts(before: str, names: Names = NAMES) -> list[str]:
    return [s.text for s in suggest(before, names)]


# -- suggestions -----------------------------------------------------------------------------------
def test_first_word_offers_commands_and_filter_keys():
    assert texts("de") == ["delete"]
    assert texts("o") == ["open", "on:"]
    assert texts("ch") == ["chat", "chats"]
    assert texts("fr") == ["from:"]
    assert texts("") == []
    assert texts("quokka") == []  # a plain search word: nothing to offer


def test_each_suggestion_replaces_exactly_the_word_typed():
    for before in ("de", "from:M", 'from:"Mei L', "in:boo", "-from:an", "(has:im", "chat Bo", "delete chat So"):
        for s in suggest(before, NAMES):
            assert -s.start <= len(before)
            replaced = before[: len(before) + s.start] + s.text
            assert replaced.endswith(s.text), (before, s)


def test_filter_keys_after_other_words_and_exclusions():
    assert texts("dinner fr") == ["from:"]
    assert texts("dinner -fr") == ["from:"]
    assert texts("(pizza OR sushi) h") == ["has:"]
    assert texts("dinner ") == []


def test_from_offers_senders_with_prefix_matches_first():
    assert texts("from:") == ["me", "Ana", "Jon", "Lukas", "Mei", '"Mei Ling"', "Zoë", "妈妈", "張偉"]
    assert texts("from:me") == ["me", "Mei", '"Mei Ling"']
    assert texts("from:ling") == ['"Mei Ling"']  # a later word of a name
    assert texts("from:zoe") == ["Zoë"]  # accents ignored
    assert texts("FROM:LUK") == ["Lukas"]
    assert texts('from:"Mei L') == ['"Mei Ling"']
    assert texts("dinner -from:an") == ["Ana"]
    assert texts("from:张") == ["張偉"]  # traditional and simplified find each other


def test_in_offers_chat_titles_and_ids_where_titles_repeat():
    got = suggest("in:bo", NAMES)
    assert [s.text for s in got] == ['"Book club 📚"']
    assert got[0].start == -2 and "telegram" in got[0].meta
    assert texts("in:fam") == ['"家人 Family"']
    assert texts("in:家") == ['"家人 Family"']
    assert texts("in:wo") == ["7", "8"]  # two chats called Work: their ids
    assert texts("in:7") == ["7"]


def test_source_has_and_date_values():
    assert texts("source:w") == ["wechat", "whatsapp"]
    assert texts("has:") == ["attachment", "image", "link", "video", "audio", "file"]
    assert texts("has:i") == ["image"]
    assert texts("after:") == ["2024", "2023"]
    assert texts("before:2023-") == [f"2023-{m:02d}" for m in range(1, 13)]
    assert texts("on:2023-1") == ["2023-10", "2023-11", "2023-12"]


def test_command_arguments():
    assert texts("help d") == ["date", "delete", "down"]
    assert texts("sort r") == ["relevance"]
    assert texts("open 1") == ["1", "10", "11", "12"]
    assert texts("open 1", Names()) == []  # no results on screen
    assert texts("chat so") == ["Sora"]
    assert texts("chat Work") == ["7", "8"]
    assert texts("chat 2") == ["2"]
    assert texts("delete ") == ["chat", "query", *[str(n) for n in range(1, 13)]]
    assert texts("delete q") == ["query"]
    assert texts("delete chat bo") == ["Book club 📚"]
    assert texts("delete query from:ana") == ["Ana"]
    assert texts("search in:so") == ["Sora"]
    assert texts("stats ") == []
    assert texts("open 3 ") == []
    assert texts("export bo") == ['"Book club 📚"']
    assert texts('export "家') == ['"家人 Family"']
    assert texts("export Sora --f") == ["--format"]
    assert texts("export Sora --format ") == ["html", "jsonl", "txt"]
    assert texts("export Sora --format txt -") == ["--out", "--all"]
    assert texts("export Sora --format txt --out ") == []


def test_empty_vault_offers_commands_and_keys_only():
    assert texts("from:", Names()) == ["me"]
    assert texts("in:", Names()) == []
    assert texts("h", Names()) == ["help", "has:"]


def test_current_token_respects_quotes_and_quote_round_trips():
    assert current_token('a from:"Mei L') == 'from:"Mei L'
    assert current_token("a b") == "b"
    assert current_token("a ") == ""
    assert quote("Mei") == "Mei"
    assert quote("Mei Ling") == '"Mei Ling"'
    assert quote('say "hi"') == '"say hi"'
    assert quote("a(b") == '"a(b"'


def test_names_from_chats_rows():
    rows = [
        {"id": "1", "title": "A", "source": "line", "messages": 3, "first": "2021-05-01T00:00:00Z",
         "last": "2023-01-01T00:00:00Z", "participants": ["Mei", "Ana"]},
        {"id": "2", "title": "B", "source": "slack", "messages": 0, "first": None, "last": None, "participants": []},
    ]  # fmt: skip
    names = Names.from_chats(rows)
    assert names.senders == ("Ana", "Mei")
    assert names.sources == ("line", "slack")
    assert names.years == ("2023", "2022", "2021")
    assert names.title_of("2") == "B" and names.title_of("9") == ""


# -- the completer -----------------------------------------------------------------------------------
def complete(text: str, cursor: int | None = None) -> list[tuple[str, int, str, str]]:
    doc = Document(text, cursor_position=len(text) if cursor is None else cursor)
    return [
        (c.text, c.start_position, c.display_text, c.display_meta_text)
        for c in ShellCompleter(NAMES).get_completions(doc, CompleteEvent(completion_requested=True))
    ]


def test_completer_adapts_suggestions_to_documents():
    assert complete("from:lu") == [("Lukas", -2, "Lukas", "sender")]
    got = complete("in:bo")
    assert got[0][:3] == ('"Book club 📚"', -2, "Book club 📚")
    assert "9 messages" in got[0][3]
    # Only the text before the cursor counts.
    assert complete("from:lu dinner", cursor=7) == [("Lukas", -2, "Lukas", "sender")]
    assert [c[0] for c in complete("del")] == ["delete"]
    assert complete("del")[0][3] == REGISTRY["delete"].summary
    doc = Document("from:lu")
    applied = doc.text[: len(doc.text) + complete("from:lu")[0][1]] + "Lukas"
    assert applied == "from:Lukas"


# -- highlighting as typed ---------------------------------------------------------------------------
def styles(line: str) -> list[tuple[str, str]]:
    return [(s, t) for s, t in line_tokens(line) if t.strip()]


def test_lexer_marks_filters_phrases_or_exclusions_and_commands():
    assert styles('from:Mei "see you" OR -work (a)') == [
        ("class:filter-key", "from:"),
        ("class:filter-value", "Mei"),
        ("class:phrase", '"see you"'),
        ("class:operator", "OR"),
        ("class:exclude", "-"),
        ("class:exclude", "work"),
        ("class:paren", "("),
        ("", "a"),
        ("class:paren", ")"),
    ]
    assert styles('-from:"Mei Ling" 警察') == [
        ("class:exclude", "-"),
        ("class:exclude class:filter-key", "from:"),
        ("class:exclude class:filter-value", '"Mei Ling"'),
        ("", "警察"),
    ]
    assert styles("open 3") == [("class:command", "open"), ("class:argument", " 3")]
    assert styles("search from:x") == [
        ("class:command", "search"),
        ("class:filter-key", "from:"),
        ("class:filter-value", "x"),
    ]
    assert styles("delete query has:link") == [
        ("class:command", "delete"),
        ("class:command", "query"),
        ("class:filter-key", "has:"),
        ("class:filter-value", "link"),
    ]
    assert styles("delete chat Book club") == [
        ("class:command", "delete"),
        ("class:command", "chat"),
        ("class:argument", " Book club"),
    ]
    assert styles('unterminated "phrase') == [("", "unterminated"), ("class:phrase", '"phrase')]
    assert styles("a - b") == [("", "a"), ("", "-"), ("", "b")]  # a lone dash is text, as in the parser


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('ab 警察😂-"():*OR\tfromin')) | st.characters(), max_size=40))
def test_lexer_covers_every_character_exactly_once(line):
    assert "".join(t for _, t in line_tokens(line)) == line
    assert "".join(t for _, t in query_tokens(line)) == line


def test_lexer_adapter_lexes_each_line():
    get = QueryLexer().lex_document(Document("from:Mei x"))
    assert get(0)[:2] == [("class:filter-key", "from:"), ("class:filter-value", "Mei")]
    assert get(5) == []


# -- the registry and help ---------------------------------------------------------------------------
def test_registry_lookup_split_and_help_lists_every_command():
    assert lookup("NEXT") is REGISTRY["more"] and lookup("exit") is REGISTRY["quit"]
    assert lookup("dinner") is None
    assert split_command("open 3") == (REGISTRY["open"], "3")
    assert split_command("  dinner friday ") == (None, "dinner friday")
    for width in (40, 80, 200):
        text = "".join(plain(line) for line in help_lines(width)).replace(" ", "")
        for c in commands():
            assert c.usage.replace(" ", "") in text and c.summary.replace(" ", "") in text
        assert all(line_width(line) < width for line in help_lines(width))
    wanted = {
        "help",
        "search",
        "more",
        "open",
        "up",
        "down",
        "date",
        "chats",
        "chat",
        "stats",
        "delete",
        "lock",
        "quit",
    }
    assert wanted <= set(REGISTRY)


def test_export_arguments():
    assert parse_export('"Book club" --format txt --out ~/b.txt') == ("Book club", False, "txt", "~/b.txt")
    assert parse_export("Book club --out=x --format=html") == ("Book club", False, "html", "x")
    assert parse_export("--all --format jsonl --out 'my dir/'") == (None, True, "jsonl", "my dir/")
    for bad in (
        "Sora --format pdf --out x",
        "Sora --format txt",
        "Sora --out",
        "Sora --format txt --out x --force",
        '"x',
    ):
        with pytest.raises(UsageError):
            parse_export(bad)


# -- formatting ------------------------------------------------------------------------------------
def hit(text: str, spans: list[tuple[int, int]], **kw: object) -> dict:
    h = {"id": "9", "chat_id": "2", "chat": "Book club", "sender": "Mei", "ts": "2023-03-14T09:06:00Z"}
    h.update(text=text, highlights=spans, **kw)
    return h


def test_hits_fit_80_and_wide_terminals_with_the_match_styled():
    long = "word " * 60 + "needle" + " tail" * 40
    at = long.index("needle")
    for width in (20, 40, 80, 200):
        lines = hit_lines(12, hit(long, [(at, at + 6)]), width, timezone.utc)
        assert all(line_width(line) < width for line in lines), width
        assert 2 <= len(lines) <= 3
        assert ("class:match", "needle") in [f for line in lines for f in line]  # the match is on screen
        if width >= 40:
            assert plain(lines[0]).startswith(" 12  2023-03-14 09:06  Mei  Book club")
    wide = hit_lines(1, hit(long, [(at, at + 6)]), 400, timezone.utc)
    narrow = hit_lines(1, hit(long, [(at, at + 6)]), 80, timezone.utc)
    assert sum(len(plain(x)) for x in wide) > sum(len(plain(x)) for x in narrow)


def test_cjk_is_measured_in_columns():
    text = "東京タワー" * 30
    for width in (21, 80):
        lines = hit_lines(1, hit(text, [(0, 2)]), width, timezone.utc)
        assert all(line_width(line) < width for line in lines)
        assert lines[1][1] == ("class:match", "東京")
    msgs = [{"id": "1", "ts": "2023-05-12T21:00:00Z", "sender": "空", "text": text, "attachments": []}]
    lines = conversation_lines(msgs, 30, timezone.utc)
    assert all(line_width(line) < 30 for line in lines) and len(lines) > 5
    assert "".join(plain(x).strip() for x in lines[1:]).endswith("東京タワー")  # nothing lost when reading


def test_control_characters_from_messages_cannot_steer_the_terminal():
    evil = "a\x1b[2Jb\x07c\rd\x9b31me\x08f\r\ng\th"
    text, spans = clean(evil, [(2, 5), (19, 20)])
    assert all(ch == "\n" or (ch >= " " and not 0x7F <= ord(ch) <= 0x9F) for ch in text)
    assert text.count("\\x") == 5 and "\n" in text and "\r" not in text  # visible escapes: \x1b \x07 ...
    assert text[spans[1][0] : spans[1][1]] == "g"  # spans follow the text
    for lines in (
        hit_lines(1, hit(evil, []), 80, timezone.utc),
        conversation_lines(
            [{"id": "1", "ts": "2023-01-01T00:00:00Z", "sender": "x\x1b]0;t\x07", "text": evil}], 80, timezone.utc
        ),
        chat_lines([{"id": "1", "title": "t\x1b[31m", "source": "s", "messages": 1, "first": None, "last": None}], 80),
    ):
        for line in lines:
            assert not any(0 <= ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in plain(line)), plain(line)


def test_wrap_keeps_words_and_marks_what_was_left_out():
    lines = wrap([("", "the quick brown fox jumps over the lazy dog")], 10)
    assert [plain(x) for x in lines] == ["the quick", "brown fox", "jumps over", "the lazy", "dog"]
    cut = wrap([("", "the quick brown fox jumps over the lazy dog")], 10, max_lines=2)
    assert [plain(x) for x in cut] == ["the quick", "brown fox…"]
    assert all(line_width(x) <= 10 for x in cut)


def test_chats_and_deleted_hits_render():
    rows = [
        {"id": "12", "title": "家人 Family", "source": "wechat", "messages": 8, "first": "2023-01-21T12:00:00Z",
         "last": "2023-06-18T00:00:00Z"},
    ]  # fmt: skip
    lines = chat_lines(rows, 80)
    assert "家人 Family" in plain(lines[1]) and "2023-01-21 – 2023-06-18" in plain(lines[1])
    narrow = chat_lines(rows, 40)
    assert "家人 Family" in plain(narrow[1]) and "2023" not in plain(narrow[1])  # a narrow terminal drops dates
    assert "empty" in plain(chat_lines([], 60)[0])
    gone = hit_lines(3, hit("secret words", [], deleted=True), 80, timezone.utc)
    assert "secret" not in "".join(plain(x) for x in gone) and "[deleted]" in plain(gone[1])
