"""The sign path of a hot letter (issue 13, decision 0106): a worker files the organisations it
created in its own registry at commit, with the standing a reload would give them, and a
signature for a new organisation costs few statements."""

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlmodel import select

from app.auth.models import Role
from app.auth.service import Principal
from app.db import open_session
from app.organisations.models import RegistryState
from app.resolution import registry
from app.resolution import service as identity
from app.resolution.visibility import Viewer
from tests.factories import post_signature

ADMIN = Viewer(Principal(role=Role.admin, token_id=None))


def committed_version() -> int:
    with open_session() as session:
        return int(session.exec(select(RegistryState.version)).one())


def held() -> dict[str, Any]:
    """What this process's registry holds: where each organisation is filed, and its entry."""
    public = registry._shared.public
    assert public is not None
    entries = {e.organisation_id: e for e in public.entries()}
    return {
        "version": registry._shared.version,
        "public": entries,
        "hidden": {e.organisation_id: e for e in registry._shared.hidden.entries()},
        "unsigned": {i for i in entries if i in registry._shared.unsigned},
    }


def sign(client: TestClient, headers: dict[str, str], slug: str, name: str, **extra: Any) -> int:
    answer = post_signature(client, headers, slug, {"organisation": {"name": name}} | extra)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["organisation_id"])


def test_a_worker_files_its_own_organisations_at_commit_as_a_reload_would(
    client: TestClient, coordinator_headers: dict[str, str], make_letter: Any
) -> None:
    make_letter(coordinator_headers, "open-letter")
    with open_session() as session:
        identity.warm(session)
    named = sign(client, coordinator_headers, "open-letter", "Lantern Harbour Collective")
    # Filed at once: before, the worker reloaded it from the database on its next resolve.
    assert registry._shared.version == committed_version()
    anonymous = sign(
        client, coordinator_headers, "open-letter", "Quiet River Observatory", anonymous=True
    )
    assert registry._shared.version == committed_version()
    filed = held()
    assert named in filed["public"]
    # Only anonymous: hidden, never in the index the public resolves in.
    assert anonymous in filed["hidden"] and anonymous not in filed["public"]
    # Exactly what a worker that reloads everything from the database holds.
    registry.reset_cache()
    with open_session() as session:
        identity.warm(session)
    assert held() == filed


def test_an_organisation_named_later_leaves_the_hidden_index(
    client: TestClient, coordinator_headers: dict[str, str], make_letter: Any
) -> None:
    make_letter(coordinator_headers, "first-letter")
    make_letter(coordinator_headers, "second-letter")
    with open_session() as session:
        identity.warm(session)
    secret = sign(client, coordinator_headers, "first-letter", "Silent Delta Forum", anonymous=True)
    assert secret in held()["hidden"]
    again = sign(client, coordinator_headers, "second-letter", "Silent Delta Forum")
    assert again == secret
    assert registry._shared.version == committed_version()
    filed = held()
    assert secret in filed["public"] and secret not in filed["hidden"]
    registry.reset_cache()
    with open_session() as session:
        identity.warm(session)
    assert held() == filed


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(" ".join(str(args[2]).split()))

    event.listen(engine, "before_cursor_execute", record)
    yield seen
    event.remove(engine, "before_cursor_execute", record)


@pytest.mark.postgresql_only
def test_a_signature_for_a_new_organisation_costs_few_statements(
    client: TestClient,
    admin_headers: dict[str, str],
    make_letter: Any,
    statements: list[str],
) -> None:
    """As the hot letter benchmark signs (bench/hot_letter.py)."""
    make_letter(admin_headers, "hot-letter")
    for n in range(3):
        sign(client, admin_headers, "hot-letter", f"Warm Signer Network {n}")
    statements.clear()
    sign(client, admin_headers, "hot-letter", "Counted Signer Network")
    # 29 before decision 0106: the worker reloaded its own previous organisation, built its
    # overlay from the database, locked and re-read the organisation it had just created,
    # bumped the counter at a savepoint, read the webhooks twice and the next position apart.
    assert len(statements) <= 12, statements
    assert not any(s.startswith("SELECT organisation.id, organisation.kind") for s in statements)
    assert sum("FROM webhook_subscription" in s for s in statements) == 1
    assert not any(s.startswith("SAVEPOINT") for s in statements)


@pytest.mark.postgresql_only
def test_a_released_savepoint_does_not_take_the_registry_counter(engine: Engine) -> None:
    """The version is taken at the real COMMIT: a savepoint released earlier (signing's) must
    not hold the counter's row lock for the rest of the transaction."""
    released = threading.Event()
    finish = threading.Event()

    def long_transaction() -> None:
        with open_session(write=True) as session:
            with session.begin_nested():
                identity.identify(session, name="Patient Hills Council", viewer=ADMIN)
            released.set()
            finish.wait(timeout=30)
            session.commit()

    thread = threading.Thread(target=long_transaction)
    thread.start()
    try:
        assert released.wait(timeout=30)
        with open_session(write=True) as session:
            session.execute(text("SET LOCAL lock_timeout = '3s'"))
            identity.identify(session, name="Brisk Meadow Union", viewer=ADMIN)
            session.commit()  # before: waited on the counter, then lock timeout
        assert committed_version() == 1
    finally:
        finish.set()
        thread.join()
    assert committed_version() == 2


def test_a_commit_with_a_savepoint_still_open_stamps_its_organisations(engine: Engine) -> None:
    """Releasing a savepoint does not take the version; committing with one still open must."""
    with open_session(write=True) as session:
        session.begin_nested()
        created = identity.identify(session, name="Open Savepoint Guild", viewer=ADMIN)
        session.commit()
    assert committed_version() == 1
    with open_session() as session:
        revision = session.execute(
            text("SELECT revision FROM organisation WHERE id = :id"),
            {"id": created.organisation_id},
        ).scalar()
        assert revision == 1
        found = identity.resolve(session, names=["Open Savepoint Guild"], viewer=ADMIN)
        assert found.organisation_id == created.organisation_id
