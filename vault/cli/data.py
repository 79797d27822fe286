"""Commands that put history in and read it back: import, formats, chats, search, show, check, stats."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from vault.cli.common import (
    State,
    cli,
    color_enabled,
    emit_json,
    json_option,
    open_vault,
    passphrase_options,
    reading_options,
)
from vault.display import attachment_label, clean, message_label, one_line, plural, safe
from vault.errors import EXIT_DAMAGED, EXIT_FAILURE, ExportError

if TYPE_CHECKING:
    from click._termui_impl import ProgressBar

    from vault.core import ImportLogRow, MessageRow


@cli.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", metavar="NAME", default=None, help="Skip detection; 'talkvault formats' lists names.")
@reading_options
@click.option("--dry-run", is_flag=True, help="Read everything and report the counts; change nothing.")
@click.option(
    "--param",
    "extra_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting for one importer, e.g. encoding=cp949 (see docs/importers/).",
)
@click.option("--wechat-me", metavar="NAME", default=None, help="WeChat exports: your own name, to mark your messages.")
@click.option(
    "--signal-key",
    metavar="HEX",
    envvar="TALKVAULT_SIGNAL_KEY",
    default=None,
    help="Signal Desktop database key (or $TALKVAULT_SIGNAL_KEY, which stays out of the process list).",
)
@click.option(
    "--wechat-key",
    metavar="HEX",
    envvar="TALKVAULT_WECHAT_KEY",
    default=None,
    help="Key of an encrypted WeChat database (or $TALKVAULT_WECHAT_KEY).",
)
@click.option(
    "--iphone-backup-password",
    metavar="PASSWORD",
    envvar="TALKVAULT_IPHONE_BACKUP_PASSWORD",
    default=None,
    help="Password of an encrypted iPhone backup (or $TALKVAULT_IPHONE_BACKUP_PASSWORD, out of the process list).",
)
@click.option(
    "--whatsapp-key",
    "whatsapp_key",
    metavar="HEX|FILE",
    envvar="TALKVAULT_WHATSAPP_KEY",
    default=None,
    help="WhatsApp .crypt15 backup: the 64-digit key (or $TALKVAULT_WHATSAPP_KEY); .crypt14: the key file's path.",
)
@click.option("--wechat-imei", metavar="IMEI", default=None, help="Android WeChat: the IMEI the key derives from.")
@click.option("--wechat-uin", metavar="UIN", default=None, help="Android WeChat: the uin the key derives from.")
@passphrase_options
@json_option
@click.pass_obj
def import_(
    state: State,
    paths: tuple[Path, ...],
    fmt: str | None,
    tz: str | None,
    dry_run: bool,
    date_order: str | None,
    signal_key: str | None,
    wechat_key: str | None,
    iphone_backup_password: str | None,
    whatsapp_key: str | None,
    wechat_imei: str | None,
    wechat_uin: str | None,
    extra_params: tuple[str, ...],
    wechat_me: str | None,
    as_json: bool,
) -> None:
    """Import exports (files, folders or zips): detect each format, skip what is already there.

    A folder that holds several exports (say, your Downloads) imports each one it recognises.

    Each file is imported whole or not at all. A file that cannot be read is reported (which file,
    which line, what to do) and the others still import; the exit status is then 1.
    """
    from importers.base import ParseOptions
    from vault.timeutil import resolve_tz

    resolve_tz(tz)  # a bad zone is a usage error before anything is read
    secrets = (
        ("signal", signal_key),
        ("wechat", wechat_key),
        ("whatsapp", whatsapp_key),
        ("iphone-backup", iphone_backup_password),
    )
    keys = {k: v for k, v in secrets if v}
    params = {
        k: v for k, v in (("wechat_imei", wechat_imei), ("wechat_uin", wechat_uin), ("wechat_me", wechat_me)) if v
    }
    for item in extra_params:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter("use KEY=VALUE", param_hint="--param")
        params[key.strip()] = value
    options = ParseOptions(date_order=date_order, keys=keys, params=params)
    show_progress = not as_json and sys.stderr.isatty()
    reports: list[dict[str, Any]] = []
    failed = False
    exit_code = EXIT_FAILURE
    with open_vault(state) as v:
        import importers
        from vault.core import FileReport

        units = [unit for p in paths for unit in (importers.exports_in(p) if fmt is None else [p])]
        for path in units:
            try:
                with _progress(path, show_progress) as progress:
                    rep = v.import_path(path, format=fmt, tz=tz, dry_run=dry_run, options=options, progress=progress)
                doc = rep.to_json()
            except ExportError as exc:
                failed = True
                exit_code = max(exit_code, exc.exit_code)  # a wrong key of an export: 3
                doc = FileReport(path=str(path), format=fmt, error=exc.message).to_json()
            reports.append(doc)
            if not as_json:
                _print_import(doc, dry_run)
    total = sum(int(r["added"]) for r in reports)
    if as_json:
        emit_json({"files": reports, "added": total, "dry_run": dry_run})
    if failed:
        sys.exit(exit_code)


def _no_items() -> Iterator[int]:
    yield from ()


@contextlib.contextmanager
def _progress(path: Path, show: bool) -> Iterator[Callable[[int], None] | None]:
    """click's progress bar on stderr while one export is read (records so far; the total is unknown)."""
    if not show:
        yield None
        return
    nothing = _no_items()  # a generator has no length: the bar pulses and counts
    bar: ProgressBar[int]
    with click.progressbar(nothing, label=one_line(path.name), show_pos=True, file=sys.stderr) as bar:

        def progress(n: int) -> None:
            if n > bar.pos:
                bar.update(n - bar.pos)

        yield progress


