"""security.md 8.1 and 8.11: the vault file is SQLCipher 4 in raw-key mode, with the pragmas we promise."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import vault
from tests import forensics
from tests.conftest import PASSPHRASE, tg_export, tg_msg

CANARY = "canary-8f3a2d1e-quixotic-zebra"
CJK_CANARY = "機密暗號測試樣本"


def _fill(v, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    export = tg_export(
        tmp_path / "export" / "result.json", [tg_msg(1, f"hello {CANARY} world"), tg_msg(2, f"我的{CJK_CANARY}在這裡")]
    )
    v.import_path(export)


def test_every_page_decrypts_with_the_raw_key_and_nothing_is_in_the_clear(new_vault, vault_dir, tmp_path):
    _fill(new_vault, tmp_path)
    dek = bytes.fromhex(new_vault.export_key())
    new_vault.close()
    db = vault_dir / "vault.db"
    pages = list(forensics.db_pages(db, dek))
    assert len(pages) > 5
    assert all(p.plain is not None for p in pages), "a page failed HMAC: raw-key mode is not on"
    raw = db.read_bytes()
    for needle in (CANARY.encode(), CJK_CANARY.encode(), b"SQLite format 3", b"hello"):
        assert needle not in raw
    copy = forensics.plaintext_copy(db, dek, tmp_path / "plain.db")
    assert forensics.integrity_ok(copy)
    con = sqlite3.connect(copy)
    texts = [r[0] for r in con.execute("SELECT text FROM messages")]
    con.close()
    assert any(CANARY in t for t in texts) and any(CJK_CANARY in t for t in texts)
    # The whole key file and the database hold no plaintext either.
    assert CANARY.encode() not in (vault_dir / "keyslots.json").read_bytes()


def test_wrong_key_fails_every_page_and_salts_differ(new_vault, vault_dir, tmp_path, weak_kdf):
    new_vault.close()
    db = vault_dir / "vault.db"
    wrong = bytes(32)
    assert all(p.plain is None for p in forensics.db_pages(db, wrong))
    other = vault.create(tmp_path / "other", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True)
    other.close()
    assert db.read_bytes()[:16] != (tmp_path / "other" / "vault.db").read_bytes()[:16]


def test_pragmas_on_every_connection(new_vault):
    c = new_vault.conn
    expect = {
        "secure_delete": 1,
        "temp_store": 2,
        "journal_mode": "delete",
        "synchronous": 2,
        "foreign_keys": 1,
        "trusted_schema": 0,
        "cipher_use_hmac": 1,
        "cipher_plaintext_header_size": 0,
        "cipher_page_size": 4096,
    }
    for name, value in expect.items():
        assert str(c.execute(f"PRAGMA {name}").fetchone()[0]) == str(value), name
    for table in ("fts", "names_fts"):
        assert c.execute(f"SELECT v FROM {table}_config WHERE k='secure-delete'").fetchone()[0] == 1


def test_files_are_private(new_vault, vault_dir):
    assert (vault_dir.stat().st_mode & 0o777) == 0o700
    for f in vault_dir.iterdir():
        assert (f.stat().st_mode & 0o777) == 0o600, f.name


def test_stock_sqlcipher_opens_it_with_the_exported_key(new_vault, vault_dir, tmp_path):
    _fill(new_vault, tmp_path)
    key = new_vault.export_key()
    new_vault.close()
    import sqlcipher3  # a plain connection, none of the vault's code

    con = sqlcipher3.connect(str(vault_dir / "vault.db"))
    con.execute(f"PRAGMA key = \"x'{key}'\"")
    assert con.execute("SELECT count(*) FROM messages").fetchone()[0] == 2
    con.close()


def test_versions_are_reported():
    from vault.store.db import versions

    v = versions()
    assert v["sqlcipher"].startswith("4.") and v["sqlite"] >= "3.44"


def test_process_is_hardened_while_unlocked(new_vault):
    import resource
    import sys

    assert resource.getrlimit(resource.RLIMIT_CORE) == (0, 0)
    if sys.platform.startswith("linux"):
        from vault.store.hardening import is_dumpable

        assert is_dumpable() == 0


@pytest.mark.parametrize("field", ["vault_id"])
def test_schema_records_migrations_and_binding(new_vault, field):
    c = new_vault.conn
    assert c.execute("SELECT max(version) FROM migrations").fetchone()[0] >= 1
    assert new_vault.meta(field) == new_vault.keyfile.vault_id
