"""What a shell command sees of the running shell: the Session protocol, the open chat, completion names.

The commands (commands.py) take a `Session`; the shell (`vault/shell/__init__.py`) is one. Keeping
the protocol here lets the commands, the completer and the shell depend on it without depending on
each other in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from vault.core import ChatRow, MessageRow, Vault
    from vault.shell.render import Line

T = TypeVar("T")


@dataclass
class ChatView:
    """The conversation open in the shell: which chat, and which messages are on the screen."""

    chat_id: str
    title: str
    first: int | None = None
    last: int | None = None
    current: str | None = None  # the search hit it was opened at


@dataclass(frozen=True)
class ChatName:
    id: str
    title: str
    source: str = ""
    messages: int = 0


@dataclass(frozen=True)
class Names:
    """What completion offers from the vault: a snapshot, replaced whole when it changes."""

    chats: tuple[ChatName, ...] = ()
    senders: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    years: tuple[str, ...] = ()
    results: int = 0  # how many numbered results are on screen (open N, delete N)

    @classmethod
    def from_chats(cls, rows: Sequence[ChatRow]) -> Names:
        """A snapshot from `Vault.chats()`."""
        chats = tuple(
            ChatName(str(r["id"]), r.get("title") or "", r.get("source") or "", int(r.get("messages") or 0))
            for r in rows
        )
        senders = sorted({p for r in rows for p in r.get("participants") or [] if p}, key=str.casefold)
        sources = sorted({r.get("source") or "" for r in rows} - {""})
        years: set[int] = set()
        for r in rows:
            first, last = r.get("first"), r.get("last")
            if first and last:
                years.update(range(int(first[:4]), int(last[:4]) + 1))
        return cls(chats, tuple(senders), tuple(sources), tuple(str(y) for y in sorted(years, reverse=True)))

    def title_of(self, chat_id: str) -> str:
        return next((c.title for c in self.chats if c.id == chat_id), "")


class Session(Protocol):
    """The running shell, as commands use it."""

    tz: ZoneInfo
    query: str | None
    results: list[MessageRow]
    has_more: bool
    total: int  # matches of the query, counted up to COUNT_CAP + 1 (0 before a search)
    sort: str
    view: ChatView | None
    names: Names

    def width(self) -> int: ...
    def height(self) -> int: ...
    def hits_per_page(self) -> int: ...
    def show(self, lines: list[Line]) -> None: ...
    def note(self, text: str) -> None: ...
    def warn(self, text: str) -> None: ...
    def confirm(self, question: str) -> bool: ...
    def call(self, fn: Callable[[Vault], T], *, cancellable: bool = True) -> T: ...
    def refresh_names(self) -> None: ...
    def clear_screen(self) -> None: ...
