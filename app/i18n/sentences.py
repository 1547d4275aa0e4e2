"""Localised sentences about signature counts (CLDR plural rules through ngettext)."""

from functools import lru_cache

from babel.numbers import format_decimal

from app.i18n.catalogs import translations
from app.i18n.negotiation import UiLocale, parse_tag


def number(value: int, ui: UiLocale) -> str:
    """An integer as the locale writes it (separators, digits of the default numbering system)."""
    return format_decimal(value, locale=ui.locale)


def ui_gettext(ui: UiLocale, message: str, **values: object) -> str:
    text = translations(ui.name).gettext(message)
    return text % values if values else text


def count_sentence(ui: UiLocale, *, total: int, anonymous: int) -> str:
    """'321 organisations have signed' / '…, 39 of them anonymously' in the locale."""
    catalog = translations(ui.name)
    signed = catalog.ngettext(
        "%(count)s organisation has signed", "%(count)s organisations have signed", total
    ) % {"count": number(total, ui)}
    if anonymous == 0:
        return signed
    clause = catalog.ngettext(
        "%(count)s of them anonymously", "%(count)s of them anonymously", anonymous
    ) % {"count": number(anonymous, ui)}
    # Translators: joins the two parts, as in "321 organisations have signed, 39 of them anonymously".
    return catalog.gettext("%(signed)s, %(anonymous)s") % {"signed": signed, "anonymous": clause}


@lru_cache(maxsize=1024)
def language_name(tag: str, *, in_locale: str) -> str:
    """A language tag's name as the given locale writes it (`zh-Hant` in French: « chinois
    (traditionnel) »); the tag itself when babel does not know it."""
    language, reader_locale = parse_tag(tag), parse_tag(in_locale)
    if language is None or reader_locale is None:
        return tag
    return language.get_display_name(reader_locale) or tag
