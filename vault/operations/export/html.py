"""`export --format html`: a self-contained, readable view of conversations that works offline.

Each chat becomes pages of at most `PAGE_SIZE` messages (so that a browser opens even a huge chat),
linked earlier/later: speech bubbles by sender, day separators, replies (linked to the message they
answer, on whichever page), reactions, forwarded and edited marks, images, video and audio inline
from the `attachments/` folder beside the page, and a search box that folds like the vault's own
search: each item carries its text folded at export time (vault/text/normalize.py's `fold`: NFKC,
traditional to simplified Chinese, case, diacritics), the page's script folds the query the same
way, with a table of the traditional forms of the Chinese characters the page holds; its hits show
their date.

The markup is jinja2 templates (`templates/`, package data) with autoescape on: every piece of
text from the vault is untrusted and escaped by the template engine. Pages are streamed: the
templates' `generate()` pulls the rows batch by batch, never a whole chat in memory. The page
carries a Content-Security-Policy that allows nothing but its own inline style and script (pinned
by their sha256) and images and media from beside the page: no network, no external fonts or
scripts, nothing injected could run. Layout: one chat is one file when it fits on one page and has
no attachment files, else a folder (`index.html`, `page-2.html`, ..., `attachments/`); `--all`
writes `index.html` (the list of chats) and a folder per chat id.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import mimetypes
from collections.abc import Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from vault.display import attachment_label, message_label, plural
from vault.operations.export.files import AttachmentFiles, Counts, Output
from vault.operations.export.read import AttachmentRow, ChatInfo, Quote, ReplyIndex, Row, batches, iso_ms, snippet, utc
from vault.text.normalize import fold

if TYPE_CHECKING:
    from vault.store.handle import Store

PAGE_SIZE = 5000  # messages per page file: a browser opens 5,000 bubbles without trouble
MAIN = "index.html"
COLORS = 8  # sender colour classes c0..c7

_TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("vault.operations.export", "templates"),
    autoescape=True,  # every value from the vault is escaped; only STYLE and SCRIPT are Markup
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
    undefined=jinja2.StrictUndefined,
)


def _static(name: str) -> str:
    source, _, _ = _TEMPLATES.loader.get_source(_TEMPLATES, name)  # type: ignore[union-attr]
    return source


STYLE = _static("style.css")
SCRIPT = _static("search.js")


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_sha256(STYLE)}'; "
    f"script-src 'sha256-{_sha256(SCRIPT)}'; "
    "img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'"
)


def needs_dir(chats: list[ChatInfo], all_chats: bool, page_size: int = PAGE_SIZE) -> bool:
    return all_chats or any(c.stored_attachments or c.rows > page_size for c in chats)


def main_file(out: Output) -> str:
    return MAIN if out.directory else ""


def write(
    v: Store,
    chats: list[ChatInfo],
    out: Output,
    counts: Counts,
    *,
    zone: ZoneInfo,
    all_chats: bool,
    page_size: int = PAGE_SIZE,
) -> None:
    if not all_chats:
        for chat in chats:
            ChatPages(v, chat, out, counts, zone=zone, page_size=page_size, base="", up=None).write()
        return
    with out.create(MAIN) as fh:
        _index_page(fh, chats, zone)
    for chat in chats:
        out.mkdir(str(chat.id))
        ChatPages(v, chat, out, counts, zone=zone, page_size=page_size, base=str(chat.id), up="../index.html").write()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _stream(fh: IO[bytes], template: str, **context: Any) -> None:
    """Render `template` into `fh` piece by piece (jinja2's generate: the rows are pulled lazily)."""
    for piece in _TEMPLATES.get_template(template).generate(
        csp=CSP, style=Markup(STYLE), script=Markup(SCRIPT), **context
    ):
        fh.write(_encode(piece))


def _day(ts_ms: int, zone: ZoneInfo) -> str:
    return utc(ts_ms).astimezone(zone).strftime("%Y-%m-%d")


def _span(chat: ChatInfo, zone: ZoneInfo) -> str:
    if chat.first_ms is None or chat.last_ms is None:
        return ""
    first, last = _day(chat.first_ms, zone), _day(chat.last_ms, zone)
    return first if first == last else f"{first} – {last}"


class FoldTable:
    """The traditional -> simplified characters a page's script needs to fold a query like the vault.

    Only the simplified characters that occur in the page's folded text are carried, with every
    traditional character OpenCC's t2s maps to them (read once from a character-by-character
    conversion of the Han blocks), so that `簽約` typed in the search box finds `签约`.
    """

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def add(self, folded: str) -> None:
        self.seen.update(ch for ch in folded if ch in _by_simplified())

    def __call__(self) -> dict[str, str]:
        table = _by_simplified()
        return {t: simp for simp in sorted(self.seen) for t in table[simp]}


@functools.lru_cache(maxsize=1)
def _by_simplified() -> dict[str, list[str]]:
    chars = [chr(cp) for lo, hi in ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF)) for cp in range(lo, hi + 1)]
    simplified = fold("\n".join(chars)).split("\n")
    if len(simplified) != len(chars):  # pragma: no cover - a conversion that joined lines: one by one
        simplified = [fold(ch) for ch in chars]
    out: dict[str, list[str]] = {}
    for t, simp in zip(chars, simplified, strict=True):
        if len(simp) == 1 and simp != t:
            out.setdefault(simp, []).append(t)
    return out


