"""An acronym, or a long name's initials, meets everyone going by it while few names do; once
a crowd goes by it, it meets only the organisations known by acronyms alone and those whose
own words are alike (decision 0122). Signing is not concerned: only the scan's blocking."""

from collections import defaultdict

import pytest

from app.resolution import scan
from app.resolution.index import Index
from app.resolution.registry import Layer, View

FEW = {
    3: ["Amnesty International", "AI"],
    4: ["Access Initiative", "AI"],
    5: ["AI"],
    6: ["Amnistía Internacional", "AI"],
}
# Three more bodies writing AI, and one whose initials spell it: more than
# MAX_ACRONYM_GROUP names go by AI.
CROWD = FEW | {
    20: ["Anti Impunity", "AI"],
    21: ["Arte Indigena", "AI"],
    22: ["Alianza Intercultural", "AI"],
    23: ["Arctic Institute"],
}


def view_of(registry: dict[int, list[str]]) -> View:
    index = Index()
    for organisation_id, names in registry.items():
        index.upsert(organisation_id, names)
    return View([Layer(index)])


def met(seen: View, organisation_id: int) -> set[int]:
    entry = seen.entry(organisation_id)
    assert entry is not None
    strong, _ = scan.blocked(seen, entry, defaultdict(list))
    return strong


def scanned(seen: View) -> set[tuple[int, int]]:
    return {(p.a, p.b) for p in scan.scan(seen, keep=None)}


def test_an_acronym_few_names_go_by_meets_everyone_having_it() -> None:
    seen = view_of(FEW)
    for organisation_id in FEW:
        assert met(seen, organisation_id) == set(FEW) - {organisation_id}
    # Amnesty International and Access Initiative: a person tells them apart at a glance,
    # and is asked to while only a few names go by AI.
    assert (3, 4) in scanned(seen)


def test_an_acronym_a_crowd_goes_by_meets_only_the_acronym_alone_and_alike_words() -> None:
    seen = view_of(CROWD)
    assert met(seen, 5) == {3, 4, 6, 20, 21, 22}  # known as AI alone: every AI is a candidate
    assert met(seen, 3) == {5, 6}  # Amnistía Internacional: its own word is alike
    assert met(seen, 6) == {3, 5}
    assert met(seen, 4) == {5}  # Access Initiative: nothing but the letters in common
    assert met(seen, 23) == {5}  # its initials spell AI; it never wrote AI
    pairs = scanned(seen)
    assert {(3, 5), (4, 5), (5, 6), (3, 6)} <= pairs
    assert not {(3, 4), (4, 6), (3, 20), (20, 21), (4, 23)} & pairs


def test_the_crowd_is_what_the_rule_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    # The same registry with the limit raised above its crowd: every AI meets every AI again.
    monkeypatch.setattr(scan, "MAX_ACRONYM_GROUP", 1000)
    seen = view_of(CROWD)
    assert {3, 6, 20, 21, 22} <= met(seen, 4)
    assert (3, 4) in scanned(seen)


def test_two_names_of_one_body_sharing_only_a_rare_acronym_meet() -> None:
    # A translation with no word in common: the acronym is the only link, and few write it.
    seen = view_of({1: ["Médecins Sans Frontières", "MSF"], 2: ["Doctors Without Borders", "MSF"]})
    assert met(seen, 1) == {2} and met(seen, 2) == {1}
    assert (1, 2) in scanned(seen)


def test_an_acronym_both_write_is_no_likeness_of_their_names() -> None:
    # The glance given to organisations sharing a rare word (scan._alike) compares the names
    # in words of two bodies that have some, not the acronym both write.
    seen = view_of(
        {
            1: ["Kalomba Rights Watch", "KRW"],
            2: ["Kalomba Refugee Welfare Bureau Kenya", "KRW"],
            3: ["KRW"],
            4: ["Kalomba Rights Wach", "KRW"],
        }
    )
    entries = seen.entries()
    assert not scan._alike(entries[1], entries[2])
    assert scan._alike(entries[1], entries[3])  # known by the acronym alone
    assert scan._alike(entries[1], entries[4])
