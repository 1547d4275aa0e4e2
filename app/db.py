"""Engine, naming convention, the request-scoped session that owns the transaction, and what
the database's errors say about its storage."""

import fcntl
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache, partial
from pathlib import Path
from typing import Annotated, Any, TypeVar

import anyio
import psycopg
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, TypeDecorator, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlmodel import Session, SQLModel, create_engine

from app.config import get_settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
T = TypeVar("T")
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION
metadata: MetaData = SQLModel.metadata


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes on both databases (SQLite stores them without an offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use app.db.utcnow()")
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


# SQLite: how long a writer waits for the write lock, in the app's queue and then in SQLite's
# busy handler, before the database answers "locked".
BUSY_TIMEOUT = 30.0


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event below decide how each transaction starts.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # Foreign keys are off by default in SQLite; WAL lets readers run beside the writer.
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT * 1000)}")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A write transaction that starts as a reader can fail with "database is locked" when it
    # upgrades; writers take the write lock up front instead, queued (`WriterQueue`).
    if not connection.get_execution_options().get("sqlite_immediate"):
        connection.exec_driver_sql("BEGIN DEFERRED")
        return
    driver = connection.connection.dbapi_connection
    if isinstance(driver, QueuedConnection):
        driver.queue_for_write()
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        # No transaction began, so no COMMIT or ROLLBACK will give the turn back.
        if isinstance(driver, QueuedConnection):
            driver.leave_queue()
        raise


WRITE_OPTIONS = {"sqlite_immediate": True}

# SQLite: how long the app's writers of one process may keep the write lock among themselves
# while another process's writer waits for it.
PROCESS_TURN = 0.2


class WriterQueue:
    """The app's writers of one SQLite file, queued for its write lock (decision 0137).

    SQLite's busy handler sleeps between tries (1, 2, 5 … 50, 100 ms): a waiting writer wakes
    long after the lock was freed, and newcomers, trying soonest, pass those that waited
    longest. Here a writer waits where the kernel wakes it the moment the lock is free: the
    threads of a process on a lock of the process (a thread's turn), and the processes on an
    exclusive flock of `<database>-writers` (never removed: one removed while held would give
    two processes a turn, and leave them to the busy handler), which a process keeps while its
    own threads wait, for up to `PROCESS_TURN`: a worker that signs in a row reloads the other
    worker's new organisations once (`registry._sync`), not at every signature. A turn is taken before BEGIN IMMEDIATE and
    ends when COMMIT or ROLLBACK has returned, so SQLite finds its lock free.

    SQLite's busy handler still serves writers outside the queue: other programs (migrations,
    the sqlite3 shell), a thread that has a turn already (a nested write session, which SQLite
    refuses after the busy timeout, as before), a thread that waited `BUSY_TIMEOUT` in its
    process (a writer stuck in another thread), a lock file that cannot be opened. The kernel
    drops a dead process's flock. The flock itself is waited for without a timeout: its holder
    is a process's writer, held up only by its transaction or the busy handler's timeout.
    """

    def __init__(self, path: str) -> None:
        self._path = f"{path}-writers"
        self._threads = threading.Lock()  # a thread's turn, among this process's threads
        self._counting = threading.Lock()  # guards `_waiting`
        self._waiting = 0  # threads of this process waiting for a turn
        self._holder: int | None = None  # the thread that has the turn
        self._file: int | None = None  # the lock file, open while this process holds its flock
        self._since = 0.0  # when this process took the flock

    def take(self) -> bool:
        """Wait for the turn; False when this writer is to rely on SQLite's busy handler."""
        if self._holder == threading.get_ident():
            return False
        with self._counting:
            self._waiting += 1
        try:
            taken = self._threads.acquire(timeout=BUSY_TIMEOUT)
        finally:
            with self._counting:
                self._waiting -= 1
        if not taken:
            # The thread that passed the turn on may have counted this one: pass it on again.
            if self._threads.acquire(blocking=False):
                self._pass_on()
            return False
        if self._file is None:
            try:
                self._file = self._lock_file()
            except BaseException:
                self._threads.release()
                raise
            if self._file is None:
                self._threads.release()
                return False
            self._since = time.monotonic()
        self._holder = threading.get_ident()
        return True

    def _lock_file(self) -> int | None:
        try:
            descriptor = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError:
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
        except BaseException:
            os.close(descriptor)
            raise
        return descriptor

    def give_back(self) -> None:
        """End the turn (from any thread: a request may commit in another thread than it
        began)."""
        self._holder = None
        self._pass_on()

    def _pass_on(self) -> None:
        """With the turn: to a waiting thread of this process, keeping the flock, unless none
        waits or this process has had it for `PROCESS_TURN`."""
        with self._counting:
            keep = self._waiting > 0 and time.monotonic() - self._since < PROCESS_TURN
        try:
            if not keep and self._file is not None:
                descriptor, self._file = self._file, None
                os.close(descriptor)  # drops the flock
        finally:
            self._threads.release()


