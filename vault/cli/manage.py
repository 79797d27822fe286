"""Commands that change what the vault holds or how it is keyed: delete, forget-deleted, rotate-key, reindex."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from vault.cli.common import (
    State,
    cli,
    color_enabled,
    emit_json,
    json_option,
    open_vault,
    passphrase_options,
    source_spec,
)
from vault.display import CONFIRM_PROMPT, confirmed, deletion_question, plural
from vault.errors import UsageError

if TYPE_CHECKING:
    from vault.core import ChatRow, Vault


@cli.command()
@click.option("--message", "message_ids", multiple=True, metavar="ID", help="A message id (repeatable).")
@click.option("--chat", metavar="ID", default=None, help="A whole chat (id or exact title).")
@click.option("--query", metavar="Q", default=None, help="Every message a search finds.")
@click.option("--before", metavar="DATE", default=None, help="Only messages before DATE (YYYY[-MM[-DD]]).")
@click.option("--after", metavar="DATE", default=None, help="Only messages on or after DATE.")
@click.option("--dry-run", is_flag=True, help="List what would be deleted; delete nothing.")
@click.option("--yes", is_flag=True, help="Do not ask (needed when there is no terminal).")
@passphrase_options
@json_option
@click.pass_obj
def delete(
    state: State,
    message_ids: tuple[str, ...],
    chat: str | None,
    query: str | None,
    before: str | None,
    after: str | None,
    dry_run: bool,
    yes: bool,
    as_json: bool,
) -> None:
    """Securely delete messages: by id, a whole chat, or what a search finds.

    Rows, index entries, attachments no longer used and freed pages are wiped, and a tombstone
    (a keyed hash, never the text) stops a later import of an old export from bringing them
    back. Backups made before, the original export files and the provider's copy are not
    touched: see docs/security.md.
    """
    if sum(1 for x in (bool(message_ids), chat, query) if x) != 1:
        raise UsageError("say what to delete: --message ID..., --chat ID or --query Q (exactly one)")
    with open_vault(state) as v:
        ids = list(message_ids) or None
        plan = v.delete(ids, chat, query, before, after, dry_run=True)
        if dry_run:
            if as_json:
                emit_json({**plan, "dry_run": True})
                return
            from vault.cli.data import print_message

            planned = [int(i) for i in plan["ids"]]
            for start in range(0, len(planned), 500):
                for m in v.messages(planned[start : start + 500]):
                    print_message(m, color_enabled())
            click.echo(
                f"Would delete {plural(plan['deleted'], 'message')} and "
                f"{plural(plan['attachments'], 'attachment file')}."
            )
            return
        if plan["deleted"] and not yes:
            if not (sys.stdin.isatty() and sys.stderr.isatty()):
                raise UsageError("deleting needs confirmation: run it on a terminal, or add --yes")
            whole = _whole_chat(v, chat) if chat and not (before or after) else None
            title, counts = (whole["title"], (whole["messages"], whole["events"])) if whole else (None, None)
            question = deletion_question(plan["ids"], v.messages, plan["attachments"], chat_title=title, counts=counts)
            click.echo(question, err=True)
            answer = click.prompt(CONFIRM_PROMPT, default="", show_default=False, err=True)
            if not confirmed(answer):
                raise click.Abort()
        result = v.delete(ids, chat, query, before, after)
    if as_json:
        emit_json(result)
    else:
        click.echo(
            f"Deleted {plural(result['deleted'], 'message')} and {plural(result['attachments'], 'attachment file')}."
        )


def _whole_chat(v: Vault, chat: str) -> ChatRow | None:
    cid = str(v.resolve_chat(chat))
    return next((c for c in v.chats() if c["id"] == cid), None)


@cli.command("forget-deleted")
@click.option("--chat", metavar="ID", default=None, help="Forget the deletions in this chat.")
@click.option(
    "--export", "export", metavar="PATH", default=None, help="Forget the deletions in the chats of this export."
)
@click.option("--all", "everything", is_flag=True, help="Forget every deletion.")
@passphrase_options
@json_option
@click.pass_obj
def forget_deleted(
    state: State,
    chat: str | None,
    export: str | None,
    everything: bool,
    as_json: bool,
) -> None:
    """Let deleted messages be imported again (they are skipped on import until you do)."""
    with open_vault(state) as v:
        n = v.forget_deleted(chat=chat, export=export, everything=everything)
    if as_json:
        emit_json({"forgotten": n})
    else:
        click.echo(f"Forgot {plural(n, 'deletion')}; importing their export again will bring them back.")


@cli.command("rotate-key")
@passphrase_options
@json_option
@click.pass_obj
def rotate_key(state: State, as_json: bool) -> None:
    """Re-encrypt the vault under a new data key, in a fresh file; shows a new recovery key.

    Old copies of the database that the disk may still hold (after deletions) are then under a
    key that no slot opens. The old recovery key and any exported key stop working.
    """
    import vault
    from vault.secret import secret_from_sources

    secret = secret_from_sources(source_spec())
    try:
        with vault.open(state.path(), secret, busy_timeout_ms=state.wait_ms) as v:
            rk = v.rotate_key(secret)
    finally:
        secret.wipe()
    if as_json:
        emit_json({"ok": True, "recovery_key": rk.text()})
    else:
        click.echo("The vault now has a new data key. Your NEW recovery key (the old one no longer works):")
        click.echo(f"\n    {rk.text()}\n")
    rk.wipe()


@cli.command()
@passphrase_options
@json_option
@click.pass_obj
def reindex(state: State, as_json: bool) -> None:
    """Rebuild the search index from the stored messages."""
    with open_vault(state) as v:
        n = v.rebuild_index()
    if as_json:
        emit_json({"messages": n})
    else:
        click.echo(f"Rebuilt the search index over {plural(n, 'message or event', 'messages and events')}.")
