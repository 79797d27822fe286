"""`export --format html`: a self-contained, readable view of conversations that works offline.

Each chat becomes pages of at most `PAGE_SIZE` messages (so that a browser opens even a huge chat),
linked earlier/later: speech bubbles by sender, day separators, replies (linked to the message they
answer, on whichever page), reactions, forwarded and edited marks, images, video and audio inline
from the `attachments/` folder beside the page, and a search box that filters the page's messages
by plain substring, ignoring case, so it finds Chinese, Japanese and Korean words as typed.

Every piece of text from the vault is untrusted and goes through `html.escape`. The page carries
a Content-Security-Policy that allows nothing but its own inline style and script (pinned by
their sha256) and images and media from beside the page: no network, no external fonts or
scripts, nothing injected could run. Layout: one chat is one file when it fits on one page and has
no attachment files, else a folder (`index.html`, `page-2.html`, ..., `attachments/`); `--all`
writes `index.html` (the list of chats) and a folder per chat id.
"""

from __future__ import annotations

import base64
import hashlib
import html
import mimetypes
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING
from urllib.parse import quote
from zoneinfo import ZoneInfo

from vault.operations.export.files import AttachmentFiles, Counts, Output
from vault.operations.export.read import AttachmentRow, ChatInfo, Quote, ReplyIndex, Row, batches, iso_ms, snippet, utc
from vault.records import TEXT

if TYPE_CHECKING:
    from vault.store.handle import Store

PAGE_SIZE = 5000  # messages per page file: a browser opens 5,000 bubbles without trouble
MAIN = "index.html"
COLORS = 8  # sender colour classes c0..c7

STYLE = """
:root{color-scheme:light dark;--bg:#f3f0e8;--them:#fff;--me:#d9f2c4;--ink:#1d1d1f;--muted:#6b6b70;--line:#d8d2c4;
--accent:#2664c9}
@media (prefers-color-scheme:dark){:root{--bg:#15171b;--them:#23262d;--me:#1e3a28;--ink:#e8e6e3;--muted:#9c9ca4;
--line:#343944;--accent:#86b4ff}}
*{box-sizing:border-box}
[hidden]{display:none!important}
body{margin:0;background:var(--bg);color:var(--ink);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"Noto Sans","Noto Sans CJK SC","PingFang SC","Hiragino Sans","Malgun Gothic","Microsoft YaHei",sans-serif}
a{color:var(--accent)}
header{position:sticky;top:0;z-index:1;background:var(--bg);border-bottom:1px solid var(--line);padding:.7rem 1rem}
header>*{max-width:52rem;margin-left:auto;margin-right:auto}
h1{font-size:1.25rem;margin:0 auto .15rem;overflow-wrap:anywhere}
.meta{color:var(--muted);font-size:.85rem;margin-top:0;margin-bottom:0}
.pager{display:flex;gap:1rem;align-items:center;font-size:.9rem;margin-top:.35rem;margin-bottom:.35rem}
.pager .off{color:var(--muted)}
.search{display:flex;gap:.6rem;align-items:center}
#q{flex:1;max-width:30rem;font:inherit;padding:.35rem .6rem;border:1px solid var(--line);border-radius:.5rem;
background:var(--them);color:var(--ink)}
#count{color:var(--muted);font-size:.85rem}
main{max-width:52rem;margin:0 auto;padding:1rem;display:flex;flex-direction:column;gap:.35rem}
.day{align-self:center;margin:.8rem 0 .3rem;padding:.1rem .7rem;border-radius:1rem;background:var(--line);
font-size:.8rem}
.msg{max-width:min(36rem,85%);padding:.4rem .65rem .3rem;border-radius:.8rem;background:var(--them);
box-shadow:0 1px 1px rgba(0,0,0,.1);align-self:flex-start;overflow-wrap:anywhere}
.msg.me{align-self:flex-end;background:var(--me)}
.who{font-weight:600;font-size:.85rem}
.c0 .who{color:#c0392b}.c1 .who{color:#2471a3}.c2 .who{color:#1e8449}.c3 .who{color:#9a7d0a}
.c4 .who{color:#7d3c98}.c5 .who{color:#ba4a00}.c6 .who{color:#138d90}.c7 .who{color:#a93263}
.text{white-space:pre-wrap}
.kind{color:var(--muted);font-style:italic}
.reply{display:block;border-left:3px solid var(--accent);padding:.1rem .5rem;margin:.2rem 0;color:var(--muted);
text-decoration:none;font-size:.85rem;background:rgba(127,127,127,.1);border-radius:.3rem}
.fwd{color:var(--muted);font-size:.8rem;font-style:italic}
.msg img,.msg video{display:block;max-width:100%;max-height:24rem;border-radius:.5rem;margin:.3rem 0}
.msg audio{display:block;width:100%;margin:.3rem 0}
.file,.missing{display:block;margin:.2rem 0;font-size:.9rem}
.missing{color:var(--muted)}
.foot{display:flex;justify-content:flex-end;align-items:center;gap:.5rem;font-size:.75rem;color:var(--muted)}
.reactions{margin-right:auto}
.reactions span{background:rgba(127,127,127,.16);border-radius:1rem;padding:0 .4rem;margin-right:.2rem;color:var(--ink)}
.event{align-self:center;color:var(--muted);font-size:.82rem;text-align:center;max-width:85%;overflow-wrap:anywhere}
.event time{margin-right:.4rem}
:target{outline:2px solid var(--accent);outline-offset:2px}
ul.chats{list-style:none;padding:0;margin:0}
ul.chats li{padding:.55rem .8rem;background:var(--them);border-radius:.6rem;margin:.3rem 0}
footer{color:var(--muted);font-size:.8rem;text-align:center;padding:1rem}
"""

