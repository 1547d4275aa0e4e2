"""The scoring rules, each followed by its bound (pure: no I/O, no session).

A rule scores, caps or lowers; its bound says, far more cheaply, how high the rule can let a
score go, so that the resolver can skip candidates that cannot reach the review line (bound.py
adds the bounds up as scoring.py adds the rules up; tests/resolution/test_bounds.py checks that
the bound is never below the score). A rule that only lowers a score needs no bound: it says
so where it stands. Thresholds and the decision policy are decide.py.

The rules, each leaving a reason:
- equal normalised names (diacritics, Han variants, punctuation folded) → 100; equal once
  spaces are removed (`Frontline` / `Front Line`, `ChinaAid` / `China Aid`) → 98;
- word alignment: exact, fuzzy (rapidfuzz ratio ≥ 88 on words of ≥ 5 letters), two words glued
  into one, and an acronym word spelling the initials of a run of words (`SFT` = Students for a
  Free Tibet, `L4L` = Lawyers for Lawyers); what stays unmatched decides:
  only a legal form (Inc, e.V., asbl) or a generic type word (organisation, campaign, project,
  initiative, movement) on one side → 94; only a type word that can name a body of its own
  (Society, Foundation, Institute, Centre, International…) on one side → 84 (review); one
  type word swapped for another (Association / Union) → 72; the query is a shortened form of
  the candidate → 90 when it keeps a rare word and the omitted tail names no body of its own,
  else 82–84; the query adds its own words → 75; both sides keep words of their own → at most
  68;
- links need evidence (each caps the score below LINK, so a person decides):
  the same words in another order (`Dialogue China` / `China Dialogue`) → at most 80;
  a name that identifies nothing on its own (a place, a number, a type word: `London`, `(2)`,
  `UK`; NameKey.identifying), equal or not → at most 75, whatever is stored;
  the query's acronym spelling its own long name but fitting no name of the candidate
  (`Human Rights in Cambodia (HRIC)` / `Cambodian Center for Human Rights`) → at most 80;
  an acronym shared while the full names do not link (`Human Rights First (HRF)` / `Human
  Rights Foundation (HRF)`) → at most 85;
- discriminators (countries, regions, cities, chapter words) over all names of each side: the
  query names a place the candidate does not → at most 60 (50 when the candidate names
  another); the candidate names a place the query does not → at most 85 (review);
- CJK: equal folded characters → 100; one inside the other → 78; any different character → 50;
- transliteration (anyascii) between scripts: equal → 92, close → 80; a name in Hangul equal
  to a Latin one in one of its romanisations (민변 / MINBYUN, scripts.hangul_readings) → 92;
- acronyms: an acronym written in capitals inside a candidate name (LSVD) → 92; an acronym equal
  to the initials of a long name → 78 (review only), 90 from four letters when no other
  registered name has them; an acronym that writes its stopwords out (ICRtoP) is read as its
  capitals;
- the same registrable website domain → at least 95 unless a discriminator, a contradicting
  acronym or one of the "two bodies" caps above speaks against it; two different domains → −5;
  different declared countries → at most 55;
- for the duplicate queue only (`near_misses`), never the resolver: names a letter apart as
  written (one letter deleted, added or changed in names of ≥ 8 letters; one CJK character
  more or less in names of ≥ 4) that the rules above put below the review line → REVIEW.
"""

import itertools
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache

from babel.core import get_global
from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from app.resolution.decide import LINK, REVIEW
from app.resolution.lemmas import is_cyrillic, latin_reading
from app.resolution.normalise import (
    LEGAL_FORMS,
    TYPE_WORDS,
    NameKey,
    abbreviates,
    acronym_letters,
    describe,
    fold,
    name_key,
    names_a_body,
)
from app.resolution.scripts import hangul_readings

# Caps of the rules that ask for a person: the names fit, but two bodies could bear them.
UNIDENTIFIED = 75.0  # a name made only of places, numbers or type words
REORDERED = 80.0  # the same words in another order
ADDED_BODY = 84.0  # one side adds a word that can name another body
CONTRADICTED = 80.0  # the query's own acronym fits none of the candidate's names
LOCATED = 85.0  # a place after the name the registry does not give: section or headquarters?
_DIGIT_WORDS = {"2": "t", "4": "f"}
_DIGITS = frozenset(_DIGIT_WORDS)
# An acronym of at least this many letters equal to a long name's initials may link (90 leaves
# every other candidate with the same initials within the margin).
_LINKING_INITIALS = 4
ACRONYM_INITIALS = 90.0

Rarity = Callable[[str], int]


@dataclass
class PairScore:
    score: float
    reasons: list[str]
    query: NameKey
    candidate: NameKey
    exact: bool = False
    acronym: bool = False
    consumed: frozenset[str] = frozenset()
    # The names fit, but two bodies could bear them (a cap of REORDERED, ADDED_BODY or
    # UNIDENTIFIED): a shared website does not settle that.
    two_bodies: bool = False


# ---- Name against name: the rules in order, then their bound -------------------------


@dataclass
class PairsRead:
    """What bounding a query's candidates found out about pairs of names, for scoring them
    (ScoreBound fills it, score_organisation reads it): the whole-name rules' answers
    (whole_name_bound) and each pair's bound. Keyed by the names' identities, so it holds
    for the names of one Index.score call, which keeps them alive."""

    whole: dict[tuple[int, int], PairScore | None] = field(default_factory=dict)
    bounds: dict[tuple[int, int], float] = field(default_factory=dict)


