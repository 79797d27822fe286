"""SMS Backup & Restore (SyncTech, Android): the `sms-*.xml` backup of texts and MMS, and `calls-*.xml`.

How a person gets it: install "SMS Backup & Restore" on the Android phone, choose Back up, tick
Messages (and Calls), and let it write to the phone (Internal storage/SMSBackupRestore/), Google
Drive, Dropbox or OneDrive; copy `sms-YYYYMMDDHHMMSS.xml` and `calls-YYYYMMDDHHMMSS.xml` to the
computer. Versions read: the XML the app has written since version 7 (2014) to 10.x (2024):
`<smses>` with `<sms>` and `<mms>` (parts with base64 media, addresses), `<calls>` with `<call>`.

The files reach gigabytes (MMS media is inline base64), so they are read by a streaming expat
parser (android_sms/xmlstream.py) that holds one element at a time and refuses DTDs and entity
declarations; an MMS part's media is decoded only when its element arrives, up to a cap
(android_sms/convert.py, MAX_PART_BYTES). Times are epoch milliseconds: aware UTC datetimes.
Chats are keyed by their participants' normalised numbers (android_sms/phones.py), so a person's
texts, MMS and calls meet in one chat, and a group MMS is the chat of its sorted participant set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from importers.android_sms.convert import (
    Chats,
    PendingMms,
    call_records,
    mms_records,
    sms_records,
)
from importers.android_sms.xmlstream import END, nodes
from importers.base import Format, ParseOptions, head_text, open_export
from vault.errors import ExportError
from vault.records import Problem, Record

MESSAGES_ROOT = "smses"
CALLS_ROOT = "calls"
# Comments, processing instructions (the app's `<?xml-stylesheet href="sms.xsl"?>`) and spaces
# before the root element.
_PROLOG = re.compile(r"\A(?:\s+|<\?.*?\?>|<!--.*?-->)*", re.S)
_ROOT = re.compile(r"<([A-Za-z_][\w.-]*)(\s[^<>]*?)?\s*(/?)>", re.S)
_COUNT = re.compile(r"\scount\s*=\s*[\"']\d+[\"']")


def _root(path: Path) -> tuple[str, str, str] | None:
    """(root name, the rest of the text after it, whether it is empty) from the file's first 64 KiB."""
    if not path.is_file():
        return None
    text = head_text(path)
    m = _PROLOG.match(text)
    rest = text[m.end() if m else 0 :]
    r = _ROOT.match(rest)
    if r is None:
        return None
    if not _COUNT.search(r.group(2) or ""):
        return None
    return r.group(1), rest[r.end() :], r.group(3)


def _detect(path: Path, root: str, children: tuple[str, ...]) -> bool:
    try:
        found = _root(path)
        if found is None or found[0] != root:
            return False
        _, after, empty = found
        if empty:
            return True
        after = after.lstrip()
        return after.startswith(f"</{root}>") or any(after.startswith(f"<{c} ") for c in children)
    except Exception:  # detect() never raises
        return False


def detect_messages(path: Path) -> bool:
    """`<smses count="N">` as the root, and an `<sms `/`<mms ` element (or none) right inside."""
    return _detect(path, MESSAGES_ROOT, ("sms", "mms"))


def detect_calls(path: Path) -> bool:
    """`<calls count="N">` as the root, and a `<call ` element (or none) right inside."""
    return _detect(path, CALLS_ROOT, ("call",))


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    """Records of a messages or calls backup (see the module docstring)."""
    label = str(path)
    if not path.is_file():
        raise ExportError("no such file; check the path", path=label)
    chats = Chats()
    depth = 0
    root: str | None = None
    mms: PendingMms | None = None
    with open_export(path) as raw:
        for node in nodes(raw, path=label):
            if node.event == END:
                depth -= 1
                if node.name == "mms" and mms is not None and depth == 1:
                    yield from mms_records(mms, label, chats)
                    mms = None
                continue
            depth += 1
            attrs, line = node.attrs, node.line
            if depth == 1:
                root = node.name
                if root not in (MESSAGES_ROOT, CALLS_ROOT):
                    raise ExportError(
                        "not an SMS Backup & Restore file (the root element is neither <smses> nor <calls>)",
                        path=label,
                        line=line,
                    )
                continue
            if depth == 2:
                if root == MESSAGES_ROOT and node.name == "sms":
                    yield from sms_records(attrs, line, label, chats)
                elif root == MESSAGES_ROOT and node.name == "mms":
                    mms = PendingMms(attrs=attrs, line=line)
                elif root == CALLS_ROOT and node.name == "call":
                    yield from call_records(attrs, line, label, chats)
                else:
                    yield Problem(label, line, f"an unknown element <{node.name[:40]}> was skipped")
            elif mms is not None and depth == 4:
                if node.name == "part":
                    mms.add_part(attrs, line, label)
                elif node.name == "addr":
                    mms.add_addr(attrs)
    if root is None:
        raise ExportError("the file is empty", path=label)


FORMATS: list[Format] = [
    Format(
        name="android-sms",
        source="sms",
        description="SMS Backup & Restore (Android) messages backup: sms-*.xml with SMS and MMS, media included",
        detection='an XML file whose root is <smses count="N"> holding <sms>/<mms> elements',
        detect=detect_messages,
        parse=parse,
        parse_ahead=True,
    ),
    Format(
        name="android-calls",
        source="sms",
        description="SMS Backup & Restore (Android) call log backup: calls-*.xml",
        detection='an XML file whose root is <calls count="N"> holding <call> elements',
        detect=detect_calls,
        parse=parse,
        parse_ahead=True,
    ),
]
