"""The routes: the page, its static files, the fragments and actions it asks for (POST), and media.

Every route passes `security` first (Host, session cookie, and for POST the origin and the CSRF
token); while locked, every route but the static files answers with the unlock page. No content
is ever in a URL: what the page asks for goes in a JSON body, and the answers are HTML fragments
(rendered and escaped here) or small JSON documents.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from importlib import resources
from typing import Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from vault.errors import TalkvaultError, UsageError
from vault.serve import charts, media, security
from vault.serve.render import Renderer, local
from vault.serve.session import COOKIE, Session

MAX_BODY = 64 * 1024  # requests carry a query, ids or a passphrase: nothing bigger
STATIC = {"app.js": "text/javascript", "app.css": "text/css", "icon.svg": "image/svg+xml"}
EXPORT_FORMATS = ("html", "jsonl", "txt")
MAX_SELECTION = 500
KINDS = ("image", "video", "audio", "sticker", "gif", "file")

ROUTES = Map(
    [
        Rule("/", endpoint="page", methods=["GET"]),
        Rule("/static/<name>", endpoint="static", methods=["GET"]),
        Rule("/media/<int:aid>", endpoint="media", methods=["GET"]),
        Rule("/unlock", endpoint="unlock", methods=["POST"]),
        Rule("/api/lock", endpoint="lock", methods=["POST"]),
        Rule("/api/chats", endpoint="chats", methods=["POST"]),
        Rule("/api/chat", endpoint="chat", methods=["POST"]),
        Rule("/api/messages", endpoint="messages", methods=["POST"]),
        Rule("/api/search", endpoint="search", methods=["POST"]),
        Rule("/api/media", endpoint="gallery", methods=["POST"]),
        Rule("/api/people", endpoint="people", methods=["POST"]),
        Rule("/api/insights", endpoint="insights", methods=["POST"]),
        Rule("/api/delete", endpoint="delete", methods=["POST"]),
        Rule("/api/export", endpoint="export", methods=["POST"]),
    ],
    strict_slashes=False,
)
# Every path the server answers, for the tests that try each without a session.
PATHS = [("GET", "/"), ("GET", "/static/app.js"), ("GET", "/static/app.css"), ("GET", "/media/1")] + [
    ("POST", str(r.rule)) for r in ROUTES.iter_rules() if "POST" in (r.methods or ())
]


def _static(name: str) -> bytes:
    return resources.files("vault.serve").joinpath("static").joinpath(name).read_bytes()


class App:
    """The WSGI application for one session on one port."""

    def __init__(self, session: Session, renderer: Renderer, port: int) -> None:
        self.session = session
        self.r = renderer
        self.port = port
        self.static = {name: _static(name) for name in STATIC}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(environ)
        request.max_content_length = MAX_BODY
        request.max_form_memory_size = MAX_BODY
        try:
            with self.session.guard:
                response = self.handle(request)
            if response.is_streamed:
                response.response = _guarded(response.response, self.session.guard)
        except HTTPException as exc:
            response = Response(f"{exc.code} {exc.name}\n", status=exc.code or 500, mimetype="text/plain")
        except Exception as exc:  # the type only: an exception's text may hold content
            print(f"talkvault: serve: internal error ({type(exc).__name__})", file=sys.stderr)
            response = Response("internal error\n", status=500, mimetype="text/plain")
        return security.secure(response)(environ, start_response)

    # -- the checks, in order ----------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        s = self.session
        if not security.host_ok(request, self.port):
            return security.forbidden("this server answers only to 127.0.0.1 and localhost")
        if "token" in request.args:
            if s.has_cookie(request.cookies.get(COOKIE)) or s.exchange(request.args.get("token")):
                r = Response(status=303, headers={"Location": request.path})
                r.set_cookie(COOKIE, s.cookie, httponly=True, samesite="Strict", path="/")
                return r
            return security.forbidden("this link was used already; open the page in the browser that used it")
        if not s.has_cookie(request.cookies.get(COOKIE)):
            return security.forbidden("no session; open the link that 'talkvault serve' printed")
        if request.method not in security.SAFE_METHODS:
            if not security.origin_ok(request, self.port):
                return security.forbidden("cross-origin request refused")
            if request.mimetype not in ("application/json", "application/x-www-form-urlencoded"):
                return security.forbidden("unexpected request body")
            if not security.csrf_ok(request, s):
                return security.forbidden("missing or wrong CSRF token")
        s.check_idle()
        adapter = ROUTES.bind_to_environ(request.environ)
        endpoint, args = adapter.match()
        if endpoint == "static":
            return self.on_static(args["name"])
        if s.locked:
            if endpoint == "unlock":
                return self.on_unlock(request)
            return self.unlock_page(status=200 if endpoint == "page" else 423)
        s.touch()
        if endpoint == "unlock":
            return Response(status=303, headers={"Location": "/"})
        handler = getattr(self, f"on_{endpoint}")
        try:
            result: Response = handler(request, **args)
        except TalkvaultError as exc:
            return Response(exc.message, status=400, mimetype="text/plain")
        return result

    # -- helpers -----------------------------------------------------------------------------
    @property
    def v(self) -> Any:
        assert self.session.vault is not None
        return self.session.vault

    @staticmethod
    def body(request: Request) -> dict[str, Any]:
        if request.mimetype == "application/x-www-form-urlencoded":
            return dict(request.form)
        try:
            doc = json.loads(request.get_data(cache=False) or b"{}")
        except ValueError:
            raise UsageError("the request body is not JSON") from None
        if not isinstance(doc, dict):
            raise UsageError("the request body is not a JSON object")
        return doc

    @staticmethod
    def text(doc: dict[str, Any], key: str, default: str | None = None) -> str | None:
        value = doc.get(key, default)
        if value is None or value == "":
            return default
        return str(value)

    def html(self, template: str, status: int = 200, **context: Any) -> Response:
        return Response(self.r.render(template, **context), status=status, mimetype="text/html")

    def fragment(self, markup: str) -> Response:
        return Response(markup, mimetype="text/html")

    def unlock_page(self, *, status: int, wrong: bool = False) -> Response:
        return self.html("unlock.html", status=status, csrf=self.session.csrf, wrong=wrong)

    # -- routes ------------------------------------------------------------------------------
    def on_static(self, name: str) -> Response:
        if name not in STATIC:
            raise NotFound()
        return Response(self.static[name], mimetype=STATIC[name])

    def on_page(self, request: Request) -> Response:
        return self.html("page.html", csrf=self.session.csrf)

    def on_unlock(self, request: Request) -> Response:
        form = request.form
        secret = form.get("passphrase", "")
        ok = self.session.unlock(secret, recovery=form.get("kind") == "recovery")
        del secret
        if not ok:
            return self.unlock_page(status=401, wrong=True)
        return Response(status=303, headers={"Location": "/"})

    def on_lock(self, request: Request) -> Response:
        self.session.lock()
        return Response('{"locked": true}', mimetype="application/json")

    def on_chats(self, request: Request) -> Response:
        chats = self.v.chat_list()
        for c in chats:
            c["span"] = self.r.span(c["first_ms"], c["last_ms"])
        return self.html("chats.html", chats=chats)

    def on_chat(self, request: Request) -> Response:
        doc = self.body(request)
        chat = str(self.text(doc, "chat", ""))
        info = self.v.chat_info(chat)
        info["span"] = self.r.span(info["first_ms"], info["last_ms"])
        page = self._page(chat, doc)
        return self.html(
            "chat.html",
            chat=info,
            page=self.r.messages(page, chat_id=info["id"]),
            csrf=self.session.csrf,
            formats=EXPORT_FORMATS,
        )

    def on_messages(self, request: Request) -> Response:
        doc = self.body(request)
        chat = str(self.text(doc, "chat", ""))
        page = self._page(chat, doc)
        return self.fragment(self.r.messages(page, chat_id=page["chat_id"]))

    def _page(self, chat: str, doc: dict[str, Any]) -> dict[str, Any]:
        at_ms = None
        day = self.text(doc, "date")
        if day:
            try:
                at = datetime.strptime(day, "%Y-%m-%d").replace(tzinfo=self.r.zone)
            except ValueError:
                raise UsageError("a date is YYYY-MM-DD") from None
            at_ms = int(at.timestamp() * 1000)
        around = self.text(doc, "around")
        reply_of = self.text(doc, "reply_of")
        if reply_of:  # the message a reply (by its id) answers, found on demand
            m = self.v.message(reply_of)
            around = self.v.find_source(chat, m["reply_to"]) if m and m["reply_to"] else None
            if around is None:
                raise UsageError("the message this replies to is not in the vault")
        return dict(
            self.v.conversation(
                chat,
                before=self.text(doc, "before"),
                after=self.text(doc, "after"),
                around=around,
                at_ms=at_ms,
            )
        )

    def on_search(self, request: Request) -> Response:
        doc = self.body(request)
        q = str(self.text(doc, "q", "")).strip()
        sort = str(self.text(doc, "sort", "newest"))
        offset = max(0, int(self.text(doc, "offset", "0") or 0))
        limit = 50
        hits = self.v.search(q, limit=limit + 1, sort=sort, offset=offset, highlight=True) if q else []
        more = len(hits) > limit
        hits = self.r.hits(hits[:limit])
        return self.html("search.html", hits=hits, more=more, offset=offset + len(hits), asked=bool(q))

    def on_gallery(self, request: Request) -> Response:
        doc = self.body(request)
        chat = self.text(doc, "chat")
        kind = self.text(doc, "kind")
        if kind is not None and kind not in KINDS:
            raise UsageError("unknown kind of attachment")
        result = self.v.media(chat=chat, kind=kind, before=self.text(doc, "before"))
        title = self.v.chat_info(chat)["title"] if chat else None
        return self.html(
            "media.html",
            items=result["items"],
            more=result["more"],
            chat=chat,
            title=title,
            kind=kind or "",
            kinds=KINDS,
            page_only=bool(self.text(doc, "before")),
        )

    def on_people(self, request: Request) -> Response:
        return self.html("people.html", people=self.v.people())

    def on_insights(self, request: Request) -> Response:
        doc = self.body(request)
        chat = self.text(doc, "chat")
        year_s = self.text(doc, "year")
        year = int(year_s) if year_s and year_s.isdigit() else None
        data = self.v.activity(self.r.zone, chat=chat, year=year)
        year = data["year"]
        years = list(data["by_year"])
        title = self.v.chat_info(chat)["title"] if chat else None
        busiest = max(data["by_day"].items(), key=lambda kv: (kv[1], kv[0]), default=None)
        return self.html(
            "insights.html",
            d=data,
            year=year,
            years=years,
            chat=chat,
            title=title,
            busiest=busiest,
            heat=charts.heatmap(year, data["by_day"]) if year is not None else "",
            hours=charts.columns(data["by_hour"], [f"{h:02d}" for h in range(24)], label="Messages per hour"),
            weekdays=charts.columns(
                data["by_weekday"], ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], label="Messages per weekday"
            ),
            per_year=charts.bars([(str(y), n) for y, n in data["by_year"].items()], label="Messages per year"),
            per_chat=charts.bars([(c["title"], c["messages"]) for c in data["chats"]], label="Messages per chat"),
            per_person=charts.bars([(p["name"], p["messages"]) for p in data["senders"]], label="Messages per person"),
        )

    def on_delete(self, request: Request) -> Response:
        doc = self.body(request)
        messages = self._ids(doc.get("messages"))
        if self.text(doc, "message"):
            messages.append(str(self.text(doc, "message")))
        chat = self.text(doc, "chat")
        if bool(messages) == bool(chat):
            raise UsageError("say what to delete: messages or one chat")
        if not doc.get("confirm"):
            return _json({"question": self._question(messages, chat)})
        result = self.v.delete(message_ids=messages) if messages else self.v.delete(chat=chat)
        return _json({"deleted": result["deleted"], "attachments": result["attachments"]})

    @staticmethod
    def _ids(value: Any) -> list[str]:
        if value is None:
            return []
        if not isinstance(value, list) or len(value) > MAX_SELECTION or not all(str(x).isdigit() for x in value):
            raise UsageError(f"a selection is a list of at most {MAX_SELECTION} message ids")
        return [str(x) for x in value]

    def _question(self, messages: list[str], chat: str | None) -> str:
        """The confirmation, naming what goes."""
        if chat:
            info = self.v.chat_info(chat)
            dry = self.v.delete(chat=chat, dry_run=True)
            return (
                f"Delete the chat “{info['title']}” ({info['source']}) for good: {dry['deleted']} messages and "
                f"events and {dry['attachments']} stored attachments? This cannot be undone."
            )
        found = [m for m in (self.v.message(i) for i in messages) if m is not None]
        if not found:
            raise UsageError("those messages are no longer in the vault")
        dry = self.v.delete(message_ids=messages, dry_run=True)
        also = f" and {dry['attachments']} stored attachment(s)" if dry["attachments"] else ""
        lines = []
        for m in found[:5]:
            who = m["sender"] or ("me" if m["from_me"] else "?")
            text = " ".join(m["text"].split())
            text = text if len(text) <= 60 else text[:59] + "…"
            when = local(m["ts_ms"], self.r.zone).strftime("%Y-%m-%d %H:%M")
            lines.append(f"{who} in “{m['chat']}” ({when}): “{text or m['kind']}”")
        more = f"\n… and {len(found) - 5} more" if len(found) > 5 else ""
        what = "this message" if len(found) == 1 else f"these {len(found)} messages"
        return f"Delete {what} for good{also}?\n\n" + "\n".join(lines) + more + "\n\nThis cannot be undone."

    def on_export(self, request: Request) -> Response:
        doc = self.body(request)
        chat = str(self.text(doc, "chat", ""))
        fmt = str(self.text(doc, "format", "html"))
        if fmt not in EXPORT_FORMATS:
            raise UsageError("export formats are html, jsonl and txt")
        data, meta = self.v.export_bytes(chat, format=fmt, tz=self.r.zone.key)
        mimetype = {"html": "text/html", "jsonl": "application/x-ndjson", "txt": "text/plain"}[fmt]
        return Response(
            data,
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{meta["name"]}"'},
        )

    def on_media(self, request: Request, aid: int) -> Response:
        att = self.v.attachment(str(aid))
        if att is None:
            raise NotFound()
        return media.respond(self.v, request, att)


def _guarded(body: Iterable[Any], guard: Any) -> Iterator[bytes]:
    """A streamed body whose every chunk is read from the vault under the session's lock."""
    it = iter(body)
    while True:
        with guard:
            chunk = next(it, None)
        if chunk is None:
            return
        yield chunk


def _json(doc: dict[str, Any]) -> Response:
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json")
