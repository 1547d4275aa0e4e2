"""The resolver's shortcuts inside one candidate's bound and score give the scores they replace
(no database; decision 0135).

- `ScoreBound` records what the whole-name rules answered for each pair it bounds, and each
  pair's bound (`rules.PairsRead`); `score_organisation` takes those answers instead of
  running the rules again, and scores only the pairs that may be the best (without an
  acronym in the query). The score, reasons and names must be those of scoring from scratch,
  and a pair's recorded bound must hold for that pair alone.
- `rules._read_in_latin` aligns a Cyrillic name's Latin reading with a Latin name only when
  word alignment's bound lets it reach the review line: below it, `_translit_pair` never used
  the alignment, so the pair must score as if it had been made.
"""

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.resolution import rules, scoring
from app.resolution.bound import ScoreBound
from app.resolution.decide import REVIEW
from app.resolution.lemmas import latin_reading
from app.resolution.normalise import NameKey, name_key
from app.resolution.rules import PairsRead
from app.resolution.scoring import OrgScore, score_organisation

# Latin, Cyrillic (whose readings meet the Latin words), acronyms and CJK, so that every
# whole-name rule answers some pairs and leaves others to word alignment.
WORDS = [
    "Sakharov",
    "Center",
    "Memorial",
    "Society",
    "Union",
    "Pamyat",
    "Human",
    "Rights",
    "Watch",
    "Tibet",
    "Japan",
    "HRW",
    "SFT",
    "L4L",
    "Сахаровский",
    "Центр",
    "Мемориал",
    "Общество",
    "Союз",
    "Память",
    "Права",
    "Человека",
    "人權",
    "香港",
]
names = st.lists(st.sampled_from(WORDS), min_size=1, max_size=4).map(" ".join)


def _as_scored(scored: OrgScore) -> tuple[float, list[str], str, str]:
    return scored.score, scored.reasons, scored.matched_name, scored.query_name


def _both_ways(query: list[NameKey], registered: list[NameKey]) -> tuple[object, object, int]:
    """The score from scratch, the score from what the bound read (each pair's bound checked
    against the pair's own score), and how many pairs the bound read."""
    read = PairsRead()
    ScoreBound(query, read=read)(registered)
    for q in query:
        for r in registered:
            bound = read.bounds.get((id(q), id(r)))
            if bound is not None:
                assert bound >= rules.score_pair(q, r, rarity=lambda _: 1).score, (q.raw, r.raw)
    reused = score_organisation(query, registered, rarity=lambda _: 1, read=read)
    plain = score_organisation(query, registered, rarity=lambda _: 1)
    return _as_scored(plain), _as_scored(reused), len(read.whole)


@settings(max_examples=1500, deadline=None)
@given(st.lists(names, min_size=1, max_size=2), st.lists(names, min_size=1, max_size=3))
def test_a_score_reusing_the_bounds_reading_is_the_score_from_scratch(
    query: list[str], registered: list[str]
) -> None:
    plain, reused, _ = _both_ways(list(map(name_key, query)), list(map(name_key, registered)))
    assert reused == plain


def test_the_bounds_reading_is_reused_for_every_kind_of_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scored = []

    def counted(q: NameKey, r: NameKey, **options: object) -> rules.PairScore:
        scored.append((q, r))
        return rules.score_pair(q, r, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(scoring, "score_pair", counted)
    keys = [name_key(" ".join(words)) for words in itertools.combinations(WORDS[::3], 2)]
    keys += [name_key(word) for word in WORDS]
    read = 0
    for q, r in itertools.product(keys, repeat=2):
        plain, reused, pairs = _both_ways([q], [r])
        assert reused == plain, (q.raw, r.raw)
        read += pairs
    assert read > len(keys) ** 2 // 2  # the reuse is exercised, not only harmless
    # Several names a side: pairs bounded below the best are left out, the score unchanged.
    left_out = 0
    for q, r in itertools.product(keys, repeat=2):
        query, registered = [q, r], [r, q, *keys[:3]]
        if any(k.is_acronym for k in query):
            continue
        scored.clear()
        plain, reused, _ = _both_ways(query, registered)
        assert reused == plain, (q.raw, r.raw)
        left_out += len(query) * len(registered) * 2 - len(scored)
    assert left_out > 1000


def _aligned_reading(q: NameKey, r: NameKey) -> rules.PairScore | None:
    """_read_in_latin before its shortcut: every reading with a word in common aligned."""
    cyrillic, latin = (q, r) if q.translit else (r, q)
    text = latin_reading(cyrillic.norm)
    if not set(text.split()) & set(latin.norm.split()):
        return None
    reading = name_key(text)
    if not reading.items:
        return None
    first, second = (reading, latin) if q is cyrillic else (latin, reading)
    return rules._word_pair(first, second, None)


def test_a_reading_is_aligned_whenever_it_can_reach_the_review_line() -> None:
    cyrillic = [name_key(" ".join(w)) for w in itertools.permutations(WORDS[14:22], 2)]
    latin = [name_key(" ".join(w)) for w in itertools.permutations(WORDS[:10], 2)]
    latin += [name_key(word) for word in WORDS[:10]]
    skipped = reached = 0
    for a, b in itertools.product(cyrillic, latin):
        for q, r in ((a, b), (b, a)):
            aligned = _aligned_reading(q, r)
            found = rules._read_in_latin(q, r)
            if aligned is None or aligned.score < REVIEW:
                skipped += aligned is not None
                assert found is None, (q.raw, r.raw)
                continue
            reached += 1
            assert found is not None, (q.raw, r.raw)
            assert found.score == min(aligned.score, 92.0), (q.raw, r.raw)
            assert found.reasons[1:] == aligned.reasons[1:], (q.raw, r.raw)
    assert skipped > 100 and reached > 10  # both sides of the shortcut are met