def score_pair(
    q: NameKey, r: NameKey, *, rarity: Rarity | None = None, read: PairsRead | None = None
) -> PairScore:
    """One query name against one candidate name.

    A name that names no organisation on its own ("London", "(2)", "UK", "Association": see
    NameKey.identifying) is never enough to link, whatever else it equals.

    `read`: the whole-name rules' answer is taken from it when whole_name_bound recorded one
    for these very names (else the rules run here)."""
    names = (id(q), id(r))
    if read is not None and names in read.whole:
        pair = read.whole[names] or _word_pair(q, r, rarity)
    else:
        pair = _score_pair(q, r, rarity)
    if pair.score <= UNIDENTIFIED:
        return pair
    vague = [k.raw for k in (q, r) if not k.identifying]
    if not vague:
        return pair
    reason = f"'{vague[0]}' names only a place, a number or a type of body: not enough to link"
    return PairScore(
        UNIDENTIFIED, [*pair.reasons, reason], q, r, acronym=pair.acronym, two_bodies=True
    )


def _score_pair(q: NameKey, r: NameKey, rarity: Rarity | None) -> PairScore:
    """The pair rules in order: the first that applies scores (bounds: whole_name_bound and
    word_pair_bound, below)."""
    return _whole_name_pair(q, r) or _word_pair(q, r, rarity)


def _whole_name_pair(q: NameKey, r: NameKey) -> PairScore | None:
    """The rules that read whole names, before word alignment, in order: the first that
    applies scores; None when none does. Cheap enough for whole_name_bound to run as they are."""
    if q.norm == r.norm and q.norm:
        acronym = q.is_acronym or r.is_acronym
        what = "same acronym" if acronym else "same name"
        return PairScore(100.0, [f"{what} as '{r.raw}' after normalisation"], q, r, True, acronym)
    cjk = _cjk_pair(q, r)
    if cjk is not None:
        return cjk
    if q.cjk or r.cjk:
        return _korean_pair(q, r) or PairScore(0.0, [], q, r)
    translit = _translit_pair(q, r)
    if translit is not None:
        return translit
    if q.despaced == r.despaced and q.despaced:
        # The same letters spell the same places, read or not: China Aid is ChinaAid.
        spelled = q.discriminators | r.discriminators
        reason = f"same letters as '{r.raw}' (spacing differs)"
        return PairScore(98.0, [reason], q, r, True, consumed=spelled)
    if q.is_acronym and q.despaced in r.caps_tokens and q.despaced not in TYPE_WORDS:
        return PairScore(92.0, [f"acronym {q.raw} written in '{r.raw}'"], q, r, acronym=True)
    if r.is_acronym and r.despaced in q.caps_tokens and r.despaced not in TYPE_WORDS:
        return PairScore(92.0, [f"'{q.raw}' contains the acronym {r.raw}"], q, r, acronym=True)
    if q.is_acronym and _initials_of(q, r):
        return _initials_pair(q, r, f"acronym {q.raw} matches the initials of '{r.raw}'")
    if r.is_acronym and _initials_of(r, q):
        return _initials_pair(q, r, f"'{q.raw}' has the initials of the acronym {r.raw}")
    return None


# What a name's content words can align with, for the upper bound of a pair's score:
# (content words, content and type words NUL-separated so that `w in joined` finds w inside
# one of them, the same words as a tuple so that `w.startswith(starts)` finds one starting w,
# the name without spaces).
_Words = tuple[list[str], str, tuple[str, ...], str]


def alignable_words(key: NameKey) -> _Words:
    """What word_bound reads of a name (its words, in whatever script)."""
    content: list[str] = []
    words: list[str] = []
    for kind, value, _ in key.items:
        if kind == "c":
            content.append(value)
            words.append(value)
        elif kind == "t":
            words.append(value)
    return content, "\0".join(words), tuple(words), key.despaced


def whole_name_bound(q: NameKey, r: NameKey, read: PairsRead | None = None) -> float | None:
    """Upper bound of the rules that read whole names (_whole_name_pair: the same letters,
    CJK, other scripts against Latin, acronyms written or spelled as initials), run as they
    are; None when none applies and word alignment scores. A pair they score 100, or as an
    acronym, or that spells places (`consumed`) is bounded at 100: ScoreBound's place bound
    does not hold for it. What the rules answered is recorded in `read`, so that scoring the
    pair does not run them again (the same letters of two Latin names are cheaper to compare
    again than to record, most pairs being bounded and never scored)."""
    if not (q.cjk or r.cjk or q.translit or r.translit or q.is_acronym or r.is_acronym):
        # Two names in Latin words, neither an acronym (most pairs): of those rules only the
        # same letters apply (equal names included), without a PairScore made to say so.
        return 100.0 if q.despaced == r.despaced else None
    whole = _whole_name_pair(q, r)
    if read is not None:
        read.whole[id(q), id(r)] = whole
    if whole is None:
        return None
    if whole.acronym or whole.consumed or whole.exact:
        return 100.0
    return whole.score


def word_pair_bound(q: NameKey, q_words: _Words, r: NameKey, r_words: _Words) -> float:
    """Upper bound of _word_pair(q, r): word_bound, but 100 when an acronym word of one name
    may spell a run of the other's words (_may_spell). The cap of score_pair (names that
    identify nothing) only lowers."""
    if (q.acronym_words or r.acronym_words) and (_may_spell(q, r) or _may_spell(r, q)):
        return 100.0
    return word_bound(q, q_words, r, r_words)


