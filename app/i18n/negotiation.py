"""Which UI locale a request gets: `?locale=` (or `?lang=`), then Accept-Language, then English."""

import re
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from babel.core import get_global

from app.errors import BadRequest
from app.i18n.catalogs import DEFAULT, RTL, SUPPORTED

# BCP 47 shape (language, then subtags), with "_" accepted as babel writes it. Anything else is
# refused before babel sees it, so hostile strings never reach a template.
_TAG = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8}){0,5}$")
MAX_TAG_LENGTH = 35
_ACCEPT_LANGUAGE_LIMIT = 512


@dataclass(frozen=True)
class UiLocale:
    """A supported UI locale: catalog name (`zh_Hant`), BCP 47 tag (`zh-Hant`), direction."""

    name: str
    tag: str
    locale: Locale

    @property
    def direction(self) -> str:
        return "rtl" if self.name in RTL else "ltr"


@lru_cache(maxsize=len(SUPPORTED))
def ui_locale(name: str) -> UiLocale:
    return UiLocale(name=name, tag=SUPPORTED[name], locale=Locale.parse(name))


def script_of(locale: Locale) -> str | None:
    if locale.script:
        return locale.script
    likely = get_global("likely_subtags")
    keys = [f"{locale.language}_{locale.territory}"] if locale.territory else []
    for key in [*keys, locale.language]:
        parts = likely.get(key, "").split("_")
        script: str | None = next((p for p in parts[1:] if len(p) == 4), None)
        if script:
            return script
    return None


@lru_cache(maxsize=4096)
def parse_tag(tag: str) -> Locale | None:
    """A babel Locale for a well-formed tag babel knows, else None."""
    if len(tag) > MAX_TAG_LENGTH or not _TAG.match(tag):
        return None
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None


def supported_name(locale: Locale) -> str | None:
    """The catalog serving a locale: same language (and, for Chinese, same script)."""
    if locale.language == "zh":
        return "zh_Hant" if script_of(locale) == "Hant" else "zh_Hans"
    return locale.language if locale.language in SUPPORTED else None


def from_param(value: str, *, field: str) -> UiLocale:
    """A `?locale=` value: 400 naming the field if it is not a locale; English if unsupported."""
    locale = parse_tag(value.strip())
    if locale is None:
        # The value is not echoed: it may be anything, and error bodies end up in logs.
        raise BadRequest(
            f"{field} must be a language tag such as 'fr', 'pt-BR' or 'zh-Hant'",
            field=field,
            error="invalid_locale",
        )
    return ui_locale(supported_name(locale) or DEFAULT)


@lru_cache(maxsize=1024)
def from_accept_language(header: str) -> UiLocale | None:
    """The best supported locale of an Accept-Language header; malformed entries are skipped."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate(header[:_ACCEPT_LANGUAGE_LIMIT].split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                continue
        if quality <= 0 or not tag or tag == "*":
            continue
        ranked.append((-quality, index, tag.strip()))
    for _, _, tag in sorted(ranked):
        locale = parse_tag(tag)
        name = supported_name(locale) if locale else None
        if name:
            return ui_locale(name)
    return None


def negotiate(
    *, locale: str | None, lang: str | None = None, accept_language: str | None = None
) -> tuple[UiLocale, bool]:
    """(UI locale, whether it came from Accept-Language or the default, i.e. `Vary` applies)."""
    if lang is not None:
        chosen_by_lang = from_param(lang, field="lang")
    if locale is not None:
        return from_param(locale, field="locale"), False
    if lang is not None:
        return chosen_by_lang, False
    if accept_language:
        found = from_accept_language(accept_language)
        if found is not None:
            return found, True
    return ui_locale(DEFAULT), True
