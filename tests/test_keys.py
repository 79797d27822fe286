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
from tests.conftest import PASSPHRASE, ROOT, cli
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
    # The bounds on parameters read from a key file, and the cost ceiling, in both documents.
    fmt = (ROOT / "docs" / "vault-format.md").read_text(encoding="utf-8")
    assert f"at most {keys.MAX_M_KIB // (1024 * 1024)} GiB and {keys.MAX_T} passes" in doc
    assert f"t * m_kib <= {keys.MAX_COST} KiB" in doc
    assert f"at most {keys.MAX_COST // (1024 * 1024)} GiB (" in doc
    assert (
        f"`t` 1-{keys.MAX_T}, `m_kib` {keys.MIN_M_KIB}-{keys.MAX_M_KIB} ({keys.MAX_M_KIB // (1024 * 1024)} GiB)" in fmt
    )
    assert f"`p` 1-{keys.MAX_P}" in fmt
    assert f"`t * m_kib <= {keys.MAX_COST}` ({keys.MAX_COST // (1024 * 1024)} GiB-passes)" in fmt
    assert f"deeper than {keys.MAX_DEPTH} levels" in doc and f"deeper than {keys.MAX_DEPTH} levels" in fmt


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


# -- issue 17 item 3: a key file that was edited is refused, whatever was edited ---------------------
def _edit_keyfile(vault_dir: Path, edit) -> None:  # type: ignore[no-untyped-def]
    kp = vault_dir / "keyslots.json"
    doc = json.loads(kp.read_text())
    edit(doc)
    kp.write_text(json.dumps(doc))


def _set_in_slots(field: str, value: object):  # type: ignore[no-untyped-def]
    def edit(doc: dict) -> None:
        for s in doc["slots"]:
            s[field] = value

    return edit


@pytest.mark.parametrize(
    ("what", "edit"),
    [
        ("slot vault_id", _set_in_slots("vault_id", "0" * 32)),
        ("slot format", _set_in_slots("format", 2)),
        ("slot format true", _set_in_slots("format", True)),
        ("unknown slot field", _set_in_slots("note", "hello")),
        ("unknown kdf field", lambda doc: [s["kdf"].update(extra=1) for s in doc["slots"]]),
        ("unknown file field", lambda doc: doc.update(comment="x")),
    ],
)
def test_an_edited_key_file_is_refused_as_altered(cli_vault, vault_dir, what, edit):
    """Fields outside the AEAD's associated data (the slot's copies of the file's vault id and
    format, or fields nobody writes) used to be ignored: the slot still opened."""
    _edit_keyfile(vault_dir, edit)
    before = _snapshot(vault_dir)
    r = cli("chats", env=cli_vault)
    assert r.code == 4, (what, r.code, r.err)
    assert "the key file was altered" in r.err and "Traceback" not in r.err
    with pytest.raises(VaultDamagedError, match="altered"):
        vault.open(vault_dir, PASSPHRASE)
    r = cli("chats", env={**cli_vault, "TALKVAULT_PASSPHRASE": cli_vault["RECOVERY_KEY"]})
    assert r.code == 4
    assert _snapshot(vault_dir) == before


def test_a_duplicated_field_is_refused_as_altered(new_vault, vault_dir):
    """json keeps the last of two equal keys; an attacker could hide a second vault_id that way."""
    new_vault.close()
    kp = vault_dir / "keyslots.json"
    text = kp.read_text()
    kp.write_text(text.replace('"format": 1,', '"format": 1, "format": 1,', 1))
    with pytest.raises(VaultDamagedError, match="altered"):
        vault.open(vault_dir, PASSPHRASE)


@pytest.mark.parametrize("where", ["whole file", "inside a slot"])
def test_deeply_nested_key_file_is_a_clean_exit_4(cli_vault, vault_dir, where):
    kp = vault_dir / "keyslots.json"
    if where == "whole file":
        kp.write_text("[" * 200_000 + "]" * 200_000)
    else:
        text = kp.read_text()
        kp.write_text(text.replace('"created": ', '"created": ' + "[" * 100_000 + "]" * 100_000 + ', "x": ', 1))
    r = cli("chats", env=cli_vault)
    assert r.code == 4, r.err
    assert "damaged" in r.err and "RecursionError" not in r.err and "internal error" not in r.err
    with pytest.raises(VaultDamagedError):
        KeyFile.load(kp)
    with pytest.raises(VaultDamagedError):
        KeyFile.loads(b"{" * 50 + b"}" * 50)


def test_a_kdf_cost_within_each_bound_but_costing_minutes_is_refused(tmp_path, weak_kdf):
    """t=32 with 1 GiB is inside both bounds (64 passes, 4 GiB) and would run for minutes per
    unlock: refused by the cost ceiling, at init and when read from a key file, before any KDF run."""
    costly = KdfParams(t=32, m_kib=1024 * 1024, p=1)
    assert costly.t <= keys.MAX_T and costly.m_kib <= keys.MAX_M_KIB
    assert costly.t * costly.m_kib > keys.MAX_COST
    from vault.errors import UsageError

    with pytest.raises(UsageError, match="too costly"):
        keys.check_params(costly)
    keys.check_params(KdfParams(t=keys.MAX_COST // (4 * 1024 * 1024), m_kib=4 * 1024 * 1024, p=4))  # at the ceiling
    vdir = tmp_path / "v"
    r = cli(
        "init",
        "--kdf-memory",
        "1024",
        "--kdf-time",
        "32",
        env={"TALKVAULT_DIR": str(vdir), "TALKVAULT_PASSPHRASE": PASSPHRASE},
        timeout=30,
    )
    assert r.code == 2 and "too costly" in r.err and not vdir.exists()
    vault.create(vdir, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True).close()
    _edit_keyfile(vdir, lambda doc: [s["kdf"].update(t=costly.t, m_kib=costly.m_kib) for s in doc["slots"]])
    env = {"TALKVAULT_DIR": str(vdir), "TALKVAULT_PASSPHRASE": PASSPHRASE}
    r = cli("chats", env=env, timeout=30)  # without the ceiling: 32 passes over 1 GiB per slot
    assert r.code == 4 and "damaged" in r.err
