"""An independent SQLCipher 4 page decryptor for tests (security.md section 9).

It shares no code with the vault: from the raw data key and the file's salt it derives the HMAC key,
verifies every page's HMAC-SHA512 and decrypts it with AES-256-CBC, so a test can prove that raw-key
mode is really on and search every page, WAL frame and journal record for text that must be gone.
"""

from __future__ import annotations

import hashlib
import hmac
import sqlite3
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

PAGE = 4096
RESERVE = 80  # IV (16) + HMAC-SHA512 (64)
SALT = 16
HEADER = b"SQLite format 3\x00"


@dataclass
class Page:
    pgno: int
    plain: bytes | None  # None: HMAC failed


def hmac_key(dek: bytes, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", dek, bytes(b ^ 0x3A for b in salt), 2, 32)


def decrypt_page(dek: bytes, hkey: bytes, pgno: int, page: bytes) -> bytes | None:
    if len(page) != PAGE:
        return None
    off = SALT if pgno == 1 else 0
    ct = page[off : PAGE - RESERVE]
    iv = page[PAGE - RESERVE : PAGE - RESERVE + 16]
    tag = page[PAGE - RESERVE + 16 :]
    want = hmac.new(hkey, ct + iv + struct.pack("<I", pgno), hashlib.sha512).digest()
    if not hmac.compare_digest(want, tag):
        return None
    dec = Cipher(algorithms.AES(dek), modes.CBC(iv)).decryptor()
    pt = dec.update(ct) + dec.finalize()
    return (HEADER if pgno == 1 else b"") + pt + bytes(RESERVE)


def db_pages(path: Path, dek: bytes) -> Iterator[Page]:
    data = path.read_bytes()
    salt = data[:SALT]
    hkey = hmac_key(dek, salt)
    for i in range(0, len(data), PAGE):
        pgno = i // PAGE + 1
        yield Page(pgno, decrypt_page(dek, hkey, pgno, data[i : i + PAGE]))


def journal_pages(path: Path, dek: bytes, salt: bytes) -> Iterator[Page]:
    """Every HMAC-valid page record in a rollback journal, tried at every 4-byte offset."""
    if not path.exists():
        return
    data = path.read_bytes()
    hkey = hmac_key(dek, salt)
    for off in range(0, max(len(data) - PAGE - 4, 0) + 1, 4):
        pgno = struct.unpack(">I", data[off : off + 4])[0]
        if not 0 < pgno < 1 << 24:
            continue
        plain = decrypt_page(dek, hkey, pgno, data[off + 4 : off + 4 + PAGE])
        if plain is not None:
            yield Page(pgno, plain)


def wal_pages(path: Path, dek: bytes, salt: bytes) -> Iterator[Page]:
    if not path.exists():
        return
    data = path.read_bytes()
    hkey = hmac_key(dek, salt)
    off = 32
    while off + 24 + PAGE <= len(data):
        pgno = struct.unpack(">I", data[off : off + 4])[0]
        yield Page(pgno, decrypt_page(dek, hkey, pgno, data[off + 24 : off + 24 + PAGE]))
        off += 24 + PAGE


def plaintext_copy(path: Path, dek: bytes, out: Path) -> Path:
    """A decrypted copy that stdlib sqlite3 can open (header says reserve 80)."""
    with out.open("wb") as fh:
        for page in db_pages(path, dek):
            if page.plain is None:
                raise ValueError(f"page {page.pgno} failed its HMAC")
            fh.write(page.plain)
    return out


def all_plaintext(vault_dir: Path, dek: bytes) -> list[tuple[str, int, bytes]]:
    """(file, page number, decrypted bytes) for the db, its journal and WAL."""
    db = vault_dir / "vault.db"
    salt = db.read_bytes()[:SALT]
    out: list[tuple[str, int, bytes]] = []
    for p in db_pages(db, dek):
        if p.plain is not None:
            out.append(("vault.db", p.pgno, p.plain))
    for name, fn in (("vault.db-journal", journal_pages), ("vault.db-wal", wal_pages)):
        for p in fn(vault_dir / name, dek, salt):
            if p.plain is not None:
                out.append((name, p.pgno, p.plain))
    return out


def find(vault_dir: Path, dek: bytes, needles: list[bytes]) -> list[str]:
    """Where any needle occurs: decrypted pages, and the raw bytes of every file in the vault dir."""
    hits: list[str] = []
    for name, pgno, plain in all_plaintext(vault_dir, dek):
        for n in needles:
            if n in plain:
                hits.append(f"{name} page {pgno}: {n!r}")
    for f in vault_dir.rglob("*"):
        if f.is_file():
            raw = f.read_bytes()
            for n in needles:
                if n in raw:
                    hits.append(f"raw {f.name}: {n!r}")
    return hits


def integrity_ok(copy: Path) -> bool:
    con = sqlite3.connect(copy)
    try:
        return con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        con.close()
