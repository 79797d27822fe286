"""Queries at their edges (issue 17 item 7): an impossible date is exit 2 naming it; an offset past
any count and thousands of nested parentheses are clean; dates become ids in one place."""

from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import cli, tg_export, tg_msg
from vault.errors import UsageError
from vault.text.query import MAX_GROUP_DEPTH, Compiler, date_ids, parse, parse_date


@pytest.fixture
def env(cli_vault: dict[str, str], tmp_path: Path) -> dict[str, str]:
    msgs = [tg_msg(1, "dumplings tonight", ts=1_678_784_760), tg_msg(2, "more dumplings", ts=1_678_784_900)]
    r = cli("import", str(tg_export(tmp_path / "result.json", msgs)), env=cli_vault)
    assert r.code == 0, r.err
    return cli_vault


@pytest.mark.parametrize("date", ["2023-13-45", "2023-02-30", "0000", "2023-00"])
def test_an_impossible_date_is_a_usage_error_naming_it(env: dict[str, str], date: str) -> None:
    for key in ("after", "before", "on"):
        r = cli("search", f"dumplings {key}:{date}", env=env)
        assert r.code == 2, (key, date, r.out, r.err)
        assert date in r.err and "No messages match" not in r.out + r.err
    r = cli("delete", "--query", f"on:{date}", "--yes", env=env)
    assert r.code == 2 and date in r.err
    assert len(cli("search", "dumplings", "--json", env=env).json()) == 2  # nothing went


def test_dates_at_the_ends_of_time_are_clean(env: dict[str, str]) -> None:
    assert len(cli("search", "dumplings before:9999", "--json", env=env).json()) == 2
    assert cli("search", "dumplings after:9999-12-31", "--json", env=env).json() == []
    assert len(cli("search", "dumplings after:0001", "--json", env=env).json()) == 2
    assert len(cli("search", "after:0001 (dumplings OR x) -y", "--json", env=env).json()) == 2


def test_an_offset_or_limit_past_any_count(env: dict[str, str]) -> None:
    for extra in (["--offset", "99999999999999999999999"], ["--limit", "99999999999999999999999"]):
        r = cli("search", "dumplings", *extra, "--json", env=env)
        assert r.code in (0, 2), (extra, r.err)
        assert "internal error" not in r.err and "Overflow" not in r.err
    r = cli("search", "dumplings", "--offset", "99999999999999999999999", "--json", env=env)
    assert r.code == 0 and r.json() == []


def test_thousands_of_nested_parentheses(env: dict[str, str]) -> None:
    for q in ("(" * 3000 + "dumplings" + ")" * 3000, "-(" * 3000 + "x", "(" * 3000, "dumplings " + "(a OR " * 3000):
        r = cli("search", q, "--json", env=env)
        assert r.code in (0, 2), r.err
        assert "internal error" not in r.err and "Recursion" not in r.err
    r = cli("search", "(" * 3000 + "dumplings" + ")" * 3000, "--json", env=env)
    assert len(r.json()) == 2


def test_deep_grouping_is_bounded_in_the_tree() -> None:
    node = parse("(" * 3000 + "a OR b" + ")" * 3000)
    assert node is not None
    depth, n = 0, node
    while hasattr(n, "nodes") or hasattr(n, "node"):
        n = n.nodes[0] if hasattr(n, "nodes") else n.node  # type: ignore[union-attr]
        depth += 1
    assert depth <= MAX_GROUP_DEPTH + 1
    Compiler(lambda s: [], lambda s: [], ZoneInfo("UTC")).compile(parse("-(" * 3000 + "a b" + ")" * 3000))


def test_one_date_span_serves_search_and_delete() -> None:
    tz = ZoneInfo("Europe/Berlin")
    for value in ("2023", "2023-03", "2023-03-14", "2023-12", "2024-02-29"):
        span = parse_date(value, tz)
        ids = date_ids(value, tz)
        assert span is not None and ids is not None
        assert ids == tuple(int(t.timestamp() * 1000) * 65536 for t in span)
        compiled = Compiler(lambda s: [], lambda s: [], tz).compile(parse(f"on:{value}"))
        assert (compiled.lo, compiled.hi) == ids
    assert date_ids("dumplings", tz) is None
    with pytest.raises(UsageError):
        date_ids("2023-02-29", tz)
