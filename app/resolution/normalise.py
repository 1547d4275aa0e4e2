"""Name normalisation: the keys under which names are compared.

Pure functions, no I/O beyond reading packaged tables once (OpenCC's character dictionaries,
babel's territory and city names, the word tables of app/resolution/data/: stopwords,
organisation-type words, chapter words). The pipeline for one name:

1. NFKC, case-fold; typographic quotes and dashes; apostrophes dropped (`Women’s` = `Womens`),
   `&` read as `and`, every other punctuation or symbol becomes a space.
2. Latin diacritics folded (NFKD marks removed, plus letters NFKD leaves alone: đ ø ł æ œ þ ı);
   kana voicing marks are kept (ウイグル ≠ ウイクル) because only the combining diacritics block
   is removed and the text is recomposed afterwards.
3. Han variants folded to one form (traditional, simplified and Japanese shinjitai: 灣/湾,
   國/国, 會/会) from OpenCC's dictionaries.
4. Tokens are classified: stopwords, organisation-type words (association, union, centre, …,
   spelling variants mapped to one form but never expanded from fragments such as "in"; legal
   forms such as Inc, e.V., A.C. among them), discriminators (countries, regions and cities
   from babel's CLDR data, compass words, chapter words such as youth/women/students) and
   content words.
5. Extra keys: the name with spaces removed, the initials of its content words, the anyascii
   transliteration (for non-Latin alphabets), and the folded CJK string.

A name identifies an organisation only through a word of its own (`NameKey.identifying`): a
name made only of places, numbers, organisation-type words or stopwords never does.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields, make_dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import opencc
from anyascii import anyascii
from babel import Locale

from app.resolution.lemmas import is_cyrillic, lemma, type_words
from app.resolution.tables import rows

_COMBINING = re.compile(r"[\u0300-\u036f\u064b-\u065f\u0670\u0640]")
_LETTER_FOLDS = str.maketrans(
    {
        "đ": "d",
        "ð": "d",
        "ø": "o",
        "ł": "l",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "ı": "i",
        "ħ": "h",
        "ŧ": "t",
        "ŋ": "n",
        "ſ": "s",
        "ё": "е",
        "&": " and ",
    }
)
_APOSTROPHES = re.compile(r"['’‘`ʼ´ʻ]")
# Possessive or elided letters glued by an apostrophe: "Women's" → "womens", "l'Homme" → "lhomme".

# The word tables are data files (app/resolution/data/*.tsv, tables.py), each explained in its
# header lines.
STOPWORDS = frozenset(word for word, _ in rows("stopwords", 2))

# Organisation-type words: variants map to one spelling; a name that differs from another only
# by such a word is probably the same organisation, two names that swap one for another are not.
_TYPE_VARIANTS = {word: canonical for word, canonical, _ in rows("type_variants", 3)}
_ORG_TYPES = rows("org_types", 2)
_ROLES = frozenset(["body", "no body", "legal form"])
if not {role for _, role in _ORG_TYPES} <= _ROLES:
    raise ValueError(f"org_types.tsv: a role is none of {sorted(_ROLES)}")
TYPE_WORDS = frozenset(word for word, _ in _ORG_TYPES)
# Type words that name no body of their own: legal forms, and words for what any body is or
# does or for its office. "China Aid Inc" is China Aid and "Free Tibet Campaign" is Free Tibet,
# while "Human Rights First Society" or "X Foundation" can be another body than "Human Rights
# First" or "X".
LEGAL_FORMS = frozenset(word for word, role in _ORG_TYPES if role == "legal form")
_NO_BODY_OF_ITS_OWN = frozenset(word for word, role in _ORG_TYPES if role != "body")


def names_a_body(type_word: str) -> bool:
    """Whether a (canonical) organisation-type word can name a body of its own."""
    return type_word in TYPE_WORDS and type_word not in _NO_BODY_OF_ITS_OWN


# Legal forms written as letters with dots ("e.V.", "A.C.", "N.G.O."), folded into separate
# one-letter words; recognised at the end of a name only, where legal forms stand.
_LEGAL_LETTERS = {
    ("e", "v"): "ev",
    ("a", "c"): "ac",
    ("n", "g", "o"): "ngo",
    ("o", "n", "g"): "ong",
    ("a", "s", "b", "l"): "asbl",
}
_LEGAL_LONGEST = max(map(len, _LEGAL_LETTERS))
# Words that only number something: "(No. 1)", "Nr. 2", "(II)".
_NUMBERING = frozenset(["no", "nr", "num", "number", "numero", "nummer", "n"])
_NUMBER = re.compile(r"\d+(?:st|nd|rd|th|e|er|eme|o|a)?|[ivx]{1,5}")
# Words that name a part of a larger body: a chapter is a different signatory.
_CHAPTER_WORDS = {word: chapter for word, chapter in rows("chapter_words", 2)}
# Short capitalised codes that are places only when written in capitals ("Friends of Tibet NZ").
_CODE_ALIASES = {"uk": "GB", "usa": "US"}
# Canonical zone areas only: legacy aliases (Canada/Eastern, Mexico/General, Chile/Continental)
# name no city.
_TZ_REGIONS = frozenset(
    ["Africa", "America", "Asia", "Atlantic", "Australia", "Europe", "Indian", "Pacific"]
)
_ORDINARY_WORDS = STOPWORDS | TYPE_WORDS | frozenset(_TYPE_VARIANTS) | frozenset(_CHAPTER_WORDS)
_NOT_PLACE_CODES = frozenset(word for (word,) in rows("not_place_codes", 1))


def _build_punct_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for cp in range(0x20000):
        category = unicodedata.category(chr(cp))
        if category[0] in "PSZC":
            table[cp] = " "
    return table


_PUNCT_TABLE = _build_punct_table()


def _dictionary(name: str) -> list[tuple[str, list[str]]]:
    path = Path(opencc.__file__).parent / "dictionary" / name
    found = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, values = line.partition("\t")
        if key and values:
            found.append((key, values.split()))
    return found


def _build_han_table() -> dict[int, str]:
    """One canonical (simplified) character for every traditional, variant or shinjitai form."""
    to_simplified: dict[str, str] = {}
    for traditional, forms in _dictionary("TSCharacters.txt"):
        if len(traditional) == 1 and len(forms[0]) == 1:
            to_simplified.setdefault(traditional, forms[0])

    def canonical(char: str) -> str:
        return to_simplified.get(char, char)

    table: dict[int, str] = {}
    for traditional, simplified in to_simplified.items():
        if traditional != simplified:
            table[ord(traditional)] = simplified
    # Regional and Japanese forms point back to the standard traditional character.
    for dictionary in ("JPVariants.txt", "TWVariants.txt", "HKVariants.txt"):
        for standard, variants in _dictionary(dictionary):
            if len(standard) != 1:
                continue
            for variant in variants:
                if len(variant) == 1 and variant != standard and ord(variant) not in table:
                    target = canonical(standard)
                    if target != variant:
                        table[ord(variant)] = target
    return table


_HAN_TABLE = _build_han_table()


def fold_han(text: str) -> str:
    """Traditional, simplified and Japanese forms of a Han character to one form."""
    return text.translate(_HAN_TABLE)


_CJK = re.compile(
    "[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af\u1100-\u11ff"
    "\u31f0-\u31ff\uff66-\uff9f\U00020000-\U0003134f]"
)


def is_cjk_char(char: str) -> bool:
    cp = ord(char)
    return (
        0x3040 <= cp <= 0x30FF  # kana
        or 0x3400 <= cp <= 0x4DBF
        or 0x4E00 <= cp <= 0x9FFF
        or 0xF900 <= cp <= 0xFAFF
        or 0xAC00 <= cp <= 0xD7AF  # hangul
        or 0x1100 <= cp <= 0x11FF
        or 0x20000 <= cp <= 0x3134F
        or 0x31F0 <= cp <= 0x31FF
        or 0xFF66 <= cp <= 0xFF9F
    )


def _fold_characters(text: str) -> str:
    """The folding steps, before spaces are made single."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = _APOSTROPHES.sub("", text).translate(_LETTER_FOLDS)
    text = unicodedata.normalize("NFKD", text)
    # Й and Ї are letters of their own in Russian and Ukrainian, not И and І with a mark:
    # Гражданский is not Гражданскии.
    text = text.replace("\u0438\u0306", "\u0439").replace("\u0456\u0308", "\u0457")
    text = unicodedata.normalize("NFC", _COMBINING.sub("", text))
    text = text.translate(_PUNCT_TABLE).translate(_LETTER_FOLDS)
    return fold_han(text)


