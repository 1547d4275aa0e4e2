"""The letter page and widget from memory (decision 0086): rendered once per letter revision,
locale and page, conditional requests, re-rendered by every event that changes them, and a
letter page that lists one page of signatories (the PDF all of them)."""

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.embed import router as embed_router
from app.embed.cache import count_cache


@pytest.fixture
def renders(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every render of a letter page or widget (template name), as it happens."""
    seen: list[str] = []
    real = embed_router._render

    def counting(template: str, ui: Any, **context: Any) -> str:
        seen.append(template)
        return real(template, ui, **context)

    monkeypatch.setattr(embed_router, "_render", counting)
    return seen


def numbers(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<span class="number">(\d+)\.</span>', html)]


@pytest.mark.parametrize("path", ["/letters/partner-letter", "/embed/partner-letter"])
def test_rendered_once_then_304_then_new_after_a_signature(
    client: TestClient,
    letter: str,
    sign: Callable[..., Any],
    renders: list[str],
    path: str,
) -> None:
    sign(letter, "Access Now")
    first = client.get(path, params={"locale": "en"})
    assert first.status_code == 200 and "1 organisation has signed" in first.text
    etag = first.headers["etag"]
    assert first.headers["cache-control"].startswith("public, max-age=10, stale-while-revalidate")
    again = client.get(path, params={"locale": "en"})
    assert again.status_code == 200 and again.headers["etag"] == etag
    not_modified = client.get(path, params={"locale": "en"}, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304 and not_modified.content == b""
    assert len(renders) == 1  # three requests, one render
    # Another locale is another representation.
    french = client.get(path, params={"locale": "fr"})
    assert french.headers["etag"] != etag and len(renders) == 2
    # A signature in this process evicts the letter at once: new page, new ETag.
    sign(letter, "Article 19")
    after = client.get(path, params={"locale": "en"}, headers={"If-None-Match": etag})
    assert after.status_code == 200 and "2 organisations have signed" in after.text
    assert after.headers["etag"] != etag and len(renders) == 3


def test_another_workers_write_is_seen_after_the_revision_check(
    client: TestClient,
    letter: str,
    sign: Callable[..., Any],
    coordinator_headers: dict[str, str],
    override_settings: Callable[..., None],
) -> None:
    """A translation added elsewhere (no eviction in this process) shows once the worker
    re-reads the letter's revision: the revision versions the text, not only the counts."""
    override_settings(count_cache_ttl=0)
    sign(letter, "Access Now")
    spanish = client.get(f"/letters/{letter}", params={"locale": "es"})
    assert "Free the press" in spanish.text  # no Spanish version yet: the English one
    patched = client.patch(
        f"/api/v1/letters/{letter}",
        json={"translations": [{"lang": "es", "title": "Liberen a la prensa", "body": "Pedimos."}]},
        headers=coordinator_headers,
    )
    assert patched.status_code == 200, patched.text
    count_cache.clear()  # as if the PATCH had been served by another worker: nothing evicted
    assert "Liberen a la prensa" in client.get(f"/letters/{letter}", params={"locale": "es"}).text


def test_pages_of_signatories_number_on_and_the_pdf_has_them_all(
    client: TestClient,
    letter: str,
    sign: Callable[..., Any],
    override_settings: Callable[..., None],
) -> None:
    override_settings(letter_page_size=2)
    for index, name in enumerate(
        ["Alpha Group", "Beta Group", "Gamma Group", "Delta Group", "Epsilon Group"]
    ):
        sign(letter, name)
        if index == 1:
            sign(letter, f"Hidden {name}", anonymous=True)
    pages = [
        client.get(f"/letters/{letter}", params={"locale": "en", "page": n}) for n in (1, 2, 3, 4)
    ]
    assert [p.status_code for p in pages] == [200, 200, 200, 404]
    assert [numbers(p.text) for p in pages[:3]] == [[1, 2], [3, 4], [5]]
    assert 'rel="next"' in pages[0].text and 'rel="prev"' not in pages[0].text
    assert 'rel="prev"' in pages[2].text and 'rel="next"' not in pages[2].text
    assert "Signatories 3 to 4 of 5" in pages[1].text
    assert "Hidden" not in "".join(p.text for p in pages)
    assert client.get(f"/letters/{letter}", params={"page": 0}).status_code == 400


def test_print_view_lists_every_signatory(
    client: TestClient,
    letter: str,
    sign: Callable[..., Any],
    override_settings: Callable[..., None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    override_settings(letter_page_size=2)
    for name in ["Alpha Group", "Beta Group", "Gamma Group"]:
        sign(letter, name)
    printed: list[str] = []
    real = embed_router._render

    def keep(template: str, ui: Any, **context: Any) -> str:
        html = real(template, ui, **context)
        if context.get("for_print"):
            printed.append(html)
        return html

    monkeypatch.setattr(embed_router, "_render", keep)
    assert client.get(f"/letters/{letter}.pdf", params={"locale": "en"}).status_code == 200
    assert numbers(printed[0]) == [1, 2, 3] and 'rel="next"' not in printed[0]


def test_letter_page_links_to_the_signing_form_and_the_text_history_when_they_exist(
    client: TestClient, coordinator_headers: dict[str, str], make_letter: Any
) -> None:
    make_letter(coordinator_headers, slug="linked-letter")
    page = client.get("/letters/linked-letter").text
    assert "/letters/linked-letter/sign" not in page and "/versions" not in page
    opened = client.patch(
        "/api/v1/letters/linked-letter", json={"self_signing": True}, headers=coordinator_headers
    )
    assert opened.status_code == 200, opened.text
    page = client.get("/letters/linked-letter").text
    assert 'href="/letters/linked-letter/sign?locale=' in page
    assert "/letters/linked-letter/versions" not in page
    signed = client.post(
        "/api/v1/letters/linked-letter/signatures",
        json={"organisation": {"name": "Early Signer Org"}},
        headers=coordinator_headers,
    )
    assert signed.status_code == 201, signed.text
    changed = client.patch(
        "/api/v1/letters/linked-letter",
        json={"body": "We ask, more clearly.", "text_change_reason": "clarity"},
        headers=coordinator_headers,
    )
    assert changed.status_code == 200, changed.text
    assert "/letters/linked-letter/versions?locale=" in client.get("/letters/linked-letter").text
