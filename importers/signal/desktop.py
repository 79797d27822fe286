"""Reading an open Signal Desktop database: who is who, then each conversation's messages.

importers/signal/__init__.py finds the Signal folder, obtains the key and opens the database
(read-only); this module walks it. Tables and columns read (see
formats/whatsapp-telegram-signal-line-kakaotalk.md §3.1; probed with `PRAGMA table_info`,
since they changed over schema versions):

* `conversations`: id, type ('private' | 'group'), json (nicknames, membersV2), name,
  profileName, profileFamilyName, profileFullName, e164, serviceId (>= 88) or uuid (20–87),
  members (groups v1).
* `messages`: rowid, id, conversationId, type, body, json, sent_at, received_at,
  received_at_ms (>= 1270), sourceServiceId | sourceUuid | source, expireTimer, isViewOnce,
  callId; each row's json is converted by importers/signal/convert.py.
* `message_attachments` (>= 1360): the current version's files ('attachment') and long texts
  ('long-message'); older databases keep them in the message json.
* `callsHistory`: direction, status, type, times of a call; `items`: our own ids
  (`uuid_id`, `number_id`).
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from importers.base import ParseOptions, loads_json
from importers.signal.convert import SignalContext, SignalConverter, SignalStats, kind_of_mime
from importers.signal.files import (
    LONG_TEXT_MIME,
    AttachmentDamaged,
    attachment_opener,
    read_long_text,
)
from vault.errors import ExportError
from vault.records import DIRECT, GROUP, UNKNOWN, Attachment, Chat, ChatKind, Note, Problem, Record

ATTACHMENTS_DIR = "attachments.noindex"
STICKERS_DIR = "stickers.noindex"
# Oldest schema version read (sigtop's minimum; older ones lack the columns used here).
MIN_SCHEMA_VERSION = 19
# message_attachments.attachmentType values (schema >= 1360).
ATT_FILE = "attachment"
ATT_LONG_TEXT = "long-message"
# message_attachments.editHistoryIndex of the current version of a message.
CURRENT_EDIT = -1


@dataclass(frozen=True)
class Profile:
    """Where a Signal Desktop database is, and whether it is encrypted."""

    root: Path  # the Signal folder (where config.json, attachments.noindex live)
    db: Path
    encrypted: bool


# --- reading the database ---------------------------------------------------------------------
def _columns(con: Any, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _display_name(row: Mapping[str, Any], conv_json: Mapping[str, Any]) -> str | None:
    """Signal's own precedence: nickname, contact name, profile name, phone, username, id."""
    nick = " ".join(
        str(conv_json[k]).strip()
        for k in ("nicknameGivenName", "nicknameFamilyName")
        if isinstance(conv_json.get(k), str) and conv_json[k].strip()
    )
    if nick:
        return nick
    for value in (
        row.get("name"),
        row.get("profileFullName"),
        " ".join(str(row[k]) for k in ("profileName", "profileFamilyName") if row.get(k)).strip(),
        row.get("e164"),
        conv_json.get("username"),
        row.get("serviceId"),
    ):
        if isinstance(value, str) and value.strip():
            return _trim_bidi(value.strip())
    return None


def _trim_bidi(name: str) -> str:
    """Signal wraps some names in FSI … PDI (U+2068/U+2069); sigtop strips one such pair."""
    if name.startswith("\u2068") and name.endswith("\u2069"):
        return name[1:-1]
    return name


@dataclass
class _Conversation:
    id: str
    kind: ChatKind
    title: str
    members: tuple[str, ...]


class _Directory:
    """Who is who: conversation ids, service ids and phone numbers to display names."""

    def __init__(self, con: Any) -> None:
        cols = _columns(con, "conversations")
        service_col = "serviceId" if "serviceId" in cols else ("uuid" if "uuid" in cols else None)
        wanted = ["id", "type", "json"] + [
            c
            for c in (
                "name",
                "profileName",
                "profileFamilyName",
                "profileFullName",
                "e164",
                "members",
            )
            if c in cols
        ]
        select = ", ".join(wanted) + (f", {service_col} AS serviceId" if service_col else "")
        self.names: dict[str, str] = {}
        self.by_service: dict[str, str] = {}
        self.by_phone: dict[str, str] = {}
        self.rows: list[tuple[dict[str, Any], dict[str, Any]]] = []
        for values in con.execute(f"SELECT {select} FROM conversations"):
            row = dict(zip([*wanted, "serviceId"] if service_col else wanted, values))
            try:
                conv_json = loads_json(row.get("json") or "{}")
            except (TypeError, ValueError):
                conv_json = {}
            if not isinstance(conv_json, dict):
                conv_json = {}
            if not row.get("serviceId"):
                row["serviceId"] = conv_json.get("serviceId") or conv_json.get("uuid")
            cid = str(row["id"])
            name = _display_name(row, conv_json)
            if name:
                self.names[cid] = name
            if isinstance(row.get("serviceId"), str) and row["serviceId"]:
                self.by_service[row["serviceId"].lower()] = cid
            if isinstance(row.get("e164"), str) and row["e164"]:
                self.by_phone[row["e164"]] = cid
            self.rows.append((row, conv_json))

    def conversation_of(self, ident: object) -> str | None:
        if not isinstance(ident, str) or not ident:
            return None
        if ident in self.names:
            return ident
        return self.by_service.get(ident.lower()) or self.by_phone.get(ident)

    def name_of(self, ident: object) -> str | None:
        cid = self.conversation_of(ident)
        return self.names.get(cid) if cid else None


