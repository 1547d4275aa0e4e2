"""Field checks shared by organisations and letters (language tags, countries, websites)."""

import re
from urllib.parse import urlsplit

from babel import Locale, UnknownLocaleError


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
