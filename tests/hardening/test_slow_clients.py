"""Slow request bodies hold no database slot: counts stay fast while 30 clients trickle.

Each slow client announces `Content-Length: 100000` on a sign request and sends one byte every
2 s. Before the fix, the admission gate (pool + overflow = 30 slots) was taken before the body
was read, so 30 such clients made every other request wait: `GET …/count` timed out.
"""

import asyncio
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from starlette.types import Message, Receive, Scope, Send

from app.security.limits import AdmissionMiddleware
from tests.hardening.conftest import UNLIMITED, Server, throwaway_database

SEED = "global-call-un-mechanism-china"
COUNT = f"/api/v1/letters/{SEED}/count"


async def slow_client(port: int, *, byte_every: float, max_bytes: int) -> int | None:
    """One slow sign request; the status the server answered, or None if it never did."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /api/v1/letters/{SEED}/signatures HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        "Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    writer.write(head.encode("ascii"))
    try:
        for _ in range(max_bytes):
            writer.write(b" ")
            await writer.drain()
            try:
                answer = await asyncio.wait_for(reader.read(200), byte_every)
            except TimeoutError:
                continue
            return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None
        return None
    except ConnectionError:
        return None
    finally:
        writer.close()


class Trickle:
    """`clients` slow clients running in a thread of their own (Playwright's sync API may hold
    the main thread's event loop)."""

    def __init__(self, port: int, clients: int, *, max_bytes: int) -> None:
        self.timeout = max_bytes * 2.0 + 30

        async def run() -> list[int | None]:
            return list(
                await asyncio.gather(
                    *(
                        slow_client(port, byte_every=2.0, max_bytes=max_bytes)
                        for _ in range(clients)
                    )
                )
            )

        self.executor = ThreadPoolExecutor(max_workers=1)
        self.future = self.executor.submit(asyncio.run, run())

    def statuses(self) -> list[int | None]:
        try:
            return self.future.result(timeout=self.timeout)
        finally:
            self.executor.shutdown()


def count_latencies(base: str, *, seconds: float) -> list[float]:
    """Sequential count reads for `seconds`; a read that fails or times out counts as 8 s."""
    latencies: list[float] = []
    end = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=8) as client:
        while time.monotonic() < end:
            started = time.perf_counter()
            try:
                ok = client.get(COUNT, params={"i": len(latencies)}).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started if ok else 8.0)
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[Server]:
    url, drop = throwaway_database("sqlite", tmp_path)
    server = Server(
        database_url=url, serve=True, env=UNLIMITED | {"UNDERSIGNED_LOG_LEVEL": "warning"}
    )
    yield server
    server.kill()
    server.log_path.unlink(missing_ok=True)
    drop()


@pytest.mark.slow
def test_thirty_slow_bodies_leave_counts_fast(serve: Server) -> None:
    # Every slow client is let through the per-address cap, so all 30 wait for their bodies;
    # the body timeout bounds how long they can.
    serve.env |= {"UNDERSIGNED_MAX_SLOW_UPLOADS_PER_IP": "64", "UNDERSIGNED_BODY_READ_TIMEOUT": "6"}
    serve.start(log_level="warning")
    assert httpx.get(f"{serve.url}{COUNT}", timeout=10).json()["total"] == 320
    clients = Trickle(serve.port, 30, max_bytes=8)
    time.sleep(1.5)  # all 30 connected and past the one-second grace of a quick body
    latencies = count_latencies(serve.url, seconds=3)
    statuses = clients.statuses()
    assert len(latencies) >= 20
    assert p99(latencies) < 0.1, sorted(latencies)[-5:]
    # Each slow body was held until the body timeout and answered 408, never admitted.
    assert statuses == [408] * 30, statuses


