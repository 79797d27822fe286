"""security.md 8.9 across every importer: whatever bytes arrive, only ExportError escapes, and a
rejected import leaves the vault exactly as it was. (Each importer's own tests fuzz its structure;
fuzz/atheris_importers.py runs the same property for hours, by hand.)"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import importers
import vault
from importers.base import ParseOptions
from tests.conftest import PASSPHRASE
from vault.errors import ExportError

FORMATS = [f.name for f in importers.formats()]
NAMES = [
    "result.json",
    "chat.txt",
    "WhatsApp Chat with X.txt",
    "x.csv",
    "messages.json",
    "message_1.json",
    "export.zip",
    "chat.db",
    "data.jsonl",
    "Talk_2024.1.1 10-10.txt",
    "[LINE] Chat with X.txt",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=12), c, max_size=6),
    max_leaves=30,
)


def _drain(fmt: str, path: Path) -> None:
    f = importers.get(fmt)
    try:
        for rec in f.parse(path, ParseOptions()):
            for att in getattr(rec, "attachments", ()):
                if att.open is not None:
                    with att.open() as fh:
                        fh.read(64)
    except ExportError:
        pass


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=3000), name=st.sampled_from(NAMES))
def test_random_bytes_raise_only_export_error(tmp_path_factory, fmt, data, name):
    d = tmp_path_factory.mktemp("fuzz")
    p = d / name
    p.write_bytes(data)
    _drain(fmt, p)
    detected = None
    try:
        detected = importers.detect(p)
    except ExportError:
        pass
    if detected is not None:
        _drain(detected.name, p)


@pytest.mark.parametrize("fmt", FORMATS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=json_values, name=st.sampled_from(NAMES))
def test_random_json_raises_only_export_error(tmp_path_factory, fmt, doc, name):
    p = tmp_path_factory.mktemp("fuzz") / name
    p.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    _drain(fmt, p)


@pytest.mark.filterwarnings("ignore:Duplicate name")
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    members=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "../x",
                    "/etc/passwd",
                    "a/../../b",
                    "_chat.txt",
                    "result.json",
                    "users.json",
                    "messages/inbox/a/message_1.json",
                    "ok.txt",
                ]
            ),
            st.binary(max_size=300),
        ),
        max_size=5,
    )
)
def test_hostile_zips_raise_only_export_error_and_write_nothing(tmp_path_factory, members):
    d = tmp_path_factory.mktemp("zip")
    p = d / "export.zip"
    with zipfile.ZipFile(p, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    before = sorted(x.name for x in d.parent.rglob("*"))
    for fmt in FORMATS:
        _drain(fmt, p)
    assert sorted(x.name for x in d.parent.rglob("*")) == before


def test_a_rejected_import_leaves_the_vault_unchanged(tmp_path, weak_kdf):
    from tests.conftest import tg_export, tg_msg

    with vault.create(tmp_path / "v", PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        v.import_path(tg_export(tmp_path / "ok" / "result.json", [tg_msg(1, "kept")]))
        before = v.conn.execute("SELECT id, text FROM messages ORDER BY id").fetchall()
        for i, data in enumerate(
            [
                b"\x00" * 100,
                b'{"name": "x", "type": "personal_chat", "messages": [{"id": 1',
                b"PK\x03\x04garbage",
                "日本語 but no format".encode(),
            ]
        ):
            bad = tmp_path / f"bad{i}" / "result.json"
            bad.parent.mkdir()
            bad.write_bytes(data)
            with pytest.raises(ExportError):
                v.import_path(bad)
        assert v.conn.execute("SELECT id, text FROM messages ORDER BY id").fetchall() == before
        assert v.check()["ok"]
