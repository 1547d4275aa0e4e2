"""Helpers for the hardening tests: apps built with chosen settings, free ports, servers."""

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
# Ports this suite may bind (the project's allocation for hardening tests); a session sharing
# the machine may move it with UNDERSIGNED_TEST_PORTS=FIRST-LAST.
_first, _last = os.environ.get("UNDERSIGNED_TEST_PORTS", "8700-8719").split("-")
PORTS = range(int(_first), int(_last) + 1)


def own_ports() -> range:
    """This xdist worker's share of the range, so that parallel workers never race for a port
    (a server that lost the race could otherwise see the winner answer its health check)."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return PORTS
    half = len(PORTS) // 2
    start = PORTS.start + (int(worker[2:]) % 2) * half
    return range(start, start + half)


def free_port() -> int:
    """A port of this worker's share that nobody listens on now, tried from a random place so
    that test runs of other checkouts on the same machine rarely pick the same one."""
    ports = own_ports()
    start = random.randrange(len(ports))
    for port in [*ports[start:], *ports[:start]]:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {PORTS.start}-{PORTS.stop - 1}")


class Server:
    """`uvicorn app.main:app` in a child process, its stdout+stderr captured to a file."""

    def __init__(
        self,
        *,
        database_url: str,
        workers: int = 1,
        env: dict[str, str] | None = None,
        serve: bool = False,
        wrapper: list[str] | None = None,
    ):
        self.database_url = database_url
        self.workers = workers
        self.env = env or {}
        # `undersigned serve` (migrate, seed, production uvicorn settings) instead of bare uvicorn.
        self.serve = serve
        # A command that runs the server (e.g. with fewer privileges).
        self.wrapper = wrapper or []
        handle, name = tempfile.mkstemp(prefix="undersigned-server-", suffix=".log")
        os.close(handle)
        self.log_path = Path(name)
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, log_level: str = "debug") -> None:
        env = (
            os.environ
            | {
                "UNDERSIGNED_DATABASE_URL": self.database_url,
                "UNDERSIGNED_LOG_LEVEL": log_level,
            }
            | self.env
        )
        for _attempt in range(5):
            self.port = free_port()
            log = self.log_path.open("ab")
            command = (
                [str(Path(sys.executable).parent / "undersigned"), "serve"]
                if self.serve
                else [sys.executable, "-m", "uvicorn", "app.main:app", "--log-level", log_level]
            )
            self.process = subprocess.Popen(
                [
                    *self.wrapper, *command, "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(self.workers),
                ],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
            log.close()
            if self._wait_ready():
                return
            self.kill()
        raise RuntimeError(f"the server did not start; log:\n{self.log()}")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + 60
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                # 503 is a server that runs on a database that cannot take writes.
                if httpx.get(f"{self.url}/api/v1/healthz", timeout=2).status_code in (200, 503):
                    return True
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        return False

    def kill(self, sig: int = 9) -> None:
        """Signal the server's own process group (its workers too), then reap it."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, sig)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=15)
        # Workers may outlive the supervisor for a moment after SIGKILL; wait for the group.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.process.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        self.process = None

    def log(self) -> str:
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")
            if self.log_path.exists()
            else ""
        )


@pytest.fixture
def server_factory() -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def _make(**kwargs: object) -> Server:
        server = Server(**kwargs)  # type: ignore[arg-type]
        servers.append(server)
        return server

    yield _make
    for server in servers:
        server.kill(signal.SIGTERM)
        server.log_path.unlink(missing_ok=True)


# Budgets far above what a burst test sends from its one loopback address.
UNLIMITED = {
    "UNDERSIGNED_RATE_LIMIT_READ_BURST": "1000000",
    "UNDERSIGNED_RATE_LIMIT_WRITE_BURST": "1000000",
}


def throwaway_database(kind: str, directory: Path) -> tuple[str, Callable[[], None]]:
    """A migrated database of that kind that no other test uses, and how to drop it."""
    from alembic import command

    from tests.conftest import alembic_config, create_pg_database

    if kind == "sqlite":
        url = f"sqlite:///{directory / 'server.db'}"
        command.upgrade(alembic_config(url), "head")
        return url, lambda: None
    url, drop = create_pg_database()
    command.upgrade(alembic_config(url), "head")
    return url, drop
