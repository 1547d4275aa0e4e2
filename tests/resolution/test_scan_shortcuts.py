"""The full duplicate scan's shortcuts change its speed, never its pairs (decision 0120).

- An organisation sharing an acronym with another is bounded by the shared acronym's cap
  (rules.shared_acronym_bound), so that one direction of such a pair is scored, not both.
- A worker process keeps the name pairs with an acronym it has scored (score_organisation's
  `acronym_pairs`), since one acronym meets the same long names again and again.

The scan with both must store exactly the pairs, scores and reasons of the scan without them
(the previous scan); the bound is held ≥ the score in tests/resolution/test_bounds.py too.
"""

import random

import pytest

from app.resolution import scan
from app.resolution.bound import ScoreBound
from app.resolution.index import Index
from app.resolution.normalise import NameKey, build_name_key
from app.resolution.registry import Layer, View
from app.resolution.rules import PairScore
from app.resolution.scoring import score_organisation

WORDS = ["Kalo", "Kiri", "Human", "Humane", "Rights", "Relief", "Health", "Hope", "Home"]
KINDS = ["Watch", "Network", "Foundation", "Society", "Campaign"]
PLACES = ["", " Kenya", " Japan", " Hong Kong"]


def registry_with_shared_acronyms(rng: random.Random, count: int) -> dict[int, list[str]]:
    """Few words, so that many long names share their initials and acronym (groups of
    organisations meeting each other, as in bench/admin.py), with places, typos, reversals
    and acronyms alone."""
    registry: dict[int, list[str]] = {}
    for organisation_id in range(1, count + 1):
        roll = rng.random()
        if roll < 0.1 and registry:
            original = rng.choice(list(registry.values()))
            made = [
                [original[-1]],
                [" ".join(reversed(original[0].split()))],
                [original[0][:3] + original[0][4:]],
            ]
            registry[organisation_id] = rng.choice(made)
            continue
        words = rng.sample(WORDS, rng.randint(2, 3))
        name = " ".join(words) + " " + rng.choice(KINDS) + rng.choice(PLACES)
        names = [name]
        if roll < 0.7:
            names.append("".join(w[0] for w in name.split() if w[0].isupper()))
        registry[organisation_id] = names
    return registry


def view_of(registry: dict[int, list[str]]) -> View:
    index = Index()
    for organisation_id, names in registry.items():
        index.upsert(organisation_id, names)
    return View([Layer(index)])


class _PlainBounds(scan._Bounds):
    """The bounds of the previous scan: the plain bound orders and skips directions."""

    def __call__(self, query: scan.OrgEntry, other: scan.OrgEntry) -> tuple[float, float]:
        plain, _ = super().__call__(query, other)
        return plain, plain


class _NoMemory(dict[tuple[NameKey, NameKey], PairScore]):
    def __setitem__(self, key: tuple[NameKey, NameKey], value: PairScore) -> None:
        pass


@pytest.mark.parametrize("seed", [1, 2])
def test_the_scan_stores_what_it_stored_without_its_shortcuts(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = view_of(registry_with_shared_acronyms(random.Random(seed), 1500))
    fast = scan.scan(seen, keep=None)
    monkeypatch.setattr(scan, "_Bounds", _PlainBounds)
    monkeypatch.setattr(scan, "_ACRONYM_PAIRS", _NoMemory())
    previous = scan.scan(seen, keep=None)
    assert [(p.a, p.b, p.score, p.reasons) for p in fast] == [
        (p.a, p.b, p.score, p.reasons) for p in previous
    ]
    reasons = " ".join(r for p in fast for r in p.reasons)
    assert len(fast) > 1000
    # The groups the shortcuts are for are there: an acronym shared, long names that differ.
    assert "the acronym matches; the full names do not" in reasons


def test_the_scan_in_worker_processes_stores_what_one_process_stores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen = view_of(registry_with_shared_acronyms(random.Random(3), 800))
    monkeypatch.setattr(scan, "_CHUNK", 100)
    alone = scan.scan(seen, keep=None)
    forked = scan.scan(seen, keep=None, workers=2)
    assert [(p.a, p.b, p.score, p.reasons) for p in forked] == [
        (p.a, p.b, p.score, p.reasons) for p in alone
    ]
    assert not scan._ACRONYM_PAIRS  # forgotten after the scan


def keys(*names: str) -> list[NameKey]:
    return [build_name_key(n) for n in names]


@pytest.mark.parametrize(
    ("query", "registered", "capped"),
    [
        # The long names cannot link: the shared acronym caps at 85, whichever way.
        (["Kalo Human Rights Watch", "KHRW"], ["Kiri Health Relief Watch", "KHRW"], True),
        (["KHRW", "Kalo Human Rights Watch"], ["Kiri Health Relief Watch", "KHRW"], True),
        # The long names may link (the same words): no cap.
        (["Kalo Human Rights Watch", "KHRW"], ["Kalo Human Rights Watch", "KHRW"], False),
        (["Kalo Human Rights Watch", "KHRW"], ["Kalo Human Rights Network", "KHRW"], False),
        # No acronym on the query's side, or none shared, or no long name to differ.
        (["Kalo Human Rights Watch"], ["Kiri Health Relief Watch", "KHRW"], False),
        (["Kalo Human Rights Watch", "KHRW"], ["Kiri Health Relief Watch", "KHRN"], False),
        (["KHRW"], ["Kiri Health Relief Watch", "KHRW"], False),
    ],
)
def test_the_shared_acronym_bound(query: list[str], registered: list[str], capped: bool) -> None:
    q, r = keys(*query), keys(*registered)
    bound = ScoreBound(q, near_misses=True)
    plain, shared = bound.bounds(r, shared_acronyms=True)
    assert plain == bound(r)
    assert (shared == 85.0) is capped and shared <= plain
    assert bound.bounds(r) == (plain, plain)  # the resolver's: unchanged
    scored = score_organisation(q, r, near_misses=True).score
    assert shared >= scored
    if capped:
        assert scored == 85.0


def test_remembered_acronym_pairs_score_as_new_ones() -> None:
    rng = random.Random(5)
    registry = registry_with_shared_acronyms(rng, 300)
    entries = list(view_of(registry).entries().values())
    remembered: dict[tuple[NameKey, NameKey], PairScore] = {}
    compared = 0
    for _ in range(3000):
        a, b = rng.sample(entries, 2)
        fresh = score_organisation(a.names, b.names, rarity=lambda _: 3, near_misses=True)
        again = score_organisation(
            a.names, b.names, rarity=lambda _: 3, near_misses=True, acronym_pairs=remembered
        )
        assert (again.score, again.reasons, again.matched_name, again.query_name) == (
            fresh.score,
            fresh.reasons,
            fresh.matched_name,
            fresh.query_name,
        )
        compared += 1
    assert compared and len(remembered) > 100
