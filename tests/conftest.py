"""Shared test fixtures: a hermetic environment, the weak-KDF switch, the sample corpus."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(autouse=True)
def ctrl_c_works() -> None:
    """Ctrl-C works in each test however the run was started.

    A shell runs a background job (`cmd &` in a script) with SIGINT ignored: Python then installs no
    KeyboardInterrupt handler, and the ignored disposition passes to every child. A full run
    started that way failed `test_plain_url_line_without_json` (its `serve` child never saw the
    Ctrl-C: SigIgn in /proc showed it ignored). A handler here is reset to the default in each child
    at exec, so the children get their own KeyboardInterrupt.
    """
    import signal

    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--long", action="store_true", help="run the long robustness mode (by hand, not in CI)")


@pytest.fixture(autouse=True)
def hermetic(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """HOME, XDG dirs and the temp dir point into a fresh directory; no talkvault env leaks in."""
    base = tmp_path_factory.mktemp("home")
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        d = base / var.lower()
        d.mkdir()
        monkeypatch.setenv(var, str(d))
    tmp = base / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("HOME", str(base))
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setenv("SQLITE_TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    for var in list(os.environ):
        if var.startswith("TALKVAULT_"):
            monkeypatch.delenv(var)
    return base


def corpus_file(rel: str) -> Path:
    """A path inside ../shared/corpus, or skip the test when the corpus is not there."""
    p = CORPUS / rel
    if not p.exists():
        pytest.skip(f"sample corpus not available ({rel})")
    return p


# -- vaults --------------------------------------------------------------------------------------
PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def weak_kdf():  # type: ignore[no-untyped-def]
    """Argon2id at test cost (t=1, 8 KiB), passed explicitly: no environment switch exists."""
    from vault.store.keys import KdfParams

    return KdfParams(t=1, m_kib=8, p=1)


@pytest.fixture
def vault_dir(tmp_path: Path) -> Path:
    return tmp_path / "vault"


@pytest.fixture
def new_vault(vault_dir: Path, weak_kdf):  # type: ignore[no-untyped-def]
    """An open, empty vault with the weak KDF (marked as chosen, so it is not upgraded on open)."""
    import vault

    v = vault.create(vault_dir, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True)
    yield v
    v.close()


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def tg_export(path: Path, messages: list[dict], name: str = "Mei", chat_id: int = 4242) -> Path:
    """A Telegram single-chat result.json."""
    import json

    doc = {"name": name, "type": "personal_chat", "id": chat_id, "messages": messages}
    return write(path, json.dumps(doc, ensure_ascii=False, indent=1))


def tg_msg(mid: int, text: str, ts: int = 1_700_000_000, sender: str = "Mei", **kw: object) -> dict:
    d = {
        "id": mid,
        "type": "message",
        "date": "2023-11-14T22:13:20",
        "date_unixtime": str(ts + mid),
        "from": sender,
        "from_id": f"user{abs(hash(sender)) % 10**6}",
        "text": text,
    }
    d.update(kw)
    return d


# -- the command line, as a person runs it ---------------------------------------------------------
@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self):  # type: ignore[no-untyped-def]
        import json

        return json.loads(self.out)


def cli(
    *args: str,
    env: dict[str, str] | None = None,
    input: str | None = None,
    pass_fds: tuple[int, ...] = (),
    timeout: float = 120,
) -> Run:
    """Run `python -m vault ARGS` in a subprocess with the test's environment."""
    import subprocess
    import sys

    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("PYTHONPATH", str(ROOT))
    p = subprocess.run(
        [sys.executable, "-m", "vault", *args],
        input=input,
        capture_output=True,
        text=True,
        env=full_env,
        pass_fds=pass_fds,
        timeout=timeout,
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    return Run(p.returncode, p.stdout, p.stderr)


@pytest.fixture
def cli_vault(vault_dir: Path) -> dict[str, str]:
    """A vault made through the CLI with test KDF settings; returns the env that opens it."""
    env = {"TALKVAULT_DIR": str(vault_dir), "TALKVAULT_PASSPHRASE": PASSPHRASE}
    r = cli("init", "--kdf-memory", "1", "--kdf-time", "1", "--kdf-parallelism", "1", "--json", env=env)
    assert r.code == 0, r.err
    env["RECOVERY_KEY"] = r.json()["recovery_key"]
    return env