def _print_import(doc: dict[str, Any], dry_run: bool) -> None:
    if doc["error"]:
        click.echo(f"talkvault: error: {safe(doc['error'], newline=' ')}", err=True)
        return
    verb = "would add" if dry_run else "added"
    line = (
        f"{one_line(doc['path'])} ({doc['format']}): {verb} {plural(doc['added'], 'message')}, "
        f"{plural(doc['events'], 'event')}, {plural(doc['attachments'], 'attachment')} in "
        f"{plural(doc['chats'], 'chat')}; {doc['duplicates']} already there"
    )
    if doc.get("deleted_skipped"):
        line += f"; {doc['deleted_skipped']} skipped as deleted"
    click.echo(line)
    if doc.get("tz"):
        click.echo(f"  times without a zone were read as {doc['tz']} (use --tz to choose)")
    for note in doc.get("notes", []):
        click.echo(f"  note: {one_line(note)}")
    problems = doc.get("problems", [])
    for p in problems[:10]:
        click.echo(f"  problem: {one_line(p)}", err=True)
    if len(problems) > 10:
        click.echo(f"  ... and {len(problems) - 10} more problems", err=True)


@cli.command()
@json_option
def formats(as_json: bool) -> None:
    """List the export formats talkvault reads and how each is recognised."""
    import importers

    rows = [
        {"name": f.name, "source": f.source, "description": f.description, "detection": f.detection}
        for f in importers.formats()
    ]
    if as_json:
        emit_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']:<20} {r['description']}")


@cli.command()
@passphrase_options
@json_option
@click.pass_obj
def chats(state: State, as_json: bool) -> None:
    """List conversations."""
    with open_vault(state) as v:
        rows = v.chats()
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("The vault is empty; add history with 'talkvault import PATH'.")
    for r in rows:
        span = f"{(r['first'] or '')[:10]} – {(r['last'] or '')[:10]}"
        count = plural(r["messages"], "msg")
        click.echo(f"{r['id']:>5}  {one_line(r['source']):<10} {count:>12}  {span}  {one_line(r['title'])}")


def _render_text(text: str, spans: list[tuple[int, int]], color: bool) -> str:
    """`text` safe for the terminal, with the matched spans in bold when colour is on."""
    text, spans = clean(text, spans)
    if not color or not spans:
        return text
    out, pos = [], 0
    for a, b in spans:
        out.append(text[pos:a])
        out.append(click.style(text[a:b], bold=True, fg="yellow"))
        pos = b
    out.append(text[pos:])
    return "".join(out)


def _attachments(m: MessageRow) -> list[tuple[str | None, str | None, bool]]:
    return [(a["name"], a["kind"], a["stored"]) for a in m.get("attachments", [])]


def print_message(
    m: MessageRow, color: bool, spans: list[tuple[int, int]] | None = None, with_chat: bool = True, indent: str = ""
) -> None:
    """One message on the terminal; every piece of it from the vault passes through vault.display."""
    when = m["ts"].replace("T", " ")[:16]
    who = one_line(m.get("sender")) or ("·" if m.get("event") else "?")
    chat = f"[{one_line(m['chat'])}] " if with_chat else ""
    label = message_label(m.get("kind"), _attachments(m))
    text = _render_text(m["text"], spans or [], color) if m["text"] else label
    if m.get("event"):
        text = f"({text})"
    prefix = f"{indent}{when}  {chat}"
    if color:
        prefix = click.style(prefix, dim=True)
    click.echo(f"{prefix}{who}: {text}  {click.style('#' + m['id'], dim=True) if color else '#' + m['id']}")


def more_line(shown: int, offset: int, total: int, cap: int, sort: str) -> str | None:
    """ "20 of 1,284 (newest first); --limit/--offset for more", or None when every hit was shown."""
    if offset + shown >= total and total <= cap:
        return None
    order = {"newest": "newest first", "oldest": "oldest first", "relevance": "best first"}[sort]
    of = f"more than {cap:,}" if total > cap else f"{total:,}"
    first, last = offset + 1, offset + shown
    which = f"{shown:,}" if offset == 0 else f"{first:,}-{last:,}"
    return f"{which} of {of} ({order}); --limit/--offset for more"


