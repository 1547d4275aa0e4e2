"""Every database test runs twice: on SQLite and on PostgreSQL, schema built by Alembic.

PostgreSQL is required, never skipped: the run uses `UNDERSIGNED_TEST_PG_URL`, else a trusting
server on 127.0.0.1:5432, else a throwaway server of its own (tests/postgres.py).
"""

import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

os.environ["UNDERSIGNED_ADMIN_TOKEN"] = "test-admin-token-0123456789"
os.environ.setdefault("UNDERSIGNED_IDENTITY_CHECKS_IN_BACKGROUND", "false")
os.environ.setdefault("UNDERSIGNED_WEBHOOKS_IN_BACKGROUND", "false")
os.environ.setdefault("UNDERSIGNED_DATABASE_URL", "sqlite:///./undersigned-test-unused.db")
# Every request of the suite comes from one address ("testclient"), as fast as the machine
# runs the tests: on a fast one, the write-heavy tests of one xdist worker drained the
# default bucket (200, then 20/s) and got 429s. The limiter's own tests set theirs
# (`build_app(rate_limit_...)`), which these defaults never override.
os.environ.setdefault("UNDERSIGNED_RATE_LIMIT_WRITE_BURST", "1000000")
os.environ.setdefault("UNDERSIGNED_RATE_LIMIT_READ_BURST", "1000000")

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from app import db, listeners
from app.auth import service as auth_service
from app.auth.models import Role
from app.config import get_settings
from app.db import make_engine, metadata, open_session
from app.signatures import counting
from tests import postgres
from tests.factories import create_letter

ROOT = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = os.environ["UNDERSIGNED_ADMIN_TOKEN"]
get_settings.cache_clear()
listeners.install()


def pytest_configure(config: pytest.Config) -> None:
    # Once, in the main process: xdist workers inherit the URL through the environment.
    if hasattr(config, "workerinput"):
        return
    try:
        url, server = postgres.choose()
    except postgres.NoPostgres as exc:
        raise pytest.UsageError(str(exc)) from None
    os.environ[postgres.ENV] = url
    if server is not None:
        config.add_cleanup(server.stop)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A `postgresql_only` test is not collected for SQLite rather than skipped there: a run's
    skips then always mean something was not checked."""
    dropped = [
        item
        for item in items
        if item.get_closest_marker("postgresql_only")
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("database_url") == "sqlite"  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]


def pg_admin_url() -> str:
    return os.environ.get(postgres.ENV, postgres.DEFAULT_URL)


def alembic_config(url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    return config


def create_pg_database() -> tuple[str, Callable[[], None]]:
    name = f"undersigned_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(pg_admin_url(), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    except psycopg.OperationalError as exc:
        pytest.fail(
            f"PostgreSQL is required for the test suite and is unreachable: {exc}", pytrace=False
        )

    def drop() -> None:
        with psycopg.connect(pg_admin_url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    base = pg_admin_url().rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
    return f"{base}/{name}", drop


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh, migrated database of each kind for this test session."""
    if request.param == "sqlite":
        directory = tempfile.mkdtemp(prefix="undersigned-test-")
        url = f"sqlite:///{directory}/test.db"
        command.upgrade(alembic_config(url), "head")
        yield url
        return
    url, drop = create_pg_database()
    command.upgrade(alembic_config(url), "head")
    try:
        yield url
    finally:
        db.set_engine(None)
        drop()


@pytest.fixture(scope="session")
def _engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


# Single-row state the migrations create: kept by a wipe, reset to version 0.
KEPT = ("registry_state", "duplicate_queue_state")


def wipe(engine: Engine) -> None:
    """Empty every table (keeping the schema and the registry and queue counter rows)."""
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            data = [t for t in tables if t not in KEPT]
            conn.execute(text(f"TRUNCATE {', '.join(data)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                if table not in KEPT:
                    conn.execute(text(f"DELETE FROM {table}"))
        for table in KEPT:
            conn.execute(text(f"UPDATE {table} SET version = 0"))
    # Per-process caches keyed on the registry version or letter revision, which a wipe resets.
    from app.embed.cache import count_cache
    from app.resolution import service as resolution_service

    resolution_service.reset_cache()
    count_cache.clear()


@pytest.fixture
def engine(_engine: Engine) -> Iterator[Engine]:
    """The test database, empty at the start of each test."""
    db.set_engine(_engine)
    wipe(_engine)
    yield _engine
    # A letter this test signed has its revision moved a moment after the commit (decision
    # 0121): now, on this test's database, never on the next test's.
    counting.settle_bumps()
    db.set_engine(None)


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with open_session(write=True) as s:
        yield s


@pytest.fixture
def client(engine: Engine) -> Iterator[TestClient]:
    from app.main import app

    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def build_app(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., FastAPI]]:
    """A fresh app whose Settings come from the given UNDERSIGNED_* values."""

    def _build(**settings: object) -> FastAPI:
        for key, value in settings.items():
            monkeypatch.setenv(f"UNDERSIGNED_{key.upper()}", str(value))
        get_settings.cache_clear()
        from app.main import create_app

        return create_app()

    yield _build
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def admin_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.fixture
def make_token(engine: Engine) -> Callable[..., str]:
    """Mint a real token (hashed in the database) and return it in clear."""

    def _make(role: str = "coordinator", letters: list[str] | None = None) -> str:
        from app.letters import service as letter_service

        with open_session(write=True) as s:
            ids = []
            for slug in letters or []:
                letter = letter_service.get_by_slug(s, slug=slug)
                assert letter is not None and letter.id is not None
                ids.append(letter.id)
            _, clear = auth_service.create(s, role=Role(role), letter_ids=ids)
            s.commit()
        return clear

    return _make


@pytest.fixture
def coordinator_headers(make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('coordinator')}"}


@pytest.fixture
def make_letter(client: TestClient) -> Callable[..., dict[str, Any]]:
    """Create a letter through the API (open unless told otherwise)."""

    def _make(headers: dict[str, str], slug: str = "test-letter", **fields: Any) -> dict[str, Any]:
        return create_letter(client, headers, slug, **fields)

    return _make


@pytest.fixture
def sqlite_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A migrated SQLite file, configured as the database (backup and restore need a file)."""
    path = tmp_path / "live.db"
    url = f"sqlite:///{path}"
    command.upgrade(alembic_config(url), "head")
    monkeypatch.setenv("UNDERSIGNED_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    db.set_engine(engine)
    yield path
    db.set_engine(None)
    engine.dispose()
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def seeded(engine: Engine) -> str:
    """The seed letter of document 004, loaded as `make run` loads it; returns its slug."""
    from app.imports.seed import load_seed

    with open_session(write=True) as s:
        assert load_seed(s)
        s.commit()
    return "global-call-un-mechanism-china"


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(engine: Engine) -> Iterator[str]:
    """The app served by a real uvicorn on a free loopback port, on the test database."""
    import threading
    import time

    import uvicorn

    from app.main import app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the live test server did not start", pytrace=False)
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Playwright (never a downloaded browser).

    Per test, not per session: Playwright's sync API keeps an event loop running in this
    thread while it is open, which would break every later test that calls asyncio.run().
    """
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium", pytrace=False)
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def artifacts_dir() -> Path:
    """Where browser tests save screenshots (kept after the run)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
