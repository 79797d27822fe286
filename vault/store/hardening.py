"""Process hardening while a vault is unlocked: private umask, no core dumps, not ptrace-attachable.

security.md 2.7: RLIMIT_CORE alone is ignored when core dumps are piped to a program
(systemd-coredump, apport), so on Linux the process also marks itself non-dumpable.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# prctl(2) option numbers, from <linux/prctl.h>.
PR_SET_DUMPABLE = 4
PR_GET_DUMPABLE = 3

_done = False


def private_umask() -> None:
    """Files and directories we create are for this user only (0600/0700)."""
    os.umask(0o077)


def harden_process() -> None:
    """Turn core dumps off and make the process non-dumpable. Idempotent; best effort off Linux."""
    global _done
    if _done:
        return
    private_umask()
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    except (ImportError, ValueError, OSError):  # pragma: no cover - non-POSIX
        pass
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
            libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        except OSError:  # pragma: no cover
            pass
    _done = True


def is_dumpable() -> int | None:
    """PR_GET_DUMPABLE of this process (Linux), for tests; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return int(libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0))
