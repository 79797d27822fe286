"""Key slots: the random data key of a vault, wrapped under keys derived from a passphrase or recovery key.

security.md 2.1-2.2. `keyslots.json` (0600) beside `vault.db` holds one object per slot; each wraps
the same 32-byte data key (DEK) with AES-256-GCM under a key-encryption key from Argon2id. Every
field of the slot except the wrapped key is bound to it as associated data, so parameters cannot be
lowered by editing the file. Parameters read from the file are bounded before use. The file is
rewritten atomically (temp file, fsync, rename, fsync of the directory).
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import AuthenticationError, UsageError, VaultDamagedError
from vault.secret import Secret, wipe

KEYSLOTS_NAME = "keyslots.json"
KEYSLOTS_FORMAT = 1
DEK_BYTES = 32
SALT_BYTES = 16
NONCE_BYTES = 12
VAULT_ID_BYTES = 16
RECOVERY_BYTES = 16  # 128-bit recovery key
ARGON2_VERSION = 19  # 0x13


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: t iterations, m KiB of memory, p lanes."""

    t: int
    m_kib: int
    p: int

    def below(self, other: KdfParams) -> bool:
        """Weaker than `other` in memory or time (either one counts)."""
        return self.m_kib < other.m_kib or self.t * self.m_kib < other.t * other.m_kib


# security.md 2.2: the default profile for new slots (0.4-0.8 s on a 2-core machine).
DEFAULT_KDF = KdfParams(t=3, m_kib=256 * 1024, p=2)
# RFC 9106 "second recommended" = argon2-cffi RFC_9106_LOW_MEMORY: the least we accept silently.
FLOOR_KDF = KdfParams(t=3, m_kib=64 * 1024, p=4)
# Bounds on parameters read from a key file: a tampered file must not demand 64 GiB.
MAX_T = 64
MAX_M_KIB = 4 * 1024 * 1024  # 4 GiB
MAX_P = 64
MIN_M_KIB = 8
# Each bound alone still lets 64 passes over 4 GiB through: an hour per unlock. The work of one
# Argon2id run is about passes x memory, so their product is capped too: 8 GiB-passes (t * m_kib
# <= 8 388 608), four times RFC 9106's first recommendation (1 pass, 2 GiB: 3.9-4.6 s measured on
# a 2-core machine), so about 20 s here. The default costs 3 x 256 MiB = 0.75 GiB-passes.
MAX_COST = 8 * 1024 * 1024  # KiB-passes: t * m_kib


def check_params(params: KdfParams) -> KdfParams:
    if not (1 <= params.t <= MAX_T and MIN_M_KIB <= params.m_kib <= MAX_M_KIB and 1 <= params.p <= MAX_P):
        raise UsageError(
            f"Argon2id parameters out of range (time 1-{MAX_T}, memory {MIN_M_KIB} KiB-{MAX_M_KIB // 1024} MiB, "
            f"parallelism 1-{MAX_P})"
        )
    if params.t * params.m_kib > MAX_COST:
        raise UsageError(
            f"Argon2id settings too costly: passes x memory may be at most {MAX_COST // (1024 * 1024)} GiB "
            f"(for example 2 passes of 4096 MiB, or 8 of 1024 MiB); every unlock would take minutes"
        )
    if params.m_kib < 8 * params.p:
        raise UsageError("Argon2id needs at least 8 KiB of memory per lane")
    return params


def derive_kek(secret: Secret, salt: bytes, params: KdfParams) -> bytearray:
    raw = hash_secret_raw(
        secret=secret.bytes(),
        salt=salt,
        time_cost=params.t,
        memory_cost=params.m_kib,
        parallelism=params.p,
        hash_len=32,
        type=Type.ID,
        version=ARGON2_VERSION,
    )
    return bytearray(raw)


def _is_int(x: object) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _b64(data: bytes | bytearray) -> str:
    return base64.b64encode(bytes(data)).decode("ascii")


def _unb64(value: Any, size: int | None, what: str) -> bytes:
    if not isinstance(value, str):
        raise VaultDamagedError(f"the key file is damaged ({what}); restore keyslots.json from a backup")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise VaultDamagedError(f"the key file is damaged ({what}); restore keyslots.json from a backup") from None
    if size is not None and len(raw) != size:
        raise VaultDamagedError(f"the key file is damaged ({what}); restore keyslots.json from a backup")
    return raw


@dataclass(frozen=True)
class Slot:
    slot_id: str
    kind: str  # "passphrase" | "recovery"
    params: KdfParams
    salt: bytes
    nonce: bytes
    wrapped: bytes
    created: str
    chosen: bool = False  # the person chose these KDF parameters explicitly (no automatic upgrade)
    gen: int = 0  # which data key: rotate-key adds slots of the next generation, then drops the old

    def header(self, vault_id: str) -> dict[str, Any]:
        """Every field but the wrapped key: the AEAD's associated data."""
        return {
            "format": KEYSLOTS_FORMAT,
            "vault_id": vault_id,
            "slot_id": self.slot_id,
            "kind": self.kind,
            "kdf": {
                "alg": "argon2id",
                "v": ARGON2_VERSION,
                "t": self.params.t,
                "m_kib": self.params.m_kib,
                "p": self.params.p,
                "salt": _b64(self.salt),
            },
            "chosen": self.chosen,
            "gen": self.gen,
            "aead": "aes-256-gcm",
            "nonce": _b64(self.nonce),
            "created": self.created,
        }

    def to_json(self, vault_id: str) -> dict[str, Any]:
        d = self.header(vault_id)
        d["wrapped_dek"] = _b64(self.wrapped)
        return d


