"""SQLite's writers wait in the app's queue, where the kernel wakes them when the write lock is
free, rather than in SQLite's busy handler, which sleeps (decision 0137).

Most tests give the app's connections no busy timeout at all (`PRAGMA busy_timeout=0`): a writer
that met SQLite's lock taken would fail at once with "database is locked", so a write that
succeeds after waiting shows that it waited in the queue, and that SQLite found its lock free.
"""

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from app import db
from tests.hardening.conftest import ROOT

# Long enough for a writer that was not queued to have failed or gone through already.
STILL_WAITING = 0.5
# Far more than a woken writer needs, far less than the 30 s of a writer left to time out.
WOKEN_WITHIN = 10.0

# Another process of the app: takes a write turn, writes a row, says so, then commits or
# rolls back when told (or is killed holding it).
HOLDER = """
import sys
from sqlalchemy import text
from app import db

db.set_engine(db.make_engine(sys.argv[1]))
with db.open_session(write=True) as session:
    session.execute(text("INSERT INTO mark (what) VALUES ('held')"))
    print("held", flush=True)
    if sys.stdin.readline().strip() == "commit":
        session.commit()
"""


@pytest.fixture
def url(tmp_path: Path) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'writers.db'}"
    engine = db.make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE mark (what TEXT NOT NULL)"))
        connection.execute(text("CREATE TABLE counter (n INTEGER NOT NULL)"))
        connection.execute(text("INSERT INTO counter (n) VALUES (0)"))
    engine.dispose()
    yield url


def impatient_engine(url: str, *, busy_ms: int = 0) -> Engine:
    """The app's engine for `url`, whose connections give SQLite's busy handler `busy_ms`."""
    engine = db.make_engine(url)

    @event.listens_for(engine, "connect")
    def _busy_timeout(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout={busy_ms}")

    return engine


def write_session(engine: Engine) -> Session:
    """As `db.open_session(write=True)`, on `engine`."""
    session = Session(engine, expire_on_commit=False)
    session.connection(execution_options=db.WRITE_OPTIONS)
    return session


def marks(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT what FROM mark"))]


def write_mark(engine: Engine, what: str) -> list[str]:
    """Write a mark in a write transaction: the marks its transaction saw before its own."""
    with write_session(engine) as session:
        seen = [row[0] for row in session.execute(text("SELECT what FROM mark"))]
        session.execute(text("INSERT INTO mark (what) VALUES (:what)"), {"what": what})
        session.commit()
    return seen


@pytest.fixture
def holder(url: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, url],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait(timeout=10)


def waiting_writer(engine: Engine, pool: ThreadPoolExecutor) -> Future[list[str]]:
    writer = pool.submit(write_mark, engine, "waiter")
    time.sleep(STILL_WAITING)
    assert not writer.done(), writer.exception() or "wrote while another process held the lock"
    return writer


def test_threads_take_turns_without_the_busy_handler(url: str) -> None:
    """Eight threads, each a read-modify-write of one counter 100 times: none is refused,
    none is lost."""
    engine = impatient_engine(url)
    rounds, threads = 100, 8

    def count() -> None:
        for _ in range(rounds):
            with write_session(engine) as session:
                n = session.execute(text("SELECT n FROM counter")).scalar_one()
                session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
                session.commit()

    with ThreadPoolExecutor(threads) as pool:
        for done in [pool.submit(count) for _ in range(threads)]:
            done.result()
    with engine.connect() as connection:
        assert connection.execute(text("SELECT n FROM counter")).scalar_one() == rounds * threads
    engine.dispose()


@pytest.mark.parametrize(("end", "seen"), [("commit", ["held"]), ("kill", [])])
def test_a_writer_behind_another_process_goes_when_the_holder_commits_or_dies(
    url: str, holder: subprocess.Popen[str], end: str, seen: list[str]
) -> None:
    """Behind a holder that commits, it begins after the COMMIT (it sees the holder's row);
    behind one killed with the lock, the kernel lets it go, and nothing of the holder's stays."""
    engine = impatient_engine(url)
    with ThreadPoolExecutor(1) as pool:
        writer = waiting_writer(engine, pool)
        if end == "commit":
            assert holder.stdin is not None
            holder.stdin.write("commit\n")
            holder.stdin.flush()
        else:
            holder.kill()
        assert writer.result(timeout=WOKEN_WITHIN) == seen
    assert marks(engine) == [*seen, "waiter"]
    engine.dispose()


def test_a_nested_write_in_one_thread_falls_back_to_the_busy_handler(url: str) -> None:
    """The inner write cannot have SQLite's lock while the outer holds it: refused after the
    busy timeout, as before the queue, instead of waiting for its own thread forever."""
    engine = impatient_engine(url, busy_ms=100)

    def nested() -> None:
        with write_session(engine) as outer:
            outer.execute(text("INSERT INTO mark (what) VALUES ('outer')"))
            with pytest.raises(OperationalError, match="database is locked"):
                write_session(engine)
            outer.commit()

    with ThreadPoolExecutor(1) as pool:
        pool.submit(nested).result(timeout=WOKEN_WITHIN)
        # The outer's turn ended with its commit: another thread writes without waiting.
        assert pool.submit(write_mark, engine, "after").result(timeout=WOKEN_WITHIN) == ["outer"]
    engine.dispose()


def test_a_writer_outside_the_app_is_waited_for_by_the_busy_handler(url: str) -> None:
    """A writer that never queues (the sqlite3 shell, a migration): the app's writer that
    found the queue empty meets SQLite's lock, and waits or fails there as before; a failed
    BEGIN gives its turn back."""
    outside = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    outside.execute("BEGIN IMMEDIATE")
    impatient = impatient_engine(url, busy_ms=100)
    with pytest.raises(OperationalError, match="database is locked"):
        write_mark(impatient, "refused")
    patient = db.make_engine(url)  # the busy handler's 30 s
    with ThreadPoolExecutor(1) as pool:
        writer = pool.submit(write_mark, patient, "patient")
        time.sleep(STILL_WAITING)
        assert not writer.done()
        outside.execute("INSERT INTO mark (what) VALUES ('outside')")
        outside.execute("COMMIT")
        assert writer.result(timeout=WOKEN_WITHIN) == ["outside"]
    outside.close()
    # Had the refused writer kept its turn, this thread would wait for it.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(write_mark, impatient, "last").result(timeout=WOKEN_WITHIN)
    assert marks(patient) == ["outside", "patient", "last"]
    impatient.dispose()
    patient.dispose()
