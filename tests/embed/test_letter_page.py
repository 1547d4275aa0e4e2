"""The public letter page and its PDF: fallback order, recipients, scripts, anonymity."""

import re
import subprocess
from collections.abc import Callable
from html import unescape
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from app.letters import texts

NAME = re.compile(r'<span class="name" dir="\w+">(.*?)</span>')


def names(html: str) -> list[str]:
    return [unescape(n) for n in NAME.findall(html)]


def version(lang: str, *, recipients: str = "", original: bool = False) -> texts.Version:
    return texts.Version(lang, f"title {lang}", f"body {lang}", recipients, original)


def test_fallback_order_is_requested_then_english_then_original() -> None:
    with_english = [version("zh-Hant", recipients="聯合國", original=True), version("en")]
    chosen = texts.choose(with_english, requested="ar")
    assert (chosen.lang, chosen.shown) == ("en", texts.Shown.english)
    # The English version names no recipients: the original's are shown, in their language.
    assert (chosen.recipients, chosen.recipients_lang) == ("聯合國", "zh-Hant")
    chosen = texts.choose(with_english, requested="zh-TW")
    assert (chosen.lang, chosen.shown) == ("zh-Hant", texts.Shown.requested)
    # Same language, other script: not the requested version.
    assert texts.choose(with_english, requested="zh-Hans").lang == "en"
    only_original = [version("fr", recipients="ONU", original=True), version("de")]
    chosen = texts.choose(only_original, requested="ja")
    assert (chosen.lang, chosen.shown) == ("fr", texts.Shown.original)
    chosen = texts.choose(only_original, requested="de")
    assert (chosen.lang, chosen.shown, chosen.recipients) == ("de", texts.Shown.requested, "ONU")


def test_seed_page_in_arabic_french_and_japanese_shows_english_with_a_note(
    client: TestClient, seeded: str
) -> None:
    for locale, note in (
        ("ar", "لا توجد لهذه الرسالة نسخة باللغة العربية؛ لذا تُعرض بالإنجليزية."),
        ("fr", "Cette lettre n’a pas de version en français ; elle est affichée en anglais."),
        ("ja", "この書簡には日本語版がないため、英語で表示しています。"),
    ):
        html = client.get(f"/letters/{seeded}", params={"locale": locale}).text
        assert '<h1 lang="en" dir="ltr">Global call for an international' in html
        assert note in html
        assert "UN Secretary-General António Guterres" in html  # the recipients line stays


