"""Issue 17, item 2: the shell's unlock prompt echoes nothing while the passphrase is typed, not a
'*' per character (which would tell an onlooker its length). The CLI's prompts use getpass, which
turns echo off (tests/test_passphrase_policy.py::test_init_on_a_terminal_asks_again_and_echoes_nothing)."""

from __future__ import annotations

import time

import pexpect

from tests.conftest import PASSPHRASE
from tests.test_shell import PROMPT, Term, shell_env  # noqa: F401  (shell_env is a fixture)


def test_the_unlock_prompt_shows_nothing_per_character(shell_env):  # noqa: F811
    t = Term(shell_env, "shell")
    t.unlock()
    t.child.send("lock\r")
    t.expect("Passphrase to unlock:")
    for ch in PASSPHRASE:  # typed one key at a time, as a person types
        t.child.send(ch)
        time.sleep(0.01)
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        try:
            t.raw += t.child.read_nonblocking(65536, timeout=0.2)
        except pexpect.TIMEOUT:
            continue
    typed_screen = t.text(t.mark)
    assert "*" not in typed_screen and PASSPHRASE not in typed_screen and "horse" not in typed_screen
    t.child.send("\r")
    assert "Unlocked." in t.expect(PROMPT)
    t.child.sendeof()
    assert t.finish() == 0
