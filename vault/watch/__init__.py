"""The watcher: import every export that lands in watched folders, once, safely (`talkvault watch`).

A watchdog observer only enqueues the paths it hears about; the loop here (on the calling thread)
keeps one pending entry per top-level entry of a watched folder and looks at it once nothing has
happened there for `settle` seconds. If it is still changing (its snapshot moved and something in it
was modified within the settle period), it waits again; once settled, its units (vault/watch/units.py)
are imported one by one, each in its own transaction (`Vault.import_path`). A zip must also be
complete (its central directory readable).

Idempotent without any state outside the vault: exactly the bytes of a successful import are
recognised in the vault's `imports` table (`imported_before`) and skipped, and the vault's dedup
adds nothing for anything else seen twice. In memory, each unit's last snapshot remembers what was
already imported, skipped or reported as failed, so a failure is reported once and tried again
only when the file changes. A failing file never blocks the others.

Stopping: `Watcher.stop()` is safe to call from a signal handler (`stop_on_signals`): the current
import finishes, then the loop ends and the observer is stopped and joined. A second signal
abandons the current import (a BaseException that rolls its transaction back; `watch` turns it into
WatchInterrupted, exit 130). Logs (events) name files and counts, never message text.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from importers.base import ParseOptions
from vault.core import FileReport
from vault.display import one_line, plural
from vault.errors import ExportError, TalkvaultError, UnknownFormatError, UsageError
from vault.secret import SourceSpec
from vault.timeutil import now_iso
from vault.watch.shred import shred
from vault.watch.units import Snapshot, Unit, ignored, is_within, snapshot, units, zip_complete

if TYPE_CHECKING:
    from vault.core import Vault

DEFAULT_SETTLE = 3.0  # seconds a file or folder must stay unchanged before it is imported
DEFAULT_RESCAN = 60.0  # seconds between looks at every watched folder, for changes nobody reported
# Events that mean "something was written"; opened/closed-without-writing come from our own reads.
WRITE_EVENTS = frozenset({"created", "modified", "moved", "deleted", "closed", "attrib"})


# -- the passphrase: never a prompt ---------------------------------------------------------------
UNATTENDED_HINT = (
    "--passphrase-fd N, --passphrase-file FILE or --passphrase-command CMD "
    "(or TALKVAULT_PASSPHRASE_FD, TALKVAULT_PASSPHRASE_FILE, TALKVAULT_PASSPHRASE_COMMAND, TALKVAULT_PASSPHRASE)"
)


def require_unattended_passphrase(spec: SourceSpec, env: Mapping[str, str] | None = None) -> None:
    """The watcher never prompts: raise UsageError (exit 2) unless a non-interactive source is set."""
    env = os.environ if env is None else env
    names = (
        "TALKVAULT_PASSPHRASE_FD",
        "TALKVAULT_PASSPHRASE_FILE",
        "TALKVAULT_PASSPHRASE_COMMAND",
        "TALKVAULT_PASSPHRASE",
    )
    if spec.fd is not None or spec.file is not None or spec.command is not None or any(env.get(n) for n in names):
        return
    raise UsageError(f"the watcher never asks for the passphrase; give it with {UNATTENDED_HINT}")


# -- events -------------------------------------------------------------------------------------
@dataclass
class WatchEvent:
    """What the watcher did.

    `kind`: watching, waiting (a zip not complete yet), importing, imported, failed, skipped,
    shredded, kept (not shredded), stopped.
    """

    kind: str
    path: str | None = None
    doc: dict[str, Any] = field(default_factory=dict)  # the import command's per-file object
    reason: str | None = None
    files: int | None = None
    dirs: list[str] | None = None
    time: str = field(default_factory=now_iso)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.kind, "time": self.time}
        if self.doc:
            out.update(self.doc)
        elif self.path is not None:
            out["path"] = self.path
        for key in ("reason", "files", "dirs"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def line(self) -> str:
        """One line for a log: file names and counts, never message text; safe for a terminal.

        A file name is data (an export can be named anything): vault.display makes its control and
        bidi characters visible escapes.
        """
        return one_line(self._line())

    def _line(self) -> str:
        d = self.doc
        if self.kind == "imported":
            added, dups = d.get("added", 0), d.get("duplicates", 0)
            line = f"imported {self.path} ({d.get('format')}): {added} added, {dups} duplicates"
            problems = len(d.get("problems") or [])
            return line + (f", {problems} records not readable (see --json)" if problems else "")
        if self.kind == "failed":
            return f"failed {self.path}: {self.reason}"
        if self.kind in ("skipped", "waiting"):
            return f"{self.kind} {self.path}: {self.reason}"
        if self.kind == "shredded":
            return f"shredded {self.path} ({plural(self.files or 0, 'file')})"
        if self.kind == "kept":
            return f"kept {self.path}: {self.reason}"
        if self.kind == "watching":
            return f"watching {', '.join(self.dirs or [])}; stop with Ctrl-C or SIGTERM"
        if self.kind == "stopped":
            return f"stopped: {d.get('imported', 0)} imported, {d.get('failed', 0)} failed, {d.get('added', 0)} added"
        return f"{self.kind} {self.path}"


def failure_doc(path: Path, message: str, fmt: str | None = None) -> dict[str, Any]:
    """The import command's per-file object for a file that could not be imported."""
    rep = FileReport(path=str(path), format=fmt, error=message)
    return rep.to_json()


