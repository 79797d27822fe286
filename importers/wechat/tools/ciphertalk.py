"""CipherTalk "detailed-json" exports of one WeChat chat.

How a person got them: CipherTalk (ILoveBingLu/CipherTalk) is a desktop app for Windows WeChat
4.x, of WeFlow's lineage, that reads the person's own databases; its export "详细 JSON" writes one
file per chat (formats/2026-formats-and-wechat-tools.md §2).

Layout (ILoveBingLu/CipherTalk electron/services/exportService.ts, exportSessionToDetailedJson):
`{"exportInfo": {version, exportedAt, generator: "CipherTalk", format: "detailed-json"},
"session": {wxid, nickname, remark, displayName, type, platform: "wechat", isGroup, ownerId,
groupId, firstTimestamp, lastTimestamp, messageCount}, "messages": [{localId, platformMessageId,
createTime, formattedTime, type, localType, chatLabType, content, rawContent, isSend,
senderUsername, senderDisplayName, groupNickname, replyToMessageId, chatRecords, source}]}`.

`localType` is the database's own `local_type` and `rawContent` its message content (WeChat's
XML), so a message is interpreted exactly as the database readers interpret it
(`common.build_record`): the same message read from here and from `message_N.db` is one message
in the vault. `platformMessageId` is the server id, except that CipherTalk writes the local id
when the server id is 0; such an id equals `localId` and is not used. Server ids beyond 2^53 went
through a JavaScript number in CipherTalk and may have lost their last digits (see
docs/importers/wechat.md).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from importers.base import ParseOptions
from importers.wechat.common import (
    TYPE_APP,
    TYPE_CALL,
    Names,
    RawMessage,
    build_record,
    call_duration,
    is_group,
    split_group_prefix,
)
from importers.wechat.media import MediaFinder
from importers.wechat.tools.shared import (
    forward_text,
    iter_json_items,
    json_head_events,
    safe_media,
    scalar_at,
    server_id,
    top_level_keys,
)
from importers.wechat.tools.weflow import (
    ToolContext,
    chat_records,
    message_time,
    pick_name,
    read_session,
    session_chat,
    tool_record,
)
from vault.records import AUDIO, EV_CALL, EV_SYSTEM, FILE, IMAGE, TEXT, VIDEO, Event, Message, Problem, Record

GENERATOR = "CipherTalk"
FORMAT = "detailed-json"

# local_type packs the app sub type above the low 32 bits (as in message_N.db).
TYPE_MASK = 0xFFFFFFFF
SUB_TYPE_SHIFT = 32
APP_FORWARD = 19
APP_RED_PACKET = 2001
APP_RED_PACKET_COVER = 2003

_MEDIA_KINDS = frozenset({IMAGE, VIDEO, AUDIO, FILE})


def detect(path: Path) -> bool:
    """`{"exportInfo": {generator: "CipherTalk", format: "detailed-json"}` at the head."""
    try:
        if not path.is_file():
            return False
        events = json_head_events(path)
        keys = top_level_keys(events)
        return (
            bool(keys)
            and keys[0] == "exportInfo"
            and scalar_at(events, "exportInfo.generator") == GENERATOR
            and scalar_at(events, "exportInfo.format") == FORMAT
        )
    except Exception:
        return False


def _source_id(item: Mapping[str, Any]) -> str | None:
    """The server id, or None when CipherTalk wrote the local id in its place."""
    value = item.get("platformMessageId")
    local = item.get("localId")
    if value is None or (local is not None and str(value).strip() == str(local).strip()):
        return None
    return server_id(value)


def _xml_record(item: Mapping[str, Any], number: int, ctx: ToolContext, names: Names) -> Record | None:
    """The record of a message that carries its database type and XML, or None if it does not."""
    local_type, raw = item.get("localType"), item.get("rawContent")
    if isinstance(local_type, bool) or not isinstance(local_type, int) or not isinstance(raw, str):
        return None
    ts = message_time(item)
    if ts is None:
        return Problem(str(ctx.path), number, "message without a readable createTime")
    type_, sub_type = local_type & TYPE_MASK, local_type >> SUB_TYPE_SHIFT
    content = raw
    sender_id = str(item.get("senderUsername") or "").strip() or None
    if is_group(ctx.key):
        prefixed, body = split_group_prefix(raw)
        if prefixed:
            content = body
    from_me = item.get("isSend") in (1, True)
    shown = pick_name(item.get("senderDisplayName"), item.get("groupNickname"))
    if from_me and shown and not names.owner_name:
        names.owner_name = shown
    if is_group(ctx.key) and sender_id == ctx.key:  # a group's own notices
        sender_id = shown = None
    extra: dict[str, Any] = {"type_name": str(item.get("type") or "")}
    if item.get("localId") is not None:
        extra["local_id"] = str(item.get("localId"))
    if type_ == TYPE_APP and content:
        extra["xml"] = content
    raw_message = RawMessage(
        chat=ctx.key,
        ts=ts,
        type=type_,
        sub_type=sub_type,
        content=content,
        sender_id=None if from_me else sender_id,
        from_me=from_me,
        source_id=_source_id(item),
        record=number,
        extra=extra,
    )
    record = build_record(raw_message, names, None, shown)
    if isinstance(record, Event):
        return record
    app_type = record.extra.get("app_type")
    if type_ == TYPE_CALL:
        seconds = call_duration(record.text)
        call_extra = dict(record.extra)
        if seconds is not None:
            call_extra["duration_s"] = seconds
        return Event(ctx.key, ts, record.text, EV_CALL, record.sender, record.source_id, number, call_extra)
    if app_type in (APP_RED_PACKET, APP_RED_PACKET_COVER):
        return Event(
            ctx.key,
            ts,
            record.text,
            EV_SYSTEM,
            record.sender,
            record.source_id,
            number,
            {**record.extra, "red_packet": True},
        )
    text, kind, more = record.text, record.kind, dict(record.extra)
    attachments = record.attachments
    if app_type == APP_FORWARD:
        lines, kept = chat_records(item.get("chatRecords"))
        more["forward"] = True
        if kept:
            more["records"] = kept
            title = next((t for t in text.split("\n") if t), "")
            text = forward_text(title, lines)
        kind = TEXT
    if kind in _MEDIA_KINDS:
        shown_content = str(item.get("content") or "").strip()
        if shown_content and not shown_content.startswith("[") and "\n" not in shown_content:
            found = safe_media(ctx.finder, shown_content, kind)
            if attachments and kind == FILE:
                first = attachments[0]
                attachments = (type(first)(first.name, first.kind, found.mime, first.size, found.open),)
            else:
                attachments = (found,)
    return Message(
        chat=record.chat,
        ts=record.ts,
        sender=record.sender,
        text=text,
        kind=kind,
        source_id=record.source_id,
        sender_id=record.sender_id,
        from_me=record.from_me,
        reply_to=record.reply_to or server_id(item.get("replyToMessageId")),
        attachments=attachments,
        line=number,
        extra=more,
    )


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    session = read_session(path)
    chat = session_chat(session, path)
    yield chat
    owner = str(session.get("ownerId") or "").strip() or None
    names = Names({}, owner, None)
    ctx = ToolContext(path, chat.key, chat.kind, MediaFinder(path.parent), owner_id=owner)
    for number, item in iter_json_items(path, "messages.item"):
        if not isinstance(item, dict):
            yield Problem(str(path), number, "message is not an object")
            continue
        record = _xml_record(item, number, ctx, names)
        if record is None:  # no XML kept: read it as WeFlow's layout
            record = tool_record(item, number, ctx, _source_id(item))
        yield record