@cli.command()
@click.argument("query", nargs=-1, required=True)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many hits.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many hits (paging).")
@click.option("--sort", type=click.Choice(["newest", "oldest", "relevance"]), default="newest", show_default=True)
@click.option("--context", type=click.IntRange(min=0), default=0, help="Messages around each hit.")
@passphrase_options
@json_option
@click.pass_obj
def search(
    state: State,
    query: tuple[str, ...],
    limit: int,
    offset: int,
    sort: str,
    context: int,
    as_json: bool,
) -> None:
    """Search every chat. Words are ANDed; "a phrase", prefix*, -word, OR, ( ), from:NAME,
    in:CHAT, source:APP, after:/before:/on:DATE (YYYY[-MM[-DD]]), has:attachment|image|link.

    Chinese, Japanese and Korean text matches any substring; case and accents are ignored.
    """
    from vault.core import COUNT_CAP

    q = " ".join(query)
    total = 0
    with open_vault(state) as v:
        hits = v.search(q, limit=limit, sort=sort, context=context, offset=offset, highlight=not as_json)
        if not as_json and len(hits) == limit:
            total = v.count_matches(q, cap=COUNT_CAP)
    if as_json:
        for h in hits:
            h.pop("highlights", None)
        emit_json(hits)
        return
    color = color_enabled()
    if not hits:
        click.echo("No messages match." if offset == 0 else f"No messages match past the first {offset:,}.", err=True)
    for h in hits:
        if context:
            for m in h["context"]["before"]:
                print_message(m, color, indent="  ")
        print_message(h, color, h.get("highlights"))
        if context:
            for m in h["context"]["after"]:
                print_message(m, color, indent="  ")
            click.echo("")
    more = more_line(len(hits), offset, total, COUNT_CAP, sort) if hits and len(hits) == limit else None
    if more:
        click.echo(more, err=True)


@cli.command()
@click.argument("chat")
@click.option("--around", metavar="MESSAGE_ID", default=None, help="Show the messages around this one.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@passphrase_options
@json_option
@click.pass_obj
def show(
    state: State,
    chat: str,
    around: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Read a conversation (by id or title) in time order."""
    with open_vault(state) as v:
        rows = v.show(chat, around=around, limit=limit)
    if as_json:
        emit_json(rows)
        return
    color = color_enabled()
    for m in rows:
        print_message(m, color, with_chat=False)
        if m["text"]:  # without text, the message line is already its attachments' labels
            for a in m["attachments"]:
                click.echo(f"      📎 {attachment_label(a['name'], a['kind'], a['stored'])}")


@cli.command()
@passphrase_options
@json_option
@click.pass_obj
def check(state: State, as_json: bool) -> None:
    """Check the vault's integrity: encryption (every page), database, search index, settings."""
    from vault.errors import VaultDamagedError

    try:
        with open_vault(state) as v:
            result = v.check()
    except VaultDamagedError as exc:
        from vault.cli.common import source_spec
        from vault.core import check_damaged
        from vault.secret import secret_from_sources

        secret = secret_from_sources(source_spec())
        try:
            result = check_damaged(state.path(), secret, exc.message)
        finally:
            secret.wipe()
    if as_json:
        emit_json(result)
    else:
        if result["ok"]:
            click.echo(f"ok: {plural(result['messages'], 'message')}, every page verified")
        for p in result["problems"]:
            click.echo(f"problem: {p}", err=True)
    if not result["ok"]:
        sys.exit(EXIT_DAMAGED)


@cli.command()
@passphrase_options
@json_option
@click.pass_obj
def stats(state: State, as_json: bool) -> None:
    """Counts by source, chat, sender and year; sizes."""
    with open_vault(state) as v:
        s = v.stats()
    if as_json:
        emit_json(s)
        return
    click.echo(
        f"{plural(s['messages'], 'message')}, {plural(s['events'], 'event')} in {plural(s['chats'], 'chat')}; "
        f"{plural(s['attachments'], 'attachment')} stored"
    )
    click.echo("By source: " + (", ".join(f"{one_line(k)} {n}" for k, n in s["by_source"].items()) or "-"))
    click.echo("By year:   " + (", ".join(f"{k} {n}" for k, n in s["by_year"].items()) or "-"))
    click.echo("Top chats:")
    for c in s["by_chat"][:10]:
        made = f"  (from {', '.join(c['formats'])})" if c.get("formats") else ""  # importer names: no data
        click.echo(f"  {c['messages']:>7}  {one_line(c['chat'])}{made}")
    click.echo("Top senders:")
    for p in s["by_sender"][:10]:
        click.echo(f"  {p['messages']:>7}  {one_line(p['sender'])}")
    mb = s["sizes"]["database_bytes"] / 1e6
    click.echo(f"Database: {mb:.1f} MB ({plural(s['sizes']['free_pages'], 'free page')})")
    imports = s.get("imports_log", [])
    if imports:
        click.echo("Recent imports:")
    for imp in imports[:10]:
        click.echo("  " + import_line(imp))


def import_line(imp: ImportLogRow) -> str:
    """One row of the imports log: when, what, which file, and what it added (or that it failed)."""
    when = str(imp.get("started") or "").replace("T", " ")[:16]
    counts = imp.get("counts") or {}
    if imp.get("status") == "done":
        what = f"added {plural(int(counts.get('added', 0)), 'message')}"
    else:
        what = one_line(str(imp.get("status") or "?"))
    return f"{when}  {one_line(imp.get('format')):<10} {one_line(imp.get('file'))}: {what}"