def _reason(exc: ExportError, unit: Path) -> str:
    """The error without a repeat of the unit's own path (the log line names it already)."""
    if isinstance(exc, UnknownFormatError):
        return (
            "no importer recognises it ('talkvault formats' lists what can be read; "
            "'talkvault import --format NAME' imports it as the format you name)"
        )
    if exc.path is None or exc.path != str(unit):
        return exc.message
    return f"line {exc.line}: {exc.reason}" if exc.line is not None else exc.reason


# -- the loop -----------------------------------------------------------------------------------
@dataclass
class _Pending:
    due: float  # monotonic time at which to look again
    last: Snapshot | None = None  # the snapshot taken when we last looked


def _make_handler(q: queue.SimpleQueue[tuple[str, ...] | None]) -> Any:
    from watchdog.events import FileSystemEventHandler

    class Handler(FileSystemEventHandler):
        """The observer's event handler: it only enqueues paths (watchdog's own advice)."""

        def dispatch(self, event: Any) -> None:
            _enqueue(q, event)

    return Handler()


def _write_event_classes() -> list[type[Any]]:
    from watchdog import events as ev

    names = (
        "FileCreatedEvent DirCreatedEvent FileModifiedEvent DirModifiedEvent FileMovedEvent DirMovedEvent "
        "FileDeletedEvent DirDeletedEvent FileClosedEvent FileAttribEvent DirAttribEvent"
    )
    return [getattr(ev, n) for n in names.split() if hasattr(ev, n)]


def _enqueue(q: queue.SimpleQueue[tuple[str, ...] | None], event: Any) -> None:
    if event.event_type not in WRITE_EVENTS:
        return
    paths = [os.fsdecode(event.src_path)]
    dest = getattr(event, "dest_path", "")
    if dest:
        paths.append(os.fsdecode(dest))
    q.put(tuple(paths))