# One queue per SQLite file in this process, whichever engines write it.
_writer_queues: dict[str, WriterQueue] = {}


def _writer_queue(database: str) -> WriterQueue:
    path = os.path.realpath(database)
    with _engines_lock:
        return _writer_queues.setdefault(path, WriterQueue(path))


class QueuedConnection(sqlite3.Connection):
    """A SQLite connection whose write transactions wait in their file's `WriterQueue`; the
    turn ends once COMMIT or ROLLBACK has returned (SQLAlchemy's "commit" and "rollback"
    events run before them)."""

    writers: WriterQueue | None = None
    _turn = False

    def queue_for_write(self) -> None:
        if self.writers is not None and not self._turn:
            self._turn = self.writers.take()

    def leave_queue(self) -> None:
        if self._turn:
            self._turn = False
            assert self.writers is not None
            self.writers.give_back()

    def commit(self) -> None:
        self._ending(super().commit)

    def rollback(self) -> None:
        self._ending(super().rollback)

    def _ending(self, end: Callable[[], None]) -> None:
        try:
            end()
        finally:
            # A COMMIT that failed may leave the transaction open: its ROLLBACK ends the turn.
            if not self.in_transaction:
                self.leave_queue()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave_queue()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        settings = get_settings()
        engine = create_engine(
            url,
            connect_args={
                "check_same_thread": False,
                "timeout": BUSY_TIMEOUT,
                "factory": QueuedConnection,
            },
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            writers = _writer_queue(database)

            def join_queue(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.writers = writers

            event.listen(engine, "connect", join_queue)
        return engine
    # hide_parameters: a failed statement's message must not quote the row (a signer's name).
    settings = get_settings()
    engine = create_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        hide_parameters=True,
    )
    _ping_when_idle(engine)
    event.listen(engine, "connect", partial(_check_incarnation, str(url)))
    event.listen(engine, "before_cursor_execute", _send_shared_with_next)
    event.listen(engine, "commit", _forget_shared_with_next)
    event.listen(engine, "rollback", _forget_shared_with_next)
    return engine


# A pooled connection given back less than this long ago is handed out without a ping.
PING_IDLE_AFTER = 1.0
_RETURNED_AT = "undersigned_returned_at"


def _ping_when_idle(engine: Engine) -> None:
    """Ping a pooled connection on checkout only when it has sat idle (decision 0128).

    SQLAlchemy's `pool_pre_ping` pings on every checkout: a round trip per request, a tenth of
    a signature's. A connection given back a moment ago was alive then; one idle for longer
    (a server restart, a dropped link, an idle timeout between) is pinged, and a dead one is
    replaced before the request uses it, as `pool_pre_ping` does (the pool retries the
    checkout on `DisconnectionError`). What remains: a server restart in the second since a
    connection's last use fails that request, as a restart fails requests in flight; the
    failure invalidates the pool's other connections (`is_disconnect`), so the next ones
    reconnect."""

    def returned(_dbapi_connection: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()
        # Never carried into the next checkout's transaction (its end dropped them already).
        record.info.pop(_SHARED_WITH_NEXT, None)

    def checkout(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        if returned_at is not None and time.monotonic() - returned_at < PING_IDLE_AFTER:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as exc:
            raise DisconnectionError("connection dead on checkout") from exc
        if not alive:
            raise DisconnectionError("connection dead on checkout")

    # A new connection was just opened: as good as a ping.
    event.listen(engine, "connect", returned)
    event.listen(engine, "checkin", returned)
    event.listen(engine, "checkout", checkout)


# The server's incarnation (PostgreSQL, migration 0092): a token kept in an UNLOGGED table,
# which crash recovery (or a replica's promotion) empties and a clean shutdown keeps. A
# transaction committed without waiting for the WAL flush (`run_then_commit`) is seen by other
# workers before it is durable (decision 0138): if the server then crashes, what they built from
# it (the registry's indexes, counts) is gone from the database but not from their memory. Every
# new connection reads the token (a crash ends every connection, so the first one after it
# reads the new token); a changed one runs the callbacks `when_server_lost` registered.
_INCARNATION = (
    "WITH made AS (INSERT INTO server_incarnation (id, token)"
    " VALUES (1, md5(random()::text || clock_timestamp()::text))"
    " ON CONFLICT (id) DO NOTHING RETURNING token)"
    " SELECT token FROM made UNION ALL SELECT token FROM server_incarnation WHERE id = 1"
)
# By database URL: the last token this process read (a process may use several databases).
_incarnations: dict[str, str] = {}
_log = logging.getLogger(__name__)
_server_lost: list[Callable[[], None]] = []


def when_server_lost(callback: Callable[[], None]) -> None:
    """Run `callback` when a new connection finds that the server crashed since this process
    last connected to it (idempotent)."""
    if callback not in _server_lost:
        _server_lost.append(callback)


def _check_incarnation(url: str, dbapi_connection: Any, _record: Any) -> None:
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(_INCARNATION)
            row = cursor.fetchone()
        dbapi_connection.commit()
    except (psycopg.errors.UndefinedTable, psycopg.errors.ReadOnlySqlTransaction):
        # Not migrated yet (nothing to lose either), or a read-only server (no commit of ours).
        dbapi_connection.rollback()
        return
    token = str(row[0])
    with _engines_lock:
        lost = _incarnations.get(url, token) != token
        _incarnations[url] = token
    if lost:
        _log.warning("the database server restarted after a crash: in-memory registry dropped")
        for callback in list(_server_lost):
            callback()


# Connection.info key: shared advisory locks (class, key) to take before the transaction's
# next statement (`share_with_next`).
_SHARED_WITH_NEXT = "undersigned_shared_with_next"
_SHARED_LOCK = "SELECT pg_advisory_xact_lock_shared(%s, %s)"


def share_with_next(session: Session, *, lock_class: int, key: int) -> None:
    """PostgreSQL: take this shared advisory lock with the transaction's next statement, not in
    a round trip of its own (decision 0128).

    The same as taking it now, since the lock guards only what the database does: no
    statement of this transaction runs without it. The next statement either takes it itself
    (`take_shared_with_next`, as `registry.claim` does, in the statement that claims its
    names) or has it sent just before by `_send_shared_with_next`. One that never comes
    (the transaction ends first) needed no lock."""
    session.connection().info.setdefault(_SHARED_WITH_NEXT, []).append((lock_class, key))


def take_shared_with_next(session: Session) -> list[tuple[int, int]]:
    """The locks `share_with_next` left for the next statement, which the caller's statement
    takes before anything else it does."""
    return list(session.connection().info.pop(_SHARED_WITH_NEXT, ()))


def send_shared_with_next(session: Session) -> None:
    """Take the waiting shared locks now (before work outside this transaction that they
    guard)."""
    _take_shared(session.connection().connection.dbapi_connection, take_shared_with_next(session))


def _send_shared_with_next(
    connection: Any, cursor: Any, _statement: Any, _parameters: Any, _context: Any, _many: Any
) -> None:
    # On the driver's connection, not this cursor (which may be a server-side one).
    _take_shared(cursor.connection, connection.info.pop(_SHARED_WITH_NEXT, ()))


def _take_shared(driver: Any, locks: Iterable[tuple[int, int]]) -> None:
    for lock_class, key in locks:
        driver.execute(_SHARED_LOCK, (lock_class, key))


def _forget_shared_with_next(connection: Any) -> None:
    connection.info.pop(_SHARED_WITH_NEXT, None)


@lru_cache(maxsize=8)
def _for_driver(statement: Any, dialect: Any) -> tuple[str, dict[str, Any]]:
    """A statement built once, compiled once for the driver, and its constant parameters."""
    compiled = statement.compile(dialect=dialect)
    return str(compiled), dict(compiled.params)


_COMMIT_UNFLUSHED = "SET LOCAL synchronous_commit TO off"
# A transactional WAL record: a transaction that wrote none commits without a flush even
# synchronously. Any role may call it; it changes no table.
_WAL_RECORD = "SELECT pg_logical_emit_message(true, 'undersigned', 'durable')"


def run_then_commit(session: Session, statement: Any, params: dict[str, Any]) -> list[Any]:
    """PostgreSQL: the transaction's last statement and its COMMIT sent together (the driver's
    pipeline), answered together: the statement's rows (decision 0128).

    For a statement that takes a lock every writer waits for (the registry's version): the
    server holds it from the statement to the end of COMMIT only, never also while this
    worker's thread waits for the GIL to read the answer and send COMMIT. The statement stays
    a prepared one (its plan is not made again each time, as a simple query's would be). The
    session's own commit that follows finds the transaction ended and sends nothing. Only
    with nothing left to flush (the caller's last write), and as the last thing a
    `before_commit` does: a later statement would begin a transaction of its own. An error in
    either raises here as SQLAlchemy's error (parameters hidden), the transaction ended.

    Nor is the lock held through the WAL flush (decision 0138): that COMMIT does not wait for
    it (`synchronous_commit` off for this transaction), so every writer of the registry no
    longer queues behind each other's disk write (~3 ms here, which capped them all at ~300
    a second). The flush is waited for next, in the same round trip, by a second transaction
    that writes one WAL record and commits synchronously: its flush covers the first's commit,
    which precedes it in the WAL, so this returns only once both are durable, as before; and
    concurrent writers' flushes are now one disk write, as nothing orders them. Other workers
    may see the first commit before it is durable: a crash in that instant is what the
    server's incarnation token tells them (`when_server_lost`)."""
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("run_then_commit with unflushed changes")
    connection = session.connection()
    sql, constants = _for_driver(statement, connection.dialect)
    values = constants | params
    driver = connection.connection.dbapi_connection
    assert isinstance(driver, psycopg.Connection)
    cursor, durable = driver.cursor(), driver.cursor()
    try:
        with driver.pipeline():
            durable.execute(_COMMIT_UNFLUSHED)
            cursor.execute(sql, values)
            # The next transaction begins with this COMMIT: no BEGIN of its own to send and
            # answer (a third of the added client CPU). SET LOCAL does not carry over to it.
            durable.execute("COMMIT AND CHAIN")
            durable.execute(_WAL_RECORD)
            driver.commit()
        return cursor.fetchall()
    except psycopg.Error as exc:
        dead = connection.dialect.is_disconnect(exc, driver, cursor)
        if dead:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            values,
            exc,
            psycopg.Error,
            hide_parameters=True,
            connection_invalidated=dead,
            dialect=connection.dialect,
        ) from exc
    finally:
        cursor.close()
        durable.close()


_engine: Engine | None = None
# The PostgreSQL engine for short statements outside any request's transaction, with the app
# engine it was made for.
_outside: tuple[Engine, Engine] | None = None
# The app engine's write variant (`_write_engine`), with the engine it was made from.
_writes: tuple[Engine, Engine] | None = None
# Guards both engines derived from the app engine above.
_engines_lock = threading.Lock()


def get_engine() -> Engine:
    global _engine
    if _engine is None:
        _engine = make_engine(get_settings().database_url)
    return _engine


def set_engine(engine: Engine | None) -> None:
    """Point the app at another engine (tests, CLI --database)."""
    global _engine, _outside
    _engine = engine
    with _engines_lock:
        if _outside is not None and _outside[0] is not engine:
            # Its connections would keep the old database busy (a test's DROP DATABASE).
            _outside[1].dispose()
            _outside = None


def outside_engine() -> Engine:
    """PostgreSQL: an engine whose statements each commit at once, on a small pool of its own,
    for a counter a hot row must hold for one statement only (decision 0109: a letter's next
    position). Its own pool: a request that holds a connection of the main pool must never
    wait for another one from it. `synchronous_commit=off`: the row lock is released when the
    statement ends, not after the WAL flush; a position lost in a server crash was never given
    to a committed signature, whose own (synchronous) commit flushes the WAL that precedes it.
    `lock_timeout`: never wait forever on a row another transaction holds. No ping on
    checkout (a round trip per statement): `run_outside` runs a statement again on a fresh
    connection when the one it had turns out dead."""
    global _outside
    base = get_engine()
    with _engines_lock:
        if _outside is None or _outside[0] is not base:
            engine = create_engine(
                base.url,
                isolation_level="AUTOCOMMIT",
                # Kept open, never opened per use: a connection opened and closed per signature
                # cost PostgreSQL a backend start each (620 in 15 s on the hot letter). Held
                # for one statement at a time, so a thread that waits for one waits briefly.
                pool_size=8,
                max_overflow=0,
                pool_timeout=get_settings().db_pool_timeout,
                connect_args={"options": "-c synchronous_commit=off -c lock_timeout=10000"},
                hide_parameters=True,
            )
            _outside = (base, engine)
        return _outside[1]


def run_outside(statement: Any, params: dict[str, Any]) -> Any:
    """Run one statement on the outside engine, committed at once: its first row (None for
    none). A connection found dead (the server restarted since it was pooled) is dropped and
    the statement runs once more on a new one; nothing of it had committed, or, if the
    server committed it just before the connection died, what it took (a position) stays
    unused, which decision 0109 allows."""
    try:
        return _run_outside_once(statement, params)
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return _run_outside_once(statement, params)


def _run_outside_once(statement: Any, params: dict[str, Any]) -> Any:
    with outside_engine().connect() as outside:
        result = outside.execute(statement, params)
        return result.first() if result.returns_rows else None


def open_session(*, write: bool = False) -> Session:
    """A session; with write=True its transaction takes SQLite's write lock from the start."""
    session = Session(get_engine(), expire_on_commit=False)
    if write:
        session.connection(execution_options=WRITE_OPTIONS)
    return session


def _write_engine() -> Engine:
    """The app engine with the write option (SQLite's BEGIN IMMEDIATE) on every connection."""
    global _writes
    base = get_engine()
    with _engines_lock:
        if _writes is None or _writes[0] is not base:
            _writes = (base, base.execution_options(**WRITE_OPTIONS))
        return _writes[1]


def _request_session(*, write: bool) -> Session:
    """A request's session, opened without touching the database: a write's first statement
    begins with SQLite's write lock, as `open_session(write=True)`."""
    return Session(_write_engine() if write else get_engine(), expire_on_commit=False)


def _end(session: Session, *, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


async def get_session(request: Request) -> AsyncIterator[Session]:
    """The request's session. The request owns the transaction: services only flush, this
    commits or rolls back.

    Opened on the event loop without touching the database (its first statement connects, in
    the thread that runs it; a write's connection begins with SQLite's write lock, as
    `open_session(write=True)`), and ended in the thread pool: one hand-off per request, where
    a `def` generator cost two. The end is shielded: a cancelled request still gives its
    connection back, rolled back."""
    write = request.method not in SAFE_METHODS
    session = _request_session(write=write)
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(partial(_end, session, commit=False))
        raise
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(partial(_end, session, commit=True))
    if write:
        storage_health.wrote()


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def run_in_transaction(request: Request, work: Callable[[Session], T]) -> T:
    """`work` in the request's transaction, committed (rolled back if it raises), in one
    hand-off to the thread pool: what `SessionDep` and the `def` dependencies that read the
    database cost one hand-off each. For the busiest write route (signing: decision 0121),
    where each hand-off and its GIL switches cost more CPU than a statement. Not cancelled
    with the request: once in the thread it runs to its end, as a `def` endpoint does."""
    write = request.method not in SAFE_METHODS

    def run() -> T:
        session = _request_session(write=write)
        try:
            result = work(session)
        except BaseException:
            _end(session, commit=False)
            raise
        _end(session, commit=True)
        return result

    result = await anyio.to_thread.run_sync(run)
    if write:
        storage_health.wrote()
    return result


# Errors that mean the storage refuses writes until someone acts (a read-only file or
# transaction, a full disk, failing or damaged storage), as opposed to contention or a dropped
# connection, which pass by themselves. SQLite's primary result codes (the low byte of the
# extended code) and PostgreSQL's SQLSTATEs.
_SQLITE_STORAGE_STATES = {8: "read_only", 13: "full", 10: "io_error", 14: "io_error"}
_SQLITE_STORAGE_STATES |= {11: "corrupt", 26: "corrupt"}
_POSTGRESQL_STORAGE_STATES = {"25006": "read_only", "53100": "full", "58030": "io_error"}
_POSTGRESQL_STORAGE_STATES |= {"XX001": "corrupt", "XX002": "corrupt"}
_SQLITE_BUSY = {5, 6}  # SQLITE_BUSY, SQLITE_LOCKED: another writer holds the lock
# Below this much free space where the SQLite file lives, a write may fail at any moment.
MIN_FREE_BYTES = 1024 * 1024


@dataclass(frozen=True)
class StorageFault:
    state: str  # read_only, full, io_error or corrupt
    code: str  # the database's own code: "SQLITE_READONLY (8)", "SQLSTATE 25006"


def database_code(exc: BaseException) -> str | None:
    """The database's own code for an error: SQLite's extended result code, or the SQLSTATE."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        name = getattr(original, "sqlite_errorname", None)
        return None if code is None else f"{name} ({code})"
    sqlstate = getattr(original, "sqlstate", None)
    return f"SQLSTATE {sqlstate}" if sqlstate else None


def storage_fault(exc: BaseException) -> StorageFault | None:
    """What a database error says about the storage, when it says the storage refuses writes."""
    original = exc.orig if isinstance(exc, DBAPIError) else exc
    if isinstance(original, sqlite3.Error):
        code = getattr(original, "sqlite_errorcode", None)
        state = None if code is None else _SQLITE_STORAGE_STATES.get(code & 0xFF)
    else:
        state = _POSTGRESQL_STORAGE_STATES.get(getattr(original, "sqlstate", None) or "")
    return None if state is None else StorageFault(state, database_code(exc) or "unknown")


class StorageHealth:
    """The last storage fault this process met, until a write commits or it grows old.

    A probe cannot see everything cheaply (PostgreSQL's full disk is on the server), so the
    health check also reports what the last failed write said.
    """

    FORGET_AFTER = 300.0

    def __init__(self) -> None:
        self._fault: StorageFault | None = None
        self._at = 0.0

    def failed(self, fault: StorageFault) -> None:
        self._fault, self._at = fault, time.monotonic()

    def wrote(self) -> None:
        self._fault = None

    def recent(self) -> StorageFault | None:
        if self._fault is not None and time.monotonic() - self._at > self.FORGET_AFTER:
            self._fault = None
        return self._fault


storage_health = StorageHealth()


def probe_storage() -> str:
    """What keeps the database from taking writes now (read_only, full, io_error, corrupt,
    unreachable), or "ok". Writes nothing: an UPDATE that matches no row, rolled back, is
    refused by a read-only database before it looks for rows; a lock held by a writer is "ok"."""
    engine = get_engine()
    if engine.dialect.name == "sqlite":
        state = _probe_sqlite(engine.url.database)
    else:
        try:
            with engine.connect() as connection:
                connection.exec_driver_sql(
                    "UPDATE alembic_version SET version_num = version_num WHERE false"
                )
                connection.rollback()
            state = None
        except DBAPIError as exc:
            fault = storage_fault(exc)
            state = "unreachable" if fault is None else fault.state
    recent = storage_health.recent()
    return state or (recent.state if recent else "ok")


def _probe_sqlite(database: str | None) -> str | None:
    if not database or database == ":memory:":
        return None
    path = Path(database).resolve()
    try:
        # A connection of its own, opened now: pooled ones keep the access they were opened
        # with, and a short busy timeout keeps a long import from stalling the health check.
        connection = sqlite3.connect(
            f"{path.as_uri()}?mode=rw", uri=True, timeout=0.05, isolation_level=None
        )
        try:
            connection.execute("BEGIN")
            connection.execute("UPDATE alembic_version SET version_num = version_num WHERE 0")
            connection.execute("ROLLBACK")
        finally:
            connection.close()
    except sqlite3.Error as exc:
        if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF in _SQLITE_BUSY:
            return None
        fault = storage_fault(exc)
        return "unreachable" if fault is None else fault.state
    return "full" if shutil.disk_usage(path.parent).free < MIN_FREE_BYTES else None
