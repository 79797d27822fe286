"""Secrets (passphrases, recovery keys) in one type, and where they come from.

`Secret` keeps its bytes in a bytearray that can be wiped, and hides them from repr, str and
tracebacks. `passphrase_from_sources` implements cli-contract.md "The passphrase": fd, file,
command, environment variable, then a hidden terminal prompt; more than one non-interactive
source is refused. Nothing here ever puts a secret into argv, logs or exceptions.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vault.errors import PassphraseSourceError


def wipe(buf: bytearray) -> None:
    """Overwrite a key or secret held in a bytearray (bytes and str cannot be wiped)."""
    buf[:] = bytes(len(buf))


class Secret:
    """A secret string held as UTF-8 in a wipeable bytearray. Never printed."""

    __slots__ = ("_buf",)

    def __init__(self, value: str | bytes | bytearray) -> None:
        if isinstance(value, str):
            value = value.encode("utf-8")
        self._buf = bytearray(value)

    def bytes(self) -> bytes:
        """An immutable copy for APIs that need bytes (argon2); keep its lifetime short."""
        return bytes(self._buf)

    def text(self) -> str:
        return self._buf.decode("utf-8")

    def __len__(self) -> int:
        return len(self._buf)

    def __bool__(self) -> bool:
        return bool(self._buf)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        import hmac

        return hmac.compare_digest(bytes(self._buf), bytes(other._buf))

    def __hash__(self) -> int:  # pragma: no cover - secrets are not dict keys
        raise TypeError("Secret is not hashable")

    def wipe(self) -> None:
        wipe(self._buf)
        self._buf = bytearray()

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    __str__ = __repr__

    def __reduce__(self) -> str:  # never pickled into a file by accident
        raise TypeError("Secret cannot be pickled")


def _strip_newline(data: bytes) -> bytes:
    if data.endswith(b"\r\n"):
        return data[:-2]
    if data.endswith(b"\n"):
        return data[:-1]
    return data


def read_fd(fd: int) -> Secret:
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise PassphraseSourceError(f"cannot read the passphrase from file descriptor {fd}: {exc.strerror}") from None
    data = b"".join(chunks)
    # Only the first line counts, as with borg's BORG_PASSPHRASE_FD.
    return Secret(_strip_newline(data.split(b"\n", 1)[0]))


def read_file(path: str) -> Secret:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise PassphraseSourceError(f"cannot read the passphrase file {path}: {exc.strerror}") from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise PassphraseSourceError(
            f"the passphrase file {path} can be read by other users; run 'chmod 600 {path}' first"
        )
    with open(path, "rb") as fh:
        data = fh.read(65536)
    return Secret(_strip_newline(data.split(b"\n", 1)[0]))


def run_command(cmd: str) -> Secret:
    """Run a passphrase command without a shell; its first line of stdout is the passphrase."""
    try:
        argv = shlex.split(cmd)
    except ValueError:
        raise PassphraseSourceError("the passphrase command cannot be parsed (check its quotes)") from None
    if not argv:
        raise PassphraseSourceError("the passphrase command is empty")
    try:
        proc = subprocess.run(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, check=False)
    except OSError as exc:
        raise PassphraseSourceError(f"cannot run the passphrase command: {exc.strerror}") from None
    if proc.returncode != 0:
        raise PassphraseSourceError(f"the passphrase command failed (exit status {proc.returncode})")
    return Secret(_strip_newline(proc.stdout.split(b"\n", 1)[0]))


@dataclass(frozen=True)
class SourceSpec:
    """Where a secret may come from; values from CLI options (None = not given)."""

    fd: int | None = None
    file: str | None = None
    command: str | None = None


def _from_env(env: Mapping[str, str], prefix: str, spec: SourceSpec) -> SourceSpec:
    fd = spec.fd
    if fd is None and env.get(f"{prefix}_FD"):
        try:
            fd = int(env[f"{prefix}_FD"])
        except ValueError:
            raise PassphraseSourceError(f"{prefix}_FD must be a file descriptor number") from None
    return SourceSpec(
        fd=fd,
        file=spec.file if spec.file is not None else env.get(f"{prefix}_FILE") or None,
        command=spec.command if spec.command is not None else env.get(f"{prefix}_COMMAND") or None,
    )


def has_source(spec: SourceSpec, *, new: bool = False, env: Mapping[str, str] | None = None) -> bool:
    """Whether a non-interactive source is set (an option, or its environment variable)."""
    env = os.environ if env is None else env
    prefix = "TALKVAULT_NEW_PASSPHRASE" if new else "TALKVAULT_PASSPHRASE"
    spec = _from_env(env, prefix, spec)
    return any(v is not None for v in (spec.fd, spec.file, spec.command)) or bool(env.get(prefix))


def secret_from_sources(
    spec: SourceSpec,
    *,
    new: bool = False,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
    what: str = "passphrase",
) -> Secret:
    """Resolve a (new) passphrase from exactly one source, else prompt on a terminal.

    `new=True` reads the TALKVAULT_NEW_PASSPHRASE* family and asks twice at the prompt.
    """
    env = os.environ if env is None else env
    prefix = "TALKVAULT_NEW_PASSPHRASE" if new else "TALKVAULT_PASSPHRASE"
    spec = _from_env(env, prefix, spec)
    plain = env.get(prefix) or None
    given = [
        n for n, v in (("fd", spec.fd), ("file", spec.file), ("command", spec.command), ("env", plain)) if v is not None
    ]
    if len(given) > 1:
        opt = "--new-passphrase" if new else "--passphrase"
        raise PassphraseSourceError(
            f"more than one {what} source is set ({', '.join(given)}); use exactly one of "
            f"{opt}-fd, {opt}-file, {opt}-command or {prefix}"
        )
    secret: Secret | None = None
    if spec.fd is not None:
        secret = read_fd(spec.fd)
    elif spec.file is not None:
        secret = read_file(spec.file)
    elif spec.command is not None:
        secret = run_command(spec.command)
    elif plain is not None:
        secret = Secret(plain)
    if secret is not None:
        if not secret:
            raise PassphraseSourceError(f"the {what} from {given[0]} is empty")
        return secret
    return _prompt(new=new, prompt=prompt, what=what, prefix=prefix)


def _prompt(*, new: bool, prompt: Callable[[str], str] | None, what: str, prefix: str) -> Secret:
    if prompt is None:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            opt = "--new-passphrase" if new else "--passphrase"
            raise PassphraseSourceError(
                f"no terminal to ask for the {what}: give it with {opt}-fd N, {opt}-file F, "
                f"{opt}-command CMD or {prefix}"
            )
        import getpass

        def prompt(label: str) -> str:
            return getpass.getpass(label)

    label = f"New {what}: " if new else f"{what[0].upper()}{what[1:]}: "
    first = Secret(prompt(label))
    if not first:
        raise PassphraseSourceError(f"the {what} is empty")
    if new:
        second = Secret(prompt(f"Repeat the new {what}: "))
        same = first == second
        second.wipe()
        if not same:
            first.wipe()
            raise PassphraseSourceError(f"the two {what}s differ; nothing was changed")
    return first
