"""Issue 17, items 2 and 5: new passphrases that are easy to guess are refused (zxcvbn), the
terminal prompt asks again instead of aborting and never echoes a character, and a hung
--passphrase-command is stopped after a documented timeout."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

import vault
from tests.conftest import PASSPHRASE, ROOT, cli
from vault.errors import PassphraseSourceError, UsageError
from vault.secret import (
    MIN_PASSPHRASE_SCORE,
    PASSPHRASE_COMMAND_TIMEOUT_S,
    Secret,
    SourceSpec,
    check_new_passphrase,
    passphrase_weakness,
    run_command,
    secret_from_sources,
)

WEAK = "password123"  # zxcvbn: "a very common password", score 0
STRONG = "ribbon tundra cobalt wharf"
CHEAP = ("--kdf-memory", "1", "--kdf-time", "1", "--kdf-parallelism", "1")


@pytest.mark.parametrize("weak", ["a", "p0", "third", WEAK, "talkvault2024", "aaaaaaaaaaaaaaaa"])
def test_weak_passphrases_are_named_weak(weak):
    reason = passphrase_weakness(Secret(weak))
    assert reason is not None and "too easy to guess" in reason and "random words" in reason
    assert "--allow-weak-passphrase" in reason
    if len(weak) > 3:
        assert weak not in reason


@pytest.mark.parametrize("strong", [PASSPHRASE, STRONG, "x7#Qm!29vLp@Zr", "w" * 40 + " ocean lamp fiddle " * 8])
def test_strong_passphrases_pass(strong):
    assert passphrase_weakness(Secret(strong)) is None
    check_new_passphrase(Secret(strong))


def test_the_demo_is_allowed_its_published_passphrase_explicitly():
    """The demo's passphrase is printed on screen, so it is weak by definition: the demo passes
    allow_weak_passphrase=True in its own library call (no switch anyone could set). That the demo
    still runs is test_shell.py::test_demo_opens_the_shell."""
    import inspect

    from vault.cli import demo

    assert passphrase_weakness(Secret(demo.DEMO_PASSPHRASE)) is not None
    assert "allow_weak_passphrase=True" in inspect.getsource(demo)


def test_library_refuses_a_weak_passphrase_unless_allowed(tmp_path, weak_kdf):
    with pytest.raises(UsageError, match="too easy to guess"):
        vault.create(tmp_path / "v", "a", kdf=weak_kdf, kdf_chosen=True)
    assert not (tmp_path / "v").exists()  # refused before anything was created
    with vault.create(tmp_path / "v", "a", kdf=weak_kdf, kdf_chosen=True, allow_weak_passphrase=True) as v:
        with pytest.raises(UsageError, match="too easy to guess"):
            v.set_passphrase("b", kdf=weak_kdf)
        v.set_passphrase(STRONG, kdf=weak_kdf)
    before = (tmp_path / "v" / "keyslots.json").read_bytes()
    with pytest.raises(UsageError, match="too easy to guess"):
        vault.core.change_passphrase(tmp_path / "v", "c", old=STRONG, kdf=weak_kdf)
    assert (tmp_path / "v" / "keyslots.json").read_bytes() == before


def test_init_and_passwd_refuse_a_weak_passphrase_and_say_why(tmp_path):
    vdir = tmp_path / "vault"
    env = {"TALKVAULT_DIR": str(vdir), "TALKVAULT_NEW_PASSPHRASE": WEAK}
    r = cli("init", *CHEAP, env=env)
    assert r.code == 2, r.err
    assert "too easy to guess" in r.err and "random words" in r.err and "--allow-weak-passphrase" in r.err
    assert WEAK not in r.err + r.out
    assert not vdir.exists()
    r = cli("init", *CHEAP, "--json", env={"TALKVAULT_DIR": str(vdir), "TALKVAULT_PASSPHRASE": "a"})
    assert r.code == 2 and not vdir.exists()
    # Insisting works, and the recovery key (random) is never judged.
    r = cli("init", *CHEAP, "--allow-weak-passphrase", "--json", env=env)
    assert r.code == 0, r.err
    rk = r.json()["recovery_key"]
    before = (vdir / "keyslots.json").read_bytes()
    opened = {"TALKVAULT_DIR": str(vdir), "TALKVAULT_PASSPHRASE": WEAK}
    r = cli("passwd", env={**opened, "TALKVAULT_NEW_PASSPHRASE": "qwerty"})
    assert r.code == 2 and "too easy to guess" in r.err and "qwerty" not in r.err
    assert (vdir / "keyslots.json").read_bytes() == before
    r = cli("passwd", "--json", env={**opened, "TALKVAULT_NEW_PASSPHRASE": STRONG})
    assert r.code == 0, r.err
    r = cli("passwd", "--recovery-key", env={**opened, "TALKVAULT_PASSPHRASE": rk, "TALKVAULT_NEW_PASSPHRASE": "b"})
    assert r.code == 2
    r = cli(
        "passwd",
        "--recovery-key",
        "--allow-weak-passphrase",
        env={**opened, "TALKVAULT_PASSPHRASE": rk, "TALKVAULT_NEW_PASSPHRASE": "b"},
    )
    assert r.code == 0, r.err
    assert cli("chats", env={**opened, "TALKVAULT_PASSPHRASE": "b"}).code == 0


def _answers(*typed: str):  # type: ignore[no-untyped-def]
    asked: list[str] = []
    it = iter(typed)

    def prompt(label: str) -> str:
        asked.append(label)
        return next(it)

    return prompt, asked


def test_the_prompt_asks_again_after_a_mismatch_or_a_weak_passphrase(capsys):
    prompt, asked = _answers(STRONG, "typo", "a", STRONG, STRONG)
    got = secret_from_sources(SourceSpec(), new=True, env={}, prompt=prompt, validate=check_new_passphrase)
    assert got.text() == STRONG
    assert asked == [
        "New passphrase: ",
        "Repeat the new passphrase: ",
        "New passphrase: ",
        "New passphrase: ",
        "Repeat the new passphrase: ",
    ]
    err = capsys.readouterr().err
    assert "differ" in err and "too easy to guess" in err and "typo" not in err and STRONG not in err
    prompt, _ = _answers(*["x1 y2 z3 w4 long enough", "no"] * 3)
    with pytest.raises(PassphraseSourceError, match="differed 3 times"):
        secret_from_sources(SourceSpec(), new=True, env={}, prompt=prompt)


def test_a_weak_passphrase_from_a_source_is_an_error_not_a_question():
    with pytest.raises(UsageError, match="too easy to guess"):
        secret_from_sources(
            SourceSpec(), new=True, env={"TALKVAULT_NEW_PASSPHRASE": "a"}, validate=check_new_passphrase
        )


def test_init_on_a_terminal_asks_again_and_echoes_nothing(tmp_path):
    """Through a real pseudo-terminal: a mismatch and a weak passphrase are asked again; nothing
    the person types appears on the screen, not even a '*' per character."""
    pexpect = pytest.importorskip("pexpect")
    vdir = tmp_path / "vault"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TALKVAULT_DIR": str(vdir)}
    child = pexpect.spawn(sys.executable, ["-m", "vault", "init", *CHEAP], env=env, timeout=90, encoding="utf-8")
    screen = io.StringIO()
    child.logfile_read = screen
    try:
        for wait_for, typed in (
            ("New passphrase: ", STRONG),
            ("Repeat the new passphrase: ", "typo"),
            ("differ", None),
            ("New passphrase: ", "a"),
            ("too easy to guess", None),
            ("New passphrase: ", STRONG),
            ("Repeat the new passphrase: ", STRONG),
        ):
            child.expect_exact(wait_for)
            if typed is not None:
                child.sendline(typed)
        child.expect(pexpect.EOF)
    finally:
        child.close()
    text = screen.getvalue()
    assert child.exitstatus == 0, text
    assert "recovery key" in text
    assert "*" not in text and STRONG not in text and "typo" not in text
    assert json.loads((vdir / "keyslots.json").read_text())["slots"]


def test_a_hung_passphrase_command_is_stopped_with_its_children(tmp_path):
    pidfile = tmp_path / "pid"
    cmd = f"sh -c 'sleep 300 & echo $! > {pidfile}; wait'"
    start = time.monotonic()
    with pytest.raises(PassphraseSourceError, match=r"did not finish within 1\.5 seconds") as exc:
        run_command(cmd, timeout=1.5)
    assert time.monotonic() - start < 10
    assert "sleep" not in str(exc.value)
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            break
        if state in ("Z", "X"):
            break
        time.sleep(0.05)
    else:
        pytest.fail("the passphrase command's child still runs")


def test_a_quick_passphrase_command_still_works():
    assert run_command(f"{sys.executable} -c \"print('from a helper')\"").text() == "from a helper"


def test_docs_state_the_policy_numbers_the_code_uses():
    cli_doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    sec_doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert f"after {PASSPHRASE_COMMAND_TIMEOUT_S:g} seconds" in cli_doc
    assert "--allow-weak-passphrase" in cli_doc
    assert re.search(rf"zxcvbn score below {MIN_PASSPHRASE_SCORE}\b", sec_doc)
    assert re.search(rf"zxcvbn score below {MIN_PASSPHRASE_SCORE}\b", cli_doc)
