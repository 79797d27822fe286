"""Parsing a big export in a second process, so that parsing and normalising run on one core while
the vault writes on the other.

A parser thread gains nothing (measured: 16.4 s against 15.0 s in one thread for 200,000 messages):
the parser is Python and needs the GIL throughout, and the writer's statements are too short (two
per message, microseconds each) for the GIL they release to be of use. A child process does.

The child is this Python running `_child()`: it reads what to parse from its stdin (never from
argv, where a file name such as "WhatsApp Chat with Alice.txt" would show in `ps`), parses,
computes each message's full-text tokens (vault/text/normalize.py) and its time and identity
(ingest.Stamper, which needs only the records before it), and sends them back as pickled batches
over its stdout pipe: a message or event without attachments or reactions as one flat row of its
fields, tokens, time and identity (`_row`), rebuilt here into the same record (`_record`); anything
else as a (record, tokens, stamp) triple. Rows cost less than records to pickle and to load (no
state dict per record, no frozen __setattr__ per field). It gets no key and opens no vault: only formats whose
parser needs none are sent here (Format.parse_ahead), its environment has no TALKVAULT_* variable
(a passphrase may be in one), and the pipe is the only place the records travel. Its stderr goes
nowhere (a traceback could quote the export).

What the child finds is reported exactly as the parser in this process would report it: an
ExportError arrives as the same ExportError (file, line, what to do); any other failure of the parser
as the type's name only. A record that cannot be pickled makes the whole file go again in this
process (ParseInProcess). If this process stops, the child's next write fails and it exits; if the
child dies, this process says so and the import is rolled back like any failed file.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import pickle
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from importers.base import Format, ParseOptions, close_reopened_zips
from vault.errors import ExportError, TalkvaultError
from vault.operations.ingest import Prepared, Stamp
from vault.records import Chat, Event, Message, Record

#: Smaller exports stay in this process: with the child's start (about 0.3 s) the two ways tie at
#: 2-5 MB of Telegram JSON (measured); from 8 MiB the child saves a quarter of the time or more.
THRESHOLD = 8 * 1024 * 1024
BATCH = 256  # records per message on the pipe
_FRAME = struct.Struct(">I")
_PIPE_BYTES = 1 << 20  # F_SETPIPE_SZ: a batch or more fits in the pipe, so the child parses ahead


class ParseInProcess(Exception):
    """The child met a record it cannot send; parse this file in this process instead."""


class ParserCrashed(Exception):
    """The parser failed in the child with an exception other than ExportError (its type name only)."""

    def __init__(self, type_name: str) -> None:
        super().__init__(type_name)
        self.type_name = type_name


class _Unpicklable(Exception):
    """In the child: a batch that pickle cannot send."""


class ParserLost(TalkvaultError):
    default_message = "the parsing process stopped before the end of the export; nothing was imported. Import it again"


def size_of(path: Path) -> int:
    """Bytes of an export: the file, or the files of a folder."""
    try:
        if path.is_file():
            return path.stat().st_size
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    except OSError:
        return 0


def worth_it(fmt: Format, path: Path, options: ParseOptions) -> bool:
    return fmt.parse_ahead and not options.keys and os.name == "posix" and size_of(path) >= THRESHOLD


def prepared_here(fmt: Format, path: Path, options: ParseOptions, zone: ZoneInfo) -> Iterator[Prepared]:
    """The in-process way: (record, None, None); the ingestor computes tokens and stamp itself."""
    for rec in fmt.parse(path, options):
        yield rec, None, None


_BOOT = "import pickle, sys; init = pickle.load(sys.stdin.buffer); sys.path[:] = init['sys_path'];\n" + (
    "from vault.operations.parse_ahead import _child; _child(init)"
)


def prepared_ahead(fmt: Format, path: Path, options: ParseOptions, zone: ZoneInfo) -> Iterator[Prepared]:
    """(record, tokens, stamp) triples made by a child process. Raises ExportError, ParserCrashed,
    ParseInProcess or ParserLost as described in the module docstring."""
    if zone.key is None:  # a zone read from a file has no name to send
        raise ParseInProcess()
    proc = subprocess.Popen(
        [sys.executable, "-c", _BOOT],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if not k.startswith("TALKVAULT_")},  # no passphrase
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        _grow_pipe(proc.stdout.fileno())
        init = {
            "sys_path": list(sys.path),
            "format": fmt.name,
            "path": os.fspath(path),
            "date_order": options.date_order,
            "params": dict(options.params),
            "zone": zone.key,
        }
        try:
            pickle.dump(init, proc.stdin)
            proc.stdin.close()
        except BrokenPipeError:
            raise ParserLost() from None
        read = proc.stdout.read
        while True:
            head = read(_FRAME.size)
            if len(head) < _FRAME.size:
                raise ParserLost()
            size = _FRAME.unpack(head)[0]
            body = read(size)
            if len(body) != size:
                raise ParserLost()
            msg = pickle.loads(body)
            tag = msg[0]
            if tag == "batch":
                for row in msg[1]:
                    yield _prepared(row)
            elif tag == "end":
                return
            elif tag == "export_error":
                _, cls_name, reason, where, line = msg
                raise _export_error(cls_name, reason, where, line)
            elif tag == "crash":
                raise ParserCrashed(msg[1])
            elif tag == "unpicklable":
                raise ParseInProcess()
            else:  # pragma: no cover - the child sends nothing else
                raise ParserLost()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        proc.stdout.close()
        close_reopened_zips()


# A row on the pipe: a message's 16 fields but attachments and reactions (both empty), or an
# event's 9 fields, followed by its tokens, ts_ms and identity; or a (record, tokens, stamp) triple.
_MESSAGE_ROW = 14 + 3
_EVENT_ROW = 9 + 3
_new = object.__new__
_set = object.__setattr__


def _row(rec: Record, tokens: str | None, stamp: Stamp | None) -> tuple[Any, ...]:
    """What the child sends for one record (see _MESSAGE_ROW)."""
    if stamp is not None and tokens is not None:
        t = type(rec)
        if t is Message:
            d = rec.__dict__
            if not d["attachments"] and not d["reactions"]:
                return (
                    d["chat"],
                    d["ts"],
                    d["sender"],
                    d["text"],
                    d["kind"],
                    d["source_id"],
                    d["sender_id"],
                    d["from_me"],
                    d["reply_to"],
                    d["edited"],
                    d["forwarded_from"],
                    d["line"],
                    d["extra"],
                    d["identity"],
                    tokens,
                    stamp[0],
                    stamp[1],
                )
        elif t is Event:
            d = rec.__dict__
            return (*[d[f] for f in _EVENT_FIELDS], tokens, stamp[0], stamp[1])
    return (rec, tokens, stamp)


def _prepared(r: tuple[Any, ...]) -> Prepared:
    """The (record, tokens, stamp) a row stands for: the same record the child had."""
    n = len(r)
    if n == _MESSAGE_ROW:
        m = _new(Message)
        _set(
            m,
            "__dict__",
            {
                "chat": r[0],
                "ts": r[1],
                "sender": r[2],
                "text": r[3],
                "kind": r[4],
                "source_id": r[5],
                "sender_id": r[6],
                "from_me": r[7],
                "reply_to": r[8],
                "edited": r[9],
                "forwarded_from": r[10],
                "attachments": (),
                "reactions": (),
                "line": r[11],
                "extra": r[12],
                "identity": r[13],
            },
        )
        return m, r[14], (r[15], r[16])
    if n == _EVENT_ROW:
        e = _new(Event)
        _set(e, "__dict__", dict(zip(_EVENT_FIELDS, r)))
        return e, r[9], (r[10], r[11])
    return r[0], r[1], r[2]


_EVENT_FIELDS = tuple(f.name for f in dataclasses.fields(Event))


def _export_error(cls_name: str, reason: str, where: str | None, line: int | None) -> ExportError:
    from vault import errors

    cls = getattr(errors, cls_name, ExportError)
    if not (isinstance(cls, type) and issubclass(cls, ExportError)):
        cls = ExportError
    return cls(reason, path=where, line=line)


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError):
        pass  # a smaller pipe only means less parsing ahead


def _child(init: dict[str, Any]) -> None:
    """The child's side: parse, tokenise, send. Exits quietly when the parent has gone."""
    import signal

    import importers
    from vault.operations.ingest import Stamper
    from vault.store.hardening import harden_process
    from vault.text import normalize

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends us
    harden_process()
    gc.disable()  # records make no cycles (as in Ingestor.run); the collector would only rescan the heap
    out = sys.stdout.buffer

    def send(msg: tuple[Any, ...]) -> None:
        try:
            data = pickle.dumps(msg, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception:
            raise _Unpicklable() from None
        out.write(_FRAME.pack(len(data)))
        out.write(data)
        out.flush()

    try:
        fmt = importers.get(init["format"])
        options = ParseOptions(date_order=init["date_order"], params=init["params"])
        index_text = normalize.index_text
        stamper = Stamper(ZoneInfo(init["zone"]))
        row = _row
        batch: list[tuple[Any, ...]] = []
        try:
            for rec in fmt.parse(Path(init["path"]), options):
                if isinstance(rec, Message | Event):
                    batch.append(row(rec, index_text(rec.text), stamper.stamp(rec)))
                else:
                    if isinstance(rec, Chat):
                        stamper.chat(rec)
                    batch.append((rec, None, None))
                if len(batch) >= BATCH:
                    send(("batch", batch))
                    batch = []
            send(("batch", batch))
            send(("end",))
        except ExportError as exc:
            send(("export_error", type(exc).__name__, exc.reason, exc.path, exc.line))
        except _Unpicklable:
            send(("unpicklable",))
        except (BrokenPipeError, ConnectionResetError):
            raise
        except Exception as exc:  # a parser bug: the parent reports the file failed, by type only
            send(("crash", type(exc).__name__))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the parent stopped reading: it has gone, or given up on this file
    finally:
        os._exit(0)
