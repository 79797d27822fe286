"""The unlock agent (vault/agent/): one vault's key for one user, for a while, and then forgotten."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from tests.conftest import cli
from vault import agent

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED is Linux's")


@pytest.fixture
def runtime(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A short private XDG_RUNTIME_DIR (Unix socket paths are limited to 107 bytes)."""
    d = tempfile.mkdtemp(prefix="tv-run-", dir="/tmp")
    monkeypatch.setenv("XDG_RUNTIME_DIR", d)
    yield {"XDG_RUNTIME_DIR": d}
    for sock in Path(d, "talkvault").glob("agent-*.sock"):
        subprocess.run([sys.executable, "-c", "pass"])  # nothing to do: each test locks its agent
        sock.unlink(missing_ok=True)


def _no_passphrase(env: dict[str, str]) -> dict[str, str]:
    out = dict(env)
    out.pop("TALKVAULT_PASSPHRASE", None)
    return out


def _unlock(cli_vault: dict[str, str], runtime: dict[str, str], duration: str = "15m") -> int:
    r = cli("unlock", "--for", duration, "--json", env={**cli_vault, **runtime})
    assert r.code == 0, r.err
    return int(r.json()["pid"])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    status = Path(f"/proc/{pid}/status")
    return not (status.exists() and "State:\tZ" in status.read_text())


def _wait_gone(pid: int, seconds: float = 10) -> None:
    end = time.monotonic() + seconds
    while _alive(pid) and time.monotonic() < end:
        time.sleep(0.05)
    assert not _alive(pid)


def test_commands_open_without_the_passphrase_until_lock(cli_vault, runtime):
    pid = _unlock(cli_vault, runtime)
    try:
        env = {**_no_passphrase(cli_vault), **runtime}
        r = cli("chats", "--json", env=env)
        assert r.code == 0, r.err
        assert cli("stats", "--json", env=env).code == 0
    finally:
        r = cli("lock", "--json", env={**cli_vault, **runtime})
    assert r.code == 0 and r.json()["agent_was_running"] is True
    _wait_gone(pid)
    r = cli("chats", env={**_no_passphrase(cli_vault), **runtime})
    assert r.code != 0  # no agent, no passphrase: nothing opens
    assert not agent.socket_path(Path(cli_vault["TALKVAULT_DIR"])).exists()


def test_the_agent_forgets_when_its_time_is_up(cli_vault, runtime):
    pid = _unlock(cli_vault, runtime, "2s")
    _wait_gone(pid, 15)
    assert cli("chats", env={**_no_passphrase(cli_vault), **runtime}).code != 0


def test_a_killed_agent_leaves_nothing_that_opens(cli_vault, runtime):
    pid = _unlock(cli_vault, runtime)
    os.kill(pid, signal.SIGKILL)
    _wait_gone(pid)
    path = Path(cli_vault["TALKVAULT_DIR"])
    with pytest.raises(agent.AgentError):
        agent.fetch_key(path, "anything")
    r = cli("chats", env={**_no_passphrase(cli_vault), **runtime})
    assert r.code != 0
    # With the passphrase the vault still opens: a stale socket is only passed over.
    assert cli("chats", env={**cli_vault, **runtime}).code == 0


def test_the_agent_serves_only_its_own_vault(cli_vault, runtime):
    pid = _unlock(cli_vault, runtime)
    path = Path(cli_vault["TALKVAULT_DIR"])
    try:
        from vault.core import vault_id_of

        with pytest.raises(agent.AgentError, match="another vault"):
            agent.fetch_key(path, "0" * 32)
        key = agent.fetch_key(path, vault_id_of(path))
        assert len(key) == 32
        # Another vault's path has another socket: no agent there.
        with pytest.raises(agent.AgentError):
            agent.fetch_key(path.parent / "other", vault_id_of(path))
    finally:
        agent.lock(path)
    _wait_gone(pid)


def test_the_key_is_not_in_the_agents_argv_environment_or_core_limits(cli_vault, runtime):
    pid = _unlock(cli_vault, runtime)
    path = Path(cli_vault["TALKVAULT_DIR"])
    try:
        from vault.core import vault_id_of

        key_hex = agent.fetch_key(path, vault_id_of(path)).hex()
        proc = Path(f"/proc/{pid}")
        assert key_hex.encode() not in (proc / "cmdline").read_bytes()
        assert key_hex.encode() not in (proc / "environ").read_bytes()
        assert b"TALKVAULT_PASSPHRASE" not in (proc / "environ").read_bytes()
        limits = (proc / "limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"]
        sock = agent.socket_path(path)
        assert sock.stat().st_mode & 0o777 == 0o600
        assert sock.parent.stat().st_mode & 0o777 == 0o700
    finally:
        agent.lock(path)
    _wait_gone(pid)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user")
def test_a_connection_from_another_user_is_refused(cli_vault, runtime):
    """Even if the directory and socket were opened up, another uid gets nothing."""
    pid = _unlock(cli_vault, runtime)
    path = Path(cli_vault["TALKVAULT_DIR"])
    sock = agent.socket_path(path)
    from vault.core import vault_id_of

    request = json.dumps({"op": "key", "vault_id": vault_id_of(path)}).encode() + b"\n"
    try:
        os.chmod(sock.parent, 0o711)
        os.chmod(runtime["XDG_RUNTIME_DIR"], 0o711)
        os.chmod(sock, 0o666)
        probe = (
            "import os, socket, sys\n"
            "os.setgid(65534); os.setuid(65534)\n"
            "s = socket.socket(socket.AF_UNIX); s.settimeout(5)\n"
            f"s.connect({str(sock)!r})\n"
            "try:\n"
            f"    s.sendall({request!r}); got = s.recv(4096)\n"
            "except (BrokenPipeError, ConnectionResetError):\n"
            "    got = b''\n"
            "sys.stdout.write(repr(got))\n"
        )
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout == "b''"  # closed without a word
        # The same request from our own uid is answered: the probe was refused for its uid alone.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(sock))
            s.sendall(request)
            assert b'"key"' in s.recv(4096)
    finally:
        os.chmod(sock.parent, 0o700)
        agent.lock(path)
    _wait_gone(pid)


def test_a_runtime_directory_open_to_others_is_refused(tmp_path):
    d = tmp_path / "run"
    (d / "talkvault").mkdir(parents=True, mode=0o755)
    os.chmod(d / "talkvault", 0o755)
    with pytest.raises(agent.AgentError, match="not a private directory"):
        agent.runtime_dir({"XDG_RUNTIME_DIR": str(d)})


def test_durations():
    from vault.cli.agent import parse_duration
    from vault.errors import UsageError

    assert parse_duration("90s") == 90 and parse_duration("15m") == 900 and parse_duration("2h") == 7200
    assert parse_duration("10") == 600
    for bad in ("", "0s", "25h", "soon", "-1m"):
        with pytest.raises(UsageError):
            parse_duration(bad)
