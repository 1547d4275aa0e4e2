"""Locale negotiation: ?locale= then Accept-Language then English; bad tags are refused."""

import pytest

from app.errors import BadRequest
from app.i18n.negotiation import from_accept_language, negotiate


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("fr", "fr"),
        ("fr-CA", "fr"),
        ("pt-BR", "pt"),
        ("pt_PT", "pt"),
        ("zh-Hant", "zh-Hant"),
        ("zh_Hant", "zh-Hant"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-Hant-HK", "zh-Hant"),
        ("zh-CN", "zh-Hans"),
        ("zh", "zh-Hans"),
        ("ar-EG", "ar"),
        ("ja", "ja"),
        ("RU", "ru"),
        ("it", "en"),  # a real locale without a catalog falls back to English
    ],
)
def test_locale_parameter(value: str, tag: str) -> None:
    ui, vary = negotiate(locale=value)
    assert ui.tag == tag
    assert vary is False


@pytest.mark.parametrize(
    "value",
    [
        "",
        "x",
        "xx",
        "english",
        "<script>",
        "fr;q=1",
        "en\r\nSet-Cookie: a=b",
        "a" * 40,
        "fr-" + "x" * 9,
    ],
)
def test_invalid_locale_is_refused_naming_the_field(value: str) -> None:
    with pytest.raises(BadRequest) as caught:
        negotiate(locale=value)
    assert caught.value.field == "locale"
    assert value not in caught.value.detail or value == ""


def test_lang_alias_is_validated_too() -> None:
    assert negotiate(locale=None, lang="de")[0].tag == "de"
    with pytest.raises(BadRequest) as caught:
        negotiate(locale="fr", lang="<svg>")
    assert caught.value.field == "lang"


def test_accept_language_quality_order_and_fallback() -> None:
    assert negotiate(locale=None, accept_language="it, ru;q=0.8, fr;q=0.9")[0].tag == "fr"
    assert negotiate(locale=None, accept_language="zh-TW,zh;q=0.9")[0].tag == "zh-Hant"
    assert negotiate(locale=None, accept_language="<bad>, ja;q=0.5")[0].tag == "ja"
    assert negotiate(locale=None, accept_language="de;q=0, es;q=0.1")[0].tag == "es"
    assert negotiate(locale=None, accept_language="it, nl") == negotiate(locale=None)
    ui, vary = negotiate(locale=None, accept_language="ar")
    assert (ui.tag, ui.direction, vary) == ("ar", "rtl", True)
    assert from_accept_language("q=;;;,,,") is None
    # An explicit parameter wins over the header.
    assert negotiate(locale="ru", accept_language="ja")[0].tag == "ru"
