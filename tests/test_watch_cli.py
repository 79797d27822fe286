"""`talkvault watch` as a person (or systemd, or cron) runs it: real processes, signals, kill -9.

kill -9 in the middle of an import leaves the vault whole and the next start completes it with
exact counts; SIGTERM lets the current import finish; a search loop in another process sees no
error while the watcher imports; `--once --json` prints exactly the import command's object; the
watcher never prompts; a writer holding the vault past --wait means exit 5; no message text in
the logs or in any file outside the vault.
"""

from __future__ import annotations

import json
import os
import plistlib
import queue
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import vault
from tests.conftest import PASSPHRASE, ROOT, cli, tg_msg
from tests.test_watch import CANARY, NEEDLES, jsonl_text, scan_for, tg_bytes, wa_text, wa_zip


@pytest.fixture(autouse=True)
def no_leaked_threads() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert not leaked, f"threads left running: {leaked}"


def big_telegram(n: int, chat_id: int) -> bytes:
    doc = {
        "name": "Big",
        "type": "personal_chat",
        "id": chat_id,
        "messages": [tg_msg(i, f"{CANARY} long history {i}") for i in range(1, n + 1)],
    }
    return json.dumps(doc, ensure_ascii=False).encode()


def child_env(env: dict[str, str]) -> dict[str, str]:
    full = dict(os.environ)
    full.update(env)
    full.setdefault("PYTHONPATH", str(ROOT))
    return full


class Child:
    """A child process whose stdout lines are read on a thread (joined when the child ends)."""

    def __init__(self, argv: list[str], env: dict[str, str], stderr: Path) -> None:
        self.stderr_path = stderr
        self._err = open(stderr, "wb")  # noqa: SIM115 - closed in close()
        self.p = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=self._err, stdin=subprocess.DEVNULL, env=child_env(env), text=True
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, name="test-child-stdout")
        self._reader.start()

    def _read(self) -> None:
        assert self.p.stdout is not None
        for line in self.p.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def wait_for(self, done: Callable[[list[str]], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not done(self.lines):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"timed out; output so far: {self.lines}; stderr: {self.stderr()}")
            try:
                line = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"the process ended ({self.p.wait()}); output: {self.lines}; {self.stderr()}")
            self.lines.append(line)

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]

    def stderr(self) -> str:
        if not self._err.closed:
            self._err.flush()
        return self.stderr_path.read_text()

    def finish(self, timeout: float = 60) -> int:
        rc = self.p.wait(timeout=timeout)
        self._reader.join(timeout=timeout)
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        return rc

    def close(self) -> None:
        if self.p.poll() is None:
            self.p.kill()
        self.finish()
        assert self.p.stdout is not None
        self.p.stdout.close()
        self._err.close()

    def __enter__(self) -> Child:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def watcher(args: list[str], env: dict[str, str], tmp_path: Path, name: str = "watch") -> Child:
    return Child([sys.executable, "-m", "vault", "watch", *args], env, tmp_path / f"{name}.stderr")


def has_event(kind: str, path: Path | None = None) -> Callable[[list[str]], bool]:
    def check(lines: list[str]) -> bool:
        for line in lines:
            e = json.loads(line)
            if e["event"] == kind and (path is None or e.get("path") == str(path)):
                return True
        return False

    return check


