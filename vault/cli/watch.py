"""`talkvault watch`: import every export that lands in watched folders (the library is vault/watch/__init__.py).

The command parses its options, refuses to run without a non-interactive passphrase source (a
daemon never prompts), unlocks the vault once and calls `vault.watch.watch`; it only formats the
events: one line per event on stderr, or with --json one JSON object per event on stdout (JSON
lines), or with --once --json exactly the import command's object.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from vault.cli.common import (
    State,
    cli,
    emit_json,
    json_option,
    open_vault,
    passphrase_options,
    reading_options,
    source_spec,
)
from vault.errors import EXIT_FAILURE


@cli.command("watch")
@click.argument("dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--once",
    is_flag=True,
    help="Import what is in the folders now (waiting for files still being written), then exit: for cron.",
)
@click.option(
    "--settle",
    type=click.FloatRange(min=0),
    default=3.0,
    show_default=True,
    metavar="SECONDS",
    help="How long a file or folder must stay unchanged before it is imported.",
)
@click.option(
    "--shred-imported",
    is_flag=True,
    help="After an export is safely in the vault, overwrite it with random bytes and delete it "
    "(SSDs and copy-on-write file systems keep old blocks: see docs/watch.md).",
)
@reading_options
@click.option(
    "--rescan",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="Look through the folders this often for changes the system did not report (network drives); 0: never.",
)
@passphrase_options
@json_option
@click.pass_obj
def watch_(
    state: State,
    dirs: tuple[Path, ...],
    once: bool,
    settle: float,
    shred_imported: bool,
    tz: str | None,
    date_order: str | None,
    rescan: float,
    as_json: bool,
) -> None:
    """Import every export that lands in DIR... (WhatsApp zips, Telegram folders, ...), now and as it arrives.

    Each file or export folder is imported once it has stopped changing, each in its own
    transaction; what the vault already has is skipped. Runs until SIGTERM or Ctrl-C (the current
    import finishes first); with --once, until what is there now is done. The passphrase must come
    from --passphrase-fd, --passphrase-file, --passphrase-command or the environment: the watcher
    never asks. Logs name files and counts, never message text.
    """
    from importers.base import ParseOptions
    from vault.watch import WatchEvent, require_unattended_passphrase, watch

    require_unattended_passphrase(source_spec())

    def on_event(event: WatchEvent) -> None:
        if as_json:
            if not once:
                emit_json(event.to_json())  # one JSON object a line; the error boundary adds none
                sys.stdout.flush()
            return
        if event.kind == "importing" or (once and event.kind not in ("imported", "failed", "shredded", "kept")):
            return  # a cron run says only what it imported, shredded or could not
        click.echo(event.line(), err=True)

    with open_vault(state) as v:
        result = watch(
            v,
            dirs,
            once=once,
            settle=settle,
            shred_imported=shred_imported,
            tz=tz,
            options=ParseOptions(date_order=date_order),
            rescan=rescan,
            on_event=on_event,
        )
    if once and as_json:
        emit_json({**result, "dry_run": False})
    if once and any(f.get("error") for f in result["files"]):
        sys.exit(EXIT_FAILURE)
