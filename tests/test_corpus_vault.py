"""Every sample export in ../shared/corpus goes through the whole pipeline into a real vault.

The importer tests check what each parser reads; this checks that the vault takes all of it:
every record lands (or is recognised as a duplicate), a second import adds nothing, and the vault
passes its integrity check. Skipped when the corpus is absent.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import importers
import vault
from importers.base import ParseOptions
from tests.conftest import CORPUS, PASSPHRASE
from vault.errors import UnknownFormatError
from vault.records import Event, Message


def _samples() -> list[Path]:
    if not CORPUS.exists():
        return []
    out = []
    for p in sorted(CORPUS.rglob("*")):
        if p.is_file() and p.suffix.lower() not in (".md", ".sql", ".gitattributes") and not p.name.startswith("."):
            try:
                importers.detect(p)
            except UnknownFormatError:
                continue
            out.append(p)
    return out


SAMPLES = _samples()


@pytest.mark.skipif(not SAMPLES, reason="sample corpus not available")
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: str(p.relative_to(CORPUS)))
def test_sample_imports_whole_and_once(path, tmp_path, weak_kdf):
    fmt = importers.detect(path)
    expected = sum(1 for r in fmt.parse(path, ParseOptions()) if isinstance(r, Message | Event))
    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        r1 = v.import_path(path, tz="UTC")
        assert r1.error is None
        assert r1.added + r1.events + r1.duplicates == expected, r1.problems[:5]
        r2 = v.import_path(path, tz="UTC")
        assert r2.added == 0 and r2.events == 0
        assert r2.duplicates == r1.added + r1.events + r1.duplicates
        check = v.check()
        assert check["ok"], check["problems"]
        if expected:
            assert v.chats()


def test_corpus_detects_something_for_every_app():
    if not SAMPLES:
        pytest.skip("sample corpus not available")
    apps = {p.relative_to(CORPUS).parts[0] for p in SAMPLES}
    assert {
        "whatsapp",
        "telegram",
        "signal",
        "kakaotalk",
        "messenger",
        "instagram",
        "discord",
        "slack",
        "imessage",
        "wechat",
    } <= apps
