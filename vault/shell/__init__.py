"""`talkvault shell`: the interactive prompt over an unlocked vault (prompt_toolkit, after pgcli/litecli).

This module owns the session: the prompt and its in-memory history (never a file: search terms are
as private as the messages), the worker thread that runs every vault call so that Ctrl-C can
interrupt a query (`Connection.interrupt()`), the names behind completion (refreshed in the
background), the idle lock (the Vault is closed and its key wiped; the passphrase is asked again at
a prompt with no history; three wrong tries end the shell with exit 3), the in-process pager (no
`less`, which keeps a history file), confirmations, and the loop that survives every bad input.
The commands are in vault/shell/commands.py, completion in vault/shell/complete.py, highlighting
in vault/shell/lexer.py and formatting in vault/shell/render.py.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from contextlib import suppress
from pathlib import Path
from typing import Any, TypeVar

from prompt_toolkit import PromptSession, print_formatted_text
from prompt_toolkit.application import Application, get_app
from prompt_toolkit.completion import DynamicCompleter
from prompt_toolkit.filters import Condition, has_completions
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import DummyHistory, InMemoryHistory
from prompt_toolkit.input import Input
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from prompt_toolkit.layout import Layout, Window
from prompt_toolkit.layout.controls import FormattedTextControl
from prompt_toolkit.output import ColorDepth, Output
from prompt_toolkit.output.vt100 import Vt100_Output
from prompt_toolkit.shortcuts import CompleteStyle
from prompt_toolkit.styles import Attrs

from vault.core import DatabaseError, MessageRow, Vault, translate_database_error
from vault.display import CONFIRM_PROMPT, confirmed, plural
from vault.errors import AuthenticationError, TalkvaultError
from vault.secret import Secret
from vault.shell.commands import LEAVE, LOCK, run_search, split_command
from vault.shell.complete import ShellCompleter
from vault.shell.lexer import QueryLexer
from vault.shell.render import STYLE, Line, hint, safe, wrap
from vault.shell.session import ChatView, Names

T = TypeVar("T")

DEFAULT_LOCK_AFTER = 600.0  # seconds of no key press before the vault locks
UNLOCK_TRIES = 3
PAGE_UP = "\x00page-up"  # what PgUp/PgDn make the prompt return (no one can type NUL)
PAGE_DOWN = "\x00page-down"


class IdleTimeout(Exception):
    """No key was pressed for the lock-after time: the shell locks."""


class PlainOutput(Vt100_Output):
    """A terminal output that never sends a style (NO_COLOR): no colour, bold, underline or reverse."""

    def set_attributes(self, attrs: Attrs, color_depth: ColorDepth) -> None:
        return None

    def reset_attributes(self) -> None:
        return None


def no_color() -> bool:
    """NO_COLOR set (to anything) turns every style off, as for the rest of talkvault."""
    return "NO_COLOR" in os.environ


class Shell:
    """One shell session over an unlocked vault. `run()` returns when the person leaves."""

    def __init__(
        self,
        v: Vault,
        *,
        path: str | os.PathLike[str],
        passphrase_hint: str | None = None,
        lock_after: float = DEFAULT_LOCK_AFTER,
        busy_timeout_ms: int | None = None,
        input: Input | None = None,
        output: Output | None = None,
    ) -> None:
        from vault.timeutil import local_zone

        self.v = v
        self.path = Path(path)
        self.passphrase_hint = passphrase_hint
        self.lock_after = float(lock_after)
        self.busy_timeout_ms = busy_timeout_ms
        self.tz = local_zone()
        self.plain = no_color()
        self.output = output or (PlainOutput.from_pty(sys.stdout) if self.plain else Vt100_Output.from_pty(sys.stdout))
        self.input = input
        self.color_depth = ColorDepth.DEPTH_1_BIT if self.plain else None
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="talkvault-shell")
        self._opened: list[Any] = []  # vaults this shell opened itself (after a lock): it closes them
        self._last_key = time.monotonic()
        # What is on screen.
        self.query: str | None = None
        self.results: list[MessageRow] = []
        self.has_more = False
        self.total = 0
        self.sort = "newest"
        self.view: ChatView | None = None
        # Completion names: replaced whole by the background refresh.
        self.names = Names()
        self._completer = ShellCompleter(self.names)
        self.session: PromptSession[str] = PromptSession(
            history=InMemoryHistory(),
            input=input,
            output=self.output,
            completer=DynamicCompleter(lambda: self._completer),
            complete_while_typing=True,
            complete_style=CompleteStyle.READLINE_LIKE if self.plain else CompleteStyle.COLUMN,
            lexer=None if self.plain else QueryLexer(),
            style=STYLE,
            include_default_pygments_style=False,
            color_depth=self.color_depth,
            key_bindings=self._prompt_keys(),
            enable_history_search=False,
            mouse_support=False,
        )
        # The passphrase and "type yes" prompts keep nothing at all.
        self._secret_session: PromptSession[str] = PromptSession(
            history=DummyHistory(), input=input, output=self.output, style=STYLE, color_depth=self.color_depth
        )
        self._confirm_session: PromptSession[str] = PromptSession(
            history=DummyHistory(), input=input, output=self.output, style=STYLE, color_depth=self.color_depth
        )

    # -- terminal ------------------------------------------------------------------------------
    def width(self) -> int:
        return max(self.output.get_size().columns, 20)

    def height(self) -> int:
        return max(self.output.get_size().rows, 6)

    def hits_per_page(self) -> int:
        return max(1, (self.height() - 2) // 3)

    def print_lines(self, lines: list[Line]) -> None:
        frags: list[tuple[str, str]] = []
        for line in lines:
            frags.extend(line)
            frags.append(("", "\n"))
        print_formatted_text(
            FormattedText(frags),
            end="",
            style=STYLE,
            output=self.output,
            color_depth=self.color_depth,
            include_default_pygments_style=False,
        )

    def show(self, lines: list[Line]) -> None:
        """Print `lines`; when they do not fit the terminal, one screen at a time (space: more, q: stop)."""
        room = self.height() - 1
        if len(lines) <= room:
            self.print_lines(lines)
            return
        pos = 0
        while pos < len(lines):
            self.print_lines(lines[pos : pos + room])
            pos += room
            if pos < len(lines) and not self._wait_more(len(lines) - pos):
                return

    def clear_screen(self) -> None:
        """Clear the terminal (the shell's `clear`, like Ctrl-L)."""
        self.output.erase_screen()
        self.output.cursor_goto(0, 0)
        self.output.flush()

    def note(self, text: str) -> None:
        self.print_lines(hint(text, self.width()))

    def warn(self, text: str) -> None:
        self.print_lines(wrap([("class:warning", safe(text))], self.width() - 1))

    def error(self, text: str) -> None:
        self.print_lines(wrap([("class:error", "error: "), ("", safe(text, newline=" "))], self.width() - 1))

    def _wait_more(self, left: int) -> bool:
        """The pager's prompt: True to show the next screen."""
        kb = KeyBindings()

        @kb.add(" ")
        @kb.add("enter")
        @kb.add("pagedown")
        @kb.add("down")
        def more(event: KeyPressEvent) -> None:
            event.app.exit(result=True)

        @kb.add("q")
        @kb.add("c-c")
        @kb.add("c-d")
        def stop(event: KeyPressEvent) -> None:
            event.app.exit(result=False)

        @kb.add("<any>")
        def other(event: KeyPressEvent) -> None:
            return None

        text = f"-- {left} more line{'s' if left != 1 else ''}: space for more, q to stop --"
        app: Application[bool] = Application(
            layout=Layout(Window(FormattedTextControl([("class:more", text)]), height=1)),
            key_bindings=kb,
            style=STYLE,
            include_default_pygments_style=False,
            color_depth=self.color_depth,
            input=self.input,
            output=self.output,
            erase_when_done=True,
        )
        try:
            return bool(self._run_idle_aware(lambda pre_run: app.run(pre_run=pre_run)))
        except (EOFError, KeyboardInterrupt):
            return False

    # -- prompts and the idle lock ---------------------------------------------------------------
    def _prompt_keys(self) -> KeyBindings:
        kb = KeyBindings()
        empty = Condition(lambda: not get_app().current_buffer.text)

        @kb.add("pageup", filter=empty & ~has_completions)
        def page_up(event: KeyPressEvent) -> None:
            event.app.exit(result=PAGE_UP)

        @kb.add("pagedown", filter=empty & ~has_completions)
        def page_down(event: KeyPressEvent) -> None:
            event.app.exit(result=PAGE_DOWN)

        return kb

    def _run_idle_aware(self, run: Callable[[Callable[[], None]], T]) -> T:
        """Run a prompt (given its pre_run hook); raise IdleTimeout when no key comes in time."""

        def pre_run() -> None:
            app = get_app()
            self._last_key = time.monotonic()

            def pressed(_: object) -> None:
                self._last_key = time.monotonic()

            app.key_processor.before_key_press += pressed
            app.create_background_task(self._watch_idle(app, pressed))

        return run(pre_run)

    async def _watch_idle(self, app: Application[Any], pressed: Callable[[object], None]) -> None:
        try:
            while True:
                left = self.lock_after - (time.monotonic() - self._last_key)
                if left <= 0:
                    if not app.future or not app.future.done():
                        app.exit(exception=IdleTimeout())
                    return
                await asyncio.sleep(left)
        finally:
            app.key_processor.before_key_press -= pressed

    def ask(self, message: list[tuple[str, str]], **kw: Any) -> str:
        """The main prompt (in-memory history, completion, highlighting)."""
        return self._run_idle_aware(lambda pre_run: self.session.prompt(FormattedText(message), pre_run=pre_run, **kw))

    def confirm(self, question: str) -> bool:
        """True only when the person types yes. Ctrl-C, Ctrl-D or anything else: no."""
        self.warn(question)
        try:
            answer = self._run_idle_aware(
                lambda pre_run: self._confirm_session.prompt(f"{CONFIRM_PROMPT}: ", pre_run=pre_run)
            )
        except (KeyboardInterrupt, EOFError):
            return False
        return confirmed(answer)

    def _prompt_message(self) -> list[tuple[str, str]]:
        msg = [("class:prompt", "talkvault")]
        if self.view is not None:
            title = safe(self.view.title, newline=" ")
            msg.append(("class:prompt.chat", " " + (title[:24] + "…" if len(title) > 25 else title)))
        msg.append(("", "> "))
        return msg

    # -- the worker --------------------------------------------------------------------------------
    def call(self, fn: Callable[[Vault], T], *, cancellable: bool = True) -> T:
        """Run `fn(vault)` on the worker thread and wait; Ctrl-C interrupts the query (if cancellable)."""
        v = self.v
        fut = self._worker.submit(fn, v)
        try:
            return fut.result()
        except KeyboardInterrupt:
            if not cancellable:
                self.note("Finishing (a change is never left half-done)…")
                return self._wait_uninterrupted(fut)
            self._cancel(fut, v)
            raise

    def _wait_uninterrupted(self, fut: Future[T]) -> T:
        while True:
            try:
                return fut.result()
            except KeyboardInterrupt:
                continue

    def _cancel(self, fut: Future[Any], v: Vault) -> None:
        """Interrupt the running statement until the worker has let go of it."""
        if fut.cancel():  # still queued (behind a names refresh): it never runs
            return
        while not fut.done():
            with suppress(Exception):
                v.interrupt()
            with suppress(KeyboardInterrupt):
                wait_futures([fut], timeout=0.05)

    def refresh_names(self) -> None:
        """Reload the completion names in the background (the prompt does not wait for them)."""

        def load(v: Vault) -> Names:
            return Names.from_chats(v.chats())

        def done(fut: Future[Names]) -> None:
            if not fut.cancelled() and fut.exception() is None:
                self.names = fut.result()
                self._update_completer()

        self._worker.submit(load, self.v).add_done_callback(done)

    def _update_completer(self) -> None:
        names = self.names
        if names.results != len(self.results):
            names = Names(names.chats, names.senders, names.sources, names.years, len(self.results))
        self._completer = ShellCompleter(names)

    # -- locking -----------------------------------------------------------------------------------
    def lock(self, why: str) -> None:
        """Close the vault (its key is wiped), forget what was on screen, clear the terminal."""
        v = self.v
        self._worker.submit(v.close).result()
        self.query, self.results, self.has_more, self.view = None, [], False, None
        self.names = Names()
        self._completer = ShellCompleter(self.names)
        self.output.erase_screen()
        self.output.cursor_goto(0, 0)
        self.output.write_raw("\x1b[3J")  # and the scrollback, where terminals keep it
        self.output.flush()
        self.note(f"{why} The vault is locked: its key is out of memory.")

    def unlock(self) -> bool:
        """Ask for the passphrase (3 tries). False when the person leaves instead."""
        from vault.secret import Secret
        from vault.shell.hidden import HIDE

        hint_text = f" ({self.passphrase_hint})" if self.passphrase_hint else ""
        wrong = 0
        while wrong < UNLOCK_TRIES:
            try:
                typed = self._secret_session.prompt(f"Passphrase to unlock{hint_text}: ", input_processors=[HIDE])
            except (KeyboardInterrupt, EOFError):
                return False
            if not typed:
                continue  # an empty line is not a try
            secret = Secret(typed)
            del typed
            try:
                new = self._wait_uninterrupted(self._worker.submit(self._open, secret))
            except AuthenticationError:
                wrong += 1
                if wrong < UNLOCK_TRIES:
                    left = UNLOCK_TRIES - wrong
                    self.error(f"wrong passphrase; {left} tr{'ies' if left > 1 else 'y'} left")
                continue
            finally:
                secret.wipe()
            self.v = new
            self._opened.append(new)
            self.note("Unlocked.")
            self.refresh_names()
            return True
        raise AuthenticationError(
            f"{UNLOCK_TRIES} wrong passphrases; the shell closed and the vault stays locked. "
            "Forgot it? Reset it with 'talkvault passwd --recovery-key'"
        )

    def _open(self, secret: Secret) -> Vault:
        from vault.core import open

        return open(self.path, secret, busy_timeout_ms=self.busy_timeout_ms)

    # -- the loop ----------------------------------------------------------------------------------
    def execute(self, line: str) -> str | None:
        """Run one line: a command, or a search. Every failure becomes one line; LEAVE or LOCK ends it."""
        if line == PAGE_UP:
            line = "up" if self.view is not None else ""
        elif line == PAGE_DOWN:
            line = "down" if self.view is not None else "more" if self.query is not None else ""
        if not line.strip():
            return None
        try:
            cmd, arg = split_command(line)
            if cmd is None:
                run_search(self, arg)
                return None
            return cmd.handler(self, arg)
        except (IdleTimeout, AuthenticationError):
            raise
        except KeyboardInterrupt:
            self.note("Cancelled.")
        except TalkvaultError as exc:
            self.error(exc.message)
        except DatabaseError as exc:
            self.error(translate_database_error(exc).message)
        except Exception as exc:  # the shell survives everything; no text of the failure is shown
            self.error(f"internal error ({type(exc).__name__}); the shell goes on")
        finally:
            self._update_completer()
        return None

    def welcome(self) -> None:
        counts = self.call(lambda v: v.counts())
        minutes = self.lock_after / 60
        after = f"{minutes:g} minute{'s' if minutes != 1 else ''}" if minutes >= 1 else f"{self.lock_after:g} seconds"
        self.note(
            f"{plural(counts['messages'], 'message')} in {plural(counts['chats'], 'chat')}. "
            "Type words to search, 'help' for commands, "
            f"Tab to complete, Ctrl-D to leave. Locks after {after} without a key press."
        )

    def run(self) -> None:
        try:
            self.refresh_names()
            self.welcome()
            while True:
                try:
                    line = self.ask(self._prompt_message())
                    outcome = self.execute(line)
                except KeyboardInterrupt:
                    continue
                except EOFError:
                    return
                except IdleTimeout:
                    outcome = "idle"
                if outcome == LEAVE:
                    return
                if outcome in (LOCK, "idle"):
                    why = "Locked." if outcome == LOCK else "No key pressed for a while."
                    self.lock(why)
                    if not self.unlock():
                        return
        finally:
            self.close()

    def close(self) -> None:
        """Close the vaults this shell opened (the one it was given belongs to the caller)."""
        for v in self._opened:
            with suppress(Exception):
                self._worker.submit(v.close).result()
        self._worker.shutdown(wait=True)


def run_shell(
    v: Vault,
    *,
    path: str | os.PathLike[str],
    passphrase_hint: str | None = None,
    lock_after: float = DEFAULT_LOCK_AFTER,
    busy_timeout_ms: int | None = None,
) -> None:
    """Run the shell on the terminal over the open vault `v` (kept at `path`) until the person leaves.

    `lock_after` is in seconds. After an idle lock the vault is opened again from `path`; three
    wrong passphrases raise AuthenticationError (exit 3). The caller still closes `v`.
    """
    Shell(v, path=path, passphrase_hint=passphrase_hint, lock_after=lock_after, busy_timeout_ms=busy_timeout_ms).run()
