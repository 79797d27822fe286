"""Issue 17, item 4: what a kill -9 leaves is cleaned up by the next run, and only that.

A killed `backup` left `.talkvault-backup-*.tmp` in DEST, a killed `rotate-key` left
`vault.db.next-journal` in the vault. The tests kill real CLI processes at the instant the file
exists: the process is polled, frozen with SIGSTOP as soon as the file is seen (so the instant
cannot pass while the test looks), and then killed with SIGKILL, or left frozen to stand for a
backup that is still running. Nothing in the product code knows about tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import vault
from tests.conftest import PASSPHRASE, ROOT, cli, tg_export, tg_msg
from vault.operations.backup import verify


@pytest.fixture
def big_vault(tmp_path: Path, weak_kdf) -> tuple[Path, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A closed vault of about 8 MiB (one large attachment), so that copying it takes a while."""
    path = tmp_path / "v"
    export = tmp_path / "e"
    (export / "photos").mkdir(parents=True)
    (export / "photos" / "big.jpg").write_bytes(os.urandom(8 * 1024 * 1024))
    msgs = [tg_msg(1, "the photo", photo="photos/big.jpg"), *(tg_msg(i, f"message {i}") for i in range(2, 50))]
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(tg_export(export / "result.json", msgs))
    assert (path / "vault.db").stat().st_size > 6 * 1024 * 1024
    return path, {"TALKVAULT_DIR": str(path), "TALKVAULT_PASSPHRASE": PASSPHRASE}


