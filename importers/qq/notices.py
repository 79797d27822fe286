"""QQ's own words: notice kinds (joins, leaves, renames, recalls, calls) and the media placeholders.

QQ prints notices as gray tips in Chinese; the wording below is what QQ and the exporters write
(shuakami/qq-chat-exporter:qq-chat-export-server/src/parser/simple_parser.rs gray tips, e.g.
"你加入了群聊", "X 撤回了一条消息", "A 拍了拍 B"; ChatLab/ChatLab:packages/parser/src/browser/qq.ts
for the TXT export's placeholders and notices).
"""

from __future__ import annotations

import re

from vault.records import (
    AUDIO,
    EV_CALL,
    EV_JOIN,
    EV_LEAVE,
    EV_SYSTEM,
    EV_TITLE,
    FILE,
    IMAGE,
    STICKER,
    VIDEO,
    EventKind,
    MessageKind,
)

# Notice wording → event kind (the first match wins).
NOTICE_KINDS: tuple[tuple[EventKind, tuple[str, ...]], ...] = (
    (EV_JOIN, ("加入了群聊", "加入本群", "加入群聊", "入群")),
    (EV_LEAVE, ("退出了群聊", "退出群聊", "被移出群聊", "移出了群聊", "移出本群", "离开了群")),
    (EV_TITLE, ("修改了群名称", "修改群名称", "群名称修改为", "更改了群名称", "修改群名为")),
    (EV_CALL, ("语音通话", "视频通话", "通话时长", "发起了通话")),
)
# "X 撤回了一条消息" (also "撤回了一条成员消息", with the reason in brackets after it).
RECALL_RE = re.compile(r"^.{0,80}?撤回了(一条|\S{0,20}的)(成员)?消息")
# A call's duration as QQ writes it: "通话时长 00:32" or "01:02:03".
DURATION_RE = re.compile(r"(?<!\d)(?:(\d{1,2}):)?(\d{1,2}):(\d{2})(?!\d)")

# The TXT export's stand-ins for what it cannot hold.
PLACEHOLDERS: dict[str, MessageKind] = {
    "[图片]": IMAGE,
    "[表情]": STICKER,
    "[语音]": AUDIO,
    "[视频]": VIDEO,
    "[文件]": FILE,
}
_PLACEHOLDER_RUN_RE = re.compile("(?:" + "|".join(re.escape(p) for p in PLACEHOLDERS) + r"|\s)+")


def notice_kind(text: str) -> EventKind:
    for kind, words in NOTICE_KINDS:
        if any(w in text for w in words):
            return kind
    return EV_SYSTEM


def is_recall_notice(text: str) -> bool:
    return bool(RECALL_RE.match(text.strip()))


def duration_seconds(text: str) -> int | None:
    """The seconds of the last "[h:]mm:ss" in a call notice, if any."""
    found = DURATION_RE.findall(text)
    if not found:
        return None
    h, m, s = found[-1]
    return int(h or 0) * 3600 + int(m) * 60 + int(s)


def placeholder_kind(text: str) -> MessageKind | None:
    """The kind of a body made only of placeholders ("[图片]", "[图片][图片]"), else None."""
    stripped = text.strip()
    if not stripped or not _PLACEHOLDER_RUN_RE.fullmatch(stripped):
        return None
    for placeholder, kind in PLACEHOLDERS.items():
        if placeholder in stripped:
            return kind
    return None
