"""`talkvault shell`: unlock once, then search, read and delete interactively (vault/shell/ does the work)."""

from __future__ import annotations

import sys

import click

from vault.cli.common import State, cli, open_vault, passphrase_options
from vault.errors import UsageError


@cli.command()
@click.option(
    "--lock-after",
    "lock_after",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="MINUTES",
    help="Lock after this long without a key press (fractions allowed): the key is dropped "
    "and the passphrase asked again.",
)
@passphrase_options
@click.pass_obj
def shell(
    state: State,
    lock_after: float,
) -> None:
    """Search, read and delete interactively: type a query, 'help' for commands, Ctrl-D to leave.

    Completion (Tab) of commands, chat titles, names and filters; history in memory only, never
    on disk. After --lock-after minutes without a key press the vault locks until the passphrase is
    typed again; three wrong tries end the shell (exit 3).
    """
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise UsageError("the shell needs a terminal; in scripts use 'talkvault search' and 'talkvault show'")
    from vault.shell import run_shell

    with open_vault(state) as v:
        run_shell(v, path=state.path(), lock_after=lock_after * 60, busy_timeout_ms=state.wait_ms)
