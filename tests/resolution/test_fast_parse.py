"""The index build's shortcuts (decision 0131) give what the plain pipeline gives: Latin words
with diacritics and Han words folded by one table each, an acronym's written-out reading
without folding it again, a name's initials in one pass, whole-name keys hashed without
key_hash's cache."""

import random
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from app.resolution import index, keys, snapshot
from app.resolution.index import filed_keys, make_entry
from app.resolution.normalise import (
    _HAN_WORD,
    _LATIN_FOLDS,
    _fold_characters,
    _fold_word,
    acronym_letters,
    build_name_key,
    capitals_written,
    fold_han,
    is_acronym,
)

# ASCII and the letters _LATIN_FOLDS folds at once.
_LATIN = [chr(code) for code in range(128)] + [chr(c) for c in _LATIN_FOLDS if c >= 128]


def _whole(word: str) -> str:
    """The fold of a word by the plain pipeline."""
    return " ".join(_fold_characters(word).split())


def test_the_latin_table_holds_letters_beyond_ascii() -> None:
    # The table is not empty of what it is for (é, Ñ, ß, Ł…), nor holds a letter it cannot.
    for letter in "éÑßŁøÆİĳ":
        assert ord(letter) in _LATIN_FOLDS, letter
    for letter in "µƏǝ":
        assert ord(letter) not in _LATIN_FOLDS, letter


def test_every_pair_of_latin_letters_folds_as_the_pipeline() -> None:
    fold = _fold_word.__wrapped__
    for first in _LATIN:
        for second in _LATIN:
            word = first + second
            assert fold(word) == _whole(word), (hex(ord(first)), hex(ord(second)))


def test_latin_words_before_and_after_other_letters_fold_as_the_pipeline() -> None:
    """Beside a mark, a jamo or a letter of another script the word takes the plain path."""
    others = "\u0301\u0306\u0308\u0483\u3099иЙΣςᄀ\u1161\u11a8가人灣ウ\u200b\u00adح"
    fold = _fold_word.__wrapped__
    rng = random.Random(131)
    for _ in range(20_000):
        word = "".join(rng.choice(_LATIN) for _ in range(rng.randint(1, 8)))
        assert fold(word) == _whole(word), word
        mixed = list(word)
        mixed.insert(rng.randint(0, len(mixed)), rng.choice(others))
        assert fold("".join(mixed)) == _whole("".join(mixed)), mixed


def test_every_han_letter_of_the_shortcut_folds_as_the_pipeline() -> None:
    fold = _fold_word.__wrapped__
    for code in [*range(0x3400, 0x4DC0), *range(0x4E00, 0xA000)]:
        char = chr(code)
        assert _HAN_WORD.fullmatch(char)
        assert fold_han(char) == _fold_characters(char), hex(code)
        assert fold(char) == _whole(char), hex(code)
    rng = random.Random(131)
    han = [chr(c) for c in range(0x4E00, 0xA000)]
    for _ in range(2000):
        word = "".join(rng.choice(han) for _ in range(rng.randint(2, 9)))
        assert fold(word) == _whole(word)
    # Compatibility ideographs, kana and Hangul are not in it: the plain path folds them.
    for word in ("\uf900\u4e00", "日本の人権", "한국인권", "ｶﾞ人"):
        assert not _HAN_WORD.fullmatch(word)
        assert fold(word) == _whole(word)


_TRICKY = (
    " '’&-.()\u0301\u0306\u0308\u3099иіЙЇΣςßİﬁ½Å"
    "Ａｶﾞ가한국人權灣會日本ウイグルÉeŁøæحقوقПраваabcXYZ019toforinofAÑĐ"
)
_WORDS = st.text(alphabet=_TRICKY, min_size=1, max_size=12)


@settings(max_examples=3000, deadline=None)
@given(st.lists(_WORDS, min_size=1, max_size=4).map(" ".join) | st.text(max_size=30))
def test_a_name_folds_as_the_pipeline(name: str) -> None:
    assert " ".join(map(_fold_word.__wrapped__, name.split(" "))).split() == _whole(name).split()


@settings(max_examples=3000, deadline=None)
@given(
    st.text(alphabet="ABCDEFHIRSTÑĐÉabcdefhinorstuwÑé0123456789-.ＡＢｔｏ", min_size=1, max_size=12)
)
def test_an_acronym_is_filed_under_its_second_reading_only(raw: str) -> None:
    if not is_acronym(raw):
        return
    written = capitals_written(raw)
    assert ((written,) if written else ()) == acronym_letters.__wrapped__(raw)[1:]


def _plain_filed(key_names: list[str]) -> set[str | int]:
    """filed_keys as it was computed before decision 0131: the acronym's letters from
    acronym_letters, the initials from NameKey's properties."""
    filed: set[str | int] = set()
    entry = make_entry(1, key_names)
    for key in entry.names:
        found = keys.name_index_keys(key)
        initials = {i for i in (key.initials, key.initials_with_stopwords) if len(i) >= 3}
        assert keys._initials(key) == initials
        if key.is_acronym:
            assert {keys._exact(a) for a, _ in acronym_letters(key.raw)[1:]} <= found
        filed |= found
    return filed