# The offline search: a plain substring match over each message's text, ignoring case (and
# compatibility forms, NFKC), so any run of Chinese, Japanese or Korean characters is found.
SCRIPT = """
(function () {
  "use strict";
  var q = document.getElementById("q"), count = document.getElementById("count");
  var items = Array.prototype.slice.call(document.querySelectorAll("#log [data-item]"));
  var days = Array.prototype.slice.call(document.querySelectorAll("#log .day"));
  var hay = null;
  function norm(s) { return s.normalize("NFKC").toLowerCase(); }
  function run() {
    var term = norm(q.value.trim());
    if (hay === null) { hay = items.map(function (el) { return norm(el.textContent); }); }
    var n = 0;
    items.forEach(function (el, i) {
      var hit = term === "" || hay[i].indexOf(term) !== -1;
      el.hidden = !hit;
      if (hit && term !== "") { n += 1; }
    });
    days.forEach(function (d) { d.hidden = term !== ""; });
    count.textContent = term === "" ? "" : (n === 0 ? "nothing found here" : n + " found");
  }
  q.addEventListener("input", run);
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== q) { e.preventDefault(); q.focus(); }
    if (e.key === "Escape" && document.activeElement === q) { q.value = ""; run(); }
  });
})();
"""


def _sha256(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


CSP = (
    "default-src 'none'; "
    f"style-src 'sha256-{_sha256(STYLE)}'; "
    f"script-src 'sha256-{_sha256(SCRIPT)}'; "
    "img-src 'self'; media-src 'self'; base-uri 'none'; form-action 'none'"
)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


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
        fh.write(_encode(_index_page(chats, zone)))
    for chat in chats:
        out.mkdir(str(chat.id))
        ChatPages(v, chat, out, counts, zone=zone, page_size=page_size, base=str(chat.id), up="../index.html").write()


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "replace")


