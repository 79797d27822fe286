"""The session: the one-time URL token, the cookie it becomes, the CSRF token, and the key's lifetime (idle lock)."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from vault.errors import AuthenticationError, UsageError

TOKEN_BYTES = 32  # 256 bits, as the contract asks
COOKIE = "talkvault"
MAX_UNLOCK_FAILURES = 5  # then the server stops (exit 3), as the shell does after three


def same(a: str | None, b: str) -> bool:
    """Constant-time comparison of a presented secret with the real one."""
    return a is not None and hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8"))


class Session:
    """One person's session with one vault: who may talk to the server, and whether the key is held.

    `reopen(secret, recovery)` unlocks the vault again after the idle lock (vault.open); the
    vault is closed (its key wiped) by `lock()`, on the idle timeout, and when the server ends.
    """

    def __init__(
        self,
        v: Any,
        reopen: Callable[[str, bool], Any],
        *,
        lock_after: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vault: Any | None = v
        self._reopen = reopen
        self.lock_after = lock_after
        self._clock = clock
        self.token = secrets.token_urlsafe(TOKEN_BYTES)
        self.cookie = secrets.token_urlsafe(TOKEN_BYTES)
        self.csrf = secrets.token_urlsafe(TOKEN_BYTES)
        self.token_spent = False
        self.failures = 0
        self.stopped = False
        self.last = clock()
        # One request at a time reaches the vault (its connection is not for concurrent use).
        self.guard = threading.RLock()

    # -- who may talk to us ------------------------------------------------------------------
    def exchange(self, token: str | None) -> bool:
        """True (once) when `token` is the URL's token: the caller then sets the cookie."""
        if self.token_spent or not same(token, self.token):
            return False
        self.token_spent = True
        return True

    def has_cookie(self, value: str | None) -> bool:
        return same(value, self.cookie)

    def csrf_ok(self, value: str | None) -> bool:
        return same(value, self.csrf)

    # -- the key -------------------------------------------------------------------------------
    @property
    def locked(self) -> bool:
        return self.vault is None

    def touch(self) -> None:
        self.last = self._clock()

    def check_idle(self) -> None:
        """Lock when no request came for `lock_after` seconds."""
        if self.vault is not None and self._clock() - self.last >= self.lock_after:
            self.lock()

    def lock(self) -> None:
        v, self.vault = self.vault, None
        if v is not None:
            v.close()  # closes the database and wipes the data key

    def unlock(self, secret: str, *, recovery: bool) -> bool:
        """Open the vault again; False for a wrong passphrase (after too many, the server stops)."""
        if not secret:
            return False
        try:
            self.vault = self._reopen(secret, recovery)
        except (AuthenticationError, UsageError):
            self.failures += 1
            if self.failures >= MAX_UNLOCK_FAILURES:
                self.stopped = True
            return False
        self.failures = 0
        self.touch()
        return True

    def stop(self) -> None:
        self.stopped = True
        self.lock()
