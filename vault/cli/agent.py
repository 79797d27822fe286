"""`talkvault unlock` and `lock`: an agent holds the key for a while, so commands skip Argon2id (vault/agent/)."""

from __future__ import annotations

import re

import click

from vault.cli.common import State, cli, emit_json, json_option, open_vault, passphrase_options
from vault.errors import UsageError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(s|m|h)?")
MAX_SECONDS = 24 * 3600


def parse_duration(text: str) -> float:
    """`90s`, `15m`, `2h` (minutes without a unit) as seconds, at most a day."""
    m = _DURATION.fullmatch(text.strip().lower())
    if not m:
        raise UsageError(f"--for takes a duration such as 30s, 15m or 2h, not {text!r}")
    seconds = float(m.group(1)) * {"s": 1, "m": 60, "h": 3600, None: 60}[m.group(2)]
    if not 0 < seconds <= MAX_SECONDS:
        raise UsageError("--for takes a duration of more than 0 and at most 24h")
    return seconds


@cli.command()
@click.option("--for", "duration", default="15m", show_default=True, metavar="DURATION",
              help="How long the agent keeps the key (30s, 15m, 2h; at most 24h).")  # fmt: skip
@passphrase_options
@json_option
@click.pass_obj
def unlock(state: State, duration: str, as_json: bool) -> None:
    """Unlock once: an agent holds the vault's key in memory, and commands open without the passphrase.

    The agent serves only this vault and only your user, over a private Unix socket; 'talkvault
    lock', the end of --for, or the agent's end forget the key (docs/security.md, "Unlock once").
    """
    from vault import agent

    seconds = parse_duration(duration)
    with open_vault(state, use_agent=False) as v:
        key = v.copy_key()
        try:
            pid = agent.start(v.path, v.keyfile.vault_id, key, seconds)
        except agent.AgentError as exc:
            raise UsageError(str(exc)) from None
        finally:
            key[:] = b"\0" * len(key)
    if as_json:
        emit_json({"unlocked": True, "seconds": seconds, "pid": pid})
    else:
        click.echo(f"Unlocked for {duration}: commands open this vault without the passphrase until 'talkvault lock'.")


@cli.command()
@json_option
@click.pass_obj
def lock(state: State, as_json: bool) -> None:
    """Forget the key now: the agent started by 'talkvault unlock' wipes it and stops."""
    from vault import agent

    was = agent.lock(state.path())
    if as_json:
        emit_json({"locked": True, "agent_was_running": was})
    else:
        click.echo("Locked: the agent forgot the key." if was else "No agent was holding this vault's key.")
