"""Backups (issue 10): one encrypted file that restores a vault, consistent while another process imports,
verified byte by byte and page by page, pruned with --keep, and never a plaintext byte outside the vault.

The container is parsed here from its documented layout (docs/backups.md), independently of
vault/operations/backup.py, so that the document and the code are pinned together.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vault
from tests import forensics
from tests.conftest import PASSPHRASE, ROOT, cli, tg_export, tg_msg, write
from vault.errors import AuthenticationError, BackupError, UsageError, VaultDamagedError, VaultExistsError
from vault.operations import backup as vb

CANARY = "qzbkpcanary5e8a1f0"
CJK = "秘密钥匙備份樣本"
CANARY_BODY = f"meet me at the old mill, {CANARY}, bring {CJK} and tell nobody"
TITLE = "Quillon Backupchat"
PHOTO_SMALL = bytes(range(256)) * 20  # 5,120 bytes
PHOTO_BIG = hashlib.sha256(b"seed").digest() * 40_000  # 1.28 MB: more than one 1 MiB chunk

# docs/backups.md "The file": header, key slots, manifest, database, trailer (big-endian).
HEADER = struct.Struct(">16sHHIIQ")
TRAILER = 16 + 32 + 32


def needles() -> list[bytes]:
    return [CANARY.encode(), CANARY[-12:].encode(), CANARY_BODY[:30].encode(), CJK.encode(), "钥匙".encode()]


def parts(data: bytes) -> dict[str, Any]:
    magic, version, flags, ks, man, dbl = HEADER.unpack(data[: HEADER.size])
    o = HEADER.size
    return {
        "magic": magic,
        "version": version,
        "flags": flags,
        "keyslots": data[o : o + ks],
        "manifest": data[o + ks : o + ks + man],
        "db_offset": o + ks + man,
        "db": data[o + ks + man : o + ks + man + dbl],
        "trailer": data[o + ks + man + dbl :],
    }


def rebuild(p: dict[str, Any], *, mac: bytes | None = None) -> bytes:
    """A container from parts with a correct checksum (what a careless tool or an attacker could write)."""
    body = (
        HEADER.pack(p["magic"], p["version"], p["flags"], len(p["keyslots"]), len(p["manifest"]), len(p["db"]))
        + p["keyslots"]
        + p["manifest"]
        + p["db"]
    )
    digest = hashlib.sha256(body).digest()
    return body + b"TALKVAULT-SHA256" + digest + (mac if mac is not None else p["trailer"][48:80])


def flip(data: bytes, offset: int) -> bytes:
    b = bytearray(data)
    b[offset] ^= 0x01
    return bytes(b)


def snapshot_of(v: vault.Vault) -> dict[str, Any]:
    """Everything a restore must bring back: messages, attachments with their bytes, tombstones, chats, people."""
    c = v.conn
    atts = []
    for mid, name, kind, mime, size, blob_id in c.execute(
        "SELECT message_id, name, kind, mime, size, blob_id FROM attachments ORDER BY message_id, id"
    ).fetchall():
        data = b"".join(
            r[0] for r in c.execute("SELECT data FROM blob_chunks WHERE blob_id = ? ORDER BY seq", (blob_id,))
        )
        atts.append((mid, name, kind, mime, size, data))
    return {
        "messages": c.execute("SELECT * FROM messages ORDER BY id").fetchall(),
        "attachments": atts,
        "tombstones": c.execute("SELECT * FROM tombstones ORDER BY mac").fetchall(),
        "chats": c.execute("SELECT * FROM chats ORDER BY id").fetchall(),
        "people": c.execute("SELECT * FROM people ORDER BY id").fetchall(),
        "reactions": c.execute("SELECT * FROM reactions ORDER BY rowid").fetchall(),
    }


def make_export(where: Path, title: str = TITLE, chat_id: int = 4242, n: int = 40) -> Path:
    photos = where / "photos"
    photos.mkdir(parents=True, exist_ok=True)
    (photos / "small.jpg").write_bytes(PHOTO_SMALL)
    (photos / "big.jpg").write_bytes(PHOTO_BIG)
    msgs = [tg_msg(i, f"filler message number {i} about dinner", sender="Mei" if i % 2 else "Jon") for i in range(1, n)]
    msgs.append(tg_msg(n, CANARY_BODY, sender="Mei"))
    msgs.append(tg_msg(n + 1, "", sender="Jon", photo="photos/small.jpg"))
    msgs.append(tg_msg(n + 2, "the big one", sender="Mei", photo="photos/big.jpg"))
    return tg_export(where / "result.json", msgs, name=title, chat_id=chat_id)


@pytest.fixture
def filled(tmp_path: Path, weak_kdf: Any) -> Path:
    """A closed vault with a canary message, two stored photos and two deleted messages (tombstones).

    The export (plaintext input) is removed after the import, so that any later trace of the canary
    outside the vault is a leak."""
    path = tmp_path / "vault"
    export_dir = tmp_path / "export"
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(make_export(export_dir))
        ids = [m["id"] for m in v.show(TITLE, limit=5)][:2]
        assert v.delete(message_ids=ids)["deleted"] == 2
    shutil.rmtree(export_dir)
    return path


def open_v(path: Path) -> vault.Vault:
    return vault.open(path, PASSPHRASE)


def cli_env(path: Path | None = None, passphrase: str = PASSPHRASE) -> dict[str, str]:
    env = {"TALKVAULT_PASSPHRASE": passphrase}
    if path is not None:
        env["TALKVAULT_DIR"] = str(path)
    return env


# -- round trip -------------------------------------------------------------------------------------
def test_restore_round_trip_is_identical(filled: Path, tmp_path: Path) -> None:
    (tmp_path / "backups").mkdir()
    with open_v(filled) as v:
        before = snapshot_of(v)
        counts = v.counts()
        result = v.backup(tmp_path / "backups")
    assert counts["tombstones"] == 2 and counts["blobs"] == 2 and counts["messages"] == 40
    assert {a[5] for a in before["attachments"]} == {PHOTO_SMALL, PHOTO_BIG}
    backup_file = Path(result["path"])
    assert vb.NAME_RE.match(backup_file.name) and backup_file.parent == tmp_path / "backups"
    data = backup_file.read_bytes()
    assert result["bytes"] == len(data)
    assert result["sha256"] == hashlib.sha256(data).hexdigest()
    assert result["messages"] == 40 and result["counts"] == counts

    out = vb.restore(backup_file, tmp_path / "restored", PASSPHRASE)
    assert out == {"vault": str(tmp_path / "restored"), "messages": 40, "counts": counts}
    with open_v(tmp_path / "restored") as r:
        assert snapshot_of(r) == before
        assert r.counts() == counts
        assert r.check() == {"ok": True, "messages": 40, "problems": []}
        assert r.search(CANARY)[0]["text"] == CANARY_BODY  # the restored vault searches
    # The restored database is the backup's database part, which is the vault's ciphertext as it was
    # on disk, byte for byte (nothing decrypted or re-encrypted on the way).
    restored_db = (tmp_path / "restored" / "vault.db").read_bytes()
    assert restored_db == parts(data)["db"]
    assert restored_db == (filled / "vault.db").read_bytes()
    # The recovery key restores it too; the passphrase slot still works in that copy.
    keyslots = json.loads(parts(data)["keyslots"])
    assert sorted(s["kind"] for s in keyslots["slots"]) == ["passphrase", "recovery"]


def test_restore_with_recovery_key_and_cli_shapes(cli_vault: dict[str, str], tmp_path: Path) -> None:
    exp = make_export(tmp_path / "export", n=12)
    assert cli("import", str(exp), "--json", env=cli_vault).code == 0
    pw_file = write(tmp_path / "pw", PASSPHRASE + "\n")
    pw_file.chmod(0o600)
    env = {"TALKVAULT_DIR": cli_vault["TALKVAULT_DIR"]}  # the passphrase from a file, as cron would give it
    r = cli("backup", str(tmp_path / "b.tvbackup"), "--passphrase-file", str(pw_file), "--json", env=env)
    assert r.code == 0, r.err
    doc = r.json()
    assert set(doc) >= {"path", "bytes", "messages", "sha256"} and doc["messages"] == 14
    data = (tmp_path / "b.tvbackup").read_bytes()
    assert doc["path"] == str(tmp_path / "b.tvbackup") and doc["bytes"] == len(data)
    assert doc["sha256"] == hashlib.sha256(data).hexdigest()
    assert r.err == ""

    r = cli("verify", doc["path"], "--json", "--passphrase-file", str(pw_file))
    assert r.code == 0, r.err
    assert r.json()["ok"] is True and r.json()["messages"] == 14 and r.json()["problems"] == []

    rk = {"TALKVAULT_PASSPHRASE": cli_vault["RECOVERY_KEY"].lower().replace("-", " ")}
    r = cli("verify", doc["path"], "--recovery-key", "--json", env=rk)
    assert r.code == 0 and r.json()["ok"] is True

    to = tmp_path / "restored"
    r = cli("restore", doc["path"], "--to", str(to), "--recovery-key", "--json", env=rk)
    assert r.code == 0, r.err
    assert r.json() == {"vault": str(to), "messages": 14}
    r = cli("check", "--json", env=cli_env(to))
    assert r.code == 0 and r.json()["ok"] is True and r.json()["messages"] == 14
    assert stat.S_IMODE(to.stat().st_mode) == 0o700
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in to.iterdir()} == {
        "vault.db": 0o600,
        "keyslots.json": 0o600,
    }


def test_backup_carries_the_current_key_slots(filled: Path, tmp_path: Path, weak_kdf: Any) -> None:
    from vault.core import change_passphrase

    with open_v(filled) as v:
        old = Path(v.backup(tmp_path / "old.tvbackup")["path"])
        # The passphrase changes (as 'talkvault passwd' in another process would) while v stays open.
        change_passphrase(filled, "a new passphrase", old=PASSPHRASE, kdf=weak_kdf, chosen=True)
        after = Path(v.backup(tmp_path / "after-passwd.tvbackup")["path"])
    assert vb.verify(after, "a new passphrase").ok
    with pytest.raises(AuthenticationError):
        vb.verify(after, PASSPHRASE)
    with vault.open(filled, "a new passphrase") as v:
        recovery = v.rotate_key("a new passphrase", kdf=weak_kdf)
        rotated = Path(v.backup(tmp_path / "rotated.tvbackup")["path"])
    slots = json.loads(parts(rotated.read_bytes())["keyslots"])["slots"]
    assert {s["gen"] for s in slots} == {1} and len(slots) == 2  # only the new key's slots
    assert vb.verify(rotated, recovery_key=recovery).ok
    assert vb.restore(rotated, tmp_path / "r", recovery_key=recovery.text())["messages"] == 40
    with vault.open(tmp_path / "r", "a new passphrase") as r:
        assert r.check()["ok"]
    # A backup made before keeps the key and passphrase it was made with (docs/backups.md says so).
    assert vb.verify(old, PASSPHRASE).ok


# -- verify: pristine, damaged, wrong passphrase -------------------------------------------------------
@pytest.fixture
def one_backup(filled: Path, tmp_path: Path) -> Path:
    with open_v(filled) as v:
        return Path(v.backup(tmp_path / "pristine.tvbackup")["path"])


def _other_keyslots(tmp_path: Path, weak_kdf: Any) -> bytes:
    """Key slots of another vault with the same passphrase."""
    with vault.create(tmp_path / "other", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as o:
        other = Path(o.backup(tmp_path / "other.tvbackup")["path"])
    return bytes(parts(other.read_bytes())["keyslots"])


def _forged_counts(p: dict[str, Any]) -> bytes:
    man = json.loads(p["manifest"])
    man["counts"]["messages"] += 1
    return rebuild({**p, "manifest": json.dumps(man).encode()})


DAMAGE = {
    # name: (make the damaged bytes from (data, parts), what the problem list must say)
    "header magic": (lambda d, p: flip(d, 3), "container: not a talkvault backup"),
    "header length": (lambda d, p: flip(d, 27), "container: "),
    "key slots byte": (lambda d, p: flip(d, HEADER.size + len(p["keyslots"]) // 2), "container: checksum mismatch"),
    "manifest byte": (
        lambda d, p: flip(d, HEADER.size + len(p["keyslots"]) + len(p["manifest"]) // 2),
        "container: checksum mismatch",
    ),
    "middle": (lambda d, p: flip(d, p["db_offset"] + len(p["db"]) // 2 + 100), "encryption: HMAC verification failed"),
    "end": (lambda d, p: flip(d, len(d) - 1), "container: the authentication code does not match"),
    "truncated": (lambda d, p: d[:-1000], "container: truncated"),
    "no key slots": (lambda d, p: rebuild({**p, "keyslots": b""}), "key slots: missing"),
    "forged counts": (lambda d, p: _forged_counts(p), "container: the authentication code does not match"),
}


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_verify_names_the_damage(one_backup: Path, tmp_path: Path, case: str) -> None:
    data = one_backup.read_bytes()
    make, expected = DAMAGE[case]
    bad = tmp_path / "damaged.tvbackup"
    bad.write_bytes(make(data, parts(data)))
    before = hashlib.sha256(bad.read_bytes()).hexdigest()
    r = cli("verify", str(bad), "--json", env=cli_env())
    assert r.code == 4, (r.code, r.err)
    doc = r.json()
    assert doc["ok"] is False
    assert any(p.startswith(expected) for p in doc["problems"]), doc["problems"]
    assert hashlib.sha256(bad.read_bytes()).hexdigest() == before  # verify changes nothing
    if case == "middle":
        page = (len(parts(data)["db"]) // 2 + 100) // vb.PAGE_SIZE + 1
        assert f"encryption: HMAC verification failed for page {page}" in doc["problems"]
        # Without --json: the problems on stderr, and nothing that claims success.
        r = cli("verify", str(bad), env=cli_env())
        assert r.code == 4 and f"problem: encryption: HMAC verification failed for page {page}" in r.err
        assert "ok:" not in r.out
    if case == "forged counts":  # a recomputed checksum does not hide a changed count
        assert any(p.startswith("counts: the backup recorded 41 messages") for p in doc["problems"])


def test_verify_pristine_and_wrong_passphrase(one_backup: Path, tmp_path: Path, weak_kdf: Any) -> None:
    r = cli("verify", str(one_backup), "--json", env=cli_env())
    assert r.code == 0 and r.json()["ok"] is True and r.json()["messages"] == 40
    r = cli("verify", str(one_backup), "--json", env=cli_env(passphrase="not the passphrase"))
    assert r.code == 3 and "wrong passphrase" in r.err
    assert r.json() == {"error": {"exit": 3, "message": r.json()["error"]["message"]}}  # one document, on stdout
    r = cli("verify", str(one_backup), "--recovery-key", env=cli_env(passphrase="AAAAA-BBBBB-CCCCC-DDDDD-EEEEE-F"))
    assert r.code == 3
    with pytest.raises(AuthenticationError):
        vb.verify(one_backup, "not the passphrase")
    # Key slots of another vault (same passphrase), checksum recomputed: they open, the pages do not.
    p = parts(one_backup.read_bytes())
    foreign = tmp_path / "foreign.tvbackup"
    foreign.write_bytes(rebuild({**p, "keyslots": _other_keyslots(tmp_path, weak_kdf)}))
    rep = vb.verify(foreign, PASSPHRASE)
    assert not rep.ok and rep.problems[0].startswith("encryption: no page opens with the backup's key")
    # A damaged file with the wrong passphrase is "damaged" (4), never "wrong passphrase" (3).
    bad = tmp_path / "bad.tvbackup"
    bad.write_bytes(flip(one_backup.read_bytes(), len(p["keyslots"]) // 2 + HEADER.size))
    assert cli("verify", str(bad), env=cli_env(passphrase="not the passphrase")).code == 4


# -- consistency while another process imports ---------------------------------------------------------
IMPORTER = r"""
import json, sys
from pathlib import Path
import vault
vdir, work, per = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
with vault.open(vdir, sys.argv[4]) as v:
    i = 0
    while not (work / "stop").exists() and i < 40:
        msgs = [{"id": j, "type": "message", "date": "2023-01-01T00:00:00",
                 "date_unixtime": str(1_600_000_000 + i * 100_000 + j), "from": "Ann", "from_id": "user1",
                 "text": f"batch {i} message {j}"} for j in range(per)]
        exp = work / f"e{i}" / "result.json"
        exp.parent.mkdir(parents=True)
        exp.write_text(json.dumps({"name": f"batch {i}", "type": "personal_chat", "id": 10_000 + i,
                                   "messages": msgs}))
        print(f"start {i}", flush=True)
        v.import_path(exp)
        print(f"done {i}", flush=True)
        i += 1
