"""What people see (issue 17 items 10, 12, 13, 15): labels for messages without text, delete prompts
that say what goes, search that says when there is more, plurals, `clear`, file/folder errors,
recent imports in `stats`; and the import report built from FileReport.to_json (issue 16 item 4)."""

from __future__ import annotations

import json
import os
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pexpect
import pytest
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output

from tests.conftest import ROOT, cli
from vault.cli.data import more_line
from vault.display import deletion_question, plural

HEADER = {"type": "talkvault", "version": 1}


def _msg(i: int, text: str, **kw: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "chat": "c",
        "ts": f"2023-03-{1 + i // 24:02d}T{i % 24:02d}:00:00Z",
        "sender": "Mei Lin",
        "text": text,
        "id": f"m{i}",
        **kw,
    }


def _export(path: Path, messages: list[dict[str, Any]], title: str = "Book club") -> Path:
    lines = [HEADER, {"type": "chat", "source": "mychat", "key": "c", "title": title, "kind": "group"}, *messages]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    return path


WITHOUT_TEXT = [
    _msg(1, "", kind="deleted"),
    _msg(2, "", kind="image", attachments=[{"name": "IMG-001.jpg", "kind": "image"}]),
    _msg(3, "", kind="sticker"),
    _msg(4, "", kind="audio"),
    _msg(5, "", kind="media"),
    _msg(6, "a caption", kind="file", attachments=[{"name": "notes.pdf", "kind": "file"}]),
]
LABELS = ["[deleted]", "[image: IMG-001.jpg, not in the export]", "[sticker]", "[voice message]"]


def test_messages_without_text_say_what_they_are(cli_vault: dict[str, str], tmp_path: Path) -> None:
    r = cli("import", str(_export(tmp_path / "e.jsonl", WITHOUT_TEXT)), env=cli_vault)
    assert r.code == 0, r.err
    shown = cli("show", "1", env=cli_vault).out.splitlines()
    for label in LABELS:
        assert any(line.split(": ", 1)[1].startswith(label) for line in shown if ": " in line), (label, shown)
    assert any("[media, not in the export]" in line for line in shown)
    assert "📎 [file: notes.pdf, not in the export]" in "\n".join(shown)
    found = cli("search", "from:Mei", env=cli_vault).out
    assert "[image: IMG-001.jpg, not in the export]" in found and "[deleted]" in found
    assert not any(line.rstrip().endswith(":") or ":   #" in line for line in found.splitlines())


def test_the_shell_and_html_word_labels_the_same(tmp_path: Path) -> None:
    from datetime import timezone

    from vault.shell.render import hit_lines, message_lines, plain

    row: Any = {
        "id": "1",
        "ts": "2023-01-01T00:00:00Z",
        "sender": "Mei",
        "chat": "c",
        "text": "",
        "kind": "image",
        "attachments": [{"name": "IMG-001.jpg", "kind": "image", "stored": False}],
    }
    assert "[image: IMG-001.jpg, not in the export]" in plain(message_lines(row, 80, timezone.utc)[0])
    assert "[image: IMG-001.jpg, not in the export]" in "".join(plain(x) for x in hit_lines(1, row, 80, timezone.utc))


def test_plurals_recent_imports_and_file_or_folder_errors(cli_vault: dict[str, str], tmp_path: Path) -> None:
    r = cli("import", str(_export(tmp_path / "one.jsonl", [_msg(0, "hello")])), env=cli_vault)
    assert r.code == 0 and "added 1 message, 0 events, 0 attachments in 1 chat;" in r.out, r.out
    assert "1 msg " in cli("chats", env=cli_vault).out
    stats = cli("stats", env=cli_vault).out
    assert stats.startswith("1 message, 0 events in 1 chat;") and "Recent imports:" in stats
    assert "one.jsonl: added 1 message" in stats
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "x.bin").write_bytes(b"\x00\x01")
    r = cli("import", str(empty), env=cli_vault)
    assert r.code == 1 and "this file is empty" in r.err, r.err
    r = cli("import", str(folder), env=cli_vault)
    assert r.code == 1 and "recognises this folder" in r.err and "this file" not in r.err, r.err
    doc = cli("import", str(empty), "--json", env=cli_vault).json()["files"][0]
    assert doc["error"] and set(doc) >= {"path", "format", "added", "problems", "notes", "tz"}  # FileReport's


def test_search_says_when_there_is_more(cli_vault: dict[str, str], tmp_path: Path) -> None:
    msgs = [_msg(i, f"quokka number {i}") for i in range(25)]
    assert cli("import", str(_export(tmp_path / "many.jsonl", msgs)), env=cli_vault).code == 0
    r = cli("search", "quokka", env=cli_vault)
    assert len(r.out.splitlines()) == 20
    assert "20 of 25 (newest first); --limit/--offset for more" in r.err
    r = cli("search", "quokka", "--offset", "20", "--limit", "3", "--sort", "oldest", env=cli_vault)
    assert "21-23 of 25 (oldest first)" in r.err
    assert "for more" not in cli("search", "quokka", "--limit", "25", env=cli_vault).err
    assert "for more" not in cli("search", "quokka", "--limit", "30", env=cli_vault).err
    assert (
        more_line(20, 0, 10_001, 10_000, "newest") == "20 of more than 10,000 (newest first); --limit/--offset for more"
    )


