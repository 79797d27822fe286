"""What `talkvault shell` shows: search hits, conversations, chats, stats and help as styled lines.

Pure functions from the library's dicts to lines of (style, text) fragments that fit a terminal
width (wide CJK characters and emoji count as two columns). Text from the vault is made safe for
the terminal here: control characters become visible placeholders, so an imported message can
never move the cursor or change the screen. The shell prints these lines; with NO_COLOR its output
drops every style.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING

from prompt_toolkit.styles import Style
from prompt_toolkit.utils import get_cwidth

from vault.display import clean, message_label, one_line, plural, safe

if TYPE_CHECKING:
    from vault.core import ChatRow, MessageRow, StatsReport

Fragment = tuple[str, str]
Line = list[Fragment]

ELLIPSIS = "…"
NEWLINE_MARK = " ↵ "
INDENT = "     "

STYLE = Style.from_dict(
    {
        "prompt": "bold",
        "prompt.chat": "ansicyan",
        "number": "bold",
        "time": "ansibrightblack",
        "sender": "bold",
        "chat": "ansicyan",
        "match": "bold ansiyellow",
        "current": "reverse",
        "event": "italic ansibrightblack",
        "deleted": "italic ansibrightblack",
        "day": "ansibrightblack",
        "hint": "ansibrightblack",
        "heading": "bold",
        "error": "ansired",
        "warning": "bold ansired",
        "more": "reverse",
        # the query lexer (vault/shell/lexer.py)
        "command": "bold ansigreen",
        "argument": "",
        "filter-key": "ansicyan",
        "filter-value": "ansiblue bold",
        "phrase": "ansiyellow",
        "operator": "bold ansimagenta",
        "paren": "bold",
        "exclude": "ansired",
    }
)


# -- text that is safe and fits --------------------------------------------------------------------
# `clean` and `safe` are vault.display's: the one rule every front end uses (control characters and
# bidi controls become visible escapes).


def width_of(text: str) -> int:
    return sum(get_cwidth(ch) for ch in text)


def line_width(line: Line) -> int:
    return sum(width_of(t) for _, t in line)


def plain(line: Line) -> str:
    return "".join(t for _, t in line)


def clip(line: Line, width: int) -> Line:
    """`line` cut to at most `width` columns, ending in an ellipsis when something was cut."""
    if line_width(line) <= width:
        return line
    out: Line = []
    room = max(width - 1, 0)
    for style, text in line:
        taken = []
        for ch in text:
            w = get_cwidth(ch)
            if w > room:
                room = -1
                break
            taken.append(ch)
            room -= w
        if taken:
            out.append((style, "".join(taken)))
        if room < 0:
            break
    if width > 0:
        out.append(("", ELLIPSIS))
    return out


def styled_chars(text: str, spans: Sequence[tuple[int, int]], base: str = "", mark: str = "class:match") -> Line:
    """`text` split into fragments, the [start, end) spans in the `mark` style."""
    out: Line = []
    pos = 0
    for a, b in spans:
        a, b = max(a, pos), min(b, len(text))
        if a >= b:
            continue
        if a > pos:
            out.append((base, text[pos:a]))
        out.append((f"{base} {mark}".strip(), text[a:b]))
        pos = b
    if pos < len(text):
        out.append((base, text[pos:]))
    return out


def wrap(frags: Line, width: int, *, max_lines: int | None = None) -> list[Line]:
    """Fragments wrapped into lines of at most `width` columns, at spaces where possible.

    A newline in the text starts a new line. With `max_lines`, the last line kept ends in an
    ellipsis when text was left out.
    """
    width = max(width, 2)
    chars = [(style, ch) for style, text in frags for ch in text]
    lines: list[list[tuple[str, str]]] = [[]]
    used = 0
    for style, ch in chars:
        if ch == "\n":
            lines.append([])
            used = 0
            continue
        w = get_cwidth(ch)
        if used + w > width:
            cur = lines[-1]
            # Break at the last space of the line when there is one past a quarter of the width.
            cut = next((i for i in range(len(cur) - 1, 0, -1) if cur[i][1] == " "), -1)
            if ch != " " and cut > 0 and sum(get_cwidth(c) for _, c in cur[:cut]) > width // 4:
                tail = cur[cut + 1 :]
                del cur[cut:]
                lines.append(tail)
                used = sum(get_cwidth(c) for _, c in tail)
            else:
                lines.append([])
                used = 0
            if ch == " " and not lines[-1]:
                continue
        lines[-1].append((style, ch))
        used += w
    out = [_merge(line) for line in lines]
    if max_lines is not None and len(out) > max_lines:
        out = out[:max_lines]
        last = out[-1]
        out[-1] = clip([*last, ("", " " * width)], width) if line_width(last) >= width else [*last, ("", ELLIPSIS)]
    return out


def _merge(chars: Iterable[tuple[str, str]]) -> Line:
    out: Line = []
    for style, ch in chars:
        if out and out[-1][0] == style:
            out[-1] = (style, out[-1][1] + ch)
        else:
            out.append((style, ch))
    return out


# -- times ---------------------------------------------------------------------------------------
def local_time(ts: str, tz: tzinfo) -> datetime:
    """An ISO `...Z` time from the vault as a datetime in `tz`."""
    dt = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return dt.astimezone(tz)


# -- search hits ---------------------------------------------------------------------------------
def snippet(one: str, spans: Sequence[tuple[int, int]], room: int) -> tuple[str, list[tuple[int, int]]]:
    """The part of a one-line text to show in `room` columns: from the start, or near the first match."""
    spans = list(spans)
    if not spans or width_of(one[: spans[0][0]]) < room // 3:
        return one, spans
    start = spans[0][0]
    back = 0
    # Keep some words before the first match for context.
    while start > 0 and back < room // 4:
        start -= 1
        back += get_cwidth(one[start])
    space = one.find(" ", start, spans[0][0])
    if space >= 0:
        start = space + 1
    shift = start - len(ELLIPSIS)
    return ELLIPSIS + one[start:], [(a - shift, b - shift) for a, b in spans if a >= start]


def hit_lines(
    number: int, hit: MessageRow, width: int, tz: tzinfo, *, text_lines: int = 2, with_chat: bool = True
) -> list[Line]:
    """A search hit: number, time, sender and chat on one line; its text (match highlighted) below."""
    width = max(width, 20)
    when = local_time(hit["ts"], tz).strftime("%Y-%m-%d %H:%M")
    who = safe(hit.get("sender") or ("·" if hit.get("event") else "?"), newline=" ")
    head: Line = [("class:number", f"{number:>3}"), ("", "  "), ("class:time", when), ("", "  ")]
    head.append(("class:sender", who))
    if with_chat:
        head += [("", "  "), ("class:chat", safe(hit.get("chat") or "", newline=" "))]
    lines = [clip(head, width - 1)]
    room = width - 1 - len(INDENT)
    if hit.get("deleted"):
        body: Line = [("class:deleted", "[deleted]")]
    elif not hit.get("text"):
        body = [("class:deleted", message_label(hit.get("kind"), _attachments(hit)))]
    else:
        one, spans = clean(hit.get("text") or "", hit.get("highlights") or [], newline=NEWLINE_MARK)
        text, spans = snippet(one, spans, room * text_lines)
        base = "class:event" if hit.get("event") else ""
        body = styled_chars(text, spans, base)
    for line in wrap(body, room, max_lines=text_lines):
        lines.append([("", INDENT), *line])
    return lines


def _attachments(m: MessageRow) -> list[tuple[str | None, str | None, bool]]:
    return [(a.get("name"), a.get("kind"), bool(a.get("stored"))) for a in m.get("attachments", [])]


# -- conversations -------------------------------------------------------------------------------
def message_lines(m: MessageRow, width: int, tz: tzinfo, *, current: bool = False) -> list[Line]:
    """One message of a conversation: time, sender and the whole text, wrapped."""
    width = max(width, 20)
    t = local_time(m["ts"], tz).strftime("%H:%M")
    marker = ">" if current else " "
    who = safe(m.get("sender") or "", newline=" ")
    text = safe(m.get("text") or "")
    label = message_label(m.get("kind"), _attachments(m))
    if not text:
        text = label
    elif m.get("attachments"):
        text += " " + label
    first: Line = [("class:current" if current else "", marker), ("", " "), ("class:time", t), ("", "  ")]
    if m.get("event"):
        body: Line = [("class:event", f"({text})")]
    else:
        body = [("class:sender", who + ":"), ("", " "), ("", text)]
    hang = " " * line_width(first)  # the text hangs under itself, the time column stays clear
    body_lines = wrap(body, width - 1 - len(hang))
    return [first + body_lines[0]] + [[("", hang), *line] for line in body_lines[1:]]


def day_line(day: datetime, width: int) -> Line:
    label = f"── {day.strftime('%Y-%m-%d, %A')} "
    return [("class:day", label + "─" * max(0, min(width - 1, 60) - width_of(label)))]


def conversation_lines(msgs: Sequence[MessageRow], width: int, tz: tzinfo, current: str | None = None) -> list[Line]:
    """Messages in time order with a line for each new day."""
    out: list[Line] = []
    last_day = None
    for m in msgs:
        day = local_time(m["ts"], tz)
        if day.date() != last_day:
            out.append(day_line(day, width))
            last_day = day.date()
        out.extend(message_lines(m, width, tz, current=m["id"] == current))
    return out


# -- lists ---------------------------------------------------------------------------------------
def chat_lines(chats: Sequence[ChatRow], width: int) -> list[Line]:
    """The chats as a table; the dates are left out when the terminal is narrow, the title never."""
    if not chats:
        return [[("class:hint", "The vault is empty; add history with 'talkvault import PATH'.")]]
    idw = max(len(c["id"]) for c in chats)
    dates = width >= 70
    head = f"{'id':>{idw}}  {'source':<10} {'messages':>8}  " + (f"{'first':<10}   {'last':<10}  " if dates else "")
    out: list[Line] = [clip([("class:heading", head + "title")], width - 1)]
    for c in chats:
        line: Line = [("class:number", f"{c['id']:>{idw}}"), ("", f"  {c['source']:<10} {c['messages']:>8}  ")]
        if dates:
            line += [("class:time", f"{(c['first'] or '')[:10]:<10} – {(c['last'] or '')[:10]:<10}"), ("", "  ")]
        line.append(("class:chat", safe(c["title"] or "", newline=" ")))
        out.append(clip(line, width - 1))
    return out


def stats_lines(s: StatsReport, width: int) -> list[Line]:
    out: list[Line] = [
        [
            (
                "class:heading",
                f"{plural(s['messages'], 'message')}, {plural(s['events'], 'event')} in "
                f"{plural(s['chats'], 'chat')}; {plural(s['attachments'], 'attachment')} stored",
            )
        ],
    ]
    out.append([("", "By source: " + (", ".join(f"{one_line(k)} {n}" for k, n in s["by_source"].items()) or "-"))])
    out.append([("", "By year:   " + (", ".join(f"{k} {n}" for k, n in s["by_year"].items()) or "-"))])
    out.append([("class:heading", "Top chats:")])
    out += [
        [("", f"  {c['messages']:>7}  "), ("class:chat", safe(c["chat"] or "", newline=" "))] for c in s["by_chat"][:10]
    ]
    out.append([("class:heading", "Top senders:")])
    out += [
        [("", f"  {c['messages']:>7}  "), ("class:sender", safe(c["sender"] or "", newline=" "))]
        for c in s["by_sender"][:10]
    ]
    sizes = s["sizes"]
    out.append([("", f"Database: {sizes['database_bytes'] / 1e6:.1f} MB ({plural(sizes['free_pages'], 'free page')})")])
    result: list[Line] = []
    for line in out:
        result.extend(wrap(line, width - 1))
    return result


def hint(text: str, width: int) -> list[Line]:
    """A note in the hint style; it may name a chat or a file, so it is made safe too."""
    return wrap([("class:hint", safe(text))], width - 1)