def _own_identity(con: Any, directory: _Directory) -> tuple[str | None, set[str]]:
    """Our own service id and every id that means "me" (from the `items` table)."""
    ids: set[str] = set()
    own_service = None
    try:
        rows = con.execute("SELECT id, json FROM items WHERE id IN ('uuid_id', 'number_id')")
        for item_id, raw in rows:
            value = loads_json(raw).get("value") if raw else None
            if isinstance(value, str) and value:
                ident = value.rsplit(".", 1)[0]  # "<aci>.<device id>"
                ids.add(ident.lower())
                if item_id == "uuid_id":
                    own_service = ident
    except Exception:
        pass
    for ident in list(ids):
        cid = directory.conversation_of(ident)
        if cid:
            ids.add(cid.lower())
    return own_service, ids


def _conversations(directory: _Directory, own_ids: set[str]) -> Iterator[_Conversation]:
    for row, conv_json in directory.rows:
        cid = str(row["id"])
        ctype = row.get("type")
        kind: ChatKind = DIRECT if ctype == "private" else GROUP if ctype == "group" else UNKNOWN
        if cid.lower() in own_ids:
            title = "Note to Self"
        else:
            title = directory.names.get(cid) or ("Unnamed group" if kind == GROUP else cid)
        member_ids: list[str] = []
        for m in conv_json.get("membersV2") or []:
            if isinstance(m, dict):
                ident = m.get("aci") or m.get("uuid") or m.get("serviceId")
                if isinstance(ident, str):
                    member_ids.append(ident)
        if not member_ids and isinstance(row.get("members"), str):
            member_ids = row["members"].split()
        members = [directory.name_of(m) for m in member_ids]
        if kind == DIRECT and cid.lower() not in own_ids and directory.names.get(cid):
            members = [directory.names[cid]]
        yield _Conversation(cid, kind, title, tuple(sorted({m for m in members if m})))


