"""Signal: the Signal Desktop database, and what sigtop and signal-export write from it.

Signal has no export of its own. A person can import, from most to least complete:

* **signal-desktop**: Signal Desktop's own encrypted database, `sql/db.sqlite` in the Signal
  folder (Linux `~/.config/Signal`, macOS `~/Library/Application Support/Signal`, Windows
  `%APPDATA%\\Signal`), opened read-only. Its key is the 64-hex-digit `"key"` in `config.json`
  beside `sql/` (Signal Desktop before 7.16), or given with `--signal-key HEX`
  (`ParseOptions.keys["signal"]`) when `config.json` holds only `"encryptedKey"` (7.16 and later,
  kept in the system keyring). A decrypted copy (`sigtop export-database`) is read as well.
  Database schema versions (`PRAGMA user_version`) 19 and later are read, as sigtop does.
* **sigtop**: `sigtop export-messages` in its `json` or `text` format (importers/signal/sigtop.py).
* **signal-export**: carderne/signal-export's `chat.md` / `data.json` (importers/signal/backup_export.py).

Cipher settings: Signal Desktop uses SQLCipher 4 with its defaults: 4096-byte pages,
HMAC-SHA512 page authentication, PBKDF2-HMAC-SHA512 (not used with a raw key). The key is given
raw (`PRAGMA key = "x'<hex>'"`), so no passphrase derivation happens; the settings are set
explicitly all the same (they are what signal-export sets, minus its ignored `kdf_iter`).

This module finds the profile, obtains the key and opens the database; importers/signal/desktop.py
walks it. It opens the database through importers/foreign_db.py, the one importer module that imports `sqlcipher3`.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from importers.base import Format, ParseOptions, loads_json, read_head
from importers.foreign_db import WrongKey, db_errors, open_plain, try_encrypted
from importers.signal.backup_export import detect_signal_export, parse_signal_export
from importers.signal.desktop import Profile, read_database
from importers.signal.sigtop import detect_sigtop, parse_sigtop
from vault.errors import ExportError
from vault.records import Record

# Signal Desktop profile layout (tbvdm/sigtop signal/const.go).
DB_DIR = "sql"
DB_NAME = "db.sqlite"
CONFIG_NAME = "config.json"
SQLITE_MAGIC = b"SQLite format 3\x00"
# A raw SQLCipher key as Signal stores it: 32 bytes in hex.
HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
# Tables that together mark a Signal Desktop database (plaintext copies are detected by them).
SIGNAL_TABLES = frozenset({"messages", "conversations", "items", "sticker_packs"})

KEY_HELP = (
    "pass the database key (64 hexadecimal digits) in $TALKVAULT_SIGNAL_KEY or with "
    "--signal-key HEX; docs/importers/signal.md shows how to obtain it"
)
ENCRYPTED_KEY_HELP = (
    "Signal Desktop 7.16 or later keeps this database's key encrypted with your system keyring "
    "(config.json has only 'encryptedKey'), which talkvault does not read. Obtain the 64-hex-digit "
    "key on this computer, logged in as yourself, with sigtop ('sigtop export-key -D') or with "
    "the per-system steps in docs/importers/signal.md, then pass it in $TALKVAULT_SIGNAL_KEY "
    "(or with --signal-key HEX)"
)


# --- locating the profile ---------------------------------------------------------------------
def _locate(path: Path) -> Profile | None:
    """The Signal profile behind `path` (the folder, its `sql/` folder or `db.sqlite`)."""
    try:
        if path.is_dir():
            if (path / DB_DIR / DB_NAME).is_file():
                root, db = path, path / DB_DIR / DB_NAME
            elif path.name == DB_DIR and (path / DB_NAME).is_file():
                root, db = path.parent, path / DB_NAME
            else:
                return None
        elif path.is_file():
            root = path.parent.parent if path.parent.name == DB_DIR else path.parent
            db = path
        else:
            return None
        head = read_head(db, len(SQLITE_MAGIC))
    except OSError:
        return None
    return Profile(root, db, encrypted=head != SQLITE_MAGIC)


def _plain_signal_tables(db: Path) -> bool:
    """Whether a plaintext SQLite file has Signal Desktop's tables (read-only, immutable)."""
    try:
        con = sqlite3.connect(db.resolve().as_uri() + "?mode=ro&immutable=1", uri=True)
        try:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            con.close()
    except (sqlite3.Error, OSError, ValueError):
        return False
    return names >= SIGNAL_TABLES


def detect_desktop(path: Path) -> bool:
    """A Signal folder, its sql/ folder, sql/db.sqlite (with config.json), or a decrypted copy."""
    try:
        profile = _locate(path)
        if profile is None:
            return False
        if profile.encrypted:
            return (
                profile.db.name == DB_NAME
                and profile.db.parent.name == DB_DIR
                and (profile.root / CONFIG_NAME).is_file()
                and profile.db.stat().st_size > 0
            )
        return _plain_signal_tables(profile.db)
    except Exception:
        return False


