"""QQ: the JSON and chunked JSONL of QQ Chat Exporter (QQNT), and the old message manager's TXT.

How a person gets them:

- **QQ Chat Exporter** (shuakami/qq-chat-exporter, "QCE", the exporter for QQNT on Windows,
  macOS and Linux; it runs beside QQ through NapCat): open its web page, pick a chat, choose the
  JSON format and either a single file (`<name>.json`) or "chunked JSONL" (a folder
  `<name>_chunked_jsonl/` with `manifest.json` and `chunks/c000001.jsonl` ...). With "download
  resources" ticked, images, videos, voice and files are copied to `resources/` beside it.
  Read: V4/V5 (TypeScript) and V6+ (Rust core) message objects (qce.py).
- **The TXT of QQ's old message manager** (QQ 2009–QQ 9 on Windows: 消息管理器 → right-click a
  contact, group or 消息分组 → 导出消息记录 → 文本文件 *.txt): one file may hold many chats (txt.py).

Identity: QCE message ids (`msgId`) are the message ids; QQ numbers (uin) are the sender ids
(the NTQQ uid when the number is missing). A group's chat key is `group:<group code>`, a private
chat's `private:<QQ number>`; exports that name no peer (older QCE, every TXT) are keyed by the
chat's title. ChatLab files of QQ data (importers/chatlab) use the same keys.
"""

from __future__ import annotations

from importers.base import Format
from importers.qq import qce_files, txt
from importers.qq.qce import SOURCE

FORMATS = [
    Format(
        name="qq-chunked",
        source=SOURCE,
        description="QQ Chat Exporter chunked JSONL (manifest.json + chunks/*.jsonl), with resources/",
        detection="a folder (or its manifest.json) whose manifest names QQChatExporter and has a chunked section",
        detect=qce_files.detect_chunked,
        parse=qce_files.parse_chunked,
        parse_ahead=True,
    ),
    Format(
        name="qq-json",
        source=SOURCE,
        description="QQ Chat Exporter JSON (one chat: metadata, chatInfo, statistics, messages), with resources/",
        detection='a .json object whose "metadata" names QQChatExporter, with "chatInfo"',
        detect=qce_files.detect_json,
        parse=qce_files.parse_json,
        parse_ahead=True,
    ),
    Format(
        name="qq-txt",
        source=SOURCE,
        description="QQ message manager TXT export (消息记录): many chats a file; UTF-8, UTF-16 or GB18030",
        detection="a .txt whose first line is 消息记录（此消息记录为文本格式…",
        detect=txt.detect,
        parse=txt.parse,
        naive_times=True,
        parse_ahead=True,
    ),
]
