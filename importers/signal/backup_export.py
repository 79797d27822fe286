"""signal-export (carderne/signal-export, `sigexport`): chat.md and data.json per conversation.

How a person gets it: install signal-export (`pip install signal-export`), quit Signal Desktop,
run `sigexport ~/signal-chats`. It writes one folder per conversation (the folder name is the
chat's name with everything but letters and digits removed) holding `chat.md`, `data.json`,
`index.html` and `media/`. Import the whole output folder, one chat folder, or one file.

* `data.json`: one JSON object per line (`Message.dict_str()`): `date` (ISO, the exporting
  computer's local time, no zone), `sender` (`Me` for your own messages), `body` (ending in two
  spaces), `quote`, `sticker`, `reactions` ([name, emoji] pairs), `attachments` ([{name, path}]),
  `deleted`. Preferred when present.
* `chat.md`: `[YYYY-MM-DD HH:MM:SS] Sender: body` records separated by blank lines, with
  `(- Name: 😀 -)` reactions, `![name](./media/file)` attachments and `> ` quotes; the older
  style is `[YYYY-MM-DD, HH:MM] Sender: text` (as in joweich/chat-miner's sample).

Times are naive wall-clock times (the vault applies --tz). There are no message ids, and the
text has lost its back-quotes (signal-export removes them).
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from importers.base import ParseOptions, file_opener, head_text, loads_json, open_export, text_lines
from importers.signal.convert import kind_of_mime, text_of
from importers.signal.files import resolve_inside
from vault.errors import ExportError
from vault.records import (
    DELETED,
    EV_CALL,
    STICKER,
    TEXT,
    UNKNOWN,
    Attachment,
    Chat,
    Event,
    Message,
    MessageKind,
    Problem,
    Reaction,
    Record,
    title_key,
)

MD_NAME = "chat.md"
JSON_NAME = "data.json"
STICKER_DIR = "exported_stickers"
# `[2021-01-01 12:00:00] Name: ` (current) or `[2021-01-01, 12:00] Name: ` (older).
HEADER = re.compile(r"\[(\d{4}-\d{2}-\d{2})(,?) (\d{2}:\d{2}(?::\d{2})?)\] (.+?): ?(.*)")
NEW_STYLE = re.compile(r"\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\] [^\n]+?: ")
OLD_STYLE = re.compile(r"\[\d{4}-\d{2}-\d{2}, \d{2}:\d{2}\] [^\n]+?: ")
DELETED_TEXT = "(This message was deleted)"
OWN_SENDER = "Me"  # signal-export's name for the exporting person
MD_BREAK = "  "  # signal-export ends every body with two spaces (a Markdown line break)
REACTIONS_LINE = re.compile(r"\(- (.*) -\)")
STICKER_LINE = re.compile(r"\(\( (.*) \)\)")
ATTACHMENT_TAIL = re.compile(r"!?\[([^\]\n]*)\]\(((?:\./)?media/[^)\s]*|\.\./" + STICKER_DIR + r"/[^)\s]*)\)  $")
# signal-export's own wording for calls (create.py `_format_call`).
CALL_TEXT = re.compile(r"(?:Incoming|Outgoing) (?:voice |video )?call(?: \([^\n]*\))?|Missed (?:voice |video )?call")
DETECT_FOLDERS = 50


# --- detection ---------------------------------------------------------------------------------
def _is_jsonl(path: Path) -> bool:
    first = head_text(path).split("\n", 1)[0].strip()
    try:
        obj = loads_json(first)
    except ValueError:
        return False
    return (
        isinstance(obj, dict)
        and {"date", "sender", "body"} <= obj.keys()
        and ("attachments" in obj or "reactions" in obj or "quote" in obj)
    )


def _is_markdown(path: Path) -> bool:
    lines = [ln for ln in head_text(path).split("\n")[:200]]
    firsts = [i for i, ln in enumerate(lines) if ln.strip()]
    if not firsts:
        return False
    first = lines[firsts[0]]
    if OLD_STYLE.match(first):
        return True
    if not NEW_STYLE.match(first):
        return False
    if path.name == MD_NAME:
        return True
    # Elsewhere, also ask for signal-export's trailing Markdown break in the first record.
    for ln in lines[firsts[0] : firsts[0] + 50]:
        if ln.endswith(MD_BREAK) or REACTIONS_LINE.fullmatch(ln):
            return True
        if ln is not first and HEADER.fullmatch(ln):
            break
    return False


def _file_is_export(path: Path) -> bool:
    if path.name == JSON_NAME:
        return _is_jsonl(path)
    if path.suffix.lower() in (".md", ".txt"):
        return _is_markdown(path)
    return False


def _chat_file(folder: Path) -> Path | None:
    """The file to read in a chat folder: data.json when usable, else chat.md."""
    for name in (JSON_NAME, MD_NAME):
        candidate = folder / name
        if candidate.is_file() and _file_is_export(candidate):
            return candidate
    return None


def _chat_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and _chat_file(p) is not None)


def detect_signal_export(path: Path) -> bool:
    try:
        if path.is_file():
            return _file_is_export(path)
        if path.is_dir():
            if _chat_file(path) is not None:
                return True
            subdirs = sorted(p for p in path.iterdir() if p.is_dir())[:DETECT_FOLDERS]
            return any(_chat_file(p) is not None for p in subdirs)
    except Exception:
        return False
    return False


# --- parsing -----------------------------------------------------------------------------------
def parse_signal_export(path: Path, options: ParseOptions) -> Iterator[Record]:
    try:
        if path.is_dir():
            single = _chat_file(path)
            if single is not None:
                yield from _parse_file(single, path.name)
                return
            folders = _chat_folders(path)
            if not folders:
                raise ExportError("no signal-export chat folders (with chat.md or data.json) here",
                                  path=str(path))  # fmt: skip
            for folder in folders:
                file = _chat_file(folder)
                if file is not None:
                    yield from _parse_file(file, folder.name)
            return
    except OSError as exc:
        raise ExportError("the folder cannot be read", path=str(path)) from exc
    title = path.parent.name if path.name in (MD_NAME, JSON_NAME) else path.stem
    yield from _parse_file(path, title)


def _parse_file(path: Path, title: str) -> Iterator[Record]:
    key = title_key(title)
    yield Chat(source="signal", key=key, title=title, kind=UNKNOWN)
    with open_export(path) as fh:
        lines = text_lines(fh, path=str(path))
        if path.name == JSON_NAME or path.suffix.lower() == ".json":
            yield from _parse_jsonl(lines, path, key)
        else:
            yield from _parse_markdown(lines, path, key)


def _attachment(chat_dir: Path, name: str, rel: str) -> Attachment:
    rel = unquote(rel)
    if rel.startswith("./"):
        rel = rel[2:]
    sticker = rel.startswith(f"../{STICKER_DIR}/")
    if sticker:
        found = resolve_inside(chat_dir.parent / STICKER_DIR, rel[len(STICKER_DIR) + 4 :])
        name = Path(rel).name
    else:
        found = resolve_inside(chat_dir, rel)
    mime = mimetypes.guess_type(name or rel)[0]
    size = None
    if found is not None:
        try:
            size = found.stat().st_size
        except OSError:
            found = None
    return Attachment(
        name=name or Path(rel).name or "attachment",
        kind=STICKER if sticker else kind_of_mime(mime),
        mime=mime,
        size=size,
        open=file_opener(found) if found is not None else None,
    )


def _strip_break(text: str) -> str:
    return text[: -len(MD_BREAK)] if text.endswith(MD_BREAK) else text


def _quote_text(quote: str) -> str:
    lines = [ln for ln in quote.strip("\n").split("\n")]
    return "\n".join(ln[2:] if ln.startswith("> ") else ln.lstrip(">") for ln in lines)


def _record(
    chat: str,
    ts: datetime,
    sender: str,
    text: str,
    line: int,
    *,
    deleted: bool = False,
    sticker: str = "",
    quote: str = "",
    reactions: tuple[Reaction, ...] = (),
    attachments: tuple[Attachment, ...] = (),
    call: bool = False,
) -> Message | Event:
    from_me = sender == OWN_SENDER
    if call or (not attachments and CALL_TEXT.fullmatch(text)):
        return Event(chat, ts, text or "Call", EV_CALL, actor=sender, line=line)
    kind: MessageKind = TEXT
    if deleted:
        kind, text, attachments = DELETED, "", ()
    elif sticker:
        kind, text = STICKER, text or sticker
    elif attachments:
        kind = attachments[0].kind
    extra: dict[str, Any] = {"quote": {"text": quote}} if quote else {}
    return Message(
        chat=chat,
        ts=ts,
        sender=sender,
        text=text,
        kind=kind,
        from_me=from_me,
        attachments=attachments,
        reactions=reactions,
        line=line,
        extra=extra,
    )


def _parse_jsonl(lines: Iterator[tuple[int, str]], path: Path, chat: str) -> Iterator[Record]:
    where = str(path)
    for lineno, line in lines:
        if not line.strip():
            continue
        try:
            obj = loads_json(line, where, line=lineno)
            if not isinstance(obj, dict):
                raise TypeError
            ts = datetime.fromisoformat(str(obj["date"]))
            sender = text_of(obj.get("sender"))
            body = text_of(obj.get("body"))
        except (ValueError, TypeError, KeyError):
            yield Problem(where, lineno, "not a signal-export message record; skipped")
            continue
        reactions = tuple(
            Reaction(str(r[1]), str(r[0]))
            for r in obj.get("reactions") or []
            if isinstance(r, list) and len(r) == 2 and r[1]
        )
        attachments = tuple(
            _attachment(path.parent, str(a.get("name") or ""), str(a.get("path") or ""))
            for a in obj.get("attachments") or []
            if isinstance(a, dict)
        )
        sticker = obj.get("sticker")
        if isinstance(sticker, dict):
            sticker = sticker.get("emoji") or "sticker"
        quote = text_of(obj.get("quote"))
        yield _record(
            chat,
            ts,
            sender or "No-Sender",
            _strip_break(body),
            lineno,
            deleted=bool(obj.get("deleted")),
            sticker=sticker if isinstance(sticker, str) else "",
            quote=_quote_text(quote) if quote else "",
            reactions=reactions,
            attachments=attachments,
            call=bool(obj.get("call")),
        )


def _parse_markdown(lines: Iterator[tuple[int, str]], path: Path, chat: str) -> Iterator[Record]:
    where = str(path)
    current: tuple[int, datetime, str, list[str]] | None = None
    for lineno, line in lines:
        m = HEADER.fullmatch(line)
        ts = _md_time(m) if m else None
        if m and ts is not None:
            if current is not None:
                yield _md_record(current, path, chat)
            current = (lineno, ts, m.group(4), [m.group(5)])
        elif current is not None:
            current[3].append(line)
        elif line.strip():
            yield Problem(where, lineno, "text before the first message; skipped")
    if current is not None:
        yield _md_record(current, path, chat)


def _md_time(m: re.Match[str]) -> datetime | None:
    time = m.group(3) if len(m.group(3)) == 8 else m.group(3) + ":00"
    try:
        return datetime.fromisoformat(f"{m.group(1)}T{time}")
    except ValueError:
        return None


def _md_record(current: tuple[int, datetime, str, list[str]], path: Path, chat: str) -> Record:
    lineno, ts, sender, body = current
    while len(body) > 1 and body[-1] == "":
        body.pop()  # the blank line print() adds after each record
    if body == [DELETED_TEXT]:
        return _record(chat, ts, sender, "", lineno, deleted=True)
    reactions: tuple[Reaction, ...] = ()
    sticker = ""
    if len(body) > 1 and REACTIONS_LINE.fullmatch(body[-1]):
        pairs = REACTIONS_LINE.fullmatch(body.pop())
        assert pairs is not None
        reactions = tuple(_md_reactions(pairs.group(1)))
    if len(body) > 1 and STICKER_LINE.fullmatch(body[-1]):
        found = STICKER_LINE.fullmatch(body.pop())
        assert found is not None
        sticker = found.group(1)
    text = "\n".join(body)
    attachments: list[Attachment] = []
    while (att := ATTACHMENT_TAIL.search(text)) is not None:
        made = _attachment(path.parent, att.group(1), att.group(2))
        if made.kind == STICKER:
            sticker = att.group(1)
        attachments.insert(0, made)
        text = text[: att.start()]
    text = _strip_break(text)
    quote = ""
    parts = text.split("\n")
    if len(parts) > 2 and parts[0] == "" and parts[1] == "" and parts[2].startswith(">"):
        i = 2
        while i < len(parts) and parts[i].startswith(">"):
            i += 1
        quote = _quote_text("\n".join(parts[2:i]))
        if i < len(parts) and parts[i] == "":
            i += 1
        text = "\n".join(parts[i:])
    return _record(
        chat,
        ts,
        sender,
        text,
        lineno,
        sticker=sticker,
        quote=quote,
        reactions=reactions,
        attachments=tuple(attachments),
    )


def _md_reactions(pairs: str) -> Iterator[Reaction]:
    for pair in pairs.split(", "):
        name, sep, emoji = pair.rpartition(": ")
        if sep and emoji:
            yield Reaction(emoji, name)
