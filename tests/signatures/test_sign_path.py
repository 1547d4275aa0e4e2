"""The sign path of a hot letter (issue 13, decision 0106): a worker files the organisations it
created in its own registry at commit, with the standing a reload would give them, and a
signature for a new organisation costs few statements."""

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, text
from sqlmodel import select

from app import db
from app.auth.models import Role
from app.auth.service import Principal
from app.db import open_session
from app.organisations.models import RegistryState
from app.resolution import registry
from app.resolution import service as identity
from app.resolution.visibility import Viewer
from app.signatures import counting
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As the hot letter benchmark signs (bench/hot_letter.py)."""
    make_letter(admin_headers, "hot-letter")
    for n in range(3):
        sign(client, admin_headers, "hot-letter", f"Warm Signer Network {n}")
    counting.settle_bumps()  # the warm-up's revision, moved before we count
    outside: list[str] = []

    def record(*args: Any) -> None:
        outside.append(" ".join(str(args[2]).split()))

    event.listen(db.outside_engine(), "before_cursor_execute", record)
    statements.clear()
    commits: list[bool] = []
    commit = psycopg.Connection.commit

    def recorded(connection: psycopg.Connection[Any]) -> None:
        commits.append(connection._pipeline is not None)
        commit(connection)

    monkeypatch.setattr(psycopg.Connection, "commit", recorded)
    sign(client, admin_headers, "hot-letter", "Counted Signer Network")
    monkeypatch.undo()
    # The stamp and COMMIT sent together (db.run_then_commit); the session's own commit after
    # it finds the transaction ended.
    assert True in commits, commits  # background threads commit too, never in a pipeline
    # 29 before decision 0106: the worker reloaded its own previous organisation, built its
    # overlay from the database, locked and re-read the organisation it had just created,
    # bumped the counter at a savepoint, read the webhooks twice and the next position apart.
    # 12 before decision 0109: the letter's UPDATE, the signature and its audit event were
    # three statements under the letter's row lock, held to COMMIT. Now the transaction never
    # touches the letter's row (the signature and its audit event are one statement)...
    # 10 before decision 0121: the name negatives and the letter's webhooks were read too.
    # 8 before decision 0128: the letter's shared lock, the name's buckets and the registry's
    # version were three statements (now one), and the registry's stamp a fourth, before a
    # COMMIT of its own (now sent with it, below).
    assert len(statements) == 4, statements
    assert "pg_advisory_xact_lock_shared" in statements[1], statements
    assert "registry_versions_after" in statements[1], statements
    assert not any("UPDATE letter" in s for s in statements), statements
    assert not any(s.startswith("SELECT organisation.id, organisation.kind") for s in statements)
    # ...which is moved outside it, by two statements that each commit at once: the position,
    # then, after the signature's COMMIT, the revision that tells other workers' caches (by
    # the process's bumper, a moment later: decision 0121).
    counting.settle_bumps()
    assert len(outside) == 2, outside
    assert "last_position=(letter.last_position" in outside[0], outside
    assert "revision=(letter.revision" in outside[1] and "last_position" not in outside[1]
    # Nobody subscribed to the letter (letter.webhooks), and no admin verdict moved the name
    # negatives this worker holds (decision 0121): neither is read.
    assert not any("webhook_subscription" in s for s in statements), statements
    assert not any("name_negative" in s for s in statements), statements
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


def test_positions_continue_across_signing_imports_and_withdrawals(
    client: TestClient, coordinator_headers: dict[str, str], make_letter: Any
) -> None:
    """A signer takes the letter's next position from the letter row (decision 0109); imports
    place theirs after it and move it on, and a withdrawn signature keeps its position."""
    make_letter(coordinator_headers, "counted-letter")
    sign(client, coordinator_headers, "counted-letter", "Amber Coast Alliance")
    second = post_signature(
        client,
        coordinator_headers,
        "counted-letter",
        {"organisation": {"name": "Birch Lane Trust"}},
    )
    withdrawn = client.delete(
        f"/api/v1/letters/counted-letter/signatures/{second.json()['id']}",
        headers=coordinator_headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    imported = client.post(
        "/api/v1/letters/counted-letter/imports",
        content=b"name\nCedar Hill Union\nDune Valley League\n",
        headers=coordinator_headers | {"Content-Type": "text/csv"},
    )
    assert imported.status_code in (200, 201), imported.text
    after = post_signature(
        client, coordinator_headers, "counted-letter", {"organisation": {"name": "Elm Ridge Forum"}}
    )
    assert after.status_code == 201, after.text
    assert after.json()["position"] == 5
    listed = client.get(
        "/api/v1/letters/counted-letter/signatures?include_withdrawn=true",
        headers=coordinator_headers,
    ).json()["data"]
    assert [s["position"] for s in listed] == [1, 2, 3, 4, 5]
    with open_session() as session:
        last = session.execute(
            text("SELECT last_position FROM letter WHERE slug = 'counted-letter'")
        ).scalar()
        audited = session.execute(
            text(
                "SELECT target_id FROM audit_event WHERE action = 'signature.create' "
                "ORDER BY id DESC LIMIT 1"
            )
        ).scalar()
    assert last == 5
    # The audit event is written by the signing statement itself, naming the new signature.
    assert audited == str(after.json()["id"])


def test_a_closed_letter_refuses_at_the_locked_statement_and_writes_nothing(
    client: TestClient, coordinator_headers: dict[str, str], make_letter: Any
) -> None:
    """The letter closed between a signer's first check and its final statement: that
    statement matches nothing, and the signer answers 409 with nothing written."""
    from app.letters.models import Letter
    from app.signatures import service

    make_letter(coordinator_headers, "closing-letter")
    sign(client, coordinator_headers, "closing-letter", "Fern Gate Council")
    with open_session() as session:
        # The signer read the letter open...
        letter = session.exec(select(Letter).where(Letter.slug == "closing-letter")).one()
    with open_session(write=True) as other:
        # ...and someone else closed it while the signer resolved.
        other.execute(text("UPDATE letter SET status = 'closed' WHERE slug = 'closing-letter'"))
        other.commit()
    with open_session(write=True) as session:
        values = {
            "letter_id": letter.id,
            "organisation_id": None,
            "anonymous": True,
            "display_name": None,
            "signed_at": letter.created_at,
            "source": "api",
            "withdrawn_at": None,
        }
        assert service._finish(session, letter=letter, values=values, actor="test") is None
        counted = session.execute(
            text("SELECT count(*), max(position) FROM signature WHERE letter_id = :id"),
            {"id": letter.id},
        ).one()
        assert tuple(counted) == (1, 1)
        session.rollback()


@pytest.mark.postgresql_only
def test_a_statement_outside_runs_again_on_a_new_connection_when_its_own_died(
    client: TestClient,
) -> None:
    """The outside pool pings no connection on checkout (a round trip per position): a
    connection the server dropped since it was pooled is replaced and the statement runs."""
    first = db.run_outside(text("SELECT pg_backend_pid()"), {})
    assert first is not None
    with db.get_engine().connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first[0]})
    again = db.run_outside(text("SELECT pg_backend_pid()"), {})
    assert again is not None and again[0] != first[0]
    # Not a retry loop for every error: a statement that fails by itself fails.
    with pytest.raises(Exception, match="division by zero"):
        db.run_outside(text("SELECT 1 / 0"), {})


@pytest.mark.postgresql_only
def test_signatures_committed_together_move_the_letter_once_after_them(
    client: TestClient,
    admin_headers: dict[str, str],
    make_letter: Any,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The revision that tells other workers' caches is moved by one statement for the
    signatures a worker committed meanwhile, after all of them (decision 0121)."""
    make_letter(admin_headers, "bumped")
    sign(client, admin_headers, "bumped", "First Bumped Network")
    counting.settle_bumps()
    monkeypatch.setattr(counting, "BUMP_AFTER", 2.0)
    moved: list[str] = []

    def record(*args: Any) -> None:
        statement = " ".join(str(args[2]).split())
        if "revision=(letter.revision" in statement and "last_position" not in statement:
            moved.append(statement)

    def revision() -> int:
        with engine.connect() as conn:
            return int(
                conn.exec_driver_sql(
                    "SELECT revision FROM letter WHERE slug = 'bumped'"
                ).scalar_one()
            )

    event.listen(db.outside_engine(), "before_cursor_execute", record)
    try:
        for n in range(3):
            sign(client, admin_headers, "bumped", f"Bumped Signer Network {n}")
        after_commits = revision()
        counting.settle_bumps()
    finally:
        event.remove(db.outside_engine(), "before_cursor_execute", record)
    assert revision() > after_commits
    assert 1 <= len(moved) < 3, moved