def _folded(*parts: str | None) -> str:
    return fold(" ".join(p for p in parts if p))


def _index_page(fh: IO[bytes], chats: list[ChatInfo], zone: ZoneInfo) -> None:
    table = FoldTable()
    rows = []
    for c in chats:
        folded = _folded(c.title)
        table.add(folded)
        meta = " · ".join(x for x in (c.source, c.kind, plural(c.messages, "message"), _span(c, zone)) if x)
        rows.append({"title": c.title, "href": f"{c.id}/index.html", "meta": meta, "folded": folded})
    meta = f"{plural(len(chats), 'chat')}; times in {zone.key}"
    _stream(fh, "index.html.j2", title="talkvault export", meta=meta, chats=rows, fold_table=table)


class ChatPages:
    """One chat's pages, written as the messages stream past."""

    def __init__(
        self,
        v: Store,
        chat: ChatInfo,
        out: Output,
        counts: Counts,
        *,
        zone: ZoneInfo,
        page_size: int,
        base: str,
        up: str | None,
    ) -> None:
        self.v, self.chat, self.out, self.counts = v, chat, out, counts
        self.zone, self.page_size, self.base, self.up = zone, page_size, base, up
        self.pages = max(1, -(-chat.rows // page_size))
        self.files = AttachmentFiles(v, out, counts, base)
        self._page = 0
        self._day: str | None = None

    def page_name(self, n: int) -> str:
        if not self.out.directory:
            return self.out.root.name
        return MAIN if n == 1 else f"page-{n}.html"

    def _rel(self, n: int) -> str:
        if not self.out.directory:
            return ""
        name = self.page_name(n)
        return f"{self.base}/{name}" if self.base else name

    def write(self) -> None:
        self.counts.chats += 1
        stream = self._rows()
        for n in range(1, self.pages + 1):
            self._page, self._day = n, None
            rows = stream if n == self.pages else itertools.islice(stream, self.page_size)
            table = FoldTable()
            with self.out.create(self._rel(n)) as fh:  # rows deleted meanwhile: the pages still exist
                _stream(fh, "chat.html.j2", **self._page_context(), items=self._items(rows, table), fold_table=table)

    def _rows(self) -> Iterator[tuple[Row, Quote | None]]:
        """The chat's rows in time order with the message each reply answers, batch by batch."""
        replies = ReplyIndex(self.v, self.chat.id)
        for batch in batches(self.v, self.chat):
            quotes = replies.quotes(batch)
            for row in batch:
                yield row, quotes.get(row.reply_to) if row.reply_to else None

    def _items(self, rows: Iterable[tuple[Row, Quote | None]], table: FoldTable) -> Iterator[dict[str, Any]]:
        for row, answered in rows:
            item = self._item(row, answered)
            table.add(item["folded"])
            self.counts.add(row.is_event)
            yield item

    def _page_context(self) -> dict[str, Any]:
        c = self.chat
        counts = plural(c.messages, "message") + (f", {plural(c.events, 'event')}" if c.events else "")
        meta = " · ".join(x for x in (c.source, c.kind, counts, _span(c, self.zone), f"times in {self.zone.key}") if x)
        n = self._page
        pager = None
        if self.pages > 1:
            pager = {
                "n": n,
                "pages": self.pages,
                "prev": self.page_name(n - 1) if n > 1 else None,
                "next": self.page_name(n + 1) if n < self.pages else None,
            }
        return {
            "title": c.title if self.pages == 1 else f"{c.title} ({n}/{self.pages})",
            "chat_title": c.title,
            "meta": meta,
            "up": self.up,
            "pager": pager,
            "search_label": "Search this chat" if self.pages == 1 else f"Search page {n} of {self.pages}",
        }

    # -- one row -------------------------------------------------------------------------------
    def _item(self, row: Row, quote: Quote | None) -> dict[str, Any]:
        local = utc(row.ts_ms).astimezone(self.zone)
        day = local.strftime("%Y-%m-%d")
        item: dict[str, Any] = {
            "id": row.id,
            "iso": iso_ms(row.ts_ms),
            "full": local.strftime("%Y-%m-%d %H:%M:%S"),
            "hm": local.strftime("%H:%M"),
            "date": day,
            "day": None,
            "event": row.is_event,
        }
        if day != self._day:
            self._day = day
            item["day"], item["weekday"] = day, local.strftime("%A")
        if row.is_event:
            item["text"] = " ".join(row.text.split()) or row.kind
            item["folded"] = _folded(item["text"])
            return item
        who = row.sender or ("me" if row.from_me else "")
        key = (row.sender_key or who).encode("utf-8", "replace")
        attachments = [self._attachment(a) for a in row.attachments]
        item.update(
            side="me" if row.from_me else "them",
            color=hashlib.blake2b(key, digest_size=2).digest()[0] % COLORS,
            who=who,
            reply=self._reply(quote) if row.reply_to else None,
            forwarded=snippet(row.forwarded_from) if row.forwarded_from else None,
            text=row.text,
            label=None if row.text or row.attachments else message_label(row.kind),
            attachments=attachments,
            reactions=_reactions(row),
            edited=row.edited_ms is not None,
        )
        names = " ".join(a.name for a in row.attachments)
        item["folded"] = _folded(who, row.text, item["label"], names, item["forwarded"])
        return item

    def _reply(self, quote: Quote | None) -> dict[str, Any]:
        if quote is None:
            return {"href": None}
        page = min(quote.position // self.page_size + 1, self.pages)
        href = f"#m{quote.id}" if page == self._page else f"{self.page_name(page)}#m{quote.id}"
        return {"href": href, "sender": quote.sender or "?", "snippet": quote.snippet}

    def _attachment(self, att: AttachmentRow) -> dict[str, Any]:
        rel = self.files.link(att)
        if rel is None:
            return {"media": "missing", "name": att.name, "label": attachment_label(att.name, att.kind, False)}
        return {
            "media": media_type(att),
            "name": att.name,
            "src": quote(rel, safe="/"),
            "size": _size(att.size) if att.size else None,
        }


_SHOWN_IMAGES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "image/bmp", "image/avif"})


def media_type(att: AttachmentRow) -> str:
    """How a page shows an attachment: image, video, audio, or a link to the file."""
    mime = (att.mime or mimetypes.guess_type(att.name)[0] or "").lower()
    if mime in _SHOWN_IMAGES:
        return "image"
    if mime.startswith("video/"):
        return "video"
    if mime.startswith("audio/"):
        return "audio"
    return "file"


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"  # pragma: no cover


def _reactions(row: Row) -> list[dict[str, Any]]:
    groups: dict[str, list[str]] = {}
    for r in row.reactions:
        if not r.removed:
            groups.setdefault(r.emoji, []).append(r.sender or "?")
    return [{"emoji": emoji, "who": ", ".join(who), "n": len(who)} for emoji, who in groups.items()]
