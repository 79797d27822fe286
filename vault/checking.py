"""`check`: the vault's integrity, the way an auditor would look at it.

SQLCipher's per-page HMACs (cipher_integrity_check), SQLite's integrity_check, the FTS5 index's
integrity-check, the schema version, the security pragmas, the FTS secure-delete setting and the
binding between key file and database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vault import db, schema

if TYPE_CHECKING:
    from vault.core import Vault


def check(v: Vault) -> dict[str, Any]:
    c = v.conn
    problems: list[str] = []
    try:
        for (row,) in c.execute("PRAGMA cipher_integrity_check"):
            problems.append(f"encryption: {row}")
    except db.Error as exc:
        problems.append(f"encryption: the page check could not run ({type(exc).__name__})")
    try:
        rows = [r[0] for r in c.execute("PRAGMA integrity_check")]
        if rows != ["ok"]:
            problems.extend(f"database: {r}" for r in rows[:20])
    except db.Error as exc:
        problems.append(f"database: integrity check failed ({type(exc).__name__})")
    for table in ("fts", "names_fts"):
        try:
            c.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 0)")
        except db.Error:
            problems.append(f"search index {table}: does not match the messages; run 'talkvault reindex'")
        if not schema.fts_secure_delete_on(c, table):
            problems.append(f"search index {table}: secure-delete is off")
    version = schema.current_version(c)
    if version != schema.SCHEMA_VERSION:
        problems.append(f"schema: version {version}, expected {schema.SCHEMA_VERSION}")
    for name, expect in (
        ("secure_delete", 1),
        ("temp_store", 2),
        ("journal_mode", "delete"),
        ("cipher_use_hmac", 1),
        ("cipher_plaintext_header_size", 0),
        ("cipher_page_size", 4096),
        ("foreign_keys", 1),
    ):
        got = c.execute(f"PRAGMA {name}").fetchone()
        got = got[0] if got else None
        if str(got) != str(expect):
            problems.append(f"setting: PRAGMA {name} reads {got!r}, expected {expect!r}")
    fk = c.execute("PRAGMA foreign_key_check").fetchmany(5)
    if fk:
        problems.append(f"database: {len(fk)}+ rows point at missing rows")
    stale = c.execute("SELECT count(*) FROM imports WHERE status = 'running'").fetchone()[0]
    if stale:
        problems.append(f"imports: {stale} import(s) marked running")
    n = c.execute("SELECT count(*) FROM messages WHERE is_event = 0").fetchone()[0]
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
        for i in range(len(dek)):
            dek[i] = 0
    return {"ok": False, "messages": 0, "problems": problems}
