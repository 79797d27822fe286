"""The ChatLab format (v0.0.1 and v0.0.2), JSON and JSONL: the exchange format of ChatLab and its peers.

How a person gets it: ChatLab (chatlab.fun, ChatLab/ChatLab) exports a session as "ChatLab JSON";
WeFlow, CipherTalk and ChatLab's converter skills write it for WeChat, QQ and other apps; `clb
validate FILE` checks one. A file holds one conversation: `chatlab {version, exportedAt,
generator}`, `meta {name, platform, type, groupId, ownerId}`, `members [{platformId, accountName,
groupNickname, aliases, avatar, roles}]`, `messages [{sender, accountName, groupNickname,
timestamp (s), type, content, platformMessageId, replyToMessageId}]`. The JSONL form has one
object a line, told apart by `_type: header | member | message` (header first; `#` lines are
comments). Spec: ChatLab/ChatLab:docs/en/standard/chatlab-format.md; the codes: spec.py.

Read: every message and its type (system, poke and call entries become events; recalls become
deleted messages), replies, the owner (`meta.ownerId`) as from_me, member names. The chat belongs
to the app `meta.platform` names (spec.PLATFORM_SOURCES: `weixin` → wechat, `qq` → qq, ...), with
the key that app's importer uses (the group id or the peer's id) and `platformMessageId` as the
message id, so a ChatLab file of WeChat data dedups against other WeChat imports that carry
server ids. Avatars (data URLs) are not kept; media files are not part of the format, so media
messages name their kind only. Timestamps are Unix seconds (instants). Streamed: ijson for JSON,
line by line for JSONL.
"""

from __future__ import annotations

from importers.base import Format
from importers.chatlab.files import detect_json, detect_jsonl, parse_json, parse_jsonl

FORMATS = [
    Format(
        name="chatlab-json",
        source="chatlab",
        description="ChatLab format JSON (v0.0.1/0.0.2), from ChatLab, WeFlow, CipherTalk and converters; any platform",
        detection='a .json object that opens with "chatlab": {"version": ...}',
        detect=detect_json,
        parse=parse_json,
        parse_ahead=True,
    ),
    Format(
        name="chatlab-jsonl",
        source="chatlab",
        description="ChatLab format JSONL (one object a line, _type header/member/message); any platform",
        detection='the first data line is {"_type": "header", "chatlab": {...}}',
        detect=detect_jsonl,
        parse=parse_jsonl,
        parse_ahead=True,
    ),
]
