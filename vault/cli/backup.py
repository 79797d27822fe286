"""Commands for backups: backup (one encrypted file), verify (prove it whole) and restore (a new vault from it).

Made for cron and systemd timers: the passphrase from an fd, a file or a command, `--json`, and the
exit codes of cli-contract.md (3 wrong passphrase, 4 damaged backup, 5 vault busy).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from vault.cli.common import State, cli, emit_json, json_option, open_vault, passphrase_options, source_spec
from vault.display import one_line, plural
from vault.errors import EXIT_DAMAGED

_RECOVERY_HELP = "Unlock with the recovery key instead (read from the passphrase sources, or asked)."


def _secret(use_recovery: bool) -> Any:
    from vault.secret import secret_from_sources

    return secret_from_sources(source_spec(), what="recovery key" if use_recovery else "passphrase")


def _unlock_kw(secret: Any, use_recovery: bool) -> dict[str, Any]:
    return {"recovery_key": secret} if use_recovery else {"passphrase": secret}


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} kB"


@cli.command()
@click.argument("dest", metavar="DEST")
@click.option(
    "--keep",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="DEST is a directory: keep only the newest N dated backups there (talkvault-*.tvbackup).",
)
@passphrase_options
@json_option
@click.pass_obj
def backup(
    state: State,
    dest: str,
    keep: int | None,
    as_json: bool,
) -> None:
    """Write a consistent, encrypted backup of the vault into one file.

    DEST is a file, or a directory (existing, or written with a trailing /) that gets
    talkvault-YYYYmmdd-HHMMSS.tvbackup (UTC). The file holds the key slots, so it alone plus the
    passphrase or the recovery key restores the vault. It is verified before it takes its name.
    Safe while another talkvault process imports.
    """
    with open_vault(state) as v:
        result = v.backup(dest, keep=keep)
    if as_json:
        emit_json(
            {
                "path": result["path"],
                "bytes": result["bytes"],
                "messages": result["messages"],
                "sha256": result["sha256"],
                "created": result["created"],
                "pruned": result["pruned"],
            }
        )
        return
    where = one_line(str(result["path"]))
    click.echo(f"Backed up {plural(result['messages'], 'message')} to {where} ({_size(result['bytes'])}), verified.")
    click.echo(f"sha256 {result['sha256']}")
    for p in result["pruned"]:
        click.echo(f"removed old backup {p}")


@cli.command()
@click.argument("backup_file", metavar="BACKUP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--recovery-key", "use_recovery", is_flag=True, help=_RECOVERY_HELP)
@passphrase_options
@json_option
@click.pass_obj
def verify(
    state: State,
    backup_file: Path,
    use_recovery: bool,
    as_json: bool,
) -> None:
    """Prove that a backup is whole and opens (exit 4 if it is not).

    Checks the file's structure and checksum, every page's HMAC, the database's and the search
    index's integrity, the counts recorded at backup time, and that the passphrase (or the recovery
    key) opens its key slots. Needs no vault.
    """
    from vault.core import verify_backup

    secret = _secret(use_recovery)
    try:
        report = verify_backup(backup_file, **_unlock_kw(secret, use_recovery))
    finally:
        secret.wipe()
    if as_json:
        emit_json(report.to_json())
    else:
        if report.ok:
            click.echo(f"ok: {plural(report.messages, 'message')}, every page verified ({one_line(str(backup_file))})")
        for p in report.problems:
            click.echo(f"problem: {p}", err=True)
    if not report.ok:
        sys.exit(EXIT_DAMAGED)


@cli.command()
@click.argument("backup_file", metavar="BACKUP", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--to",
    "to",
    required=True,
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="The new vault's directory: it must not exist, or be empty.",
)
@click.option("--recovery-key", "use_recovery", is_flag=True, help=_RECOVERY_HELP)
@passphrase_options
@json_option
@click.pass_obj
def restore(
    state: State,
    backup_file: Path,
    to: Path,
    use_recovery: bool,
    as_json: bool,
) -> None:
    """Make a new vault in DIR from a backup; never over an existing vault.

    The backup is verified in full first; the vault opens with the passphrase and the recovery key
    it had when the backup was made.
    """
    from vault.core import restore_backup

    secret = _secret(use_recovery)
    try:
        result = restore_backup(backup_file, to, **_unlock_kw(secret, use_recovery))
    finally:
        secret.wipe()
    if as_json:
        emit_json({"vault": result["vault"], "messages": result["messages"]})
        return
    click.echo(f"Restored {plural(result['messages'], 'message')} into {result['vault']}; 'talkvault check' passes.")
    click.echo(f"Open it with --vault {result['vault']} (or TALKVAULT_DIR).")
    if use_recovery:
        click.echo(f"Set a new passphrase with: talkvault --vault {result['vault']} passwd --recovery-key")
