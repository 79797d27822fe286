"""Message data never drives the terminal (issue 17 item 1), end to end and function by function.

A JSONL export whose text, chat title, sender, attachment names and file name carry OSC 0/8/52,
ESC[2J, CR + ESC[K, C1 controls and bidi overrides is imported through the CLI; `search`, `show`,
`chats`, `stats` then run through a pseudo-terminal (colour on) and through a pipe, and none of
those raw bytes reaches either. `--json` keeps them escaped.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pexpect
import pytest

from tests.conftest import ROOT, cli
from vault.display import clean, is_safe, message_label, one_line, safe

OSC0 = "\x1b]0;pwned title\x07"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click me\x1b]8;;\x1b\\"
OSC52 = "\x1b]52;c;cm0gLXJmIH4K\x07"
CLEAR = "\x1b[2J"
OVERWRITE = "\r\x1b[K"
C1 = "\x9b31m\x9d0;c1 title\x9c\x85"
BIDI = "\u202eevil\u202c \u2066iso\u2069 \u202a\u202b\u202d\u2067\u2068"
HOSTILE = OSC0 + OSC8 + OSC52 + CLEAR + OVERWRITE + C1 + BIDI

# What must never come out raw: every control character and bidi control above, as UTF-8 bytes.
FORBIDDEN = sorted({ch for ch in HOSTILE if not ch.isprintable()})
assert {"\x1b", "\x07", "\r", "\x9b", "\u202e", "\u2066"} <= set(FORBIDDEN)
SGR = re.compile(rb"\x1b\[[0-9;]*m")  # talkvault's own colours on a terminal: the only escapes allowed


def _export(folder: Path) -> Path:
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "evil", "key": "c1", "title": "Chat " + HOSTILE, "kind": "group"},
        {
            "type": "message",
            "chat": "c1",
            "ts": "2023-03-14T09:06:00Z",
            "sender": "Mallory " + HOSTILE,
            "text": "canarytext " + HOSTILE + " end",
            "id": "m1",
        },
        {
            "type": "message",
            "chat": "c1",
            "ts": "2023-03-14T09:07:00Z",
            "sender": "Mallory " + HOSTILE,
            "text": "",
            "kind": "image",
            "id": "m2",
            "attachments": [{"name": "IMG" + HOSTILE + ".jpg", "kind": "image", "path": "missing.jpg"}],
        },
        {
            "type": "message",
            "chat": "c1",
            "ts": "2023-03-14T09:08:00Z",
            "sender": "Eve",
            "text": "canarytext with a file",
            "id": "m3",
            "attachments": [{"name": "doc" + HOSTILE + ".pdf", "kind": "file", "path": "nope.pdf"}],
        },
        {"type": "event", "chat": "c1", "ts": "2023-03-14T09:09:00Z", "text": "joined " + HOSTILE, "kind": "join"},
    ]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"export{OSC0}{C1[:4]}\u202e.jsonl"  # the file name is data too
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n", encoding="utf-8")
    return path


def _raw_offenders(data: bytes, *, terminal: bool) -> list[str]:
    if terminal:
        data = SGR.sub(b"", data).replace(b"\r\n", b"\n")  # a pty turns \n into \r\n
    text = data.decode("utf-8", "replace")
    return [repr(ch) for ch in FORBIDDEN if ch in text]


@pytest.fixture
def evil_vault(cli_vault: dict[str, str], tmp_path: Path) -> dict[str, str]:
    path = _export(tmp_path / "in")
    r = cli("import", str(path), env=cli_vault)
    assert r.code == 0, r.err
    for stream in (r.out, r.err):
        assert not _raw_offenders(stream.encode(), terminal=False), stream
    assert "\\x1b]0;pwned title\\x07" in r.out  # the file name is shown, escaped
    return cli_vault


COMMANDS = (("search", "canarytext"), ("show", "1"), ("chats",), ("stats",), ("search", "from:Mallory"))


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a))
def test_hostile_data_through_a_pipe_is_shown_escaped(evil_vault: dict[str, str], args: tuple[str, ...]) -> None:
    r = cli(*args, env=evil_vault)
    assert r.code == 0, r.err
    assert not _raw_offenders(r.out.encode(), terminal=False), r.out
    assert not _raw_offenders(r.err.encode(), terminal=False), r.err
    assert "\\x1b" in r.out and "\\u202e" in r.out  # visible, not dropped


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: "-".join(a))
def test_hostile_data_on_a_terminal_is_shown_escaped(evil_vault: dict[str, str], args: tuple[str, ...]) -> None:
    env = {**os.environ, **evil_vault, "PYTHONPATH": str(ROOT), "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(sys.executable, ["-m", "vault", *args], env=env, dimensions=(40, 200), timeout=60)
    out = child.read()
    child.close()
    assert child.exitstatus == 0, out
    assert not _raw_offenders(out, terminal=True), out
    assert b"\\x1b" in out


def test_show_labels_the_message_without_text_and_its_missing_file(evil_vault: dict[str, str]) -> None:
    out = cli("show", "1", env=evil_vault).out
    assert "[image: IMG\\x1b]0;pwned title\\x07" in out and ", not in the export]" in out
    assert "[file: doc\\x1b]0;" in out  # an attachment beside text is labelled the same way


def test_json_keeps_every_control_character_escaped(evil_vault: dict[str, str]) -> None:
    for args in (("search", "canarytext"), ("show", "1"), ("chats",), ("stats",)):
        r = cli(*args, "--json", env=evil_vault)
        assert r.code == 0, r.err
        assert not _raw_offenders(r.out.encode(), terminal=False), r.out
        assert HOSTILE in _strings(r.json())  # and nothing was lost


def _strings(doc: object) -> str:
    if isinstance(doc, dict):
        return "\n".join(_strings(v) for v in doc.values())
    if isinstance(doc, list):
        return "\n".join(_strings(v) for v in doc)
    return doc if isinstance(doc, str) else ""


def test_an_error_naming_a_hostile_file_is_escaped(cli_vault: dict[str, str], tmp_path: Path) -> None:
    bad = tmp_path / f"x{OSC52}{CLEAR}.jsonl"
    bad.write_text('{"type": "talkvault", "version": 1}\n{"type": "chat", "source": 1}\n', encoding="utf-8")
    r = cli("import", str(bad), str(tmp_path / f"gone{OSC0}.txt"), env=cli_vault)
    assert r.code != 0
    assert "x\\x1b]52" in r.err + r.out
    assert not _raw_offenders((r.out + r.err).encode(), terminal=False), r.err


# -- the one function --------------------------------------------------------------------------------
def test_safe_makes_every_control_visible_and_keeps_the_rest() -> None:
    out = safe(HOSTILE)
    assert is_safe(out) and not is_safe(HOSTILE)
    assert out.startswith("\\x1b]0;pwned title\\x07")
    assert "\\u202e" in out and "\\x9b" in out and "\\x0d" in out
    assert safe("line one\r\nline two\tend") == "line one\nline two end"
    assert one_line("a\nb\u2028c") == "a b c"
    kept = "簽約 مرحبا\u200f שלום café 👍🏽"  # real text, RLM included, is untouched
    assert safe(kept) == kept
    text, spans = clean("\x1b[2Jfind me", [(4, 8)])
    assert text[spans[0][0] : spans[0][1]] == "find"


@pytest.mark.parametrize(
    ("kind", "attachments", "label"),
    [
        ("deleted", [], "[deleted]"),
        ("image", [("IMG-001.jpg", "image", False)], "[image: IMG-001.jpg, not in the export]"),
        ("image", [("IMG-001.jpg", "image", True)], "[image: IMG-001.jpg]"),
        ("sticker", [], "[sticker]"),
        ("audio", [], "[voice message]"),
        ("media", [], "[media, not in the export]"),
        ("file", [("a\x1b[2J.pdf", "file", True)], "[file: a\\x1b[2J.pdf]"),
    ],
)
def test_message_label(kind: str, attachments: list[tuple[str, str, bool]], label: str) -> None:
    assert message_label(kind, attachments) == label


def test_watch_log_lines_escape_file_names() -> None:
    from vault.watch import WatchEvent

    for event in (
        WatchEvent("imported", path="in/" + HOSTILE + ".zip", doc={"format": "whatsapp", "added": 1}),
        WatchEvent("failed", path=HOSTILE, reason="cannot read " + OSC52),
        WatchEvent("watching", dirs=[HOSTILE]),
    ):
        line = event.line()
        assert is_safe(line) and "\n" not in line and "\\x1b]" in line, line