def test_count_matches_is_bounded(new_vault: Any, tmp_path: Path) -> None:
    msgs = [_msg(i, f"walrus {i}") for i in range(40)]
    new_vault.import_path(_export(tmp_path / "w.jsonl", msgs))
    assert new_vault.count_matches("walrus", cap=100) == 40
    assert new_vault.count_matches("walrus", cap=10) == 11  # "more than 10"
    assert new_vault.count_matches("nothing-like-it") == 0


def test_the_deletion_question_says_what_goes() -> None:
    rows = {
        1: {"id": "1", "chat_id": "7", "chat": "Family", "event": False, "ts": "2023-01-02T03:04:05Z",
            "sender": "Mei", "text": "see you at the station\x1b[2J", "kind": "text", "attachments": []},
        2: {"id": "2", "chat_id": "7", "chat": "Family", "event": True, "ts": "2023-01-02T03:05:00Z",
            "sender": None, "text": "Jon joined", "kind": "join", "attachments": []},
    }  # fmt: skip

    def fetch(ids: list[int]) -> list[Any]:
        return [rows[i] for i in ids]

    one = deletion_question(["1"], fetch, 0)
    assert one.startswith('Delete 1 message from "Family" for good?')
    assert "2023-01-02 03:04  Mei: see you at the station\\x1b[2J" in one
    both = deletion_question(["1", "2"], fetch, 3, chat_title="Family")
    assert both == 'Delete the chat "Family" with its 1 message and 1 event and 3 attachment files for good?'
    assert plural(1, "chat") == "1 chat" and plural(2, "chat") == "2 chats"
    counted = deletion_question(["1", "2"], lambda ids: [], 0, chat_title="Family", counts=(1200, 3))
    assert counted == 'Delete the chat "Family" with its 1200 messages and 3 events for good?'  # nothing read


def _term(env: dict[str, str], *args: str) -> Any:
    full = {**os.environ, **env, "PYTHONPATH": str(ROOT), "TERM": "xterm", "NO_COLOR": "1"}
    return pexpect.spawn(sys.executable, ["-m", "vault", *args], env=full, encoding="utf-8", timeout=60)


def test_cli_delete_asks_with_the_shells_word_and_says_what_goes(cli_vault: dict[str, str], tmp_path: Path) -> None:
    msgs = [_msg(0, "first words"), _msg(1, "second words")]
    assert cli("import", str(_export(tmp_path / "d.jsonl", msgs, title="Family")), env=cli_vault).code == 0
    t = _term(cli_vault, "delete", "--chat", "Family")
    t.expect('Delete the chat "Family" with its 2 messages for good\\?')
    t.expect("Type yes to delete, anything else keeps it: ")
    t.sendline("y")  # not the word: nothing goes
    t.expect(pexpect.EOF)
    t.close()
    assert t.exitstatus == 1
    ids = [h["id"] for h in cli("search", "words", "--json", env=cli_vault).json()]
    assert len(ids) == 2
    t = _term(cli_vault, "delete", "--message", ids[0])
    t.expect('Delete 1 message from "Family" for good\\?')
    t.expect("Mei Lin: second words")
    t.expect("Type yes")
    t.sendline("yes")
    t.expect("Deleted 1 message and 0 attachment files.")
    t.expect(pexpect.EOF)
    t.close()
    assert t.exitstatus == 0


@pytest.fixture
def shell(new_vault: Any, tmp_path: Path, vault_dir: Path) -> Any:
    from vault.shell import Shell

    msgs = [_msg(i, f"pelican {i}") for i in range(30)]
    new_vault.import_path(_export(tmp_path / "s.jsonl", msgs, title="Harbour"))
    screen = StringIO()
    with create_pipe_input() as inp:
        inp.close()  # confirmations read end-of-input: "no"
        sh = Shell(new_vault, path=vault_dir, input=inp, output=Vt100_Output(screen, lambda: Size(60, 100)))
        sh.screen = screen  # type: ignore[attr-defined]
        yield sh
        sh.close()


def test_shell_clear_clears_and_search_counts(shell: Any) -> None:
    shell.execute("pelican")
    out = shell.screen.getvalue()
    assert "of 30 (newest first); 'more'" in out, out[-400:]
    shell.screen.truncate(0)
    shell.execute("clear")
    assert "\x1b[2J" in shell.screen.getvalue() and "No messages match" not in shell.screen.getvalue()


def test_shell_delete_asks_what_goes(shell: Any) -> None:
    shell.execute("pelican")
    shell.screen.truncate(0)
    shell.execute("delete 1")
    out = shell.screen.getvalue()
    assert 'Delete 1 message from "Harbour" for good?' in out and "Nothing was deleted." in out


def test_html_pages_stream_through_the_templates() -> None:
    """jinja2's generate() pulls the rows as it writes: never a whole chat in memory (issue 16 item 5)."""
    from vault.operations.export import html

    log: list[str] = []

    class Sink:
        def write(self, b: bytes) -> None:
            log.append("write")

    def items() -> Any:
        for i in range(50):
            log.append("row")
            yield {"id": i, "iso": "", "full": "", "hm": "00:00", "date": "2023-01-01", "day": None, "event": True,
                   "text": f"<b>{i}</b>", "folded": ""}  # fmt: skip

    context = {"title": "t", "chat_title": "<i>t</i>", "meta": "", "up": None, "pager": None, "search_label": "s"}
    html._stream(Sink(), "chat.html.j2", **context, items=items(), fold_table=html.FoldTable())  # type: ignore[arg-type]
    first_row, last_row = log.index("row"), len(log) - 1 - log[::-1].index("row")
    assert "write" in log[first_row:last_row]  # written while rows were still coming
    assert log[0] == "write"
