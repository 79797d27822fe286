"""`check`: the vault's integrity, the way an auditor would look at it.

SQLCipher's per-page HMACs (cipher_integrity_check), SQLite's integrity_check, the FTS5 index's
integrity-check, the schema version, the security pragmas, the FTS secure-delete setting and the
binding between key file and database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault import db, schema
from vault.secret import wipe

if TYPE_CHECKING:
    from vault.core import Vault


def check(v: Vault, *, pages_authenticated: bool = False) -> dict[str, Any]:
    """Every check runs even when an earlier one failed; a damaged page is a problem, not a crash.

    `pages_authenticated`: the caller has just checked every page's HMAC of this very file (verify
    does, as it copies a backup's database out), so SQLCipher's own pass over them is skipped."""
    c = v.conn
    problems: list[str] = []

    def step(what: str, fn: Any) -> None:
        try:
            fn()
        except db.Error as exc:
            problems.append(f"{what}: could not be checked ({db.translate(exc).message})")

    def cipher() -> None:
        problems.extend(f"encryption: {row}" for (row,) in c.execute("PRAGMA cipher_integrity_check"))

    def sqlite() -> None:
        rows = [r[0] for r in c.execute("PRAGMA integrity_check")]
        if rows != ["ok"]:
            problems.extend(f"database: {r}" for r in rows[:20])

    def index(table: str) -> None:
        try:
            c.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 0)")
        except db.Error:
            problems.append(f"search index {table}: does not match the messages; run 'talkvault reindex'")
        if not schema.fts_secure_delete_on(c, table):
            problems.append(f"search index {table}: secure-delete is off")

    def version() -> None:
        got = schema.current_version(c)
        if got != schema.SCHEMA_VERSION:
            problems.append(f"schema: version {got}, expected {schema.SCHEMA_VERSION}")

    def settings() -> None:
        for name, expect in (
            ("secure_delete", 1),
            ("temp_store", 2),
            ("journal_mode", "delete"),
            ("cipher_use_hmac", 1),
            ("cipher_plaintext_header_size", 0),
            ("cipher_page_size", 4096),
            ("foreign_keys", 1),
        ):
            row = c.execute(f"PRAGMA {name}").fetchone()
            got = row[0] if row else None
            if str(got) != str(expect):
                problems.append(f"setting: PRAGMA {name} reads {got!r}, expected {expect!r}")

    def references() -> None:
        fk = c.execute("PRAGMA foreign_key_check").fetchmany(5)
        if fk:
            problems.append(f"database: {len(fk)}+ rows point at missing rows")
        stale = c.execute("SELECT count(*) FROM imports WHERE status = 'running'").fetchone()[0]
        if stale:
            problems.append(f"imports: {stale} import(s) marked running")

    if not pages_authenticated:
        step("encryption", cipher)
    step("database", sqlite)
    step("search index", lambda: index("fts"))
    step("name index", lambda: index("names_fts"))
    step("schema", version)
    step("settings", settings)
    step("references", references)
    n = 0
    try:
        n = c.execute("SELECT count(*) FROM messages WHERE is_event = 0").fetchone()[0]
    except db.Error:
        pass
    return {"ok": not problems, "messages": n, "problems": problems}


def check_damaged(path: Any, secret: Any, reason: str) -> dict[str, Any]:
    """When the vault will not open: unlock the key and list the pages that fail their HMAC."""
    from pathlib import Path

    from vault.core import DB_NAME
    from vault.errors import TalkvaultError
    from vault.keys import KEYSLOTS_NAME, KeyFile

    problems = [reason]
    try:
        keyfile = KeyFile.load(Path(path) / KEYSLOTS_NAME)
        dek, _ = keyfile.unlock(secret)
    except TalkvaultError as exc:
        return {"ok": False, "messages": 0, "problems": [*problems, exc.message]}
    try:
        conn = db.connect(Path(path) / DB_NAME, dek, readonly=True)
    except TalkvaultError:
        return {"ok": False, "messages": 0, "problems": [*problems, "encryption: page 1 does not verify"]}
    try:
        for (row,) in conn.execute("PRAGMA cipher_integrity_check"):
            problems.append(f"encryption: {row}")
    except db.Error:
        pass
    finally:
        conn.close()
        wipe(dek)
    return {"ok": False, "messages": 0, "problems": problems}