@pytest.mark.slow
def test_one_address_holds_a_bounded_number_of_slow_bodies(serve: Server) -> None:
    serve.env |= {"UNDERSIGNED_MAX_SLOW_UPLOADS_PER_IP": "4", "UNDERSIGNED_BODY_READ_TIMEOUT": "5"}
    serve.start(log_level="warning")
    statuses = Trickle(serve.port, 10, max_bytes=6).statuses()
    # Four wait for their body until the timeout; the others are refused after the grace.
    assert sorted(statuses, key=str) == [408] * 4 + [429] * 6, statuses
    quick = httpx.post(
        f"{serve.url}/api/v1/letters/{SEED}/signatures", json={"anonymous": True}, timeout=10
    )
    assert quick.status_code == 401  # a whole body is handled as before (no token here)


def test_a_slow_reader_gives_its_admission_slot_back() -> None:
    """A client that reads its response slowly must not hold the slot of a database connection."""
    stuck = asyncio.Event()
    order: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    gate = AdmissionMiddleware(app, max_in_flight=1, max_writing=1)

    async def request(path: str, *, slow: bool) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            if slow and message["type"] == "http.response.body":
                await stuck.wait()  # the socket's buffer is full: the client is not reading
            order.append(f"{path} {message['type']}")

        await gate({"type": "http", "method": "GET", "path": path}, receive, send)

    async def run() -> None:
        slow = asyncio.create_task(request("/slow", slow=True))
        await asyncio.sleep(0.05)
        await asyncio.wait_for(request("/quick", slow=False), 2)
        stuck.set()
        await slow

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, run()).result(timeout=10)
    assert order.index("/quick http.response.body") < order.index("/slow http.response.body")


def test_writes_wait_for_a_write_slot_and_reads_pass_them() -> None:
    """Decision 0116: at most `max_writing` writes inside at once, the next write waits for
    one to finish; a read is let in while writers hold every write slot."""
    release = asyncio.Event()
    inside: list[str] = []
    done: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        inside.append(scope["path"])
        if scope["path"].startswith("/stuck"):
            await release.wait()  # a writer waiting on a database lock
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        done.append(scope["path"])

    gate = AdmissionMiddleware(app, max_in_flight=10, max_writing=2)

    async def request(method: str, path: str) -> None:
        async def receive() -> Message:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: Message) -> None:
            return None

        await gate({"type": "http", "method": method, "path": path}, receive, send)

    async def run() -> None:
        stuck = [asyncio.create_task(request("POST", f"/stuck-{i}")) for i in range(2)]
        waiting = asyncio.create_task(request("DELETE", "/third-write"))
        await asyncio.sleep(0.05)
        assert sorted(inside) == ["/stuck-0", "/stuck-1"]  # the third write waits outside
        await asyncio.wait_for(request("GET", "/read"), 2)  # a read is not held up
        assert "/third-write" not in inside
        release.set()
        await asyncio.wait_for(asyncio.gather(*stuck, waiting), 2)
        assert done[-1] == "/third-write"

    with ThreadPoolExecutor(max_workers=1) as executor:
        executor.submit(asyncio.run, run()).result(timeout=10)


def test_serve_runs_uvicorn_with_the_limits_of_the_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`undersigned serve` (the Docker image's command) gives uvicorn its limits."""
    import uvicorn
    from typer.testing import CliRunner

    from app import cli
    from app.config import get_settings

    captured: dict[str, object] = {}
    monkeypatch.setattr(uvicorn, "run", lambda target, **options: captured.update(options))
    monkeypatch.setattr(cli, "run_migrations", lambda: None)
    monkeypatch.setattr(cli, "run_seed", lambda: False)
    monkeypatch.setenv("UNDERSIGNED_LIMIT_CONCURRENCY", "77")
    monkeypatch.setenv("UNDERSIGNED_TIMEOUT_KEEP_ALIVE", "3")
    monkeypatch.setenv("UNDERSIGNED_FORWARDED_ALLOW_IPS", "10.0.0.1")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli.app, ["serve", "--port", "8799"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert captured["limit_concurrency"] == 77
    assert captured["timeout_keep_alive"] == 3
    assert captured["forwarded_allow_ips"] == "10.0.0.1" and captured["proxy_headers"] is True
    assert captured["port"] == 8799
