"""Skype's message markup (`content`): plain text plus the quote, edit mark, files, call and member parts.

Skype writes `content` as an HTML-like fragment, not well-formed XML: `<ss type="smile">:)</ss>`
emoticons, `<a href>` links, `<at id="8:x">Name</at>` mentions, `<b>/<i>/<s>/<pre>` formatting,
`<quote author authorname timestamp conversation messageid>…<legacyquote>…</legacyquote></quote>`,
the edit mark `<e_m ts ts_ms a t/>`, `<URIObject uri doc_id type url_thumbnail>` with
`<OriginalName v>` / `<FileSize v>`, call `<partlist type callId><part identity><name/><duration/></part>`,
member activity `<addmember>/<deletemember><initiator/><target/></…>` and `<topicupdate><value/>`,
with HTML entities throughout (suurjaak/Skyperious live.py; siwen-r/skype-export-parser).

The stdlib HTML parser reads it leniently (lower-casing names, decoding entities), so a stray `<`
in a message never loses the rest of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Elements whose text is markup of Skype's own, not something the person wrote.
_HIDDEN = frozenset({"legacyquote", "uriobject", "partlist", "e_m", "originalname", "filesize", "meta", "title"})
# Thread-activity elements whose children name who did what.
_ACTIVITY_FIELDS = frozenset({"initiator", "target", "value", "eventtime", "id", "role"})
_LINE_BREAKS = frozenset({"br", "p", "div"})


@dataclass
class UriObject:
    """A file, photo or video message's object (`<URIObject>`)."""

    uri: str | None = None
    doc_id: str | None = None
    type: str | None = None
    name: str | None = None
    size: int | None = None


@dataclass
class Quote:
    author: str | None = None
    author_name: str | None = None
    timestamp: str | None = None
    conversation: str | None = None
    message_id: str | None = None
    text: str = ""


@dataclass
class CallPart:
    identity: str | None = None
    name: str = ""
    duration: float | None = None


@dataclass
class Content:
    """What one `content` holds, split into its parts."""

    text: str = ""
    quote: Quote | None = None
    edit_mark: dict[str, str] | None = None
    objects: list[UriObject] = field(default_factory=list)
    call_type: str | None = None
    call_id: str | None = None
    call_parts: list[CallPart] = field(default_factory=list)
    activity: dict[str, list[str]] = field(default_factory=dict)  # addmember etc.: initiator, target, value


class _Reader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Content()
        self.text: list[str] = []
        self.quote_text: list[str] = []
        self.stack: list[str] = []
        self.in_quote = 0
        self.part: CallPart | None = None
        self.field: str | None = None
        self.field_text: list[str] = []
        self.links: list[tuple[str, list[str], int]] = []  # open <a>: href, where its text goes, from where

    def _hidden(self) -> bool:
        return any(t in _HIDDEN for t in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "e_m":
            self.out.edit_mark = a
            return  # an empty element, whether written <e_m/> or <e_m></e_m>
        if tag in _LINE_BREAKS and tag == "br":
            self._emit("\n")
            return
        self.stack.append(tag)
        if tag == "a":
            out = self.quote_text if self.in_quote else self.text
            self.links.append((a.get("href", ""), out, len(out)))
        elif tag == "quote":
            self.in_quote += 1
            if self.out.quote is None:
                self.out.quote = Quote(
                    author=a.get("author") or None,
                    author_name=a.get("authorname") or None,
                    timestamp=a.get("timestamp") or None,
                    conversation=a.get("conversation") or None,
                    message_id=a.get("messageid") or None,
                )
        elif tag == "uriobject":
            self.out.objects.append(UriObject(uri=a.get("uri"), doc_id=a.get("doc_id"), type=a.get("type")))
        elif tag == "originalname" and self.out.objects:
            self.out.objects[-1].name = a.get("v") or None
        elif tag == "filesize" and self.out.objects:
            v = a.get("v", "")
            self.out.objects[-1].size = int(v) if v.isdigit() else None
        elif tag == "partlist":
            self.out.call_type = a.get("type") or None
            self.out.call_id = a.get("callid") or None
        elif tag == "part" and "partlist" in self.stack:
            self.part = CallPart(identity=a.get("identity") or None)
            self.out.call_parts.append(self.part)
        elif (tag in ("name", "duration") and self.part is not None) or (
            tag in _ACTIVITY_FIELDS and len(self.stack) >= 2 and not self.in_quote
        ):
            self.field, self.field_text = tag, []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("e_m", "br", "originalname", "filesize"):
            self.handle_starttag(tag, attrs)
            if tag in ("originalname", "filesize"):
                self.handle_endtag(tag)
        # other self-closing tags (<img/>, <ss/>) carry no text

    def handle_endtag(self, tag: str) -> None:
        if tag == "e_m" or tag not in self.stack:
            return
        if self.field is not None and tag == self.field:
            value = "".join(self.field_text).strip()
            if self.part is not None and tag == "name":
                self.part.name = value
            elif self.part is not None and tag == "duration":
                try:
                    self.part.duration = float(value)
                except ValueError:
                    self.part.duration = None
            else:
                self.out.activity.setdefault(tag, []).append(value)
            self.field = None
        if tag == "a" and self.links:
            href, out, start = self.links.pop()
            label = "".join(out[start:]).strip()
            if href.startswith(("http://", "https://")) and label and label != href and not self._hidden():
                out.append(f" ({href})")  # keep the address where the label hides it (has:link finds it)
        while self.stack:
            top = self.stack.pop()
            if top == "quote":
                self.in_quote -= 1
            if top == "part":
                self.part = None
            if top == tag:
                break
        if tag in ("p", "div"):
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if self.field is not None:
            self.field_text.append(data)
            return
        if self._hidden():
            return
        if any(t in _ACTIVITY_FIELDS for t in self.stack) and not self.in_quote:
            return
        self._emit(data)

    def _emit(self, data: str) -> None:
        (self.quote_text if self.in_quote else self.text).append(data)


_BLANK_LINES = re.compile(r"\n{3,}")


def _tidy(parts: list[str]) -> str:
    return _BLANK_LINES.sub("\n\n", "".join(parts)).strip()


def read_content(markup: str) -> Content:
    """Split a message's `content` into its text and parts; never raises on odd markup."""
    if "<" not in markup and "&" not in markup:
        return Content(text=markup.strip())
    reader = _Reader()
    reader.feed(markup)
    reader.close()
    out = reader.out
    out.text = _tidy(reader.text)
    if out.quote is not None:
        out.quote.text = _tidy(reader.quote_text)
    return out


# "Edited previous message: " is prepended to some edited messages (Skyperious live.py).
EDIT_PREFIX = "Edited previous message: "


def call_duration(parts: list[CallPart]) -> float | None:
    """A call's length: the longest participant's duration (each part states its own)."""
    durations = [p.duration for p in parts if p.duration is not None]
    return max(durations) if durations else None