# On ASCII text every folding step maps each character on its own (the Unicode normal forms
# leave ASCII as it is, case-folding is per character, the two-letter replacements above are
# Cyrillic): one table, made by the steps themselves, folds it in one pass.
_ASCII_FOLDS = {
    code: folded for code in range(128) if (folded := _fold_characters(chr(code))) != chr(code)
}


def _latin_folds() -> dict[int, str]:
    """_ASCII_FOLDS, and the Latin letters whose folding is ASCII at once (é, Ñ, ß, ĳ, İ…):
    a word of ASCII and these letters is folded by one table too (decision 0131).

    Letter by letter is the pipeline's result for such a word: each letter is a starter whose
    decompositions start with a starter, so the normal forms neither compose nor reorder
    across two of them; case-folding and the tables map each on its own; and once the marks
    are gone the text is ASCII, which NFC leaves alone
    (tests/resolution/test_fast_parse.py checks every pair of them against the pipeline)."""
    table: dict[int, str] = dict(_ASCII_FOLDS)
    for code in range(0x80, 0x250):
        char = chr(code)
        if not unicodedata.category(char).startswith("L") or unicodedata.combining(char):
            continue
        if unicodedata.combining(unicodedata.normalize("NFKD", char)[0]):
            continue
        cased = _APOSTROPHES.sub("", unicodedata.normalize("NFKC", char).casefold())
        decomposed = unicodedata.normalize("NFKD", cased.translate(_LETTER_FOLDS))
        if decomposed and unicodedata.combining(decomposed[0]):
            continue
        if _COMBINING.sub("", decomposed).isascii():
            table[code] = _fold_characters(char)
    return table


