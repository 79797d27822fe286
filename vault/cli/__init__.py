"""The talkvault command line: the click group, the one error boundary, and shared helpers.

Commands live in one module per group (setup.py, data.py, ...) and stay thin: parse, call one
library function, format. Expected failures (TalkvaultError) print one line on stderr and exit with
their code (cli-contract.md); a traceback only with --debug.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any, NoReturn

import click

from vault.cli import common
from vault.cli.common import State, cli, emit_json, json_option, open_vault, passphrase_options, source_spec
from vault.display import one_line
from vault.errors import EXIT_FAILURE, EXIT_USAGE, TalkvaultError

__all__ = ["State", "cli", "emit_json", "json_option", "main", "open_vault", "passphrase_options", "source_spec"]


def _register() -> None:
    from vault.cli import data, demo, setup  # noqa: F401 - commands register themselves on import

    # Command groups that live in their own modules (each registers itself on import).
    for mod in (
        "vault.cli.manage",
        "vault.cli.shell",
        "vault.cli.watch",
        "vault.cli.export",
        "vault.cli.backup",
        "vault.cli.agent",
        "vault.cli.serve",
    ):
        try:
            __import__(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    click.echo(f"talkvault: warning: {message}", err=True)


def _asked_for_json(args: list[str]) -> bool:
    """Whether --json is among the options (before a `--`, after which words are a query's)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--json":
            return True
    return False


def main(argv: list[str] | None = None) -> None:
    """The error boundary: every expected failure becomes one line and an exit code.

    With --json, a failure also prints `{"error": {"exit": N, "message": STR}}` on stdout, unless
    the command already printed its document (import's report, failed files included)."""
    _register()
    warnings.showwarning = _show_warning
    args = argv if argv is not None else sys.argv[1:]
    debug = "--debug" in args
    as_json = _asked_for_json(args)

    def fail(code: int, message: str, kind: str = "error: ") -> NoReturn:
        click.echo(f"talkvault: {kind}{one_line(message)}", err=True)  # it may name a file: data
        if as_json and not common.json_emitted:
            try:
                emit_json({"error": {"exit": code, "message": message}})
            except OSError:
                pass
        sys.exit(code)

    try:
        rv = cli.main(args=argv, prog_name="talkvault", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.ClickException as exc:
        if not as_json:
            exc.show()
            sys.exit(exc.exit_code if exc.exit_code else EXIT_USAGE)
        fail(exc.exit_code if exc.exit_code else EXIT_USAGE, exc.format_message())
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            fail(130, "interrupted; nothing was left half-done", "")
        fail(EXIT_FAILURE, "aborted; nothing was changed", "")
    except TalkvaultError as exc:
        if debug:
            import traceback

            traceback.print_exc()
        fail(exc.exit_code, exc.message)
    except KeyboardInterrupt:
        fail(130, "interrupted; nothing was left half-done", "")
    except BrokenPipeError:
        sys.exit(EXIT_FAILURE)
    except Exception as exc:
        if debug:
            raise
        fail(
            EXIT_FAILURE,
            f"internal error ({type(exc).__name__}). "
            "Run again with --debug and report the traceback (check it for private text first)",
            "",
        )
    sys.exit(rv if isinstance(rv, int) else 0)
