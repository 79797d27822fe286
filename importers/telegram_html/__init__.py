"""Telegram Desktop HTML export: one chat ("Export chat history") or the whole account.

How a person gets it: Telegram Desktop → a chat's ⋮ menu → Export chat history, or Settings →
Advanced → Export Telegram data, with the format "Human-readable HTML" (Desktop's default). One
chat is a folder with `messages.html`, `messages2.html`, ... (1000 messages a page), `css/`, `js/`,
`images/` and the media folders; the whole account adds `export_results.html`, `lists/chats.html`
and a `chats/chat_NNN/` folder per chat.

Read: every page of every chat in order; messages with their sender (carried over to `joined`
follow-ups), exact time (the `title` of `.date.details`: with its UTC offset since tdesktop 4.x,
wall-clock time before), replies, forwards, media files beside the pages (photo, video, voice,
round video, sticker, file; "not included" ones without bytes), text with links and formatting
flattened (line breaks kept), signatures, reactions; service entries and calls as events.
Not in the HTML, so not read: edit times, sender ids, the chat's Telegram id (see `chat_id`
below), and exact times of service entries (they get their neighbour's).

The keys agree with importers/telegram.py: message `source_id`s are Telegram's ids, calls and
service entries are Events. The chat is keyed by its title (the HTML holds no chat id), unless
`--param chat_id=ID` gives the id (the `id` of the same chat's result.json), or a single-chat
result.json lies beside the pages ("HTML and JSON" exports); then an HTML and a JSON export of
the chat are one chat in the vault. `--param zone=Area/City` names the zone the export was made
in, so that daylight-saving times are read right (see convert.parse_time).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from importers.base import Format, ParseOptions, head_text
from importers.telegram_html import layout
from importers.telegram_html.convert import ChatState, convert, flush
from importers.telegram_html.page import Header, PageError, PageParser, read_page
from vault.errors import ExportError
from vault.records import CHANNEL, DIRECT, GROUP, UNKNOWN, Chat, ChatKind, Note, Problem, Record, title_key

SOURCE = "telegram"  # the same source as the JSON importer: one app, one namespace
_LIST_KINDS: dict[str, ChatKind] = {
    "private": DIRECT,
    "bot": DIRECT,
    "group": GROUP,
    "channel": CHANNEL,
    "unknown": UNKNOWN,
}
_GROUP_SERVICE = (" created group «", " invited ", " joined group by ", " changed group title to «")
_CHANNEL_SERVICE = ("Channel «", "Channel title changed", "Channel photo")


def detect(path: Path) -> bool:
    if path.is_file():
        if path.name == "export_results.html":
            return layout.is_account_root(path.parent)
        return layout.is_chat_page(path)
    if path.is_dir():
        return layout.is_account_root(path) or layout.is_chat_folder(path)
    return False


def parse(path: Path, options: ParseOptions) -> Iterator[Record]:
    zone = _zone(options)
    if zone is not None:
        yield Note(f"times read in {zone.key}, the zone the person named (--param zone)")
    root = path.parent if path.is_file() else path
    if layout.is_account_root(root):
        yield from _account(root, zone, options)
        return
    chat_id = options.params.get("chat_id")
    if chat_id is not None and not chat_id.lstrip("-").isdigit():
        raise ExportError("--param chat_id must be the chat's number from result.json", path=str(path))
    yield from _chat(root, root, None, zone, chat_id, single=True)


def _zone(options: ParseOptions) -> ZoneInfo | None:
    name = options.params.get("zone")
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ExportError(f"--param zone={name!r} is not a known time zone (say, Europe/Berlin)") from None


def _account(root: Path, zone: ZoneInfo | None, options: ParseOptions) -> Iterator[Record]:
    try:
        listed = layout.read_chat_list(root)
    except OSError as exc:
        raise ExportError(f"cannot be read ({exc.strerror})", path=str(root / "lists" / "chats.html")) from None
    if options.params.get("chat_id"):
        yield Note("--param chat_id applies to a single-chat export; chats were keyed by their titles")
    folders = [f for f in layout.chat_folders(root) if layout.pages(f)]
    if not folders:
        raise ExportError("holds no chats (no chats/chat_NNN/messages.html); export them again", path=str(root))
    titles = Counter(_title(layout.pages(f)[0]) or "" for f in folders)
    for folder in folders:
        info = listed.get(folder.name)
        kind = _LIST_KINDS.get(info.type, UNKNOWN) if info is not None and info.type else None
        title = _title(layout.pages(folder)[0]) or (info.name if info else "")
        # Two chats of one export with one title (two "Deleted Account"s) must stay two.
        suffix = folder.name if titles[title] > 1 else None
        yield from _chat(folder, root, kind, zone, None, single=False, key_suffix=suffix)


def _title(page: Path) -> str | None:
    """The chat's name in the page header (`.page_header .text`); only the head is read."""
    parser = PageParser()
    try:
        parser.feed(head_text(page, layout.SNIFF))
    except AssertionError:
        return None  # reported when the page is read for real
    title = parser.header.title
    return " ".join(title.split()) if title else None