_LATIN_FOLDS = _latin_folds()
# CJK unified ideographs (and extension A) have no decomposition and no case, and compose
# with nothing: a word of them alone folds by the Han table only (checked over every one of
# them in tests/resolution/test_fast_parse.py).
_HAN_WORD = re.compile("[\u3400-\u4dbf\u4e00-\u9fff]+")


# Text of ASCII and of cased Latin letters that NFKC leaves alone, and a capital beside
# another: in such text a word in capitals has two capitals in a row, so a name without them
# has none (build_name_key then skips its split; tests/resolution/test_fast_parse.py).
_CASED_LATIN = re.compile(
    "[\x00-\x7f"
    + "".join(
        chr(code)
        for code in _LATIN_FOLDS
        if code >= 128
        and unicodedata.normalize("NFKC", chr(code)) == chr(code)
        and (chr(code).isupper() or chr(code).islower())
    )
    + "]*"
)
_TWO_CAPITALS = re.compile(
    "[A-Z"
    + "".join(chr(code) for code in _LATIN_FOLDS if code >= 128 and chr(code).isupper())
    + "]{2}"
)


@lru_cache(maxsize=1 << 16)
def _fold_word(word: str) -> str:
    """The folded text of one space-separated piece of a name (cached: at scale names repeat
    their words far more than themselves — 1,000,000 generated organisations have 7 million
    words, 1 million distinct, most of them used once)."""
    text = word.translate(_LATIN_FOLDS)
    if not text.isascii():
        # Most words used once are acronyms and CJK names: one table each, not ten passes.
        text = fold_han(word) if _HAN_WORD.fullmatch(word) else _fold_characters(word)
    return " ".join(text.split())


def _fold(name: str) -> str:
    # Folded piece by piece between spaces (U+0020), with the same result as the whole name at
    # once: case-folding, the tables and the deletions map each character on its own, the
    # replacements span no space, and the normal forms never reorder or compose a character
    # across a space (a starter that no canonical decomposition holds:
    # tests/resolution/test_normalise.py checks it over every code point).
    if " " not in name:
        return _fold_word(name)
    return " ".join([folded for folded in map(_fold_word, name.split(" ")) if folded])


@lru_cache(maxsize=8192)
def fold(name: str) -> str:
    """The folded text of a name: lower-case, no diacritics, one Han form, single spaces."""
    return _fold(name)


def normalise(name: str) -> str:
    """The stored comparison key of a name (organisation_name.normalised)."""
    return fold(name)[:600]


