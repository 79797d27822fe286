"""Deeply nested or oversized JSON is a clean, per-file error (issue 17 item 6).

Every JSON reader in importers/ goes through importers.base (guard_json / loads_json, or the
tree helpers built on them); the import boundary (vault/operations/importing.py) names the file
and keeps RecursionError as a last safety net. The other files of the same command import.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from importers.base import MAX_JSON_DEPTH, JsonGuard, loads_json
from tests.conftest import cli, tg_export, tg_msg, write
from vault.errors import ExportError

DEPTH = 5000  # far past MAX_JSON_DEPTH; without the guard: RecursionError, or ijson's quadratic prefixes
DEEP = "[" * DEPTH + "]" * DEPTH


def jsonl_good(path: Path, key: str = "k1") -> Path:
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "whatsapp", "key": key, "title": key, "kind": "direct"},
        {"type": "message", "chat": key, "ts": "2023-01-01T10:00:00Z", "sender": "Mei", "text": "dumplings"},
    ]
    return write(path, "".join(json.dumps(x) + "\n" for x in lines))


def jsonl_deep(path: Path) -> Path:
    head = jsonl_good(path, "k2").read_text()
    return write(
        path, head + '{"type": "message", "chat": "k2", "ts": "2023-01-01T11:00:00Z", "extra": ' + DEEP + "}\n"
    )


def telegram_deep(path: Path) -> Path:
    good = tg_export(path, [tg_msg(1, "hello")]).read_text()
    return write(path, good.rstrip().rstrip("}").rstrip().rstrip("]") + ', {"id": 2, "text": ' + DEEP + "}]}")


def discord_deep(path: Path) -> Path:
    head = '{"guild": {"id": "1", "name": "G"}, "channel": {"id": "2", "type": "GuildTextChat", "name": "c"}, '
    return write(path, head + '"messages": [{"id": "3", "content": ' + DEEP + "}]}")


def _one_error_line(err: str, name: str) -> None:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("talkvault: error:")]
    assert len(errors) == 1, err
    assert name in errors[0], err
    assert "internal error" not in err and "Traceback" not in err and "RecursionError" not in err


@pytest.mark.parametrize("make", [jsonl_deep, telegram_deep, discord_deep], ids=["jsonl", "telegram", "discord"])
def test_a_deep_file_fails_alone_and_the_others_import(tmp_path: Path, cli_vault: dict[str, str], make) -> None:  # type: ignore[no-untyped-def]
    good1 = jsonl_good(tmp_path / "good1.jsonl", "g1")
    bad = make(tmp_path / f"deep{make.__name__}.json")
    good2 = tg_export(tmp_path / "good2" / "result.json", [tg_msg(1, "after the bad one")])
    r = cli("import", str(good1), str(bad), str(good2), env=cli_vault)
    assert r.code == 1, (r.out, r.err)
    _one_error_line(r.err, bad.name)
    assert str(good1) in r.out and str(good2) in r.out
    chats = cli("chats", "--json", env=cli_vault).json()
    assert sum(c["messages"] for c in chats) == 2  # both good files, nothing of the bad one
    # --json: the report is the one document, the bad file's error named in it
    r = cli("import", "--json", str(bad), str(good1), env=cli_vault)
    assert r.code == 1
    doc = json.loads(r.out)
    assert [bool(f["error"]) for f in doc["files"]] == [True, False]


# Each JSON family with --format, so that the reader itself (not detection) meets the nesting.
FAMILIES = {
    "sigtop": "[" + '{"conversation": ' + DEEP + "}]",
    "wechat-pywxdump-json": '[{"MsgSvrID": 1, "type_name": "文本", "room_name": ' + DEEP + "}]",
    "wechat-weflow-json": '{"weflow": {"version": 1}, "session": ' + DEEP + "}",
    "wechat-chatlog-json": '[{"seq": 1, "talker": ' + DEEP + "}]",
    "chatlab-json": '{"chatlab": {"version": "0.0.1"}, "meta": ' + DEEP + "}",
    "chatlab-jsonl": '{"_type": "header", "chatlab": {"version": "0.0.1"}, "x": ' + DEEP + "}\n",
    "qq-json": '{"metadata": {"name": "QQChatExporter"}, "chatInfo": ' + DEEP + "}",
    "hangouts": '{"conversations": ' + DEEP + "}",
    "messenger": '{"participants": [{"name": "a"}], "messages": [' + DEEP + "]}",
    "discord": '{"guild": {"id": "1"}, "channel": ' + DEEP + "}",
    "telegram": '{"name": "x", "type": "personal_chat", "id": 1, "messages": [' + DEEP + "]}",
}


@pytest.mark.parametrize("fmt", sorted(FAMILIES))
def test_every_json_family_refuses_deep_nesting_cleanly(tmp_path: Path, cli_vault: dict[str, str], fmt: str) -> None:
    suffix = ".jsonl" if fmt.endswith("jsonl") else ".json"
    bad = write(tmp_path / f"deep{suffix}", FAMILIES[fmt])
    r = cli("import", "--format", fmt, str(bad), env=cli_vault)
    assert r.code == 1, (r.out, r.err)
    _one_error_line(r.err, bad.name)


def test_folder_formats_refuse_deep_nesting(tmp_path: Path, cli_vault: dict[str, str]) -> None:
    slack = tmp_path / "slack"
    write(slack / "users.json", DEEP)
    write(slack / "channels.json", "[]")
    gchat = tmp_path / "gchat" / "Groups" / "DM 1"
    write(gchat / "group_info.json", '{"members": ' + DEEP + "}")
    write(gchat / "messages.json", '{"messages": []}')
    for fmt, path in (("slack", slack), ("google-chat", tmp_path / "gchat")):
        r = cli("import", "--format", fmt, str(path), env=cli_vault)
        assert r.code == 1, (fmt, r.out, r.err)
        assert "internal error" not in r.err and "Traceback" not in r.err, r.err


def test_one_huge_string_is_refused_without_holding_it(tmp_path: Path, cli_vault: dict[str, str]) -> None:
    huge = tmp_path / "huge" / "result.json"
    tg_export(huge, [tg_msg(1, "x" * (17 * 2**20))])
    good = jsonl_good(tmp_path / "good.jsonl")
    r = cli("import", str(huge), str(good), env=cli_vault)
    assert r.code == 1, (r.out, r.err)
    _one_error_line(r.err, "result.json")
    assert "MiB" in r.err
    assert str(good) in r.out


def test_loads_json_names_the_file_and_line() -> None:
    with pytest.raises(ExportError) as info:
        loads_json(DEEP, "chat.jsonl", line=7)
    assert "chat.jsonl, line 7" in str(info.value)
    assert loads_json('{"a": [1, {"b": "[[[["}]}', "x") == {"a": [1, {"b": "[[[["}]}


# -- the guard follows JSON exactly, whatever the chunking ------------------------------------------
def _depth(obj: object) -> int:
    if isinstance(obj, list):
        return 1 + max((_depth(x) for x in obj), default=0)
    if isinstance(obj, dict):
        return 1 + max((_depth(x) for x in obj.values()), default=0)
    return 0


_text = st.text(alphabet=st.sampled_from('ab"\\[]{}\u00e9警察😀\n'), max_size=8)
_json = st.recursive(
    st.none() | st.integers() | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None)
@given(doc=_json, limit=st.integers(1, 12), chunk=st.integers(1, 9), ascii_only=st.booleans())
def test_guard_agrees_with_the_real_depth(doc: object, limit: int, chunk: int, ascii_only: bool) -> None:
    data = json.dumps(doc, ensure_ascii=ascii_only).encode()
    guard = JsonGuard(io.BytesIO(data), path="x", max_depth=limit)
    try:
        out = b""
        while piece := guard.read(chunk):
            out += piece
        refused = False
    except ExportError:
        refused = True
    real = _depth(doc)
    assert refused == (real > limit) or (refused and real * 2 > limit)  # never misses; no false alarm below half
    if not refused:
        assert out == data


def test_real_exports_are_far_below_the_limit() -> None:
    assert MAX_JSON_DEPTH >= 64


def test_a_recursion_error_anywhere_in_a_parser_fails_that_file_only(new_vault, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The safety net at the import boundary: whatever recursed, the file is an ExportError naming it,
    rolled back, and the vault takes the next file."""
    from vault.operations import parse_ahead

    good = jsonl_good(tmp_path / "good.jsonl")
    bad = jsonl_good(tmp_path / "bad.jsonl", "k9")
    real = parse_ahead.prepared_here

    def recursing(fmt, path, options, zone):  # type: ignore[no-untyped-def]
        if path.name == "bad.jsonl":
            yield from list(real(fmt, path, options, zone))[:2]  # a chat is in before it recurses
            raise RecursionError
        yield from real(fmt, path, options, zone)

    monkeypatch.setattr(parse_ahead, "prepared_here", recursing)
    with pytest.raises(ExportError) as info:
        new_vault.import_path(bad)
    assert "bad.jsonl" in str(info.value) and "nested too deeply" in str(info.value)
    assert new_vault.chats() == []  # rolled back: not even the chat
    assert new_vault.import_path(good).added == 1
