"""The one error hierarchy of talkvault: each error carries its message (saying what to do next) and its exit code.

The CLI's single error boundary (vault/cli/__init__.py) turns these into one line on stderr and the
exit code of cli-contract.md. Messages never contain message text, chat names, queries, passphrases
or keys: they name files, line numbers and what to do.
"""

from __future__ import annotations

# Exit codes, cli-contract.md "Exit codes".
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_DAMAGED = 4
EXIT_BUSY = 5


class TalkvaultError(Exception):
    """Base of every expected failure. `str(err)` is the one line shown to the person."""

    exit_code = EXIT_FAILURE
    default_message = "talkvault failed"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class UsageError(TalkvaultError):
    exit_code = EXIT_USAGE
    default_message = "invalid usage; see --help"


class AuthenticationError(TalkvaultError):
    exit_code = EXIT_AUTH
    default_message = (
        "wrong passphrase (or recovery key); nothing was changed. Try again, or reset it "
        "with 'talkvault passwd --recovery-key'"
    )


class VaultDamagedError(TalkvaultError):
    exit_code = EXIT_DAMAGED
    default_message = "the vault is damaged; nothing was changed. Restore from a backup ('talkvault restore')"


class NotAVaultError(VaultDamagedError):
    default_message = "no vault here; create one with 'talkvault init' or choose one with --vault DIR"


class NotFoundError(TalkvaultError):
    """What a command names (a chat, a message id) is not in the vault (exit 1)."""

    default_message = "not in the vault"


class VaultExistsError(TalkvaultError):
    exit_code = EXIT_USAGE
    default_message = "a vault already exists there; choose another directory with --vault DIR"


class VaultBusyError(TalkvaultError):
    exit_code = EXIT_BUSY
    default_message = "the vault is busy (another talkvault process is writing); try again shortly"


class VaultLockedError(TalkvaultError):
    default_message = "the vault is locked; unlock it first"


class DiskFullError(TalkvaultError):
    default_message = (
        "the disk is full (or a file size limit was hit); the operation was rolled back and the "
        "vault is unchanged. Free some space and run it again"
    )


class PassphraseSourceError(TalkvaultError):
    exit_code = EXIT_USAGE


class ExportError(TalkvaultError):
    """An export file that cannot be read at all (the importers' own error type).

    Carries the file and, when known, the line (or record number), and what to do. Never the
    content of the file.
    """

    default_message = "this export could not be read"

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        self.path = path
        self.line = line
        where = ""
        if path is not None:
            where = f"{path}"
            if line is not None:
                where += f", line {line}"
            where += ": "
        super().__init__(where + message)
        self.reason = message


class ExportKeyError(ExportError):
    """An encrypted export whose key is missing or does not open it (exit 3, like a wrong passphrase)."""

    exit_code = EXIT_AUTH


class UnknownFormatError(ExportError):
    """No importer recognised the file."""


class BackupError(TalkvaultError):
    exit_code = EXIT_DAMAGED
    default_message = "the backup is damaged or not a talkvault backup"
