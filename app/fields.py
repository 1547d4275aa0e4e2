"""Validated values, one home each: a type per value (organisation name, language tag, country,
website, title, long text), used by every schema that takes one, and the check behind it.

A schema declares `lang: LanguageTag`; it does not copy a validator. Optional fields take `""`
as absent (a form or CSV cell left empty), hence the `…OrEmpty` types, used as `X | None = None`.
"""

import re
from typing import Annotated
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError
from pydantic import AfterValidator, Field

from app.resolution.names import MAX_NAME_LENGTH, NameError_, validate_name


def check_lang(value: str | None) -> str | None:
    """A BCP 47 tag babel understands (en, zh-Hant, pt-BR), normalised to hyphens."""
    if value is None or value == "":
        return None
    if not re.fullmatch(r"[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}", value):
        raise ValueError("must be a BCP 47 language tag such as 'en' or 'zh-Hant'")
    try:
        Locale.parse(value.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise ValueError("is not a language babel knows") from None
    return value.replace("_", "-")


# CLDR region codes that are not countries (unknown region, outlying Oceania, EU, UN, pseudo).
_NOT_COUNTRIES = frozenset({"ZZ", "QO", "EU", "EZ", "UN", "XA", "XB"})


def check_country(value: str | None) -> str | None:
    if value is None or value == "":
        return None
    code = value.upper()
    if (
        not re.fullmatch(r"[A-Z]{2}", code)
        or code in _NOT_COUNTRIES
        or code not in Locale("en").territories
    ):
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as 'TW'")
    return code


def check_website(value: str | None) -> str | None:
    if value is None or value.strip() == "":
        return None
    text = value.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or "." not in parts.hostname:
        raise ValueError("must be a website address such as 'https://example.org'")
    if re.search(r"[\s<>\"']", text):
        raise ValueError("must not contain spaces, quotes or angle brackets")
    return text


def check_name(value: str) -> str:
    try:
        return validate_name(value)
    except NameError_ as exc:
        raise ValueError(str(exc)) from None


def check_required_lang(value: str) -> str:
    checked = check_lang(value)
    if checked is None:
        raise ValueError("is required")
    return checked


_FORBIDDEN_IN_TEXT = re.compile(
    r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202a-\u202e\u2066-\u2069]"
)


def check_text(value: str) -> str:
    """Free text (a letter's body, its recipients): no control or bidi-override characters."""
    if _FORBIDDEN_IN_TEXT.search(value):
        raise ValueError("must not contain control or bidi-override characters")
    return value.strip()


def check_title(value: str) -> str:
    value = check_text(value)
    if not value:
        raise ValueError("must not be empty")
    return value


OrganisationName = Annotated[
    str,
    Field(max_length=MAX_NAME_LENGTH, description="The name as written (1–300 characters)"),
    AfterValidator(check_name),
]
LanguageTag = Annotated[
    str,
    Field(max_length=35, description="BCP 47 language tag such as 'en' or 'zh-Hant'"),
    AfterValidator(check_required_lang),
]
LanguageTagOrEmpty = Annotated[
    str,
    Field(max_length=35, description="BCP 47 language tag; empty for none"),
    AfterValidator(check_lang),
]
CountryOrEmpty = Annotated[
    str, Field(max_length=2, description="ISO 3166-1 alpha-2"), AfterValidator(check_country)
]
WebsiteOrEmpty = Annotated[str, Field(max_length=500), AfterValidator(check_website)]
Title = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(check_title)]
LongText = Annotated[str, Field(max_length=200_000), AfterValidator(check_text)]
ShortText = Annotated[str, Field(max_length=5000), AfterValidator(check_text)]
