"""ISO 15924 script detection for one name."""

import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import opencc
from anyascii import anyascii

_to_simplified = opencc.OpenCC("t2s")


@lru_cache(maxsize=8192)  # names repeat a few thousand characters; unicodedata.name is slow
def char_script(char: str) -> str | None:
    """Coarse script of one character, or None for digits, punctuation and spaces."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    if name.startswith(("CJK UNIFIED", "CJK COMPATIBILITY IDEOGRAPH")):
        return "Hani"
    if name.startswith(("HIRAGANA", "KATAKANA", "HALFWIDTH KATAKANA")):
        return "Kana"
    for prefix, script in (
        ("LATIN", "Latn"),
        ("CYRILLIC", "Cyrl"),
        ("ARABIC", "Arab"),
        ("HANGUL", "Hang"),
        ("GREEK", "Grek"),
        ("HEBREW", "Hebr"),
        ("THAI", "Thai"),
        ("DEVANAGARI", "Deva"),
        ("GEORGIAN", "Geor"),
        ("ARMENIAN", "Armn"),
        ("TIBETAN", "Tibt"),
        ("MONGOLIAN", "Mong"),
        ("MYANMAR", "Mymr"),
        ("KHMER", "Khmr"),
        ("ETHIOPIC", "Ethi"),
        ("BENGALI", "Beng"),
        ("TAMIL", "Taml"),
    ):
        if name.startswith(prefix):
            return script
    return "Zyyy"


def _load_simplified_only() -> frozenset[str]:
    """Characters that OpenCC maps to other traditional forms and never to themselves."""
    path = Path(opencc.__file__).parent / "dictionary" / "STCharacters.txt"
    result = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        simplified, _, traditional = line.partition("\t")
        # 台 lists itself among its traditional forms (台 臺 颱 檯): valid in both scripts.
        if simplified and simplified not in traditional.split():
            result.add(simplified)
    return frozenset(result)


def _load_japanese_forms() -> frozenset[str]:
    """Shinjitai forms (権, 国) from OpenCC's JPVariants that Chinese never writes as such."""
    directory = Path(opencc.__file__).parent / "dictionary"
    chinese_traditional: set[str] = set()
    for line in (directory / "STCharacters.txt").read_text(encoding="utf-8").splitlines():
        chinese_traditional.update(line.partition("\t")[2].split())
    result: set[str] = set()
    for line in (directory / "JPVariants.txt").read_text(encoding="utf-8").splitlines():
        traditional, _, japanese = line.partition("\t")
        result.update(f for f in japanese.split() if f != traditional)
    return frozenset(result - chinese_traditional)


_SIMPLIFIED_ONLY = _load_simplified_only()
_JAPANESE_FORMS = _load_japanese_forms()


def han_variant(text: str) -> str:
    """Hant or Hans for Han text, by characters that exist in only one form; Hani when unsure."""
    traditional_only = {c for c in text if _to_simplified.convert(c) != c}
    simplified_only = {c for c in text if c in _SIMPLIFIED_ONLY}
    japanese = {c for c in text if c in _JAPANESE_FORMS}
    # 民主中国陣線, 日本人権財団: Japanese forms beside traditional ones, nothing purely simplified.
    if (
        japanese
        and simplified_only <= japanese
        and (traditional_only or japanese - simplified_only)
    ):
        return "Jpan"
    if traditional_only and not simplified_only:
        return "Hant"
    if simplified_only and not traditional_only:
        return "Hans"
    return "Hani"


@lru_cache(maxsize=65536)
def detect_script(text: str) -> str:
    """The dominant ISO 15924 script of a name; Jpan when kana appear beside Han."""
    counts = Counter(s for s in map(char_script, text) if s is not None)
    if not counts:
        return "Zyyy"
    if counts.get("Kana"):
        return "Jpan"
    if counts.get("Hang") and counts.get("Hani"):
        return "Kore"
    script, _ = counts.most_common(1)[0]
    if script == "Hani":
        return han_variant("".join(c for c in text if char_script(c) == "Hani"))
    if script == "Hang":
        return "Kore"
    return script


def is_cjk_script(script: str | None) -> bool:
    return script in {"Hani", "Hant", "Hans", "Jpan", "Kana", "Kore", "Hang"}


# Korean names reach Latin letters through several romanisations: anyascii writes the Revised
# Romanization (변 "byeon", 승 "seung"), while organisations and the press often spell the
# same vowels as McCune–Reischauer without its breves or by ear (민변 MINBYUN, 한변 Hanbyun).
_KOREAN_VOWELS = (("eo", "u"), ("eo", "o"), ("eu", "u"))


@lru_cache(maxsize=8192)
def hangul_readings(norm: str) -> tuple[str, ...]:
    """The Latin readings of a name written in Hangul alone, despaced: anyascii's (Revised
    Romanization) and the common respellings of its vowels ㅓ and ㅡ; () for other names."""
    letters = [c for c in norm if c.isalpha()]
    if not letters or any(char_script(c) != "Hang" for c in letters):
        return ()
    plain = anyascii(norm).lower().replace(" ", "")
    return tuple(dict.fromkeys([plain, *(plain.replace(a, b) for a, b in _KOREAN_VOWELS)]))