def _guess_kind(page: Path, title: str) -> tuple[ChatKind, set[str]]:
    """A single chat's kind from its first page: who writes and which service entries appear."""
    senders: set[str] = set()
    service = False
    channel = False
    try:
        for item in read_page(page):
            if item.service and item.mid > 0:
                text = item.text or ""
                service = service or any(s in text for s in _GROUP_SERVICE)
                channel = channel or text.startswith(_CHANNEL_SERVICE)
            elif not item.service and item.sender:
                senders.add(item.sender)
    except (OSError, UnicodeDecodeError, PageError):
        return UNKNOWN, senders  # reported when the page is read for real
    if channel or (senders and senders == {title}):
        return CHANNEL, senders
    if service or len(senders) > 2:
        return GROUP, senders
    if len(senders) == 2 and title in senders:
        return DIRECT, senders
    return UNKNOWN, senders


def _chat(
    folder: Path,
    root: Path,
    kind: ChatKind | None,
    zone: ZoneInfo | None,
    chat_id: str | None,
    *,
    single: bool,
    key_suffix: str | None = None,
) -> Iterator[Record]:
    pages = layout.pages(folder)
    if not pages:
        raise ExportError("holds no messages.html; export the chat again as HTML", path=str(folder))
    title = _title(pages[0])
    if not title:
        yield Problem(str(pages[0]), None, "the page names no chat; it was given the folder's name")
        title = f"Telegram chat {folder.name}"
    if kind is None:
        kind, _ = _guess_kind(pages[0], title)
    key = title_key(title)
    if chat_id is not None:
        key = str(int(chat_id))
    elif single:
        beside = layout.sibling_json_id(folder)
        if beside is not None and (beside[0] is None or title == beside[0] or title.startswith(beside[0] + " ")):
            key = beside[1]
    if key_suffix and key.startswith("title:"):
        key = f"{key}#{key_suffix}"
    yield Chat(source=SOURCE, key=key, title=title, kind=kind, extra={"export": "html", "folder": folder.name})
    st = ChatState()
    naive = False
    for page in pages:
        header = Header()
        try:
            for item in read_page(page, header):
                for rec in convert(item, key, st, page.parent, root, zone, str(page)):
                    if not naive and getattr(rec, "ts", None) is not None and rec.ts.tzinfo is None:  # type: ignore[union-attr]
                        naive = True
                        yield Note(
                            "these pages give times without their UTC offset (Telegram Desktop before 4.x): "
                            "they were read as wall-clock times in the import's --tz"
                        )
                    yield rec
        except OSError as exc:
            raise ExportError(f"cannot be read ({exc.strerror})", path=str(page)) from None
        except UnicodeDecodeError:
            raise ExportError(
                "is not UTF-8 HTML; export the chat again from Telegram Desktop", path=str(page)
            ) from None
        except PageError:
            raise ExportError(
                "holds markup Telegram Desktop never writes (damaged?); export the chat again", path=str(page)
            ) from None
        if header.unfinished is not None:
            yield Problem(str(page), header.unfinished, "the page ends inside this message (cut short?); skipped")
    yield from flush(key, st, None)


FORMATS = [
    Format(
        name="telegram-html",
        source=SOURCE,
        description="Telegram Desktop HTML export (messages.html, ...): one chat or the whole account",
        detection="messages*.html, its folder, or export_results.html with chats/, with Telegram's export page markers",
        detect=detect,
        parse=parse,
        parse_ahead=True,  # the HTML parser is the slow half of an import: let it run beside the writer
    )
]
