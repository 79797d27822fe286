"""`talkvault serve`: unlock once, then browse the vault at http://127.0.0.1 (vault/serve/ does the work)."""

from __future__ import annotations

import sys

import click

from vault.cli.common import State, cli, emit_json, json_option, open_vault, passphrase_options


@cli.command()
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default=True, help="Port (0: a free one).")
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    metavar="ADDRESS",
    help="Only 127.0.0.1 (or localhost) is accepted: anything else is refused (exit 2).",
)
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the URL.")
@click.option(
    "--lock-after",
    "lock_after",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    metavar="MINUTES",
    help="Lock after this long without a request (fractions allowed): the key is wiped and the page asks "
    "for the passphrase again.",
)
@click.option("--tz", metavar="ZONE", default=None, help="Show times in this zone (default: this machine's).")
@passphrase_options
@json_option
@click.pass_obj
def serve(
    state: State,
    port: int,
    host: str,
    no_browser: bool,
    lock_after: float,
    tz: str | None,
    as_json: bool,
) -> None:
    """Browse, search and delete in a browser, on 127.0.0.1 only; Ctrl-C ends it and wipes the key.

    Prints the URL to open (with a one-time token) as its first line; every request needs the
    session that token starts. Nothing about the history is put in a URL, a page title or a
    file; media is never cached. After --lock-after minutes without a request the key is wiped
    and the page asks for the passphrase (or the recovery key) again.
    """
    import vault
    from vault.serve.server import check_host, run

    check_host(host)  # refused before the passphrase is asked
    zone = vault.Vault.time_zone(tz)
    path = state.path()

    def reopen(secret: str, recovery: bool) -> vault.Vault:
        if recovery:
            return vault.open(path, recovery_key=secret, busy_timeout_ms=state.wait_ms)
        return vault.open(path, secret, busy_timeout_ms=state.wait_ms)

    def announce(url: str) -> None:
        if as_json:
            emit_json({"url": url})
        else:
            click.echo(url)
        sys.stdout.flush()
        click.echo(
            "talkvault: serving the vault on 127.0.0.1 only; open the URL above (it works once). "
            "Ctrl-C ends it and wipes the key",
            err=True,
        )

    v = open_vault(state)
    run(v, reopen, port=port, lock_after=lock_after * 60, zone=zone, announce=announce, open_browser=not no_browser)
    click.echo("talkvault: stopped; the key was wiped", err=True)