def test_a_translation_without_recipients_keeps_the_original_ones(
    client: TestClient, make_letter: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    make_letter(
        coordinator_headers,
        slug="to-the-un",
        lang="fr",
        title="Lettre",
        recipients="Secrétaire général des Nations unies",
        translations=[{"lang": "es", "title": "Carta", "body": "Pedimos."}],
    )
    spanish = client.get("/letters/to-the-un", params={"locale": "es"}).text
    assert '<h1 lang="es" dir="ltr">Carta</h1>' in spanish
    assert '<span lang="fr" dir="ltr">Secrétaire général des Nations unies</span>' in spanish
    assert 'class="note fallback"' not in spanish
    german = client.get("/letters/to-the-un", params={"locale": "de"}).text
    # Neither German nor English: the French original, said so.
    assert '<h1 lang="fr" dir="ltr">Lettre</h1>' in german
    assert "weder auf Deutsch noch auf Englisch" in german and "Französisch" in german


def test_zh_hans_readers_get_simplified_names(client: TestClient, seeded: str) -> None:
    def every_page(lang: str) -> list[str]:
        # 200 signatories a page (letter_page_size): the seed's 281 are on pages 1 and 2.
        pages = [
            client.get(f"/letters/{seeded}", params={"lang": lang, "page": page})
            for page in (1, 2, 3)
        ]
        assert [p.status_code for p in pages] == [200, 200, 404]
        assert len(names(pages[0].text)) == 200
        return names(pages[0].text) + names(pages[1].text)

    traditional = every_page("zh-Hant")
    simplified = every_page("zh-Hans")
    assert "台灣南社" in traditional and "國會調查兵團" in traditional
    assert "台湾南社" in simplified and "国会调查兵团" in simplified
    assert "台灣南社" not in simplified and "國會調查兵團" not in simplified
    # Latin names are left alone, and the list keeps its length and order.
    assert len(simplified) == len(traditional) == 281
    assert simplified[0] == traditional[0] == "21Wilberforce"
    # Each name carries its own direction (the PDF renderer has no dir="auto").
    arabic = client.get(f"/letters/{seeded}", params={"lang": "ar", "page": 2}).text
    assert '<span class="name" dir="rtl">مرصد الصحراء' in arabic
    first = client.get(f"/letters/{seeded}", params={"lang": "ar"}).text
    assert '<span class="name" dir="ltr">21Wilberforce</span>' in first


def test_anonymous_signers_appear_only_in_counts(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    sign(letter, "Visible Org")
    sign(letter, "Hidden Org Under Threat", anonymous=True)
    sign(letter, "Second Visible Org")
    for path in (f"/letters/{letter}", "/"):
        html = client.get(path, params={"locale": "en"}).text
        assert "Hidden Org Under Threat" not in html
    page = client.get(f"/letters/{letter}", params={"locale": "en"}).text
    # Numbered 1, 2: no gap where the anonymous signer stands in the letter's order.
    assert re.findall(r'<span class="number">(\d+)\.</span>', page) == ["1", "2"]
    assert "3 organisations have signed, 1 of them anonymously" in page
    pdf = client.get(f"/letters/{letter}.pdf", params={"locale": "en"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = pdf_text(pdf.content)
    assert "Visible Org" in text and "Second Visible Org" in text
    assert "Hidden Org Under Threat" not in text


def pdf_text(body: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=body, capture_output=True, check=True
    ).stdout.decode("utf-8")


def test_seed_pdf_has_every_script_and_every_name(
    client: TestClient, seeded: str, artifacts_dir: Path
) -> None:
    response = client.get(f"/letters/{seeded}.pdf", params={"locale": "zh-Hant"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (f'inline; filename="{seeded}-zh-Hant.pdf"')
    (artifacts_dir / "letter-zh-Hant.pdf").write_bytes(response.content)
    text = pdf_text(response.content)
    for expected in (
        "全球呼籲：成立對中國的國際人權監察機制",  # Han
        "チベット問題を考える会",  # Kana
        "Московская Хельсинкская группа",  # Cyrillic
        "مرصد الصحراء",  # Arabic (pdftotext keeps the logical order)
        "聯合國秘書長安東尼奧·古特雷斯",  # recipients
        "已有320個組織連署，其中39個為匿名連署",
    ):
        assert expected in " ".join(text.split()), expected
    fonts = subprocess.run(
        ["pdffonts", str(artifacts_dir / "letter-zh-Hant.pdf")], capture_output=True, check=True
    ).stdout.decode()
    assert "CJK" in fonts and "Arabic" in fonts
    again = client.get(
        f"/letters/{seeded}.pdf",
        params={"locale": "zh-Hant"},
        headers={"If-None-Match": response.headers["etag"]},
    )
    assert again.status_code == 304


def test_pdf_of_a_draft_or_unknown_letter_is_404(
    client: TestClient, make_letter: Callable[..., Any], coordinator_headers: dict[str, str]
) -> None:
    make_letter(coordinator_headers, slug="secret-draft", status="draft")
    assert client.get("/letters/secret-draft.pdf").status_code == 404
    assert client.get("/letters/no-such-letter.pdf").status_code == 404


def test_home_page_lists_open_and_closed_letters_never_drafts(
    client: TestClient,
    make_letter: Callable[..., Any],
    coordinator_headers: dict[str, str],
    seeded: str,
) -> None:
    make_letter(coordinator_headers, slug="a-draft", title="Draft letter", status="draft")
    make_letter(
        coordinator_headers,
        slug="done-letter",
        title="Finished letter",
        translations=[{"lang": "de", "title": "Fertiger Brief"}],
    )
    closed = client.patch(
        "/api/v1/letters/done-letter", json={"status": "closed"}, headers=coordinator_headers
    )
    assert closed.status_code == 200
    html = client.get("/", params={"locale": "en"}).text
    assert "Draft letter" not in html and "a-draft" not in html
    open_part, _, closed_part = html.partition('id="letters-closed"')
    assert f'href="/letters/{seeded}?locale=en"' in open_part
    assert "320 organisations have signed, 39 of them anonymously" in open_part
    assert "Chinese (Traditional)" in open_part and "English" in open_part
    assert "Finished letter" in closed_part and "German" in closed_part
    german = client.get("/", headers={"Accept-Language": "de"}).text
    assert "Fertiger Brief" in german and "Zur Unterzeichnung offen" in german


def test_browsers_get_html_404_and_api_clients_json(client: TestClient) -> None:
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "fr"}
    for path in ("/letters/nope", "/nowhere"):
        page = client.get(path, headers=browser)
        assert page.status_code == 404
        assert page.headers["content-type"].startswith("text/html")
        assert "<h1>Page introuvable</h1>" in page.text
        assert "default-src 'none'" in page.headers["content-security-policy"]
        api = client.get(path)
        assert api.status_code == 404 and api.json()["error"] == "not_found"
    # The API keeps JSON even for a browser.
    api = client.get("/api/v1/letters/nope", headers=browser)
    assert api.status_code == 404 and api.json()["error"] == "not_found"


def test_410_is_an_html_page_for_browsers_too() -> None:
    from fastapi import FastAPI, HTTPException

    from app.errors import register_error_handlers
    from app.pages import errors

    app = FastAPI()
    register_error_handlers(app)
    errors.install(app)

    @app.get("/gone")
    def gone() -> None:
        raise HTTPException(status_code=410)

    with TestClient(app) as client:
        page = client.get("/gone", headers={"Accept": "text/html"})
        assert page.status_code == 410 and "<h1>This page is gone</h1>" in page.text
        api = client.get("/gone")
        assert api.status_code == 410 and api.headers["content-type"] == "application/json"
