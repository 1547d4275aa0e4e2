"""In Chromium: the API docs work with the network cut off; the letter page's signatory columns
never overlap, at phone, tablet and desktop widths, in a left-to-right and a right-to-left script
and in Chinese (screenshots kept in test-artifacts/)."""

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

WIDTHS = (320, 768, 1280)
LOCALES = ("en", "ar", "zh-Hant")


def offline_page(browser: Any, requests_elsewhere: list[str], **options: Any) -> Any:
    """A page that can reach only this machine: every other request is aborted and noted."""
    page = browser.new_page(**options)

    def route(request_route: Any) -> None:
        host = urlparse(request_route.request.url).hostname
        if host in ("127.0.0.1", "localhost") or request_route.request.url.startswith(
            ("data:", "blob:")
        ):
            request_route.continue_()
        else:
            requests_elsewhere.append(request_route.request.url)
            request_route.abort()

    page.route("**/*", route)
    return page


@pytest.mark.browser
def test_docs_and_redoc_render_offline(live_server: str, browser: Any, artifacts_dir: Path) -> None:
    elsewhere: list[str] = []
    violations: list[str] = []
    page = offline_page(browser, elsewhere, viewport={"width": 1280, "height": 900})
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    try:
        page.goto(f"{live_server}/docs")
        page.wait_for_selector(".opblock-summary", timeout=30_000)
        operations = page.locator(".opblock-summary-path").all_inner_texts()
        assert "/api/v1/letters/{slug}/count" in [o.replace("\u200b", "") for o in operations]
        assert len(operations) > 20
        page.screenshot(path=str(artifacts_dir / "docs-offline.png"))
        page.goto(f"{live_server}/redoc")
        page.wait_for_selector("text=Signature counts of a public letter", timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "redoc-offline.png"))
    finally:
        page.close()
    assert elsewhere == []
    # Nothing of ours is blocked; ReDoc's "powered by" logo on its CDN is, and ReDoc hides it.
    assert not any("script-src" in v or "style-src" in v or live_server in v for v in violations)
    assert all("https://cdn.redoc.ly/" in v for v in violations)


INTERSECTIONS = """() => {
  const boxes = [...document.querySelectorAll('.names li')].map(e => e.getBoundingClientRect());
  const found = [];
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i], b = boxes[j];
      const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
      const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
      if (w > 0.5 && h > 0.5) found.push([i + 1, j + 1]);
    }
  }
  const numbers = [...document.querySelectorAll('.names li')].filter(li => {
    const n = li.querySelector('.number').getBoundingClientRect();
    const r = li.getBoundingClientRect();
    return n.left < r.left - 0.5 || n.right > r.right + 0.5;
  }).length;
  const root = document.scrollingElement;
  return {count: boxes.length, found, numbersOutside: numbers,
          overflow: root.scrollWidth - root.clientWidth};
}"""


@pytest.mark.browser
@pytest.mark.slow
def test_signatory_columns_never_overlap(
    live_server: str, seeded: str, browser: Any, artifacts_dir: Path
) -> None:
    elsewhere: list[str] = []
    for width in WIDTHS:
        page = offline_page(browser, elsewhere, viewport={"width": width, "height": 900})
        try:
            for locale in LOCALES:
                page.goto(f"{live_server}/letters/{seeded}?locale={locale}")
                result = page.evaluate(INTERSECTIONS)
                assert result["count"] == 200  # the first page (letter_page_size)
                assert result["found"] == [], (width, locale, result["found"][:5])
                assert result["numbersOutside"] == 0, (width, locale)
                assert result["overflow"] <= 0, (width, locale)
                page.screenshot(
                    path=str(artifacts_dir / f"letter-{locale}-{width}.png"), full_page=True
                )
        finally:
            page.close()
    assert elsewhere == []
