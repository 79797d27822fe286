"""How data from the vault is shown: made safe for a terminal, and labelled when it has no text.

Part of the contract (imports nothing else of the project), so that every front end (the CLI, the
shell, watch) and the HTML export use the same two rules:

- `safe()` / `clean()`: text from an export never drives a terminal. Every control character
  (C0 but the newline, DEL, C1 U+0080-U+009F, U+2028/U+2029) becomes a visible escape such as
  `\\x1b`, so an OSC or CSI sequence is printed as harmless text; a tab becomes a space, CRLF a
  newline. The bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069) become
  visible escapes too (`\\u202e`), so they cannot reorder the line they sit in. The marks LRM,
  RLM and ALM (U+200E, U+200F, U+061C) are kept: they are ordinary strong characters that real
  right-to-left text uses, and they cannot reorder anything beyond themselves.
- `message_label()` / `attachment_label()`: a message without text says what it is
  (`[deleted]`, `[image: IMG-001.jpg, not in the export]`, `[sticker]`, `[voice message]`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "CONFIRM_PROMPT",
    "CONFIRM_WORD",
    "attachment_label",
    "clean",
    "confirmed",
    "deletion_question",
    "is_safe",
    "message_label",
    "one_line",
    "plural",
    "safe",
]

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_LINE_BREAKS = frozenset("\u2028\u2029\x85")


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n <= 0xFF else f"\\u{n:04x}"


def _piece(text: str, i: int, newline: str) -> str:
    ch = text[i]
    n = ord(ch)
    if ch == "\n":
        return newline
    if 0x20 <= n < 0x7F or (n > 0x9F and ch not in BIDI_CONTROLS and ch not in _LINE_BREAKS):
        return ch
    if ch == "\r" and text[i + 1 : i + 2] == "\n":
        return ""  # CRLF is a newline
    if ch == "\t":
        return " "
    if ch in "\u2028\u2029":
        return newline
    return _escape(ch)


def clean(
    text: str, spans: Sequence[tuple[int, int]] = (), *, newline: str = "\n"
) -> tuple[str, list[tuple[int, int]]]:
    """`text` made safe for a terminal, and the [start, end) `spans` of it moved with it."""
    if not spans and text.isprintable():
        return text, []  # the common case: nothing to change (isprintable is False for \n and controls)
    pieces, offsets, pos = [], [], 0
    for i in range(len(text)):
        piece = _piece(text, i, newline)
        offsets.append(pos)
        pieces.append(piece)
        pos += len(piece)
    offsets.append(pos)
    moved = [(offsets[a], offsets[b]) for a, b in spans if 0 <= a < b <= len(text) and offsets[a] < offsets[b]]
    return "".join(pieces), moved


def safe(text: str | None, *, newline: str = "\n") -> str:
    """`text` safe to print on a terminal (or into a log); newlines become `newline`."""
    if not text:
        return ""
    return clean(text, newline=newline)[0]


def one_line(text: str | None) -> str:
    """`text` safe to print, on one line (names, titles, file names, snippets)."""
    return safe(text, newline=" ")


def is_safe(text: str) -> bool:
    """True when `text` holds nothing that `safe()` would change but newlines."""
    return all(p == "\n" or p == ch for p, ch in ((_piece(text, i, "\n"), text[i]) for i in range(len(text))))


# -- labels for messages without text --------------------------------------------------------------
_WORDS = {
    "image": "image",
    "video": "video",
    "audio": "voice message",
    "sticker": "sticker",
    "gif": "GIF",
    "file": "file",
    "contact": "contact",
    "location": "location",
    "poll": "poll",
    "call": "call",
    "deleted": "deleted",
    "media": "media",
    "other": "message",
}


def _word(kind: str | None) -> str:
    return _WORDS.get(kind or "", (kind or "message").replace("_", " "))


def attachment_label(name: str | None, kind: str | None, stored: bool) -> str:
    """An attachment as text: `[image: IMG-001.jpg]`, `[file: a.pdf, not in the export]`."""
    word = "audio" if kind == "audio" and name else _word(kind)
    inner = f"{word}: {one_line(name)}" if name else word
    return f"[{inner}]" if stored else f"[{inner}, not in the export]"


def message_label(kind: str | None, attachments: Iterable[tuple[str | None, str | None, bool]] = ()) -> str:
    """What a message without text is: its attachments' labels, else its kind (`[deleted]`).

    `attachments` are (name, kind, stored) triples. A `text` message with neither text nor
    attachments is `[empty message]`.
    """
    labels = [attachment_label(name, k, stored) for name, k, stored in attachments]
    if labels:
        return " ".join(labels)
    if kind == "media":
        return "[media, not in the export]"
    if not kind or kind == "text":
        return "[empty message]"
    return f"[{_word(kind)}]"


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 chat`, `2 chats`, `1,284 messages`."""
    return f"{n} {word}" if n == 1 else f"{n} {many or word + 's'}"


# -- what a deletion takes away --------------------------------------------------------------------
#: The word both the CLI and the shell ask to be typed out before deleting.
CONFIRM_WORD = "yes"
CONFIRM_PROMPT = f"Type {CONFIRM_WORD} to delete, anything else keeps it"
_PREVIEW = 60


def deletion_question(
    ids: Sequence[str | int],
    fetch: Callable[[list[int]], Iterable[Mapping[str, Any]]],
    attachments: int,
    *,
    chat_title: str | None = None,
    counts: tuple[int, int] | None = None,
) -> str:
    """The question before a deletion: which chat, how many messages and events, what one looks like.

    `fetch` returns message rows (the facade's `messages`) for a batch of ids; they are read in
    batches, so a large deletion is counted without holding it in memory. A whole chat can pass its
    (messages, events) `counts` instead, and nothing is read.
    """
    numbers = [int(i) for i in ids]
    messages = events = 0
    titles: dict[str, str] = {}
    first: Mapping[str, Any] | None = None
    if counts is not None and len(numbers) != 1:
        messages, events = counts
        numbers = []
    for start in range(0, len(numbers), 500):
        for m in fetch(numbers[start : start + 500]):
            first = first or m
            events += 1 if m.get("event") else 0
            messages += 0 if m.get("event") else 1
            titles.setdefault(str(m.get("chat_id")), str(m.get("chat") or ""))
    what = " and ".join(
        x for x in (plural(messages, "message") if messages else "", plural(events, "event") if events else "") if x
    )
    if chat_title is not None:
        where = f'the chat "{one_line(chat_title)}"' + (f" with its {what}" if what else " (it is empty)")
    elif len(titles) == 1:
        where = f'{what} from "{one_line(next(iter(titles.values())))}"'
    else:
        where = f"{what} from {plural(len(titles), 'chat')}"
    files = f" and {plural(attachments, 'attachment file')}" if attachments else ""
    question = f"Delete {where}{files} for good?"
    if len(numbers) == 1 and first is not None:
        text = one_line(first.get("text")) or message_label(
            first.get("kind"), [(a["name"], a["kind"], a["stored"]) for a in first.get("attachments", [])]
        )
        if len(text) > _PREVIEW:
            text = text[: _PREVIEW - 1] + "…"
        when = str(first.get("ts") or "").replace("T", " ")[:16]
        question += f"\n  {when}  {one_line(first.get('sender')) or '?'}: {text}"
    return question


def confirmed(answer: str | None) -> bool:
    """True only when the answer is the confirmation word."""
    return (answer or "").strip().casefold() == CONFIRM_WORD
