"""WhatsApp (and WhatsApp Business) inside an iPhone backup: ChatStorage.sqlite and its media.

Where: domain `AppDomainGroup-group.net.whatsapp.WhatsApp.shared` (Business: `...WhatsAppSMB.shared`),
file `ChatStorage.sqlite`; media files in the same domain under `Message/<ZMEDIALOCALPATH>`.

Tables (Core Data, so every column starts with Z; layouts as WhatsApp-Chat-Exporter's ios_handler
and IPED's ExtractorIOS read them): `ZWACHATSESSION` (Z_PK, ZCONTACTJID, ZPARTNERNAME,
ZSESSIONTYPE), `ZWAMESSAGE` (Z_PK, ZCHATSESSION, ZISFROMME, ZFROMJID, ZTEXT, ZMESSAGEDATE in
seconds since 2001-01-01 UTC, ZMESSAGETYPE, ZGROUPEVENTTYPE, ZGROUPMEMBER, ZSTANZAID, ZMEDIAITEM),
`ZWAGROUPMEMBER` (ZMEMBERJID, ZCONTACTNAME), `ZWAMEDIAITEM` (ZMEDIALOCALPATH, ZTITLE, ZFILESIZE,
ZVCARDSTRING = the mime type of media, ZMETADATA = a protobuf whose field 5 is the stanza id of the
quoted message), `ZWAMESSAGEINFO` (ZMESSAGE, ZRECEIPTINFO = a protobuf whose field 7 holds the
reactions: 7.1 = {2: sender jid, 3: emoji, 4: time in ms} from others, 7.2 = {2: emoji, 3: time}
from the owner), `ZWAPROFILEPUSHNAME` (ZJID, ZPUSHNAME). Columns a version lacks read as NULL.

Message types (ZMESSAGETYPE) and the kind each means: importers/whatsapp/kinds.py (`IOS_TYPES`),
shared with the Android reader. Group events (type 6; ZGROUPEVENTTYPE: 1 title, 2 joined, 3 left,
4/5 photo, 7 removed, 12 created) and chat notices (type 10; ZGROUPEVENTTYPE: 1 missed voice call,
4 missed video call, 22 missed group video call, 2 encryption notice, 3 security code changed, ...)
become Events; calls are EV_CALL.
"""

from __future__ import annotations

import mimetypes
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import PurePosixPath
from typing import Any

from importers.iphone_backup.manifest import Backup
from importers.wechat.common import protobuf_fields
from importers.whatsapp.kinds import IOS_TYPES, MEDIA_KINDS, message_kind, type_of
from vault.records import (
    CONTACT,
    DELETED,
    DIRECT,
    EV_CALL,
    EV_ENCRYPTION,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    GROUP,
    LOCATION,
    OTHER,
    Attachment,
    Chat,
    Event,
    EventKind,
    Message,
    MessageKind,
    Note,
    Problem,
    Reaction,
    Record,
)

SOURCE = "whatsapp"
DOMAINS = {
    "AppDomainGroup-group.net.whatsapp.WhatsApp.shared": "WhatsApp",
    "AppDomainGroup-group.net.whatsapp.WhatsAppSMB.shared": "WhatsApp Business",
}
DATABASE = "ChatStorage.sqlite"
MEDIA_ROOT = "Message"
APPLE_EPOCH = datetime(2001, 1, 1, tzinfo=timezone.utc)
ME = "me"

_GROUP_EVENTS: dict[int, tuple[EventKind, str]] = {
    1: (EV_TITLE, "changed the group name"),
    2: (EV_JOIN, "joined"),
    3: (EV_LEAVE, "left"),
    4: (EV_SYSTEM, "changed the group photo"),
    5: (EV_SYSTEM, "removed the group photo"),
    7: (EV_LEAVE, "was removed"),
    12: (EV_SYSTEM, "created the group"),
}
_NOTICES: dict[int, tuple[EventKind, str]] = {
    1: (EV_CALL, "missed voice call"),
    4: (EV_CALL, "missed video call"),
    22: (EV_CALL, "missed group video call"),
    40: (EV_CALL, "group video call"),
    41: (EV_CALL, "group video call"),
    2: (EV_ENCRYPTION, "messages and calls are end-to-end encrypted"),
    3: (EV_ENCRYPTION, "security code changed"),
}
# Chats that are not conversations: status updates.
_SKIPPED_JIDS = ("@status", "status@broadcast")