class Watcher:
    """Watches folders and imports what lands there; see the module docstring."""

    def __init__(
        self,
        v: Vault,
        dirs: Sequence[str | os.PathLike[str]],
        *,
        settle: float = DEFAULT_SETTLE,
        shred_imported: bool = False,
        tz: str | None = None,
        options: ParseOptions | None = None,
        rescan: float = DEFAULT_RESCAN,
        on_event: Callable[[WatchEvent], None] | None = None,
    ) -> None:
        from vault.timeutil import resolve_tz

        if settle < 0 or rescan < 0:
            raise UsageError("--settle and --rescan take a number of seconds, 0 or more")
        resolve_tz(tz)  # an unknown zone is a usage error before anything is read
        self.v = v
        self.vault_dir = Path(v.path).resolve()
        self.dirs = self._check_dirs(dirs)
        self.settle = settle
        self.shred_imported = shred_imported
        self.tz = tz
        self.options = options or ParseOptions()
        self.rescan = rescan
        self.on_event = on_event or (lambda e: None)
        self.reports: list[dict[str, Any]] = []  # with once=True: this run's imports and failures
        self.counts = {"imported": 0, "failed": 0, "added": 0}
        self._keep_reports = False
        self._q: queue.SimpleQueue[tuple[str, ...] | None] = queue.SimpleQueue()
        self._stopping = False
        self._pending: dict[Path, _Pending] = {}
        self._seen: dict[Path, str] = {}  # unit → digest of the snapshot last dealt with
        self._zip_waited: set[tuple[Path, str]] = set()
        self._unlistable: set[Path] = set()

    def _check_dirs(self, dirs: Sequence[str | os.PathLike[str]]) -> list[Path]:
        if not dirs:
            raise UsageError("name at least one folder to watch")
        out: list[Path] = []
        for d in dirs:
            p = Path(d).expanduser()
            if not p.is_dir():
                raise UsageError(f"{p} is not a folder; name the folders to watch")
            p = p.resolve()
            if is_within(p, self.vault_dir):
                raise UsageError(f"{p} is inside the vault; watch the folder where exports land instead")
            for q in out:
                if is_within(p, q) or is_within(q, p):
                    raise UsageError(f"the watched folders {q} and {p} overlap; name each folder once")
            out.append(p)
        return out

    # -- control --------------------------------------------------------------------------------
    @property
    def stopping(self) -> bool:
        return self._stopping

    def stop(self) -> None:
        """Ask the loop to end after the current import. Safe in a signal handler and from any thread."""
        self._stopping = True
        self._q.put(None)  # SimpleQueue.put is reentrant: no lock a signal could deadlock on

    def _emit(self, event: WatchEvent) -> None:
        self.on_event(event)

    # -- running ----------------------------------------------------------------------------------
    def run(self, *, once: bool = False) -> dict[str, Any]:
        """Watch until stop() (or, with once=True, import what is there now and return).

        Returns the import command's object for this run: {"files": [...], "added": N}. A watcher
        that runs for months keeps no list: without once=True, "files" stays empty (the events
        carry each file's object) and "added" is the total.
        """
        self._keep_reports = once
        observer = None
        try:
            if not once:
                observer = self._start_observer()
            self._emit(WatchEvent("watching", dirs=[str(d) for d in self.dirs]))
            self._seed()
            self._loop(once)
        finally:
            if observer is not None:
                observer.stop()
                observer.join()
        if not once:
            self._emit(WatchEvent("stopped", doc=dict(self.counts)))
        return {"files": self.reports, "added": self.counts["added"]}

    def _start_observer(self) -> Any:
        from watchdog.observers import Observer

        # watchdog's own diagnostic when a new folder tree is registered twice in a race (it keeps
        # one watch): nothing a person can act on, and it prints the paths with internal state.
        warnings.filterwarnings("ignore", message="Callback with id", category=RuntimeWarning, module="watchdog")
        observer = Observer()
        handler = _make_handler(self._q)
        try:
            for d in self.dirs:
                observer.schedule(handler, str(d), recursive=True, event_filter=_write_event_classes())
            observer.start()
        except OSError as exc:
            observer.stop()
            if observer.is_alive():
                observer.join()
            raise TalkvaultError(
                f"cannot watch the folders ({exc.strerror or type(exc).__name__}); on Linux, raise "
                "fs.inotify.max_user_watches, or watch a smaller folder"
            ) from None
        return observer

    def _seed(self) -> None:
        """Every top-level entry is looked at now (what was there before the watcher started)."""
        now = time.monotonic()
        for d in self.dirs:
            try:
                entries = sorted(d.iterdir())
            except OSError as exc:
                if d not in self._unlistable:  # a folder that went away (an unmounted drive): said once
                    self._unlistable.add(d)
                    self._fail(d, f"cannot list the folder ({exc.strerror}); it is looked at again later")
                continue
            self._unlistable.discard(d)
            for entry in entries:
                if entry not in self._pending:
                    self._pending[entry] = _Pending(due=now)

    def _loop(self, once: bool) -> None:
        next_rescan = time.monotonic() + self.rescan if self.rescan else None
        while not self._stopping:
            self._drain(block_until=None)
            if self._stopping:
                break
            now = time.monotonic()
            if next_rescan is not None and now >= next_rescan and not once:
                self._prune()
                self._seed()
                next_rescan = now + self.rescan
            due = sorted((p.due, e) for e, p in self._pending.items() if p.due <= now)
            if due:
                for _, entry in due:
                    if self._stopping:
                        break
                    self._drain(block_until=None)  # hear about changes before looking
                    pend = self._pending.get(entry)
                    if pend is not None and pend.due <= time.monotonic():
                        self._look(entry, pend)
                continue
            if self._pending:
                wake = min(p.due for p in self._pending.values())
            elif once:
                return
            else:
                wake = float("inf")
            if next_rescan is not None and not once:
                wake = min(wake, next_rescan)
            self._drain(block_until=wake)

    def _drain(self, block_until: float | None) -> None:
        """Take queued events (waiting until `block_until` for the first one, if given)."""
        if block_until is not None:
            timeout = block_until - time.monotonic()
            try:
                item = self._q.get(timeout=None if timeout == float("inf") else max(0.0, timeout))
            except queue.Empty:
                return
            self._note(item)
        while True:
            try:
                item = self._q.get_nowait()
            except queue.Empty:
                return
            self._note(item)

    def _note(self, item: tuple[str, ...] | None) -> None:
        if item is None:
            return
        due = time.monotonic() + self.settle
        for raw in item:
            entry = self._top_entry(Path(raw))
            if entry is None:
                continue
            pend = self._pending.get(entry)
            if pend is None:
                self._pending[entry] = _Pending(due=due)
            else:
                pend.due = due

    def _top_entry(self, p: Path) -> Path | None:
        if is_within(p, self.vault_dir):
            return None
        for d in self.dirs:
            if p != d and d in p.parents:
                return d / p.relative_to(d).parts[0]
        return None

    def _excluded(self, p: Path) -> bool:
        try:
            return is_within(p.resolve(), self.vault_dir)
        except OSError:
            return True

    def _prune(self) -> None:
        for unit in [u for u in self._seen if not os.path.lexists(u)]:
            del self._seen[unit]
        self._zip_waited = {(p, s) for p, s in self._zip_waited if os.path.lexists(p)}

    # -- one settled entry ----------------------------------------------------------------------
    def _look(self, entry: Path, pend: _Pending) -> None:
        snap = snapshot(entry)
        if snap is None or ignored(entry.name):
            del self._pending[entry]
            return
        quiet = snap.newest_mtime <= time.time() - self.settle
        if not quiet and (pend.last is None or pend.last.digest != snap.digest):
            pend.last = snap  # still changing (or a clock we cannot trust): look again later
            pend.due = time.monotonic() + self.settle
            return
        del self._pending[entry]
        for unit in units(entry, self._excluded):
            if self._stopping:
                break  # the rest is seen at the next start
            self._unit(unit, entry, snap if unit.path == entry else None)

    def _unit(self, unit: Unit, entry: Path, snap: Snapshot | None) -> None:
        snap = snap or snapshot(unit.path)
        if snap is None:
            return
        if self._seen.get(unit.path) == snap.digest:
            return  # dealt with already: imported, skipped, or failed and reported
        path = unit.path
        if not unit.is_dir and not zip_complete(path):
            if (path, snap.digest) not in self._zip_waited:
                self._zip_waited.add((path, snap.digest))  # a slow writer gets one more settle period
                self._pending.setdefault(entry, _Pending(due=time.monotonic() + self.settle))
                self._emit(WatchEvent("waiting", str(path), reason="the zip is not complete yet"))
                return
            self._seen[path] = snap.digest
            self._fail(
                path,
                "the zip is incomplete or damaged (its central directory cannot be read); "
                "it is tried again when it changes",
            )
            return
        prior = None if unit.is_dir else self.v.imported_before(path)
        if prior is not None:
            self._seen[path] = snap.digest
            self._emit(WatchEvent("skipped", str(path), reason="already imported"))
            if self.shred_imported:
                self._shred(path, prior.problems)
            return
        self._emit(WatchEvent("importing", str(path)))
        try:
            report = self.v.import_path(path, tz=self.tz, options=self.options)
        except ExportError as exc:
            self._seen[path] = snap.digest
            self._fail(path, _reason(exc, path))
            return
        except TalkvaultError:
            raise  # busy past the wait, disk full, damaged: the watcher stops with that error
        except Exception as exc:  # a parser bug: this export fails, the others go on
            self._seen[path] = snap.digest
            self._fail(path, f"internal error ({type(exc).__name__}); run 'talkvault --debug import' on it")
            return
        self._seen[path] = snap.digest
        doc = report.to_json()
        self._record(doc)
        self._emit(WatchEvent("imported", str(path), doc=doc))
        if self.shred_imported:
            self._shred(path, len(report.problems))

    def _fail(self, path: Path, reason: str) -> None:
        doc = failure_doc(path, f"{path}: {reason}")
        self._record(doc)
        self._emit(WatchEvent("failed", str(path), doc=doc, reason=reason))

    def _record(self, doc: dict[str, Any]) -> None:
        if self._keep_reports:
            self.reports.append(doc)
        self.counts["failed" if doc.get("error") else "imported"] += 1
        self.counts["added"] += int(doc.get("added") or 0)

    def _shred(self, path: Path, problems: int) -> None:
        if problems:
            self._emit(
                WatchEvent("kept", str(path), reason=f"not shredded: {problems} records in it could not be read")
            )
            return
        result = shred(path)
        self._emit(WatchEvent("shredded", str(path), files=result.files))
        for why in result.kept:
            self._emit(WatchEvent("kept", str(path), reason=why))


