"""Import one export (file, folder or zip) into an open vault: detect, parse, ingest, record.

The whole file is one transaction. A file that cannot be read (ExportError) is rolled back entirely
and recorded as a failed import; what was already in the vault is never touched. `dry_run` does
all the work and rolls back, so its counts are exact.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import importers
from importers.base import Format, ParseOptions
from vault.errors import ExportError
from vault.operations import parse_ahead
from vault.operations.ingest import FileReport, Ingestor
from vault.store import db
from vault.store.schema import now_iso
from vault.timeutil import resolve_tz

if TYPE_CHECKING:
    from vault.store.handle import Store


#: What a file nested too deeply for Python's parsers says (the importers refuse such depth first).
_TOO_DEEP = "is nested too deeply to be read (damaged, or not a chat export); it was not imported"


class _Rollback(Exception):
    """Raised inside the transaction to undo a dry run."""


def import_path(
    v: Store,
    path: Path,
    *,
    format: str | None = None,
    tz: str | None = None,
    dry_run: bool = False,
    options: ParseOptions | None = None,
    progress: Callable[[int], None] | None = None,
) -> FileReport:
    """Import one export. Raises ExportError (after recording it) when the file cannot be read.

    A big export of a format that allows it is parsed in a second process (vault/operations/parse_ahead.py);
    should a record not travel there, the file is imported again in this process."""
    opts = options or ParseOptions()
    try:
        fmt = importers.get(format) if format else (importers.detect(path) if path.exists() else None)
        if fmt is not None and parse_ahead.worth_it(fmt, path, opts):
            try:
                return _import(v, path, fmt, tz, dry_run, opts, progress, ahead=True)
            except parse_ahead.ParseInProcess:
                pass
        return _import(v, path, fmt, tz, dry_run, opts, progress, ahead=False)
    except RecursionError:  # a safety net: readers bound nesting (importers.base.JsonGuard) first
        raise ExportError(_TOO_DEEP, path=str(path)) from None


def _import(
    v: Store,
    path: Path,
    fmt: Format | None,
    tz: str | None,
    dry_run: bool,
    options: ParseOptions,
    progress: Callable[[int], None] | None,
    *,
    ahead: bool,
) -> FileReport:
    report = FileReport(path=str(path))
    zone = resolve_tz(tz)
    if fmt is None or not path.exists():
        raise ExportError("no such file or folder", path=str(path))
    report.format = fmt.name
    report.tz = zone.key if fmt.naive_times else None
    try:
        digest = file_sha256(path)
    except OSError as exc:
        raise ExportError(f"cannot be read ({exc.strerror})", path=str(path)) from None
    conn = v.conn
    started = now_iso()
    try:
        with db.transaction(conn):
            cur = conn.execute(
                "INSERT INTO imports(format, file_name, file_sha256, tz, started, status)"
                " VALUES (?, ?, ?, ?, ?, 'running')",
                (fmt.name, path.name, digest, report.tz, started),
            )
            import_id = int(cur.lastrowid or 0)
            ing = Ingestor(
                conn,
                mac_key=v._mac_key,
                import_id=import_id,
                source=fmt.source,
                tz=zone,
                report=report,
                progress=progress,
            )
            prepare = parse_ahead.prepared_ahead if ahead else parse_ahead.prepared_here
            try:
                ing.run(prepare(fmt, path, options, zone), str(path))
            except ExportError:
                raise
            except db.Error as exc:
                raise db.translate(exc) from None
            except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, IndexError) as exc:
                raise _unreadable(path, type(exc).__name__) from exc
            except RecursionError:
                raise ExportError(_TOO_DEEP, path=str(path)) from None
            except parse_ahead.ParserCrashed as exc:
                if exc.type_name == "RecursionError":
                    raise ExportError(_TOO_DEEP, path=str(path)) from None
                raise _unreadable(path, exc.type_name) from None
            report.tz = zone.key if (fmt.naive_times or ing.used_tz) else None
            conn.execute(
                "UPDATE imports SET status = 'done', finished = ?, counts = ?, notes = ?, tz = ? WHERE id = ?",
                (now_iso(), json.dumps(_counts(report)), json.dumps(report.notes), report.tz, import_id),
            )
            report.import_id = import_id
            if dry_run:
                raise _Rollback()
    except _Rollback:
        report.import_id = None
    except ExportError as exc:
        if exc.path is None:  # a reader that did not know the file's name (a shared JSON helper)
            exc = type(exc)(exc.reason, path=str(path), line=exc.line)
        report.error = str(exc)
        _record_failure(v, fmt.name, path, digest, report.tz, started, exc)
        raise exc from None
    return report


def _unreadable(path: Path, type_name: str) -> ExportError:
    """A parser bug or an unforeseen shape: the file fails, cleanly, without its content."""
    return ExportError(
        f"could not be read ({type_name}); it was not imported. Check that it is an unmodified export, "
        "or choose the format with --format",
        path=str(path),
    )


def _counts(r: FileReport) -> dict[str, int]:
    return {
        "chats": r.chats,
        "added": r.added,
        "duplicates": r.duplicates,
        "events": r.events,
        "attachments": r.attachments,
        "deleted_skipped": r.deleted_skipped,
        "conflicts": r.conflicts,
        "merged": r.merged,
        "problems": len(r.problems),
    }


def _record_failure(
    v: Store, fmt: str, path: Path, digest: str, tz: str | None, started: str, exc: ExportError
) -> None:
    try:
        with db.transaction(v.conn):
            v.conn.execute(
                "INSERT INTO imports(format, file_name, file_sha256, tz, started, finished, status, notes)"
                " VALUES (?, ?, ?, ?, ?, ?, 'failed', ?)",
                (fmt, path.name, digest, tz, started, now_iso(), json.dumps([exc.reason])),
            )
    except Exception:
        pass


def file_sha256(path: Path) -> str:
    """sha256 of a file's bytes, streamed; of a folder, over each file's relative name and bytes."""
    if not path.is_dir():
        return _sha256_of(path)
    h = hashlib.sha256()
    for p in sorted(path.rglob("*")):
        if p.is_file() and not p.is_symlink():
            h.update(json.dumps([str(p.relative_to(path)), _sha256_of(p)]).encode())
    return h.hexdigest()


def _sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1024 * 1024):
            h.update(chunk)
    return h.hexdigest()


@dataclass(frozen=True)
class PriorImport:
    """A successful import found in the vault's `imports` table."""

    import_id: int
    started: str
    problems: int


def imported_before(v: Store, path: Path) -> PriorImport | None:
    """The successful import of exactly these bytes, from the vault's `imports` table, or None.

    A file matches on the sha256 of its bytes, whatever its name; a folder on the digest of its
    files' relative names and bytes (file_sha256).
    """
    if not (path.is_file() or path.is_dir()):
        return None
    try:
        digest = file_sha256(path)
    except OSError:
        return None
    with db.translated():
        row = v.conn.execute(
            "SELECT id, started, counts FROM imports WHERE file_sha256 = ? AND status = 'done' ORDER BY id LIMIT 1",
            (digest,),
        ).fetchone()
    if row is None:
        return None
    import_id, started, counts = row
    try:
        problems = int(json.loads(counts or "{}").get("problems", 0))
    except (ValueError, TypeError, AttributeError):
        problems = 0
    return PriorImport(int(import_id), str(started), problems)
