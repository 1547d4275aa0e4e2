"""The iframe widget, embed.js and the public letter page."""

import re
from collections.abc import Callable
from html import unescape
from html.parser import HTMLParser
from typing import Any

from fastapi.testclient import TestClient


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.root: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "html":
            self.root = dict(attrs)
        for name, value in attrs:
            if name in ("src", "href") and value:
                self.urls.append(value)


def _parse(html: str) -> _Links:
    parser = _Links()
    parser.feed(html)
    return parser


def _csp(header: str) -> dict[str, str]:
    return {
        part.strip().split(" ", 1)[0]: part.strip().partition(" ")[2]
        for part in header.split(";")
        if part.strip()
    }


def test_widget_is_localised_with_strict_csp(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    sign(letter, "Access Now")
    response = client.get(f"/embed/{letter}", params={"locale": "fr"})
    assert response.status_code == 200
    html = response.text
    assert "Libérez la presse" in html  # the French translation of the title
    assert "1 organisation a signé" in html
    assert "Lire la lettre" in html
    assert f'href="/letters/{letter}?locale=fr"' in html
    page = _parse(html)
    assert page.root == {"lang": "fr", "dir": "ltr"}
    # No third-party asset: every URL is on this origin.
    assert page.urls and all(u.startswith("/") and not u.startswith("//") for u in page.urls)
    csp = _csp(response.headers["content-security-policy"])
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'"
    assert csp["connect-src"] == "'self'"
    assert csp["frame-ancestors"] == "*"
    assert "x-frame-options" not in response.headers
    assert "set-cookie" not in response.headers
    assert f'data-count-url="/api/v1/letters/{letter}/count?locale=fr"' in html


def test_widget_title_falls_back_to_the_original_and_rtl(client: TestClient, letter: str) -> None:
    arabic = client.get(f"/embed/{letter}", params={"locale": "ar"}).text
    assert _parse(arabic).root == {"lang": "ar", "dir": "rtl"}
    assert "أطلقوا سراح الصحافة" in arabic
    japanese = client.get(f"/embed/{letter}", params={"locale": "ja"}).text
    # No Japanese translation: the original English title, marked as English.
    assert '<p class="title" lang="en" dir="ltr">Free the press</p>' in japanese
    assert "0団体が署名しました" in japanese


def test_frame_ancestors_is_configurable(
    client: TestClient, letter: str, override_settings: Callable[..., None]
) -> None:
    override_settings(embed_frame_ancestors="https://partner.example 'self'")
    response = client.get(f"/embed/{letter}")
    assert _csp(response.headers["content-security-policy"])["frame-ancestors"] == (
        "https://partner.example 'self'"
    )


def test_widget_bad_input(
    client: TestClient, make_letter: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    make_letter(coordinator_headers, slug="hidden-draft", status="draft")
    assert client.get("/embed/hidden-draft").status_code == 404
    assert client.get("/embed/no-such-letter").json()["error"] == "not_found"
    hostile = client.get("/embed/no-such-letter", params={"locale": '"><script>x()</script>'})
    assert hostile.status_code == 400 and "<script>" not in hostile.text
    assert client.get("/embed/%3Cscript%3E").status_code == 400


def test_embed_js_and_assets(client: TestClient) -> None:
    script = client.get("/embed.js")
    assert script.status_code == 200
    assert script.headers["content-type"].startswith("text/javascript")
    assert "data-letter" in script.text and "postMessage" not in script.text
    assert "undersigned:height" in script.text
    widget_js = client.get("/embed/widget.js")
    assert "If-None-Match" in widget_js.text and "postMessage" in widget_js.text
    assert client.get("/embed/widget.css").headers["content-type"].startswith("text/css")


def test_letter_page_for_the_seed_letter(client: TestClient, seeded: str) -> None:
    response = client.get(f"/letters/{seeded}", params={"locale": "en"})
    assert response.status_code == 200
    html = response.text
    assert _parse(html).root == {"lang": "en", "dir": "ltr"}
    assert (
        '<h1 lang="en" dir="ltr">Global call for an international human rights monitoring '
        "mechanism on China</h1>" in html
    )
    assert "320 organisations have signed, 39 of them anonymously" in html
    assert "Signatories stated in the published letter: 321. Recorded here: 320." in html
    assert "Signed anonymously: 39. Their names are not published." in html
    names = re.findall(r'<span class="name" dir="\w+">(.*?)</span>', html)
    # A page of 200 (letter_page_size); the second page has the other 81.
    assert len(names) == 200
    assert names[:2] == ["21Wilberforce", "ACAT Belgium"]
    second = client.get(f"/letters/{seeded}", params={"locale": "en", "page": 2}).text
    assert "Signatories 201 to 281 of 281" in second and 'rel="prev"' in second
    names += re.findall(r'<span class="name" dir="\w+">(.*?)</span>', second)
    public = client.get(
        f"/api/v1/letters/{seeded}/signatories", params={"limit": 300, "lang": "en"}
    ).json()
    assert [unescape(n) for n in names] == [s["name"] for s in public["data"]]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    assert response.headers["cache-control"].startswith("public, max-age=10, ")


def test_letter_page_in_arabic_and_chinese(client: TestClient, seeded: str) -> None:
    arabic = client.get(f"/letters/{seeded}", params={"locale": "ar"}).text
    assert _parse(arabic).root == {"lang": "ar", "dir": "rtl"}
    assert "عدد الموقّعين المذكور في الرسالة المنشورة: 321. العدد المسجّل هنا: 320." in arabic
    # No Arabic translation: the English one, marked with its own language, and a note.
    assert '<div class="text" lang="en" dir="ltr">' in arabic
    assert "لا توجد لهذه الرسالة نسخة باللغة العربية؛ لذا تُعرض بالإنجليزية." in arabic
    chinese = client.get(f"/letters/{seeded}", headers={"Accept-Language": "zh-TW"})
    assert chinese.headers["vary"] == "Accept-Language"
    assert (
        '<h1 lang="zh-Hant" dir="ltr">全球呼籲：成立對中國的國際人權監察機制</h1>' in chinese.text
    )
    assert "已有320個組織連署，其中39個為匿名連署" in chinese.text
    assert 'class="note fallback"' not in chinese.text
    # Names in the reader's language/script when the organisation has one.
    japanese = client.get(f"/letters/{seeded}", params={"locale": "ja"}).text
    assert '<span class="name" dir="ltr">日本人権財団</span>' in japanese
    english = client.get(f"/letters/{seeded}", params={"locale": "en"}).text
    assert '<span class="name" dir="ltr">Human Rights Foundation (Japan)</span>' in english


def test_letter_page_never_names_anonymous_signers(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    sign(letter, "Visible Org")
    sign(letter, "Hidden Org Under Threat", anonymous=True)
    html = client.get(f"/letters/{letter}", params={"locale": "de"}).text
    assert "Visible Org" in html and "Hidden Org Under Threat" not in html
    assert "Anonym unterzeichnet: 1." in html
    assert "2 Organisationen haben unterzeichnet, eine davon anonym" in html


def test_letter_page_bad_input(
    client: TestClient, make_letter: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    make_letter(coordinator_headers, slug="page-draft", status="draft")
    assert client.get("/letters/page-draft").status_code == 404
    assert client.get("/letters/no-such-letter").status_code == 404
    response = client.get("/letters/page-draft", params={"lang": "<i>"})
    assert response.status_code == 400 and response.json()["field"] == "lang"
