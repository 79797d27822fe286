"""`--json` prints exactly one JSON document, failures included (issue 17 item 9), and a missing
chat or message is said so, exit 1 (item 8). Every exit code path goes through the `cli` helper,
a real subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import cli, tg_export, tg_msg, write


def one_error_doc(out: str, code: int) -> str:
    lines = out.splitlines()
    assert len(lines) == 1, out
    doc = json.loads(lines[0])
    assert set(doc) == {"error"} and set(doc["error"]) == {"exit", "message"}, doc
    assert doc["error"]["exit"] == code
    assert doc["error"]["message"] and not doc["error"]["message"].startswith("talkvault:")
    return str(doc["error"]["message"])


@pytest.fixture
def filled(cli_vault: dict[str, str], tmp_path: Path) -> dict[str, str]:
    r = cli("import", str(tg_export(tmp_path / "result.json", [tg_msg(1, "hello dumplings")])), env=cli_vault)
    assert r.code == 0, r.err
    return cli_vault


def test_no_vault(tmp_path: Path) -> None:
    env = {"TALKVAULT_DIR": str(tmp_path / "none"), "TALKVAULT_PASSPHRASE": "x"}
    for args in (["chats", "--json"], ["search", "x", "--json"], ["stats", "--json"]):
        r = cli(*args, env=env)
        assert r.code == 4, (args, r.err)
        assert "talkvault init" in one_error_doc(r.out, 4)
        assert "no vault" in r.err  # the line on stderr stays


def test_wrong_passphrase(filled: dict[str, str]) -> None:
    r = cli("chats", "--json", env={**filled, "TALKVAULT_PASSPHRASE": "wrong"})
    assert r.code == 3
    assert "passphrase" in one_error_doc(r.out, 3)


def test_missing_chat_and_message(filled: dict[str, str]) -> None:
    for args in (["show", "999"], ["show", "no such title"], ["delete", "--chat", "999", "--yes"]):
        r = cli(*args, env=filled)
        assert r.code == 1, (args, r.code, r.err)
        assert "no such chat" in r.err and r.out == "", (args, r.err)
        r = cli(*args, "--json", env=filled)
        assert "no such chat" in one_error_doc(r.out, 1)
    r = cli("delete", "--message", "12345", "--yes", env=filled)
    assert r.code == 1 and "not in the vault" in r.err and "nothing was deleted" in r.err, r.err
    r = cli("delete", "--message", "12345", "--yes", "--json", env=filled)
    assert "not in the vault" in one_error_doc(r.out, 1)
    # one real id among missing ones: nothing goes
    mid = cli("search", "dumplings", "--json", env=filled).json()[0]["id"]
    r = cli("delete", "--message", mid, "--message", "12345", "--yes", env=filled)
    assert r.code == 1 and "1 of the message ids given is not in the vault" in r.err, r.err
    assert len(cli("search", "dumplings", "--json", env=filled).json()) == 1
    r = cli("delete", "--message", mid, "--yes", "--json", env=filled)
    assert r.code == 0 and r.json()["deleted"] == 1


def test_usage_errors(filled: dict[str, str]) -> None:
    # click's own (bad option value), and the vault's after parsing (nothing to delete)
    for args in (["search", "x", "--limit", "zero", "--json"], ["delete", "--json"], ["chats", "--json", "--bogus"]):
        r = cli(*args, env=filled)
        assert r.code == 2, (args, r.err)
        one_error_doc(r.out, 2)
    # without --json, stdout stays empty
    r = cli("search", "x", "--limit", "zero", env=filled)
    assert r.code == 2 and r.out == ""
    # a query word after -- is not the option
    r = cli("search", "--limit", "zero", "--", "--json", env=filled)
    assert r.code == 2 and r.out == ""


def test_success_and_help_print_no_error(filled: dict[str, str]) -> None:
    r = cli("chats", "--json", env=filled)
    assert r.code == 0 and isinstance(r.json(), list)
    r = cli("chats", "--json", "--help", env=filled)
    assert r.code == 0 and "error" not in r.out


def test_import_with_a_failed_file_is_still_one_document(filled: dict[str, str], tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.json", "{not json")
    good = tg_export(tmp_path / "g" / "result.json", [tg_msg(2, "more")])
    r = cli("import", "--json", "--format", "telegram", str(bad), str(good), env=filled)
    assert r.code == 1
    assert len(r.out.splitlines()) == 1
    doc = r.json()
    assert "error" not in doc or not isinstance(doc.get("error"), dict)
    assert [bool(f["error"]) for f in doc["files"]] == [True, False]


def test_an_internal_error_is_one_document(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import vault.cli as cli_mod
    from vault.cli import common

    @cli_mod.cli.command("explode-for-test")
    @cli_mod.json_option
    def explode(as_json: bool) -> None:
        raise ZeroDivisionError

    monkeypatch.setattr(common, "json_emitted", False)
    try:
        with pytest.raises(SystemExit) as info:
            cli_mod.main(["explode-for-test", "--json"])
    finally:
        cli_mod.cli.commands.pop("explode-for-test", None)
    assert info.value.code == 1
    out, err = capsys.readouterr()
    assert "internal error (ZeroDivisionError)" in one_error_doc(out, 1)
    assert "internal error" in err


def test_a_document_already_printed_is_not_followed_by_another(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import vault.cli as cli_mod
    from vault.cli import common
    from vault.errors import TalkvaultError

    @cli_mod.cli.command("half-for-test")
    @cli_mod.json_option
    def half(as_json: bool) -> None:
        cli_mod.emit_json({"done": 1})
        raise TalkvaultError("then it failed")

    monkeypatch.setattr(common, "json_emitted", False)
    try:
        with pytest.raises(SystemExit) as info:
            cli_mod.main(["half-for-test", "--json"])
    finally:
        cli_mod.cli.commands.pop("half-for-test", None)
    assert info.value.code == 1
    out, _ = capsys.readouterr()
    assert out.splitlines() == ['{"done": 1}']


def test_busy_vault(filled: dict[str, str]) -> None:
    import sqlcipher3

    key = cli("export-key", "--json", env=filled).json()["key"]
    con = sqlcipher3.connect(str(Path(filled["TALKVAULT_DIR"]) / "vault.db"), isolation_level=None)
    con.execute(f"PRAGMA key = \"x'{key}'\"")
    con.execute("BEGIN EXCLUSIVE")
    try:
        r = cli("chats", "--json", env={**filled, "TALKVAULT_WAIT": "0.3"})
        assert r.code == 5, (r.code, r.err)
        assert "busy" in one_error_doc(r.out, 5)
    finally:
        con.execute("ROLLBACK")
        con.close()


def test_interrupted_is_one_document(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import vault.cli as cli_mod
    from vault.cli import common

    @cli_mod.cli.command("interrupt-for-test")
    @cli_mod.json_option
    def interrupt(as_json: bool) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(common, "json_emitted", False)
    try:
        with pytest.raises(SystemExit) as info:
            cli_mod.main(["interrupt-for-test", "--json"])
    finally:
        cli_mod.cli.commands.pop("interrupt-for-test", None)
    assert info.value.code == 130
    out, _ = capsys.readouterr()
    assert "interrupted" in one_error_doc(out, 130)
