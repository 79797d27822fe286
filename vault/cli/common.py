"""The click group and the helpers every command module shares: options, unlocking, JSON output."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from vault.core import Vault

F = TypeVar("F", bound=Callable[..., Any])


class State:
    """What the group's options say, shared with every command."""

    def __init__(self, vault_dir: str | None, debug: bool) -> None:
        self.vault_dir = vault_dir
        self.debug = debug
        self.wait_ms = 30_000

    def path(self) -> Path:
        if self.vault_dir:
            return Path(self.vault_dir).expanduser()
        env = os.environ.get("TALKVAULT_DIR")
        if env:
            return Path(env).expanduser()
        import platformdirs

        return Path(platformdirs.user_data_dir("talkvault"))


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """Keep a passphrase option where open_vault finds it, whether given before or after the command."""
    if value is not None and param.name:
        ctx.meta[f"talkvault.{param.name}"] = value


def _source_options(new: bool) -> Callable[[F], F]:
    """--[new-]passphrase-fd/-file/-command; their values are kept for source_spec()."""
    flag = "--new-passphrase" if new else "--passphrase"
    word = "new passphrase" if new else "passphrase"
    dest = "new_passphrase" if new else "passphrase"
    specs = (
        ("command", "CMD", None, f"Run CMD (no shell); its first output line is the {word}."),
        ("file", "FILE", None, f"Read the {word} from FILE (must not be readable by others)."),
        ("fd", "N", int, f"Read the {word} from file descriptor N."),
    )

    def decorate(f: F) -> F:
        for kind, metavar, type_, help_ in specs:
            f = click.option(
                f"{flag}-{kind}",
                f"{dest}_{kind}",
                metavar=metavar,
                type=type_,
                default=None,
                expose_value=False,
                callback=_remember,
                help=help_,
            )(f)
        return f

    return decorate


passphrase_options = _source_options(new=False)
new_passphrase_options = _source_options(new=True)


def reading_options(f: F) -> F:
    """--tz and --date-order: how to read exports that show wall-clock times (import and watch)."""
    f = click.option(
        "--date-order",
        type=click.Choice(["dmy", "mdy", "ymd"]),
        default=None,
        help="Date order for exports where nothing settles it (WhatsApp, LINE).",
    )(f)
    f = click.option(
        "--tz",
        metavar="ZONE",
        default=None,
        help="Time zone of exports that show wall-clock times (default: this machine's).",
    )(f)
    return f


def json_option(f: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")(f)


#: Characters json.dumps leaves raw with ensure_ascii=False that a terminal acts on: DEL, C1 controls,
#: line/paragraph separators and the bidi embeddings, overrides and isolates. Outside strings JSON
#: is ASCII, so escaping them as \uXXXX wherever they occur keeps the document the same.
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def json_text(obj: Any) -> str:
    """`obj` as one line of JSON whose every control character is escaped (vault.display's rule)."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", json.dumps(obj, ensure_ascii=False, indent=None))


#: Whether this process has printed its JSON document (the error boundary then prints no second one).
json_emitted = False


def emit_json(obj: Any) -> None:
    global json_emitted
    click.echo(json_text(obj))
    json_emitted = True


def source_spec(*, new: bool = False) -> Any:
    """Where the (new) passphrase comes from, as the options said (the environment is read later)."""
    from vault.secret import SourceSpec

    meta = click.get_current_context().meta
    dest = "talkvault.new_passphrase" if new else "talkvault.passphrase"
    return SourceSpec(fd=meta.get(f"{dest}_fd"), file=meta.get(f"{dest}_file"), command=meta.get(f"{dest}_command"))


def open_vault(state: State, *, busy_timeout_ms: int | None = None, use_agent: bool = True) -> Vault:
    """Unlock the vault the options name: the one helper every command uses.

    When 'talkvault unlock' left an agent holding this vault's key, the key comes from it and no
    passphrase is asked; otherwise (or if the agent's key does not open the vault) the passphrase
    sources are read as always.
    """
    from vault.core import is_vault, open
    from vault.errors import NotAVaultError
    from vault.secret import secret_from_sources

    path = state.path()
    if not is_vault(path):
        raise NotAVaultError(
            f"no vault in {path}; create one with 'talkvault init' (or point --vault / TALKVAULT_DIR at yours)"
        )
    wait = busy_timeout_ms or state.wait_ms
    if use_agent:
        opened = _open_with_agent(path, wait)
        if opened is not None:
            return opened
    secret = secret_from_sources(source_spec())
    try:
        return open(path, secret, busy_timeout_ms=wait)
    finally:
        secret.wipe()


def _open_with_agent(path: Path, busy_timeout_ms: int | None) -> Vault | None:
    from vault import agent
    from vault.core import open_with_key, vault_id_of
    from vault.errors import TalkvaultError

    if not agent.socket_path(path).exists():
        return None
    try:
        key = agent.fetch_key(path, vault_id_of(path))
    except (agent.AgentError, TalkvaultError):
        return None
    try:
        return open_with_key(path, key, busy_timeout_ms=busy_timeout_ms)
    except TalkvaultError:
        key[:] = b"\0" * len(key)
        return None


def stderr_is_tty() -> bool:
    return sys.stderr.isatty()


def color_enabled() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--vault",
    "vault_dir",
    metavar="DIR",
    default=None,
    help="The vault directory (default: $TALKVAULT_DIR, else your user data directory).",
)
@click.option("--debug", is_flag=True, help="Show a traceback for errors.")
@click.option(
    "--wait",
    "wait",
    type=click.FloatRange(min=0),
    envvar="TALKVAULT_WAIT",
    default=30.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another talkvault process that is writing (then exit 5).",
)
@passphrase_options
@click.version_option(package_name="talkvault", prog_name="talkvault")
@click.pass_context
def cli(
    ctx: click.Context,
    vault_dir: str | None,
    debug: bool,
    wait: float,
) -> None:
    """talkvault: your chat history, in an encrypted vault on your own disk.

    Import the exports you can get of your chats (WhatsApp, Telegram, WeChat, Signal, ...),
    search them in any language, delete for real, back up on your terms. No network, ever.
    """
    state = State(vault_dir, debug)
    state.wait_ms = int(wait * 1000)
    ctx.obj = state