class _DesktopReader:
    """Reads one open Signal Desktop database, conversation by conversation."""

    def __init__(self, con: Any, profile: Profile, options: ParseOptions) -> None:
        self.con = con
        self.profile = profile
        self.msg_cols = _columns(con, "messages")
        self.att_cols = _columns(con, "message_attachments") if self._has_table("message_attachments") else set()
        self.call_cols = _columns(con, "callsHistory") if self._has_table("callsHistory") else set()
        self.directory = _Directory(con)
        self.own_service, self.own_ids = _own_identity(con, self.directory)
        own_cid = self.directory.conversation_of(self.own_service)
        self.own_name = (self.directory.names.get(own_cid) if own_cid else None) or "You"
        self.skip_disappearing = options.params.get("disappearing") == "skip"
        self.stats = SignalStats()

    def _has_table(self, name: str) -> bool:
        row = self.con.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    def _col(self, name: str, alias: str | None = None) -> str:
        return (name if name in self.msg_cols else "NULL") + f" AS {alias or name}"

    def message_query(self) -> str:
        source = next((c for c in ("sourceServiceId", "sourceUuid", "source") if c in self.msg_cols), None)
        order = "received_at, sent_at, rowid" if "received_at" in self.msg_cols else "sent_at, rowid"
        return (
            "SELECT rowid, id, type, body, json, sent_at, "
            + ", ".join(
                [
                    self._col("received_at_ms"),
                    (f"{source} AS source_id" if source else "NULL AS source_id"),
                    self._col("expireTimer"),
                    self._col("isViewOnce"),
                    self._col("callId"),
                ]
            )
            + f" FROM messages WHERE conversationId = ? ORDER BY {order}"
        )

    # -- attachments ---------------------------------------------------------------------------
    def _attachment_rows(self, message_id: str) -> list[dict[str, Any]]:
        wanted = [
            c
            for c in (
                "attachmentType",
                "contentType",
                "fileName",
                "path",
                "size",
                "localKey",
                "version",
                "flags",
                "pending",
            )
            if c in self.att_cols
        ]
        if "messageId" not in self.att_cols or "attachmentType" not in wanted:
            return []
        where = "messageId = ?"
        if "editHistoryIndex" in self.att_cols:
            where += f" AND editHistoryIndex = {CURRENT_EDIT}"
        order = " ORDER BY orderInMessage" if "orderInMessage" in self.att_cols else ""
        rows = self.con.execute(
            f"SELECT {', '.join(wanted)} FROM message_attachments WHERE {where}{order}",
            (message_id,),
        )
        return [dict(zip(wanted, r)) for r in rows]

    def make_attachment(self, att: Mapping[str, Any], view_once: bool) -> Attachment:
        mime = att.get("contentType") if isinstance(att.get("contentType"), str) else None
        size = att.get("size") if isinstance(att.get("size"), int) else None
        name = att.get("fileName") if isinstance(att.get("fileName"), str) else None
        if not name:
            name = "attachment" + (mimetypes.guess_extension(mime or "") or "")
        opener = None
        if not view_once:  # view-once media is never copied (see docs/importers/signal.md)
            root = self.profile.root / (STICKERS_DIR if att.get("_sticker") else ATTACHMENTS_DIR)
            path = att.get("path") if isinstance(att.get("path"), str) else None
            try:
                opener = attachment_opener(root, path, att.get("version"), att.get("localKey"), size)
            except AttachmentDamaged:
                self.stats.damaged_attachments += 1
        return Attachment(name, kind_of_mime(mime, att.get("flags")), mime, size, opener)

    def long_text(self, att: Mapping[str, Any]) -> str | None:
        root = self.profile.root / ATTACHMENTS_DIR
        path = att.get("path") if isinstance(att.get("path"), str) else None
        size = att.get("size") if isinstance(att.get("size"), int) else None
        try:
            opener = attachment_opener(root, path, att.get("version"), att.get("localKey"), size)
        except AttachmentDamaged:
            return None
        return read_long_text(opener)

    # -- look-ups ------------------------------------------------------------------------------
    def quote_finder(self, conversation_id: str) -> Callable[[int, str | None], str | None]:
        source = next((c for c in ("sourceServiceId", "sourceUuid", "source") if c in self.msg_cols), None)
        select = f"SELECT id, type, {source or 'NULL'} FROM messages"

        def find(sent_at: int, author: str | None) -> str | None:
            rows = self.con.execute(
                select + " WHERE conversationId = ? AND sent_at = ?", (conversation_id, sent_at)
            ).fetchall()
            if len(rows) > 1 and author:
                mine = author.lower() in self.own_ids
                for mid, mtype, src in rows:
                    if (mine and mtype == "outgoing") or (isinstance(src, str) and src.lower() == author.lower()):
                        return str(mid)
            return str(rows[0][0]) if rows else None

        return find

    def call_row(self, call_id: object) -> Mapping[str, Any] | None:
        if not self.call_cols or "callId" not in self.call_cols or call_id is None:
            return None
        wanted = [
            c
            for c in (
                "peerId",
                "ringerId",
                "mode",
                "type",
                "direction",
                "status",
                "timestamp",
                "endedTimestamp",
            )
            if c in self.call_cols
        ]
        row = self.con.execute(
            f"SELECT {', '.join(wanted)} FROM callsHistory WHERE callId = ?", (str(call_id),)
        ).fetchone()
        return dict(zip(wanted, row)) if row else None

    # -- the walk ------------------------------------------------------------------------------
    def records(self, path: str) -> Iterator[Record]:
        query = self.message_query()
        names = self.directory.name_of
        for conv in _conversations(self.directory, self.own_ids):
            ctx = SignalContext(
                chat=conv.id,
                kind=conv.kind,
                own_name=self.own_name,
                name_of=names,
                own_ids=frozenset(self.own_ids),
                own_id=self.own_service,
                peer_name=conv.title if conv.kind == DIRECT else None,
                make_attachment=self.make_attachment,
                long_text=self.long_text,
                find_quoted=self.quote_finder(conv.id),
                call_row=self.call_row,
                skip_disappearing=self.skip_disappearing,
                stats=self.stats,
            )
            converter = SignalConverter(ctx)
            chat_sent = False
            cursor = self.con.cursor()
            for row in cursor.execute(query, (conv.id,)):
                rec = self._convert(converter, row, path)
                if rec is None:
                    continue
                if not chat_sent and not isinstance(rec, Problem):
                    yield Chat(
                        source="signal",
                        key=conv.id,
                        title=conv.title,
                        kind=conv.kind,
                        participants=conv.members,
                    )
                    chat_sent = True
                yield rec
            cursor.close()

    def _convert(self, converter: SignalConverter, row: tuple[Any, ...], path: str) -> Record | None:
        (rowid, mid, mtype, body, raw_json, sent_at, received_ms, source_id,
         expire, view_once, call_id) = row  # fmt: skip
        try:
            msg = loads_json(raw_json) if raw_json else {}
        except (TypeError, ValueError):
            return Problem(path, None, f"message row {rowid}: its JSON cannot be read; skipped")
        if not isinstance(msg, dict):
            return Problem(path, None, f"message row {rowid}: its JSON is not an object; skipped")
        columns = {
            "id": mid, "type": mtype, "body": body, "sent_at": sent_at,
            "received_at_ms": received_ms, "expireTimer": expire,
            "isViewOnce": view_once, "callId": call_id,
        }  # fmt: skip
        msg.update({k: v for k, v in columns.items() if v is not None})
        if source_id is not None:
            msg.setdefault("sourceServiceId", source_id)
        if self.att_cols and isinstance(mid, str):
            atts = self._attachment_rows(mid)
            if atts:
                msg["attachments"] = [a for a in atts if a.get("attachmentType") == ATT_FILE]
                long = [a for a in atts if a.get("attachmentType") == ATT_LONG_TEXT]
                if long:
                    msg["bodyAttachment"] = {**long[0], "contentType": LONG_TEXT_MIME}
        try:
            return converter.convert(msg)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            reason = str(exc) if isinstance(exc, ValueError) else "unexpected structure"
            return Problem(path, None, f"message row {rowid}: {reason}; skipped")

    def orphans(self) -> int:
        row = self.con.execute(
            "SELECT count(*) FROM messages WHERE conversationId IS NULL "
            "OR conversationId NOT IN (SELECT id FROM conversations)"
        ).fetchone()
        return int(row[0]) if row else 0