def _place_names() -> tuple[dict[tuple[str, ...], str], int]:
    """Folded place phrases (as token tuples) → canonical id, from CLDR via babel."""
    places: dict[tuple[str, ...], str] = {}
    for lang in ("en", "fr", "es", "de", "pt", "it", "nl", "ru"):
        locale = Locale.parse(lang)
        for code, label in locale.territories.items():
            if code in ("ZZ", "001", "UN", "EZ", "QO"):
                continue
            if len(code) == 2 and code.isalpha():
                places.setdefault((code.lower(),), code)
            for variant in (label, re.sub(r"\bSAR\b.*$", "", label)):
                tokens = tuple(fold(variant).split())
                if tokens and not (len(tokens) == 1 and tokens[0] in STOPWORDS):
                    places.setdefault(tokens, code)
                    if len(tokens) > 1:
                        places.setdefault(("".join(tokens),), code)
    for zone, city in _tz_cities():
        labels = [city]
        # Exemplar city names in English, and in Russian (Cyrillic cannot collide with the
        # Latin words of a name; Latin translations can: Italian "Roma" is Rome and a people).
        for locale in (Locale.parse("en"), Locale.parse("ru")):
            exemplar = locale.time_zones.get(zone, {}).get("city")
            if exemplar:
                labels.append(exemplar)
        for label in labels:
            tokens = tuple(fold(label).split())
            if tokens and not (len(tokens) == 1 and tokens[0] in _ORDINARY_WORDS):
                places.setdefault(tokens, "city:" + fold(city))
    longest = max(len(k) for k in places)
    return places, longest


def _tz_cities() -> list[tuple[str, str]]:
    """(zone, city) of the canonical two-level time zones: Europe/London → London."""
    import zoneinfo

    cities = []
    for zone in sorted(zoneinfo.available_timezones()):
        # Two-level zones only: three-level ones are small US towns (Indiana/Knox, …/Center)
        # whose names collide with ordinary words.
        region = zone.split("/", 1)[0]
        if zone.count("/") == 1 and region in _TZ_REGIONS:
            cities.append((zone, zone.rsplit("/", 1)[1].replace("_", " ")))
    return cities


@cache
def cjk_places() -> frozenset[str]:
    """Folded CJK names of countries, territories and cities (CLDR: zh, zh_Hant, ja, ko)."""
    found: set[str] = set()
    for lang in ("zh", "zh_Hant", "ja", "ko"):
        locale = Locale.parse(lang)
        labels = list(locale.territories.values())
        for zone, _ in _tz_cities():
            labels.append(locale.time_zones.get(zone, {}).get("city") or "")
        for label in labels:
            folded = fold(label).replace(" ", "")
            if folded and all(is_cjk_char(c) for c in folded):
                found.add(folded)
    return frozenset(found)


@cache
def place_table() -> tuple[dict[tuple[str, ...], str], dict[str, int], dict[str, str]]:
    """Place phrases, the longest phrase starting with each word, and one-word places."""
    places, _ = _place_names()
    starts: dict[str, int] = {}
    for phrase in places:
        starts[phrase[0]] = max(starts.get(phrase[0], 0), len(phrase))
    single = {k[0]: v for k, v in places.items() if len(k) == 1 and len(k[0]) >= 4}
    return places, starts, single


@cache
def _loop_words() -> frozenset[str]:
    """Words build_name_key's word loop must see one by one: a place phrase may start with
    them (place_table), or they are a place code when written in capitals. A name without
    these (nor CJK letters, nor one-letter words, which may spell a legal form) has one
    item per word: _classify's."""
    _, starts, _ = place_table()
    return frozenset(starts) | frozenset(_CODE_ALIASES)


# What a place name takes to become its people's word: Kenya-n, Pakistan-i, Africa-in, Chine-se,
# Japan-ese, Egypt-ian, Cambodia-ns; never a word glued on (China-aid).
_DEMONYM_ENDINGS = frozenset(["n", "i", "an", "in", "ns", "se", "is", "ese", "ian", "ans"])


@lru_cache(maxsize=65536)
def _demonym_place(token: str) -> str | None:
    """`cambodian`, `australian`, `japanese`, `philippine` → the country they derive from."""
    if len(token) < 5:
        return None
    _, _, single = place_table()
    for cut in (1, 2, 3):
        stem, ending = token[:-cut], token[-cut:]
        if (
            ending in _DEMONYM_ENDINGS
            and len(stem) >= 4
            and stem in single
            and not single[stem].startswith("city:")
        ):
            return single[stem]
    for extra in ("s", "a"):
        if token + extra in single and not single[token + extra].startswith("city:"):
            return single[token + extra]
    return None


