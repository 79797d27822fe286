"""The agent process itself: reads what to hold from stdin, listens, answers, forgets (`python -m vault.agent`)."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import selectors
import signal
import socket
import sys
import time

from vault.agent import MAX_LINE, peer_uid
from vault.core import harden_process

MCL_CURRENT, MCL_FUTURE = 1, 2  # <sys/mman.h>


def _lock_memory() -> bool:
    """mlockall where the OS allows it (RLIMIT_MEMLOCK may forbid it): the key is never swapped out."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return libc.mlockall(MCL_CURRENT | MCL_FUTURE) == 0 or libc.mlockall(MCL_CURRENT) == 0
    except OSError:
        return False


def _wipe(b: bytearray) -> None:
    b[:] = b"\0" * len(b)


def main() -> int:
    harden_process()
    os.umask(0o077)
    header = json.loads(sys.stdin.buffer.readline())
    key_line = bytearray(sys.stdin.buffer.readline().strip())
    key = bytearray(bytes.fromhex(key_line.decode()))
    _wipe(key_line)
    path, vault_id = str(header["socket"]), str(header["vault_id"])
    deadline = time.monotonic() + float(header["seconds"])
    _lock_memory()
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    os.chmod(path, 0o600)
    bound = os.stat(path).st_ino  # our socket file: a later agent's is left alone
    server.listen(8)
    stop = False

    def end(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGINT, end)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdout.close()
    sel = selectors.DefaultSelector()
    sel.register(server, selectors.EVENT_READ)
    try:
        while not stop:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if not sel.select(timeout=min(left, 1.0)):
                continue
            conn, _ = server.accept()
            with conn:
                conn.settimeout(2.0)
                try:
                    if peer_uid(conn) != os.getuid():
                        continue  # another user: nothing read, nothing said
                    stop = _serve(conn, key, vault_id, deadline)
                except OSError:
                    continue
    finally:
        _wipe(key)
        try:
            if os.stat(path).st_ino == bound:
                os.unlink(path)
        except OSError:
            pass
        server.close()
    return 0


def _serve(conn: socket.socket, key: bytearray, vault_id: str, deadline: float) -> bool:
    """Answer one request; True when the agent must stop (a lock)."""
    data = b""
    while not data.endswith(b"\n") and len(data) <= MAX_LINE:
        chunk = conn.recv(MAX_LINE)
        if not chunk:
            return False
        data += chunk
    try:
        request = json.loads(data)
        op = request.get("op") if isinstance(request, dict) else None
    except ValueError:
        op = None
    if op == "lock":
        conn.sendall(b'{"ok": true}\n')
        return True
    if op == "status":
        left = max(0, int(deadline - time.monotonic()))
        conn.sendall(json.dumps({"ok": True, "seconds_left": left}).encode() + b"\n")
        return False
    if op == "key":
        if request.get("vault_id") != vault_id:
            conn.sendall(b'{"ok": false, "error": "this agent holds another vault"}\n')
            return False
        answer = bytearray(b'{"ok": true, "key": "' + key.hex().encode() + b'"}\n')
        try:
            conn.sendall(answer)
        finally:
            _wipe(answer)
        return False
    conn.sendall(b'{"ok": false, "error": "unknown request"}\n')
    return False


if __name__ == "__main__":
    sys.exit(main())