_VARIED = [
    "Açaí Ñandú Human Future605 Association St. Pierre & Miquelon",
    "Đoàn Justice Defenders212 Society",
    "AÑHFASPM",
    "ICRtoP",
    "HRiC",
    "FORUM-ASIA",
    "L4L",
    "iDEFEND",
    "Amnesty International UK",
    "Uyghur Human Rights Project, US",
    "Friends of Tibet (NZ)",
    "Women's Rights Centre e.V.",
    "Fundación Pro Bono A.C.",
    "Comité pour l'Abolition de la Torture",
    "Łódź Straße Ænima Øresund İstanbul ĳssel",
    "Сахаровский Центр",
    "Права человека Україна Київ",
    "حقوق الإنسان مرصد",
    "中国人权",
    "香港民主協會",
    "日本の人権",
    "한국인권 민변",
    "Ελληνική Ένωση",
    "Human Rights Watch No. 2 (II)",
    "Cambodian Youth Network",
    "Hong Kong Watch",
    "ＦＩＤＨ",
]


def test_varied_names_are_parsed_and_filed_as_before() -> None:
    for name in _VARIED:
        key = build_name_key(name)
        assert key.norm == _whole(name)[:600]
        _plain_filed([name])


def test_whole_name_keys_hash_as_key_hash_does() -> None:
    """_parse hashes an int key itself, a string through key_hash: the same 64 bits."""
    entry = make_entry(7, _VARIED)
    items = filed_keys(entry)
    assert any(isinstance(item, int) for item in items)
    for item in items:
        expected = snapshot.key_hash.__wrapped__(item)
        ours = item & snapshot._MASK if type(item) is int else snapshot.key_hash(item)
        assert ours == expected
    rows = [snapshot.Row(7, _VARIED, None, None)]
    _, _, _, pairs = snapshot._parse(rows)
    found = set()
    for hash_bytes, _ in pairs:
        found.update(memoryview(hash_bytes).cast("Q").tolist())
    assert found == {snapshot.key_hash.__wrapped__(item) for item in items}


def test_normal_forms_of_the_latin_letters_are_their_own() -> None:
    """What the table's construction relies on: none of its letters composes with another."""
    for first in _LATIN[128:]:
        for second in ("a", "E", first):
            for form in ("NFC", "NFKC", "NFKD"):
                joined = unicodedata.normalize(form, first + second)
                apart = unicodedata.normalize(form, first) + unicodedata.normalize(form, second)
                assert joined == apart, (hex(ord(first)), second, form)


def test_hashes_are_blake2b_as_before() -> None:
    import hashlib

    for text in ("", "amnesty", "añhfaspm", "中国人权", "i:hrw" * 50):
        digest = hashlib.blake2b(("~" + text).encode(), digest_size=8).digest()
        assert keys._exact(text) == int.from_bytes(digest)
        digest = hashlib.blake2b(text.encode(), digest_size=8, person=b"str").digest()
        assert snapshot.key_hash.__wrapped__(text) == int.from_bytes(digest)


class _EveryWord(frozenset[str]):
    """As if every word could start a place phrase: build_name_key's loop sees each."""

    def isdisjoint(self, other: object) -> bool:
        return False


def _bench_names(count: int) -> list[str]:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
    from resolution import generate

    return [name for names in generate(count, random.Random(131)) for name in names]


def test_names_without_loop_words_are_parsed_as_by_the_loop(monkeypatch: object) -> None:
    from app.resolution import normalise

    names = [*_VARIED, *_bench_names(3000)]
    names += [name.upper() for name in names[:500]] + [name.lower() for name in names[:500]]
    names += ["A B C", "Tibet Society UK", "Uk Friends", "Free Tibet e.V.", "X", "", "  "]
    fast = [build_name_key(name) for name in names]
    assert any(normalise._loop_words().isdisjoint(key.norm.split()) for key in fast)
    monkeypatch.setattr(normalise, "_loop_words", lambda: _EveryWord())  # type: ignore[attr-defined]
    assert [build_name_key(name) for name in names] == fast


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(_WORDS | st.sampled_from(["UK", "usa", "Hong", "Kong", "e", "V", "St"]), max_size=6)
)
def test_any_name_is_parsed_as_by_the_loop(words: list[str]) -> None:
    from app.resolution import normalise

    name = " ".join(words)
    fast = build_name_key(name)
    original = normalise._loop_words
    normalise._loop_words = lambda: _EveryWord()  # type: ignore[assignment]
    try:
        assert build_name_key(name) == fast
    finally:
        normalise._loop_words = original


