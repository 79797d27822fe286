"""Secrets (passphrases, recovery keys) in one type, and where they come from.

`Secret` keeps its bytes in a bytearray that can be wiped, and hides them from repr, str and
tracebacks. `passphrase_from_sources` implements cli-contract.md "The passphrase": fd, file,
command, environment variable, then a hidden terminal prompt; more than one non-interactive
source is refused. Nothing here ever puts a secret into argv, logs or exceptions.

`passphrase_weakness` estimates how guessable a new passphrase is (zxcvbn); `init` and `passwd`
refuse one below `MIN_PASSPHRASE_SCORE` unless the person insists (docs/security.md).
"""

from __future__ import annotations

import contextlib
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vault.errors import PassphraseSourceError, UsageError

# A --passphrase-command that has not answered after this many seconds is stopped (with every process
# it started) and the command fails: a hung helper must not hang a script or the watcher forever.
# Generous, because a helper may wait for a person at a pinentry dialog. docs/cli.md "The passphrase".
PASSPHRASE_COMMAND_TIMEOUT_S = 60.0
# zxcvbn scores 0-4 (its README): 3 = "safely unguessable: moderate protection from offline slow-hash
# scenario" (about 1e8-1e10 guesses), 2 = "somewhat guessable" (under 1e8). A stolen vault is exactly
# that offline slow-hash case, so a new passphrase needs 3 or more. docs/security.md "Passphrases".
MIN_PASSPHRASE_SCORE = 3
# zxcvbn refuses longer input (its matching is superlinear); the first 72 characters of a longer
# passphrase are estimated, which can only underestimate it.
_ZXCVBN_MAX = 72
# Words that make a passphrase easy to guess for someone who knows it guards a talkvault vault.
_CONTEXT_WORDS = ("talkvault", "vault", "chat", "chats", "history", "passphrase", "password")


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


def run_command(cmd: str, *, timeout: float = PASSPHRASE_COMMAND_TIMEOUT_S) -> Secret:
    """Run a passphrase command without a shell; its first line of stdout is the passphrase.

    It runs in a session of its own; if it has not finished within `timeout` seconds, that whole
    process group is killed (a helper's own children included) and PassphraseSourceError says so."""
    import signal

    try:
        argv = shlex.split(cmd)
    except ValueError:
        raise PassphraseSourceError("the passphrase command cannot be parsed (check its quotes)") from None
    if not argv:
        raise PassphraseSourceError("the passphrase command is empty")
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        raise PassphraseSourceError(f"cannot run the passphrase command: {exc.strerror}") from None
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(OSError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        raise PassphraseSourceError(
            f"the passphrase command did not finish within {timeout:g} seconds and was stopped; check that "
            "it runs without a terminal (its input is empty) and prints the passphrase"
        ) from None
    finally:
        if proc.poll() is None:  # pragma: no cover - an interrupt (Ctrl-C) while waiting
            with contextlib.suppress(OSError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if proc.returncode != 0:
        raise PassphraseSourceError(f"the passphrase command failed (exit status {proc.returncode})")
    return Secret(_strip_newline(out.split(b"\n", 1)[0]))


def passphrase_weakness(secret: Secret) -> str | None:
    """Why a new passphrase is too easy to guess, or None if it is strong enough.

    zxcvbn (Dropbox's estimator, the maintained Python port) scores it 0-4; below
    MIN_PASSPHRASE_SCORE the answer says why in zxcvbn's generic words, which never quote the
    passphrase. The recovery key is random and never goes through this."""
    from zxcvbn import zxcvbn

    text = bytes(secret._buf[: _ZXCVBN_MAX * 4]).decode("utf-8", "replace")[:_ZXCVBN_MAX]
    result = zxcvbn(text, user_inputs=list(_CONTEXT_WORDS), max_length=_ZXCVBN_MAX)
    del text
    score = int(result["score"])
    if score >= MIN_PASSPHRASE_SCORE:
        return None
    warning = str(result.get("feedback", {}).get("warning") or "").strip().rstrip(".")
    why = f" ({warning[0].lower()}{warning[1:]})" if warning else ""
    return (
        f"this passphrase is too easy to guess: strength {score} of 4, and talkvault asks for "
        f"{MIN_PASSPHRASE_SCORE}{why}. A good one is four or five random words that mean nothing "
        "together and nothing about you (a dice word list makes them); length counts more than symbols. "
        "To keep this one anyway, add --allow-weak-passphrase"
    )


def check_new_passphrase(secret: Secret) -> None:
    """UsageError (exit 2) if `secret` is too weak for a new passphrase (see passphrase_weakness)."""
    reason = passphrase_weakness(secret)
    if reason is not None:
        raise UsageError(reason)


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


NEW_SECRET_TRIES = 3  # a new passphrase asked on a terminal: rounds before giving up


def secret_from_sources(
    spec: SourceSpec,
    *,
    new: bool = False,
    env: Mapping[str, str] | None = None,
    prompt: Callable[[str], str] | None = None,
    what: str = "passphrase",
    validate: Callable[[Secret], None] | None = None,
) -> Secret:
    """Resolve a (new) passphrase from exactly one source, else prompt on a terminal.

    `new=True` reads the TALKVAULT_NEW_PASSPHRASE* family and asks twice at the prompt.
    `validate` (for example check_new_passphrase) raises a TalkvaultError for a secret that will
    not do: from a non-interactive source that error stands; at the prompt its message is shown
    and the question is asked again, as it is when the two entries differ.
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
        if validate is not None:
            try:
                validate(secret)
            except BaseException:
                secret.wipe()
                raise
        return secret
    return _prompt(new=new, prompt=prompt, what=what, prefix=prefix, validate=validate)


def _prompt(
    *,
    new: bool,
    prompt: Callable[[str], str] | None,
    what: str,
    prefix: str,
    validate: Callable[[Secret], None] | None = None,
) -> Secret:
    if prompt is None:
        if not (sys.stdin.isatty() and sys.stderr.isatty()):
            opt = "--new-passphrase" if new else "--passphrase"
            raise PassphraseSourceError(
                f"no terminal to ask for the {what}: give it with {opt}-fd N, {opt}-file F, "
                f"{opt}-command CMD or {prefix}"
            )
        import getpass

        def prompt(label: str) -> str:
            # getpass turns the terminal's echo off: nothing is shown per character, not even a '*'
            # (a row of stars tells a shoulder-surfer the length).
            return getpass.getpass(label)

    label = f"New {what}: " if new else f"{what[0].upper()}{what[1:]}: "
    if not new:
        first = Secret(prompt(label))
        if not first:
            raise PassphraseSourceError(f"the {what} is empty")
        return first
    for attempt in range(1, NEW_SECRET_TRIES + 1):
        last = attempt == NEW_SECRET_TRIES
        first = Secret(prompt(label))
        if not first:
            raise PassphraseSourceError(f"the {what} is empty")
        if validate is not None:
            try:
                validate(first)
            except PassphraseSourceError:
                first.wipe()
                raise
            except UsageError as exc:
                first.wipe()
                if last:
                    raise
                _say(f"{exc.message}\nTry another {what}.")
                continue
        second = Secret(prompt(f"Repeat the new {what}: "))
        same = first == second
        second.wipe()
        if same:
            return first
        first.wipe()
        if last:
            break
        _say(f"The two entries differ; type the new {what} again.")
    raise PassphraseSourceError(f"the two {what}s differed {NEW_SECRET_TRIES} times; nothing was changed")


def _say(line: str) -> None:
    """A line for the person at the prompt (stderr: stdout may be a pipe or JSON)."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