def _may_spell(key: NameKey, other: NameKey) -> bool:
    """Whether an acronym word of `key` may spell a run of `other`'s words (_find_run): its
    letters, in order, among the initials of `other`'s words but stopwords, or, with digits
    read as words (L4L), of all its words (_acronym_spells)."""
    if not key.acronym_words:
        return False  # most names: nothing to join
    letters = "".join([item[2] for item in other.items if item[0] != "s"])
    every = None
    for token in key.acronym_words:
        if token in letters:
            return True
        if not _DIGITS.isdisjoint(token):
            if every is None:
                every = "".join([item[2] for item in other.items])
            if "".join(_DIGIT_WORDS.get(c, c) for c in token) in every:
                return True
    return False


# ---- Whole-name rules (bound: whole_name_bound runs them) ------------------------------


def _cjk_pair(q: NameKey, r: NameKey) -> PairScore | None:
    if not (q.cjk and r.cjk):
        return None
    if q.cjk == r.cjk:
        return PairScore(100.0, [f"same characters as '{r.raw}' (variant forms folded)"], q, r)
    if q.cjk in r.cjk or r.cjk in q.cjk:
        return PairScore(78.0, [f"'{q.raw}' and '{r.raw}': one contains the other"], q, r)
    if len(q.cjk) == len(r.cjk):
        diff = [(a, b) for a, b in zip(q.cjk, r.cjk, strict=True) if a != b]
        shown = ", ".join(f"{a}≠{b}" for a, b in diff[:3])
        return PairScore(50.0, [f"differs from '{r.raw}' by character(s) {shown}"], q, r)
    score = min(60.0, fuzz.ratio(q.cjk, r.cjk) * 0.6)
    return PairScore(score, [f"different characters from '{r.raw}'"], q, r)


def _korean_pair(q: NameKey, r: NameKey) -> PairScore | None:
    """A name in Hangul against a Latin one: the same when the Latin spelling is one of its
    readings (scripts.hangul_readings: 민변 is MINBYUN), as an equal transliteration is."""
    korean, latin = (q, r) if q.cjk else (r, q)
    if latin.cjk or latin.translit or not latin.despaced:
        return None
    if latin.despaced not in hangul_readings(korean.norm):
        return None
    reason = f"'{korean.raw}' is read '{latin.raw}' (a romanisation of Korean)"
    return PairScore(92.0, [reason], q, r)


def _translit_pair(q: NameKey, r: NameKey) -> PairScore | None:
    if bool(q.translit) == bool(r.translit) or q.cjk or r.cjk:
        return None
    a = q.translit or q.norm
    b = r.translit or r.norm
    if a == b:
        return PairScore(92.0, [f"same as '{r.raw}' once transliterated"], q, r)
    words = _read_in_latin(q, r)
    if words is not None:
        return words
    ratio = fuzz.token_sort_ratio(a, b)
    if ratio >= 92:
        return PairScore(80.0, [f"close to '{r.raw}' once transliterated ({ratio:.0f})"], q, r)
    return PairScore(min(50.0, ratio * 0.5), [f"transliteration differs from '{r.raw}'"], q, r)


def _read_in_latin(q: NameKey, r: NameKey) -> PairScore | None:
    """A Cyrillic name against a Latin one word by word (lemmas.latin_reading: Сахаровский
    Центр reads as "sakharov center"): at most what an equal transliteration scores; None
    below the review line, where the transliterations are compared instead."""
    cyrillic, latin = (q, r) if q.translit else (r, q)
    if not is_cyrillic(cyrillic.norm) or latin.translit:
        return None
    text = latin_reading(cyrillic.norm)
    if not set(text.split()) & set(latin.norm.split()):
        return None  # no word in common: nothing to align (the usual case, kept cheap)
    reading = name_key(text)
    if not reading.items:
        return None
    first, second = (reading, latin) if q is cyrillic else (latin, reading)
    if word_pair_bound(first, alignable_words(first), second, alignable_words(second)) < REVIEW:
        # A type word in common ("union", "center") is the usual case: no alignment needed.
        return None
    pair = _word_pair(first, second, None)
    if pair.score < REVIEW:
        return None
    said = f"'{cyrillic.raw}' read as '{reading.raw}'"
    return PairScore(
        min(pair.score, 92.0),
        [f"{said}: {pair.reasons[0]}" if pair.reasons else said, *pair.reasons[1:]],
        q,
        r,
        two_bodies=pair.two_bodies,
    )


def _initials_of(acronym: NameKey, long_name: NameKey) -> bool:
    """Whether an acronym (of ≥ 3 letters) is the initials of a long name, with or without its
    stopwords (acronym_letters: ICRtoP writes its stopword out, which the name must have)."""
    initials = (long_name.initials, long_name.initials_with_stopwords)
    return any(
        len(letters) >= 3 and letters in initials and _has_words(long_name, written)
        for letters, written in acronym_letters(acronym.raw)
    )


def _has_words(key: NameKey, words: AbstractSet[str]) -> bool:
    return words <= {value for _, value, _ in key.items}


def _initials_pair(q: NameKey, r: NameKey, reason: str) -> PairScore:
    """An acronym against a long name whose initials it is, in whatever language the long
    name is written (FIDH: Fédération internationale pour les droits humains).

    Three letters are shared by too many bodies to link on (review only), and so are initials
    that need the stopwords (HRIC from Human Rights *in* China). From four letters on the
    initials of the words that are not stopwords link, but only as the one organisation they fit: any other candidate
    whose name has them too stays within the margin and sends the pair to a person
    (`decide`). The long name's places are spelled by the acronym (ACHK: Alliance Canada
    Hong Kong), so they do not count as places the acronym leaves out."""
    spelled = q.discriminators if r.is_acronym else r.discriminators
    long_name = r if q.is_acronym else q
    acronym = q if q.is_acronym else r
    if long_name.identifying and any(
        len(letters) >= _LINKING_INITIALS
        and letters == long_name.initials
        and _has_words(long_name, written)
        for letters, written in acronym_letters(acronym.raw)
    ):
        return PairScore(
            ACRONYM_INITIALS,
            [f"{reason} (the only registered name with these initials links)"],
            q,
            r,
            acronym=True,
            consumed=spelled,
        )
    return PairScore(78.0, [f"{reason} (review only)"], q, r, acronym=True, consumed=spelled)


