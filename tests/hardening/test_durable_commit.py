"""The registry's version is committed without holding its lock through the WAL flush, yet a
signature is durable when its answer goes out; a crash of the database server, which may lose
what other workers saw before the flush, makes every worker drop what it built from it
(decision 0138). PostgreSQL only: SQLite commits in-process, under its one write lock."""

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from app import db, listeners
from app.auth.models import Role
from app.auth.service import Principal
from app.db import open_session
from app.organisations.models import RegistryState
from app.resolution import registry
from app.resolution import service as identity
from app.resolution.visibility import Viewer

pytestmark = pytest.mark.postgresql_only

ADMIN = Viewer(Principal(role=Role.admin, token_id=None))


def test_the_last_statement_commits_unflushed_and_returns_once_durable(engine: Engine) -> None:
    """What the statement saw: its transaction commits without waiting for the flush (so the
    lock it took is not held through it). What the caller sees on return: the WAL flushed past
    that statement, and the next transaction on the connection back to synchronous commits."""
    statement = text(
        "SELECT current_setting('synchronous_commit') AS mode,"
        " pg_current_wal_insert_lsn()::text AS lsn,"
        " pg_current_xact_id()::text AS xid"  # a transaction that must commit
    )
    with open_session(write=True) as session:
        session.execute(text("UPDATE registry_state SET negatives = negatives WHERE id = 1"))
        rows = db.run_then_commit(session, statement, {})
        mode, lsn, _ = rows[0]
        assert mode == "off"
        flushed = session.execute(
            text("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), CAST(:lsn AS pg_lsn))"),
            {"lsn": lsn},
        ).scalar()
        assert flushed is not None and flushed >= 0
        # SET LOCAL ended with the transaction: nothing else on this pooled connection commits
        # without waiting for the disk.
        assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"
        session.commit()


def test_a_failing_last_statement_commits_nothing(engine: Engine) -> None:
    """The pipeline stops at the error: neither COMMIT runs, the transaction's earlier writes are
    rolled back, and the connection serves the next transaction."""
    with open_session(write=True) as session:
        before = session.exec(select(RegistryState.negatives)).one()
        session.execute(text("UPDATE registry_state SET negatives = negatives + 7 WHERE id = 1"))
        with pytest.raises(DBAPIError):
            db.run_then_commit(session, text("SELECT 1 / (0 * :zero)"), {"zero": 1})
        session.rollback()
        assert session.exec(select(RegistryState.negatives)).one() == before
        assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"


def test_a_new_organisation_is_stamped_and_its_version_durable_on_return(engine: Engine) -> None:
    with open_session(write=True) as session:
        created = identity.identify(session, name="Harbour Lights Legal Aid", viewer=ADMIN)
        session.commit()
    with open_session() as session:
        assert session.exec(select(RegistryState.version)).one() == 1
        again = identity.resolve(session, names=["Harbour Lights Legal Aid"], viewer=ADMIN)
        assert (again.status, again.organisation_id) == ("existing", created.organisation_id)


@pytest.fixture
def lost() -> Iterator[list[str]]:
    """Callbacks run when a connection finds the server crashed since this process last saw it."""
    calls: list[str] = []

    def note() -> None:
        calls.append("lost")

    db.when_server_lost(note)
    yield calls
    db._server_lost.remove(note)


def crash(engine: Engine) -> None:
    """What crash recovery does to the UNLOGGED token, and to every open connection."""
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM server_incarnation"))
    engine.dispose()


def test_a_crash_of_the_server_is_noticed_by_the_next_connection(
    engine: Engine, lost: list[str]
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    fresh = db.make_engine(url)
    try:
        with fresh.connect() as conn:
            before = conn.execute(text("SELECT token FROM server_incarnation")).scalar()
        fresh.dispose()
        # Reconnecting to the same server (a clean restart keeps the table): nothing lost.
        with fresh.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert lost == []
        crash(fresh)
        with fresh.connect() as conn:
            after = conn.execute(text("SELECT token FROM server_incarnation")).scalar()
        assert after is not None and after != before
        assert lost == ["lost"]
        # Once: the next connections find the token this process has seen.
        fresh.dispose()
        with fresh.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert lost == ["lost"]
    finally:
        fresh.dispose()


def test_after_a_crash_the_registry_is_reloaded_and_the_snapshot_not_reused(
    engine: Engine,
) -> None:
    listeners.install()
    with open_session(write=True) as session:
        identity.identify(session, name="Northern Lantern Press Freedom Trust", viewer=ADMIN)
        session.commit()
    with open_session() as session:
        identity.resolve(session, names=["Northern Lantern"], viewer=ADMIN)
        identity_before = registry._identity(session)
    assert registry._shared.public is not None
    crash(engine)
    with open_session() as session:
        session.execute(text("SELECT 1"))
        # The new connection read the new token first: the in-memory registry is gone, and a
        # snapshot file written before the crash no longer matches this database.
        assert registry._shared.public is None
        assert registry._identity(session) != identity_before
        found = identity.resolve(
            session, names=["Northern Lantern Press Freedom Trust"], viewer=ADMIN
        )
        assert found.status == "existing"
