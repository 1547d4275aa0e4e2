"""Which of an organisation's names a reader sees: their language and script where known.

Chinese readers get the other Chinese script converted with OpenCC when the organisation has no
name in theirs (`台灣南社` reads `台湾南社` with `?lang=zh-Hans`). The reader's wanted language
and script are parsed once per page or request, not once per name.
"""

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Protocol

import opencc
from babel import Locale, UnknownLocaleError
from babel.core import get_global

from app.errors import BadRequest


class Name(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def lang(self) -> str | None: ...
    @property
    def script(self) -> str | None: ...
    @property
    def is_acronym(self) -> bool: ...
    @property
    def is_primary(self) -> bool: ...


# Scripts that can stand in for the wanted one (1 point instead of 2).
_COMPATIBLE_SCRIPTS = {
    "Hant": {"Hani", "Hans"},
    "Hans": {"Hani", "Hant"},
    "Jpan": {"Hani", "Hant"},
    "Kore": {"Hani"},
}
# OpenCC configuration turning a name written in the key's script into the wanted one.
_CONVERSIONS = {("Hant", "Hans"): "t2s", ("Hans", "Hant"): "s2t"}


@dataclass(frozen=True)
class Reader:
    language: str
    script: str | None


@lru_cache(maxsize=256)
def reader(tag: str) -> Reader:
    """The (language, script) a BCP 47 tag wants; the script from CLDR likely subtags."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        raise BadRequest(f"'{tag}' is not a language tag babel knows", field="lang") from None
    if locale.script:
        return Reader(locale.language, locale.script)
    likely = get_global("likely_subtags").get(locale.language, "")
    script = next((p for p in likely.split("_")[1:] if len(p) == 4), None)
    return Reader(locale.language, script)


@cache
def _converter(config: str) -> opencc.OpenCC:
    return opencc.OpenCC(config)


def _score(name: Name, wanted: Reader) -> int:
    points = 0
    if name.lang and name.lang.split("-")[0].lower() == wanted.language:
        points += 4
    if wanted.script and name.script == wanted.script:
        points += 2
    elif wanted.script and name.script in _COMPATIBLE_SCRIPTS.get(wanted.script, set()):
        points += 1
    return points


def name_for(names: Sequence[Name], *, wanted: Reader | None, display_name: str | None) -> str:
    """The organisation's name for this reader, else the name as printed on the letter."""
    fallback = display_name or (names[0].name if names else "")
    if wanted is None or not names:
        return fallback
    best = max(names, key=lambda n: (_score(n, wanted), not n.is_acronym, n.is_primary))
    if _score(best, wanted) == 0:
        return fallback
    config = _CONVERSIONS.get((best.script or "", wanted.script or ""))
    return _converter(config).convert(best.name) if config else best.name


def direction(text: str) -> str:
    """`rtl` or `ltr` by the first strongly directional character, as `dir="auto"` decides.

    Written out because WeasyPrint (the PDF) does not implement `dir="auto"`.
    """
    for char in text:
        kind = unicodedata.bidirectional(char)
        if kind in ("R", "AL"):
            return "rtl"
        if kind == "L":
            return "ltr"
    return "ltr"