@dataclass(frozen=True, slots=True)
class NameKey:
    """Everything the scorer needs about one name, computed once."""

    raw: str
    norm: str
    # Words in order as (kind, value, letters): kind c(ontent) t(ype) p(lace) h (chapter)
    # s(topword); value is the canonical form; letters are the initials as written.
    items: tuple[tuple[str, str, str], ...]
    discriminators: frozenset[str]  # place ids and chapter words
    is_acronym: bool
    caps_tokens: frozenset[str]  # tokens written in capitals (embedded acronyms: LSVD)
    acronym_words: frozenset[str]  # words that may abbreviate others: SFT, CSJ, R2P, L4L
    cjk: str  # the CJK characters of the name, folded; "" when none
    translit: str  # anyascii of a non-Latin alphabetic name; "" otherwise

    @property
    def content(self) -> tuple[str, ...]:
        return tuple([v for k, v, _ in self.items if k == "c"])

    @property
    def types(self) -> tuple[str, ...]:
        return tuple([v for k, v, _ in self.items if k == "t"])

    @property
    def initials(self) -> str:
        """First letters of the words other than stopwords and legal forms ("" for fewer than
        two words)."""
        letters = "".join([w for k, v, w in self.items if k != "s" and v not in LEGAL_FORMS])
        return letters if len(letters) >= 2 else ""

    @property
    def initials_with_stopwords(self) -> str:
        """First letters of every word but legal forms: HRIC is Human Rights *in* China."""
        letters = "".join([w for _, v, w in self.items if v not in LEGAL_FORMS])
        return letters if len(letters) >= 2 else ""

    @property
    def identifying(self) -> bool:
        """Whether the name can stand for one organisation: a word of its own (two letters or
        more, not a number), a type of body in a place, places related by a word, or two CJK
        characters that are not a place. "London", "(2)", "No. 1", "UK", "Association", "NGO Kenya", "Youth" or "香港"
        never do."""
        if len(self.cjk) >= 2 and self.cjk not in cjk_places():
            return True
        if any(kind == "c" and naming_word(value) for kind, value, _ in self.items):
            return True
        # A type of body in a place names one (Asia Society, Japan Foundation, British
        # Council), and so does a relation between places (Netherlands for Hong Kong).
        kinds = {kind for kind, value, _ in self.items if value not in LEGAL_FORMS}
        places = {value for kind, value, _ in self.items if kind == "p"}
        return {"t", "p"} <= kinds or (len(places) >= 2 and "s" in kinds)

    @property
    def despaced(self) -> str:
        return self.norm.replace(" ", "")


# NameKey's own __init__ sets each field through object.__setattr__ (it is frozen): ~14,000
# machine instructions a key, and the index build makes one per name (2.45 million at
# 1,000,000 organisations) while a query decodes ~60 from the snapshot. A twin with the same
# slots, not frozen, is filled instead and then made a NameKey (assigning __class__ between two
# types of one layout, which CPython checks): ~3,600, and the key is as frozen as any other
# (decision 0131).
_NameKeyTwin = make_dataclass(
    "_NameKeyTwin", [(f.name, f.type) for f in fields(NameKey)], slots=True, eq=False
)


def name_key_of(values: Sequence[Any]) -> NameKey:
    """NameKey(*values), faster (the note above)."""
    key = _NameKeyTwin(*values)
    key.__class__ = NameKey
    return key  # type: ignore[no-any-return]


# Word items repeat across hundreds of thousands of names: one shared tuple per distinct word.
_ITEMS: dict[tuple[str, str, str], tuple[str, str, str]] = {}
_EMPTY: frozenset[str] = frozenset()


def _item(kind: str, value: str, letters: str) -> tuple[str, str, str]:
    item = (kind, value, letters)
    return _ITEMS.setdefault(item, item)


def _frozen(values: Iterable[str]) -> frozenset[str]:
    result = frozenset(values)
    return result if result else _EMPTY


def naming_word(word: str) -> bool:
    """A folded content word that can name something: not a number, a numbering word or a
    single letter."""
    return len(word) >= 2 and word not in _NUMBERING and not _NUMBER.fullmatch(word)


