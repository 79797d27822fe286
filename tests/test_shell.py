"""`talkvault shell` driven for real: through a pseudo-terminal (pexpect) as a person types, and in
process with a real vault for what a terminal cannot time (Ctrl-C during a running query, a flood
of bad input). Afterwards no file under HOME, the temp dirs or the vault folder holds a searched
word, and no history file exists."""

from __future__ import annotations

import os
import re
import signal
import sys
import threading
import time
from io import StringIO
from pathlib import Path

import pexpect
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prompt_toolkit.data_structures import Size
from prompt_toolkit.input import create_pipe_input
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.utils import get_cwidth

from tests import forensics
from tests.conftest import PASSPHRASE, ROOT, cli, tg_export, tg_msg
from vault.shell import Shell
from vault.shell.commands import REGISTRY, Command

LATIN = "quokkasunrise"  # canaries: searched for, shown, and never to be found in a file
CJK = "燈塔秘密"
DOOMED = "zebrafinchdoomed"
LONG_TAIL = "pelicanending"
CHAT = "Harbour notes"
DAY = 6 * 3600  # messages are six hours apart: four a day
T0 = 1_700_000_000  # 2023-11-14T22:13:20Z

SGR = re.compile(r"\x1b\[[0-9;]*m")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]|\x08")
PROMPT = re.compile(r"\ntalkvault[^\n>]*>\s*$")


def messages() -> list[dict]:
    msgs = [tg_msg(i, f"filler line {i}", ts=T0 + i * DAY - i, sender="Ana" if i % 2 else "Mei") for i in range(1, 41)]
    msgs[18]["text"] = "context before the hit"
    msgs[19]["text"] = f"meet at the {LATIN} pier at six"
    msgs[20]["text"] = "context after the hit"
    msgs[29]["text"] = f"中文{CJK}結尾"
    msgs[34]["text"] = f"please forget {DOOMED} forever"
    msgs[36]["text"] = "long " * 40 + LONG_TAIL
    return msgs


@pytest.fixture
def shell_env(cli_vault: dict[str, str], tmp_path: Path) -> dict[str, str]:
    export = tg_export(tmp_path / "exports" / "result.json", messages(), name=CHAT)
    r = cli("import", str(export), env=cli_vault)
    assert r.code == 0, r.err
    env = dict(os.environ)
    env.update(cli_vault)
    env.pop("TALKVAULT_PASSPHRASE")  # the shell asks, as it does for a person
    env.pop("RECOVERY_KEY")
    env.update(
        PYTHONPATH=str(ROOT),
        TERM="xterm-256color",
        TZ="UTC",
        # pexpect is a terminal that does not answer cursor-position requests.
        PROMPT_TOOLKIT_NO_CPR="1",
        COLUMNS="",
        LINES="",
    )
    return env


