"""The commands of `talkvault shell`: one registry, which `help`, completion and highlighting all read.

Each command is a function `(shell, argument text)` registered with its usage and summary. Commands
are thin: they parse their argument, call the vault through the shell's worker (so that Ctrl-C can
cancel a query), and hand styled lines to the shell to print. A line whose first word is not a
command is a search. Destructive commands ask first (`yes` typed out) and never run unasked.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vault.core import COUNT_CAP
from vault.display import deletion_question, plural
from vault.errors import NotFoundError, UsageError
from vault.shell.session import ChatView

if TYPE_CHECKING:
    from vault.core import DeleteReport, ExportReport, MessageRow, Vault
    from vault.shell.session import Session as Shell

# What a handler returns to end the shell or to lock it.
LEAVE = "leave"
LOCK = "lock"

SORTS = ("newest", "oldest", "relevance")
NEWEST_ID = (1 << 63) - 1  # an id after every message: `show(before=...)` then gives a chat's end


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: Callable[[Shell, str], str | None]
    args: str = "none"  # how the argument completes: none number command query chat choice date delete export
    aliases: tuple[str, ...] = ()
    choices: tuple[str, ...] = ()
    details: str = ""


REGISTRY: dict[str, Command] = {}


def command(
    name: str,
    usage: str,
    summary: str,
    *,
    args: str = "none",
    aliases: tuple[str, ...] = (),
    choices: tuple[str, ...] = (),
    details: str = "",
) -> Callable[[Callable[[Shell, str], str | None]], Callable[[Shell, str], str | None]]:
    def register(fn: Callable[[Shell, str], str | None]) -> Callable[[Shell, str], str | None]:
        REGISTRY[name] = Command(name, usage, summary, fn, args, aliases, choices, details)
        return fn

    return register


def commands() -> list[Command]:
    return list(REGISTRY.values())


def lookup(word: str) -> Command | None:
    """The command named (or aliased) `word`, case-insensitively; None for a search."""
    w = word.casefold()
    for c in REGISTRY.values():
        if w == c.name or w in c.aliases:
            return c
    return None


def split_command(line: str) -> tuple[Command | None, str]:
    """(command, its argument text) for a line; (None, line) when the line is a search."""
    stripped = line.strip()
    word, _, rest = stripped.partition(" ")
    cmd = lookup(word)
    return (cmd, rest.strip()) if cmd is not None else (None, stripped)


# -- help ----------------------------------------------------------------------------------------
KEYS = (
    ("Tab", "complete commands, chat titles, names and filters"),
    ("Up / Down", "earlier lines of this session (kept in memory only)"),
    ("PgUp / PgDn", "scroll the open chat; PgDn shows more results"),
    ("Ctrl-C", "cancel a running search, or clear the line"),
    ("Ctrl-D", "leave the shell (on an empty line)"),
)

SEARCH_HELP = (
    'Anything that is not a command is a search: words are ANDed; "a phrase"; prefix*; -word; '
    "a OR b; ( ); from:NAME in:CHAT source:APP after:DATE before:DATE on:DATE has:attachment|image|link. "
    "To search for a word that is a command, type 'search WORD'."
)


def _two_columns(left: str, right: str, col: int, width: int) -> list[list[tuple[str, str]]]:
    """`left` in a column of `col` characters and `right` wrapped beside it (or under it when long)."""
    from vault.shell.render import wrap

    pad = " " * (col + 4)
    if len(left) > col or col + 24 > width:
        lines = wrap([("class:command", f"  {left}")], width - 1)
        return lines + [[("", "      "), *w] for w in wrap([("", right)], width - 7)]
    body = wrap([("", right)], width - col - 5)
    lines = [[("class:command", f"  {left:<{col}}  "), *body[0]]]
    return lines + [[("", pad), *w] for w in body[1:]]


def help_lines(width: int) -> list[list[tuple[str, str]]]:
    from vault.shell.render import hint, wrap

    col = 16
    lines: list[list[tuple[str, str]]] = []
    lines += wrap([("", SEARCH_HELP)], width - 1)
    lines.append([])
    lines.append([("class:heading", "Commands")])
    for c in REGISTRY.values():
        aka = f" (also: {', '.join(c.aliases)})" if c.aliases else ""
        lines += _two_columns(c.usage, c.summary + aka, col, width)
    lines.append([])
    lines.append([("class:heading", "Keys")])
    for key, what in KEYS:
        lines += _two_columns(key, what, col, width)
    lines.append([])
    lines += hint("'help COMMAND' says more about one command.", width)
    return lines


@command("help", "help [COMMAND]", "what every command does, and the keys", args="command")
def cmd_help(sh: Shell, arg: str) -> None:
    from vault.shell.render import wrap

    if not arg:
        sh.show(help_lines(sh.width()))
        return
    c = lookup(arg.split()[0])
    if c is None:
        raise UsageError(f"no command '{arg.split()[0]}'; 'help' lists them")
    lines = [[("class:command", c.usage)], *wrap([("", c.summary + ".")], sh.width() - 1)]
    if c.details:
        lines += wrap([("", c.details)], sh.width() - 1)
    if c.aliases:
        lines.append([("", "Also: " + ", ".join(c.aliases))])
    sh.show(lines)


# -- searching -----------------------------------------------------------------------------------
@command(
    "search",
    "search QUERY",
    "search (the same as typing the query alone)",
    args="query",
    details="Use it to search for a word that is also a command: 'search open'. " + SEARCH_HELP,
)
def cmd_search(sh: Shell, arg: str) -> None:
    if not arg:
        raise UsageError("type what to search for, e.g. 'search dinner friday'")
    run_search(sh, arg)


def run_search(sh: Shell, query: str) -> None:
    """A new search: its first page replaces the results (and closes the open chat)."""
    sh.query = query
    sh.view = None
    sh.results = []
    sh.has_more = False
    sh.total = 0
    show_next_page(sh)


def show_next_page(sh: Shell) -> None:
    from vault.shell.render import hint, hit_lines

    query = sh.query
    assert query is not None
    per = sh.hits_per_page()
    offset = sum(1 for h in sh.results if not h.get("deleted"))
    sort = sh.sort
    hits = sh.call(lambda v: v.search(query, limit=per + 1, offset=offset, sort=sort, highlight=True))
    sh.has_more = len(hits) > per
    if sh.has_more and not sh.total:
        sh.total = sh.call(lambda v: v.count_matches(query, cap=COUNT_CAP))
    hits = hits[:per]
    first = len(sh.results) + 1
    sh.results.extend(hits)
    width = sh.width()
    lines = []
    for i, h in enumerate(hits):
        lines += hit_lines(first + i, h, width, sh.tz)
    if not sh.results:
        lines += hint("No messages match.", width)
    elif not hits:
        lines += hint("No more results.", width)
    else:
        last = len(sh.results)
        span = f"{first}–{last}" if last > first else f"{first}"
        order = {"newest": "newest first", "oldest": "oldest first", "relevance": "best first"}.get(sort, sort)
        if sh.has_more:
            of = f"more than {COUNT_CAP:,}" if sh.total > COUNT_CAP else f"{max(sh.total, last + 1):,}"
            lines += hint(f"{span} of {of} ({order}); 'more' or PgDn: next page; 'open N': read in its chat.", width)
        else:
            lines += hint(f"{span} of {last:,} ({order}); 'open N': read in its chat.", width)
    sh.show(lines)


@command("more", "more", "the next page of results", aliases=("next",))
def cmd_more(sh: Shell, arg: str) -> None:
    if sh.query is None:
        raise UsageError("no search yet: type words to search")
    if not sh.has_more:
        sh.note("No more results.")
        return
    show_next_page(sh)


@command(
    "sort",
    "sort newest|oldest|relevance",
    "the order of results (newest first at the start)",
    args="choice",
    choices=SORTS,
)
def cmd_sort(sh: Shell, arg: str) -> None:
    if arg.casefold() not in SORTS:
        raise UsageError(f"sort takes one of {', '.join(SORTS)} (now: {sh.sort})")
    sh.sort = arg.casefold()
    if sh.query is not None:
        run_search(sh, sh.query)
    else:
        sh.note(f"Results will be sorted {sh.sort} first." if sh.sort != "relevance" else "Results: best first.")


# -- reading -------------------------------------------------------------------------------------
def _result(sh: Shell, arg: str, verb: str) -> tuple[int, MessageRow]:
    if not (arg.isascii() and arg.isdigit()):
        raise UsageError(
            f"{verb} takes a result number from the list, e.g. '{verb} 3' (to search for the words: 'search {verb} …')"
        )
    n = int(arg)
    if not sh.results:
        raise UsageError("no results yet: type words to search")
    if not 1 <= n <= len(sh.results):
        raise UsageError(f"no result {n}; the results shown are numbered 1–{len(sh.results)}")
    hit = sh.results[n - 1]
    if hit.get("deleted"):
        raise UsageError(f"result {n} was deleted")
    return n, hit


def _fit(sh: Shell, msgs: list[MessageRow], mode: str, anchor: str | None = None) -> list[MessageRow]:
    """The messages that fill one screen: from the start, from the end, or around `anchor`."""
    from vault.shell.render import conversation_lines

    budget = max(sh.height() - 3, 3)
    width = sh.width()

    def fits(sel: list[MessageRow]) -> bool:
        return len(conversation_lines(sel, width, sh.tz, anchor)) <= budget

    if not msgs:
        return []
    if mode == "start":
        k = 1
        while k < len(msgs) and fits(msgs[: k + 1]):
            k += 1
        return msgs[:k]
    if mode == "end":
        k = 1
        while k < len(msgs) and fits(msgs[-(k + 1) :]):
            k += 1
        return msgs[-k:]
    idx = next((i for i, m in enumerate(msgs) if m["id"] == anchor), 0)
    lo, hi = idx, idx + 1
    grew = True
    while grew:
        grew = False
        if lo > 0 and fits(msgs[lo - 1 : hi]):
            lo -= 1
            grew = True
        if hi < len(msgs) and fits(msgs[lo : hi + 1]):
            hi += 1
            grew = True
    return msgs[lo:hi]


def show_chat(sh: Shell, view: ChatView, msgs: list[MessageRow], mode: str, note: str | None = None) -> None:
    from vault.shell.render import clip, conversation_lines, hint

    shown = _fit(sh, msgs, mode, view.current)
    if shown:
        view.first, view.last = int(shown[0]["id"]), int(shown[-1]["id"])
        view.title = shown[0].get("chat") or view.title
    sh.view = view
    width = sh.width()
    from vault.shell.render import safe

    head = [
        ("class:chat", safe(view.title, newline=" ")),
        ("class:hint", f"  (chat {view.chat_id}; up/down or PgUp/PgDn scroll, 'date YYYY-MM-DD' jumps)"),
    ]
    lines = [clip(head, width - 1)]
    lines += conversation_lines(shown, width, sh.tz, view.current)
    if not shown:
        lines += hint("(no messages)", width)
    if note:
        lines += hint(note, width)
    sh.show(lines)


@command("open", "open N", "read result N in its chat, around the message", args="number")
def cmd_open(sh: Shell, arg: str) -> None:
    _, hit = _result(sh, arg, "open")
    chat_id, mid, limit = hit["chat_id"], hit["id"], sh.height()
    msgs = sh.call(lambda v: v.show(chat_id, around=mid, limit=limit))
    show_chat(sh, ChatView(chat_id, hit.get("chat") or "", current=mid), msgs, "around")


def _need_view(sh: Shell) -> ChatView:
    if sh.view is None:
        raise UsageError("no chat is open: 'open N' opens a search result, 'chat NAME' a chat")
    return sh.view


def _page(sh: Shell, *, older: bool) -> None:
    """One screen of the open chat before its first shown message, or after its last."""
    view = _need_view(sh)
    chat_id, edge, limit = view.chat_id, (view.first if older else view.last), sh.height()
    if edge is None:
        sh.note("(no messages)")
        return
    before, after = (edge, None) if older else (None, edge)
    msgs = sh.call(lambda v: v.show(chat_id, limit=limit, before=before, after=after))
    if not msgs:
        sh.note(f"This is the {'start' if older else 'end'} of the chat.")
        return
    show_chat(sh, view, msgs, "end" if older else "start")


@command("up", "up", "older messages of the open chat (PgUp)")
def cmd_up(sh: Shell, arg: str) -> None:
    _page(sh, older=True)


@command("down", "down", "newer messages of the open chat (PgDn)")
def cmd_down(sh: Shell, arg: str) -> None:
    _page(sh, older=False)


@command(
    "date",
    "date YYYY-MM-DD",
    "jump to a day in the open chat",
    args="date",
    details="Also YYYY-MM or YYYY; days are in this machine's time zone. Shows that day's first messages, or the next.",
)
def cmd_date(sh: Shell, arg: str) -> None:
    from vault.text.query import date_ids

    view = _need_view(sh)
    span = date_ids(arg, sh.tz) if arg else None
    if span is None:
        raise UsageError("date takes YYYY-MM-DD (or YYYY-MM, or YYYY)")
    start_id = span[0]  # message ids are time-ordered (vault/store/schema.py)
    chat_id, limit = view.chat_id, sh.height()
    msgs = sh.call(lambda v: v.show(chat_id, after=start_id - 1, limit=limit))
    if msgs:
        show_chat(sh, view, msgs, "start")
        return
    msgs = sh.call(lambda v: v.show(chat_id, before=NEWEST_ID, limit=limit))
    show_chat(sh, view, msgs, "end", note=f"No messages on or after {arg}; this is the end of the chat.")


@command("chats", "chats", "list the chats, with their ids")
def cmd_chats(sh: Shell, arg: str) -> None:
    from vault.shell.render import chat_lines

    rows = sh.call(lambda v: v.chats())
    sh.show(chat_lines(rows, sh.width()))


def resolve_chat(v: Vault, given: str) -> int:
    """A chat id from an id, an exact title, or a part of one title (case and accents ignored)."""
    from vault.text.normalize import fold

    try:
        return v.resolve_chat(given)
    except (UsageError, NotFoundError):
        want = fold(given)
        found = [c for c in v.chats() if want and want in fold(c["title"] or "")]
        if len(found) == 1:
            return int(found[0]["id"])
        if found:
            raise UsageError(f"{len(found)} chats match that; use the id from 'chats'") from None
        raise NotFoundError("no such chat; 'chats' lists them with their ids") from None


@command("chat", "chat ID|TITLE", "open a chat at its newest messages", args="chat")
def cmd_chat(sh: Shell, arg: str) -> None:
    if not arg:
        raise UsageError("say which chat: 'chat ID' or 'chat TITLE' ('chats' lists them)")
    limit = sh.height()

    def load(v: Vault) -> tuple[int, list[MessageRow]]:
        cid = resolve_chat(v, arg)
        return cid, v.show(str(cid), before=NEWEST_ID, limit=limit)

    cid, msgs = sh.call(load)
    title = msgs[0]["chat"] if msgs else sh.names.title_of(str(cid))
    show_chat(sh, ChatView(str(cid), title), msgs, "end")


@command("stats", "stats", "counts by source, chat, sender and year")
def cmd_stats(sh: Shell, arg: str) -> None:
    from vault.shell.render import stats_lines

    s = sh.call(lambda v: v.stats())
    sh.show(stats_lines(s, sh.width()))


# -- deleting ------------------------------------------------------------------------------------
def _delete(v: Vault, **kw: Any) -> DeleteReport:
    return v.delete(**kw)


def _deleted_note(r: DeleteReport) -> str:
    n, a = int(r.get("deleted", 0)), int(r.get("attachments", 0))
    text = f"Deleted {plural(n, 'message')}"
    if a:
        text += f" and {plural(a, 'attachment file')}"
    return text + " for good."


def _question(
    sh: Shell, plan: DeleteReport, chat_title: str | None = None, counts: tuple[int, int] | None = None
) -> str:
    """vault.display's deletion question, the CLI's too: chat, messages and events, a preview of one."""
    return sh.call(
        lambda v: deletion_question(
            plan.get("ids", []), v.messages, int(plan.get("attachments", 0)), chat_title=chat_title, counts=counts
        )
    )


def _forget(sh: Shell, ids: set[str]) -> None:
    """Drop deleted messages from the results on screen (their numbers stay, marked deleted)."""
    for h in sh.results:
        if h["id"] in ids:
            h.update({"deleted": True, "text": "", "highlights": []})
    if sh.view is not None and sh.view.current in ids:
        sh.view.current = None


@command(
    "delete",
    "delete N | chat ID|TITLE | query Q",
    "delete result N, a whole chat, or every match of a query, for good (asks first)",
    args="delete",
    details=(
        "Shows what would go and asks you to type yes. Deleted messages are gone from the database, "
        "the search index and the freed pages, and a later import of an old export does not bring "
        "them back."
    ),
)
def cmd_delete(sh: Shell, arg: str) -> None:
    from vault.shell.render import hint, hit_lines

    word, _, rest = arg.partition(" ")
    rest = rest.strip()
    width = sh.width()
    if word.casefold() == "chat":
        if not rest:
            raise UsageError("say which chat: 'delete chat ID' ('chats' lists them)")

        def plan_chat(v: Vault) -> tuple[int, str, tuple[int, int], DeleteReport]:
            cid = resolve_chat(v, rest)
            row = next((c for c in v.chats() if c["id"] == str(cid)), None)
            title, counts = (row["title"], (row["messages"], row["events"])) if row else ("", (0, 0))
            return cid, title, counts, _delete(v, chat=str(cid), dry_run=True)

        cid, title, counts, plan = sh.call(plan_chat)
        if not sh.confirm(_question(sh, plan, title, counts)):
            sh.note("Nothing was deleted.")
            return
        done = sh.call(lambda v: _delete(v, chat=str(cid)), cancellable=False)
        _forget(sh, {str(i) for i in plan.get("ids", [])} | {h["id"] for h in sh.results if h["chat_id"] == str(cid)})
        if sh.view is not None and sh.view.chat_id == str(cid):
            sh.view = None
        sh.note(_deleted_note(done))
        sh.refresh_names()
        return
    if word.casefold() == "query":
        if not rest:
            raise UsageError("say which messages: 'delete query WORDS' (the search language)")
        plan = sh.call(lambda v: _delete(v, query=rest, dry_run=True))
        n = int(plan.get("deleted", 0))
        if n == 0:
            sh.note("No messages match; nothing to delete.")
            return
        preview = sh.call(lambda v: v.search(rest, limit=3, highlight=True))
        lines = []
        for i, h in enumerate(preview):
            lines += hit_lines(i + 1, h, width, sh.tz, text_lines=1)
        if n > len(preview):
            lines += hint(f"… and {n - len(preview)} more", width)
        sh.show(lines)
        if not sh.confirm(_question(sh, plan)):
            sh.note("Nothing was deleted.")
            return
        done = sh.call(lambda v: _delete(v, query=rest), cancellable=False)
        _forget(sh, {str(i) for i in plan.get("ids", [])})
        sh.note(_deleted_note(done))
        sh.refresh_names()
        return
    if not word:
        raise UsageError("delete N (a result number), 'delete chat ID' or 'delete query WORDS'")
    n, hit = _result(sh, word, "delete")
    sh.show(hit_lines(n, hit, width, sh.tz, text_lines=3))
    mid = hit["id"]
    plan = sh.call(lambda v: _delete(v, message_ids=[mid], dry_run=True))
    if not sh.confirm(_question(sh, plan)):
        sh.note("Nothing was deleted.")
        return
    done = sh.call(lambda v: _delete(v, message_ids=[mid]), cancellable=False)
    _forget(sh, {mid})
    sh.note(_deleted_note(done))
    sh.refresh_names()


# -- exporting ----------------------------------------------------------------------------------
EXPORT_FORMATS = ("html", "jsonl", "txt")


def parse_export(arg: str) -> tuple[str | None, bool, str, str]:
    """(chat, all chats?, format, out) from `CHAT --format F --out PATH` (shell quoting; CHAT may be words)."""
    import shlex

    try:
        words = shlex.split(arg)
    except ValueError:
        raise UsageError("a quote is not closed; put a title or path with spaces in quotes") from None
    chat_words: list[str] = []
    fmt = out = None
    all_chats = False
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("--format", "--out") or w.startswith(("--format=", "--out=")):
            name, eq, value = w.partition("=")
            if not eq:
                if i + 1 >= len(words):
                    raise UsageError(f"{name} needs a value")
                i += 1
                value = words[i]
            if name == "--format":
                fmt = value
            else:
                out = value
        elif w == "--all":
            all_chats = True
        elif w.startswith("--"):
            raise UsageError(f"export has no option {w}; it takes --format, --out and --all")
        else:
            chat_words.append(w)
        i += 1
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"export needs --format {'|'.join(EXPORT_FORMATS)}")
    if not out:
        raise UsageError("export needs --out PATH (a new file, or a new or empty folder)")
    return (" ".join(chat_words) or None), all_chats, fmt, out


@command(
    "export",
    "export CHAT --format txt|jsonl|html --out PATH",
    "write a chat (or --all) out of the vault, unencrypted, where you say",
    args="export",
    choices=EXPORT_FORMATS,
    details=(
        "CHAT is an id or a title (or part of one); without it, the open chat. --out is a new file, or a "
        "new or empty folder; nothing is ever overwritten. The result is plaintext: keep it safe and "
        "delete it when you no longer need it. Put a title or path with spaces in quotes."
    ),
)
def cmd_export(sh: Shell, arg: str) -> None:
    import os

    chat, all_chats, fmt, out = parse_export(arg)
    if chat is None and not all_chats:
        if sh.view is None:
            raise UsageError("say which chat: 'export CHAT --format txt --out PATH' (or open one first)")
        chat = sh.view.chat_id
    if chat is not None and all_chats:
        raise UsageError("name one chat, or use --all, not both")
    dest = os.path.expanduser(out)

    def write(v: Vault) -> ExportReport:
        target = None if all_chats else str(resolve_chat(v, str(chat)))
        return v.export(target, format=fmt, out=dest, all_chats=all_chats)

    r = sh.call(write)
    what = plural(r["messages"], "message") + (
        f" and {plural(r['attachments'], 'attachment')}" if r.get("attachments") else ""
    )
    sh.note(f"Exported {what} as {fmt}: {r['main']}")
    sh.warn(f"This is plaintext, not encrypted: delete {r['path']} when you no longer need it.")


# -- the session ---------------------------------------------------------------------------------
@command("clear", "clear", "clear the screen (Ctrl-L does the same)")
def cmd_clear(sh: Shell, arg: str) -> None:
    sh.clear_screen()


@command("lock", "lock", "lock now: forget the key until the passphrase is typed again")
def cmd_lock(sh: Shell, arg: str) -> str:
    return LOCK


@command("quit", "quit", "leave the shell (Ctrl-D does the same)", aliases=("exit",))
def cmd_quit(sh: Shell, arg: str) -> str:
    return LEAVE
