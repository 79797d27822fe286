"""`talkvault serve` against a real server on 127.0.0.1 and a real vault: the session (one-time token,
cookie), 403 on every route without it, the Host check, same origin and CSRF on every POST, the
headers on every response, loopback only, the idle lock and unlock, media ranges, search, delete
and export through the server, and nothing written or logged outside the vault.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vault
from tests.conftest import PASSPHRASE, ROOT, cli, write
from tests.test_export import BIG, CANARY, fill, jsonl_lines

SERVE_CANARY = "zq-serve-canary-5d93"
URL = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{43})$")
REQUIRED = {
    "cache-control": "no-store",
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
}


def extra_source(root: Path) -> Path:
    """A chat with simplified Chinese (found by a traditional query), the canary, and a reply."""
    lines = [
        {"type": "talkvault", "version": 1},
        {"type": "chat", "source": "signal", "key": "deal", "title": "合同 Deal", "kind": "direct"},
        {"type": "message", "chat": "deal", "ts": "2024-05-02T10:00:00Z", "sender": "Li", "text": "明天签约，别迟到",
         "id": "d1"},
        {"type": "message", "chat": "deal", "ts": "2024-05-02T10:01:00Z", "sender": "Mei", "text": f"好 {SERVE_CANARY}",
         "id": "d2", "reply_to": "d1"},
        {"type": "message", "chat": "deal", "ts": "2024-05-03T08:00:00Z", "sender": "Li", "text": "delete me please",
         "id": "d3"},
    ]  # fmt: skip
    return write(root / "deal.jsonl", jsonl_lines(lines))


@pytest.fixture
def served_vault(tmp_path: Path, weak_kdf: Any) -> dict[str, str]:
    """A vault on disk (the sample chats of the export tests plus one more), and the env that opens it."""
    path = tmp_path / "vault"
    with vault.create(path, PASSPHRASE, kdf=weak_kdf, kdf_chosen=True) as v:
        fill(v, tmp_path / "sources")
        assert v.import_path(extra_source(tmp_path / "sources")).added == 3
        assert v.recovery_key is not None
        recovery = v.recovery_key.text()
    return {"TALKVAULT_DIR": str(path), "TALKVAULT_PASSPHRASE": PASSPHRASE, "RECOVERY_KEY": recovery}


class Served:
    """A `talkvault serve` process, its URL, and a cookie once the token was exchanged."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        full = dict(os.environ)
        full.update(env)
        full["PYTHONPATH"] = str(ROOT)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "vault", "serve", "--no-browser", "--json", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            env=full,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, self.proc.stderr.read() if self.proc.stderr else ""
        self.url = json.loads(line)["url"]
        m = URL.match(self.url)
        assert m, self.url
        self.port, self.token = int(m.group(1)), m.group(2)
        self.host = f"127.0.0.1:{self.port}"
        self.origin = f"http://{self.host}"
        self.cookie: str | None = None
        self.csrf: str | None = None

    def request(
        self,
        method: str,
        path: str,
        body: bytes | str | dict[str, Any] | None = None,
        *,
        headers: dict[str, str] | None = None,
        cookie: bool = True,
        csrf: bool = True,
        origin: bool = True,
    ) -> http.client.HTTPResponse:
        h = {"Host": self.host}
        if cookie and self.cookie:
            h["Cookie"] = f"talkvault={self.cookie}"
        if method == "POST":
            if origin:
                h["Origin"] = self.origin
            if csrf and self.csrf:
                h["X-CSRF-Token"] = self.csrf
            if isinstance(body, dict):
                body = json.dumps(body)
                h.setdefault("Content-Type", "application/json")
        h.update(headers or {})
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        conn.request(method, path, body=body, headers=h)
        r = conn.getresponse()
        r.data = r.read()  # type: ignore[attr-defined]
        conn.close()
        return r

    def login(self) -> None:
        r = self.request("GET", f"/?token={self.token}", cookie=False)
        assert r.status == 303, r.data  # type: ignore[attr-defined]
        m = re.match(r"talkvault=([^;]+);", r.headers["Set-Cookie"])
        assert m
        self.cookie = m.group(1)
        page = self.request("GET", "/")
        assert page.status == 200
        self.csrf = re.search(r'data-csrf="([^"]+)"', page.data.decode()).group(1)  # type: ignore[attr-defined,union-attr]

    def post(self, path: str, doc: dict[str, Any] | None = None) -> tuple[int, str]:
        r = self.request("POST", path, doc or {})
        return r.status, r.data.decode("utf-8")  # type: ignore[attr-defined]

    def stop(self) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=20)
        return self.proc.returncode, out, err


