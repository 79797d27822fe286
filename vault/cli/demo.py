"""`talkvault demo`: a throwaway vault filled from a bundled sample export, to see the product in one step."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import click

from vault.cli.common import cli
from vault.display import plural

DEMO_PASSPHRASE = "demo passphrase"
SAMPLE = Path(__file__).resolve().parent.parent / "demo" / "sample.jsonl"
TOUR = ("警察", "腾讯", "cafe", "from:Lukas", "😂", "東京", "점심", "has:attachment")


@cli.command()
@click.option("--keep", is_flag=True, help="Keep the demo vault and print where it is.")
@click.option("--no-shell", is_flag=True, help="Print a short tour instead of opening the shell.")
def demo(keep: bool, no_shell: bool) -> None:
    """Try talkvault on a throwaway vault filled with a sample chat export in several languages."""
    import vault
    from vault.core import FLOOR_KDF

    base = Path(tempfile.mkdtemp(prefix="talkvault-demo-"))
    path = base / "vault"
    try:
        click.echo(f"Demo vault: {path}")
        click.echo(f"Passphrase: {DEMO_PASSPHRASE!r} (a demo only: never use a known passphrase for real history)")
        # A published passphrase is weak by definition; the demo vault holds sample data only.
        with vault.create(path, DEMO_PASSPHRASE, kdf=FLOOR_KDF, kdf_chosen=True, allow_weak_passphrase=True) as v:
            rep = v.import_path(SAMPLE, tz="UTC")
            click.echo(
                f"Imported {plural(rep.added, 'message')} and {plural(rep.events, 'event')} in "
                f"{plural(rep.chats, 'chat')} "
                "(WeChat, Telegram, LINE, KakaoTalk and WhatsApp samples).\n"
            )
            if not no_shell and sys.stdin.isatty() and sys.stdout.isatty():
                from vault.shell import run_shell

                click.echo("Opening the shell: type a search, 'help' for commands, Ctrl-D to leave.\n")
                run_shell(v, path=path, passphrase_hint="the demo passphrase above")
            else:
                _tour(v)
        if keep:
            click.echo(f"\nThe demo vault stays in {path}; open it with:  talkvault --vault {path} shell")
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)


def _tour(v: object) -> None:
    from vault.cli.data import print_message

    for q in TOUR:
        hits = v.search(q, limit=3, highlight=True)  # type: ignore[attr-defined]
        click.echo(click.style(f"$ talkvault search {q!r}", bold=True) + f"   ({len(hits)} shown)")
        for h in hits:
            print_message(h, color=False, spans=h.get("highlights"))
        click.echo("")
