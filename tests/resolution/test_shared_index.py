"""The machine's shared index (snapshot.py) against an in-memory Index built from scratch:
same postings, sizes, blocking and scores, before and after changes committed since the
snapshot was written."""

import random
import sys
from array import array
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from app.resolution import index as index_module
from app.resolution import snapshot
from app.resolution.decide import REVIEW
from app.resolution.index import Index
from app.resolution.normalise import name_key

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
from resolution import generate, perturb


def _rows(registry: list[list[str]]) -> list[snapshot.Row]:
    return [
        snapshot.Row(organisation_id, names, None, "FR" if organisation_id % 7 == 0 else None)
        for organisation_id, names in enumerate(registry, start=1)
    ]


def _both(
    tmp_path: Path, registry: list[list[str]], *, processes: int = 1
) -> tuple[Index, snapshot.MappedIndex]:
    plain = Index()
    for row in _rows(registry):
        plain.upsert(row.organisation_id, row.names, country=row.country)
    path = tmp_path / "r.idx"
    snapshot.write(
        path,
        version=3,
        identity="x",
        public=_rows(registry),
        hidden=[(snapshot.Row(10**6, ["Hidden Org"], None, None), 5)],
        unsigned=[2, 4, 9],
        processes=processes,
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


@pytest.fixture(params=[False, True], ids=["as-configured", "many-common-keys"])
def common(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """At 3,000 organisations no posting is common (over index._COMMON ids); with a low
    threshold, many are: they stay in the file, with bitmaps, and queries of common words
    only intersect those (MappedIndex._common_pool)."""
    if request.param:
        monkeypatch.setattr(index_module, "_COMMON", 60)
        monkeypatch.setattr(snapshot, "_COMMON", 60)
    return bool(request.param)


def test_snapshot_answers_as_a_built_index(tmp_path: Path, common: bool) -> None:
    rng = random.Random(7)
    registry = generate(3000, rng)
    plain, mapped = _both(tmp_path, registry)
    # Dense postings have bitmaps too (decision 0119): no posting is common as configured.
    largest = max(b - a for a, b in pairwise(mapped._base._offsets.tolist()))
    assert (largest > snapshot._COMMON) == common
    _same(plain, mapped, _queries(registry, rng))


def _change(plain: Index, mapped: Any, rng: random.Random, *, renamed: int) -> None:
    """The same changes since the snapshot to both indexes: 300 of the first 3,000
    organisations gone, `renamed` of them (gone or not) with new names, 200 added from 5001."""
    for organisation_id in rng.sample(range(1, 3001), 300):
        plain.remove(organisation_id)
        mapped.remove(organisation_id)
    for organisation_id in rng.sample(range(1, 3001), renamed):
        names = generate(1, rng)[0]
        plain.upsert(organisation_id, names)
        mapped.upsert(organisation_id, names)
    for organisation_id, names in enumerate(generate(200, rng), start=5001):
        plain.upsert(organisation_id, names)
        mapped.upsert(organisation_id, names)


def test_changes_since_the_snapshot_stay_exact(tmp_path: Path, common: bool) -> None:
    rng = random.Random(11)
    registry = generate(3000, rng)
    plain, mapped = _both(tmp_path, registry)
    queries = _queries(registry, rng)
    _same(plain, mapped, queries[:50])  # decodes and caches postings before the changes
    _change(plain, mapped, rng, renamed=300)
    # Whole common postings gone and back again.
    for organisation_id in range(1, 3001):
        if "Association" in registry[organisation_id - 1][0]:
            plain.remove(organisation_id)
            mapped.remove(organisation_id)
    _same(plain, mapped, queries)
    assert 5001 in mapped and mapped.entry(5001) == plain.entry(5001)


def test_leaders_are_tested_in_the_file_as_in_a_built_index(
    tmp_path: Path, common: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """block() refines its leaders with common keys (Index._filed_among): the mapped index
    tests them by a bit of a large or dense posting's bitmap, by bisection in a long one, or
    decodes a short one; the same ids as the built index's posting, before and after
    changes (organisations gone, changed and added since the snapshot)."""
    rng = random.Random(13)
    registry = generate(3000, rng)
    plain, mapped = _both(tmp_path, registry)
    assert mapped._base.meta["sections"]["large_keys"][1] > 0  # dense postings have bitmaps

    def check() -> None:
        items = [i for i, p in plain._postings.items() if not isinstance(p, int)]
        for item in [*rng.sample(items, 400), "w:association", "w:rights"]:
            members = plain.members(item)
            many = set(rng.sample(range(1, 5300), 300))
            for ids in (many, set(members), {members[-1]}, {rng.randrange(1, 5300)}):
                want = set(index_module._present(plain._postings[item], ids))
                for bisect_from in (snapshot._BISECT_FROM, 1):  # every posting bisected too
                    with monkeypatch.context() as patched:
                        patched.setattr(snapshot, "_BISECT_FROM", bisect_from)
                        assert set(mapped._filed_among(item, ids)) == want, item

    check()
    _change(plain, mapped, rng, renamed=200)
    check()


def test_parsing_processes_write_the_same_snapshot(tmp_path: Path) -> None:
    """Names parsed over worker processes (in chunks) or in this one: the same keys, postings
    and entries (marshal's bytes may differ with the objects' sharing, not what they decode
    to)."""
    registry = generate(12_000, random.Random(5))  # more than one chunk
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    _, one = _both(tmp_path / "one", registry, processes=1)
    _, two = _both(tmp_path / "two", registry, processes=2)
    for name in ("_keys", "_offsets", "_ids", "_entry_ids", "_large_keys", "_bitmaps", "unsigned"):
        assert bytes(getattr(one._base, name)) == bytes(getattr(two._base, name)), name
    assert one.entries() == two.entries()
    assert len(one) == 12_000


def test_a_daemonic_process_parses_in_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemonic process may not start processes: it parses the names itself."""
    used: list[int] = []
    mapper = snapshot._mapper

    def recorded(processes: int) -> Any:
        used.append(processes)
        return mapper(processes)

    monkeypatch.setattr(snapshot, "_mapper", recorded)
    monkeypatch.setattr(
        snapshot.multiprocessing, "current_process", lambda: SimpleNamespace(daemon=True)
    )
    row = snapshot.Row(1, ["Amnesty International"], None, None)
    snapshot.write(
        tmp_path / "r.idx", version=1, identity="x", public=[row], hidden=[], unsigned=[]
    )
    assert used == [1]
    assert snapshot.usable(tmp_path / "r.idx", identity="x", committed=1) is not None


@pytest.mark.parametrize("processes", [1, 2])
def test_rows_out_of_order_are_refused(tmp_path: Path, processes: int) -> None:
    rows = [snapshot.Row(2, ["Amnesty International"], None, None)]
    rows.append(snapshot.Row(1, ["Human Rights Watch"], None, None))
    with pytest.raises(ValueError, match="ascending"):
        snapshot.write(
            tmp_path / "r.idx",
            version=1,
            identity="x",
            public=rows,
            hidden=[],
            unsigned=[],
            processes=processes,
        )
    assert not list(tmp_path.iterdir())


def test_snapshot_of_other_code_or_database_is_not_used(tmp_path: Path) -> None:
    path = tmp_path / "r.idx"
    row = snapshot.Row(1, ["Amnesty International"], None, None)
    snapshot.write(path, version=4, identity="db-a", public=[row], hidden=[], unsigned=[])
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


@pytest.mark.parametrize("count", [0, 1, 25, 63, 64, 65, 200, 5000])
@pytest.mark.parametrize("as_file", [False, True], ids=["list", "mapped"])
def test_the_tails_lowest_ids_are_the_first_unweighed_ones(count: int, as_file: bool) -> None:
    """Tail.lowest reads its posting a slice at a time (decision 0125): the same ids as
    walking it one by one, from a list or from a view of the file alike."""
    rng = random.Random(count)
    ascending = sorted(rng.sample(range(1, 20_000), 3_000))
    weighed = dict.fromkeys(rng.sample(ascending[:400], 150), 1.0)
    excluded = set(rng.sample(ascending, 100))
    posting: Any = ascending
    if as_file:
        posting = memoryview(array("I", ascending).tobytes()).cast("I")
    walked = [i for i in ascending if i not in weighed and i not in excluded][: max(count, 0)]
    tail = index_module.Tail(posting, weighed, excluded)
    assert tail.lowest(count) == walked
