"""Russian and Ukrainian words by their dictionary form (pymorphy3), and the Latin reading of
a Cyrillic name.

"Центра «Сова»" and "Центр «Сова»" are one name; "Комитет" is the type word committee; and
"Сахаровский Центр" reads in Latin letters as "sakharov center" (the adjective made of a
proper name gives that name back; type words become their English canonical form,
app/resolution/data/type_words.tsv). The reading lets a name printed in Latin letters be
compared word by word with one printed in Cyrillic; anything else about them (a translated
content word) is not seen, so it finds transliterations, never translations.
"""

import re
import threading
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from anyascii import anyascii

_DATA = Path(__file__).parent / "data" / "type_words.tsv"
_UKRAINIAN = re.compile("[іїєґ]")
_CYRILLIC = re.compile("[\u0400-\u04ff]")
# Adjectives made of a proper name: Сахаровский → Сахаров, Хельсинкская → Хельсинк.
_ADJECTIVE = re.compile(r"(ск|цк)(ий|ая|ое|ие|ого|ой|ому|их|ий|а|е|і|ий|ій|ої|ому|ого)$")
_APOSTROPHE = re.compile(r"[^a-z0-9]")
_lock = threading.Lock()


@cache
def type_words() -> dict[str, str]:
    """Type words of other languages → canonical English type word."""
    table: dict[str, str] = {}
    for line in _DATA.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            word, canonical, _ = line.split("\t")
            table[word] = canonical
    return table


@cache
def _analyzer(lang: str) -> Any:  # pymorphy3 ships no type hints
    import pymorphy3

    with _lock:
        return pymorphy3.MorphAnalyzer(lang=lang)


def is_cyrillic(token: str) -> bool:
    return bool(_CYRILLIC.search(token))


@lru_cache(maxsize=65536)
def lemma(token: str) -> str:
    """The dictionary form of a folded Russian or Ukrainian word (the word when unknown)."""
    if not token.isalpha() or not is_cyrillic(token):
        return token
    lang = "uk" if _UKRAINIAN.search(token) else "ru"
    parses = _analyzer(lang).parse(token)
    return str(parses[0].normal_form) if parses else token


@lru_cache(maxsize=16384)
def latin_reading(norm: str) -> str:
    """A folded Cyrillic name read in Latin letters, word by word (see the module doc)."""
    words = []
    for token in norm.split():
        if not is_cyrillic(token):
            words.append(token)
            continue
        base = lemma(token)
        canonical = type_words().get(base)
        if canonical is not None:
            words.append(canonical)
            continue
        stem = _ADJECTIVE.sub("", base)
        if stem != base and len(stem) >= 4 and base[:1].isalpha():
            base = stem
        words.append(_APOSTROPHE.sub("", anyascii(base).lower()))
    return " ".join(w for w in words if w)