"""


def test_backup_during_concurrent_import_is_consistent(tmp_path: Path, weak_kdf: Any) -> None:
    per = 8000
    path = tmp_path / "vault"
    vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True).close()
    work = tmp_path / "importer"
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-c", IMPORTER, str(path), str(work), str(per), PASSPHRASE],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    done: list[int] = []
    backups: list[tuple[set[int], Path]] = []
    try:
        with open_v(path) as v:
            for wanted in (1, 3):  # back up while imports 1 and 3 are under way
                for line in child.stdout:
                    what, n = line.split()
                    if what == "done":
                        done.append(int(n))
                    elif int(n) == wanted:
                        break
                before = set(done)
                res = v.backup(tmp_path / f"during-{wanted}.tvbackup")
                backups.append((before, Path(res["path"])))
        (work / "stop").write_text("")
        for line in child.stdout:
            what, n = line.split()
            if what == "done":
                done.append(int(n))
    finally:
        (work / "stop").write_text("")
        child.wait(timeout=120)
    assert child.returncode == 0
    for before, file in backups:
        rep = vb.verify(file, PASSPHRASE)
        assert rep.ok, rep.problems
        to = tmp_path / f"r-{file.stem}"
        vb.restore(file, to, PASSPHRASE)
        with open_v(to) as r:
            per_batch = dict(
                r.conn.execute(
                    "SELECT c.title, count(*) FROM messages m JOIN chats c ON c.id = m.chat_id GROUP BY c.id"
                ).fetchall()
            )
            imports = r.conn.execute("SELECT count(*) FROM imports WHERE status = 'done'").fetchone()[0]
        present = {int(t.split()[1]) for t in per_batch}
        assert all(n == per for n in per_batch.values()), per_batch  # each import wholly in ...
        assert present == set(range(len(present)))  # ... in the order they committed
        assert before <= present <= set(done)  # every import acknowledged before the backup is in it
        assert imports == len(present) and rep.messages == per * len(present)


# -- --keep, destinations, never overwriting ----------------------------------------------------------
def test_keep_prunes_only_dated_backups_oldest_first(filled: Path, tmp_path: Path) -> None:
    d = tmp_path / "backups"
    d.mkdir()
    old = [
        "talkvault-20200101-000000.tvbackup",
        "talkvault-20200102-000000.tvbackup",
        "talkvault-20200103-120000.tvbackup",
    ]
    for name in old:
        (d / name).write_bytes(b"TALKVAULT-BACKUP old")
    others = [
        "talkvault-notes.txt",
        "talkvault-2020.tvbackup",
        "mine.tvbackup",
        "talkvault-20200101-000000.tvbackup.bak",
    ]
    for name in others:
        (d / name).write_bytes(b"keep me")
    (d / "talkvault-19990101-000000.tvbackup").mkdir()  # a directory with a matching name is not a backup
    r = cli("backup", str(d), "--keep", "2", "--json", env=cli_env(filled))
    assert r.code == 0, r.err
    new = Path(r.json()["path"])
    assert r.json()["pruned"] == [str(d / old[0]), str(d / old[1])]  # oldest first
    assert sorted(p.name for p in d.iterdir()) == sorted(
        [*others, old[2], new.name, "talkvault-19990101-000000.tvbackup"]
    )
    assert all((d / n).read_bytes() == b"keep me" for n in others)
    r = cli("backup", str(d) + "/", "--keep", "1", "--json", env=cli_env(filled))
    if r.code == 2 and "already exists" in r.err:  # same second as the first backup: named to the second
        new.rename(d / "talkvault-20200104-000000.tvbackup")
        new = d / "talkvault-20200104-000000.tvbackup"
        r = cli("backup", str(d) + "/", "--keep", "1", "--json", env=cli_env(filled))
    assert r.code == 0, r.err
    assert r.json()["pruned"] == [str(d / old[2]), str(new)]
    assert sorted(p.name for p in d.iterdir() if vb.NAME_RE.match(p.name) and p.is_file()) == [
        Path(r.json()["path"]).name
    ]
    assert cli("backup", str(tmp_path / "x.tvbackup"), "--keep", "1", env=cli_env(filled)).code == 2
    assert cli("backup", str(d), "--keep", "0", env=cli_env(filled)).code == 2


def test_destinations(filled: Path, tmp_path: Path) -> None:
    with open_v(filled) as v:
        # a new directory, named with a trailing slash, is created 0700
        res = v.backup(str(tmp_path / "new" / "dir") + "/")
        assert Path(res["path"]).parent == tmp_path / "new" / "dir"
        assert stat.S_IMODE((tmp_path / "new" / "dir").stat().st_mode) == 0o700
        assert stat.S_IMODE(Path(res["path"]).stat().st_mode) == 0o600
        # an existing file that is not a backup is never overwritten
        precious = write(tmp_path / "notes.txt", "my notes")
        with pytest.raises(UsageError):
            v.backup(precious)
        assert precious.read_text() == "my notes"
        # an existing backup file at a file DEST is replaced by the new, verified one
        target = tmp_path / "daily.tvbackup"
        first = v.backup(target)
        first_inode = target.stat().st_ino
        v.delete(message_ids=[v.show(TITLE, limit=1)[0]["id"]])
        second = v.backup(target)
        assert target.stat().st_ino != first_inode  # a new file took the name (renamed, not rewritten)
        assert hashlib.sha256(target.read_bytes()).hexdigest() == second["sha256"]
        assert vb.verify(target, PASSPHRASE).messages == second["messages"] == first["messages"] - 1
        assert vb.verify(target, PASSPHRASE).ok
        # inside the vault, or under a missing directory: refused
        with pytest.raises(UsageError):
            v.backup(filled / "in-vault.tvbackup")
        with pytest.raises(UsageError):
            v.backup(tmp_path / "missing" / "b.tvbackup")
    assert not list(tmp_path.rglob(".talkvault-backup-*"))  # no temporary left behind
    assert sorted(p.name for p in filled.iterdir()) == ["keyslots.json", "vault.db"]


def test_a_vault_with_a_damaged_page_is_not_backed_up(filled: Path, tmp_path: Path) -> None:
    """Pages are copied as they are on disk and each HMAC is checked on its way in: one flipped byte
    in the vault's last page stops the backup with a message, and nothing is left in DEST."""
    dbf = filled / "vault.db"
    raw = bytearray(dbf.read_bytes())
    last = len(raw) - vb.PAGE_SIZE
    raw[last + 100] ^= 0x01
    dbf.write_bytes(bytes(raw))
    dest = tmp_path / "out"
    dest.mkdir()
    with open_v(filled) as v, pytest.raises(VaultDamagedError) as err:  # page 1 is intact: the vault opens
        v.backup(dest)
    pages = len(raw) // vb.PAGE_SIZE
    assert f"page {pages} of the vault does not authenticate" in err.value.message
    assert "talkvault check" in err.value.message
    assert list(dest.iterdir()) == []
    r = cli("backup", str(dest), env=cli_env(filled))
    assert r.code == 4 and f"page {pages}" in r.err and "Traceback" not in r.err
    assert list(dest.iterdir()) == []


