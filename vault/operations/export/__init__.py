"""`export`: write conversations out of the vault in the clear, where the person asks for it.

Four formats: `html` (a readable offline view, vault/operations/export/html.py), `jsonl` (the interchange
format that `import` reads back into the same vault, vault/operations/export/jsonl.py), `txt` (plain text,
vault/operations/export/txt.py) and `chatlab` (ChatLab's JSON or JSONL, one file per chat,
vault/operations/export/chatlab.py). One chat, or every chat (`all_chats`).

`out` is a file for one chat, or a folder for every chat and whenever attachment files or page
files go with the export; an existing empty folder, or a path that ends in `/`, is always a
folder. Nothing that exists is ever overwritten (exit 2). The export streams: messages in
batches, attachment bytes chunk by chunk. Files are 0600 and folders 0700, and if the export
fails part-way, what it wrote is removed again (vault/operations/export/files.py). The caller says so to the
person: the result is plaintext.
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vault.errors import UsageError
from vault.operations.export.files import Counts, Output, check_destination
from vault.operations.export.read import chat_infos
from vault.operations.rows import Download, ExportReport
from vault.store import db

if TYPE_CHECKING:
    from vault.store.handle import Store

FORMATS = ("html", "jsonl", "txt", "chatlab")


def check_format(format: str) -> None:
    if format not in FORMATS:
        raise UsageError(f"--format takes one of {', '.join(FORMATS)}")


def check_request(chat: str | None, all_chats: bool, format: str, out: str | os.PathLike[str]) -> None:
    """The checks that need no vault: run them before asking for the passphrase."""
    check_format(format)
    if all_chats and chat is not None:
        raise UsageError("name one chat, or use --all, not both")
    if not all_chats and chat is None:
        raise UsageError("name the chat to export (its id or title, see 'talkvault chats'), or use --all")
    check_destination(Path(out))


def export(
    v: Store,
    chat: str | None,
    *,
    format: str,
    out: str | os.PathLike[str],
    all_chats: bool = False,
    tz: str | None = None,
    page_size: int | None = None,
) -> ExportReport:
    """Export one chat (id or exact title) or every chat; returns what was written.

    `tz` is the zone that html and txt show times in (default: this machine's); jsonl always
    writes UTC. `page_size` is the number of messages per html page (default 5,000).
    """
    from vault.operations.export import chatlab as export_chatlab
    from vault.operations.export import html as export_html
    from vault.operations.export import jsonl as export_jsonl
    from vault.operations.export import txt as export_txt
    from vault.operations.reading import resolve_chat
    from vault.timeutil import resolve_tz

    check_request(chat, all_chats, format, out)
    zone = resolve_tz(tz)
    if page_size is not None and page_size < 1:
        raise UsageError("the page size must be at least 1")
    pages = page_size or export_html.PAGE_SIZE
    root = Path(out)
    if root.resolve().is_relative_to(Path(v.path).resolve()):
        raise UsageError("--out is inside the vault folder; export to a place outside it")
    with db.translated():
        ids = None if all_chats else [resolve_chat(v, str(chat))]
        chats = chat_infos(v, ids)
        if format == "html":
            wants_dir = export_html.needs_dir(chats, all_chats, pages)
        elif format == "jsonl":
            wants_dir = export_jsonl.needs_dir(chats, all_chats)
        elif format == "chatlab":
            wants_dir = export_chatlab.needs_dir(chats, all_chats)
        else:
            wants_dir = export_txt.needs_dir(chats, all_chats)
        wants_dir = wants_dir or os.fspath(out).endswith(("/", os.sep))  # "out/" asks for a folder
        existing_dir = check_destination(root)
        if wants_dir and root.exists() and not existing_dir:
            raise UsageError(f"{root} is a file, but this export needs a folder; choose a new path")
        output = Output(root, directory=wants_dir or existing_dir, existing_dir=existing_dir)
        counts = Counts()
        output.start()
        try:
            if format == "html":
                export_html.write(v, chats, output, counts, zone=zone, all_chats=all_chats, page_size=pages)
                main = export_html.main_file(output)
            elif format == "jsonl":
                export_jsonl.write(v, chats, output, counts)
                main = export_jsonl.main_file(output)
            elif format == "chatlab":
                export_chatlab.write(v, chats, output, counts)
                main = export_chatlab.main_file(output)
            else:
                export_txt.write(v, chats, output, counts, zone=zone)
                main = export_txt.main_file(output)
        except OSError as exc:
            output.discard()
            raise output.wrap(exc) from None
        except BaseException:
            output.discard()
            raise
    return {
        "path": str(root),
        "main": str(output.path(main)),
        "format": format,
        "chats": counts.chats,
        "messages": counts.messages,
        "events": counts.events,
        "attachments": counts.attachments,
        "files": output.files_written,
        "directory": output.directory,
    }


class _MemoryOutput(Output):
    """The one file of a single-chat export, kept in memory (for a download): nothing touches the disk."""

    def __init__(self, name: str) -> None:
        super().__init__(Path(name), directory=False)
        self.buffer = _KeptBytes()

    def start(self) -> None:
        return None

    def mkdir(self, rel: str) -> Path:  # pragma: no cover - a one-file export makes no folder
        raise UsageError("an export kept in memory is one file")

    def create(self, rel: str = "") -> Any:
        self.files_written += 1
        return self.buffer

    def discard(self) -> None:
        self.buffer.drop()


class _KeptBytes(io.BytesIO):
    """A BytesIO whose close() keeps the bytes (the writers close their file when done)."""

    kept: bytes = b""

    def close(self) -> None:
        if not self.closed:
            self.kept = self.getvalue()
        super().close()

    def drop(self) -> None:
        self.kept = b""
        super().close()


def export_bytes(v: Store, chat: str, *, format: str, tz: str | None = None) -> tuple[bytes, Download]:
    """One chat as one file in memory (html on one page, jsonl or txt), and what was written.

    Attachment files are not included (a one-file export has nowhere to put them): the html and
    jsonl name them. For a browser download, so that the server never writes plaintext to disk.
    """
    from vault.operations.export import html as export_html
    from vault.operations.export import jsonl as export_jsonl
    from vault.operations.export import txt as export_txt
    from vault.operations.reading import resolve_chat
    from vault.timeutil import resolve_tz

    check_format(format)
    zone = resolve_tz(tz)
    with db.translated():
        chats = chat_infos(v, [resolve_chat(v, str(chat))])
        output = _MemoryOutput(f"chat-{chats[0].id}.{format}")
        counts = Counts()
        if format == "html":
            export_html.write(v, chats, output, counts, zone=zone, all_chats=False, page_size=max(chats[0].rows, 1))
        elif format == "jsonl":
            export_jsonl.write(v, chats, output, counts)
        else:
            export_txt.write(v, chats, output, counts, zone=zone)
        output.buffer.close()
    data = output.buffer.kept
    return data, {"name": output.root.name, "format": format, "messages": counts.messages, "events": counts.events}