# ---- Word alignment, then its bound --------------------------------------------------


def _similar(a: str, b: str) -> bool:
    return len(a) >= 5 and len(b) >= 5 and a[0] == b[0] and fuzz.ratio(a, b) >= 88


def _acronym_spells(token: str, run: Sequence[tuple[str, str, str]]) -> bool:
    """`sft` spells Students for a Free Tibet; `l4l` Lawyers for Lawyers (digits as words)."""
    if len(run) < 2:
        return False
    letters = "".join(item[2] for item in run if item[0] != "s")
    if token == letters:
        return True
    if not _DIGITS.isdisjoint(token):
        spelled = "".join(_DIGIT_WORDS.get(c, c) for c in token)
        return spelled == "".join(item[2] for item in run)
    return False


@dataclass
class _Alignment:
    q_left: list[tuple[str, str, str]]
    r_left: list[tuple[str, str, str]]
    matched: list[tuple[str, str]]  # (kind, value)
    fuzzy: int = 0
    glued: int = 0
    spelled: list[str] = field(default_factory=list)
    consumed: set[str] = field(default_factory=set)
    prefix: bool = False
    # (query position, candidate position) of matched content words, places and chapters.
    pairs: list[tuple[int, int]] = field(default_factory=list)


def _find_run(token: str, items: list[tuple[str, str, str]], used: list[bool]) -> range | None:
    for start in range(len(items)):
        if used[start] or items[start][0] == "s" or items[start][2] != token[0]:
            continue
        for end in range(start + 2, min(len(items), start + 10) + 1):
            if used[end - 1] and items[end - 1][0] != "s":
                break
            if items[end - 1][0] == "s":
                continue
            if _acronym_spells(token, items[start:end]):
                return range(start, end)
    return None


def _align(q: NameKey, r: NameKey) -> _Alignment:
    q_items = list(q.items)
    r_items = list(r.items)
    q_used = [item[0] == "s" for item in q_items]
    r_used = [item[0] == "s" for item in r_items]
    result = _Alignment([], [], [])
    order: list[int] = []
    for i, (kind, value, _) in enumerate(q_items):
        if q_used[i]:
            continue
        for j, (r_kind, r_value, _) in enumerate(r_items):
            if not r_used[j] and r_kind == kind and r_value == value:
                q_used[i] = r_used[j] = True
                result.matched.append((kind, value))
                order.append(j)
                if kind != "t":
                    result.pairs.append((i, j))
                break
    for i, (kind, value, _) in enumerate(q_items):
        if q_used[i] or kind != "c":
            continue
        for j, (r_kind, r_value, _) in enumerate(r_items):
            if r_used[j] or r_kind != "c":
                continue
            if _similar(value, r_value):
                q_used[i] = r_used[j] = True
                result.matched.append(("c", value))
                result.fuzzy += 1
                order.append(j)
                result.pairs.append((i, j))
                break
            nxt = j + 1
            if (
                nxt < len(r_items)
                and not r_used[nxt]
                and r_items[nxt][0] in "ct"
                and value == r_value + r_items[nxt][1]
            ):
                q_used[i] = r_used[j] = r_used[nxt] = True
                result.matched.append(("c", value))
                result.glued += 1
                order.append(j)
                result.pairs.append((i, j))
                break
    for j, (kind, value, _) in enumerate(r_items):
        if r_used[j] or kind != "c":
            continue
        for i in range(len(q_items) - 1):
            if (
                not q_used[i]
                and not q_used[i + 1]
                and q_items[i][0] in "ct"
                and q_items[i + 1][0] in "ct"
                and value == q_items[i][1] + q_items[i + 1][1]
            ):
                q_used[i] = q_used[i + 1] = r_used[j] = True
                result.matched.append(("c", value))
                result.glued += 1
                order.append(j)
                result.pairs.append((i, j))
                break
    # An acronym on one side spelling a run of words on the other.
    for items, used, other, other_used, side, abbreviations in (
        (q_items, q_used, r_items, r_used, "q", q.acronym_words),
        (r_items, r_used, q_items, q_used, "r", r.acronym_words),
    ):
        if not abbreviations:
            continue
        for i, (kind, value, _) in enumerate(items):
            if used[i] or kind != "c" or value not in abbreviations:
                continue
            run = _find_run(value, other, other_used)
            if run is None:
                continue
            used[i] = True
            for j in run:
                other_used[j] = True
                if other[j][0] in "ph":
                    result.consumed.add(other[j][1])
            result.matched.append(("c", value))
            result.spelled.append(value)
            if side == "q":
                order.append(run.start)
    result.q_left = [item for item, used in zip(q_items, q_used, strict=True) if not used]
    result.r_left = [item for item, used in zip(r_items, r_used, strict=True) if not used]
    left_content = [j for j, item in enumerate(r_items) if not r_used[j] and item[0] == "c"]
    result.prefix = bool(order) and (not left_content or max(order) < min(left_content))
    return result


