"""The full scan's blocking made cheaper meets exactly whom it met before (decision 0129).

- The rapidfuzz glances (`scan._alike`, `scan._worded`) compare names prepared once per
  organisation (`scan._Glance`: words sorted as token_sort_ratio sorts them) instead of
  preparing both names for every comparison: the same verdicts as token_sort_ratio itself.
- A view of one index leaving nothing out reads its postings directly (a key's size is then
  its members' count); a view of several layers reads them through the view: the same pairs.
- The glances a worker keeps are forgotten past a limit without changing anything.
"""

import random

import pytest
from rapidfuzz import fuzz

from app.resolution import scan
from app.resolution.index import Index, OrgEntry, make_entry
from app.resolution.normalise import NameKey
from app.resolution.registry import Layer, View
from tests.resolution.test_scan_shortcuts import registry_with_shared_acronyms, view_of

NAMES = [
    "Kalo Human Rights Watch",
    "Watch Rights Human Kalo",
    "Kalo Humane Rights Watch Kenya",
    "KHRW",
    "Human Rights Watch",
    "HRW",
    "Amnesty International",
    "Amnistía Internacional",
    "AI",
    "Access Initiative",
    "香港人權監察",
    "香港人权监察会",
    "人權",
    "Правозащитный центр Мемориал",
    "Memorial Human Rights Centre",
    "Students for a Free Tibet Japan",
    "SFT Japan",
    "The  Kalo   Society",
    "Kiri Health Relief Network (KHRN)",
]


def _previous_alike(a: OrgEntry, b: OrgEntry) -> bool:
    """scan._alike before its glances were prepared once per organisation (decision 0122)."""
    ours = [k for k in a.names if not k.is_acronym]
    theirs = [k for k in b.names if not k.is_acronym]
    names, others = (ours, theirs) if ours and theirs else (a.names, b.names)
    for q in names:
        for r in others:
            if q.cjk and r.cjk:
                similar = fuzz.ratio(q.despaced, r.despaced)
            else:
                similar = fuzz.token_sort_ratio(q.norm, r.norm)
            if similar >= scan.PREFILTER_SCORE:
                return True
    return False


def _previous_own_words_alike(a: OrgEntry, b: OrgEntry) -> bool:
    """How scan._worded compared two organisations' own words before decision 0129."""

    def own(entry: OrgEntry) -> list[tuple[NameKey, str]]:
        return [
            (k, " ".join(sorted([v for kind, v, _ in k.items if kind == "c"])))
            for k in entry.names
            if not k.is_acronym
        ]

    def alike(q: tuple[NameKey, str], r: tuple[NameKey, str]) -> bool:
        if q[0].cjk and r[0].cjk:
            return fuzz.ratio(q[0].despaced, r[0].despaced) >= scan.PREFILTER_SCORE
        return bool(q[1] and r[1]) and fuzz.token_sort_ratio(q[1], r[1]) >= scan.PREFILTER_SCORE

    theirs = own(b)
    return not theirs or any(alike(q, r) for q in own(a) for r in theirs)


def _entries(rng: random.Random, count: int) -> list[OrgEntry]:
    entries = []
    for organisation_id in range(1, count + 1):
        names = rng.sample(NAMES, rng.randint(1, 3))
        if rng.random() < 0.3:  # a letter dropped
            name = names[0]
            at = rng.randrange(len(name))
            names[0] = name[:at] + name[at + 1 :] or name
        entries.append(make_entry(organisation_id, names))
    return entries


def test_the_glances_say_what_token_sort_ratio_says() -> None:
    entries = _entries(random.Random(7), 120)
    verdicts = {True: 0, False: 0}
    for a in entries:
        for b in entries:
            alike = scan._alike(a, b)
            assert alike == _previous_alike(a, b), (a.names, b.names)
            assert scan._alike(scan._glance(a), scan._glance(b)) == alike
            verdicts[alike] += 1
            if [k for k in a.names if not k.is_acronym]:
                own = scan._glance(a).own
                theirs = scan._glance(b).own
                mine = not theirs or any(scan._words_alike(q, r) for q in own for r in theirs)
                assert mine == _previous_own_words_alike(a, b), (a.names, b.names)
    # Both verdicts are exercised (a test that could not fail would say nothing).
    assert verdicts[True] > 1000 and verdicts[False] > 1000


def _pairs(seen: View) -> list[tuple[int, int, float, list[str]]]:
    return [(p.a, p.b, p.score, p.reasons) for p in scan.scan(seen, keep=None)]


@pytest.mark.parametrize("seed", [1, 4])
def test_one_index_read_directly_meets_what_a_view_of_layers_meets(seed: int) -> None:
    registry = registry_with_shared_acronyms(random.Random(seed), 1200)
    whole = view_of(registry)
    assert scan._single(whole) is not None
    # The same organisations in two layers: read through the view (sizes summed, members
    # united), not the one index's postings.
    lower, upper = Index(), Index()
    for organisation_id, names in registry.items():
        (upper if organisation_id % 3 == 0 else lower).upsert(organisation_id, names)
    layered = View([Layer(upper), Layer(lower)])
    assert scan._single(layered) is None
    pairs = _pairs(whole)
    assert len(pairs) > 500
    assert _pairs(layered) == pairs


def test_a_worker_forgets_its_glances_without_changing_a_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = view_of(registry_with_shared_acronyms(random.Random(2), 1000))
    kept = _pairs(seen)
    monkeypatch.setattr(scan._Glances, "LIMIT", 3)
    assert _pairs(seen) == kept