def _notes(stats: SignalStats) -> Iterator[Note]:
    if stats.disappearing:
        yield Note(
            f"{stats.disappearing} disappearing messages were imported: Signal deletes them from "
            "your devices when their timer runs out, but the vault keeps them until you delete "
            "them (set the option disappearing=skip to leave them out)"
        )
    if stats.disappearing_skipped:
        yield Note(f"{stats.disappearing_skipped} disappearing messages were left out, as asked")
    if stats.view_once:
        yield Note(
            f"{stats.view_once} view-once messages were recorded without their media: "
            "view-once photos and videos are never copied into the vault"
        )
    if stats.stories:
        yield Note(f"{stats.stories} stories were left out (they are not part of a chat)")
    if stats.damaged_attachments:
        yield Note(
            f"{stats.damaged_attachments} attachment files failed their integrity check (damaged "
            "on disk): those messages were imported without the file"
        )
    if stats.long_text_truncated:
        yield Note(
            f"{stats.long_text_truncated} long messages were imported shortened: the file with "
            "their full text was not found next to the database"
        )


def read_database(
    con: Any, errors: tuple[type[Exception], ...], profile: Profile, options: ParseOptions
) -> Iterator[Record]:
    where = str(profile.db)
    version: object = None
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not {"messages", "conversations"} <= tables:
            raise ExportError("this is not a Signal Desktop database", path=where)
        if isinstance(version, int) and version < MIN_SCHEMA_VERSION:
            raise ExportError(
                f"this Signal Desktop database is too old (schema {version}); open it once with "
                "a current Signal Desktop, quit it, and import again",
                path=where,
            )
        reader = _DesktopReader(con, profile, options)
        yield from reader.records(where)
        orphans = reader.orphans()
    except errors as exc:
        raise ExportError(
            "the Signal database could not be read (damaged, or changed while reading); quit "
            "Signal Desktop and import again",
            path=where,
        ) from exc
    except (TypeError, ValueError, KeyError, AttributeError, IndexError) as exc:
        raise ExportError(
            f"the Signal database has a layout this importer does not know (schema {version}); please report it",
            path=where,
        ) from exc
    if orphans:
        yield Problem(where, None, f"{orphans} messages belong to no conversation; skipped")
    yield from _notes(reader.stats)