def _word_pair(q: NameKey, r: NameKey, rarity: Rarity | None) -> PairScore:
    a = _align(q, r)
    pair = _aligned_pair(q, r, a, rarity)
    if pair.score > REORDERED and _reordered(a.pairs):
        # "Dialogue China" and "China Dialogue" are two bodies. Only lowers: no bound.
        reason = f"the same words as '{r.raw}' in another order: two bodies can bear them"
        return PairScore(REORDERED, [*pair.reasons, reason], q, r, two_bodies=True)
    return pair


def _aligned_pair(q: NameKey, r: NameKey, a: _Alignment, rarity: Rarity | None) -> PairScore:
    q_content = [v for k, v, _ in a.q_left if k == "c"]
    r_content = [v for k, v, _ in a.r_left if k == "c"]
    q_types = [v for k, v, _ in a.q_left if k == "t"]
    r_types = [v for k, v, _ in a.r_left if k == "t"]
    consumed = frozenset(a.consumed)
    matched_content = [v for k, v in a.matched if k == "c"]
    if not any(k == "c" for k, _, _ in q.items) and not any(k == "c" for k, _, _ in r.items):
        matched_content = [v for _, v in a.matched]
    notes = []
    if a.fuzzy:
        notes.append(f"{a.fuzzy} word(s) spelled slightly differently")
    if a.glued:
        notes.append("words written together or apart")
    if a.spelled:
        notes.append("acronym " + ", ".join(a.spelled) + " spells the other name's words")
    penalty = 2.0 * a.fuzzy + 2.0 * a.glued + 3.0 * len(a.spelled)
    if not matched_content:
        ratio = fuzz.token_sort_ratio(q.norm, r.norm)
        return PairScore(min(45.0, ratio * 0.45), [f"no word in common with '{r.raw}'"], q, r)
    if not q_content and not r_content:
        return _same_words(q, r, q_types, r_types, notes, penalty, consumed)
    if not q_content:
        if q_types:
            reason = (
                f"omits words of '{r.raw}' ({' '.join(r_content)}) and adds {', '.join(q_types)}"
            )
            return PairScore(72.0, [reason, *notes], q, r)
        rare = rarity is not None and any(rarity(v) <= 2 for v in matched_content)
        if any(names_a_body(t) for t in r_types):
            # "International Bar Association" vs "… Association's Human Rights Institute": the
            # omitted part names a body of its own.
            reason = (
                f"part of '{r.raw}', which adds a body of its own ({' '.join(r_content)} "
                f"{' '.join(r_types)})"
            )
            return PairScore(
                ADDED_BODY - penalty, [reason, *notes], q, r, consumed=consumed, two_bodies=True
            )
        if a.prefix and rare:
            reason = f"shortened form of '{r.raw}' (keeps a rare word; omits {' '.join(r_content)})"
            return PairScore(90.0 - penalty, [reason, *notes], q, r, consumed=consumed)
        reason = f"part of '{r.raw}' (omits {' '.join(r_content)})"
        return PairScore(82.0 - penalty, [reason, *notes], q, r, consumed=consumed)
    if not r_content and len(q_content) <= len(matched_content) and not (q_types and r_types):
        reason = f"'{r.raw}' plus other words ({' '.join(q_content)})"
        return PairScore(75.0 - penalty, [reason, *notes], q, r, consumed=consumed)
    total = len(matched_content) + max(len(q_content), len(r_content), 1)
    share = len(matched_content) / total
    reason = (
        f"shares {len(matched_content)} word(s) with '{r.raw}' but differs "
        f"({' '.join(q_content + q_types) or '-'} vs {' '.join(r_content + r_types) or '-'})"
    )
    return PairScore(min(68.0, 35.0 + 40.0 * share), [reason], q, r)


def _same_words(
    q: NameKey,
    r: NameKey,
    q_types: list[str],
    r_types: list[str],
    notes: list[str],
    penalty: float,
    consumed: frozenset[str],
) -> PairScore:
    """Every content word matched: the organisation-type words left decide."""
    if q_types and r_types:
        reason = f"organisation type differs: {', '.join(q_types)} vs {', '.join(r_types)}"
        return PairScore(72.0, [f"like '{r.raw}' but {reason}", *notes], q, r)
    bodies = [t for t in q_types or r_types if names_a_body(t)]
    if bodies:
        # "Human Rights First Society" and "Human Rights First": a society, foundation or
        # institute of that name can be a body of its own.
        reason = f"like '{r.raw}' but one adds '{', '.join(bodies)}', which can name another body"
        return PairScore(
            ADDED_BODY - penalty, [reason, *notes], q, r, consumed=consumed, two_bodies=True
        )
    if q_types or r_types:
        extra = ", ".join(q_types or r_types)
        kind = "legal form" if set(q_types or r_types) <= LEGAL_FORMS else "organisation-type word"
        reason = f"like '{r.raw}' except the {kind} '{extra}'"
        return PairScore(94.0 - penalty, [reason, *notes], q, r, consumed=consumed)
    reason = f"same words as '{r.raw}'"
    return PairScore(100.0 - penalty, [reason, *notes], q, r, consumed=consumed)


def _reordered(pairs: list[tuple[int, int]]) -> bool:
    """Whether matched words come in another order on the candidate's side."""
    positions = [j for _, j in sorted(pairs)]
    return any(b < a for a, b in itertools.pairwise(positions))


