"""The resolver's shortcuts must not change what it decides (no database).

- `ScoreBound` is an upper bound of `score_organisation`: the resolver skips candidates bounded
  below the review line and below its best score, so a bound that is too low would hide a
  runner-up (a false link) or the best candidate (a missed duplicate).
- `Index.block` ranks with C set operations and keeps the ids of its largest posting list
  apart (`tail`); it must rank exactly as summing every weight and sorting would.
"""

import csv
import math
from functools import partial
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.resolution.bound import ScoreBound
from app.resolution.decide import REVIEW
from app.resolution.index import Index
from app.resolution.normalise import name_key
from app.resolution.rules import PairsRead, score_pair
from app.resolution.scoring import score_organisation

ROOT = Path(__file__).resolve().parents[2]

# Words chosen to reach every scoring rule: glued and split words, near spellings, acronyms
# and the words they spell, digits standing for words, organisation types (bodies and legal
# forms), places, chapters, numbers, stopwords, other scripts.
WORDS = [
    "society",
    "inc",
    "e.V.",
    "NGO",
    "UK",
    "London",
    "2",
    "HRF",
    "front",
    "line",
    "frontline",
    "defenders",
    "defendres",
    "defender",
    "students",
    "for",
    "a",
    "free",
    "tibet",
    "SFT",
    "lawyers",
    "L4L",
    "human",
    "rights",
    "HRIC",
    "in",
    "china",
    "watch",
    "association",
    "union",
    "foundation",
    "campaign",
    "Kenya",
    "Japan",
    "Berlin",
    "women's",
    "youth",
    "the",
    "of",
    "international",
    "interntional",
    "ACAT",
    "12",
    # Numbers, one inside another.
    "1",
    "120",
    "0120",
    "LSVD",
    "人權",
    "香港",
    "Мемориал",
    "Memorial",
    # A letter apart (the duplicate queue's near misses).
    "house",
    "hose",
    "tibt",
    "人權民主",
    "人權民",
]
SITES = [
    None,
    "https://www.free-tibet.org/x",
    "https://free-tibet.org",
    "https://other.example.org",
]
COUNTRIES = [None, "DE", "JP"]

names = st.lists(st.sampled_from(WORDS), min_size=1, max_size=6).map(" ".join)


@settings(max_examples=3000, deadline=None)
@given(
    st.lists(names, min_size=1, max_size=2),
    st.lists(names, min_size=1, max_size=3),
    st.sampled_from(SITES),
    st.sampled_from(SITES),
    st.sampled_from(COUNTRIES),
    st.sampled_from(COUNTRIES),
    st.integers(min_value=0, max_value=5),
    st.booleans(),
    st.booleans(),
)
def test_bound_is_never_below_the_score(
    query: list[str],
    registered: list[str],
    query_website: str | None,
    website: str | None,
    query_country: str | None,
    country: str | None,
    rarity: int,
    near_misses: bool,
    acronym_first: bool,
) -> None:
    q = [k for k in map(name_key, query) if k.norm]
    if acronym_first:
        # The duplicate scan's bound of an acronym shared (ScoreBound.bounds), more often met.
        q = [name_key("HRF"), *q]
    r = [k for k in map(name_key, registered) if k.norm]
    scoring_both = partial(
        score_organisation,
        q,
        r,
        rarity=lambda _: rarity,
        query_website=query_website,
        website=website,
        query_country=query_country,
        country=country,
    )
    scored = scoring_both(near_misses=near_misses)
    read = PairsRead()
    scoring = ScoreBound(
        q, website=query_website, country=query_country, near_misses=near_misses, read=read
    )
    bound = scoring(r, website=website, country=country)
    assert bound >= scored.score, (query, registered, scored)
    # Each pair's own bound, which score_organisation reads to leave pairs out (decision 0135).
    for (q_id, r_id), pair_bound in read.bounds.items():
        qk = next(k for k in q if id(k) == q_id)  # a name given twice is one key (name_key)
        rk = next(k for k in r if id(k) == r_id)
        assert pair_bound >= score_pair(qk, rk, rarity=lambda _: rarity).score, (qk.raw, rk.raw)
    if not near_misses:
        reread = scoring_both(read=read)
        assert (reread.score, reread.reasons, reread.matched_name) == (
            scored.score,
            scored.reasons,
            scored.matched_name,
        )
    plain, shared = scoring.bounds(r, website=website, country=country, shared_acronyms=True)
    assert plain == bound and bound >= shared >= scored.score, (query, registered, scored)


@pytest.mark.parametrize(
    ("query", "registered"),
    [
        # Each needs one of the rules of rules._free: a glued word starting with the other's
        # word, a word inside the other's, a near spelling (found by mutating each rule away).
        ("tibet front line", "mediacentre frontline for"),
        ("front line students", "free mediacentre frontline"),
        ("for front line", "lantern centre frontline"),
        ("defendres tibet frontline", "a frontline defenders"),
        ("tibet defenders union", "tibet lantern defendres"),
    ],
)
def test_bound_covers_glued_and_misspelled_words(query: str, registered: str) -> None:
    q, r = [name_key(query)], [name_key(registered)]
    scored = score_organisation(q, r).score
    assert scored > 0
    assert ScoreBound(q)(r) >= scored


