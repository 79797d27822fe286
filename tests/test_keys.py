"""security.md 8.4, 8.5, 8.10: key slots, passphrases, the recovery key and what bad key files do."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import vault
from tests.conftest import PASSPHRASE, ROOT
from vault.errors import AuthenticationError, NotAVaultError, VaultDamagedError
from vault.store import keys
from vault.store.keys import DEFAULT_KDF, FLOOR_KDF, KdfParams, KeyFile


def _snapshot(d: Path) -> dict[str, tuple[str, int]]:
    return {f.name: (hashlib.sha256(f.read_bytes()).hexdigest(), f.stat().st_mtime_ns) for f in d.iterdir()}


def test_default_kdf_is_strong_and_stored_in_the_slot(tmp_path):
    assert (DEFAULT_KDF.t, DEFAULT_KDF.m_kib, DEFAULT_KDF.p) == (3, 262144, 2)
    v = vault.create(tmp_path / "v", PASSPHRASE)  # the real default: one 256 MiB Argon2id run per slot
    v.close()
    doc = json.loads((tmp_path / "v" / "keyslots.json").read_text())
    kinds = sorted(s["kind"] for s in doc["slots"])
    assert kinds == ["passphrase", "recovery"]
    for s in doc["slots"]:
        assert (s["kdf"]["t"], s["kdf"]["m_kib"], s["kdf"]["p"]) == (3, 262144, 2)
        assert s["kdf"]["alg"] == "argon2id" and s["aead"] == "aes-256-gcm"
    salts = {s["kdf"]["salt"] for s in doc["slots"]}
    nonces = {s["nonce"] for s in doc["slots"]}
    assert len(salts) == 2 and len(nonces) == 2


def test_no_product_code_reads_a_weaken_switch():
    for f in list((ROOT / "vault").rglob("*.py")) + list((ROOT / "importers").rglob("*.py")):
        text = f.read_text(encoding="utf-8").upper()
        assert "WEAKEN" not in text and "TESTONLY" not in text, f
    assert "environ" not in (ROOT / "vault" / "store" / "keys.py").read_text()


def test_wrong_passphrase_changes_nothing(new_vault, vault_dir):
    new_vault.close()
    before = _snapshot(vault_dir)
    with pytest.raises(AuthenticationError):
        vault.open(vault_dir, "not the passphrase")
    assert _snapshot(vault_dir) == before


def test_passphrase_change_and_recovery_rewrap_only_the_key_file(new_vault, vault_dir, weak_kdf):
    rk = new_vault.recovery_key.text()
    new_vault.close()
    db_hash = hashlib.sha256((vault_dir / "vault.db").read_bytes()).hexdigest()
    vault.core.change_passphrase(
        vault_dir, "second", old=PASSPHRASE, kdf=weak_kdf, chosen=True, allow_weak_passphrase=True
    )
    with pytest.raises(AuthenticationError):
        vault.open(vault_dir, PASSPHRASE)
    vault.open(vault_dir, "second").close()
    vault.core.change_passphrase(
        vault_dir,
        "third",
        recovery_key=rk.lower().replace("-", " "),
        kdf=weak_kdf,
        chosen=True,
        allow_weak_passphrase=True,
    )
    vault.open(vault_dir, "third").close()
    with vault.open(vault_dir, recovery_key=rk) as v:
        assert v.counts()["messages"] == 0
    assert hashlib.sha256((vault_dir / "vault.db").read_bytes()).hexdigest() == db_hash


def test_slot_below_the_floor_is_rewrapped_on_unlock(tmp_path, weak_kdf):
    v = vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf)  # not chosen: as an old version would have
    v.close()
    target = KdfParams(t=3, m_kib=64 * 1024, p=4)  # the floor itself: cheap enough for a test
    vault.open(tmp_path / "v", PASSPHRASE, kdf=target).close()
    kf = KeyFile.load(tmp_path / "v" / "keyslots.json")
    slot = next(s for s in kf.slots if s.kind == "passphrase")
    assert not slot.params.below(FLOOR_KDF)
    vault.open(tmp_path / "v", PASSPHRASE).close()


def test_tampered_key_file_bytes_never_crash(new_vault, vault_dir):
    new_vault.close()
    kp = vault_dir / "keyslots.json"
    original = kp.read_bytes()
    db_before = (vault_dir / "vault.db").read_bytes()
    doc = json.loads(original)
    slot = next(s for s in doc["slots"] if s["kind"] == "passphrase")
    # Flip every byte of the passphrase slot's serialised form, borg-style.
    wrapped = slot["wrapped_dek"].encode()
    start = original.find(b'"kind": "passphrase"')
    assert start > 0
    lo, hi = max(0, start - 600), min(len(original), start + 600)
    w = original.find(wrapped)
    assert lo <= w and w + len(wrapped) <= hi  # the wrapped key is among the flipped bytes
    refused: set[int] = set()
    for i in range(lo, hi):
        bad = bytearray(original)
        bad[i] ^= 0x01
        kp.write_bytes(bytes(bad))
        try:
            vault.open(vault_dir, PASSPHRASE).close()
        except (AuthenticationError, VaultDamagedError):
            refused.add(i)
    kp.write_bytes(original)
    assert (vault_dir / "vault.db").read_bytes() == db_before
    # A flipped bit anywhere in the wrapped key is refused (a few base64 bits are padding, but the
    # passphrase slot's key must not open from most of its altered encodings).
    in_key = [i for i in range(w, w + len(wrapped)) if i in refused]
    assert len(in_key) >= len(wrapped) * 0.9


def test_parameters_from_a_tampered_file_are_bounded(new_vault, vault_dir):
    new_vault.close()
    kp = vault_dir / "keyslots.json"
    doc = json.loads(kp.read_text())
    for s in doc["slots"]:
        s["kdf"]["m_kib"] = 64 * 1024 * 1024  # 64 GiB
    kp.write_text(json.dumps(doc))
    with pytest.raises(VaultDamagedError):
        vault.open(vault_dir, PASSPHRASE)


def test_key_file_of_another_vault_is_refused_untouched(tmp_path, weak_kdf):
    a = vault.create(tmp_path / "a", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True)
    a.close()
    b = vault.create(tmp_path / "b", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True)
    b.close()
    (tmp_path / "b" / "keyslots.json").write_bytes((tmp_path / "a" / "keyslots.json").read_bytes())
    before = _snapshot(tmp_path / "b")
    with pytest.raises(VaultDamagedError):
        vault.open(tmp_path / "b", PASSPHRASE)
    assert _snapshot(tmp_path / "b") == before


def test_damaged_database_and_missing_files(new_vault, vault_dir):
    new_vault.close()
    db = vault_dir / "vault.db"
    data = bytearray(db.read_bytes())
    data[100] ^= 0xFF  # page 1 ciphertext
    db.write_bytes(bytes(data))
    before = _snapshot(vault_dir)
    with pytest.raises(VaultDamagedError):
        vault.open(vault_dir, PASSPHRASE)
    assert _snapshot(vault_dir) == before
    (vault_dir / "keyslots.json").unlink()
    with pytest.raises(VaultDamagedError, match="key file"):
        vault.open(vault_dir, PASSPHRASE)


def test_no_vault_says_how_to_create_one(tmp_path):
    with pytest.raises(NotAVaultError, match="talkvault init"):
        vault.open(tmp_path / "nothing", PASSPHRASE)
    assert not (tmp_path / "nothing").exists()


def test_create_refuses_an_existing_vault(new_vault, vault_dir, weak_kdf):
    from vault.errors import VaultExistsError

    with pytest.raises(VaultExistsError):
        vault.create(vault_dir, PASSPHRASE, kdf=weak_kdf)


def test_recovery_keys_are_128_bit_and_normalised():
    k = keys.new_recovery_key().text()
    assert len(k.replace("-", "")) == 26
    assert keys.normalise_recovery_key(keys.Secret(k.lower().replace("-", " "))).text() == k


_REWRITER = """
import sys, vault
from vault.store.keys import KdfParams
from vault.errors import AuthenticationError
path, i = sys.argv[1], 0
while True:
    for old, new in (("p0", "p1"), ("p1", "p0")):
        try:
            vault.core.change_passphrase(
                path, new, old=old, kdf=KdfParams(1, 8, 1), chosen=True, allow_weak_passphrase=True
            )
        except AuthenticationError:
            continue
        print(i, flush=True)
        i += 1
