"""Round trips a signature does not make, and what each one saved must still guarantee
(decision 0128): a pooled connection is pinged only after it sat idle, and a dead one is
still replaced before a request uses it; the letter's shared lock rides on the transaction's
next statement; a name's claim reads the registry after its locks, in the same statement,
and still sees what the creator it waited for committed."""

import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import db
from app.resolution import registry
from app.signatures.service import LETTER_LOCK_CLASS

pytestmark = pytest.mark.postgresql_only


@pytest.fixture
def pinged(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The backends pinged on checkout, in order."""
    seen: list[int] = []
    ping = engine.dialect.do_ping

    def counted(dbapi_connection: Any) -> bool:
        seen.append(dbapi_connection.info.backend_pid)
        return ping(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", counted)
    yield seen


def backend(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text("SELECT pg_backend_pid()")).scalar_one())


def test_a_connection_given_back_a_moment_ago_is_not_pinged_an_idle_one_is(
    engine: Engine, pinged: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.dispose()
    first = backend(engine)  # a new connection: as good as a ping
    assert backend(engine) == first
    assert pinged == []
    # Idle for longer than PING_IDLE_AFTER: pinged before use.
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)
    assert backend(engine) == first
    assert pinged == [first]


def test_a_connection_that_died_while_idle_is_replaced_before_the_request_uses_it(
    engine: Engine, pinged: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.dispose()
    first = backend(engine)
    # The server drops the pooled connection (a restart, an idle timeout), told by another
    # client than the pool.
    url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", (first,))
    monkeypatch.setattr(db, "PING_IDLE_AFTER", 0.0)
    time.sleep(0.05)
    # No error reaches the caller: the ping found it dead and the pool took another.
    replaced = backend(engine)
    assert replaced != first
    assert first in pinged


def shared_locks(engine: Engine, pid: int) -> set[tuple[int, int]]:
    with engine.connect() as watcher:
        rows = watcher.execute(
            text(
                "SELECT classid::int, objid::int FROM pg_locks WHERE locktype = 'advisory'"
                " AND mode = 'ShareLock' AND pid = :pid AND granted"
            ),
            {"pid": pid},
        ).all()
    return {(int(a), int(b)) for a, b in rows}


def test_a_shared_lock_left_for_the_next_statement_is_held_before_it_runs(
    engine: Engine,
) -> None:
    with Session(engine) as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        db.share_with_next(session, lock_class=LETTER_LOCK_CLASS, key=41)
        assert shared_locks(engine, pid) == set()  # not a round trip of its own
        # Any statement: the lock is taken before it, so it already guards what it reads.
        seen = session.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid ="
                " pg_backend_pid() AND classid = :cls AND objid = 41 AND mode = 'ShareLock'"
            ),
            {"cls": LETTER_LOCK_CLASS},
        ).scalar_one()
        assert seen == 1
        assert shared_locks(engine, pid) == {(LETTER_LOCK_CLASS, 41)}
        session.commit()
        assert shared_locks(engine, pid) == set()
        # One never sent is forgotten with its transaction, not taken in the connection's next.
        db.share_with_next(session, lock_class=LETTER_LOCK_CLASS, key=42)
        session.rollback()
        session.execute(text("SELECT 1"))
        assert shared_locks(engine, pid) == set()


def test_a_claim_takes_the_shared_lock_and_its_buckets_in_one_statement(
    engine: Engine,
) -> None:
    statements: list[str] = []
    with Session(engine) as session:
        pid = int(session.execute(text("SELECT pg_backend_pid()")).scalar_one())
        db.share_with_next(session, lock_class=LETTER_LOCK_CLASS, key=7)

        def record(*args: Any) -> None:
            statements.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", record)
        try:
            registry.claim(session, names=["Lantern Harbour Collective"])
        finally:
            event.remove(engine, "before_cursor_execute", record)
        assert len(statements) == 1, statements
        assert shared_locks(engine, pid) == {(LETTER_LOCK_CLASS, 7)}
        with engine.connect() as watcher:
            buckets = watcher.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = :pid"
                    " AND mode = 'ExclusiveLock' AND classid = :space"
                ),
                {"pid": pid, "space": registry._LOCK_SPACE},
            ).scalar_one()
        assert buckets == 1
        session.rollback()


def committed(session: Session) -> int:
    return int(
        session.execute(text("SELECT version FROM registry_state WHERE id = 1")).scalar_one()
    )


def test_a_claim_reads_what_the_creator_it_waited_for_committed(engine: Engine) -> None:
    """The claim's read is in the statement that waits for the locks, yet it sees the
    version the lock's holder committed while it waited: the statement's own snapshot, taken
    before the wait, would not (the contrast below)."""
    name = ["Quiet River Observatory"]
    with Session(engine) as creator, Session(engine) as claimer:
        start = committed(claimer)  # the claimer's transaction began before the commit
        registry.claim(creator, names=name)
        creator.execute(text("UPDATE registry_state SET version = version + 1 WHERE id = 1"))
        claimer.info[registry._SYNCED] = start
        moved: list[bool] = []
        waiting = threading.Thread(target=lambda: moved.append(registry.claim(claimer, names=name)))
        waiting.start()
        time.sleep(0.3)
        assert waiting.is_alive(), "the claim must wait for the creator's bucket"
        creator.commit()
        waiting.join(timeout=10)
        assert moved == [True]
        assert claimer.info[registry._FRESH] == start + 1
        claimer.rollback()

    # The contrast: the same locks and read as one plain statement read the old version.
    with Session(engine) as creator, Session(engine) as claimer:
        start = committed(claimer)
        registry.claim(creator, names=name)
        creator.execute(text("UPDATE registry_state SET version = version + 1 WHERE id = 1"))
        read: list[int] = []

        def plain() -> None:
            row = claimer.execute(
                text(
                    "SELECT (SELECT count(pg_advisory_xact_lock(:space, b))"
                    " FROM unnest(CAST(:buckets AS integer[])) AS b),"
                    " (SELECT version FROM registry_state WHERE id = 1)"
                ),
                {"space": registry._LOCK_SPACE, "buckets": registry._buckets(name)},
            ).one()
            read.append(int(row[1]))

        waiting = threading.Thread(target=plain)
        waiting.start()
        time.sleep(0.3)
        creator.commit()
        waiting.join(timeout=10)
        assert read == [start]
        claimer.rollback()
