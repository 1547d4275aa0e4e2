"""Blocking keys: under which keys a registered name is filed, and which keys a submitted name
looks up (pure functions of a NameKey; the index in index.py stores and weighs them).

Keys of one name: `~` normalised name without spaces, `w:` each word (content and
organisation-type words; a query also looks up two adjacent words glued, `frontline`), `p:`
places and chapter words, `i:` initials of a long name (≥ 3 letters, without and with
stopwords), `t:` anyascii transliteration (non-Latin alphabets), `b:` CJK character bigrams
(`u:` a lone CJK character). The admin duplicate scan (scan.py) walks the same keys.
"""

import hashlib
import itertools

from app.resolution.lemmas import is_cyrillic, latin_reading
from app.resolution.normalise import (
    TYPE_WORDS,
    NameKey,
    acronym_letters,
    capitals_written,
)
from app.resolution.scripts import hangul_readings

# The bonus of a query's whole-name key over the IDF weights of its other keys.
_EXACT_WEIGHT = 60.0


def _exact(text: str) -> int:
    """Whole-name keys are filed by hash: one per name, a string would cost ~80 bytes each;
    a collision only adds a candidate that scoring then rejects. A stable 64-bit hash, not
    hash(): the machine's shared index file (snapshot.py) is read by processes whose str
    hashes are salted differently."""
    hasher = _BLAKE2B.copy()  # a copy of an empty one: the same hash, no arguments to parse
    hasher.update(("~" + text).encode())
    return int.from_bytes(hasher.digest())


_BLAKE2B = hashlib.blake2b(digest_size=8)


def whole_name_key(key: NameKey) -> int:
    """The blocking key of a name as a whole (the others: its words, initials, scripts)."""
    return _exact(key.despaced)


def _initials(key: NameKey) -> set[str]:
    """A long name's initials of ≥ 3 letters, without and with its stopwords (HRIC is Human
    Rights *in* China)."""
    return {i for i in (key.initials, key.initials_with_stopwords) if len(i) >= 3}


def name_index_keys(key: NameKey) -> set[str | int]:
    """The blocking keys under which one name is filed."""
    keys: set[str | int] = set()
    if key.norm:
        keys.add(_exact(key.despaced))
    if key.is_acronym:
        # ICRtoP is also filed as ICRP: a long name's initials find it.
        # (acronym_letters(key.raw)[1:], without folding the name once more.)
        written = capitals_written(key.raw)
        if written is not None:
            keys.add(_exact(written[0]))
    for kind, value, _ in key.items:
        if kind != "s":
            keys.add(("w:" if kind in "ct" else "p:") + value)
    for initials in _initials(key):
        keys.add(_exact("i:" + initials))
    if key.translit:
        keys.add("t:" + key.translit)
        if is_cyrillic(key.norm):
            # Its words read in Latin letters find Latin names (lemmas.latin_reading).
            # Only words of its own: type words ("center") are in every posting already.
            keys.update(
                "w:" + w
                for w in latin_reading(key.norm).split()
                if len(w) >= 3 and w not in TYPE_WORDS
            )
    if key.cjk:
        # 한변 is filed as Hanbyun too, and finds it (scripts.hangul_readings).
        keys.update(_exact(reading) for reading in hangul_readings(key.norm))
        if len(key.cjk) == 1:
            keys.add("u:" + key.cjk)
        keys.update("b:" + key.cjk[i : i + 2] for i in range(len(key.cjk) - 1))
    return keys


def query_keys(key: NameKey) -> dict[str | int, float]:
    """Keys a submitted name looks up, with a bonus for the exact-name key."""
    keys = dict.fromkeys(name_index_keys(key), 0.0)
    for initials in _initials(key):
        keys.pop(_exact("i:" + initials), None)
        keys.setdefault(_exact(initials), 0.0)  # a long name finds the registered acronym
    initials = key.initials
    keys[_exact(key.despaced)] = _EXACT_WEIGHT
    if key.is_acronym and len(key.despaced) >= 2:
        # An acronym query finds long names with these initials and names that contain it.
        keys.update(dict.fromkeys((_exact("i:" + a) for a, _ in acronym_letters(key.raw)), 0.0))
        keys["w:" + key.despaced] = 0.0
    if len(initials) >= 2:
        keys.setdefault(_exact(initials), 0.0)  # a long name finds the registered acronym
    placeless = "".join(letters for kind, _, letters in key.items if kind in "cth")
    if len(placeless) >= 3:
        # "Students for a Free Tibet Japan" finds "SFT Japan".
        keys.setdefault("w:" + placeless, 0.0)
        keys.setdefault(_exact(placeless), 0.0)
    words = [value for kind, value, _ in key.items if kind in "ct"]
    for a, b in itertools.pairwise(words):
        keys.setdefault("w:" + a + b, 0.0)  # "front line" finds "frontline"
    return keys
