"""importers/foreign_db.py: sqlcipher3 is loaded only when a database is opened, not at start-up."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from importers.base import ParseOptions
from importers.foreign_db import db_errors
from importers.whatsapp import android_db
from vault.errors import ExportError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def _loads_sqlcipher3(code: str) -> bool:
    """Whether running `code` in a fresh interpreter leaves sqlcipher3 imported."""
    probe = f"import sys\n{code}\nprint('sqlcipher3' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=dict(os.environ), check=True
    )
    return out.stdout.strip().splitlines()[-1] == "True"


def test_loading_every_importer_and_detecting_a_file_does_not_import_sqlcipher3() -> None:
    # `talkvault formats` and every import load all importers (the registry) to detect a file.
    sample = next(p for p in sorted(FIXTURES.rglob("*")) if p.is_file())
    assert not _loads_sqlcipher3(
        f"import importers\nfrom pathlib import Path\nimporters.formats()\ntry:\n"
        f"    importers.detect(Path({str(sample)!r}))\nexcept Exception:\n    pass"
    )
    # The probe can tell: asking for the driver's errors does load it.
    assert _loads_sqlcipher3("from importers.foreign_db import db_errors\ndb_errors()")


def test_db_errors_are_both_drivers_errors() -> None:
    import sqlcipher3

    assert set(db_errors()) == {sqlite3.Error, sqlcipher3.Error}


def test_a_damaged_database_is_still_a_clean_export_error(tmp_path: Path) -> None:
    db = tmp_path / "msgstore.db"
    db.write_bytes(b"SQLite format 3\x00" + bytes(84) + b"junk" * 300)
    with pytest.raises(ExportError, match="cannot be opened") as caught:
        list(android_db.parse(db, ParseOptions()))
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)
