"""Writes Telegram Desktop HTML exports for tests, in the shape of tdesktop's export_output_html.cpp.

Block tags open on their own line, indented by depth, and their text sits on its own lines, as the
real writer does (HtmlContext::pushTag); newlines inside a text are `<br>`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path


def _s(text: str) -> str:
    return escape(text, quote=True).replace("\n", "<br>")


def head(title: str = "Exported Data") -> str:
    return (
        '<!DOCTYPE html>\n<html>\n\n <head>\n\n  <meta charset="utf-8"/>\n'
        f"<title>{title}</title>\n"
        '  <meta name="viewport" content="width=device-width, initial-scale=1.0"/>\n'
        '  <link href="css/style.css" rel="stylesheet"/>\n'
        '  <script src="js/script.js" type="text/javascript">\n\n  </script>\n\n </head>\n\n'
        ' <body onload="CheckLocation();">\n\n  <div class="page_wrap">\n'
    )


def chat_page(
    title: str, body: list[str], *, prev: str | None = None, nxt: str | None = None, back: bool = False
) -> str:
    header = (
        '\n   <div class="page_header">\n\n'
        + (
            '    <a class="content block_link" href="../../lists/chats.html" onclick="return GoBack(this)">\n'
            if back
            else '    <div class="content">\n'
        )
        + f'\n     <div class="text bold">\n{_s(title)}\n     </div>\n\n'
        + ("    </a>\n" if back else "    </div>\n")
        + "\n   </div>\n"
    )
    out = [head(), header, '\n   <div class="page_body chat_page">\n\n    <div class="history">\n']
    if prev:
        out.append(f'\n     <a class="pagination block_link" href="{prev}">\nPrevious messages\n     </a>\n')
    out.extend(body)
    if nxt:
        out.append(f'\n     <a class="pagination block_link" href="{nxt}">\nNext messages\n     </a>\n')
    out.append("\n    </div>\n\n   </div>\n\n  </div>\n\n </body>\n\n</html>\n")
    return "".join(out)


def date_sep(n: int, text: str) -> str:
    return (
        f'\n     <div class="message service" id="message-{n}">\n\n'
        f'      <div class="body details">\n{_s(text)}\n      </div>\n\n     </div>\n'
    )


def service(mid: int, html: str) -> str:
    return (
        f'\n     <div class="message service" id="message{mid}">\n\n'
        f'      <div class="body details">\n{html}\n      </div>\n\n     </div>\n'
    )


@dataclass
class M:
    mid: int
    when: str  # the title, e.g. "05.01.2024 14:03:12 UTC+01:00"
    sender: str | None = None  # None: a joined follow-up
    text: str | None = None
    text_html: str | None = None
    reply_to: int | None = None
    reply_page: str = ""
    forwarded: str | None = None
    forwarded_joined: bool = False
    media: str = ""
    signature: str | None = None
    reactions: str = ""
    extra_classes: list[str] = field(default_factory=list)

    def html(self) -> str:
        joined = self.sender is None
        cls = "message default clearfix" + (" joined" if joined else "")
        out = [f'\n     <div class="{cls}" id="message{self.mid}">\n']
        if not joined:
            initials = _s((self.sender or "?")[:1])
            out.append(
                '\n      <div class="pull_left userpic_wrap">\n\n'
                '       <div class="userpic userpic2" style="width: 42px; height: 42px">\n\n'
                f'        <div class="initials" style="line-height: 42px">\n{initials}\n        </div>\n\n'
                "       </div>\n\n      </div>\n"
            )
        out.append('\n      <div class="body">\n')
        time = self.when.split(" ")[1][:5] if " " in self.when else self.when
        out.append(f'\n       <div class="pull_right date details" title="{self.when}">\n{time}\n       </div>\n')
        if not joined:
            out.append(f'\n       <div class="from_name">\n{_s(self.sender or "")}\n       </div>\n')
        inner: list[str] = []
        if self.reply_to is not None:
            inner.append(
                '\n       <div class="reply_to details">\nIn reply to '
                f'<a href="{self.reply_page}#go_to_message{self.reply_to}" '
                f'onclick="return GoToMessage({self.reply_to})">'
                "this message</a>\n       </div>\n"
            )
        inner.append(self.media)
        if self.text is not None or self.text_html is not None:
            body = self.text_html if self.text_html is not None else _s(self.text or "")
            inner.append(f'\n       <div class="text">\n{body}\n       </div>\n')
        if self.signature:
            inner.append(f'\n       <div class="signature details">\n{_s(self.signature)}\n       </div>\n')
        if self.forwarded is not None:
            fwd = ['\n       <div class="forwarded body">\n']
            if not self.forwarded_joined:
                fwd.append(
                    f'\n        <div class="from_name">\n{_s(self.forwarded)}'
                    '<span class="date details" title="01.01.2023 10:00:00 UTC+01:00"> 01.01.2023 10:00:00</span>'
                    "\n        </div>\n"
                )
            out.extend(fwd + inner + ["\n       </div>\n"])
        else:
            out.extend(inner)
        out.append(self.reactions)
        out.append("\n      </div>\n\n     </div>\n")
        return "".join(out)


def photo(href: str) -> str:
    thumb = href.replace(".jpg", "_thumb.jpg")
    return (
        '\n       <div class="media_wrap clearfix">\n\n'
        f'        <a class="photo_wrap clearfix pull_left" href="{href}">\n\n'
        f'         <img class="photo" src="{thumb}" style="width: 260px; height: 195px"/>\n\n'
        "        </a>\n\n       </div>\n"
    )


def generic(classes: str, title: str, status: str, href: str | None = None, description: str = "") -> str:
    opening = (
        f'<a class="media clearfix pull_left block_link {classes}" href="{href}">'
        if href
        else f'<div class="media clearfix pull_left {classes}">'
    )
    closing = "</a>" if href else "</div>"
    desc = f'\n          <div class="description">\n{_s(description)}\n          </div>\n' if description else ""
    return (
        f'\n       <div class="media_wrap clearfix">\n\n        {opening}\n\n'
        '         <div class="fill pull_left">\n\n         </div>\n\n'
        '         <div class="body">\n\n'
        f'          <div class="title bold">\n{_s(title)}\n          </div>\n'
        f"{desc}"
        f'\n          <div class="status details">\n{_s(status)}\n          </div>\n\n'
        f"         </div>\n\n        {closing}\n\n       </div>\n"
    )


def reactions(*items: tuple[str, list[str], int | None, bool]) -> str:
    out = ['\n       <span class="reactions">\n']
    for emoji, names, count, mine in items:
        out.append(f'\n        <span class="reaction{" active" if mine else ""}">\n')
        out.append(f'\n         <span class="emoji">\n{emoji}\n         </span>\n')
        if names:
            out.append('\n         <span class="userpics">\n')
            for n in names:
                out.append(
                    '\n          <div class="userpic userpic3" style="width: 20px; height: 20px">\n'
                    f'\n           <div class="initials" style="line-height: 20px" title="{_s(n)}">\n{_s(n[:1])}\n'
                    "           </div>\n\n          </div>\n"
                )
            out.append("\n         </span>\n")
        if count is not None:
            out.append(f'\n         <span class="count">\n{count}\n         </span>\n')
        out.append("\n        </span>\n")
    out.append("\n       </span>\n")
    return "".join(out)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def chats_list(entries: list[tuple[str, str, str, int]]) -> str:
    """lists/chats.html: (folder, name, type, count) per chat."""
    out = [head(), '\n   <div class="page_body list_page">\n\n    <div class="entry_list">\n']
    for folder, name, kind, count in entries:
        out.append(
            f'\n     <a class="entry block_link clearfix" href="../chats/{folder}/messages.html#allow_back">\n'
            '\n      <div class="pull_left userpic_wrap">\n\n       <div class="userpic userpic1" '
            f'style="width: 48px; height: 48px">\n\n        <div class="initials" style="line-height: 48px">\n'
            f"{_s(name[:1])}\n        </div>\n\n       </div>\n\n      </div>\n"
            '\n      <div class="body">\n'
            f'\n       <div class="pull_right info details">\n{kind}\n       </div>\n'
            f'\n       <div class="name bold">\n{_s(name)}\n       </div>\n'
            f'\n       <div class="details_entry details">\n{count} messages\n       </div>\n'
            "\n      </div>\n\n     </a>\n"
        )
    out.append("\n    </div>\n\n   </div>\n\n  </div>\n\n </body>\n\n</html>\n")
    return "".join(out)


def summary() -> str:
    return (
        head() + '\n   <div class="page_header">\n\n    <div class="content">\n\n     <div class="text bold">\n'
        "Exported Data\n     </div>\n\n    </div>\n\n   </div>\n"
        '\n   <div class="page_body">\n\n    <div class="sections">\n'
        '\n     <a class="section block_link chats" href="lists/chats.html#allow_back">\n'
        '\n      <div class="counter details">\n2\n      </div>\n'
        '\n      <div class="label bold">\nChats\n      </div>\n\n     </a>\n'
        "\n    </div>\n\n   </div>\n\n  </div>\n\n </body>\n\n</html>\n"
    )