def is_acronym(raw: str) -> bool:
    """A single token mostly in capitals: RSF, FORUM-ASIA, iDEFEND, L4L, ICRtoP."""
    stripped = raw.strip()
    if " " in stripped or not stripped:
        return False
    letters = [c for c in stripped if c.isalpha()]
    upper = sum(map(str.isupper, letters))
    # CJK characters have no case: they are never counted as capitals, only checked last
    # (the letters among the characters _CJK finds, is_cjk_char's ranges).
    return (
        upper >= 2
        and upper > len(letters) - upper
        and not any(map(str.isalpha, _CJK.findall(stripped)))
    )


# Runs of capitals, of small letters, of digits: ICRtoP is I C R "to" P.
_CAPITALS = re.compile(r"[A-Z]+|[a-z]+|\d+")


@lru_cache(maxsize=8192)
def acronym_letters(raw: str) -> tuple[tuple[str, frozenset[str]], ...]:
    """The letters an acronym may stand for as initials, each with the small words it writes
    out: itself folded (none), and, for an acronym that writes its stopwords out in small
    letters (ICRtoP: International Coalition for the Responsibility *to* Protect; not HRiC:
    `i` is no word), its capitals alone, the initials of the long name's other words, which
    must then contain the words written out."""
    folded = _fold(raw).replace(" ", "")
    plain = ((folded, frozenset[str]()),)
    if not is_acronym(raw):
        return plain
    written = capitals_written(raw)
    return plain if written is None else (*plain, written)


def capitals_written(acronym: str) -> tuple[str, frozenset[str]] | None:
    """acronym_letters' second reading of an acronym, if it has one: its capitals alone and
    the small words it writes out (ICRtoP: `icrp`, {to}). The index files an acronym under
    this reading only (keys.name_index_keys), so it asks for nothing else."""
    stripped = acronym.strip()
    if stripped.isascii() and stripped == stripped.upper():
        return None  # no small letters, no word written out (NFKC leaves ASCII as it is)
    runs = _CAPITALS.findall(unicodedata.normalize("NFKC", stripped))
    small = frozenset(r for r in runs if r.islower())
    if not small or not all(len(r) >= 2 and r in STOPWORDS for r in small):
        return None
    capitals = "".join(r for r in runs if r.isupper()).lower()
    return (capitals, small) if len(capitals) >= 2 else None


_SET_APART = re.compile(r"(?:,|\(|\[)\s*([A-Z]{2,3})\s*[)\]]?\s*$")
_CAPS_SPLIT = re.compile(r"[\s\-–—/(),.:;!?\[\]【】]+")


@lru_cache(maxsize=65536)
def _classify(token: str) -> tuple[str, str, str]:
    """The item of one word that is not a place phrase."""
    if token in STOPWORDS:
        return _item("s", token, token[0])
    if token in _CHAPTER_WORDS:
        return _item("h", "chapter:" + _CHAPTER_WORDS[token], token[0])
    demonym = _demonym_place(token)
    if demonym is not None:
        return _item("p", demonym, token[0])
    if is_cyrillic(token):
        # Центра and Центр are one word, and a type word (lemmas.py).
        token = lemma(token)
    canonical = _TYPE_VARIANTS.get(token) or type_words().get(token, token)
    return _item("t" if canonical in TYPE_WORDS else "c", canonical, token[0])


@lru_cache(maxsize=8192)
def name_key(raw: str) -> NameKey:
    """Normalise one name into its comparison keys (cached for repeated queries)."""
    return build_name_key(raw)


