"""The unlock agent: one vault's data key held in memory for a while, so commands skip Argon2id.

`talkvault unlock [--for 15m]` unlocks the vault once and starts a small background process (like
ssh-agent or rbw-agent) that holds the vault's data key and hands it, over a Unix socket, to
talkvault commands of the same user opening the same vault. `talkvault lock`, the end of `--for`,
or the agent's death forget it. What it trades is written in docs/security.md ("Unlock once").

- The socket lives in `$XDG_RUNTIME_DIR/talkvault/` (else `/tmp/talkvault-<uid>/`), a directory
  0700 that must belong to this user and not be a link; the socket is 0600, named after a hash of
  the vault's path (never the path itself).
- Every connection's peer is checked with SO_PEERCRED: another uid is refused before a byte is read.
- The agent serves only the vault it unlocked: a request names the vault id, and a different one is
  refused.
- The agent process is not dumpable or traceable (PR_SET_DUMPABLE 0, no core dumps), locks its
  memory where the OS allows (mlockall), and wipes the key when it ends.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import stat
import struct
import sys
from pathlib import Path

#: How long a request may take before the other side gives up (seconds).
TIMEOUT = 5.0
#: The longest request or answer line (a key is 64 hex digits).
MAX_LINE = 4096
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class AgentError(Exception):
    """The agent cannot be reached or refused; callers fall back to asking for the passphrase."""


def runtime_dir(env: dict[str, str] | None = None, *, create: bool = True) -> Path:
    """The private directory for agent sockets, created 0700 (unless `create` is false) and checked to be ours."""
    env = dict(os.environ) if env is None else env
    base = env.get("XDG_RUNTIME_DIR")
    d = Path(base) / "talkvault" if base else Path("/tmp") / f"talkvault-{os.getuid()}"
    if not create:
        return d  # only to look for a socket: nothing is made, and _ask checks what it finds
    try:
        d.mkdir(mode=0o700, parents=False, exist_ok=True)
    except FileNotFoundError:
        d.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        d.mkdir(mode=0o700, exist_ok=True)
    st = os.lstat(d)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise AgentError(f"{d} is not a private directory of this user; remove it, or set XDG_RUNTIME_DIR")
    return d


def socket_path(vault_path: Path, env: dict[str, str] | None = None, *, create: bool = False) -> Path:
    """Where the agent for this vault listens: named after a hash of the vault's real path.

    Looking for an agent creates nothing; `start` makes the directory (`create`)."""
    digest = hashlib.sha256(os.fsencode(os.path.realpath(vault_path))).hexdigest()[:20]
    return runtime_dir(env, create=create) / f"agent-{digest}.sock"


def peer_uid(conn: socket.socket) -> int:
    """The uid of the process at the other end of a Unix socket (Linux SO_PEERCRED)."""
    raw = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
    return int(_PEERCRED.unpack(raw)[1])


def _ask(path: Path, request: dict[str, str]) -> dict[str, object]:
    if not path.exists():
        raise AgentError("no agent is running for this vault")
    st, parent = os.lstat(path), os.lstat(path.parent)
    if not stat.S_ISSOCK(st.st_mode) or st.st_uid != os.getuid():
        raise AgentError("the agent's socket is not this user's")
    if not stat.S_ISDIR(parent.st_mode) or parent.st_uid != os.getuid() or parent.st_mode & 0o022:
        raise AgentError("the agent's directory is not a private directory of this user")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        try:
            s.connect(os.fspath(path))
            if peer_uid(s) != os.getuid():
                raise AgentError("the agent runs as another user")
            s.sendall(json.dumps(request).encode() + b"\n")
            data = bytearray()
            while not data.endswith(b"\n") and len(data) <= MAX_LINE:
                chunk = s.recv(MAX_LINE)
                if not chunk:
                    break
                data += chunk
        except OSError as exc:
            raise AgentError("the agent did not answer") from exc
    try:
        answer = json.loads(bytes(data))
    except ValueError as exc:
        raise AgentError("the agent's answer was not understood") from exc
    finally:
        data[:] = b"\0" * len(data)
    if not isinstance(answer, dict):
        raise AgentError("the agent's answer was not understood")
    return answer


def fetch_key(vault_path: Path, vault_id: str) -> bytearray:
    """The data key of this vault from its agent; AgentError when there is none to be had."""
    answer = _ask(socket_path(vault_path), {"op": "key", "vault_id": vault_id})
    key = answer.get("key")
    if answer.get("ok") is not True or not isinstance(key, str):
        raise AgentError(str(answer.get("error") or "the agent refused"))
    try:
        return bytearray(bytes.fromhex(key))
    except ValueError as exc:
        raise AgentError("the agent's answer was not understood") from exc
    finally:
        del key, answer


def status(vault_path: Path) -> dict[str, object] | None:
    """What the agent of this vault says of itself (seconds left), or None when none runs."""
    try:
        answer = _ask(socket_path(vault_path), {"op": "status"})
    except AgentError:
        return None
    return answer if answer.get("ok") is True else None


def lock(vault_path: Path) -> bool:
    """Tell this vault's agent to forget the key and stop; whether one was running."""
    try:
        answer = _ask(socket_path(vault_path), {"op": "lock"})
    except AgentError:
        return False
    return answer.get("ok") is True


def start(vault_path: Path, vault_id: str, key: bytearray, seconds: float) -> int:
    """Start the agent process for this vault; its pid once it listens.

    The key goes to the child through a pipe on its stdin, never argv or the environment; the child
    starts a new session so that closing the terminal does not end it.
    """
    import subprocess

    path = socket_path(vault_path, create=True)
    lock(vault_path)  # one agent a vault: a running one is replaced
    header = json.dumps({"socket": os.fspath(path), "vault_id": vault_id, "seconds": seconds}).encode()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TALKVAULT_")}
    child = subprocess.Popen(
        [sys.executable, "-m", "vault.agent"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        close_fds=True,
    )
    assert child.stdin is not None and child.stdout is not None
    payload = bytearray(header + b"\n" + key.hex().encode() + b"\n")
    try:
        child.stdin.write(payload)
        child.stdin.close()
    finally:
        payload[:] = b"\0" * len(payload)
    ready = child.stdout.readline()
    child.stdout.close()
    if ready.strip() != b"ready":
        child.kill()
        child.wait()
        raise AgentError("the agent could not start (is the runtime directory writable?)")
    return child.pid