# -- signals and the one call the CLI makes ---------------------------------------------------------
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report it


class _Abandon(BaseException):
    """Raised by a second signal: a BaseException, so no `except Exception` on the way swallows it,
    and every transaction it passes through rolls back."""


class WatchInterrupted(TalkvaultError):
    exit_code = EXIT_INTERRUPTED
    default_message = "interrupted by a second signal; the import in progress was rolled back, the vault is unchanged"


@contextmanager
def stop_on_signals(watcher: Watcher) -> Iterator[None]:
    """SIGTERM/SIGINT stop the watcher after the current import; a second one abandons it (rolled back).

    The abandoned import surfaces as WatchInterrupted (exit 130) from `watch`.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if watcher.stopping:
            raise _Abandon()
        watcher.stop()

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def watch(
    v: Vault,
    dirs: Sequence[str | os.PathLike[str]],
    *,
    once: bool = False,
    settle: float = DEFAULT_SETTLE,
    shred_imported: bool = False,
    tz: str | None = None,
    options: ParseOptions | None = None,
    rescan: float = DEFAULT_RESCAN,
    on_event: Callable[[WatchEvent], None] | None = None,
    handle_signals: bool = True,
) -> dict[str, Any]:
    """Watch `dirs` and import what lands there (see Watcher); returns this run's import object."""
    w = Watcher(
        v, dirs, settle=settle, shred_imported=shred_imported, tz=tz, options=options, rescan=rescan, on_event=on_event
    )
    if not handle_signals:
        return w.run(once=once)
    try:
        with stop_on_signals(w):
            return w.run(once=once)
    except _Abandon:
        raise WatchInterrupted() from None