# --- the key ------------------------------------------------------------------------------------
def _key(profile: Profile, options: ParseOptions) -> str:
    """The raw database key (hex) from the options or from config.json, or ExportError."""
    given = options.keys.get("signal")
    if given:
        key = given.strip()
        if key.lower().startswith("x'") and key.endswith("'"):
            key = key[2:-1]
        if not HEX_KEY.fullmatch(key):
            raise ExportError(
                "the Signal key must be 64 hexadecimal digits (0-9, a-f); check what was passed with --signal-key",
                path=str(profile.db),
            )
        return key
    config = profile.root / CONFIG_NAME
    try:
        with open(config, "rb") as fh:
            data = loads_json(fh.read(1 << 20), str(config))
    except FileNotFoundError:
        raise ExportError(
            f"no {CONFIG_NAME} next to the sql/ folder, so the database key is unknown; " + KEY_HELP,
            path=str(profile.db),
        ) from None
    except (OSError, ValueError) as exc:
        raise ExportError(f"{CONFIG_NAME} cannot be read as JSON; " + KEY_HELP, path=str(config)) from exc
    if isinstance(data, dict) and isinstance(data.get("key"), str):
        if HEX_KEY.fullmatch(data["key"]):
            return str(data["key"])
        raise ExportError(
            f"the 'key' in {CONFIG_NAME} is not 64 hexadecimal digits; " + KEY_HELP,
            path=str(config),
        )
    if isinstance(data, dict) and "encryptedKey" in data:
        raise ExportError(ENCRYPTED_KEY_HELP, path=str(config))
    raise ExportError(f"{CONFIG_NAME} holds no database key; " + KEY_HELP, path=str(config))


def _connect(profile: Profile, key: str | None) -> tuple[Any, tuple[type[Exception], ...]]:
    """A read-only connection (importers/foreign_db.py) and the exception types it raises.

    `immutable=1` is safe because the caller refused a database with unsaved changes in its WAL.
    """
    errors = db_errors()
    if key is None:
        try:
            return open_plain(profile.db), errors
        except errors as exc:
            raise ExportError("the database cannot be opened", path=str(profile.db)) from exc
    attempt = [
        f"PRAGMA key = \"x'{key}'\"",  # key is checked to be 64 hex digits
        "PRAGMA cipher_page_size = 4096",
        "PRAGMA cipher_hmac_algorithm = HMAC_SHA512",
        "PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA512",
    ]
    try:
        con, _ = try_encrypted(profile.db, [attempt])
    except WrongKey:
        raise ExportError(
            "the Signal key does not open this database (wrong key, or not a Signal Desktop "
            "database); check the key, or " + KEY_HELP,
            path=str(profile.db),
        ) from None
    return con, errors


def _wal_has_changes(db: Path) -> bool:
    try:
        return db.with_name(db.name + "-wal").stat().st_size > 0
    except OSError:
        return False


def parse_desktop(path: Path, options: ParseOptions) -> Iterator[Record]:
    profile = _locate(path)
    if profile is None:
        raise ExportError(
            "no Signal Desktop database here: choose the Signal folder, its sql/ folder or sql/db.sqlite",
            path=str(path),
        )
    if _wal_has_changes(profile.db):
        raise ExportError(
            "Signal Desktop is running, or did not close cleanly (sql/db.sqlite-wal holds "
            "changes not yet in the database): quit Signal Desktop, wait a few seconds, and "
            "import again",
            path=str(profile.db),
        )
    key = _key(profile, options) if profile.encrypted else None
    try:
        con, errors = _connect(profile, key)
    except ExportError:
        raise
    except (sqlite3.Error, OSError, ValueError) as exc:
        raise ExportError("the database cannot be opened", path=str(profile.db)) from exc
    try:
        yield from read_database(con, errors, profile, options)
    finally:
        con.close()


FORMATS = [
    Format(
        name="signal-desktop",
        source="signal",
        description=(
            "Signal Desktop's own database (the Signal folder, or sql/db.sqlite), read-only, "
            "with the key from config.json or --signal-key; also a decrypted copy"
        ),
        detection=("a folder with sql/db.sqlite and config.json, or a SQLite file with Signal's tables"),
        detect=detect_desktop,
        parse=parse_desktop,
    ),
    Format(
        name="sigtop",
        source="signal",
        description="sigtop export-messages output, JSON or text (a file per chat, or the folder)",
        detection="a JSON array of Signal message objects, or a text file starting 'Conversation:'",
        detect=detect_sigtop,
        parse=parse_sigtop,
    ),
    Format(
        name="signal-export",
        source="signal",
        description=("signal-export (sigexport) output: chat.md or data.json per chat, or the folder"),
        detection=("'[YYYY-MM-DD HH:MM:SS] Name: ' Markdown lines, or JSON lines with date/sender/body"),
        detect=detect_signal_export,
        parse=parse_signal_export,
        naive_times=True,
    ),
]
