"""`talkvault serve` in a real browser (Debian's Chromium driven by Playwright, never a downloaded one):
open the printed URL, list chats, open one, search Chinese (simplified and traditional), open a hit
in context, see an image from the vault, delete a message, meet the unlock page after a short idle
lock; meanwhile no request leaves 127.0.0.1, no query or message text is in any URL or title, and
after the session no file outside the vault (the browser's profile included) holds the canary.
Screenshots of each view go to docs/serve-*.png.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PASSPHRASE, ROOT
from tests.test_export import CANARY
from tests.test_serve import SERVE_CANARY, Served, served_vault  # noqa: F401 - the fixture

sync_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = Path(os.environ.get("TALKVAULT_TEST_CHROMIUM", "/usr/bin/chromium"))
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
]
DOCS = ROOT / "docs"
LOCK_MINUTES = 0.15  # 9 seconds without a request

if not CHROMIUM.exists():
    pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True)


def files_containing(root: Path, needles: list[bytes], skip: Path) -> list[str]:
    found = []
    for p in root.rglob("*"):
        if not p.is_file() or p.is_symlink() or p.resolve().is_relative_to(skip):
            continue
        try:
            data = p.read_bytes()
        except OSError:
            continue
        found += [f"{p}: {n!r}" for n in needles if n in data]
    return found


def test_a_session_in_chromium(served_vault: dict[str, str], tmp_path: Path, hermetic: Path) -> None:  # noqa: F811
    server: Served | None = None
    profile = tmp_path / "profile"
    requests: list[str] = []
    titles: set[str] = set()
    dialogs: list[str] = []
    try:
        with sync_api.sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(
                str(profile),
                executable_path=str(CHROMIUM),
                args=ARGS,
                headless=True,
                viewport={"width": 1000, "height": 760},
                accept_downloads=False,
            )
            try:
                page = ctx.new_page()
                # Started once the browser is up: the idle clock runs from the server's start.
                server = Served(served_vault, "--lock-after", str(LOCK_MINUTES))
                page.on("request", lambda r: requests.append(r.url))
                page.on("framenavigated", lambda f: titles.add(f.url))

                def dialog(d: Any) -> None:
                    dialogs.append(d.message)
                    d.accept()

                page.on("dialog", dialog)

                def shot(name: str) -> None:
                    titles.add("title:" + page.title())
                    page.screenshot(path=str(DOCS / f"serve-{name}.png"))

                # The printed URL: the token becomes a cookie, the address loses it.
                events: list[str] = []
                page.on("requestfinished", lambda r: events.append(f"done {r.url}"))
                page.on("requestfailed", lambda r: events.append(f"failed {r.url} {r.failure}"))
                page.on("console", lambda m: events.append(f"console {m.type} {m.text}"))
                page.goto(server.url)
                assert page.url == f"{server.origin}/"
                try:
                    page.wait_for_selector("[data-chat-id]")
                except sync_api.TimeoutError:
                    raise AssertionError(f"the chat list did not come: {requests} {events} {page.content()}") from None
                assert page.title() == "talkvault"
                assert page.locator("[data-chat-id]").count() == 5
                shot("chats")
                page.fill("#chat-filter", "合同")
                assert page.locator("[data-chat-id]:visible").count() == 1
                page.fill("#chat-filter", "")

                # A conversation: bubbles, a day separator, the image from the vault.
                page.click("[data-chat-id] button:has-text('家人 Family')")
                page.wait_for_selector(".msg")
                assert page.locator(".day").count() >= 1 and page.locator(".msg.me").count() >= 1
                img = page.locator(".msg img").first
                img.scroll_into_view_if_needed()
                page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=10_000)
                assert img.evaluate("i => i.naturalWidth") == 64
                page.locator(".msg").last.scroll_into_view_if_needed()
                shot("chat")

                # Search: simplified, then traditional characters finding simplified text.
                page.fill("input[type=search]", "警察")
                page.press("input[type=search]", "Enter")
                page.wait_for_selector("[data-message-id]")
                assert page.locator("[data-message-id]").count() == 2
                assert page.locator("[data-message-id] mark").first.inner_text() == "警察"
                shot("search")
                page.fill("input[type=search]", "簽約")
                page.press("input[type=search]", "Enter")
                page.wait_for_selector("[data-message-id] mark:has-text('签约')")
                assert page.locator("[data-message-id]").count() == 1

                # Open the hit in its conversation, at that message.
                page.click("[data-message-id] button:has-text('Open in chat')")
                page.wait_for_selector(".msg.target")
                assert "签约" in page.locator(".msg.target").inner_text()
                assert page.locator(f".msg:has-text('{SERVE_CANARY}')").count() == 1  # the canary was shown

                # Delete a message: the question names it; then it is gone.
                page.locator(".msg:has-text('delete me please') .del").click()
                page.wait_for_selector(".msg:has-text('delete me please')", state="detached")
                assert dialogs and "delete me please" in dialogs[-1] and "Li" in dialogs[-1]
                page.fill("input[type=search]", "delete me")
                page.press("input[type=search]", "Enter")
                page.wait_for_selector("text=Nothing found.")
                # A selection of two search hits, deleted together.
                page.fill("input[type=search]", "from:Mei ok")
                page.press("input[type=search]", "Enter")
                page.wait_for_selector("[data-message-id]")
                assert page.locator("[data-message-id]").count() == 2
                for box in page.locator("[data-message-id] .pick").all():
                    box.check()
                page.click("#delete-picked")
                page.wait_for_selector("[data-message-id]", state="detached")
                assert "these 2 messages" in dialogs[-1]

                # Media, people, insights.
                page.click("nav [data-view=media]")
                page.wait_for_selector(".gallery .tile img")
                shot("media")
                page.click("nav [data-view=people]")
                page.wait_for_selector(".personlist li")
                shot("people")
                page.click("nav [data-view=insights]")
                page.wait_for_selector("svg.heat rect")
                page.click(".insights [data-year='2023']")
                page.wait_for_selector(".insights h1:has-text('2023')")
                shot("insights")
                page.emulate_media(color_scheme="dark")
                page.click("nav [data-view=chats]")
                page.click("[data-chat-id] button:has-text('Sora')")
                page.wait_for_selector(".msg")
                shot("chat-dark")
                page.emulate_media(color_scheme="light")
                # 200% zoom is half the CSS width: the header and the bubbles wrap, nothing scrolls sideways.
                page.set_viewport_size({"width": 500, "height": 760})
                page.click("nav [data-view=chats]")
                page.click("[data-chat-id] button:has-text('家人 Family')")
                page.wait_for_selector(".msg")
                assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
                shot("zoom200")
                page.set_viewport_size({"width": 1000, "height": 760})

                # Idle: the key is wiped and the page asks for the passphrase.
                time.sleep(LOCK_MINUTES * 60 + 1.0)
                page.click("nav [data-view=chats]")
                page.wait_for_selector("input[type=password]")
                assert page.title() == "talkvault"
                assert "合同" not in page.content()
                shot("unlock")
                page.fill("input[type=password]", PASSPHRASE)
                page.click("button[type=submit]")
                page.wait_for_selector("[data-chat-id]")
                assert page.locator("[data-chat-id]").count() == 5
                titles.add("title:" + page.title())
            finally:
                ctx.close()
    finally:
        if server is not None:
            code, _, err = server.stop()
    assert server is not None and code == 0 and "the key was wiped" in err

    # Nothing but this server was asked for anything.
    assert requests and all(u.startswith(server.origin + "/") for u in requests), requests
    # No query, message text or title in any address or page title.
    words = ["警察", "簽約", "签约", "delete me", "合同", "家人", SERVE_CANARY, CANARY]
    seen = " ".join(requests) + " " + " ".join(titles)
    from urllib.parse import unquote

    for w in words:
        assert w not in unquote(seen), w
    assert {t for t in titles if t.startswith("title:")} == {"title:talkvault"}
    # No file outside the vault holds the canaries or the queries: the browser's profile (cache,
    # history, session) and the test's home, temp and XDG dirs included.
    needles = [n.encode(enc) for n in (SERVE_CANARY, CANARY, "签约", "警察") for enc in ("utf-8", "utf-16-le")]
    vault_dir = Path(served_vault["TALKVAULT_DIR"]).resolve()
    leaks = files_containing(profile, needles, vault_dir) + files_containing(hermetic, needles, vault_dir)
    assert leaks == []
    assert any(profile.rglob("*")), "the profile was written (the scan looked at something)"
