"""The registry served from the machine's snapshot (snapshot.py), on both databases: the same
decisions as the per-worker index, a second worker maps the file instead of rebuilding, later
commits reach it through the delta, and hidden organisations stay out of public answers."""

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.config import get_settings
from app.db import open_session, utcnow
from app.resolution import registry, snapshot
from app.resolution import service as identity
from app.resolution.visibility import Standing
from tests.conftest import wipe
from tests.resolution.test_hidden_differential import ask, build, unlimited, worlds

__all__ = ["unlimited"]  # the fixture, used here as there

QUERIES = [
    "Human Rights Watch",
    "Amnesty International",
    "Amnesty Internationl",
    "HRW",
    "Tibet Justice Center",
    "International Campaign for Tibet",
    "World Uyghur Congress",
    "Uyghur Human Rights Project",
    "Front Line Defenders",
    "Frontline Defenders",
    "PEN America",
    "Reporters Without Borders",
    "Brand New Organisation of Nobody",
]


@pytest.fixture
def shared_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The shared index on for any registry size, its file in a directory of this test."""
    folder = tmp_path / "index"
    monkeypatch.setenv("UNDERSIGNED_RESOLUTION_INDEX_MIN", "0")
    monkeypatch.setenv("UNDERSIGNED_RESOLUTION_INDEX_DIR", str(folder))
    get_settings.cache_clear()
    yield folder
    monkeypatch.undo()
    get_settings.cache_clear()


def _answers() -> list[tuple[str, int | None, float]]:
    with open_session() as session:
        found = []
        for name in QUERIES:
            result = identity.resolve(session, names=[name], viewer=None)
            found.append((result.status, result.organisation_id, result.score))
        return found


def test_snapshot_decides_as_the_worker_index(seeded: str, shared_dir: Path) -> None:
    get_settings.cache_clear()
    with pytest.MonkeyPatch.context() as off:
        off.setenv("UNDERSIGNED_RESOLUTION_INDEX_MIN", str(10**9))
        get_settings.cache_clear()
        identity.reset_cache()
        per_worker = _answers()
        assert not isinstance(registry._shared.public, snapshot.MappedIndex)
    get_settings.cache_clear()
    shutil.rmtree(shared_dir, ignore_errors=True)
    identity.reset_cache()
    assert _answers() == per_worker
    mapped = registry._shared.public
    assert isinstance(mapped, snapshot.MappedIndex) and len(mapped) == 281
    assert mapped.delta_size == 0
    (written,) = shared_dir.glob("*.idx")
    inode = written.stat().st_ino

    # A second worker (or this one restarted) maps the same file.
    identity.reset_cache()
    assert _answers() == per_worker
    assert written.stat().st_ino == inode
    assert isinstance(registry._shared.public, snapshot.MappedIndex)

    # A commit after the snapshot reaches the mapped worker through its delta.
    with open_session(write=True) as session:
        created = registry.create(session, names=identity.parse_names(name="Lantern Harbour Trust"))
        session.commit()
    with open_session() as session:
        found = identity.resolve(session, names=["Lantern Harbour Trust"], viewer=None)
    assert (found.status, found.organisation_id) == ("existing", created)
    assert written.stat().st_ino == inode


def test_wiped_database_is_not_served_from_an_old_snapshot(
    engine: Engine, seeded: str, shared_dir: Path
) -> None:
    identity.reset_cache()
    _answers()
    wipe(engine)  # version back to 0, no organisations
    with open_session() as session:
        result = identity.resolve(session, names=["Human Rights Watch"], viewer=None)
    assert result.status == "new"


@settings(
    max_examples=5,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    world=(
        ["Lantern Rights Watch", "Harbour Exile Network"],
        ["Lantern Rights Watch", "Lantern Rights Watc", "Tibet Orchard Union"],
        ["Tibet Orchard Union", "Lantern Rights Watch", "Harbour Exile Networ", "Tibet Orchard"],
    )
)
@given(world=worlds())
def test_hidden_organisations_in_the_snapshot_change_no_answer(
    engine: Engine,
    unlimited: TestClient,
    make_token: Callable[..., str],
    admin_headers: dict[str, str],
    shared_dir: Path,
    world: tuple[list[str], list[str], list[str]],
) -> None:
    """test_hidden_differential's property, with the registry (hidden organisations included)
    written to the snapshot before the coordinator asks anything."""
    public, hidden, queries = world
    told = []
    for with_hidden in (False, True):
        wipe(engine)
        coordinator, known = build(
            unlimited,
            make_token,
            admin_headers,
            public=public,
            hidden=hidden if with_hidden else [],
        )
        shutil.rmtree(shared_dir, ignore_errors=True)
        identity.reset_cache()  # the next resolve maps a snapshot of this whole world
        told.append(ask(unlimited, coordinator, known, queries).log)
        assert isinstance(registry._shared.public, snapshot.MappedIndex)
    assert json.dumps(told[0], sort_keys=True) == json.dumps(told[1], sort_keys=True)


def test_unwritable_directory_falls_back_to_the_worker_index(
    seeded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("UNDERSIGNED_RESOLUTION_INDEX_MIN", "0")
    monkeypatch.setenv("UNDERSIGNED_RESOLUTION_INDEX_DIR", str(blocker / "index"))
    get_settings.cache_clear()
    identity.reset_cache()
    try:
        with open_session() as session:
            found = identity.resolve(session, names=["Human Rights Watch"], viewer=None)
        assert found.status == "existing"
        assert not isinstance(registry._shared.public, snapshot.MappedIndex)
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()


def _as_loaded(item: registry._Loaded) -> tuple[object, ...]:
    return (item.organisation_id, list(item.names), item.website, item.country)


def test_streamed_rows_are_what_a_load_finds(
    engine: Engine,
    unlimited: TestClient,
    make_token: Callable[..., str],
    admin_headers: dict[str, str],
) -> None:
    """The snapshot's rows, streamed from the database in id order (registry._registry_rows),
    are the organisations `_load` finds for a whole registry: names in the same order
    (primary first, then by id), standing, revision; merged ones and those past the version
    left out."""
    public = ["Tibet Justice Center", "World Uyghur Congress", "Front Line Defenders"]
    hidden = ["Uyghur Human Rights Project", "Secret Friends of Tibet"]
    build(unlimited, make_token, admin_headers, public=public, hidden=hidden)
    with engine.begin() as connection:
        ids = [row[0] for row in connection.execute(text("SELECT id FROM organisation"))]
        first, second, third = sorted(ids)[:3]
        # Aliases filed out of id order against the primary name, and one organisation merged.
        for name, primary in (("Zeta Alias", False), ("Alpha Alias", False)):
            connection.execute(
                text(
                    "INSERT INTO organisation_name (organisation_id, name, normalised, "
                    "is_acronym, is_primary, created_at) VALUES (:o, :n, :n, :f, :p, :t)"
                ),
                {"o": first, "n": name, "f": False, "p": primary, "t": utcnow()},
            )
        connection.execute(
            text("UPDATE organisation SET merged_into = :into WHERE id = :id"),
            {"into": third, "id": second},
        )
        committed = connection.execute(text("SELECT version FROM registry_state")).scalar_one()
        # One organisation past the version read: in neither.
        connection.execute(
            text("UPDATE organisation SET revision = :later WHERE id = :id"),
            {"later": committed + 1, "id": third},
        )
    with open_session() as session:
        loaded, _ = registry._load(session, after=0, upto=committed)
        streamed = list(registry._registry_rows(session, upto=committed))
    assert [(*_as_loaded(i), i.standing, i.revision) for i in loaded] == [
        (row.organisation_id, list(row.names), row.website, row.country, standing, revision)
        for row, standing, revision in streamed
    ]
    found = {row.organisation_id: (row, standing) for row, standing, _ in streamed}
    assert second not in found and third not in found
    assert found[first][0].names[-2:] == ["Zeta Alias", "Alpha Alias"]
    assert {standing for _, standing in found.values()} >= {Standing.hidden, Standing.public}
