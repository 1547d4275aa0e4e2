"""A partner page on another origin embeds the widget (embed.js) and the badge in Chromium."""

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import expect

from tests.conftest import free_port

PARTNER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Partner</title></head>
<body style="font-family: sans-serif; margin: 24px; width: 520px">
<h1>Partner site</h1>
<script src="{server}/embed.js" data-letter="{slug}" data-locale="{locale}" async></script>
<p><img id="badge" src="{server}/api/v1/letters/{slug}/badge.svg?locale={locale}" alt=""></p>
</body></html>
"""


@pytest.fixture
def partner_site() -> Iterator[tuple[str, dict[str, str]]]:
    """A second origin (another port) serving the partner pages put in the returned dict."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = pages.get(self.path)
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write((body or "not found").encode("utf-8"))

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", pages
    server.shutdown()
    server.server_close()


EXPECTED = {
    "en": ("3 organisations have signed, 1 of them anonymously", "ltr", "Free the press"),
    "ar": ("وقّعت 3 منظمات، منها منظمة واحدة دون الكشف عن هويتها", "rtl", "أطلقوا سراح الصحافة"),
    "zh-Hant": ("已有3個組織連署，其中1個為匿名連署", "ltr", "新聞自由"),
}
AFTER = {
    "en": "4 organisations have signed, 1 of them anonymously",
    "ar": "وقّعت 4 منظمات، منها منظمة واحدة دون الكشف عن هويتها",
    "zh-Hant": "已有4個組織連署，其中1個為匿名連署",
}


@pytest.mark.browser
def test_partner_page_embeds_widget_and_badge(
    live_server: str,
    browser: Any,
    artifacts_dir: Path,
    partner_site: tuple[str, dict[str, str]],
    client: TestClient,
    make_letter: Callable[..., Any],
    coordinator_headers: dict[str, str],
    override_settings: Callable[..., None],
) -> None:
    # Short freshness so the refresh is observable; the live server reads settings per request.
    override_settings(count_max_age=1, count_cache_ttl=0.2)
    slug = "browser-letter"
    make_letter(
        coordinator_headers,
        slug=slug,
        title="Free the press",
        translations=[
            {"lang": "ar", "title": "أطلقوا سراح الصحافة"},
            {"lang": "zh-Hant", "title": "新聞自由"},
        ],
    )
    url = f"/api/v1/letters/{slug}/signatures"
    for body in (
        {"organisation": {"name": "Access Now"}},
        {"organisation": {"name": "Front Line Defenders"}},
        {"anonymous": True},
    ):
        assert client.post(url, json=body, headers=coordinator_headers).status_code == 201

    origin, pages = partner_site
    opened = []
    for locale in EXPECTED:
        pages[f"/{locale}.html"] = PARTNER_PAGE.format(server=live_server, slug=slug, locale=locale)
        page = browser.new_page(viewport={"width": 640, "height": 360})
        statuses: list[int] = []
        page.on(
            "response",
            lambda r, statuses=statuses: statuses.append(r.status) if "/count" in r.url else None,
        )
        page.goto(f"{origin}/{locale}.html")
        sentence, direction, title = EXPECTED[locale]
        frame = page.frame_locator("iframe")
        count = frame.locator("#count")
        count.wait_for()
        assert count.inner_text() == sentence
        assert frame.locator(".title").inner_text() == title
        assert frame.locator("html").get_attribute("dir") == direction
        assert count.evaluate("e => getComputedStyle(e).direction") == direction
        if direction == "rtl":
            # Right-to-left layout: the sentence hugs the right edge of the widget.
            box = count.evaluate(
                "e => { const r = document.createRange(); r.selectNodeContents(e);"
                " const t = r.getBoundingClientRect(), p = e.getBoundingClientRect();"
                " return [t.left - p.left, p.right - t.right]; }"
            )
            assert box[1] < 2 < box[0]
        # embed.js sized the iframe to the widget's height (posted by the widget).
        page.wait_for_function(
            "() => document.querySelector('iframe').style.height !== '120px'", timeout=5000
        )
        # The badge from the other origin rendered (a broken image has no natural width).
        page.wait_for_function("() => document.getElementById('badge').naturalWidth > 100")
        page.screenshot(path=str(artifacts_dir / f"embed-{locale}.png"))
        if locale != "zh-Hant":  # CI machines may lack CJK fonts: their width would be tofu's
            fits = browser.new_page()
            fits.goto(f"{live_server}/api/v1/letters/{slug}/badge.svg?locale={locale}")
            text_px, badge_px = fits.evaluate(
                "() => [document.querySelector('text').getComputedTextLength(),"
                " document.documentElement.width.baseVal.value]"
            )
            fits.close()
            assert text_px < badge_px - 8 and badge_px - text_px < 60, (text_px, badge_px)
        opened.append((locale, page, count, statuses))

    # Once max-age passes the widgets revalidate with If-None-Match and get 304 Not Modified.
    deadline = time.monotonic() + 10
    while not all(304 in statuses for *_, statuses in opened):
        assert time.monotonic() < deadline, [s for *_, s in opened]
        opened[0][1].wait_for_timeout(200)

    assert (
        client.post(
            url,
            json={"organisation": {"name": "Reporters Without Borders"}},
            headers=coordinator_headers,
        ).status_code
        == 201
    )
    for locale, page, count, _ in opened:
        # Within max-age (1 s) + the server cache TTL, with slack for a loaded CI machine.
        expect(count).to_have_text(AFTER[locale], timeout=10_000)
        page.screenshot(path=str(artifacts_dir / f"embed-{locale}-after.png"))
        page.close()
