"""WeChat: the databases people copied off their devices, and the exports of tools that read them.

WeChat has no export of its own and keeps every message on its servers. People get their history
(formats/wechat.md; docs/importers/wechat.md for the steps):

- from the desktop client's databases: Windows 3.x `Msg/MicroMsg.db` + `Msg/Multi/MSGn.db`,
  Windows/macOS 4.x `db_storage/message/message_N.db` + `contact/contact.db`, macOS 3.x
  `Message/msg_N.db`; either decrypted by a tool or still encrypted, with the key the person
  supplies (`--wechat-key`, 64 hex characters);
- from Android's `EnMicroMsg.db` (rooted phone), with its 7-character key or the phone's IMEI and
  uin (`--wechat-imei`, `--wechat-uin`; parameters `wechat_imei`, `wechat_uin`);
- from the files the tools wrote: PyWxDump CSV (both layouts) and JSON, MemoTrace (留痕) 1.x CSV,
  TXT and HTML and 2.x CSV and TXT, WechatExporter (iPhone backups) TXT and HTML, and the 2026
  exporters of WeChat 4.x: WeFlow and EchoTrace JSON, CipherTalk detailed JSON, chatlog JSON/CSV.

Every format is recognised by its content (file names, headers, column names, template markers,
database tables). Database times are UTC instants; the tools' exports print local time without a
zone, so their formats say `naive_times` and the vault applies `--tz` (MemoTrace 1.x CSV and HTML
carry Unix times and are exact).

Layout: `databases/` reads WeChat's own databases (`opening` finds and opens them; `win3`, `v4`,
`mac3`, `android`, one per generation); `tools/` reads what export tools wrote (`pywxdump`,
`memotrace`, `wechatexporter`, `weflow` (also EchoTrace), `ciphertalk`, `chatlog`, with `shared`
helpers); `common` holds type codes, content interpretation and names; `chat_tables` turns the rows
of the per-chat tables (macOS 3.x, 4.x, and the iPhone's, read by importers/iphone_backup/wechat.py)
into records; `media` finds media beside an export (`.dat` images).
"""

from __future__ import annotations

from importers.base import Format
from importers.wechat import databases as wechat_databases
from importers.wechat.tools import chatlog as wechat_chatlog
from importers.wechat.tools import ciphertalk as wechat_ciphertalk
from importers.wechat.tools import memotrace as wechat_memotrace
from importers.wechat.tools import pywxdump as wechat_pywxdump
from importers.wechat.tools import wechatexporter as wechat_ios
from importers.wechat.tools import weflow as wechat_weflow
from importers.wechat.tools.shared import guarded