def _aad(header: dict[str, Any]) -> bytes:
    return json.dumps(header, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def wrap(
    dek: bytes | bytearray,
    secret: Secret,
    kind: str,
    params: KdfParams,
    vault_id: str,
    *,
    chosen: bool = False,
    slot_id: str | None = None,
    gen: int = 0,
) -> Slot:
    check_params(params)
    salt = secrets.token_bytes(SALT_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    slot = Slot(
        slot_id=slot_id or secrets.token_hex(8),
        kind=kind,
        params=params,
        salt=salt,
        nonce=nonce,
        wrapped=b"",
        created=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        chosen=chosen,
        gen=gen,
    )
    kek = derive_kek(secret, salt, params)
    try:
        wrapped = AESGCM(bytes(kek)).encrypt(nonce, bytes(dek), _aad(slot.header(vault_id)))
    finally:
        wipe(kek)
    return Slot(**{**slot.__dict__, "wrapped": wrapped})


def unwrap(slot: Slot, secret: Secret, vault_id: str) -> bytearray | None:
    """The data key, or None if this secret does not open this slot."""
    kek = derive_kek(secret, slot.salt, slot.params)
    try:
        dek = AESGCM(bytes(kek)).decrypt(slot.nonce, slot.wrapped, _aad(slot.header(vault_id)))
    except InvalidTag:
        return None
    finally:
        wipe(kek)
    if len(dek) != DEK_BYTES:
        return None
    return bytearray(dek)


# What a key file may hold, exactly: a field that is not known, or a copy of the file's format or
# vault id in a slot that disagrees with the file's, means someone edited it (docs/vault-format.md).
FILE_FIELDS = frozenset({"format", "vault_id", "slots"})
SLOT_FIELDS = frozenset(
    {"slot_id", "kind", "kdf", "chosen", "gen", "aead", "nonce", "created", "format", "vault_id", "wrapped_dek"}
)
SLOT_OPTIONAL = frozenset({"chosen", "gen"})  # absent in files written before they existed
KDF_FIELDS = frozenset({"alg", "v", "t", "m_kib", "p", "salt"})
MAX_KEYFILE_BYTES = 1024 * 1024
# A key file is three levels deep (file, slot, kdf); JSON nested deeper than this is not one, and is
# refused before Python's parser could recurse into it.
MAX_DEPTH = 8


def _altered(what: str) -> VaultDamagedError:
    return VaultDamagedError(
        f"the key file was altered ({what}); nothing was changed. Restore keyslots.json from a backup "
        "('talkvault restore')"
    )


def _too_deep(text: str, limit: int = MAX_DEPTH) -> bool:
    """Whether JSON text nests brackets deeper than `limit` (brackets inside strings do not count)."""
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise _altered("a field appears twice")
        out[k] = v
    return out


def parse_keyfile_json(data: bytes) -> Any:
    """The JSON document of a key file, or VaultDamagedError: never RecursionError or MemoryError."""
    damaged = VaultDamagedError("the key file is damaged; restore keyslots.json from a backup ('talkvault restore')")
    if len(data) > MAX_KEYFILE_BYTES:
        raise damaged
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise damaged from None
    if _too_deep(text):
        raise damaged
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates)
    except (ValueError, RecursionError):
        raise damaged from None


@dataclass
class KeyFile:
    vault_id: str
    slots: list[Slot]

    # -- reading ---------------------------------------------------------------------------
    @classmethod
    def load(cls, path: Path) -> KeyFile:
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_KEYFILE_BYTES + 1)
        except FileNotFoundError:
            raise VaultDamagedError(
                f"the key file {path.name} is missing from the vault directory; without it the vault "
                "cannot be opened. Restore it from a backup ('talkvault restore')"
            ) from None
        return cls.loads(data)

    @classmethod
    def loads(cls, data: bytes) -> KeyFile:
        """A key file from its bytes (keyslots.json, or the copy inside a backup)."""
        return cls.from_json(parse_keyfile_json(data))

    @classmethod
    def from_json(cls, doc: Any) -> KeyFile:
        damaged = VaultDamagedError(
            "the key file is damaged; restore keyslots.json from a backup ('talkvault restore')"
        )
        if not isinstance(doc, dict) or doc.get("format") != KEYSLOTS_FORMAT:
            raise damaged
        if set(doc) - FILE_FIELDS:
            raise _altered("unknown fields")
        vault_id = doc.get("vault_id")
        if not isinstance(vault_id, str) or len(vault_id) != 2 * VAULT_ID_BYTES:
            raise damaged
        raw_slots = doc.get("slots")
        if not isinstance(raw_slots, list) or not raw_slots:
            raise damaged
        slots: list[Slot] = []
        for s in raw_slots:
            if not isinstance(s, dict):
                raise damaged
            if set(s) - SLOT_FIELDS:
                raise _altered("a key slot has unknown fields")
            if SLOT_FIELDS - SLOT_OPTIONAL - set(s):
                raise damaged
            if s["vault_id"] != vault_id:
                raise _altered("a key slot names another vault")
            if s["format"] != KEYSLOTS_FORMAT or isinstance(s["format"], bool):
                raise _altered("a key slot names another format")
            kdf = s.get("kdf")
            if not isinstance(kdf, dict) or kdf.get("alg") != "argon2id" or kdf.get("v") != ARGON2_VERSION:
                raise damaged
            if set(kdf) != KDF_FIELDS:
                raise _altered("a key slot's KDF fields")
            t, m, p = kdf.get("t"), kdf.get("m_kib"), kdf.get("p")
            if not (_is_int(t) and _is_int(m) and _is_int(p)):
                raise damaged
            params = KdfParams(t=int(t), m_kib=int(m), p=int(p))  # type: ignore[arg-type]
            try:
                check_params(params)  # bounded on read: never run a KDF a tampered file asks for
            except UsageError:
                raise damaged from None
            if s.get("aead") != "aes-256-gcm" or s.get("kind") not in ("passphrase", "recovery"):
                raise damaged
            if not isinstance(s.get("slot_id"), str) or not isinstance(s.get("created"), str):
                raise damaged
            if not isinstance(s.get("chosen", False), bool) or not _is_int(s.get("gen", 0)):
                raise damaged
            slots.append(
                Slot(
                    slot_id=s["slot_id"],
                    kind=s["kind"],
                    params=params,
                    salt=_unb64(kdf.get("salt"), SALT_BYTES, "salt"),
                    nonce=_unb64(s.get("nonce"), NONCE_BYTES, "nonce"),
                    wrapped=_unb64(s.get("wrapped_dek"), DEK_BYTES + 16, "wrapped key"),
                    created=s["created"],
                    chosen=s.get("chosen", False),
                    gen=int(s.get("gen", 0)),
                )
            )
        return cls(vault_id=vault_id, slots=slots)

    def to_json(self) -> dict[str, Any]:
        return {
            "format": KEYSLOTS_FORMAT,
            "vault_id": self.vault_id,
            "slots": [s.to_json(self.vault_id) for s in self.slots],
        }

    def dumps(self) -> bytes:
        return (json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n").encode("ascii")

    # -- unlocking -------------------------------------------------------------------------
    def unlock(self, secret: Secret, kind: str = "passphrase") -> tuple[bytearray, Slot]:
        """Try each slot of `kind`, newest key generation first; one KDF run per slot.

        AuthenticationError if none opens. See `unlock_all` for the rotation window."""
        found = self.unlock_all(secret, kind)
        for dek, _slot in found[1:]:
            wipe(dek)
        return found[0]

    def unlock_all(self, secret: Secret, kind: str = "passphrase") -> list[tuple[bytearray, Slot]]:
        """Every (key, slot) this secret opens, newest generation first.

        Normally one. During `rotate-key` the file briefly holds slots of two generations; the
        caller then keeps the one whose key opens the database."""
        out: list[tuple[bytearray, Slot]] = []
        for slot in sorted(self.slots, key=lambda s: -s.gen):
            if slot.kind != kind:
                continue
            dek = unwrap(slot, secret, self.vault_id)
            if dek is not None:
                out.append((dek, slot))
        if not out:
            raise AuthenticationError()
        return out

    @property
    def generations(self) -> set[int]:
        return {s.gen for s in self.slots}

    def replace_slot(self, old: Slot, new: Slot) -> None:
        self.slots = [new if s.slot_id == old.slot_id else s for s in self.slots]

    # -- writing ---------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        remove_stale_temps(path)
        atomic_write(path, self.dumps())


def remove_stale_temps(path: Path) -> None:
    """Temp files an interrupted rewrite left behind (they hold an older wrapping of the key)."""
    for stale in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            stale.unlink()
        except OSError:
            pass


def atomic_write(path: Path, data: bytes) -> None:
    """Write a file so that readers see the old or the new content, never a mix (0600)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    try:
        dfd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(dfd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(dfd)


# -- recovery keys ---------------------------------------------------------------------------
_B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


def new_recovery_key() -> Secret:
    """A random 128-bit key, shown as 26 base32 letters in groups: ABCDE-FGHIJ-..."""
    raw = secrets.token_bytes(RECOVERY_BYTES)
    text = base64.b32encode(raw).decode("ascii").rstrip("=")
    return Secret("-".join(text[i : i + 5] for i in range(0, len(text), 5)))


def normalise_recovery_key(secret: Secret) -> Secret:
    """Accept the key however it was typed: lower case, spaces, with or without dashes."""
    text = "".join(ch for ch in secret.text().upper() if ch in _B32)
    return Secret("-".join(text[i : i + 5] for i in range(0, len(text), 5)))