@pytest.fixture
def server(served_vault: dict[str, str]) -> Iterator[Served]:
    s = Served(served_vault)
    try:
        yield s
    finally:
        code, _, err = s.stop()
        assert code == 0, err
        assert "the key was wiped" in err


def ids(html: str, attr: str) -> list[str]:
    return re.findall(rf'{attr}="(\d+)"', html)


# -- the session --------------------------------------------------------------------------------
def test_url_token_becomes_a_strict_httponly_cookie_once(server: Served) -> None:
    r = server.request("GET", f"/?token={server.token}", cookie=False)
    assert r.status == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert server.token not in cookie
    # The token works once; a guess never.
    assert server.request("GET", f"/?token={server.token}", cookie=False).status == 403
    assert server.request("GET", "/?token=" + "A" * 43, cookie=False).status == 403
    server.cookie = re.match(r"talkvault=([^;]+);", cookie).group(1)  # type: ignore[union-attr]
    page = server.request("GET", "/")
    body = page.data.decode()  # type: ignore[attr-defined]
    assert page.status == 200 and "<title>talkvault</title>" in body
    assert '<input type="search"' in body and "<script>" not in body and 'src="/static/app.js"' in body


def test_plain_url_line_without_json(served_vault: dict[str, str]) -> None:
    full = {**os.environ, **served_vault, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen(
        [sys.executable, "-m", "vault", "serve", "--no-browser", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=full,
    )
    assert p.stdout is not None
    assert URL.match(p.stdout.readline().strip())
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0 and out == "" and "the key was wiped" in err


def test_every_route_without_the_session_is_403(server: Served) -> None:
    from vault.serve.app import PATHS

    assert len(PATHS) >= 14
    for method, path in [*PATHS, ("GET", "/nowhere"), ("GET", "/static/nothing.js")]:
        assert server.request(method, path, {}).status == 403, path
    server.cookie = "forged"
    for method, path in PATHS:
        assert server.request(method, path, {}).status == 403, path


def test_a_foreign_host_is_403_and_does_not_spend_the_token(server: Served) -> None:
    for host in ("evil.example", f"evil.example:{server.port}", f"127.0.0.1:{server.port + 1}", "127.0.0.1"):
        r = server.request("GET", f"/?token={server.token}", cookie=False, headers={"Host": host})
        assert r.status == 403, host
    server.login()  # the token still works from the real origin
    for host in ("evil.example", f"attacker.test:{server.port}"):
        assert server.request("GET", "/", headers={"Host": host}).status == 403
        assert server.request("POST", "/api/chats", {}, headers={"Host": host}).status == 403
    assert server.request("GET", "/", headers={"Host": f"localhost:{server.port}"}).status == 200


def test_posts_need_the_same_origin_and_the_csrf_token(server: Served) -> None:
    server.login()
    status, html = server.post("/api/chat", {"chat": "合同 Deal"})
    assert status == 200
    target = [m for m in ids(html, "data-mid")][-1]
    attempts = [
        {"headers": {"Origin": "http://evil.example"}},
        {"headers": {"Origin": f"http://127.0.0.1:{server.port + 1}"}},
        {"headers": {"Origin": "null"}},
        {"origin": False},  # no Origin and no Sec-Fetch-Site
        {"origin": False, "headers": {"Sec-Fetch-Site": "cross-site"}},
        {"csrf": False},
        {"headers": {"X-CSRF-Token": "wrong"}},
        {"headers": {"Content-Type": "multipart/form-data; boundary=x"}},
        {"headers": {"Content-Type": "text/plain"}},
    ]
    for kw in attempts:
        doc = {"message": target, "confirm": True}
        r = server.request("POST", "/api/delete", doc, **kw)  # type: ignore[arg-type]
        assert r.status == 403, kw
    # Nothing was deleted by any of them; the same request from the page works.
    status, html = server.post("/api/chat", {"chat": "合同 Deal"})
    assert target in ids(html, "data-mid")
    r = server.request("POST", "/api/delete", {"message": target, "confirm": True}, origin=False,
                       headers={"Sec-Fetch-Site": "same-origin"})  # fmt: skip
    assert r.status == 200 and json.loads(r.data)["deleted"] == 1  # type: ignore[attr-defined]


def test_headers_on_every_response(server: Served) -> None:
    from vault.serve.app import PATHS

    responses = [server.request(m, p, {}) for m, p in PATHS]  # 403s
    responses.append(server.request("GET", "/", headers={"Host": "evil.example"}))
    server.login()
    responses += [server.request(m, p, {}) for m, p in PATHS if p != "/api/lock"]
    responses.append(server.request("GET", "/nowhere"))
    _, gallery = server.post("/api/media")
    att = ids(gallery, "data-att")[0]
    responses.append(server.request("GET", f"/media/{att}"))
    responses.append(server.request("GET", f"/media/{att}", headers={"Range": "bytes=0-9"}))
    statuses = {r.status for r in responses}
    assert {200, 206, 403, 404} <= statuses, statuses
    for r in responses:
        for name, value in REQUIRED.items():
            assert r.headers.get(name) == value, (name, r.status)
        csp = r.headers["Content-Security-Policy"]
        assert csp.startswith("default-src 'none';") and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp and "http" not in csp and "*" not in csp
        assert "script-src 'self'" in csp


def test_host_other_than_loopback_is_refused_before_the_passphrase(served_vault: dict[str, str]) -> None:
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.org", "::1", "127.0.0.2"):
        r = cli("serve", "--no-browser", "--host", host, env={"TALKVAULT_DIR": served_vault["TALKVAULT_DIR"]})
        assert r.code == 2, (host, r.err)
        assert "127.0.0.1 only" in r.err and r.out == "" and "Traceback" not in r.err


def _listening(pid: int) -> list[tuple[str, int]]:
    """(address hex, port) of every listening TCP socket the process holds, from /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # LISTEN
                addr, port = f[1].split(":")
                found.append((addr, int(port, 16)))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_listens_on_127_0_0_1_only(server: Served) -> None:
    assert _listening(server.proc.pid) == [("0100007F", server.port)]


def test_idle_lock_wipes_the_key_and_the_unlock_page_takes_it_back(served_vault: dict[str, str]) -> None:
    s = Served(served_vault, "--lock-after", "0.02")  # 1.2 seconds
    try:
        s.login()
        assert s.post("/api/chats")[0] == 200
        time.sleep(1.8)
        page = s.request("GET", "/")
        body = page.data.decode()  # type: ignore[attr-defined]
        assert page.status == 200 and "talkvault is locked" in body and 'type="password"' in body
        assert "<title>talkvault</title>" in body and "合同" not in body
        assert s.post("/api/chats")[0] == 423
        assert s.request("GET", "/media/1").status == 423
        # The unlock form needs the session and CSRF like any POST.
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        r = s.request("POST", "/unlock", f"csrf={s.csrf}&passphrase=wrong", headers=form)
        assert r.status == 401 and "did not open" in r.data.decode()  # type: ignore[attr-defined]
        r = s.request("POST", "/unlock", f"passphrase={PASSPHRASE}", headers=form, csrf=False)
        assert r.status == 403
        r = s.request(
            "POST",
            "/unlock",
            f"csrf={s.csrf}&passphrase={PASSPHRASE}",
            headers={**form, "Origin": "http://evil.example"},
        )
        assert r.status == 403
        r = s.request("POST", "/unlock", f"csrf={s.csrf}&passphrase={PASSPHRASE.replace(' ', '+')}", headers=form)
        assert r.status == 303 and r.headers["Location"] == "/"
        status, html = s.post("/api/chats")
        assert status == 200 and "合同 Deal" in html
        # Lock at once, then the recovery key opens it too.
        assert s.post("/api/lock")[0] == 200
        assert s.post("/api/chats")[0] == 423
        key = served_vault["RECOVERY_KEY"]
        r = s.request("POST", "/unlock", f"csrf={s.csrf}&kind=recovery&passphrase={key}", headers=form)
        assert r.status == 303
        assert s.post("/api/chats")[0] == 200
    finally:
        code, _, err = s.stop()
    assert code == 0 and "the key was wiped" in err


# -- what the page asks for ---------------------------------------------------------------------
def test_chats_search_conversation_and_media_through_the_server(server: Served) -> None:
    server.login()
    status, html = server.post("/api/chats")
    assert status == 200 and len(ids(html, "data-chat-id")) == 5
    status, html = server.post("/api/search", {"q": "警察"})
    assert status == 200 and len(ids(html, "data-message-id")) == 2 and "<mark>警察</mark>" in html
    # Traditional characters find the simplified text (the normaliser folds both).
    status, html = server.post("/api/search", {"q": "簽約"})
    assert len(ids(html, "data-message-id")) == 1 and "<mark>签约</mark>" in html
    # Text from the vault is escaped, never markup.
    _, html = server.post("/api/search", {"q": "not bold"})
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    # The query language: a filter, a sort, an unbalanced quote.
    _, html = server.post("/api/search", {"q": "from:Mei ok", "sort": "oldest"})
    assert len(ids(html, "data-message-id")) == 2
    assert server.post("/api/search", {"q": '"unbalanced ((', "sort": "relevance"})[0] == 200
    # A hit opens in its chat, around it.
    _, html = server.post("/api/search", {"q": "签约"})
    hit = ids(html, "data-message-id")[0]
    chat = re.search(r'data-open-chat="(\d+)" data-around="' + hit, html).group(1)  # type: ignore[union-attr]
    status, page = server.post("/api/chat", {"chat": chat, "around": hit})
    assert status == 200 and f'data-target="{hit}"' in page and "签约" in page
    assert 'class="reply"' in page and "times in" in page and 'class="day"' in page
    # Jump to a date; page older than the first.
    _, page = server.post("/api/chat", {"chat": chat, "date": "2024-05-03"})
    assert "delete me please" in page and "签约" not in page
    first = ids(page, "data-mid")[0]
    _, older = server.post("/api/messages", {"chat": chat, "before": first})
    assert "签约" in older
    # Media: an image inline, a 2.5 MB file by ranges (each answer at most 1 MiB).
    _, gallery = server.post("/api/media", {"kind": "image"})
    image = ids(gallery, "data-att")[0]
    r = server.request("GET", f"/media/{image}")
    assert r.status == 200 and r.headers["Content-Type"].startswith("image/")
    assert r.data.startswith(b"\x89PNG")  # type: ignore[attr-defined]
    _, gallery = server.post("/api/media", {"kind": "file"})
    big = ids(gallery, "data-att")[0]
    r = server.request("GET", f"/media/{big}", headers={"Range": "bytes=100-199"})
    assert r.status == 206 and r.headers["Content-Range"] == f"bytes 100-199/{len(BIG)}"
    assert r.data == BIG[100:200]  # type: ignore[attr-defined]
    r = server.request("GET", f"/media/{big}", headers={"Range": "bytes=1000000-"})
    assert r.status == 206 and r.data == BIG[1000000 : 1000000 + 1024 * 1024]  # type: ignore[attr-defined]
    assert "attachment" in r.headers["Content-Disposition"] and "big.bin" not in r.headers["Content-Disposition"]
    assert server.request("GET", f"/media/{big}", headers={"Range": "bytes=9999999-"}).status == 416
    r = server.request("GET", f"/media/{big}")
    assert r.status == 200 and r.data == BIG  # type: ignore[attr-defined]
    # People across sources, insights as SVG.
    status, html = server.post("/api/people")
    assert status == 200 and "Mei" in html and "telegram" in html and "wechat" in html
    status, html = server.post("/api/insights", {"year": "2023"})
    assert status == 200 and "<svg" in html and 'class="l' in html and "2023-01-21" in html


def test_delete_asks_naming_what_goes_then_deletes_for_good(server: Served) -> None:
    server.login()
    _, html = server.post("/api/search", {"q": "delete me"})
    [mid] = ids(html, "data-message-id")
    status, body = server.post("/api/delete", {"message": mid})
    question = json.loads(body)["question"]
    assert "Li" in question and "delete me please" in question and "合同 Deal" in question
    assert server.post("/api/search", {"q": "delete me"})[1].count("data-message-id") == 1  # asking deleted nothing
    status, body = server.post("/api/delete", {"message": mid, "confirm": True})
    assert status == 200 and json.loads(body) == {"deleted": 1, "attachments": 0}
    assert "data-message-id" not in server.post("/api/search", {"q": "delete me"})[1]
    # A whole chat: the question names it and counts what goes.
    _, chats = server.post("/api/chats")
    work = re.search(r'data-chat-id="(\d+)" data-filter="Work', chats).group(1)  # type: ignore[union-attr]
    question = json.loads(server.post("/api/delete", {"chat": work})[1])["question"]
    assert "Work 工作" in question and "1 messages" in question
    assert json.loads(server.post("/api/delete", {"chat": work, "confirm": True})[1])["deleted"] == 1
    assert "Work 工作" not in server.post("/api/chats")[1]
    assert server.post("/api/delete", {"message": mid})[0] == 400  # gone: a clean refusal
    # A selection: the question names each message; both go.
    _, html = server.post("/api/search", {"q": "from:Mei ok"})
    pair = ids(html, "data-message-id")
    assert len(pair) == 2
    question = json.loads(server.post("/api/delete", {"messages": pair})[1])["question"]
    assert "these 2 messages" in question and question.count("“ok”") == 2
    assert json.loads(server.post("/api/delete", {"messages": pair, "confirm": True})[1])["deleted"] == 2
    assert "data-message-id" not in server.post("/api/search", {"q": "from:Mei ok"})[1]
    assert server.post("/api/delete", {"messages": ["1; DROP"]})[0] == 400


def test_export_is_a_download_from_memory(server: Served, served_vault: dict[str, str]) -> None:
    server.login()
    _, chats = server.post("/api/chats")
    deal = re.search(r'data-chat-id="(\d+)" data-filter="合同', chats).group(1)  # type: ignore[union-attr]
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    for fmt, needle in (("txt", "明天签约"), ("jsonl", '"明天签约'), ("html", "明天签约")):
        r = server.request("POST", "/api/export", f"csrf={server.csrf}&chat={deal}&format={fmt}", headers=form)
        assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
        assert r.headers["Content-Disposition"] == f'attachment; filename="chat-{deal}.{fmt}"'
        assert needle in r.data.decode("utf-8")  # type: ignore[attr-defined]
    r = server.request("POST", "/api/export", f"chat={deal}&format=txt", headers=form, csrf=False)
    assert r.status == 403  # no CSRF token
    # Nothing was written anywhere: the vault folder holds the vault only, the temp dir nothing.
    assert sorted(p.name for p in Path(served_vault["TALKVAULT_DIR"]).iterdir()) == ["keyslots.json", "vault.db"]
    assert list(Path(os.environ["TMPDIR"]).iterdir()) == []


def test_nothing_with_content_on_the_servers_output(served_vault: dict[str, str]) -> None:
    s = Served(served_vault)
    s.login()
    for q in ("警察", SERVE_CANARY, CANARY, "签约"):
        assert s.post("/api/search", {"q": q})[0] == 200
    s.post("/api/chat", {"chat": "合同 Deal"})
    s.request("GET", "/nowhere")
    code, out, err = s.stop()
    assert code == 0
    for needle in ("警察", SERVE_CANARY, CANARY, "签约", "合同", "/api/", "GET", "POST"):
        assert needle not in out and needle not in err, needle


def test_a_port_in_use_is_a_clean_usage_error(server: Served, served_vault: dict[str, str]) -> None:
    r = cli("serve", "--no-browser", "--port", str(server.port), env=served_vault, timeout=60)
    assert r.code == 2 and f"cannot listen on 127.0.0.1:{server.port}" in r.err and "Traceback" not in r.err
    assert r.out == ""


def test_a_reply_to_an_old_message_is_found_on_demand(new_vault: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from vault.operations import browse

    lines = [{"type": "talkvault", "version": 1}, {"type": "chat", "source": "signal", "key": "k", "title": "Long"}]
    lines += [
        {
            "type": "message",
            "chat": "k",
            "ts": f"2024-01-01T10:{i:02d}:00Z",
            "sender": "Li",
            "text": f"m{i}",
            "id": f"s{i}",
        }
        for i in range(30)
    ]
    lines.append(
        {"type": "message", "chat": "k", "ts": "2024-01-01T11:00:00Z", "sender": "Mei", "text": "re", "reply_to": "s0"}
    )
    new_vault.import_path(write(tmp_path / "long.jsonl", jsonl_lines(lines)))
    monkeypatch.setattr(browse, "QUOTE_WINDOW", 5)
    page = new_vault.conversation("Long", limit=3)
    reply = page["messages"][-1]
    assert reply["text"] == "re" and reply["quote"] == {"id": None, "sender": None, "snippet": None}
    monkeypatch.setattr(browse, "QUOTE_WINDOW", 100)
    near = new_vault.conversation("Long", limit=3)["messages"][-1]
    target = new_vault.find_source("Long", "s0")
    assert near["quote"]["id"] == target and near["quote"]["snippet"] == "m0"
    around = new_vault.conversation("Long", around=target, limit=4)
    assert around["target"] == target and around["messages"][0]["text"] == "m0" and not around["older"]


def test_reply_of_opens_the_replied_message(server: Served) -> None:
    server.login()
    _, html = server.post("/api/search", {"q": SERVE_CANARY})
    [reply] = ids(html, "data-message-id")
    _, target_html = server.post("/api/search", {"q": "签约"})
    [target] = ids(target_html, "data-message-id")
    status, page = server.post("/api/chat", {"chat": "合同 Deal", "reply_of": reply})
    assert status == 200 and f'data-target="{target}"' in page