def build_name_key(raw: str) -> NameKey:
    """Normalise one name into its comparison keys (uncached: the index keeps its own)."""
    norm = _fold(raw)[:600]
    places, starts, _ = place_table()
    caps = (
        set()
        if _CASED_LATIN.fullmatch(raw) and not _TWO_CAPITALS.search(raw)
        else {
            _fold(w)
            for w in _CAPS_SPLIT.split(unicodedata.normalize("NFKC", raw))
            if w.isupper() and len(w) >= 2 and w.isalpha()
        }
    )
    tokens = norm.split()
    count = len(tokens)
    cjk = "".join(_CJK.findall(norm))
    items: list[tuple[str, str, str]] = []
    # A code that is also a word (US, IT, NO) is a place when set apart after the name in
    # capitals: "Uyghur Human Rights Project, US", "Friends of Tibet (IT)".
    apart = _SET_APART.search(raw)
    i = 0
    if not cjk and _loop_words().isdisjoint(tokens) and min(map(len, tokens), default=2) > 1:
        # Most names (three in five of the bench's without CJK): what the loop below gives.
        items = list(map(_classify, tokens))
        i = count
    while i < count:
        token = tokens[i]
        if cjk and _CJK.search(token):
            i += 1
            continue
        # Most words start no place phrase: their loop below is empty.
        longest = starts.get(token)
        if longest:
            set_apart = apart is not None and i == count - 1 and token == apart.group(1).lower()
            place = None
            for size in range(min(longest, count - i), 0, -1):
                phrase = tuple(tokens[i : i + size])
                found = places.get(phrase)
                # Codes and short words count as places only when written in capitals (NZ, HK).
                if found is None or (
                    size == 1
                    and len(token) <= 3
                    and (token not in caps or (token in _NOT_PLACE_CODES and not set_apart))
                ):
                    continue
                place = (found, size)
                break
            if place is not None:
                found, size = place
                phrase_tokens = tokens[i : i + size]
                items.append(_item("p", found, "".join(t[0] for t in phrase_tokens)))
                i += size
                continue
        # Only the last few words can be a legal form in letters, each a single letter (no
        # tuple for the others).
        if len(token) == 1 and count - i <= _LEGAL_LONGEST:
            legal = _LEGAL_LETTERS.get(tuple(tokens[i:]))
            if legal is not None:
                items.append(_item("t", legal, legal[0]))
                break
        if token in _CODE_ALIASES and token in caps:
            items.append(_item("p", _CODE_ALIASES[token], token[0]))
        else:
            items.append(_classify(token))
        i += 1
    non_latin_alphabet = (
        not cjk and not norm.isascii() and any(c.isalpha() and not c.isascii() for c in norm)
    )
    return name_key_of(
        (
            raw,  # raw
            norm,  # norm
            tuple(items),  # items
            _frozen([v for k, v, _ in items if k in "ph"]),  # discriminators
            is_acronym(raw),  # is_acronym
            _frozen([c for c in caps if len(c) >= 3]) if caps else _EMPTY,  # caps_tokens
            _frozen(  # acronym_words
                [
                    t
                    for t in tokens
                    if (t in caps or (not (t.isalpha() or t.isdigit()) and t.isalnum()))
                    and 2 <= len(t) <= 10
                ]
            ),
            cjk,  # cjk
            _transliterated(tokens) if non_latin_alphabet else "",  # translit
        )
    )


@lru_cache(maxsize=1 << 14)
def _transliterated_word(word: str) -> str:
    return " ".join(anyascii(word).lower().split())


def _transliterated(tokens: list[str]) -> str:
    """`" ".join(anyascii(norm).lower().split())` word by word (cached): anyascii maps each
    character on its own, and lower-casing its ASCII output too."""
    return " ".join([t for t in map(_transliterated_word, tokens) if t])


def abbreviates(acronym: str, key: NameKey, *, min_words: int = 1) -> bool:
    """Whether a folded acronym can be read from a name's words in order, each word giving
    the start of the next part of the acronym and any word skipped: HRIC from Human Rights
    in China, MUHURI from Muslims for Human Rights, Provea from Programa Venezolano de
    Educación-Acción; `min_words` words at least must give a part. Lenient on purpose: it
    tells whether an acronym could belong to a name, never that it does."""
    # Elided articles are words of their own here: l'Abolition gives the A of ACAT.
    words = fold(_APOSTROPHES.sub(" ", key.raw)).split()
    if not acronym or len(acronym) > 15 or not words:
        return False

    @cache
    def fits(start: int, word: int, used: int) -> bool:
        if start == len(acronym):
            return used >= min_words
        for index in range(word, len(words)):
            candidate = words[index]
            length = 0
            while (
                length < len(candidate)
                and start + length < len(acronym)
                and candidate[length] == acronym[start + length]
            ):
                length += 1
                if fits(start + length, index + 1, used + 1):
                    return True
        return False

    return fits(0, 0, 0)


@cache
def _territory_labels() -> dict[str, str]:
    return dict(Locale.parse("en").territories)


def describe(discriminator: str) -> str:
    """A discriminator id as words: `JP` → Japan, `city:halifax` → halifax, `chapter:youth`."""
    kind, _, value = discriminator.partition(":")
    if value:
        return value if kind == "city" else f"{value} (chapter word)"
    return _territory_labels().get(discriminator, discriminator)
