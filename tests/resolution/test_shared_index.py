"""The machine's shared index (snapshot.py) against an in-memory Index built from scratch:
same postings, sizes, blocking and scores, before and after changes committed since the
snapshot was written."""

import random
import sys
from pathlib import Path

import pytest

from app.resolution import snapshot
from app.resolution.decide import REVIEW
from app.resolution.index import Index, make_entry
from app.resolution.normalise import name_key

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from resolution import generate, perturb


def _both(tmp_path: Path, registry: list[list[str]]) -> tuple[Index, snapshot.MappedIndex]:
    plain = Index()
    for organisation_id, names in enumerate(registry, start=1):
        plain.upsert(organisation_id, names, country="FR" if organisation_id % 7 == 0 else None)
    path = tmp_path / "r.idx"
    snapshot.write(
        path,
        version=3,
        identity="x",
        public=plain.entries(),
        hidden=[(make_entry(10**6, ["Hidden Org"]), 5)],
        unsigned=[2, 4, 9],
    )
    opened = snapshot.usable(path, identity="x", committed=3)
    assert opened is not None
    assert opened.hidden.entry(10**6) is not None and 10**6 not in opened.public
    assert 4 in opened.unsigned and 5 not in opened.unsigned
    return plain, opened.public


def _queries(registry: list[list[str]], rng: random.Random) -> list[str]:
    names = [n for names in registry for n in names]
    queries = [rng.choice(names) for _ in range(150)]
    queries += [perturb(rng.choice(names), rng) for _ in range(150)]
    queries += [generate(1, rng)[0][0] for _ in range(50)]
    queries += ["Human Rights Association", "Association", "HRW", "人权", "Freedom"]
    return queries


def _same(plain: Index, mapped: snapshot.MappedIndex, queries: list[str]) -> None:
    assert len(plain) == len(mapped)
    for query in queries:
        keys = [name_key(query)]
        assert mapped.block(keys) == plain.block(keys), query
        assert mapped.exact(keys) == plain.exact(keys), query
        got = [(i, s.score, s.reasons) for i, s in mapped.score(keys, minimum=REVIEW)]
        want = [(i, s.score, s.reasons) for i, s in plain.score(keys, minimum=REVIEW)]
        assert got == want, query
        for word in query.lower().split():
            assert mapped.rarity(word) == plain.rarity(word)
    assert {e.organisation_id: e for e in mapped.entries()} == {
        e.organisation_id: e for e in plain.entries()
    }


def test_snapshot_answers_as_a_built_index(tmp_path: Path) -> None:
    rng = random.Random(7)
    registry = generate(3000, rng)
    plain, mapped = _both(tmp_path, registry)
    _same(plain, mapped, _queries(registry, rng))


def test_changes_since_the_snapshot_stay_exact(tmp_path: Path) -> None:
    rng = random.Random(11)
    registry = generate(3000, rng)
    plain, mapped = _both(tmp_path, registry)
    queries = _queries(registry, rng)
    _same(plain, mapped, queries[:50])  # decodes and caches postings before the changes
    for organisation_id in rng.sample(range(1, 3001), 300):
        plain.remove(organisation_id)
        mapped.remove(organisation_id)
    for organisation_id in rng.sample(range(1, 3001), 300):
        names = generate(1, rng)[0]
        plain.upsert(organisation_id, names)
        mapped.upsert(organisation_id, names)
    for organisation_id, names in enumerate(generate(200, rng), start=5001):
        plain.upsert(organisation_id, names)
        mapped.upsert(organisation_id, names)
    # Whole common postings gone and back again.
    for organisation_id in range(1, 3001):
        if "Association" in registry[organisation_id - 1][0]:
            plain.remove(organisation_id)
            mapped.remove(organisation_id)
    _same(plain, mapped, queries)
    assert 5001 in mapped and mapped.entry(5001) == plain.entry(5001)


def test_snapshot_of_other_code_or_database_is_not_used(tmp_path: Path) -> None:
    plain = Index()
    plain.upsert(1, ["Amnesty International"])
    path = tmp_path / "r.idx"
    snapshot.write(path, version=4, identity="db-a", public=plain.entries(), hidden=[], unsigned=[])
    assert snapshot.usable(path, identity="db-a", committed=4) is not None
    assert snapshot.usable(path, identity="db-b", committed=4) is None
    assert snapshot.usable(path, identity="db-a", committed=3) is None  # database reset
    path.write_bytes(b"garbage")
    assert snapshot.usable(path, identity="db-a", committed=4) is None


@pytest.mark.parametrize("url", ["sqlite:////srv/a.db", "postgresql://u:secret@h/db"])
def test_location_never_holds_a_password(url: str) -> None:
    path = snapshot.location(url, "")
    assert "secret" not in str(path)
    assert snapshot.location(url, "/x") != snapshot.location(url + "2", "/x")