"""


def test_kill_during_key_file_rewrite_leaves_a_usable_file(tmp_path, weak_kdf):
    """8.5: kill -9 while keyslots.json is rewritten, 30 times; it always opens with p0 or p1."""
    import random
    import time

    path = tmp_path / "v"
    vault.create(path, "p0", kdf=weak_kdf, kdf_chosen=True, allow_weak_passphrase=True).close()
    rng = random.Random(7)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for _ in range(30):
        p = subprocess.Popen([sys.executable, "-c", _REWRITER, str(path)], stdout=subprocess.PIPE, env=env)
        time.sleep(rng.uniform(0.15, 0.4))
        p.kill()
        p.wait()
        opened = False
        for pw in ("p0", "p1"):
            try:
                vault.open(path, pw).close()
                opened = True
            except AuthenticationError:
                continue
        assert opened
    vault.core.change_passphrase(
        path, "p2", old="p0" if _opens(path, "p0") else "p1", kdf=weak_kdf, chosen=True, allow_weak_passphrase=True
    )
    assert sorted(f.name for f in path.iterdir()) == ["keyslots.json", "vault.db"], "stale temp key files"


def _opens(path: Path, pw: str) -> bool:
    try:
        vault.open(path, pw).close()
        return True
    except AuthenticationError:
        return False


def test_docs_state_the_kdf_numbers_the_code_uses():
    doc = (ROOT / "docs" / "security.md").read_text(encoding="utf-8")
    assert f"| time cost (passes) | {DEFAULT_KDF.t} |" in doc
    assert f"| memory | {DEFAULT_KDF.m_kib} KiB ({DEFAULT_KDF.m_kib // 1024} MiB) |" in doc
    assert f"| parallelism | {DEFAULT_KDF.p} |" in doc
    assert f"{FLOOR_KDF.t} passes, {FLOOR_KDF.m_kib // 1024} MiB, {FLOOR_KDF.p} lanes" in doc
    assert f"{keys.SALT_BYTES} bytes" in doc


def _slot_edit_is_refused(vault_dir, field, value):
    kp = vault_dir / "keyslots.json"
    doc = json.loads(kp.read_text())
    for s in doc["slots"]:
        s[field] = value
    kp.write_text(json.dumps(doc))
    with pytest.raises((AuthenticationError, VaultDamagedError)):
        vault.open(vault_dir, PASSPHRASE)
    with pytest.raises((AuthenticationError, VaultDamagedError)):
        vault.open(vault_dir, recovery_key="0" * 64)


@pytest.mark.parametrize(("field", "value"), [("chosen", False), ("created", "2001-01-01T00:00:00Z"), ("gen", 7)])
def test_a_slot_whose_header_was_edited_does_not_open(new_vault, vault_dir, field, value):
    """The slot's header is the AES-GCM associated data of its wrapped key: edit one field, and the
    key no longer unwraps (an unbound header would let an attacker relabel slots unnoticed)."""
    new_vault.close()
    doc = json.loads((vault_dir / "keyslots.json").read_text())
    assert all(s[field] != value for s in doc["slots"])  # the edit changes something
    _slot_edit_is_refused(vault_dir, field, value)


def test_the_wrapped_key_is_bound_to_its_header(new_vault, vault_dir, weak_kdf):
    """Independently of keys.py's own unwrap: with the KEK, the wrapped key opens only with the
    slot's canonical header as associated data, never with none."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from vault.secret import Secret
    from vault.store.keys import derive_kek

    new_vault.close()
    kf = KeyFile.load(vault_dir / "keyslots.json")
    slot = next(s for s in kf.slots if s.kind == "passphrase")
    kek = bytes(derive_kek(Secret(PASSPHRASE), slot.salt, slot.params))
    header = slot.header(kf.vault_id)
    assert header["vault_id"] == kf.vault_id and header["kind"] == "passphrase"
    aad = json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    assert len(AESGCM(kek).decrypt(slot.nonce, slot.wrapped, aad)) == 32
    for other in (b"", None, aad.replace(b'"passphrase"', b'"recovery"')):
        with pytest.raises(InvalidTag):
            AESGCM(kek).decrypt(slot.nonce, slot.wrapped, other)


def test_a_vault_whose_index_lost_secure_delete_does_not_open(new_vault, vault_dir):
    """Without FTS5 secure-delete, deleted words would stay in the index's pages: refuse to open."""
    new_vault.conn.execute("INSERT INTO fts(fts, rank) VALUES ('secure-delete', 0)")
    new_vault.close()
    with pytest.raises(VaultDamagedError, match="secure-delete"):
        vault.open(vault_dir, PASSPHRASE)
