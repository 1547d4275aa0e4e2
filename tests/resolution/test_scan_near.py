"""Names alike but for one word (the same words reordered, one letter dropped or changed) meet
in the duplicate scan even when every word they share is common; and an organisation refreshed
alone (queue.pairs_of) meets exactly the organisations the full scan pairs it with."""

import random
from collections.abc import Iterator

import pytest

from app.resolution import scan
from app.resolution.index import Index
from app.resolution.normalise import build_name_key
from app.resolution.registry import Layer, View

COMMON = ["Human", "Rights", "Watch", "Network", "Justice", "Freedom", "Press", "Labour"]


def view_of(registry: dict[int, list[str]]) -> View:
    index = Index()
    for organisation_id, names in registry.items():
        index.upsert(organisation_id, names)
    return View([Layer(index)])


def near_ids(seen: View, organisation_id: int) -> set[int]:
    entry = seen.entries()[organisation_id]
    strong, _ = scan.blocked(seen, entry, {})
    return strong


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("Kalo Human Rights Watch", "Watch Rights Human Kalo", True),
        ("Kalo Human Rights Watch", "Klo Human Rights Watch", True),
        ("Kalo Human Rights Watch", "Kalo Human Rigts Watch", True),
        ("Kalo Human Rights Watch", "Kilo Human Rights Watch", True),
        ("Kalo Human Rights Watch", "Kalo Human Rights Network", False),
        ("Kalo Human Rights Watch", "Kl Human Rights Watch", False),
        ("Kalo Human Rights Watch", "Kalo Human Rights Watch Kenya", False),
        ("Kalo Human Rights Watch", "Klo Hman Rights Watch", False),
        # A typo that makes a stopword a word, or a word a stopword.
        ("Kalo The Rights Watch", "Kalo Te Rights Watch", True),
        ("Kalo Rights Centre", "Kalo Rights entre", True),
        # A misspelled place is no longer a place.
        ("Kalo Rights Watch Switzerland", "Kalo Rights Watch Switzrland", True),
    ],
)
def test_near_names(a: str, b: str, near: bool) -> None:
    q, r = build_name_key(a), build_name_key(b)
    assert scan._near(q, scan.word_keys(q), r, scan.word_keys(r)) is near
    assert scan._near(r, scan.word_keys(r), q, scan.word_keys(q)) is near


def test_word_keys_are_keys_the_index_files() -> None:
    from app.resolution.keys import name_index_keys

    for name in ["Kalo Human Rights Watch Hong Kong", "Students for a Free Tibet Japan"]:
        key = build_name_key(name)
        assert scan.word_keys(key) and scan.word_keys(key) <= name_index_keys(key)
    assert scan.word_keys(build_name_key("HRW")) == frozenset()
    assert scan.word_keys(build_name_key("Watch")) == frozenset()


def crowded(rng: random.Random, count: int) -> dict[int, list[str]]:
    """Names of common words only, so that no word is rare enough to block on (scan.MAX_BLOCK)
    and no whole name or initials meet their duplicates."""
    registry: dict[int, list[str]] = {}
    for organisation_id in range(1, count + 1):
        registry[organisation_id] = [" ".join(rng.sample(COMMON, rng.randint(2, 4)))]
    return registry


def test_reordered_and_misspelled_names_meet_when_their_words_are_common() -> None:
    registry = crowded(random.Random(1), 300)
    registry[1001] = ["Kalo Human Rights Watch"]
    registry[1002] = ["Watch Rights Human Kalo"]  # reordered
    registry[1003] = ["Kalo Human Rigts Watch"]  # a letter dropped from a common word
    registry[1004] = ["Kalomba Freedom Press"]
    registry[1005] = ["Kalmba Freedom Press"]  # a letter dropped from the only rare word
    seen = view_of(registry)
    entries = seen.entries()
    # Without the near names, 1005 has no word rare enough to meet others by ("Kalmba" is
    # so 1005 meets nobody.
    strong, weak = scan._blocked(seen, entries[1005], {})
    assert 1004 not in strong | weak
    assert {1002, 1003} <= near_ids(seen, 1001)
    assert 1004 in near_ids(seen, 1005) and 1005 in near_ids(seen, 1004)
    found = {(p.a, p.b) for p in scan.scan(seen, keep=None)}
    assert {(1001, 1002), (1001, 1003), (1002, 1003), (1004, 1005)} <= found


def typo(rng: random.Random, name: str) -> str:
    i = rng.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1 :]


def registries() -> Iterator[dict[int, list[str]]]:
    rng = random.Random(7)
    for _ in range(3):
        registry = crowded(rng, 400)
        for organisation_id in range(401, 600):
            original = rng.choice(list(registry.values()))[0]
            made = [typo(rng, original), " ".join(reversed(original.split()))]
            registry[organisation_id] = [rng.choice(made)]
        yield registry


DEFAULT_POOL = scan.MAX_NEAR_POOL


@pytest.mark.parametrize("pool", [DEFAULT_POOL, 30])
def test_one_organisation_meets_exactly_the_near_names_the_full_scan_pairs(
    pool: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same rule both ways, the cap on common words included (30 leaves some out).
    monkeypatch.setattr(scan, "MAX_NEAR_POOL", pool)
    for registry in registries():
        seen = view_of(registry)
        entries = seen.entries()
        grouped = scan._near_pairs(seen, entries.values())
        batch = scan.NearCache()  # as a catch-up shares it
        one_by_one = {
            min(a, b) << 32 | max(a, b)
            for a in entries
            for b in scan._near_of(seen, entries[a], batch)
        }
        assert grouped == one_by_one
        assert len(grouped) > (50 if pool == DEFAULT_POOL else 5)
        if pool < DEFAULT_POOL:
            monkeypatch.undo()
            assert len(scan._near_pairs(seen, entries.values())) > len(grouped)
            monkeypatch.setattr(scan, "MAX_NEAR_POOL", pool)


def test_the_scan_in_worker_processes_finds_what_one_process_finds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry = next(registries())
    monkeypatch.setattr(scan, "_CHUNK", 50)  # several tasks per worker
    seen = view_of(registry)
    progress: list[tuple[int, int]] = []
    alone = scan.scan(seen, keep=None)
    forked = scan.scan(seen, keep=None, workers=2, progress=lambda *done: progress.append(done))
    assert [(p.a, p.b, p.score, p.reasons) for p in forked] == [
        (p.a, p.b, p.score, p.reasons) for p in alone
    ]
    assert len(alone) > 50
    assert progress[-1][0] == progress[-1][1] and (len(registry), len(registry)) in progress