def test_a_pair_read_as_an_acronym_is_not_capped_by_the_places_it_leaves_out() -> None:
    # "HRW" alone identifies the organisation whatever its other names' places say (92, not
    # the 85 of a place the query leaves out): the bound of a pair read as an acronym must
    # not take the place cap.
    q = [name_key("Human Rights Watch (HRW)")]
    r = [name_key("HRW"), name_key("Kenya Solidarity Office")]
    scored = score_organisation(q, r).score
    assert scored == 92.0
    assert ScoreBound(q)(r) >= scored


@pytest.mark.parametrize(
    ("query", "registered"),
    [
        # Names in other scripts, CJK, and acronyms that spell nothing of the query: the rules
        # that read whole names bound them, not a blanket 100.
        ("Labour Verite Association", "Мир Правда Земля"),
        ("Labour Verite Association", "会中湾中年"),
        ("Labour Verite Association", "JJTJLS"),
        ("Labour Verite Association (LVA)", "Tierra Libertad Coalition"),
    ],
)
def test_names_read_whole_are_bounded_by_their_rules(query: str, registered: str) -> None:
    q, r = [name_key(query)], [name_key(registered)]
    assert score_organisation(q, r).score <= ScoreBound(q)(r) < REVIEW


def _seed_names() -> list[str]:
    with (ROOT / "seeds" / "signatories.csv").open(encoding="utf-8") as handle:
        return [row["name"] for row in csv.DictReader(handle) if row["name"]]


def test_bound_holds_between_every_pair_of_seed_names_sharing_a_word() -> None:
    keys = [name_key(n) for n in _seed_names()]
    checked = 0
    for q in keys:
        words = {value for _, value, _ in q.items}
        for r in keys:
            if q is r or not words & {value for _, value, _ in r.items}:
                continue
            checked += 1
            assert ScoreBound([q])([r]) >= score_organisation([q], [r]).score, (q.raw, r.raw)
    assert checked > 1000


def _dev_queries() -> list[str]:
    lines = (ROOT / "tests/resolution/data/dedup_dev_queries.tsv").read_text("utf-8").splitlines()
    return [line.split("\t")[0] for line in lines if line and not line.startswith("#")]


def test_pruned_scoring_decides_as_full_scoring_on_the_dev_set() -> None:
    index = Index()
    for number, name in enumerate(_seed_names(), start=1):
        index.upsert(number, [name])
    pruned_some = False
    for query in _dev_queries():
        keys = [name_key(query)]
        full = index.score(keys)
        pruned = index.score(keys, minimum=REVIEW)
        pruned_some |= len(pruned) < len(full)
        assert [(i, s.score) for i, s in pruned if s.score >= REVIEW] == [
            (i, s.score) for i, s in full if s.score >= REVIEW
        ], query
        assert max((s.score for _, s in pruned), default=None) == max(
            (s.score for _, s in full), default=None
        ), query
    assert pruned_some  # the shortcut is exercised, not only harmless


def test_block_ranks_a_large_posting_list_as_summing_every_weight() -> None:
    # 3,000 organisations, 300 in Kenya (a set posting, the largest list read: the tail), 20
    # of those also "Watch". The best have the rarer word, then come the lowest ids among
    # equals; overlaps under _WEAK (0.3) of the best are cut.
    index = Index()
    for i in range(1, 3001):
        place = " Kenya" if i <= 300 else ""
        extra = " Watch" if i <= 300 and i % 15 == 0 else ""
        index.upsert(i, [f"Group {i}{place}{extra}"])
    total = len(index)
    assert index.rarity("watch") == 20

    def weight(i: int, words: set[str]) -> float:
        found = 0.0
        if i <= 300 and "kenya" in words:
            found += math.log(1 + total / 300)
        if i <= 300 and i % 15 == 0 and "watch" in words:
            found += math.log(1 + total / 20)
        return found

    def expected(words: set[str], excluded: set[int]) -> list[int]:
        ids = set(range(1, 3001)) - excluded
        ranked = sorted(ids, key=lambda i: (-weight(i, words), i))[:25]
        floor = max(weight(i, words) for i in ranked) * 0.3
        return [i for i in ranked if weight(i, words) >= floor - 1e-9]

    watch_kenya = [name_key("Watch Kenya")]
    assert index.block(watch_kenya) == expected({"watch", "kenya"}, set())
    assert index.block(watch_kenya)[18:] == [285, 300, 1, 2, 3, 4, 5]  # then Kenya, by id
    assert index.block(watch_kenya, exclude={15, 1, 2}) == expected({"watch", "kenya"}, {15, 1, 2})
    assert index.block([name_key("Kenya")]) == list(range(1, 26))