def await_file(path: Path, timeout: float = 20) -> None:
    """Wait for a file the child creates (a bounded poll: there is nothing else to wait on)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.002)


def open_vault(vault_dir: Path) -> vault.Vault:
    return vault.open(vault_dir, PASSPHRASE)


# -- crashes and signals ---------------------------------------------------------------------------------
def test_kill_9_mid_import_then_the_next_start_completes_it(
    cli_vault: dict[str, str], tmp_path: Path, vault_dir: Path
) -> None:
    n = 15_000
    drop = tmp_path / "drop"
    drop.mkdir()
    staged = tmp_path / "staged.json"
    staged.write_bytes(big_telegram(n, 9001))
    big = drop / "big.json"
    journal = vault_dir / "vault.db-journal"
    with watcher(["--json", "--settle", "0.2", str(drop)], cli_vault, tmp_path) as w:
        w.wait_for(has_event("watching"))
        os.rename(staged, big)  # it lands whole
        w.wait_for(has_event("importing", big))
        await_file(journal)  # inside the import's transaction
        w.p.send_signal(signal.SIGKILL)
        assert w.finish() == -signal.SIGKILL
    assert not has_event("imported")(w.lines)
    assert journal.exists()  # killed mid-transaction: SQLite's hot journal is left for the next open

    r = cli("check", "--json", env=cli_vault)
    assert r.code == 0 and r.json()["ok"] is True and r.json()["messages"] == 0  # nothing half-imported
    with open_vault(vault_dir) as v:
        assert v.conn.execute("SELECT count(*) FROM imports").fetchone()[0] == 0  # not even 'running'

    r = cli("watch", "--once", "--json", "--settle", "0", str(drop), env=cli_vault)
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["added"] == n and [f["path"] for f in doc["files"]] == [str(big)]
    assert doc["files"][0]["added"] == n and doc["files"][0]["duplicates"] == 0
    r = cli("check", "--json", env=cli_vault)
    assert r.json() == {**r.json(), "ok": True, "messages": n}
    assert not journal.exists()
    # And once more: the same bytes are recognised, nothing is read or added.
    r = cli("watch", "--once", "--json", "--settle", "0", str(drop), env=cli_vault)
    assert r.code == 0 and r.json()["files"] == [] and r.json()["added"] == 0


def test_sigterm_lets_the_current_import_finish(cli_vault: dict[str, str], tmp_path: Path, vault_dir: Path) -> None:
    n = 10_000
    drop = tmp_path / "drop"
    drop.mkdir()
    staged = tmp_path / "staged.json"
    staged.write_bytes(big_telegram(n, 9002))
    big = drop / "big.json"
    journal = vault_dir / "vault.db-journal"
    with watcher(["--settle", "0.2", str(drop)], cli_vault, tmp_path) as w:  # text lines on stderr
        os.rename(staged, big)
        await_file(journal)  # the import has begun
        w.p.send_signal(signal.SIGTERM)
        assert w.finish() == 0
    err = w.stderr()
    assert f"imported {big} (telegram): {n} added, 0 duplicates" in err
    assert err.rstrip().endswith(f"stopped: 1 imported, 0 failed, {n} added")
    assert w.lines == []  # nothing on stdout without --json
    assert not journal.exists()
    r = cli("check", "--json", env=cli_vault)
    assert r.json()["ok"] is True and r.json()["messages"] == n


def test_a_second_signal_abandons_the_import_and_rolls_it_back(
    cli_vault: dict[str, str], tmp_path: Path, vault_dir: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    staged = tmp_path / "staged.json"
    staged.write_bytes(big_telegram(10_000, 9003))
    journal = vault_dir / "vault.db-journal"
    with watcher(["--json", "--settle", "0.2", str(drop)], cli_vault, tmp_path) as w:
        w.wait_for(has_event("watching"))
        os.rename(staged, drop / "big.json")
        await_file(journal)
        w.p.send_signal(signal.SIGTERM)  # both pending together: one stops, the other abandons
        w.p.send_signal(signal.SIGINT)
        rc = w.finish()
        assert rc == 130, w.stderr()
    assert "the import in progress was rolled back" in w.stderr() and "Traceback" not in w.stderr()
    assert not has_event("imported")(w.lines)
    r = cli("check", "--json", env=cli_vault)
    assert r.json()["ok"] is True and r.json()["messages"] == 0


def test_sigint_while_idle_stops_cleanly(cli_vault: dict[str, str], tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    with watcher(["--json", str(drop)], cli_vault, tmp_path) as w:
        w.wait_for(has_event("watching"))
        w.p.send_signal(signal.SIGINT)
        assert w.finish() == 0
    assert [e["event"] for e in w.events()] == ["watching", "stopped"]


# -- beside the shell ----------------------------------------------------------------------------------
SEARCH_LOOP = textwrap.dedent(
    """
    import json, os, sys
    import vault
    stop = sys.argv[2]
    errors, n, seen = [], 0, None
    with vault.open(sys.argv[1], os.environ["TALKVAULT_PASSPHRASE"], busy_timeout_ms=30000) as v:
        while not os.path.exists(stop):
            try:
                hits = len(v.search("beacon", limit=100000))
                v.chats()
                n += 1
            except Exception as exc:
                errors.append(type(exc).__name__)
                print(json.dumps({"error": type(exc).__name__}), flush=True)
                continue
            if hits != seen:
                seen = hits
                print(json.dumps({"hits": hits}), flush=True)
    print(json.dumps({"searches": n, "errors": errors}), flush=True)
    """
)


def saw_hits(n: int) -> Callable[[list[str]], bool]:
    return lambda lines: json.dumps({"hits": n}) + "\n" in lines


def test_a_search_loop_beside_the_watcher_sees_no_error(
    cli_vault: dict[str, str], tmp_path: Path, vault_dir: Path, hermetic: Path
) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    stop = tmp_path / "stop-searching"
    with (
        watcher(["--json", "--settle", "0.3", str(drop)], cli_vault, tmp_path) as w,
        Child([sys.executable, "-c", SEARCH_LOOP, str(vault_dir), str(stop)], cli_vault, tmp_path / "loop.err") as s,
    ):
        w.wait_for(has_event("watching"))
        s.wait_for(saw_hits(0))
        total = 0
        for wave in range(3):
            paths = []
            for i in range(4):
                p = drop / f"WhatsApp Chat with W{wave}{i}.txt"
                lines = [f"12/03/2023, 10:{k:02d} - Mei: beacon {wave} {i} {k} {CANARY}" for k in range(50)]
                p.write_text("\n".join(lines) + "\n")
                paths.append(p)
                staged = tmp_path / f"tg_{wave}_{i}.json"
                staged.write_bytes(big_telegram(200, 5000 + wave * 10 + i).replace(b"long history", b"beacon"))
                q = drop / staged.name
                os.rename(staged, q)
                paths.append(q)
            total += 4 * (50 + 200)
            for p in paths:
                w.wait_for(has_event("imported", p))
            s.wait_for(saw_hits(total))
        stop.touch()
        assert s.finish() == 0
        w.p.send_signal(signal.SIGTERM)
        assert w.finish() == 0
    final = json.loads(s.lines[-1])
    assert final["errors"] == [] and final["searches"] > 0
    assert not any("error" in json.loads(line) for line in s.lines)
    assert [json.loads(line)["hits"] for line in s.lines[:-1]][-1] == total
    assert not [e for e in w.events() if e["event"] == "failed"]
    # The logs name files and counts; no message text in them or in any file outside the vault.
    logs = "".join(w.lines) + w.stderr() + s.stderr()
    assert CANARY not in logs and "beacon" not in logs
    assert not scan_for([hermetic, tmp_path], NEEDLES, skip=(drop,))


# -- cron, errors, the passphrase ----------------------------------------------------------------------
def test_once_for_cron(cli_vault: dict[str, str], tmp_path: Path, hermetic: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "WhatsApp Chat with Cron.txt").write_text(wa_text("cron", 4))
    (drop / "room.jsonl").write_text(jsonl_text("cron", 2))
    bad = drop / "WhatsApp Chat - Broken.zip"
    bad.write_bytes(wa_zip("broken", 30)[:200])

    r = cli("watch", "--once", "--json", "--settle", "0", str(drop), env=cli_vault)
    assert r.code == 1, r.err  # one file could not be processed; the rest was
    doc = r.json()
    assert set(doc) == {"files", "added", "dry_run"} and doc["added"] == 6
    by_path = {f["path"]: f for f in doc["files"]}
    assert set(by_path) == {str(drop / "WhatsApp Chat with Cron.txt"), str(drop / "room.jsonl"), str(bad)}
    assert by_path[str(bad)]["error"].startswith(f"{bad}: the zip is incomplete")
    # Exactly the import command's per-file object.
    other = tmp_path / "other.jsonl"
    other.write_text(jsonl_text("other", 1))
    imp = cli("import", "--json", str(other), env=cli_vault).json()
    assert set(imp) == set(doc) and all(set(f) == set(imp["files"][0]) for f in doc["files"])

    r = cli("watch", "--once", "--json", "--settle", "0", str(drop), env=cli_vault)  # cron, 15 minutes later
    assert r.code == 1 and r.json()["added"] == 0 and [f["path"] for f in r.json()["files"]] == [str(bad)]
    bad.unlink()
    r = cli("watch", "--once", "--settle", "0", str(drop), env=cli_vault)
    assert r.code == 0 and r.out == "" and r.err == ""  # a quiet cron run sends no mail
    (drop / "new.jsonl").write_text(jsonl_text("new", 3))
    r = cli("watch", "--once", "--settle", "0", str(drop), env=cli_vault)
    assert r.code == 0 and r.out == "" and r.err == f"imported {drop / 'new.jsonl'} (jsonl): 3 added, 0 duplicates\n"
    assert not scan_for([hermetic, tmp_path], NEEDLES, skip=(drop, other))


def test_shred_imported_from_the_command_line(cli_vault: dict[str, str], tmp_path: Path, hermetic: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "telegram.json").write_bytes(tg_bytes(31, 4))
    r = cli("watch", "--once", "--json", "--settle", "0", "--shred-imported", str(drop), env=cli_vault)
    assert r.code == 0 and r.json()["added"] == 4
    assert list(drop.iterdir()) == []
    assert not scan_for([hermetic, tmp_path], NEEDLES)


def test_the_watcher_never_prompts(cli_vault: dict[str, str], tmp_path: Path) -> None:
    pexpect = pytest.importorskip("pexpect")
    drop = tmp_path / "drop"
    drop.mkdir()
    env = {k: v for k, v in child_env(cli_vault).items() if k != "TALKVAULT_PASSPHRASE"}
    child = pexpect.spawn(sys.executable, ["-m", "vault", "watch", str(drop)], env=env, timeout=30, encoding="utf-8")
    try:
        child.expect(pexpect.EOF)  # on a terminal too: no prompt, an error
    finally:
        child.close()
    assert child.exitstatus == 2
    assert "--passphrase-fd N, --passphrase-file FILE or --passphrase-command CMD" in child.before
    assert "Passphrase:" not in child.before


def test_passphrase_from_a_file_descriptor(cli_vault: dict[str, str], tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "room.jsonl").write_text(jsonl_text("fd", 2))
    env = {k: v for k, v in cli_vault.items() if k != "TALKVAULT_PASSPHRASE"}
    r_fd, w_fd = os.pipe()
    os.write(w_fd, PASSPHRASE.encode() + b"\n")
    os.close(w_fd)
    try:
        r = cli(
            "watch",
            "--once",
            "--json",
            "--settle",
            "0",
            "--passphrase-fd",
            str(r_fd),
            str(drop),
            env=env,
            pass_fds=(r_fd,),
        )
    finally:
        os.close(r_fd)
    assert r.code == 0 and r.json()["added"] == 2


def test_busy_past_the_wait_is_exit_5(cli_vault: dict[str, str], tmp_path: Path, vault_dir: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "room.jsonl").write_text(jsonl_text("busy", 2))
    with open_vault(vault_dir) as v:
        v.conn.execute("BEGIN IMMEDIATE")  # another writer holds the vault
        try:
            r = cli("--wait", "0.5", "watch", "--once", "--settle", "0", str(drop), env=cli_vault)
        finally:
            v.conn.execute("ROLLBACK")
    assert r.code == 5 and "busy" in r.err and "Traceback" not in r.err
    r = cli("watch", "--once", "--json", "--settle", "0", str(drop), env=cli_vault)
    assert r.code == 0 and r.json()["added"] == 2


def test_the_service_files_run_the_watch_command(tmp_path: Path) -> None:
    from vault.cli import _register
    from vault.cli import cli as group

    _register()
    command = group.commands["watch"]
    unit = (ROOT / "docs" / "systemd" / "talkvault-watch.service").read_text()
    exec_start = next(line for line in unit.splitlines() if line.startswith("ExecStart="))
    argv = shlex.split(exec_start.removeprefix("ExecStart=").replace("%h", str(tmp_path)))
    plist = plistlib.loads((ROOT / "docs" / "launchd" / "org.talkvault.watch.plist").read_bytes())
    assert plist["Umask"] == 0o077 and plist["Label"] == "org.talkvault.watch"
    for args in (argv, plist["ProgramArguments"]):
        assert args[0].endswith("/talkvault") and args[1] == "watch"
        ctx = command.make_context("watch", list(args[2:]))
        params = ctx.params
        assert params["as_json"] and ctx.meta["talkvault.passphrase_command"] and not params["shred_imported"]
        assert len(params["dirs"]) == 1 and str(params["dirs"][0]).endswith("/ChatExports")
    assert "RestartPreventExitStatus=2 3 4" in unit and "TimeoutStopSec=300" in unit


def test_usage_errors(cli_vault: dict[str, str], tmp_path: Path, vault_dir: Path) -> None:
    r = cli("watch", str(tmp_path / "missing"), env=cli_vault)
    assert r.code == 2 and "not a folder" in r.err
    r = cli("watch", str(vault_dir), env=cli_vault)
    assert r.code == 2 and "inside the vault" in r.err
    r = cli("watch", "--tz", "Nowhere/Else", str(tmp_path), env=cli_vault)
    assert r.code == 2 and "unknown time zone" in r.err
    r = cli("watch", env=cli_vault)
    assert r.code == 2