def _head(title: str) -> str:
    return (
        '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    )


def _tail() -> str:
    return (
        "<footer>Exported from talkvault. This file is not encrypted: keep it safe, and delete it when you no "
        f"longer need it.</footer>\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _search(label: str) -> str:
    return (
        f'<div class="search"><input id="q" type="search" placeholder="{esc(label)}" aria-label="{esc(label)}"'
        ' autocomplete="off" spellcheck="false"><output id="count"></output></div>\n'
    )


def _day(ts_ms: int, zone: ZoneInfo) -> str:
    return utc(ts_ms).astimezone(zone).strftime("%Y-%m-%d")


def _span(chat: ChatInfo, zone: ZoneInfo) -> str:
    if chat.first_ms is None or chat.last_ms is None:
        return ""
    first, last = _day(chat.first_ms, zone), _day(chat.last_ms, zone)
    return first if first == last else f"{first} – {last}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _index_page(chats: list[ChatInfo], zone: ZoneInfo) -> str:
    parts = [
        _head("talkvault export"),
        "<header>\n<h1>Chats</h1>\n",
        f'<p class="meta">{_plural(len(chats), "chat")}; times in {esc(zone.key)}</p>\n',
        _search("Find a chat"),
        '</header>\n<main id="log">\n<ul class="chats">\n',
    ]
    for c in chats:
        meta = " · ".join(x for x in (c.source, c.kind, _plural(c.messages, "message"), _span(c, zone)) if x)
        parts.append(
            f'<li data-item><a href="{c.id}/index.html">{esc(c.title)}</a><div class="meta">{esc(meta)}</div></li>\n'
        )
    parts.append("</ul>\n</main>\n")
    parts.append(_tail())
    return "".join(parts)


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
        self._fh: IO[bytes] | None = None
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
        replies = ReplyIndex(self.v, self.chat.id)
        pos = 0
        try:
            for batch in batches(self.v, self.chat):
                quotes = replies.quotes(batch)
                for row in batch:
                    if pos % self.page_size == 0 and self._page < self.pages:
                        self._next_page()
                    assert self._fh is not None
                    self._fh.write(_encode(self._row(row, quotes.get(row.reply_to) if row.reply_to else None)))
                    self.counts.add(row.is_event)
                    pos += 1
            while self._page < self.pages:  # rows deleted meanwhile: keep every link working
                self._next_page()
            self._close_page()
        finally:
            if self._fh is not None:
                self._fh.close()

    def _next_page(self) -> None:
        self._close_page()
        self._page += 1
        self._day = None
        self._fh = self.out.create(self._rel(self._page))
        self._fh.write(_encode(self._page_head()))

    def _close_page(self) -> None:
        if self._fh is None:
            return
        self._fh.write(_encode("</main>\n" + self._pager() + _tail()))
        self._fh.close()
        self._fh = None

    def _page_head(self) -> str:
        c = self.chat
        counts = _plural(c.messages, "message") + (f", {_plural(c.events, 'event')}" if c.events else "")
        meta = " · ".join(x for x in (c.source, c.kind, counts, _span(c, self.zone), f"times in {self.zone.key}") if x)
        title = c.title if self.pages == 1 else f"{c.title} ({self._page}/{self.pages})"
        label = "Search this chat" if self.pages == 1 else f"Search page {self._page} of {self.pages}"
        up = f'<p class="meta"><a href="{esc(self.up)}">← All chats</a></p>\n' if self.up else ""
        return (
            _head(title)
            + f'<header>\n{up}<h1>{esc(c.title)}</h1>\n<p class="meta">{esc(meta)}</p>\n'
            + self._pager()
            + _search(label)
            + '</header>\n<main id="log">\n'
        )

    def _pager(self) -> str:
        if self.pages == 1:
            return ""
        n = self._page
        prev = (
            f'<a rel="prev" href="{esc(self.page_name(n - 1))}">← Earlier</a>'
            if n > 1
            else '<span class="off">← Earlier</span>'
        )
        nxt = (
            f'<a rel="next" href="{esc(self.page_name(n + 1))}">Later →</a>'
            if n < self.pages
            else '<span class="off">Later →</span>'
        )
        return f'<nav class="pager">{prev}<span>Page {n} of {self.pages}</span>{nxt}</nav>\n'

    # -- one row -------------------------------------------------------------------------------
    def _row(self, row: Row, quote: Quote | None) -> str:
        parts: list[str] = []
        day = _day(row.ts_ms, self.zone)
        if day != self._day:
            self._day = day
            weekday = utc(row.ts_ms).astimezone(self.zone).strftime("%A")
            parts.append(f'<div class="day">{day} · {weekday}</div>\n')
        local = utc(row.ts_ms).astimezone(self.zone)
        when = (
            f'<time datetime="{iso_ms(row.ts_ms)}" title="{local.strftime("%Y-%m-%d %H:%M:%S")}">'
            f"{local.strftime('%H:%M')}</time>"
        )
        if row.is_event:
            text = " ".join(row.text.split()) or row.kind
            parts.append(f'<div class="event" id="m{row.id}" data-item>{when}{esc(text)}</div>\n')
            return "".join(parts)
        side = "me" if row.from_me else "them"
        who = row.sender or ("me" if row.from_me else "")
        color = hashlib.blake2b((row.sender_key or who).encode("utf-8", "replace"), digest_size=2).digest()[0] % COLORS
        parts.append(f'<article class="msg {side} c{color}" id="m{row.id}" data-item>')
        if who:
            parts.append(f'<div class="who">{esc(who)}</div>')
        if row.reply_to:
            parts.append(self._reply(quote))
        if row.forwarded_from:
            parts.append(f'<div class="fwd">Forwarded from {esc(snippet(row.forwarded_from))}</div>')
        if row.text:
            parts.append(f'<div class="text">{esc(row.text)}</div>')
        elif row.kind != TEXT and not row.attachments:
            parts.append(f'<div class="text kind">{esc(row.kind)}</div>')
        parts.extend(self._attachment(a) for a in row.attachments)
        parts.append('<div class="foot">')
        parts.append(_reactions(row))
        if row.edited_ms is not None:
            parts.append("<span>edited</span>")
        parts.append(when + "</div></article>\n")
        return "".join(parts)

    def _reply(self, quote: Quote | None) -> str:
        if quote is None:
            return '<span class="reply">↪ a message not in this export</span>'
        page = min(quote.position // self.page_size + 1, self.pages)
        href = f"#m{quote.id}" if page == self._page else f"{self.page_name(page)}#m{quote.id}"
        return f'<a class="reply" href="{esc(href)}">↪ <b>{esc(quote.sender or "?")}</b> {esc(quote.snippet)}</a>'

    def _attachment(self, att: AttachmentRow) -> str:
        rel = self.files.link(att)
        name = esc(att.name)
        if rel is None:
            return f'<span class="missing">📎 {name} (not stored)</span>'
        src = esc(quote(rel, safe="/"))
        media = media_type(att)
        if media == "image":
            return f'<a href="{src}"><img src="{src}" alt="{name}" title="{name}" loading="lazy"></a>'
        if media == "video":
            return f'<video controls preload="metadata" src="{src}" title="{name}"></video>'
        if media == "audio":
            return f'<audio controls preload="none" src="{src}" title="{name}"></audio>'
        size = f" ({_size(att.size)})" if att.size else ""
        return f'<a class="file" href="{src}" download="{name}">📎 {name}{size}</a>'


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


def _reactions(row: Row) -> str:
    groups: dict[str, list[str]] = {}
    for r in row.reactions:
        if not r.removed:
            groups.setdefault(r.emoji, []).append(r.sender or "?")
    if not groups:
        return ""
    chips: Iterator[str] = (
        f'<span title="{esc(", ".join(who))}">{esc(emoji)}{" " + str(len(who)) if len(who) > 1 else ""}</span>'
        for emoji, who in groups.items()
    )
    return '<span class="reactions">' + "".join(chips) + "</span>"