def _free(words: _Words, other: _Words) -> int:
    """How many content words of one name no alignment with the other can consume.

    _align consumes a content word only with an equal word, a _similar one, or by gluing two
    words into one (`frontline` / `front line`: one word starts the other or lies inside it);
    acronym spelling is excluded by word_pair_bound (_may_spell). A word none of these can touch
    stays left over."""
    free = 0
    _, joined, starts, _ = other
    for word in words[0]:
        if word in joined or word.startswith(starts):
            continue
        if len(word) >= 5:
            first = word[0]  # _similar's cheapest test first, without a call per partner
            if any(p[:1] == first and _similar(word, p) for p in other[0]):
                continue
        free += 1
    return free


def word_bound(q: NameKey, q_words: _Words, r: NameKey, r_words: _Words) -> float:
    """Upper bound of _word_pair(q, r) without aligning words.

    A side with no free word (_free) may align completely: 100. Both sides keep words of
    their own: _aligned_pair's last two rules. Every matched content word uses up one of r's
    content words that are not free."""
    q_free = _free(q_words, r_words)
    r_free = _free(r_words, q_words) if q_free else 0
    if not q_free or not r_free:
        return 100.0
    matchable = len(r_words[0]) - r_free
    if matchable <= 0:
        return min(45.0, fuzz.token_sort_ratio(q.norm, r.norm) * 0.45)
    return min(68.0, 35.0 + 40.0 * matchable / (matchable + max(q_free, r_free)))


# ---- Near misses: names a letter apart, for the review queue only, then their bound ----
#
# The rules above read words: a letter deleted from a short word ("Sari" / "Sar", "House" /
# "Hose") or a word's first letter ("Muslims" / "uslims") leaves a word they cannot align,
# and a character dropped inside a CJK name is neither the same characters nor one name
# inside the other. Such a pair is as likely a typo as two bodies ("Hope" / "Home"), so it is
# never evidence for a link, only for a person's look: the duplicate queue asks for it
# (score_organisation's `near_misses`, decision 0112), the resolver never does.

# The shorter name keeps at least this many letters (one letter is at most a ninth of it)...
NEAR_MISS_LETTERS = 8
# ...or, written in CJK, this many characters (each one a syllable, most often a word).
NEAR_MISS_CHARACTERS = 4


def _a_letter_apart(q: NameKey, r: NameKey) -> str:
    """Why two names are a letter apart as written, or "": one letter deleted, added or
    changed in names of NEAR_MISS_LETTERS letters (not a digit: "Charter 77" / "Charter 7",
    nor a space: that is `despaced`), or one CJK character more or less (a changed character
    makes another word: _cjk_pair's 50). Cheapest tests first: the scan asks for most pairs."""
    if q.is_acronym or r.is_acronym:
        return ""
    if q.cjk or r.cjk:
        if not (q.cjk and r.cjk) or abs(len(q.cjk) - len(r.cjk)) != 1:
            return ""
        if min(len(q.cjk), len(r.cjk)) < NEAR_MISS_CHARACTERS:
            return ""
        if Levenshtein.distance(q.cjk, r.cjk, score_cutoff=1) != 1:
            return ""
        apart = f"'{q.raw}' and '{r.raw}' are one character apart"
    else:
        if abs(len(q.norm) - len(r.norm)) > 1:
            return ""
        if Levenshtein.distance(q.norm, r.norm, score_cutoff=1) != 1:
            return ""
        if min(len(q.despaced), len(r.despaced)) < NEAR_MISS_LETTERS:
            return ""
        (edit,) = Levenshtein.editops(q.norm, r.norm)
        edited = {
            q.norm[edit.src_pos] if edit.tag != "insert" else "",
            r.norm[edit.dest_pos] if edit.tag != "delete" else "",
        } - {""}
        if not all(c.isalpha() for c in edited):
            return ""
        apart = f"'{q.raw}' and '{r.raw}' are one letter apart"
    return apart if q.identifying and r.identifying else ""


def near_miss_rule(pair: PairScore) -> PairScore:
    """A pair scored below the review line whose names are a letter apart (_a_letter_apart) →
    REVIEW, never more: marked `two_bodies`, so that a shared website does not raise it; the
    organisation rules after it (places, websites, countries) still lower it."""
    if pair.score >= REVIEW:
        return pair
    apart = _a_letter_apart(pair.query, pair.candidate)
    if not apart:
        return pair
    reason = f"{apart}: a typo, or another body? (review only)"
    return PairScore(REVIEW, [reason], pair.query, pair.candidate, two_bodies=True)


def near_miss_bound(bound: float, q: NameKey, r: NameKey) -> float:
    """Upper bound of near_miss_rule over a pair bounded by `bound` (whole_name_bound,
    word_pair_bound): the rule itself, which costs one Levenshtein distance with a cutoff."""
    if bound >= REVIEW or not _a_letter_apart(q, r):
        return bound
    return REVIEW


# ---- Places (organisation against organisation), then their bound --------------------


@cache
def _zone_territories() -> dict[str, str]:
    """City discriminator (`city:berlin`) → its country, from CLDR's time zones."""
    cities: dict[str, str] = {}
    for zone, territory in get_global("zone_territories").items():
        if zone.count("/") == 1:
            city = "city:" + fold(zone.rsplit("/", 1)[1].replace("_", " "))
            cities.setdefault(city, territory)
    return cities


def based_in(places: AbstractSet[str], country: str | None) -> bool:
    """Whether every place (country codes, `city:` ids) lies in the registered country."""
    if not country or not places:
        return False
    code = country.upper()
    cities = _zone_territories()
    return all(p == code or cities.get(p) == code for p in places)


def international_kind(names: Sequence[NameKey]) -> bool:
    """An international body or a federation: its sections in each country sign too."""
    return any(v in ("international", "federation") for r in names for _, v, _ in r.items)


