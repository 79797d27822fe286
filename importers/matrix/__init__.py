"""Matrix room export from Element ("Export chat" in JSON), with or without attachments.

How a person gets it: Element Web or Desktop (1.9.1 and later) → open the room → Room info →
Export chat → Format "JSON", choose the messages ("From the beginning", "Current timeline" or a
number) and, if wanted, "Include attachments". Without attachments Element saves
`matrix - <room> - Chat Export - <date>.json`; with them `matrix-export-<date>.zip` holding
`export.json` and images/, videos/, audio/, files/, stickers/. talkvault takes the .json, the
.zip, or the folder the zip was unpacked into.

Read: the header (`room_name`, `topic`, `exported_by`) and every event of `messages` (raw Matrix
events in time order, as element-web src/utils/exportUtils/JSONExport.ts writes them): messages
by msgtype (text, notice, emote, image, video, audio, file, location), stickers, polls, member
changes (join, leave, invite, kick, ban, display-name changes), room name, topic, creation,
encryption and other state events, and m.call.* events (calls, with their length when an answer
and a hang-up are both there). Files in the zip are stored; an `mxc://` URL without its file
gives an attachment without bytes.

Relations are applied, not imported as messages: an edit (`rel_type` m.replace) puts its
`m.new_content` on the original and sets `edited`; a reaction (m.reaction annotation) becomes a
Reaction on its target; a redaction turns its target into a deleted placeholder. Because an edit
comes after its original, the JSON is read twice, both times streaming with ijson: the first pass
keeps only the edits, reactions, redactions and display names (memory grows with those, never with
the messages), the second emits records. An edit whose original is not in the export is imported
under the original's event id, so a later, longer export recognises it.

Identity: Chat.key = the room id (`!abc:server`, from the events); Message.source_id = the event
id. `origin_server_ts` is epoch milliseconds, so times are instants.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from importers.base import Format, ParseOptions, is_zip, read_head
from importers.matrix.events import (
    ENCRYPTED,
    MEMBER,
    MESSAGE,
    POLL_RESPONSE,
    POLL_START,
    REACTION,
    REDACTION,
    REPLACE,
    STICKER_EVENT,
    Room,
    clear_event,
    learn,
    message,
    ms_time,
    relation,
    state_event,
)
from importers.matrix.export import HEAD_BYTES, Export, folder_json, looks_like_export, open_export, zip_head
from importers.tree import JSON_ERRORS, WrongShape, ZipTree, json_items, object_head, str_at, unsafe_members_problem
from vault.errors import ExportError
from vault.records import DIRECT, GROUP, Chat, ChatKind, Note, Problem, Record, title_key

SOURCE = "matrix"
_ITEMS = "messages.item"


def detect(path: Path) -> bool:
    if path.is_dir():
        return folder_json(path) is not None
    if not path.is_file():
        return False
    if is_zip(path):
        return looks_like_export(zip_head(path))
    return path.suffix.lower() == ".json" and looks_like_export(read_head(path, HEAD_BYTES))


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    with open_export(path) as export:
        if export is None:
            raise ExportError("holds no Element export JSON (export.json)", path=str(path))
        yield from _parse(export)


def _bad_json(label: str) -> ExportError:
    return ExportError(
        "is not complete, valid JSON (truncated or damaged?); export the chat from Element again", path=label
    )


def _parse(export: Export) -> Iterator[Record]:
    label = export.label
    try:
        with export.open_json() as fh:
            head = object_head(fh, "messages")
    except WrongShape as exc:
        raise ExportError("is not an Element chat export (no list of messages)", path=label) from exc
    except JSON_ERRORS as exc:
        raise _bad_json(label) from exc
    room = Room(key="", export=export)
    room_id = None
    n = 0
    try:
        with export.open_json() as fh:
            for raw in json_items(fh, _ITEMS):
                ev = clear_event(raw)
                if ev is None:
                    continue
                if room_id is None and isinstance(ev.get("room_id"), str):
                    room_id = ev["room_id"]
                learn(room, ev)
    except JSON_ERRORS as exc:
        raise _bad_json(label) from exc
    title = str_at(head, "room_name") or ""
    title = title.strip() or room_id or "Matrix room"
    room.key = room_id or title_key(title)
    room.owner = _owner(head.get("exported_by"), room)
    extra: dict[str, Any] = {}
    for key in ("topic", "room_creator", "export_date", "exported_by"):
        if isinstance(head.get(key), str) and head[key]:
            extra[key] = head[key]
    kind: ChatKind = GROUP if len(room.members) > 2 else DIRECT if room.members else GROUP
    yield Chat(source=SOURCE, key=room.key, title=title, kind=kind, extra=extra)
    unsafe = unsafe_members_problem(export.tree) if isinstance(export.tree, ZipTree) else None
    if unsafe is not None:
        yield unsafe
    counts = {"encrypted": 0, "relations": 0, "skipped": 0}
    try:
        with export.open_json() as fh:
            for n, raw in enumerate(json_items(fh, _ITEMS), 1):
                try:
                    rec = _record(room, clear_event(raw), counts)
                except (ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError):
                    rec = Problem(label, None, f"event {n} could not be read; skipped")
                if rec is not None:
                    yield rec
    except JSON_ERRORS as exc:
        raise _bad_json(label) from exc
    yield from _orphan_edits(room)
    if counts["encrypted"]:
        yield Note(f"{counts['encrypted']} event(s) were still encrypted in the export (Element had no key); skipped")
    if export.ambiguous:
        yield Note(f"{export.ambiguous} attachment(s) left without their file: several files match by name and size")


def _owner(exported_by: Any, room: Room) -> str | None:
    """The exporting account: Element writes its display name, or its user id when it has none."""
    if not isinstance(exported_by, str) or not exported_by:
        return None
    if exported_by.startswith("@"):
        return exported_by
    matches = [u for u, name in room.final_names.items() if name == exported_by]
    return matches[0] if len(matches) == 1 else None


def _record(room: Room, ev: dict[str, Any] | None, counts: dict[str, int]) -> Record | None:
    if ev is None:
        return Problem(room.export.label, None, "an event is not an object; skipped")
    etype = ev.get("type")
    if not isinstance(etype, str):
        raise ValueError("no type")
    if etype in (REACTION, REDACTION) or etype in POLL_RESPONSE:
        return None  # applied to their targets
    if etype == ENCRYPTED:
        counts["encrypted"] += 1
        return None
    if etype == MESSAGE and relation(ev).get("rel_type") == REPLACE:
        return None  # an edit: its text is on the original
    if etype in (MESSAGE, STICKER_EVENT) or etype in POLL_START:
        return message(room, ev)
    if etype == MEMBER or "state_key" in ev or etype.startswith(("m.call.", "org.matrix.msc")):
        return state_event(room, ev)
    ms_time(ev.get("origin_server_ts"))  # a malformed event is a Problem, an unknown one is skipped
    return None


def _orphan_edits(room: Room) -> Iterator[Record]:
    """Edits whose original is not in the export: the edited text under the original's id."""
    for target, edit in room.edits.items():
        if target in room.applied_edits:
            continue
        ev = {
            "type": MESSAGE,
            "origin_server_ts": int(edit.ts.timestamp() * 1000),
            "sender": edit.sender,
            "content": edit.content,
        }
        yield message(room, ev, source_id=target)


FORMATS = [
    Format(
        name="matrix",
        source=SOURCE,
        description='Element (Matrix) "Export chat" JSON: the .json, or the .zip with attachments',
        detection="a .json (or export.json in a .zip or folder) with room_name, export_date, exported_by and messages",
        detect=detect,
        parse=parse,
    )
]