FORMATS: list[Format] = [
    Format(
        name="wechat-db",
        source="wechat",
        description=(
            "WeChat databases, decrypted or encrypted with a supplied key: Windows 3.x "
            "(MSGn.db + MicroMsg.db), Windows/macOS 4.x (message_N.db + contact.db), macOS 3.x "
            "(msg_N.db), Android (EnMicroMsg.db)"
        ),
        detection=(
            "a folder holding them, a decrypted database by its tables, or an encrypted one by "
            "its file name and page-sized length"
        ),
        detect=wechat_databases.detect,
        parse=guarded(wechat_databases.parse),
    ),
    Format(
        name="wechat-pywxdump-csv",
        source="wechat",
        description="PyWxDump CSV export of one chat (current and legacy layout)",
        detection=(
            "header id,MsgSvrID,type_name,is_sender,talker,room_name,msg,src,CreateTime "
            "(legacy: content instead of msg,src)"
        ),
        detect=wechat_pywxdump.detect_csv,
        parse=guarded(wechat_pywxdump.parse_csv),
        naive_times=True,
    ),
    Format(
        name="wechat-pywxdump-json",
        source="wechat",
        description="PyWxDump JSON export of one chat",
        detection="a JSON list whose objects carry MsgSvrID, type_name and room_name",
        detect=wechat_pywxdump.detect_json,
        parse=guarded(wechat_pywxdump.parse_json),
        naive_times=True,
    ),
    Format(
        name="wechat-memotrace-csv",
        source="wechat",
        description="MemoTrace (留痕) 1.x CSV export of one chat (<name>_utf8.csv)",
        detection="header localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,…",
        detect=wechat_memotrace.detect_csv1,
        parse=guarded(wechat_memotrace.parse_csv1),
    ),
    Format(
        name="wechat-memotrace2-csv",
        source="wechat",
        description="MemoTrace (留痕) 2.x CSV export of one chat",
        detection="header 消息ID,类型,发送人,时间,内容,备注,昵称,更多信息",
        detect=wechat_memotrace.detect_csv2,
        parse=guarded(wechat_memotrace.parse_csv2),
        naive_times=True,
    ),
    Format(
        name="wechat-memotrace-html",
        source="wechat",
        description="MemoTrace (留痕) 1.x HTML export of one chat",
        detection="the page template's chatMessages array and its title/container markers",
        detect=wechat_memotrace.detect_html,
        parse=guarded(wechat_memotrace.parse_html),
    ),
    Format(
        name="wechat-exporter-txt",
        source="wechat",
        description="WechatExporter (iPhone backups) TXT export of one chat",
        detection="first line '<chat> - 微信聊天记录', then 'name (YYYY-MM-DD HH:MM:SS):' entries",
        detect=wechat_ios.detect_txt,
        parse=guarded(wechat_ios.parse_txt),
        naive_times=True,
    ),
    Format(
        name="wechat-exporter-html",
        source="wechat",
        description="WechatExporter (iPhone backups) HTML export of one chat",
        detection="page title '<chat> - 微信聊天记录' and the message template's nt-box markup",
        detect=wechat_ios.detect_html,
        parse=guarded(wechat_ios.parse_html),
        naive_times=True,
    ),
    Format(
        name="wechat-memotrace-txt",
        source="wechat",
        description="MemoTrace (留痕) 1.x/2.x TXT export of one chat",
        detection="a .txt whose entries open with 'YYYY-MM-DD HH:MM:SS name' after blank lines",
        detect=wechat_memotrace.detect_txt,
        parse=guarded(wechat_memotrace.parse_txt),
        naive_times=True,
    ),
]

FORMATS += [
    Format(
        name="wechat-weflow-json",
        source="wechat",
        description="WeFlow JSON export of one chat (Windows WeChat 4.x)",
        detection='a JSON object opening with "weflow": {version, exportedAt} then "session"',
        detect=wechat_weflow.detect_weflow,
        parse=guarded(wechat_weflow.parse),
    ),
    Format(
        name="wechat-echotrace-json",
        source="wechat",
        description="EchoTrace JSON export of one chat (WeFlow's layout without its header)",
        detection='a JSON object opening with "session": {wxid, type: 群聊/私聊}, then only "messages"',
        detect=wechat_weflow.detect_echotrace,
        parse=guarded(wechat_weflow.parse),
    ),
    Format(
        name="wechat-ciphertalk-json",
        source="wechat",
        description='CipherTalk "detailed-json" export of one chat (Windows WeChat 4.x)',
        detection='a JSON object opening with "exportInfo": {generator: "CipherTalk", format: "detailed-json"}',
        detect=wechat_ciphertalk.detect,
        parse=guarded(wechat_ciphertalk.parse),
    ),
    Format(
        name="wechat-chatlog-json",
        source="wechat",
        description="chatlog (sjzar/chatlog) /api/v1/chatlog?format=json output",
        detection="a JSON list whose first object has seq, time, talker, isChatRoom, sender, isSelf, type",
        detect=wechat_chatlog.detect_json,
        parse=guarded(wechat_chatlog.parse_json),
    ),
    Format(
        name="wechat-chatlog-csv",
        source="wechat",
        description="chatlog (sjzar/chatlog) /api/v1/chatlog?format=csv output",
        detection="header Time,SenderName,Sender,TalkerName,Talker,Content (forks: MessageID first)",
        detect=wechat_chatlog.detect_csv,
        parse=guarded(wechat_chatlog.parse_csv),
        naive_times=True,
    ),
]