def trailing_places(key: NameKey, places: AbstractSet[str]) -> bool:
    """Whether the places come after every word of the name ("CSW, UK", "X (Poland)")."""
    last_word = max((i for i, (k, _, _) in enumerate(key.items) if k in "ct"), default=-1)
    found = {v for i, (k, v, _) in enumerate(key.items) if k == "p" and i > last_word}
    return bool(found) and places <= found


def place_rule(
    score: float,
    reasons: list[str],
    *,
    best: PairScore,
    query: Sequence[NameKey],
    names: Sequence[NameKey],
    country: str | None,
) -> tuple[float, frozenset[str]]:
    """Discriminators (countries, regions, cities, chapter words) over all names of each side,
    less those the best pair spelled (`consumed`). Appends its reasons; gives the score and
    the places the query names and the candidate does not."""
    query_disc = frozenset().union(*(q.discriminators for q in query)) - best.consumed
    org_disc = frozenset().union(*(r.discriminators for r in names)) - best.consumed
    # Places are read from words: a side written only in CJK cannot confirm or deny them.
    comparable = any(r.items for r in names) and any(q.items for q in query)
    extra = query_disc - org_disc if comparable else frozenset()
    missing = org_disc - query_disc if comparable else frozenset()
    if extra and missing:
        said = ", ".join(sorted(describe(d) for d in extra))
        theirs = ", ".join(sorted(describe(d) for d in missing))
        score = min(score, 50.0)
        reasons.append(f"different place or chapter: {said} vs {theirs}")
    elif extra:
        said = ", ".join(sorted(describe(d) for d in extra))
        if based_in(extra, country) and not international_kind(names):
            # "World Uyghur Congress, Germany" where the registry holds the Congress as
            # German: the place says where it is, not which part of it.
            reasons.append(f"{said}: where the organisation is registered (its country)")
        elif best.score >= LINK and trailing_places(best.query, extra):
            # "Amnesty International UK", "Helsinki Foundation (Poland)": the headquarters,
            # or a national section or office that is a signatory of its own. A person says.
            score = min(score, LOCATED)
            why = (
                "an international body's national section or office?"
                if international_kind(names)
                else "a chapter or office, or the headquarters?"
            )
            reasons.append(f"the query places it in {said}, the registry does not: {why}")
        else:
            score = min(score, 60.0)
            reasons.append(f"the query names {said}; the candidate does not")
    elif missing and not best.exact and not (best.acronym and best.candidate.is_acronym):
        # A standalone acronym name identifies the organisation whatever its long name says.
        theirs = ", ".join(sorted(describe(d) for d in missing))
        score = min(score, 85.0)
        reasons.append(f"the candidate is specific to {theirs}; the query does not say so")
    return score, extra


def place_bound(
    bound: float,
    *,
    query_places: frozenset[str],
    query_has_words: bool,
    names: Sequence[NameKey],
    country: str | None,
) -> float:
    """Upper bound of place_rule where every pair was bounded by word_bound: no pair spelled
    an acronym or had the same letters, so nothing is `consumed` and the caps apply as they
    will to the real score (a trailing place on a linking name is LOCATED, else 60: at most
    LOCATED)."""
    if not (query_has_words and any(r.items for r in names)):
        return bound
    theirs = (
        names[0].discriminators
        if len(names) == 1
        else frozenset().union(*(r.discriminators for r in names))
    )
    extra, missing = query_places - theirs, theirs - query_places
    if extra and missing:
        return min(bound, 50.0)
    if extra and not based_in(extra, country):
        return min(bound, LOCATED)
    if missing:
        return min(bound, 85.0)
    return bound


# ---- Acronyms that speak against a link (only lower: no bound) -----------------------


def shared_acronym_rule(
    score: float,
    reasons: list[str],
    *,
    best: PairScore,
    pairs: Sequence[PairScore],
    query: Sequence[NameKey],
) -> float:
    """An acronym shared while the full names do not link → at most 85."""
    if (best.acronym and best.query.is_acronym) and any(
        not q.is_acronym and not q.cjk for q in query
    ):
        long_best = max(
            (p.score for p in pairs if not p.query.is_acronym and not p.candidate.is_acronym),
            default=0.0,
        )
        if long_best < LINK:
            # Human Rights First (HRF) and Human Rights Foundation (HRF): one acronym, two
            # bodies whose full names say so.
            score = min(score, 85.0)
            reasons.append(f"the acronym matches; the full names do not ({long_best:.0f})")
    return score


def shared_acronym_bound(
    bound: float,
    *,
    query: Sequence[NameKey],
    names: Sequence[NameKey],
    long_bound: float,
) -> float:
    """Upper bound of shared_acronym_rule: 85 when the rule is sure to cap. The best pair is
    the first of score_organisation's order scoring (100, exact), i.e. the first pair of equal
    names that both identify (score_pair caps the others at 75); when its query name is an
    acronym, the query has a long name (not CJK) and `long_bound`, an upper bound of every
    pair of names neither of which is an acronym (word_pair_bound), is below LINK, the rule caps
    the score at 85. The rules after it only lower a score, but for the same website, which
    ScoreBound bounds at 100 before it comes here."""
    if bound <= 85.0 or long_bound >= LINK:
        return bound
    if not any(not q.is_acronym and not q.cjk for q in query):
        return bound
    for q in query:
        for r in names:
            if q.norm and q.norm == r.norm and q.identifying and r.identifying:
                return min(bound, 85.0) if q.is_acronym else bound
    return bound


