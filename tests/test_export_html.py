"""The HTML export in a real headless browser: it renders offline, its images load, its search box
finds Chinese, Japanese and case-folded words, its pages link up, and its Content-Security-Policy
lets nothing else run or load.

Uses the system's Chromium (Debian package `chromium`) driven by Playwright for Python, never a
browser that Playwright downloads. Skipped when either is missing; CI installs both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_export import fill, other_vault

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path(os.environ.get("TALKVAULT_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


class Watched:
    """A page whose every request, console error, script error and dialog is recorded."""

    def __init__(self, browser: Any) -> None:
        self.context = browser.new_context(viewport={"width": 900, "height": 700})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("requestfailed", lambda r: self.failed.append((r.url, r.failure or "")))
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))

        def dialog(d: Any) -> None:
            self.dialogs.append(d.message)
            d.dismiss()

        self.page.on("dialog", dialog)

    def visible(self) -> list[str]:
        return self.page.eval_on_selector_all(
            "#log [data-item]", "els => els.filter(e => !e.hidden).map(e => e.textContent)"
        )

    def search(self, term: str) -> list[str]:
        self.page.fill("#q", term)
        return self.visible()

    def images_loaded(self) -> list[int]:
        for handle in self.page.query_selector_all("img"):
            handle.scroll_into_view_if_needed()
        self.page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=10_000, polling=50)
        return self.page.eval_on_selector_all("img", "imgs => imgs.map(i => i.naturalWidth)")

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def watched(browser: Any) -> Iterator[Watched]:
    w = Watched(browser)
    yield w
    w.close()


@pytest.fixture
def filled(new_vault, tmp_path):  # type: ignore[no-untyped-def]
    fill(new_vault, tmp_path / "sources")
    return new_vault


def test_all_chats_render_offline_with_images_and_search(filled, tmp_path, watched):
    res = filled.export(None, format="html", out=tmp_path / "html", all_chats=True, tz="Asia/Shanghai")
    assert res["chats"] == 4 and res["attachments"] == 3
    page = watched.page
    page.goto((tmp_path / "html" / "index.html").as_uri())
    assert len(watched.visible()) == 4
    found = watched.search("FAMILY")
    assert len(found) == 1 and found[0].startswith("家人 Family")
    page.click("text=家人 Family")
    page.wait_for_url("**/2/index.html")
    assert page.title() == "家人 Family"

    # Images load from the attachments folder beside the page.
    widths = watched.images_loaded()
    assert widths == [64]

    # The search box: a Chinese word (traditional, as written), any substring of it, no match.
    every = watched.visible()
    assert len(every) == 12
    hits = watched.search("警察")
    assert len(hits) == 1 and "路上小心，警察今天查酒駕" in hits[0]
    assert len(watched.search("酒駕")) == 1
    assert page.text_content("#count") == "1 found"
    assert watched.search("不存在的词") == [] and page.text_content("#count") == "nothing found here"
    assert [h for h in watched.search("ok") if "ok" in h] and len(watched.search("ok")) == 2
    assert watched.search("") == every

    # Replies, reactions, a file link and a missing attachment are shown.
    reply = page.get_attribute("a.reply", "href")
    assert reply is not None and reply.startswith("#m") and page.is_visible(f"[id='{reply[1:]}']")
    assert "❤️" in page.text_content(".reactions")
    assert page.get_attribute("a.file", "download") == "big.bin"
    assert "[image: lost photo.jpg, not in the export]" in page.text_content(".missing")
    assert "[deleted]" in page.text_content("body")  # a message without text says what it is

    # The page's search folds like the vault (issue 17 item 14): simplified finds traditional and
    # back, case and accents aside; a hit shows its date, which the day separators no longer do.
    for term in ("新年快乐", "新年快樂", "查酒驾", "ＯＫ"):
        assert len(watched.search(term)) >= 1, term
    hits = watched.search("新年快乐")
    assert len(hits) == 1 and "2023-01-21" in hits[0]
    assert page.is_visible("#log [data-item]:not([hidden]) .date")
    watched.search("")
    assert not page.is_visible("#log [data-item] .date")

    # Japanese in another chat; a case-folded accented word in a third.
    page.goto((tmp_path / "html" / "3" / "index.html").as_uri())
    assert len(watched.search("東京")) == 1
    page.goto((tmp_path / "html" / "1" / "index.html").as_uri())
    assert watched.images_loaded() == [40]
    assert len(watched.search("CAFÉ SUNDAY")) == 1

    # Message text is inert: the markup a message holds is shown as text, never run.
    assert page.title() == "Book club 📚"
    assert "<script>alert(1)</script> & <b>not bold</b>" in page.text_content("body")
    assert watched.dialogs == [] and page.query_selector("main b:text('not bold')") is None

    assert watched.errors == []
    assert watched.requests and all(u.startswith("file://") for u in watched.requests), watched.requests


def test_the_content_security_policy_blocks_network_and_foreign_scripts(filled, tmp_path, watched):
    res = filled.export("1", format="html", out=tmp_path / "chat")
    page = watched.page
    page.goto(Path(res["main"]).as_uri())
    blocked = page.evaluate(
        """() => new Promise(resolve => {
            const seen = [];
            document.addEventListener("securitypolicyviolation", e => {
                seen.push(e.effectiveDirective);
                if (seen.length === 3) resolve(seen.sort());
            });
            const img = document.createElement("img");
            img.src = "http://127.0.0.1:9/beacon.png";
            document.body.appendChild(img);
            const s = document.createElement("script");
            s.textContent = "window.__ran = true";
            document.body.appendChild(s);
            const st = document.createElement("style");
            st.textContent = "body { display: none }";
            document.head.appendChild(st);
            setTimeout(() => resolve(seen.sort()), 5000);
        })"""
    )
    assert blocked == ["img-src", "script-src-elem", "style-src-elem"]
    assert page.evaluate("window.__ran === undefined")
    assert page.is_visible("main")
    # The browser refused the beacon itself: nothing left for the network.
    assert [(u, "csp" in why.lower()) for u, why in watched.failed] == [("http://127.0.0.1:9/beacon.png", True)]


def test_large_chats_are_paged_and_replies_link_across_pages(filled, tmp_path, watched):
    res = filled.export("家人 Family", format="html", out=tmp_path / "paged", page_size=3)
    names = sorted(p.name for p in (tmp_path / "paged").iterdir())
    assert names == ["attachments", "index.html", "page-2.html", "page-3.html", "page-4.html"]
    assert res["main"] == str(tmp_path / "paged" / "index.html") and res["messages"] + res["events"] == 12
    page = watched.page
    page.goto((tmp_path / "paged" / "index.html").as_uri())
    assert len(watched.visible()) == 3
    page.click("a[rel=next] >> nth=0")
    page.wait_for_url("**/page-2.html")
    assert watched.images_loaded() == [64]
    page.click("a[rel=next] >> nth=0")
    page.wait_for_url("**/page-3.html")
    # The reply on page 3 answers a message on page 2: the link goes there and lands on it.
    href = page.get_attribute("a.reply", "href")
    assert href is not None and href.startswith("page-2.html#m")
    page.click("a.reply")
    page.wait_for_url("**/page-2.html#m*")
    assert page.evaluate("document.querySelector(':target').textContent").find("Leaving at five.") >= 0
    assert watched.errors == []


def test_one_chat_without_files_is_one_self_contained_file(filled, tmp_path, watched, weak_kdf):
    out = tmp_path / "sora.html"
    res = filled.export("Sora ☀️", format="html", out=out)
    assert res["files"] == 1 and res["main"] == str(out) and out.is_file()
    page = watched.page
    page.goto(out.as_uri())
    assert len(watched.search("점심")) == 1 and len(watched.search("おはよう")) == 1
    assert watched.errors == [] and watched.requests == [out.as_uri()]
    # An empty chat still makes a page that opens.
    with other_vault(tmp_path, weak_kdf, "empty") as v:
        v.conn.execute("INSERT INTO chats(source, key, title, kind) VALUES ('x', 'k', 'Nobody yet', 'group')")
        empty = tmp_path / "empty.html"
        v.export("Nobody yet", format="html", out=empty)
    page.goto(empty.as_uri())
    assert page.title() == "Nobody yet" and watched.visible() == []