class Term:
    """A pseudo-terminal running talkvault, read as a person reads it (escape codes stripped)."""

    def __init__(self, env: dict[str, str], *args: str, rows: int = 24, cols: int = 80) -> None:
        self.child = pexpect.spawn(
            sys.executable, ["-m", "vault", *args], env=env, dimensions=(rows, cols), encoding="utf-8", timeout=30
        )
        self.raw = ""
        self.mark = 0

    def text(self, start: int = 0) -> str:
        return ANSI.sub("", self.raw[start:]).replace("\r", "")

    def expect(self, pattern: str | re.Pattern[str], timeout: float = 30) -> str:
        """Read until `pattern` appears in what came since the last expect; return that text."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, self.text(self.mark)):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out waiting for {pattern!r}; screen so far:\n{self.text(self.mark)}")
            try:
                self.raw += self.child.read_nonblocking(65536, timeout=left)
            except pexpect.TIMEOUT:
                continue
        seen = self.text(self.mark)
        self.mark = len(self.raw)
        return seen

    def run(self, line: str) -> str:
        """Type a line and Enter; return what it printed before the next prompt."""
        self.child.send(line + "\r")
        seen = self.expect(PROMPT)
        return seen.split("\n", 1)[1].rsplit("\ntalkvault", 1)[0] if "\n" in seen else ""

    def unlock(self, passphrase: str = PASSPHRASE) -> str:
        self.expect("Passphrase:")
        self.child.send(passphrase + "\r")
        return self.expect(PROMPT)

    def finish(self) -> int:
        self.raw += self.child.read()  # to EOF
        self.child.close()
        return int(self.child.exitstatus if self.child.exitstatus is not None else -1)

    def open_files(self) -> list[str]:
        fd_dir = Path(f"/proc/{self.child.pid}/fd")
        return [os.readlink(p) for p in fd_dir.iterdir() if p.is_symlink()]


def scan(roots: list[Path], needles: list[bytes], skip: Path) -> list[str]:
    hits = []
    for root in roots:
        for f in root.rglob("*"):
            if f.is_file() and not f.is_symlink() and skip not in f.parents:
                data = f.read_bytes()
                hits += [f"{f}: {n!r}" for n in needles if n in data]
    return hits


def numbers(text: str) -> list[int]:
    """The numbers of the filler messages on screen."""
    return [int(n) for n in re.findall(r"filler line (\d+)", text)]


def width(line: str) -> int:
    return sum(get_cwidth(ch) for ch in line)


def test_a_session_in_80x24(shell_env, hermetic, tmp_path, vault_dir, cli_vault):
    t = Term({**shell_env, "NO_COLOR": "1"}, "shell")
    welcome = t.unlock()
    assert "40 messages in 1 chat." in welcome

    out = t.run(LATIN)  # a search: date, sender, chat, text
    assert re.search(rf"  1  2023-11-\d\d \d\d:\d\d  Mei  {CHAT}\n +meet at the {LATIN} pier", out), out
    assert "1 of 1" in out
    out = t.run(CJK[1:3])  # any substring of CJK text
    assert re.search(rf"  1  2023-11-\d\d \d\d:\d\d  Mei  {CHAT}\n +中文{CJK}結尾", out), out

    assert f"meet at the {LATIN} pier" in t.run(f"search {LATIN}")
    out = t.run("open 1")  # the hit in its chat, with what was said around it
    assert CHAT in out.split("\n")[0]
    lines = out.split("\n")
    at = next(i for i, x in enumerate(lines) if LATIN in x)
    assert lines[at].startswith(">")  # the hit is marked
    assert any("context before the hit" in x for x in lines[:at])
    assert any("context after the hit" in x for x in lines[at:])
    assert all(width(x) < 80 for x in lines), lines
    up = t.run("up")  # older messages, up to the first one shown
    assert LATIN not in up and max(numbers(up)) == min(numbers(out)) - 1 and 1 in numbers(up)
    t.child.send("\x1b[5~")  # PageUp
    assert "This is the start of the chat." in t.expect(PROMPT)
    down = t.run("down")
    assert min(numbers(down)) > 1
    day = t.run("date 2023-11-24")
    assert re.search(r"── 2023-11-24, Friday", day), day
    end = t.run("date 2031-01-01")
    assert "No messages on or after 2031-01-01" in end and LONG_TAIL in end

    assert numbers(t.run("filler")) == [40, 39, 38, 36, 34, 33, 32]  # newest first, a page that fits
    more = t.run("more")
    assert numbers(more) == [31, 29, 28, 27, 26, 25, 24] and "  8  2023" in more
    t.child.send("\x1b[6~")  # PageDown with no chat open: the next page
    assert "15  " in t.expect(PROMPT)

    target = tmp_path / "exports" / "harbour.txt"
    done = t.run(f'export "{CHAT}" --format txt --out {target}')
    flat = re.sub(r"\s+", "", done)  # long paths wrap at 80 columns
    assert f"Exported40messagesastxt:{target}" in flat and "plaintext,notencrypted" in flat
    assert LATIN in target.read_text(encoding="utf-8")
    refused = t.run(f"export {CHAT[:4]} --format txt --out {target}")  # part of a title will do
    assert "\nerror: " in refused and "exportneveroverwrites" in re.sub(r"\s+", "", refused)

    listed = t.run("chats")
    assert CHAT in listed and "telegram" in listed
    assert "40 messages" in t.run("stats")
    t.child.send("help\r")  # longer than the screen: the pager
    first = t.expect(r"-- \d+ more lines?: space for more, q to stop --")
    assert "open N" in first and "Keys" not in first
    t.child.send(" ")
    rest = t.expect(PROMPT)
    assert "Ctrl-D" in rest

    # Bad input of every kind: one line each, and the shell goes on.
    assert t.run("open 99").strip().startswith("error: no result 99")
    assert t.run("open x").strip().startswith("error: open takes a result number")
    assert t.run("date").strip().startswith("error:")
    assert t.run("chat nosuchchat").strip() == "error: no such chat; 'chats' lists them with their ids"
    assert "No messages match" in t.run('"(((  -) OR')
    t.child.send("half typed")
    t.child.send("\x03")  # Ctrl-C clears the line, the shell stays
    t.expect(PROMPT)

    # Delete with confirmation: anything but yes keeps it.
    out = t.run(DOOMED)
    assert DOOMED in out
    t.child.send("delete 1\r")
    assert DOOMED in t.expect("Type yes to delete, anything else keeps it:")
    assert "Nothing was deleted." in t.run("y")
    assert DOOMED in t.run(DOOMED)
    t.child.send("delete 1\r")
    t.expect("Type yes to delete")
    assert "Deleted 1 message for good." in t.run("yes")
    assert "No messages match" in t.run(DOOMED)
    assert "1  " in t.run(LATIN)

    t.child.sendeof()  # Ctrl-D leaves
    assert t.finish() == 0
    assert not SGR.search(t.raw)  # NO_COLOR: not one style sent

    key = cli("export-key", "--json", env=cli_vault).json()["key"]
    assert forensics.find(vault_dir, bytes.fromhex(key), [DOOMED.encode()]) == []
    needles = [w.encode(e) for w in (LATIN, CJK, DOOMED, "燈塔") for e in ("utf-8", "utf-16-le")]
    assert scan([hermetic, tmp_path], needles, skip=tmp_path / "exports") == []
    assert not [p for p in hermetic.rglob("*") if p.is_file()]  # nothing written under HOME or TMPDIR
    assert not list(tmp_path.rglob("*histor*"))


def test_idle_lock_drops_the_key_and_asks_again(shell_env):
    t = Term(shell_env, "shell", "--lock-after", "0.04")  # 2.4 seconds
    t.unlock()
    assert any(p.endswith("vault.db") for p in t.open_files())
    seen = t.expect("Passphrase to unlock:")  # nobody types: it locks
    assert "The vault is locked" in seen
    assert "\x1b[2J" in t.raw and "\x1b[3J" in t.raw  # screen and scrollback cleared
    assert not any(p.endswith("vault.db") for p in t.open_files())  # the vault is closed, its key wiped
    t.child.send("\r")  # an empty line is not a try
    t.child.send("not it\r")
    t.expect("wrong passphrase; 2 tries left\n")
    t.child.send(PASSPHRASE + "\r")
    assert "Unlocked." in t.expect(PROMPT)
    t.child.send(LATIN + "\r")
    t.expect(LATIN + " pier")
    assert any(p.endswith("vault.db") for p in t.open_files())
    t.expect("Passphrase to unlock:")  # idle again
    for attempt in range(3):
        t.child.send(f"wrong {attempt}\r")
    t.expect("3 wrong passphrases; the shell closed and the vault stays locked")
    assert t.finish() == 3


def test_colour_highlights_and_a_wide_terminal(shell_env):
    t = Term(shell_env, "shell", rows=40, cols=200)
    t.unlock()
    t.child.send(LONG_TAIL + "\r")
    t.expect(PROMPT)
    assert re.search(r"\x1b\[[0-9;]*m" + LONG_TAIL, t.raw)  # the match in its own style
    t.child.send("lock\r")  # lock on request
    t.expect("Passphrase to unlock:")
    t.child.send(PASSPHRASE + "\r")
    t.expect(PROMPT)
    t.child.send("long\r")
    out = t.expect(PROMPT)
    assert "long " * 30 in out  # 200 columns: far more of the text than 80 would show
    t.child.sendeof()
    assert t.finish() == 0


def test_demo_opens_the_shell(hermetic):
    t = Term(
        {**os.environ, "PYTHONPATH": str(ROOT), "TERM": "xterm", "PROMPT_TOOLKIT_NO_CPR": "1", "TZ": "UTC"}, "demo"
    )
    t.expect(PROMPT)
    t.child.send("東京\r")
    assert "東京タワー" in t.expect(PROMPT)
    t.child.sendeof()
    assert t.finish() == 0
    assert not [p for p in hermetic.rglob("*") if p.is_file()]  # the throwaway vault is gone


def test_the_shell_needs_a_terminal(cli_vault):
    r = cli("shell", env=cli_vault)
    assert r.code == 2 and "needs a terminal" in r.err


# -- in process: the shell over a real vault ---------------------------------------------------------
@pytest.fixture
def shell(new_vault, tmp_path, vault_dir):
    new_vault.import_path(tg_export(tmp_path / "exports" / "result.json", messages(), name=CHAT))
    screen = StringIO()
    with create_pipe_input() as inp:
        inp.close()  # no one answers: confirmations read end-of-input, which is "no"
        sh = Shell(new_vault, path=vault_dir, input=inp, output=Vt100_Output(screen, lambda: Size(24, 80)))
        sh.screen = screen  # type: ignore[attr-defined]
        yield sh
        sh.close()


def test_history_lives_in_memory_and_the_passphrase_prompt_has_none(shell):
    from prompt_toolkit.history import DummyHistory, InMemoryHistory

    assert type(shell.session.history) is InMemoryHistory
    assert type(shell._secret_session.history) is DummyHistory
    assert type(shell._confirm_session.history) is DummyHistory


def test_ctrl_c_cancels_a_running_query_and_keeps_the_shell(shell, monkeypatch):
    started = threading.Event()
    outcome: dict[str, str] = {}

    def endless(v):  # a query that would run for hours unless interrupted
        v.conn.create_function("started", 1, lambda x: started.set() or 1)
        try:
            return v.conn.execute(
                "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1e15)"
                " SELECT count(*) FROM c WHERE started(x)"
            ).fetchone()
        except Exception as exc:
            outcome["error"] = str(exc)
            raise

    def handler(sh, arg):
        return sh.call(endless)

    monkeypatch.setitem(REGISTRY, "endless", Command("endless", "endless", "test", handler))
    main = threading.get_ident()

    def press_ctrl_c():
        assert started.wait(30)
        signal.pthread_kill(main, signal.SIGINT)

    presser = threading.Thread(target=press_ctrl_c)
    presser.start()
    assert shell.execute("endless") is None
    presser.join()
    assert "interrupted" in outcome["error"]  # the statement itself was stopped
    assert "Cancelled." in shell.screen.getvalue()
    shell.execute(LATIN)  # and the same connection serves the next search
    assert f"meet at the {LATIN}" in SGR.sub("", shell.screen.getvalue())


# Any text, digits of every script included ("²" is a digit to str.isdigit, not to int()).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
WORDS = ["open", "delete", "chat", "query", "date", "sort", "more", "up", "down", "help", "chats", "stats", "search"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    st.lists(
        st.one_of(
            TEXT,
            st.tuples(st.sampled_from(WORDS), TEXT).map(" ".join),
            st.tuples(st.sampled_from(["delete", "delete chat", "delete query", "open"]), st.integers(-3, 60)).map(
                lambda t: f"{t[0]} {t[1]}"
            ),
            st.sampled_from([LATIN, "filler", f"in:{CHAT[:4]}", "-filler", 'from:"Ana', "date 2023-11-20"]),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_no_input_crashes_the_shell_and_nothing_is_deleted_unasked(shell, lines):
    shell.screen.seek(0)
    shell.screen.truncate()
    for line in lines:
        assert shell.execute(line) in (None, "leave", "lock")
    assert shell.call(lambda v: v.counts())["messages"] == 40
    text = SGR.sub("", shell.screen.getvalue())
    assert "internal error" not in text and "Traceback" not in text