def test_restore_never_overwrites(one_backup: Path, filled: Path, tmp_path: Path) -> None:
    before = {p.name: p.read_bytes() for p in filled.iterdir()}
    r = cli("restore", str(one_backup), "--to", str(filled), env=cli_env())
    assert r.code == 2 and "already exists" in r.err
    with pytest.raises(VaultExistsError):
        vb.restore(one_backup, filled, PASSPHRASE)
    assert {p.name: p.read_bytes() for p in filled.iterdir()} == before
    busy = tmp_path / "busy"
    write(busy / "something.txt", "x")
    assert cli("restore", str(one_backup), "--to", str(busy), env=cli_env()).code == 2
    assert sorted(p.name for p in busy.iterdir()) == ["something.txt"]
    # An empty directory is fine.
    (tmp_path / "empty").mkdir()
    assert vb.restore(one_backup, tmp_path / "empty", PASSPHRASE)["messages"] == 40
    # A damaged backup or a wrong passphrase restores nothing and leaves no directory behind.
    bad = tmp_path / "bad.tvbackup"
    bad.write_bytes(flip(one_backup.read_bytes(), len(one_backup.read_bytes()) // 2))
    with pytest.raises(BackupError):
        vb.restore(bad, tmp_path / "fromdamaged", PASSPHRASE)
    r = cli("restore", str(bad), "--to", str(tmp_path / "fromdamaged"), env=cli_env())
    assert r.code == 4 and "nothing was restored" in r.err
    r = cli("restore", str(one_backup), "--to", str(tmp_path / "wrongpw"), env=cli_env(passphrase="nope"))
    assert r.code == 3
    assert not (tmp_path / "fromdamaged").exists() and not (tmp_path / "wrongpw").exists()


# -- privacy: no plaintext in the backup, nor anywhere during or after ---------------------------------
def _scan(roots: list[Path], found: list[str], seen: list[str]) -> None:
    for root in roots:
        for f in root.rglob("*"):
            if f.is_file() and not f.is_symlink():
                seen.append(f.name)
                raw = f.read_bytes()
                found.extend(f"{f}: {n!r}" for n in needles() if n in raw)


def test_no_plaintext_during_or_after_backup_and_restore(
    filled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = Path(os.environ["HOME"])
    roots = [tmp_path, home]
    found: list[str] = []
    seen: list[str] = []
    real_read, real_verify = vb._read_ciphertext, vb._verify_into

    def read_and_scan(*a: Any, **kw: Any) -> Iterator[bytes]:
        for i, chunk in enumerate(real_read(*a, **kw)):
            yield chunk
            if i == 0:
                _scan(roots, found, seen)  # mid-copy: the file under its temporary name exists

    def verify_and_scan(*a: Any, **kw: Any) -> Any:
        rep = real_verify(*a, **kw)
        _scan(roots, found, seen)  # the copy that SQLite checked exists now
        return rep

    monkeypatch.setattr(vb, "_read_ciphertext", read_and_scan)
    monkeypatch.setattr(vb, "_verify_into", verify_and_scan)
    (tmp_path / "out").mkdir()
    with open_v(filled) as v:
        dek = bytes(v.store._dek)
        res = v.backup(tmp_path / "out")
    vb.restore(res["path"], tmp_path / "restored", PASSPHRASE)
    assert vb.verify(res["path"], PASSPHRASE).ok
    _scan(roots, found, seen)
    assert found == []
    # The scans ran while the temporary files existed (else they could not have failed).
    assert "verify.db" in seen
    assert any(n.startswith(".talkvault-backup-") and n.endswith(".tmp") for n in seen)
    assert any(n.startswith(".vault.db.restore-") for n in seen)
    # Positive control: the same needles are in the backup's database part once decrypted.
    db_part = tmp_path / "db-part"
    db_part.write_bytes(parts(Path(res["path"]).read_bytes())["db"])
    plain = b"".join(p.plain or b"" for p in forensics.db_pages(db_part, dek))
    assert all(n in plain for n in needles())
    assert all(p.plain is not None for p in forensics.db_pages(db_part, dek))  # every page verifies independently
    db_part.unlink()
    # Nothing but the backup (0600) in the destination; modes of everything written.
    assert [p.name for p in (tmp_path / "out").iterdir()] == [Path(res["path"]).name]
    for p in [Path(res["path"]), *(tmp_path / "restored").iterdir()]:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    assert [p for p in Path(os.environ["TMPDIR"]).iterdir()] == []  # verify's private copy is gone


def test_the_lock_byte_page_of_a_vault_over_1_gib_is_not_checked() -> None:
    """SQLite never writes the page holding byte 2^30 (its lock-byte page), so it has no HMAC: the 10M
    benchmark's 2.9 GB vault could not be backed up ("page 262145 does not authenticate")."""
    import os

    from vault.operations.backup import LOCK_BYTE_PAGE, PAGE_SIZE, _PageMac

    assert LOCK_BYTE_PAGE == 262145
    checker = _PageMac(os.urandom(32), os.urandom(16))
    hole = bytes(PAGE_SIZE)  # what the file holds there: never written
    assert checker.failures(hole, LOCK_BYTE_PAGE - 1) == []
    assert checker.failures(hole, LOCK_BYTE_PAGE) == [LOCK_BYTE_PAGE + 1]  # the pages around it are checked
    assert checker.failures(hole * 3, LOCK_BYTE_PAGE - 2) == [LOCK_BYTE_PAGE - 1, LOCK_BYTE_PAGE + 1]