def _group_by_dict(task: tuple[bytes, bytes, int]) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """snapshot._group as it was before decision 0131: pair by pair into a dict."""
    from array import array

    hash_bytes, owner_bytes, width = task
    hashes = array("Q", hash_bytes)
    owners = array("q", owner_bytes)
    postings: dict[int, list[int]] = {}
    for h, organisation_id in zip(hashes.tolist(), owners.tolist(), strict=True):
        postings.setdefault(h, []).append(organisation_id)
    keys = array("Q", sorted(postings))
    sizes, ids, large_keys, bitmaps = array("q"), array("q"), array("Q"), bytearray()
    for h in keys:
        posting = postings[h]
        ids.extend(posting)
        sizes.append(len(posting))
        if len(posting) > 1 and (
            len(posting) > index._COMMON or len(posting) * snapshot._DENSE >= width
        ):
            large_keys.append(h)
            bits = bytearray(width)
            for organisation_id in posting:
                bits[organisation_id >> 3] |= 1 << (organisation_id & 7)
            bitmaps += bits
    return keys.tobytes(), sizes.tobytes(), ids.tobytes(), large_keys.tobytes(), bytes(bitmaps)


def test_postings_are_grouped_as_by_a_dict(monkeypatch: object) -> None:
    from array import array

    rng = random.Random(131)
    for organisations, width in ((60, 8), (5000, 632), (5000, 8000)):
        # Keys of one id, of a few, dense ones and (with a low _COMMON) common ones.
        hashes, owners = array("Q"), array("q")
        pool = [rng.getrandbits(64) for _ in range(organisations // 3)]
        for organisation_id in range(1, organisations + 1):
            for h in {rng.getrandbits(64), rng.choice(pool), pool[organisation_id % 7]}:
                hashes.append(h)
                owners.append(organisation_id)
        task = (hashes.tobytes(), owners.tobytes(), width)
        assert snapshot._group(task) == _group_by_dict(task)
        monkeypatch.setattr(snapshot, "_COMMON", 40)  # type: ignore[attr-defined]
        monkeypatch.setattr(index, "_COMMON", 40)  # type: ignore[attr-defined]
        assert snapshot._group(task) == _group_by_dict(task)
        monkeypatch.undo()  # type: ignore[attr-defined]
        large = snapshot._group(task)[3]
        assert large or width == 8000  # bitmaps were made, and compared


def _plain_caps(raw: str) -> set[str]:
    from app.resolution.normalise import _CAPS_SPLIT, _fold

    return {
        _fold(w)
        for w in _CAPS_SPLIT.split(unicodedata.normalize("NFKC", raw))
        if len(w) >= 2 and w.isupper() and w.isalpha()
    }


def _cased_latin() -> list[str]:
    from app.resolution.normalise import _CASED_LATIN

    return [chr(code) for code in range(0x250) if _CASED_LATIN.fullmatch(chr(code))]


def test_cased_latin_text_has_words_in_capitals_only_with_two_in_a_row() -> None:
    from app.resolution.normalise import _CASED_LATIN, _TWO_CAPITALS

    letters = _cased_latin()
    assert "Ñ" in letters and "ß" in letters and "Ǆ" not in letters and "ǅ" not in letters
    for first in letters:
        for second in letters:
            pair = first + second
            assert unicodedata.normalize("NFKC", pair) == pair, (hex(ord(first)), second)
            if _CASED_LATIN.fullmatch(pair) and not _TWO_CAPITALS.search(pair):
                assert not _plain_caps(pair), pair
                assert not _plain_caps(" " + pair + "-"), pair


@settings(max_examples=4000, deadline=None)
@given(st.text(alphabet="ABZÑÉÐÞŁaßñéðþłį 0-.,(/&'", max_size=20) | st.text(max_size=20))
def test_names_skipped_by_the_capitals_shortcut_have_no_word_in_capitals(raw: str) -> None:
    from app.resolution.normalise import _CASED_LATIN, _TWO_CAPITALS

    if _CASED_LATIN.fullmatch(raw) and not _TWO_CAPITALS.search(raw):
        assert not _plain_caps(raw)
    assert build_name_key(raw).caps_tokens == frozenset(c for c in _plain_caps(raw) if len(c) >= 3)


def test_a_key_made_through_its_twin_is_a_frozen_name_key() -> None:
    import dataclasses

    import pytest

    from app.resolution.normalise import NameKey, name_key_of

    for name in _VARIED:
        key = build_name_key(name)
        values = tuple(getattr(key, field.name) for field in dataclasses.fields(NameKey))
        plain = NameKey(*values)
        made = name_key_of(values)
        assert type(made) is NameKey and type(key) is NameKey
        assert made == plain and key == plain
        assert hash(made) == hash(plain) and repr(made) == repr(plain)
        assert made.initials == plain.initials and made.identifying == plain.identifying
        with pytest.raises(dataclasses.FrozenInstanceError):
            made.norm = "changed"  # type: ignore[misc]
        for either in (made, plain):  # no attribute besides the fields, as for any NameKey
            with pytest.raises((AttributeError, TypeError)):
                either.extra = 1  # type: ignore[attr-defined]
    entry = make_entry(3, _VARIED)
    decoded = snapshot._decode(3, snapshot._encode(entry))
    assert decoded == entry and all(type(key) is NameKey for key in decoded.names)
