"""Nothing in the clear outside the vault (security.md 8.6): canaries, the passphrase and the key
never appear in any file under HOME, the temp directories or the vault folder, nor in logs, reprs
or error messages."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import vault
from tests.conftest import PASSPHRASE, cli, tg_export, tg_msg
from vault.secret import Secret

CANARY = "zq-canary-5f1e9b-lighthouse"
CJK = "秘密測試燈塔"


def scan(root: Path, needles: list[bytes]) -> list[str]:
    hits = []
    for f in root.rglob("*"):
        if f.is_file() and not f.is_symlink():
            data = f.read_bytes()
            hits += [f"{f}: {n!r}" for n in needles if n in data]
    return hits


def test_end_to_end_leak_scan(hermetic, tmp_path, cli_vault, vault_dir):
    export_dir = tmp_path / "exports"
    export = tg_export(
        export_dir / "result.json",
        [tg_msg(1, f"the {CANARY} is here"), tg_msg(2, f"中文{CJK}結尾")],
        name=f"chat {CANARY}",
    )
    for args in (
        ["import", str(export)],
        ["search", CANARY],
        ["search", CJK],
        ["chats"],
        ["check"],
        ["show", "1"],
        ["stats"],
    ):
        r = cli(*args, env=cli_vault)
        assert r.code == 0, (args, r.err)
        assert CANARY not in r.err and PASSPHRASE not in r.err + r.out
    key = cli("export-key", "--json", env=cli_vault).json()["key"]
    needles = [
        CANARY.encode(),
        CJK.encode(),
        PASSPHRASE.encode(),
        key.encode(),
        bytes.fromhex(key),
        CANARY.encode("utf-16-le"),
    ]
    # The export itself is the person's own plaintext: everything else must be clean.
    for root in (hermetic, vault_dir):
        hits = [h for h in scan(root, needles) if str(export_dir) not in h]
        assert not hits, hits
    assert (vault_dir.stat().st_mode & 0o777) == 0o700
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in vault_dir.iterdir())
    assert not list(hermetic.rglob("*history*"))


def test_library_logs_and_reprs_hold_no_secrets(caplog, tmp_path, weak_kdf):
    caplog.set_level(logging.DEBUG)
    s = Secret(PASSPHRASE)
    assert PASSPHRASE not in repr(s) and PASSPHRASE not in str(s) and PASSPHRASE not in f"{s}"
    with vault.create(tmp_path / "v", s, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(tg_export(tmp_path / "e" / "result.json", [tg_msg(1, CANARY)]))
        v.search(CANARY)
        key = v.export_key()
        assert key not in repr(v) and PASSPHRASE not in repr(v)
        assert v.recovery_key is not None and v.recovery_key.text() not in repr(v.recovery_key)
    text = caplog.text
    assert CANARY not in text and PASSPHRASE not in text and key not in text


def test_passphrase_never_in_argv_of_children(cli_vault, tmp_path):
    """--passphrase-command runs without a shell and its output is not echoed anywhere."""
    f = tmp_path / "pw"
    f.write_text(PASSPHRASE)
    os.chmod(f, 0o600)
    env = {k: v for k, v in cli_vault.items() if k != "TALKVAULT_PASSPHRASE"}
    r = cli("chats", "--passphrase-command", f"cat {f}", env=env)
    assert r.code == 0 and PASSPHRASE not in r.out + r.err
