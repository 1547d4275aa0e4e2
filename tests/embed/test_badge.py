"""SVG badge: valid XML, localised, RTL for Arabic, sized to its text, cacheable, escaped."""

import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.embed import badge
from app.i18n.negotiation import ui_locale

SVG = "{http://www.w3.org/2000/svg}"
URL = "/api/v1/letters/{}/badge.svg"


def _parse(content: bytes) -> ET.Element:
    root = ET.fromstring(content)
    assert root.tag == f"{SVG}svg"
    return root


def _text(root: ET.Element) -> ET.Element:
    element = root.find(f"{SVG}text")
    assert element is not None
    return element


def test_badge_is_localised_valid_svg(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    sign(letter, "Access Now")
    sign(letter, anonymous=True)
    for locale in ("en", "ru", "zh-Hant", "ja", "ar"):
        response = client.get(URL.format(letter), params={"locale": locale})
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/svg+xml"
        root = _parse(response.content)
        count = client.get(f"/api/v1/letters/{letter}/count", params={"locale": locale}).json()
        assert _text(root).text == count["text"]
        assert root.findtext(f"{SVG}title") == count["text"]
        width = int(root.attrib["width"])
        assert root.attrib["viewBox"] == f"0 0 {width} 20"
        assert float(_text(root).attrib["x"]) == width / 2
        if locale == "ar":
            assert _text(root).attrib["direction"] == "rtl"
        else:
            assert "direction" not in _text(root).attrib


def test_badge_caching_like_the_count(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    first = client.get(URL.format(letter), params={"locale": "de"})
    assert first.headers["cache-control"].startswith(
        "public, max-age=10, stale-while-revalidate=20"
    )
    not_modified = client.get(
        URL.format(letter),
        params={"locale": "de"},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert not_modified.status_code == 304
    sign(letter, "Access Now")
    changed = client.get(
        URL.format(letter),
        params={"locale": "de"},
        headers={"If-None-Match": first.headers["etag"]},
    )
    assert changed.status_code == 200
    assert _text(_parse(changed.content)).text == "1 Organisation hat unterzeichnet"


def test_unknown_letter_gets_a_neutral_404_badge(client: TestClient) -> None:
    response = client.get(URL.format("no-such-letter"), params={"locale": "fr"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "image/svg+xml"
    assert _text(_parse(response.content)).text == "Lettre inconnue"
    hostile = client.get(URL.format("x"), params={"locale": "<b>"})
    assert hostile.status_code == 400
    assert "<b>" not in hostile.text


def test_width_follows_the_text() -> None:
    short = badge.text_width("12 signed")
    long = badge.text_width("12 organisations have signed, 3 of them anonymously")
    assert long > 3 * short
    # Ideographs are about twice as wide as Latin letters at the same font size.
    assert badge.text_width("組織連署") > 1.5 * badge.text_width("abcd")
    # Arabic vowel marks take no advance.
    assert badge.text_width("وقّعت") == badge.text_width("وقعت")


def test_every_text_is_escaped() -> None:
    hostile = 'a < b & "c" </text><script>alert(1)</script>'
    root = _parse(badge.render(hostile, ui_locale("en")))
    assert _text(root).text == hostile
    assert root.attrib["aria-label"] == hostile
    assert root.find(f".//{SVG}script") is None