def _spawn(*args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "vault", *args],
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _freeze_when(p: subprocess.Popen[bytes], seen: Callable[[], Path | None], timeout: float = 90) -> Path:
    """Poll until `seen()` names a file, freeze `p` there (SIGSTOP), and return the file.

    If the file is gone again by the time the process is frozen, it is let go and polled again."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if p.poll() is not None:
            _out, err = p.communicate()
            pytest.fail(f"the process ended before the instant was caught: {p.returncode} {err.decode()[-500:]}")
        found = seen()
        if found is not None:
            p.send_signal(signal.SIGSTOP)
            if found.exists() and seen() is not None:
                return found
            p.send_signal(signal.SIGCONT)
        time.sleep(0.0005)
    p.kill()
    pytest.fail("the instant was never caught")


def _kill(p: subprocess.Popen[bytes]) -> None:
    p.send_signal(signal.SIGKILL)
    p.wait()
    for f in (p.stdout, p.stderr):
        if f is not None:
            f.close()


def _temps(dest: Path) -> list[Path]:
    return sorted(dest.glob(".talkvault-backup-*.tmp"))


def _new_temp(dest: Path, known: set[Path]) -> Callable[[], Path | None]:
    def seen() -> Path | None:
        for t in _temps(dest):
            try:
                if t not in known and t.stat().st_size > 0:  # writing has begun: the lock is held
                    return t
            except FileNotFoundError:
                continue
        return None

    return seen


def test_a_killed_backups_temp_is_removed_and_a_running_ones_is_kept(big_vault, tmp_path):
    path, env = big_vault
    dest = tmp_path / "backups"
    dest.mkdir()
    # 1. A backup killed while its temp exists leaves it behind.
    a = _spawn("backup", str(dest), env=env)
    left = _freeze_when(a, _new_temp(dest, set()))
    _kill(a)
    assert left.exists()
    # 2. The next backup removes it, at once (no waiting for it to age). Freeze that one mid-write:
    #    it stands for a backup that is running while others start.
    b = _spawn("backup", str(dest / "running.tvbackup"), env=env)
    try:
        running = _freeze_when(b, _new_temp(dest, {left}))
        assert not left.exists(), "the killed backup's temp survived the next backup"
        # 3. Another kill, then a backup with --keep (in this process): the killed one's temp goes,
        #    the running one's stays, and nothing else in DEST is touched.
        d = _spawn("backup", str(dest), env=env)
        left2 = _freeze_when(d, _new_temp(dest, {running}))
        _kill(d)
        (dest / "notes.txt").write_text("mine")
        (dest / ".talkvault-backup-unrelated").write_text("not a temp of ours: wrong suffix, new")
        time.sleep(1.1)  # dated names are to the second
        with vault.open(path, PASSPHRASE) as v:
            v.backup(dest, keep=1)
        assert not left2.exists(), "the killed backup's temp survived --keep"
        assert running.exists(), "a running backup's temp was removed"
        assert (dest / "notes.txt").exists() and (dest / ".talkvault-backup-unrelated").exists()
    finally:
        b.send_signal(signal.SIGCONT)
    _out, err = b.communicate(timeout=120)
    assert b.returncode == 0, err.decode()
    assert not running.exists() and not _temps(dest)
    assert verify(dest / "running.tvbackup", passphrase=PASSPHRASE).ok
    for f in dest.glob("talkvault-*.tvbackup"):
        assert verify(f, passphrase=PASSPHRASE).ok


def test_an_abandoned_empty_temp_is_kept_only_for_a_moment(tmp_path):
    """The one window without a lock (between creating the temp and locking it) is covered by age."""
    from vault.operations.backup import CREATE_GRACE_S, remove_stale_temps

    young = tmp_path / ".talkvault-backup-000000000000.tmp"
    young.write_bytes(b"")
    full = tmp_path / ".talkvault-backup-111111111111.tmp"
    full.write_bytes(b"x" * 100)
    assert remove_stale_temps(tmp_path) == [full.name]
    assert young.exists()
    old = time.time() - CREATE_GRACE_S - 1
    os.utime(young, (old, old))
    assert remove_stale_temps(tmp_path) == [young.name]


def test_a_killed_rotation_leaves_no_journal_after_the_next_open(big_vault):
    path, env = big_vault
    with vault.open(path, PASSPHRASE) as v:
        before = v.counts()

    def journal() -> Path | None:
        j = path / "vault.db.next-journal"
        return j if j.exists() else None

    r = _spawn("rotate-key", env=env)
    _freeze_when(r, journal)
    _kill(r)
    assert (path / "vault.db.next-journal").exists()
    res = cli("check", "--json", env=env)  # the next open, as a person would run it
    assert res.code == 0 and res.json()["ok"], res.out + res.err
    assert sorted(f.name for f in path.iterdir()) == ["keyslots.json", "vault.db"]
    with vault.open(path, PASSPHRASE) as v:
        assert v.counts() == before
    # And a rotation after that one completes.
    res = cli("rotate-key", "--json", env=env)
    assert res.code == 0, res.err
    assert sorted(f.name for f in path.iterdir()) == ["keyslots.json", "vault.db"]


def test_an_open_during_a_running_rotation_leaves_its_copy_alone(big_vault):
    """Only a dead rotation's leftovers are removed: while one runs (frozen here with its copy half
    written), another process that opens the vault must not delete its copy or its key slots."""
    path, env = big_vault

    def copy_begun() -> Path | None:
        nxt = path / "vault.db.next"
        try:
            return nxt if nxt.stat().st_size > 0 else None
        except FileNotFoundError:
            return None

    r = _spawn("rotate-key", "--json", env=env)
    try:
        _freeze_when(r, copy_begun)
        res = cli("chats", "--json", env=env)  # opens (and would settle) the vault
        assert res.code == 0, res.err
        assert (path / "vault.db.next").exists(), "a running rotation's copy was removed"
    finally:
        r.send_signal(signal.SIGCONT)
    out, err = r.communicate(timeout=120)
    assert r.returncode == 0, err.decode()
    rk = __import__("json").loads(out)["recovery_key"]
    assert sorted(f.name for f in path.iterdir()) == ["keyslots.json", "vault.db"]
    with vault.open(path, recovery_key=rk) as v:
        assert v.check()["ok"]
