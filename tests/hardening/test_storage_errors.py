"""Storage that refuses writes says so: 503 storage_unavailable without a retry promise, logged
with the database's own code, and reported by /api/v1/healthz; contention keeps its 503 with
Retry-After.

Before: a read-only file or a full disk answered `503 service_unavailable` with Retry-After
("busy, retry"), the log said `OperationalError (sqlstate None)`, a read-only PostgreSQL
transaction was a 500, and the health check said ok.
"""

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app import db
from app.db import make_engine
from tests.conftest import ADMIN_TOKEN
from tests.hardening.conftest import Server, throwaway_database

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
LETTER = {"slug": "storage", "title": "Storage", "lang": "en", "status": "open"}
SIGN = "/api/v1/letters/storage/signatures"


@pytest.fixture(autouse=True)
def _forget_faults() -> Iterator[None]:
    # The health check remembers the last storage fault of the process; later tests must not.
    yield
    db.storage_health.wrote()


@contextmanager
def app_on(engine: Engine) -> Iterator[TestClient]:
    """The app served from `engine` (a database of the test's own)."""
    from app.main import app

    db.set_engine(engine)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        db.set_engine(None)
        engine.dispose()


def assert_storage_unavailable(response: httpx.Response, detail: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {"error": "storage_unavailable", "detail": detail, "field": None}
    assert "retry-after" not in response.headers


def assert_busy(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "service_unavailable"
    assert response.headers["retry-after"] == "2"


def storage_log(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "undersigned.errors"]


READ_ONLY = "the database is read-only; an operator must make it writable again"
FULL = "the database's storage is full; an operator must free space"


@pytest.mark.slow
def test_read_only_sqlite_file(tmp_path: Path) -> None:
    """chmod 444 on the database file, a real server: writes are refused as storage faults."""
    # Root ignores file modes unless it gives up the capability to (util-linux's setpriv).
    wrapper = [] if os.geteuid() else ["setpriv", "--bounding-set=-dac_override", "--"]
    url, _ = throwaway_database("sqlite", tmp_path)
    server = Server(database_url=url, wrapper=wrapper)
    try:
        server.start(log_level="warning")
        assert httpx.post(f"{server.url}/api/v1/letters", json=LETTER, headers=ADMIN).is_success
        server.kill()
        (tmp_path / "server.db").chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)
        server.start(log_level="warning")
        try:
            signed = httpx.post(f"{server.url}{SIGN}", json={"anonymous": True}, headers=ADMIN)
            count = httpx.get(f"{server.url}/api/v1/letters/storage/count")
            health = httpx.get(f"{server.url}/api/v1/healthz")
        finally:
            server.kill()
        assert_storage_unavailable(signed, READ_ONLY)
        assert count.status_code == 200 and count.json()["total"] == 0  # reads still work
        assert health.status_code == 503
        assert health.json() == {"status": "degraded", "database": "read_only"}
        log = server.log()
        assert "storage unavailable (read_only) on POST /api/v1/letters/storage/signatures" in log
        assert "SQLITE_READONLY (8)" in log
    finally:
        server.log_path.unlink(missing_ok=True)


def test_full_sqlite_database(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No page left (SQLite's max_page_count, as a full disk would): the write is refused."""
    url, _ = throwaway_database("sqlite", tmp_path)
    with sqlite3.connect(tmp_path / "server.db") as connection:
        connection.execute("VACUUM")
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _no_room(dbapi_connection: Any, _record: Any) -> None:
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    caplog.set_level(logging.WARNING, logger="undersigned.errors")
    with app_on(engine) as client:
        assert client.get("/api/v1/healthz").json() == {"status": "ok", "database": "ok"}
        big = LETTER | {"body": "x" * 50_000}  # needs pages the database may not take
        assert_storage_unavailable(client.post("/api/v1/letters", json=big, headers=ADMIN), FULL)
        assert client.get("/api/v1/letters/storage").status_code == 404  # nothing half-written
        health = client.get("/api/v1/healthz")
    assert health.status_code == 503
    assert health.json() == {"status": "degraded", "database": "full"}
    assert any(
        "storage unavailable (full) on POST /api/v1/letters" in line and "SQLITE_FULL (13)" in line
        for line in storage_log(caplog)
    )


def test_read_only_postgresql(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """default_transaction_read_only (as on a standby or a database an operator froze)."""
    url, drop = throwaway_database("postgresql", tmp_path)
    try:
        with app_on(make_engine(url)) as client:
            assert client.post("/api/v1/letters", json=LETTER, headers=ADMIN).status_code == 201
        plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
        name = plain.rsplit("/", 1)[1]
        with psycopg.connect(plain, autocommit=True) as connection:
            connection.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        caplog.set_level(logging.WARNING, logger="undersigned.errors")
        with app_on(make_engine(url)) as client:
            signed = client.post(SIGN, json={"anonymous": True}, headers=ADMIN)
            count = client.get("/api/v1/letters/storage/count")
            health = client.get("/api/v1/healthz")
    finally:
        drop()
    assert_storage_unavailable(signed, READ_ONLY)
    assert count.status_code == 200
    assert health.status_code == 503
    assert health.json() == {"status": "degraded", "database": "read_only"}
    assert any(
        "storage unavailable (read_only)" in line and "SQLSTATE 25006" in line
        for line in storage_log(caplog)
    )


def test_postgresql_disk_full_and_io_errors_are_storage_faults() -> None:
    """The SQLSTATEs a full or failing PostgreSQL server sends (not simulated: its disk)."""
    from app.db import StorageFault, storage_fault

    assert storage_fault(psycopg.errors.DiskFull()) == StorageFault("full", "SQLSTATE 53100")
    assert storage_fault(psycopg.errors.IoError()) == StorageFault("io_error", "SQLSTATE 58030")
    for transient in (
        psycopg.errors.LockNotAvailable(),
        psycopg.errors.SerializationFailure(),
        psycopg.errors.TooManyConnections(),
    ):
        assert storage_fault(transient) is None


def test_lock_contention_keeps_its_retry_answer(
    database_url: str, engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    """The same write, blocked by another writer's lock: busy, retry; the health check is ok."""
    with app_on(make_engine(database_url)) as client:
        assert client.post("/api/v1/letters", json=LETTER, headers=ADMIN).status_code == 201
    impatient = make_engine(database_url)

    @event.listens_for(impatient, "connect")
    def _short_waits(dbapi_connection: Any, _record: Any) -> None:
        if database_url.startswith("sqlite"):
            dbapi_connection.execute("PRAGMA busy_timeout = 100")
        else:
            dbapi_connection.execute("SET lock_timeout = '100ms'")
            dbapi_connection.commit()

    caplog.set_level(logging.WARNING, logger="undersigned.errors")
    with holding_write_lock(database_url), app_on(impatient) as client:
        signed = client.post(SIGN, json={"anonymous": True}, headers=ADMIN)
        health = client.get("/api/v1/healthz")
    assert_busy(signed)
    assert health.status_code == 200 and health.json()["database"] == "ok"
    code = "SQLITE_BUSY (5)" if database_url.startswith("sqlite") else "SQLSTATE 55P03"
    assert any(
        "database unavailable on POST" in line and code in line for line in storage_log(caplog)
    )


@contextmanager
def holding_write_lock(database_url: str) -> Iterator[None]:
    """Another writer holds what a signature needs: SQLite's write lock, PostgreSQL's row."""
    if database_url.startswith("sqlite"):
        connection = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
        connection.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            connection.execute("ROLLBACK")
            connection.close()
        return
    plain = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as connection:
        connection.execute("SELECT id FROM letter WHERE slug = 'storage' FOR UPDATE")
        yield
        connection.rollback()
