"""`check`: the vault's integrity, the way an auditor would look at it.

SQLCipher's per-page HMACs (cipher_integrity_check), SQLite's integrity_check, the FTS5 index's
integrity-check, the schema version, the security pragmas, the FTS secure-delete setting and the
binding between key file and database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from vault.errors import TalkvaultError
from vault.operations.rows import CheckReport
from vault.secret import Secret, wipe
from vault.store import db, schema

if TYPE_CHECKING:
    from vault.store.handle import Store


Steps = list[tuple[str, Callable[[db.Connection], list[str]]]]


def check(v: Store, *, pages_authenticated: bool = False) -> CheckReport:
    """Every check runs even when an earlier one failed; a damaged page is a problem, not a crash.

    SQLite's integrity_check, the longest step, runs on the vault's connection while the other
    steps run on a second connection in a thread (SQLite releases the GIL while it works, so the
    two use both cores). `pages_authenticated`: the caller has just checked every page's HMAC of
    this very file (verify does, as it copies a backup's database out), so SQLCipher's own pass
    over them is skipped."""
    first: Steps = [("database", _sqlite), ("schema", _version), ("settings", _settings)]
    beside: Steps = [] if pages_authenticated else [("encryption", _cipher)]
    beside += [
        ("search index", lambda c: _index(c, "fts")),
        ("name index", lambda c: _index(c, "names_fts")),
        ("references", _references),
    ]
    try:
        second: db.Connection | None = db.connect(v.db_path, v._dek)
    except TalkvaultError:
        second = None  # everything on the one connection, in turn
    try:
        if second is None:
            found = _run(v.conn, beside[:1] + first + beside[1:])
            count = _messages(v.conn)
        else:
            with ThreadPoolExecutor(1) as pool:
                later = pool.submit(lambda c: (_run(c, beside), _messages(c)), second)
                found = _run(v.conn, first)
                found_beside, count = later.result()
                found.update(found_beside)
    finally:
        if second is not None:
            second.close()
    order = ["encryption", "database", "search index", "name index", "schema", "settings", "references"]
    problems = [p for what in order for p in found.get(what, [])]
    return {"ok": not problems, "messages": count, "problems": problems}


def _run(conn: db.Connection, steps: Steps) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for what, fn in steps:
        try:
            out[what] = fn(conn)
        except db.Error as exc:
            out[what] = [f"{what}: could not be checked ({db.translate(exc).message})"]
    return out


def _cipher(c: db.Connection) -> list[str]:
    return [f"encryption: {row}" for (row,) in c.execute("PRAGMA cipher_integrity_check")]


def _sqlite(c: db.Connection) -> list[str]:
    rows = [r[0] for r in c.execute("PRAGMA integrity_check")]
    return [] if rows == ["ok"] else [f"database: {r}" for r in rows[:20]]


def _index(c: db.Connection, table: str) -> list[str]:
    out = []
    try:
        c.execute(f"INSERT INTO {table}({table}, rank) VALUES ('integrity-check', 0)")
    except db.Error:
        out.append(f"search index {table}: does not match the messages; run 'talkvault reindex'")
    if not schema.fts_secure_delete_on(c, table):
        out.append(f"search index {table}: secure-delete is off")
    return out


def _version(c: db.Connection) -> list[str]:
    got = schema.current_version(c)
    return [] if got == schema.SCHEMA_VERSION else [f"schema: version {got}, expected {schema.SCHEMA_VERSION}"]


def _settings(c: db.Connection) -> list[str]:
    out = []
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
            out.append(f"setting: PRAGMA {name} reads {got!r}, expected {expect!r}")
    return out


def _references(c: db.Connection) -> list[str]:
    out = []
    fk = c.execute("PRAGMA foreign_key_check").fetchmany(5)
    if fk:
        out.append(f"database: {len(fk)}+ rows point at missing rows")
    stale = c.execute("SELECT count(*) FROM imports WHERE status = 'running'").fetchone()[0]
    if stale:
        out.append(f"imports: {stale} import(s) marked running")
    return out


def _messages(c: db.Connection) -> int:
    """How many messages (not events) the database holds, 0 when it cannot say."""
    try:
        return int(c.execute("SELECT count(*) FROM messages WHERE is_event = 0").fetchone()[0])
    except db.Error:
        return 0


def check_damaged(path: str | os.PathLike[str], secret: Secret, reason: str) -> CheckReport:
    """When the vault will not open: unlock the key and list the pages that fail their HMAC."""
    from pathlib import Path

    from vault.errors import TalkvaultError
    from vault.store.handle import DB_NAME
    from vault.store.keys import KEYSLOTS_NAME, KeyFile

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
