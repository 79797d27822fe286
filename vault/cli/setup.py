"""Commands that make and unlock vaults: init, passwd, export-key."""

from __future__ import annotations

import click

from vault.cli.common import (
    State,
    cli,
    emit_json,
    json_option,
    new_passphrase_options,
    open_vault,
    passphrase_options,
    source_spec,
)

_ALLOW_WEAK_HELP = (
    "Keep a passphrase that is easy to guess (zxcvbn scores it below 3 of 4). A stolen vault is then "
    "cheap to open; prefer four or five random words."
)


@cli.command()
@click.option(
    "--kdf-memory", "kdf_memory", type=int, metavar="MIB", default=None, help="Argon2id memory in MiB (default 256)."
)
@click.option("--kdf-time", "kdf_time", type=int, metavar="N", default=None, help="Argon2id passes (default 3).")
@click.option(
    "--kdf-parallelism", "kdf_parallelism", type=int, metavar="N", default=None, help="Argon2id lanes (default 2)."
)
@click.option("--allow-weak-passphrase", "allow_weak", is_flag=True, help=_ALLOW_WEAK_HELP)
@passphrase_options
@new_passphrase_options
@json_option
@click.pass_obj
def init(
    state: State,
    kdf_memory: int | None,
    kdf_time: int | None,
    kdf_parallelism: int | None,
    allow_weak: bool,
    as_json: bool,
) -> None:
    """Create a vault, and show its recovery key once.

    The passphrase comes from --new-passphrase-* / TALKVAULT_NEW_PASSPHRASE*, else from the
    ordinary passphrase sources, else it is asked twice on the terminal. One that is easy to guess
    is refused (asked again on a terminal) unless --allow-weak-passphrase.
    """
    import vault
    from vault.core import DEFAULT_KDF, FLOOR_KDF, KdfParams
    from vault.secret import check_new_passphrase, has_source, secret_from_sources

    validate = None if allow_weak else check_new_passphrase

    chosen = any(v is not None for v in (kdf_memory, kdf_time, kdf_parallelism))
    params = KdfParams(
        t=kdf_time if kdf_time is not None else DEFAULT_KDF.t,
        m_kib=kdf_memory * 1024 if kdf_memory is not None else DEFAULT_KDF.m_kib,
        p=kdf_parallelism if kdf_parallelism is not None else DEFAULT_KDF.p,
    )
    if chosen and params.below(FLOOR_KDF):
        click.echo(
            "talkvault: warning: these Argon2id settings are below the recommended minimum "
            "(64 MiB, 3 passes); a stolen vault is then cheaper to attack",
            err=True,
        )
    # The new passphrase from the NEW sources; else the ordinary ones (the same setting a script
    # uses afterwards); else asked twice on the terminal.
    if has_source(new_spec := source_spec(new=True), new=True):
        secret = secret_from_sources(new_spec, new=True, validate=validate)
    elif has_source(spec := source_spec()):
        secret = secret_from_sources(spec, validate=validate)
    else:
        secret = secret_from_sources(spec, new=True, validate=validate)
    path = state.path()
    try:
        with vault.create(path, secret, kdf=params, kdf_chosen=chosen, allow_weak_passphrase=allow_weak) as v:
            rk = v.recovery_key
            assert rk is not None
            if as_json:
                emit_json({"vault": str(path), "recovery_key": rk.text()})
            else:
                click.echo(f"Created a vault in {path}")
                click.echo("")
                click.echo("Your recovery key (shown only this once; write it down and keep it apart from")
                click.echo("this computer: it is the only way in if you forget the passphrase):")
                click.echo("")
                click.echo(f"    {rk.text()}")
                click.echo("")
                click.echo("Next: talkvault import PATH   (see 'talkvault formats' for what can be read)")
            rk.wipe()
    finally:
        secret.wipe()


@cli.command()
@click.option(
    "--recovery-key",
    "use_recovery",
    is_flag=True,
    help="Reset the passphrase with the recovery key (read from the passphrase sources or asked).",
)
@click.option("--allow-weak-passphrase", "allow_weak", is_flag=True, help=_ALLOW_WEAK_HELP)
@passphrase_options
@new_passphrase_options
@json_option
@click.pass_obj
def passwd(
    state: State,
    use_recovery: bool,
    allow_weak: bool,
    as_json: bool,
) -> None:
    """Change the passphrase (or reset it with the recovery key).

    Only the key file is rewritten, atomically; the database is not touched. A new passphrase that
    is easy to guess is refused (asked again on a terminal) unless --allow-weak-passphrase.
    """
    from vault.core import change_passphrase
    from vault.secret import check_new_passphrase, secret_from_sources

    spec = source_spec()
    old = secret_from_sources(spec, what="recovery key" if use_recovery else "passphrase")
    new = None
    try:
        new = secret_from_sources(
            source_spec(new=True), new=True, validate=None if allow_weak else check_new_passphrase
        )
        if use_recovery:
            change_passphrase(state.path(), new, recovery_key=old, allow_weak_passphrase=allow_weak)
        else:
            change_passphrase(state.path(), new, old=old, allow_weak_passphrase=allow_weak)
    finally:
        old.wipe()
        if new is not None:
            new.wipe()
    if as_json:
        emit_json({"ok": True})
    else:
        click.echo("Passphrase changed. The recovery key still works.")


@cli.command("export-key")
@passphrase_options
@json_option
@click.pass_obj
def export_key(state: State, as_json: bool) -> None:
    """Print the raw database key (hex) for stock SQLCipher tools.

    Anyone with this key and a copy of vault.db can read everything, and changing the passphrase
    does not change it. Open the database with:  PRAGMA key = "x'<key>'";
    """
    with open_vault(state) as v:
        key = v.export_key()
    click.echo(
        "talkvault: warning: this key opens the whole vault and survives passphrase changes; "
        "do not store it next to the vault",
        err=True,
    )
    if as_json:
        emit_json({"key": key})
    else:
        click.echo(key)
