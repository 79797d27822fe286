"""QCE's two JSON layouts on disk: detection and streaming of the single file and of the chunked folder.

Single file (json_exporter.rs `JsonSingleFileTemplates`): `{"metadata": {name: "QQChatExporter…",
copyright, version}, "chatInfo": {…}, "statistics": {…}, "messages": [...], "avatars": {uin:
data URL}, "exportOptions": {…}}`, the first three compact on one line each.

Chunked JSONL (json_exporter.rs `export_chunked_jsonl`): a folder `<name>_chunked_jsonl/` with
`manifest.json` = `{metadata, chatInfo, statistics, chunked: {format: "jsonl", chunksDir,
chunkFileExt, maxMessagesPerChunk, maxBytesPerChunk, chunks: [{index, fileName, relativePath,
start, end, count, bytes, startTsMs, endTsMs}]}, avatars?: {file, count}}`, the messages one per
line in `chunks/c000001.jsonl`, ... V5.0 manifests list chunks as `{file, messages, bytes}` and
say `metadata.format: "chunked-jsonl"` (ChatLab's reader of both).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, head_text, loads_json, open_export, text_lines
from importers.qq.qce import Resources, chat_of, owner_of, record
from importers.tree import JSON_ERRORS, FolderTree, WrongShape, dict_at, json_items, list_at, object_head, str_at
from vault.errors import ExportError
from vault.records import Problem, Record

# The writer's signature in `metadata` (AppMetadata: name "QQChatExporter", copyright the repo URL).
_QCE_RE = re.compile(r'"metadata"\s*:\s*\{[^{}]*(?:QQChatExporter|shuakami/qq-chat-exporter)')
_CHAT_INFO_RE = re.compile(r'"chatInfo"\s*:\s*\{')
_CHUNKED_RE = re.compile(r'"chunked"\s*:\s*\{|"format"\s*:\s*"chunked-jsonl"')
_MESSAGES_RE = re.compile(r'"messages"\s*:\s*\[')
MANIFEST = "manifest.json"
CHUNKS_DIR = "chunks"
# A manifest holds metadata and a list of chunks; one larger than this is not a manifest.
MAX_MANIFEST_BYTES = 64 * 2**20
_AGAIN = "export the chat again with QQ Chat Exporter"


def _is_qce(head: str) -> bool:
    return head.lstrip().startswith("{") and bool(_QCE_RE.search(head)) and bool(_CHAT_INFO_RE.search(head))


def _is_manifest(path: Path, head: str) -> bool:
    if _MESSAGES_RE.search(head):
        return False
    return bool(_CHUNKED_RE.search(head)) or (path.name.lower() == MANIFEST and (path.parent / CHUNKS_DIR).is_dir())


def _manifest_path(path: Path) -> Path:
    return path / MANIFEST if path.is_dir() else path


def detect_json(path: Path) -> bool:
    if path.suffix.lower() != ".json" or not path.is_file():
        return False
    head = head_text(path)
    return _is_qce(head) and not _is_manifest(path, head)


def detect_chunked(path: Path) -> bool:
    p = _manifest_path(path)
    if p.name.lower() != MANIFEST or not p.is_file():
        return False
    head = head_text(p)
    return _is_qce(head) and _is_manifest(p, head)


def _bad_json(path: Path) -> ExportError:
    return ExportError(f"is not complete, valid JSON (truncated or damaged?); {_AGAIN}", path=str(path))


def parse_json(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        with open_export(path) as fh:
            head = object_head(fh, "messages")
    except WrongShape:
        raise ExportError(f"has no 'messages' array; {_AGAIN}", path=str(path)) from None
    except JSON_ERRORS:
        raise _bad_json(path) from None
    if "chatInfo" not in head:
        raise ExportError(f"has no chatInfo; {_AGAIN}", path=str(path))
    chat = chat_of(head, path.stem)
    yield chat
    owner = owner_of(head.get("chatInfo") or {})
    resources = Resources(FolderTree(path.parent))
    n = 0
    try:
        with open_export(path) as fh:
            for n, msg in enumerate(json_items(fh, "messages.item"), 1):
                if not isinstance(msg, dict):
                    yield Problem(str(path), None, f"message {n} is not an object; skipped")
                    continue
                try:
                    yield record(chat.key, msg, owner, resources, None)
                except (ValueError, TypeError, OverflowError, OSError):
                    yield Problem(str(path), None, f"message {n} has no readable time; skipped")
    except JSON_ERRORS:
        raise _bad_json(path) from None


def _read_manifest(p: Path) -> dict[str, Any]:
    try:
        if p.stat().st_size > MAX_MANIFEST_BYTES:
            raise ExportError(f"is too large for a QCE manifest; {_AGAIN}", path=str(p))
        with open_export(p) as fh:
            doc = loads_json(fh.read().decode("utf-8-sig"), str(p))
    except OSError as exc:
        raise ExportError(f"cannot be read ({exc.strerror})", path=str(p)) from None
    except ValueError:
        raise _bad_json(p) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("chatInfo"), dict):
        raise ExportError(f"is not a QCE manifest (no chatInfo); {_AGAIN}", path=str(p))
    return doc


def _chunk_names(manifest: dict[str, Any], tree: FolderTree) -> list[str]:
    """The chunk files in order: as the manifest lists them, else every .jsonl under chunks/."""
    chunked = dict_at(manifest, "chunked")
    listed = list_at(chunked, "chunks")
    chunks_dir = str_at(chunked, "chunksDir") or CHUNKS_DIR
    names = []
    for i, c in enumerate(listed):
        if not isinstance(c, dict):
            continue
        name = next((c[k] for k in ("relativePath", "file") if isinstance(c.get(k), str) and c[k]), None)
        if name is None and isinstance(c.get("fileName"), str) and c["fileName"]:
            name = f"{chunks_dir}/{c['fileName']}"
        if name is not None:
            index = c.get("index") if isinstance(c.get("index"), int) else i
            names.append((index, i, name.replace("\\", "/")))
    if names:
        return [name for _, _, name in sorted(names)]
    if not (tree.root / CHUNKS_DIR).is_dir():
        return []
    return [n for n in tree.names(CHUNKS_DIR) if n.lower().endswith(".jsonl")]


def parse_chunked(path: Path, options: ParseOptions) -> Iterator[Record]:
    p = _manifest_path(path)
    manifest = _read_manifest(p)
    chat = chat_of(manifest, p.parent.name)
    yield chat
    owner = owner_of(manifest["chatInfo"])
    tree = FolderTree(p.parent)
    resources = Resources(tree)
    names = _chunk_names(manifest, tree)
    if not names:
        raise ExportError(f"lists no chunk files and has no chunks/ folder; {_AGAIN}", path=str(p))
    for name in names:
        where = tree.where(name)
        try:
            fh = tree.open(name)
        except OSError:
            yield Problem(str(p), None, f"chunk file {name!r} is missing or outside the export; skipped")
            continue
        with fh:
            for lineno, line in text_lines(fh, path=where):
                if not line.strip():
                    continue
                try:
                    msg = loads_json(line, where, line=lineno)
                except ValueError:
                    yield Problem(where, lineno, "not valid JSON; skipped")
                    continue
                if not isinstance(msg, dict):
                    yield Problem(where, lineno, "not a message object; skipped")
                    continue
                try:
                    yield record(chat.key, msg, owner, resources, lineno)
                except (ValueError, TypeError, OverflowError, OSError):
                    yield Problem(where, lineno, "message has no readable time; skipped")
