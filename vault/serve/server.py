"""Listening on 127.0.0.1 only: the socket, the one-request-at-a-time loop, the idle lock, signals, and the URL.

A thread per connection (a browser keeps idle connections open, and one must not hold up the
others), but one request at a time reaches the vault: the session's lock is held while a request
is answered and while each chunk of a streamed answer is read (app.py). A socket timeout drops a
stalled client, and media is answered in bounded ranges (media.py). The request log is silenced: the
server writes nothing anywhere but the one URL line on stdout and one-line notes on stderr.
"""

from __future__ import annotations

import signal
import socket
import webbrowser
from collections.abc import Callable
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.serving import ThreadedWSGIServer, WSGIRequestHandler

from vault.errors import AuthenticationError, UsageError
from vault.serve.app import App
from vault.serve.render import Renderer
from vault.serve.session import MAX_UNLOCK_FAILURES, Session

HOST = "127.0.0.1"
HOST_NAMES = frozenset({"127.0.0.1", "localhost"})
POLL = 0.25  # seconds between idle checks while no request comes
CLIENT_TIMEOUT = 15  # seconds a connection may stay silent before it is dropped


def check_host(host: str) -> None:
    """Only 127.0.0.1 (or its name, localhost): anything else is a usage error (exit 2)."""
    if host not in HOST_NAMES:
        raise UsageError(
            f"serve listens on 127.0.0.1 only, never on {host!r}: the vault must not be reachable from elsewhere"
        )


class QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without its request log (no URL, no address, nothing written)."""

    timeout = CLIENT_TIMEOUT

    def log(self, type: str, message: str, *args: Any) -> None:
        return None

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


class LoopbackServer(ThreadedWSGIServer):
    """A werkzeug server on a socket we bound to 127.0.0.1 ourselves."""

    def log(self, type: str, message: str, *args: Any) -> None:
        return None

    def handle_error(self, request: Any, client_address: Any) -> None:
        return None  # a client that went away; nothing to say, and nothing to log


def bind(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(64)
    except OSError as exc:
        sock.close()
        raise UsageError(f"cannot listen on {HOST}:{port} ({exc.strerror}); choose another --port, or 0") from None
    return sock


class _Stop(BaseException):
    """SIGTERM or SIGHUP: leave the loop as Ctrl-C does."""


def run(
    v: Any,
    reopen: Callable[[str, bool], Any],
    *,
    port: int = 0,
    lock_after: float = 600.0,
    zone: ZoneInfo,
    announce: Callable[[str], None],
    open_browser: bool = True,
) -> None:
    """Serve `v` until Ctrl-C or SIGTERM; the key is wiped on every way out."""
    session = Session(v, reopen, lock_after=lock_after)
    sock = bind(port)
    server: LoopbackServer | None = None
    old: dict[signal.Signals, Any] = {}

    def stop(signum: int, frame: FrameType | None) -> None:
        raise _Stop()

    try:
        port = sock.getsockname()[1]
        app = App(session, Renderer(zone), port)
        server = LoopbackServer(HOST, port, app, handler=QuietHandler, fd=sock.fileno())
        sock.close()
        server.timeout = POLL
        for sig in (signal.SIGTERM, signal.SIGHUP):
            old[sig] = signal.signal(sig, stop)
        url = f"http://{HOST}:{port}/?token={session.token}"
        announce(url)
        if open_browser:
            webbrowser.open(url)
        while not session.stopped:
            server.handle_request()
            with session.guard:
                session.check_idle()
    except (KeyboardInterrupt, _Stop):
        pass
    finally:
        with session.guard:
            session.lock()
        for sig, handler in old.items():
            signal.signal(sig, handler)
        if server is not None:
            server.server_close()
        else:
            sock.close()
    if session.failures >= MAX_UNLOCK_FAILURES:
        raise AuthenticationError("too many wrong passphrases at the unlock page; the server stopped")
