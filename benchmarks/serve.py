"""`talkvault serve` benchmark: the chat list and a 200,000-message chat through the server, and search p95.

The vault: five generated Telegram chats of N/5 messages each (datagen.write_telegram, seeds 1-5),
imported with a weak KDF, cached under benchmarks/out/. A real `talkvault serve` on 127.0.0.1 is
driven over HTTP as the page drives it: the page, its script, then its first data request.
"First paint" here is the time from the request for the page to the last byte of the fragment the
page shows first (the chat list; a chat's newest page), which bounds the browser's first paint
from below by the rendering time of a 60-message fragment (milliseconds). Search: each query of
benchmarks/search.py through POST /api/search, `--repeat` times; p50 and p95.

    python benchmarks/serve.py [--messages N] [--quick] [--repeat R]
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

CHATS = 5


def build(n: int) -> Path:
    from common import OUT, PASSPHRASE, kdf
    from datagen import write_telegram

    import vault

    base = OUT / f"serve-{n}"
    path = base / "vault"
    if (base / "done").exists():
        return path
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    t = time.perf_counter()
    with vault.create(path, PASSPHRASE, kdf=kdf(), kdf_chosen=True) as v:
        for i in range(CHATS):
            src = write_telegram(base / f"tg{i}" / "result.json", n // CHATS, seed=i + 1, chat_id=1000 + i,
                                 name=f"Benchmark chat {i + 1}")  # fmt: skip
            v.import_path(src)
            shutil.rmtree(src.parent)
    print(f"# built a {n:,}-message vault ({CHATS} chats) in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    (base / "done").write_text("ok")
    return path


class Client:
    def __init__(self, url: str) -> None:
        m = re.match(r"http://127\.0\.0\.1:(\d+)/\?token=(.+)$", url)
        assert m
        self.port = int(m.group(1))
        self.host = f"127.0.0.1:{self.port}"
        r, _ = self.get(f"/?token={m.group(2)}")
        self.cookie = r.headers["Set-Cookie"].split(";")[0]
        _, page = self.get("/")
        self.csrf = re.search(r'data-csrf="([^"]+)"', page.decode()).group(1)  # type: ignore[union-attr]

    def _do(self, method: str, path: str, body: str | None = None) -> tuple[http.client.HTTPResponse, bytes]:
        h = {"Host": self.host}
        if getattr(self, "cookie", None):
            h["Cookie"] = self.cookie
        if method == "POST":
            h.update({"Origin": f"http://{self.host}", "X-CSRF-Token": self.csrf, "Content-Type": "application/json"})
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r, data

    def get(self, path: str) -> tuple[http.client.HTTPResponse, bytes]:
        return self._do("GET", path)

    def post(self, path: str, doc: dict[str, object]) -> bytes:
        r, data = self._do("POST", path, json.dumps(doc))
        assert r.status == 200, (r.status, data[:200])
        return data


def main() -> None:
    from common import PASSPHRASE, arguments, messages
    from search import QUERIES

    ap = arguments(__doc__, json_out=False)
    ap.add_argument("--repeat", type=int, default=10)
    a = ap.parse_args()
    n = messages(a)
    path = build(n)
    env = {**os.environ, "TALKVAULT_DIR": str(path), "TALKVAULT_PASSPHRASE": PASSPHRASE,
           "PYTHONPATH": str(HERE.parent)}  # fmt: skip
    p = subprocess.Popen([sys.executable, "-m", "vault", "serve", "--no-browser", "--json"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, env=env, text=True)  # fmt: skip
    try:
        assert p.stdout is not None
        c = Client(json.loads(p.stdout.readline())["url"])
        rows = []
        t = time.perf_counter()
        c.get("/")
        c.get("/static/app.js")
        chats = c.post("/api/chats", {})
        rows.append(("chat list (page + script + list)", time.perf_counter() - t))
        chat = re.findall(r'data-chat-id="(\d+)"', chats.decode())[0]
        for label in ("a 200,000-message chat, newest page (cold)", "the same, again"):
            t = time.perf_counter()
            c.post("/api/chat", {"chat": chat})
            rows.append((label, time.perf_counter() - t))
        t = time.perf_counter()
        c.post("/api/chat", {"chat": chat, "date": "2018-06-01"})
        rows.append(("the same chat, jump to a date", time.perf_counter() - t))
        page = c.post("/api/chat", {"chat": chat}).decode()
        first = re.findall(r'data-mid="(\d+)"', page)[0]
        t = time.perf_counter()
        c.post("/api/messages", {"chat": chat, "before": first})
        rows.append(("the same chat, one older page", time.perf_counter() - t))
        times: list[float] = []
        for _name, q, _ in QUERIES:
            for _ in range(a.repeat):
                t = time.perf_counter()
                c.post("/api/search", {"q": q})
                times.append(time.perf_counter() - t)
        times.sort()
        p95 = times[max(0, round(0.95 * len(times)) - 1)]
        rows.append((f"search p50 ({len(QUERIES)} queries x {a.repeat})", statistics.median(times)))
        rows.append((f"search p95 ({len(QUERIES)} queries x {a.repeat})", p95))
        t = time.perf_counter()
        c.post("/api/insights", {})
        rows.append(("insights, every chat, the latest year", time.perf_counter() - t))
        print(f"# {n:,} messages in {CHATS} chats of {n // CHATS:,}")
        for label, s in rows:
            print(f"{label}: {s * 1000:.0f} ms")
    finally:
        p.terminate()
        p.wait(timeout=30)


if __name__ == "__main__":
    main()