def contradicting_acronym_rule(
    score: float,
    reasons: list[str],
    *,
    pairs: Sequence[PairScore],
    query: Sequence[NameKey],
    names: Sequence[NameKey],
    same_site: bool,
) -> tuple[float, str]:
    """The query's own acronym spelling its long name but fitting no name of the candidate →
    at most CONTRADICTED. Gives the score and the reason ("" when the rule did not apply)."""
    contradiction = ""
    if (score > CONTRADICTED or same_site) and _worded_best(pairs) < LINK:
        # Only where it can change the outcome (the check reads every name of both sides),
        # and not when the names written in words link by themselves: "Free Tibet Campaign
        # (FTC)" differs from "Free Tibet" only by a word that names no other body.
        contradiction = _contradicting_acronym(query, names)
    if contradiction:
        score = min(score, CONTRADICTED)
        reasons.append(contradiction)
    return score, contradiction


def _worded_best(pairs: Sequence[PairScore]) -> float:
    """The best score between full names written in words (no acronym, no CJK)."""
    return max(
        (
            p.score
            for p in pairs
            if not (p.query.is_acronym or p.candidate.is_acronym or p.query.cjk or p.candidate.cjk)
        ),
        default=0.0,
    )


def _spells(acronym: str, key: NameKey) -> bool:
    """Whether an acronym is exactly the initials of a name (with or without its stopwords
    and places)."""
    letters = [(kind, w) for kind, v, w in key.items if v not in LEGAL_FORMS]
    readings = {
        "".join(w for _, w in letters),
        "".join(w for kind, w in letters if kind != "s"),
        "".join(w for kind, w in letters if kind not in "sp"),
        "".join(w for kind, w in letters if kind != "p"),
    }
    return acronym in readings


def _may_stand_for(acronym: str, key: NameKey) -> bool:
    return (
        acronym == key.despaced
        or acronym in key.caps_tokens
        or acronym in key.acronym_words
        or abbreviates(acronym, key)
    )


def _contradicting_acronym(query: Sequence[NameKey], names: Sequence[NameKey]) -> str:
    """Why the query's own acronym speaks against the candidate, or "".

    "Human Rights in Cambodia (HRIC)": HRIC spells the query's long name, and no name of
    "Cambodian Center for Human Rights" can be read as HRIC. An acronym that does not spell
    the query's own name (RSF beside Reporters Without Borders: it comes from the French
    name) says nothing, nor does a candidate known only by names without words (CJK)."""
    if not any(q.is_acronym for q in query):
        return ""
    long_names = [q for q in query if not q.is_acronym and q.items]
    worded = [r for r in names if r.items]
    if not long_names or not worded:
        return ""
    for q in query:
        acronym = q.despaced
        if not q.is_acronym or not acronym.isalpha() or not q.identifying:
            continue
        spelled = next((k for k in long_names if _spells(acronym, k)), None)
        if spelled is None or any(_may_stand_for(acronym, r) for r in worded):
            continue
        return (
            f"the query's acronym {q.raw} spells '{spelled.raw}' and fits no name of the "
            f"candidate ('{worded[0].raw}')"
        )
    return ""


# ---- Websites, then their bound ------------------------------------------------------


def registrable_domain(website: str | None) -> str | None:
    """`https://www.amnesty.org.uk/x` → amnesty.org.uk (heuristic: two labels, three under a
    two-letter country code with a generic second level such as org/co/com)."""
    if not website:
        return None
    host = website.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].split("@")[-1].split(":", 1)[0].strip(".")
    labels = [label for label in host.split(".") if label]
    if labels and labels[0] == "www":
        labels = labels[1:]
    if len(labels) < 2:
        return None
    generic = {"org", "co", "com", "net", "ac", "gov", "edu", "or", "ne", "go", "gob", "gv"}
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in generic:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def same_site(query_domain: str | None, domain: str | None, score: float) -> bool:
    """The same registrable domain on both sides, for a score that the names already make
    plausible (60 or more)."""
    return bool(query_domain) and query_domain == domain and score >= 60.0


def website_rule(
    score: float,
    reasons: list[str],
    *,
    query_domain: str | None,
    domain: str | None,
    same_site: bool,
    settled: bool,
) -> float:
    """The same website → at least 95 when nothing else speaks against it (`settled`: no
    extra place, no contradicting acronym, no "two bodies" cap); two different websites → −5."""
    if query_domain and domain:
        if same_site and settled:
            score = max(score, 95.0)
            reasons.append(f"same website domain {domain}")
        elif query_domain != domain:
            score -= 5.0
            reasons.append(f"different websites ({query_domain} vs {domain})")
    return score


def website_bound(bound: float, *, query_domain: str | None, domain: str | None) -> float:
    """Upper bound of website_rule: the same domain may raise any score (100; ScoreBound
    returns it at once, before bounding names), two different domains take 5 off."""
    if query_domain and domain:
        return 100.0 if query_domain == domain else bound - 5.0
    return bound


# ---- Countries, then their bound -----------------------------------------------------


def country_rule(
    score: float, reasons: list[str], *, query_country: str | None, country: str | None
) -> float:
    """Different declared countries → at most 55."""
    if query_country and country and query_country.upper() != country.upper():
        score = min(score, 55.0)
        reasons.append(f"different country ({query_country.upper()} vs {country.upper()})")
    return score


def country_bound(bound: float, *, query_country: str | None, country: str | None) -> float:
    """Upper bound of country_rule: the same cap."""
    if query_country and country and query_country.upper() != country.upper():
        return min(bound, 55.0)
    return bound
