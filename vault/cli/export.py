"""`talkvault export`: write conversations out in the clear (html, jsonl, txt, chatlab), where asked."""

from __future__ import annotations

import click

from vault.cli.common import State, cli, emit_json, json_option, open_vault, passphrase_options
from vault.display import one_line, plural


@cli.command("export")
@click.argument("chat", required=False)
@click.option("--all", "all_chats", is_flag=True, help="Export every chat.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "jsonl", "txt", "chatlab"]),
    required=True,
    help="html: a readable offline view; jsonl: the interchange format 'import' reads back; txt: plain text; "
    "chatlab: ChatLab's JSON (JSONL for big chats), one file per chat.",
)
@click.option(
    "--out",
    "out",
    metavar="PATH",
    type=click.Path(),
    required=True,
    help="Where to write: a new file, or a new (or empty) folder. Nothing is ever overwritten.",
)
@click.option(
    "--tz", metavar="ZONE", default=None, help="Show times in this zone (html, txt; default: this machine's)."
)
@passphrase_options
@json_option
@click.pass_obj
def export_(
    state: State,
    chat: str | None,
    all_chats: bool,
    fmt: str,
    out: str,
    tz: str | None,
    as_json: bool,
) -> None:
    """Write one chat (id or title, see 'talkvault chats') or --all of them out of the vault, unencrypted.

    For one chat, --out is a file, or a folder when attachments (or, for html, several pages) go
    with it; --all writes a folder (txt: one file). The result is plaintext: keep it safe and
    delete it when you no longer need it.
    """
    from vault.core import check_export_request as check_request
    from vault.timeutil import resolve_tz

    check_request(chat, all_chats, fmt, out)  # usage errors before the passphrase is asked
    resolve_tz(tz)
    with open_vault(state) as v:
        result = v.export(chat, format=fmt, out=out, all_chats=all_chats, tz=tz)
    what = plural(result["messages"], "message")
    if result["attachments"]:
        what += f" and {plural(result['attachments'], 'attachment')}"
    click.echo(
        f"talkvault: warning: wrote plaintext to {one_line(str(result['path']))} ({what}, not encrypted); "
        "delete it when you no longer need it",
        err=True,
    )
    if as_json:
        emit_json(result)
        return
    chats = plural(result["chats"], "chat")
    click.echo(
        f"Exported {plural(result['messages'], 'message')}, {plural(result['events'], 'event')} and "
        f"{plural(result['attachments'], 'attachment')} from {chats} as {fmt}: open {one_line(str(result['main']))}"
    )
