"""Folding and transliteration word by word (cached, decision 0119) give what the whole name
gives: the steps map characters one by one, and the Unicode normal forms never reorder or
compose a character across a space."""

import sys
import unicodedata

from anyascii import anyascii
from hypothesis import given, settings
from hypothesis import strategies as st

from app.resolution import normalise
from app.resolution.normalise import (
    _CJK,
    _fold,
    _fold_characters,
    _fold_word,
    _transliterated,
    is_cjk_char,
)

# Spaces, marks that combine, letters that compose or decompose, Hangul jamo, apostrophes,
# ampersands, Han variants: what could make a word's fold depend on its neighbours.
_TRICKY = (
    " \u00a0\u3000\t'’&-.()\u0301\u0306\u0308\u0483\u064b\u0640\u3099иіЙЇΣςßİﬁ½¨´Å"
    "Ａｶﾞᄀ\u1161\u11a8가한국人權灣會日本ウイグルÉeŁøæ\u200b\u00adحقوقПрава\U0002a6d6abcXYZ019"
)
_NAMES = st.text(alphabet=_TRICKY, max_size=40) | st.text(max_size=40)


def _whole(name: str) -> str:
    """The fold of a name in one piece, as it was computed before decision 0119."""
    return " ".join(_fold_characters(name).split())


def test_a_space_is_never_part_of_a_canonical_decomposition() -> None:
    for code in range(sys.maxunicode + 1):
        decomposition = unicodedata.decomposition(chr(code))
        if decomposition and not decomposition.startswith("<"):
            assert "0020" not in decomposition.split(), hex(code)


def test_normal_forms_keep_a_space_apart_from_every_character() -> None:
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        char = chr(code)
        if unicodedata.combining(char) == 0 and not unicodedata.decomposition(char):
            continue  # a starter of its own: nothing to compose or reorder
        for form in ("NFC", "NFKC", "NFD", "NFKD"):
            alone = unicodedata.normalize(form, char)
            assert unicodedata.normalize(form, " " + char) == " " + alone, (hex(code), form)
            assert unicodedata.normalize(form, char + " ") == alone + " ", (hex(code), form)


def test_ascii_is_folded_by_its_table() -> None:
    for code in range(128):
        assert _fold_word.__wrapped__(chr(code) * 3) == _whole(chr(code) * 3), code


@settings(max_examples=2000, deadline=None)
@given(_NAMES)
def test_folding_word_by_word_is_folding_the_whole(name: str) -> None:
    assert _fold(name) == _whole(name)
    assert normalise.fold.__wrapped__(name) == _whole(name)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=_TRICKY, max_size=40))
def test_transliterating_word_by_word_is_transliterating_the_whole(name: str) -> None:
    norm = _fold(name)[:30]  # cut as a long name's key is, maybe after a space
    assert _transliterated(norm.split()) == " ".join(anyascii(norm).lower().split())


def test_the_cjk_pattern_is_is_cjk_char() -> None:
    """is_acronym looks for CJK letters with _CJK (one C search) instead of is_cjk_char."""
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:
            continue
        assert bool(_CJK.fullmatch(chr(code))) == is_cjk_char(chr(code)), hex(code)
