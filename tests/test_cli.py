"""The command line as cli-contract.md pins it: JSON shapes, exit codes, passphrase sources, one-line errors."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

import pytest

from tests.conftest import PASSPHRASE, cli, tg_export, tg_msg, write

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _no_traceback(r) -> None:  # type: ignore[no-untyped-def]
    assert "Traceback" not in r.err and "Traceback" not in r.out
    assert len([ln for ln in r.err.splitlines() if ln.startswith("talkvault: error")]) <= 1


def test_init_json_and_files(cli_vault, vault_dir):
    assert re.fullmatch(r"[A-Z2-7]{5}(-[A-Z2-7]{1,5}){5}", cli_vault["RECOVERY_KEY"])
    assert sorted(p.name for p in vault_dir.iterdir()) == ["keyslots.json", "vault.db"]
    r = cli("init", "--kdf-memory", "1", "--kdf-time", "1", "--kdf-parallelism", "1", env=cli_vault)
    assert r.code == 2 and "already exists" in r.err
    _no_traceback(r)


def test_import_chats_search_show_check_shapes(cli_vault, tmp_path):
    export = tg_export(
        tmp_path / "e" / "result.json",
        [tg_msg(1, "hello world"), tg_msg(2, "警察國家", sender="Jon"), tg_msg(3, "bye")],
    )
    r = cli("import", str(export), "--json", env=cli_vault)
    assert r.code == 0, r.err
    doc = r.json()
    assert doc["added"] == 3
    f = doc["files"][0]
    assert {"path", "format", "chats", "added", "duplicates", "events", "attachments", "error"} <= set(f)
    assert f["format"] == "telegram" and f["error"] is None and f["chats"] == 1
    chats = cli("chats", "--json", env=cli_vault).json()
    assert len(chats) == 1
    c = chats[0]
    assert {"id", "title", "source", "messages", "events", "first", "last", "participants"} <= set(c)
    assert isinstance(c["id"], str) and c["messages"] == 3 and ISO_Z.match(c["first"])
    assert sorted(c["participants"]) == ["Jon", "Mei"]
    hits = cli("search", "警察", "--json", env=cli_vault).json()
    assert [h["text"] for h in hits] == ["警察國家"]
    h = hits[0]
    assert {"id", "chat_id", "chat", "source", "sender", "ts", "text"} <= set(h)
    assert ISO_Z.match(h["ts"]) and isinstance(h["id"], str) and h["sender"] == "Jon"
    ctx = cli("search", "警察", "--context", "1", "--json", env=cli_vault).json()[0]["context"]
    assert [m["text"] for m in ctx["before"]] == ["hello world"] and [m["text"] for m in ctx["after"]] == ["bye"]
    shown = cli("show", c["id"], "--json", env=cli_vault).json()
    assert [m["text"] for m in shown] == ["hello world", "警察國家", "bye"]
    assert {"id", "sender", "ts", "text", "kind", "attachments"} <= set(shown[0])
    around = cli("show", c["id"], "--around", h["id"], "--limit", "2", "--json", env=cli_vault).json()
    assert h["id"] in [m["id"] for m in around]
    chk = cli("check", "--json", env=cli_vault)
    assert chk.code == 0 and chk.json() == {"ok": True, "messages": 3, "problems": []}
    st = cli("stats", "--json", env=cli_vault).json()
    assert st["messages"] == 3 and st["by_source"] == {"telegram": 3}
    fm = cli("formats", "--json", env=cli_vault).json()
    assert {"name", "source", "description"} <= set(fm[0]) and any(x["name"] == "telegram" for x in fm)


def test_import_with_a_bad_file_exits_1_and_imports_the_rest(cli_vault, tmp_path):
    good = tg_export(tmp_path / "g" / "result.json", [tg_msg(1, "fine")])
    bad = write(tmp_path / "junk.txt", "\x00\x01 not an export")
    r = cli("import", str(bad), str(good), "--json", env=cli_vault)
    assert r.code == 1
    files = r.json()["files"]
    assert files[0]["error"] and "junk.txt" in files[0]["error"] and files[1]["added"] == 1
    r2 = cli("import", str(bad), env=cli_vault)
    assert r2.code == 1 and "junk.txt" in r2.err and "talkvault formats" in r2.err
    _no_traceback(r2)


def test_exit_codes(cli_vault, tmp_path, vault_dir):
    # 2: usage
    assert cli("search", env=cli_vault).code == 2
    assert cli("no-such-command", env=cli_vault).code == 2
    assert cli("import", "x", "--tz", "Mars/Olympus", env=cli_vault).code == 2
    # 3: wrong passphrase, files untouched
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in vault_dir.iterdir()}
    r = cli("chats", env={**cli_vault, "TALKVAULT_PASSPHRASE": "wrong"})
    assert r.code == 3 and "wrong passphrase" in r.err
    _no_traceback(r)
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in vault_dir.iterdir()} == before
    # 4: not a vault / damaged
    r = cli("chats", env={**cli_vault, "TALKVAULT_DIR": str(tmp_path / "none")})
    assert r.code == 4 and "talkvault init" in r.err
    assert not (tmp_path / "none").exists()
    db = vault_dir / "vault.db"
    data = bytearray(db.read_bytes())
    data[5000] ^= 1
    db.write_bytes(bytes(data))
    r = cli("check", "--json", env=cli_vault)
    assert r.code == 4 and r.json()["ok"] is False
    assert any("page 2" in p for p in r.json()["problems"])


def test_busy_vault_exits_5(cli_vault, vault_dir):
    import sqlcipher3

    key = cli("export-key", "--json", env=cli_vault).json()["key"]
    con = sqlcipher3.connect(str(vault_dir / "vault.db"), isolation_level=None)
    con.execute(f"PRAGMA key = \"x'{key}'\"")
    con.execute("BEGIN EXCLUSIVE")
    try:
        r = cli("chats", env={**cli_vault, "TALKVAULT_WAIT": "0.3"})
        assert r.code == 5, (r.code, r.err)
        assert "busy" in r.err
        _no_traceback(r)
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_passphrase_sources(cli_vault, tmp_path):
    base = {k: v for k, v in cli_vault.items() if k != "TALKVAULT_PASSPHRASE"}
    f = tmp_path / "pw"
    f.write_text(PASSPHRASE + "\n")
    f.chmod(0o600)
    assert cli("chats", "--passphrase-file", str(f), env=base).code == 0
    assert cli("chats", env={**base, "TALKVAULT_PASSPHRASE_FILE": str(f)}).code == 0
    f.chmod(0o644)
    r = cli("chats", "--passphrase-file", str(f), env=base)
    assert r.code == 2 and "chmod 600" in r.err
    f.chmod(0o600)
    assert cli("chats", "--passphrase-command", f"cat {f}", env=base).code == 0
    rfd, wfd = os.pipe()
    os.write(wfd, PASSPHRASE.encode() + b"\n")
    os.close(wfd)
    try:
        assert cli("chats", "--passphrase-fd", str(rfd), env=base, pass_fds=(rfd,)).code == 0
    finally:
        os.close(rfd)
    # More than one non-interactive source: refused, naming them.
    r = cli("chats", "--passphrase-file", str(f), env={**base, "TALKVAULT_PASSPHRASE": PASSPHRASE})
    assert r.code == 2 and "more than one" in r.err
    # No source and no terminal: a clear error that names the options.
    r = cli("chats", env=base)
    assert r.code == 2 and "--passphrase-fd" in r.err and "TALKVAULT_PASSPHRASE" in r.err
    _no_traceback(r)


def test_passwd_and_recovery_keep_the_database_untouched(cli_vault, vault_dir):
    h = hashlib.sha256((vault_dir / "vault.db").read_bytes()).hexdigest()
    r = cli("passwd", "--json", env={**cli_vault, "TALKVAULT_NEW_PASSPHRASE": "ribbon tundra cobalt wharf"})
    assert r.code == 0 and r.json() == {"ok": True}
    assert cli("chats", env=cli_vault).code == 3
    assert cli("chats", env={**cli_vault, "TALKVAULT_PASSPHRASE": "ribbon tundra cobalt wharf"}).code == 0
    r = cli(
        "passwd",
        "--recovery-key",
        "--allow-weak-passphrase",  # "third" is easy to guess: kept because the person insists
        env={**cli_vault, "TALKVAULT_PASSPHRASE": cli_vault["RECOVERY_KEY"], "TALKVAULT_NEW_PASSPHRASE": "third"},
    )
    assert r.code == 0, r.err
    assert cli("chats", env={**cli_vault, "TALKVAULT_PASSPHRASE": "third"}).code == 0
    assert hashlib.sha256((vault_dir / "vault.db").read_bytes()).hexdigest() == h


def test_export_key_opens_with_stock_sqlcipher(cli_vault, vault_dir):
    r = cli("export-key", "--json", env=cli_vault)
    assert r.code == 0 and re.fullmatch(r"[0-9a-f]{64}", r.json()["key"]) and "warning" in r.err


def test_every_command_has_help_and_a_doc_page():
    from tests.conftest import ROOT

    r = cli("--help")
    commands = re.findall(r"^  ([a-z-]+)\s", r.out.split("Commands:")[1], re.M)
    assert {"init", "import", "search", "chats", "check", "export-key", "passwd", "show", "stats", "formats"} <= set(
        commands
    )
    doc = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for c in commands:
        assert cli(c, "--help").code == 0
        assert f"talkvault {c}" in doc, f"docs/cli.md does not document {c}"


def test_json_output_is_one_document(cli_vault):
    r = cli("chats", "--json", env=cli_vault)
    assert json.loads(r.out) == [] and r.out.count("\n") == 1


@pytest.mark.parametrize(
    "args",
    [
        ["search", '"unbalanced'],
        ["search", "(a OR"],
        ["search", "C++"],
        ["search", "*"],
        ["search", "from:"],
        ["search", "NEAR(a b)"],
        ["search", "a:b ^c"],
    ],
)
def test_odd_queries_never_fail(cli_vault, args):
    r = cli(*args, "--json", env=cli_vault)
    assert r.code == 0 and isinstance(r.json(), list)
    _no_traceback(r)


def test_a_folder_of_exports_imports_each_one(cli_vault, tmp_path):
    inbox = tmp_path / "Downloads"
    tg_export(inbox / "ChatExport_1" / "result.json", [tg_msg(1, "from the first")], chat_id=1)
    tg_export(inbox / "ChatExport_2" / "result.json", [tg_msg(1, "from the second")], chat_id=2)
    write(inbox / "notes.txt", "a shopping list, not an export")
    r = cli("import", str(inbox), "--json", env=cli_vault)
    assert r.code == 0, r.err
    files = r.json()["files"]
    assert sorted(Path(f["path"]).name for f in files) == ["ChatExport_1", "ChatExport_2"]
    assert r.json()["added"] == 2
    r = cli("import", str(tmp_path / "Downloads" / "notes.txt"), env=cli_vault)
    assert r.code == 1 and "no importer recognises" in r.err