_MESSAGE_COLS = (
    "Z_PK",
    "ZCHATSESSION",
    "ZISFROMME",
    "ZFROMJID",
    "ZTEXT",
    "ZMESSAGEDATE",
    "ZMESSAGETYPE",
    "ZGROUPEVENTTYPE",
    "ZGROUPMEMBER",
    "ZSTANZAID",
    "ZMEDIAITEM",
    "ZPUSHNAME",
)
_MEDIA_COLS = ("ZMEDIALOCALPATH", "ZTITLE", "ZFILESIZE", "ZVCARDSTRING", "ZMETADATA", "ZLATITUDE", "ZLONGITUDE")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    return {str(r[1]) for r in conn.execute(f"PRAGMA table_info({table})")}


def _select(have: set[str], alias: str, wanted: Sequence[str], prefix: str = "") -> str:
    return ", ".join(f"{alias}.{c} AS {prefix}{c}" if c in have else f"NULL AS {prefix}{c}" for c in wanted)


def apple_seconds(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return APPLE_EPOCH + timedelta(seconds=float(value))
    except (OverflowError, ValueError):
        return None


def _str(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _number(jid: str | None) -> str | None:
    return jid.split("@", 1)[0] if jid else None


def quoted_stanza(metadata: object) -> str | None:
    """The stanza id of the quoted message: field 5 of ZWAMEDIAITEM.ZMETADATA."""
    if not isinstance(metadata, bytes):
        return None
    for number, wire, value in protobuf_fields(metadata):
        if number == 5 and wire == 2 and isinstance(value, bytes):
            text = value.decode("utf-8", errors="replace").strip()
            return text or None
    return None


def _ms_time(value: int | bytes | None) -> datetime | None:
    if isinstance(value, bytes):
        try:
            value = int(value.decode("ascii"))
        except (UnicodeDecodeError, ValueError):
            return None
    if not isinstance(value, int) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def reactions(receipt: object, names: dict[str, str]) -> tuple[Reaction, ...]:
    """Reactions stored in ZWAMESSAGEINFO.ZRECEIPTINFO (field 7; 7.1 from others, 7.2 the owner's)."""
    if not isinstance(receipt, bytes):
        return ()
    out: list[Reaction] = []
    for number, wire, value in protobuf_fields(receipt):
        if number != 7 or wire != 2 or not isinstance(value, bytes):
            continue
        for sub, sub_wire, item in protobuf_fields(value):
            if sub_wire != 2 or not isinstance(item, bytes) or sub not in (1, 2):
                continue
            fields = {n: v for n, _w, v in protobuf_fields(item)}
            if sub == 1:
                jid_raw, emoji_raw, when = fields.get(2), fields.get(3), fields.get(4)
                jid = jid_raw.decode("utf-8", "replace") if isinstance(jid_raw, bytes) else None
                sender = names.get(jid or "") or _number(jid)
            else:
                emoji_raw, when = fields.get(2), fields.get(3)
                sender = ME
            emoji = emoji_raw.decode("utf-8", "replace") if isinstance(emoji_raw, bytes) else ""
            if emoji:
                out.append(Reaction(emoji, sender, _ms_time(when)))
    return tuple(out)


def read(backup: Backup, domain: str) -> Iterator[Record]:
    """The records of one WhatsApp app in the backup (nothing when it has no ChatStorage.sqlite)."""
    entry = backup.find(domain, DATABASE)
    if entry is None:
        return
    label = f"{DOMAINS.get(domain, domain)}/{DATABASE}"
    if backup.unsaved_log(entry):
        yield Note(f"{label}-wal was not read: the newest messages may be missing")
    conn = backup.database(entry, lenient_text=True)
    try:
        yield from _read(conn, backup, domain, label)
    finally:
        conn.close()


class _Reader:
    def __init__(self, conn: sqlite3.Connection, backup: Backup, domain: str, label: str) -> None:
        self.conn, self.backup, self.domain, self.label = conn, backup, domain, label
        tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        self.tables = tables
        self.message_cols = _columns(conn, "ZWAMESSAGE")
        self.media_cols = _columns(conn, "ZWAMEDIAITEM") if "ZWAMEDIAITEM" in tables else set()
        self.push: dict[str, str] = {}
        if "ZWAPROFILEPUSHNAME" in tables and {"ZJID", "ZPUSHNAME"} <= _columns(conn, "ZWAPROFILEPUSHNAME"):
            for jid, name in conn.execute("SELECT ZJID, ZPUSHNAME FROM ZWAPROFILEPUSHNAME"):
                if _str(jid) and _str(name):
                    self.push[str(jid)] = str(name).strip()
        self.members: dict[int, tuple[str | None, str | None]] = {}
        self.session_members: dict[int, set[str]] = {}
        if "ZWAGROUPMEMBER" in tables:
            cols = _columns(conn, "ZWAGROUPMEMBER")
            sel = _select(cols, "g", ("Z_PK", "ZMEMBERJID", "ZCONTACTNAME", "ZCHATSESSION"))
            for pk, jid, name, session in conn.execute(f"SELECT {sel} FROM ZWAGROUPMEMBER g"):
                jid_s = _str(jid)
                shown = _str(name) or (self.push.get(jid_s) if jid_s else None)
                self.members[int(pk)] = (jid_s, shown)
                if isinstance(session, int) and (shown or jid_s):
                    self.session_members.setdefault(session, set()).add(shown or _number(jid_s) or "")
        self.names: dict[str, str] = dict(self.push)
        for jid, name in self.members.values():
            if jid and name:
                self.names[jid] = name
        self.has_info = "ZWAMESSAGEINFO" in tables and {"ZMESSAGE", "ZRECEIPTINFO"} <= _columns(conn, "ZWAMESSAGEINFO")

    def sessions(self) -> list[tuple[Any, ...]]:
        cols = _columns(self.conn, "ZWACHATSESSION")
        sel = _select(cols, "s", ("Z_PK", "ZCONTACTJID", "ZPARTNERNAME", "ZSESSIONTYPE"))
        return self.conn.execute(f"SELECT {sel} FROM ZWACHATSESSION s ORDER BY s.Z_PK").fetchall()

    def messages(self, session: int) -> Iterator[sqlite3.Row]:
        msg = _select(self.message_cols, "m", _MESSAGE_COLS)
        if self.media_cols:
            media = _select(self.media_cols, "i", _MEDIA_COLS, prefix="media_")
            join = "LEFT JOIN ZWAMEDIAITEM i ON i.Z_PK = m.ZMEDIAITEM" if "ZMEDIAITEM" in self.message_cols else ""
            if not join:
                media = ", ".join(f"NULL AS media_{c}" for c in _MEDIA_COLS)
        else:
            media, join = ", ".join(f"NULL AS media_{c}" for c in _MEDIA_COLS), ""
        order = "m.ZMESSAGEDATE, m.Z_PK" if "ZMESSAGEDATE" in self.message_cols else "m.Z_PK"
        cursor = self.conn.execute(
            f"SELECT {msg}, {media} FROM ZWAMESSAGE m {join} WHERE m.ZCHATSESSION = ? ORDER BY {order}",
            (session,),
        )
        cursor.row_factory = sqlite3.Row
        yield from cursor

    def receipt(self, message_pk: int) -> object:
        if not self.has_info:
            return None
        row = self.conn.execute(
            "SELECT ZRECEIPTINFO FROM ZWAMESSAGEINFO WHERE ZMESSAGE = ? LIMIT 1", (message_pk,)
        ).fetchone()
        return row[0] if row else None

    def attachment(self, row: sqlite3.Row, kind: MessageKind) -> Attachment | None:
        local = _str(row["media_ZMEDIALOCALPATH"])
        if not local:
            return None
        rel = PurePosixPath(local.replace("\\", "/").lstrip("/"))
        if any(part == ".." for part in rel.parts) or not rel.parts:
            return None
        name = rel.name
        mime = _str(row["media_ZVCARDSTRING"])
        if not mime or "/" not in mime:
            mime = mimetypes.guess_type(name)[0]
        size = (
            row["media_ZFILESIZE"] if isinstance(row["media_ZFILESIZE"], int) and row["media_ZFILESIZE"] > 0 else None
        )
        entry = self.backup.find(self.domain, f"{MEDIA_ROOT}/{rel}")
        opener = self.backup.opener(entry) if entry is not None else None
        return Attachment(name, kind, mime, size, open=opener)


def _read(conn: sqlite3.Connection, backup: Backup, domain: str, label: str) -> Iterator[Record]:
    tables = {str(r[0]) for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"ZWACHATSESSION", "ZWAMESSAGE"} <= tables:
        yield Problem(label, None, "not a WhatsApp ChatStorage database (no ZWACHATSESSION/ZWAMESSAGE); skipped")
        return
    reader = _Reader(conn, backup, domain, label)
    status = 0
    for pk, jid, partner, session_type in reader.sessions():
        jid_s = _str(jid)
        if jid_s is None:
            yield Problem(label, None, f"chat row {pk} has no jid; its messages were skipped")
            continue
        if jid_s.endswith(_SKIPPED_JIDS):
            status += 1
            continue
        is_group = jid_s.endswith("@g.us") or session_type == 1
        title = _str(partner) or reader.push.get(jid_s) or _number(jid_s) or jid_s
        if is_group:
            members = tuple(sorted(reader.session_members.get(pk, set()) - {""}))
            yield Chat(SOURCE, jid_s, title, GROUP, members, {"jid": jid_s})
        else:
            yield Chat(SOURCE, jid_s, title, DIRECT, (title, ME), {"jid": jid_s})
        record = 0
        for row in reader.messages(pk):
            record += 1
            try:
                rec = _convert(row, reader, jid_s, title, is_group, record)
            except (TypeError, ValueError, KeyError, OverflowError) as exc:
                yield Problem(label, record, f"message row {row['Z_PK']}: unexpected values ({type(exc).__name__})")
                continue
            yield rec
    if status:
        yield Note(f"{DOMAINS.get(domain, domain)}: status updates were not imported")


def _convert(
    row: sqlite3.Row, reader: _Reader, chat: str, title: str, is_group: bool, record: int
) -> Message | Event | Problem:
    ts = apple_seconds(row["ZMESSAGEDATE"])
    if ts is None:
        return Problem(reader.label, record, f"message row {row['Z_PK']} has no date; skipped")
    from_me = bool(row["ZISFROMME"])
    sender: str | None
    sender_id: str | None
    if from_me:
        sender, sender_id = ME, None
    elif is_group:
        member = reader.members.get(row["ZGROUPMEMBER"]) if isinstance(row["ZGROUPMEMBER"], int) else None
        sender_id = member[0] if member else _str(row["ZFROMJID"])
        sender = (member[1] if member else None) or _str(row["ZPUSHNAME"]) or _number(sender_id)
    else:
        sender, sender_id = title, chat
    stanza = _str(row["ZSTANZAID"])
    mtype = row["ZMESSAGETYPE"] if isinstance(row["ZMESSAGETYPE"], int) else 0
    text = row["ZTEXT"] if isinstance(row["ZTEXT"], str) else ""
    wa_type = type_of(IOS_TYPES, mtype)
    if wa_type in ("group event", "notice"):
        event_type = row["ZGROUPEVENTTYPE"] if isinstance(row["ZGROUPEVENTTYPE"], int) else 0
        table = _GROUP_EVENTS if wa_type == "group event" else _NOTICES
        ev_kind, what = table.get(event_type, (EV_SYSTEM, f"chat notice (type {mtype}.{event_type})"))
        extra: dict[str, Any] = {"message_type": mtype, "event_type": event_type}
        if ev_kind == EV_CALL:
            extra.update(duration_s=0, missed=True)
        if ev_kind == EV_TITLE and text:
            what = f"{what} to “{text}”"
        who = sender or "someone"
        return Event(
            chat,
            ts,
            f"{who}: {what}" if wa_type == "group event" else what,
            ev_kind,
            actor=sender,
            source_id=stanza,
            line=record,
            extra=extra,
        )
    if wa_type == "deleted":
        return Message(
            chat, ts, sender, "", DELETED, source_id=stanza, sender_id=sender_id, from_me=from_me, line=record
        )
    kind = message_kind(IOS_TYPES, mtype)
    attachments: tuple[Attachment, ...] = ()
    caption = _str(row["media_ZTITLE"])
    extra = {"message_type": mtype} if kind == OTHER else {}
    if kind in MEDIA_KINDS:
        att = reader.attachment(row, kind)
        if att is not None:
            attachments = (att,)
        if not text and caption:
            text = caption
    elif kind == CONTACT and not text:
        text = caption or ""
    elif kind == LOCATION:
        lat, lon = row["media_ZLATITUDE"], row["media_ZLONGITUDE"]
        if isinstance(lat, float) and isinstance(lon, float):
            extra.update(latitude=lat, longitude=lon)
        if not text and caption:
            text = caption
    return Message(
        chat,
        ts,
        sender,
        text,
        kind,
        source_id=stanza,
        sender_id=sender_id,
        from_me=from_me,
        reply_to=quoted_stanza(row["media_ZMETADATA"]),
        attachments=attachments,
        reactions=reactions(reader.receipt(row["Z_PK"]), reader.names),
        line=record,
        extra=extra,
    )
