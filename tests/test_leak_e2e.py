"""security.md 8.6, end to end: init, import from a watched folder, search in the shell, delete,
back up; then no canary, passphrase or key in any file under HOME, the temp dirs, the vault folder
or the backup, except the person's own export and what they explicitly exported."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pexpect
import pytest

from tests.conftest import PASSPHRASE, ROOT, cli, tg_export, tg_msg
from tests.test_shell import Term

CANARY = "qq-leakcanary-8d2f61-harbour"
CJK = "燈塔秘密測試"
KEEP = "ordinary words about the weather"


def _scan(root: Path, needles: list[bytes], skip: list[Path]) -> list[str]:
    hits = []
    for f in root.rglob("*"):
        if not f.is_file() or f.is_symlink() or any(f.is_relative_to(s) for s in skip):
            continue
        data = f.read_bytes()
        hits += [f"{f}: {n!r}" for n in needles if n in data]
    return hits


@pytest.mark.skipif(not hasattr(pexpect, "spawn"), reason="needs a pseudo-terminal")
def test_a_whole_session_leaves_nothing_in_the_clear(hermetic, tmp_path):
    vault_dir = tmp_path / "vault"
    watched = tmp_path / "inbox"
    backups = tmp_path / "backups"
    watched.mkdir()
    backups.mkdir()
    pw_file = tmp_path / "pw"
    pw_file.write_text(PASSPHRASE)
    pw_file.chmod(0o600)
    env = {"TALKVAULT_DIR": str(vault_dir), "TALKVAULT_PASSPHRASE_FILE": str(pw_file)}
    # init with the passphrase on a file descriptor, never in argv or the environment
    rfd, wfd = os.pipe()
    os.write(wfd, PASSPHRASE.encode() + b"\n")
    os.close(wfd)
    try:
        r = cli(
            "init",
            "--new-passphrase-fd",
            str(rfd),
            "--kdf-memory",
            "1",
            "--kdf-time",
            "1",
            "--kdf-parallelism",
            "1",
            "--json",
            env={"TALKVAULT_DIR": str(vault_dir)},
            pass_fds=(rfd,),
        )
    finally:
        os.close(rfd)
    assert r.code == 0, r.err
    recovery = r.json()["recovery_key"]
    export = tg_export(
        watched / "ChatExport_1" / "result.json",
        [tg_msg(1, f"the {CANARY} and {CJK}"), tg_msg(2, KEEP)],
        name="Harbour chat",
    )
    r = cli("watch", str(watched), "--once", "--settle", "0", "--json", env=env)
    assert r.code == 0 and r.json()["added"] == 2, r.out + r.err
    # search it in the shell, as a person would
    shell_env = {
        **os.environ,
        **env,
        "PYTHONPATH": str(ROOT),
        "TERM": "xterm-256color",
        "PROMPT_TOOLKIT_NO_CPR": "1",
        "NO_COLOR": "1",
    }
    shell_env.pop("TALKVAULT_PASSPHRASE_FILE")
    t = Term(shell_env, "shell")
    t.unlock()
    assert CANARY in t.run(CANARY)
    assert CJK in t.run(CJK[2:4])
    t.child.sendeof()
    assert t.finish() == 0
    r = cli("delete", "--query", CANARY, "--yes", "--json", env=env)
    assert r.code == 0 and r.json()["deleted"] == 1
    r = cli("backup", str(backups), "--json", env=env)
    assert r.code == 0, r.err
    key = cli("export-key", "--json", env=env).json()["key"]
    needles = [
        CANARY.encode(),
        CJK.encode(),
        CANARY[-12:].encode(),
        PASSPHRASE.encode(),
        key.encode(),
        bytes.fromhex(key),
        recovery.encode(),
        recovery.replace("-", "").encode(),
    ]
    skip = [watched, pw_file]  # the person's own export and passphrase file
    hits = _scan(hermetic, needles, skip) + _scan(tmp_path, needles, skip)
    assert not hits, hits
    # modes
    assert (vault_dir.stat().st_mode & 0o777) == 0o700
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in vault_dir.iterdir())
    assert all((f.stat().st_mode & 0o777) == 0o600 for f in backups.iterdir() if f.is_file())
    assert not [p for p in hermetic.rglob("*") if re.search(r"history", p.name, re.I)]
    # the deleted canary is in no decrypted page either; the kept message is
    from tests import forensics

    dek = bytes.fromhex(key)
    assert forensics.find(vault_dir, dek, [CANARY[-12:].encode(), CJK.encode()]) == []
    assert forensics.find(vault_dir, dek, [KEEP.encode()])
    assert export.exists()  # never moved or deleted without --shred-imported
