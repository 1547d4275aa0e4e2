"""Request bodies, per-IP rate limits, login throttling and admission (pure ASGI, every route)."""

import asyncio
import ipaddress
import json
import math
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import anyio.to_thread
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.db import SAFE_METHODS
from app.errors import error_body


async def send_error(
    send: Send,
    *,
    status: int,
    error: str,
    detail: str,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    """A complete JSON error response in the API's error format, sent from middleware."""
    body = json.dumps(error_body(error, detail, None)).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode("ascii")),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def client_key(scope: Scope) -> str:
    """The client address that limits count against: an IPv6 client's whole /64 (one subscriber
    gets a /64, so single addresses would give an attacker billions of budgets)."""
    client = scope.get("client")
    return _address_key(client[0] if client else "unknown")


@lru_cache(maxsize=4096)
def _address_key(host: str) -> str:
    # Memoised: parsing the address was a visible share of a cached answer's cost, and the
    # same clients come back (4096 keys: a few hundred kilobytes at most).
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return str(host)
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


_CLOSE = [(b"connection", b"close")]


class RequestBodyMiddleware:
    """Reads the whole request body before anything else sees the request, then replays it.

    A body arrives at the client's pace; reading it inside the app would hold an admission slot
    (a database connection) for as long as the client cares to trickle. Here a slow body costs
    a task and a socket, bounded in time (`read_timeout`, then 408), in size (`max_body_bytes`,
    then 413) and in number: one client address may have at most `max_slow_per_client` bodies
    that take longer than `SLOW_AFTER` seconds to arrive (then 429). A burst of quick requests
    from one address (a script, an office behind one NAT address) is never counted.
    """

    SLOW_AFTER = 1.0

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        read_timeout: float,
        max_slow_per_client: int,
    ) -> None:
        self.app = app
        self.limit = max_body_bytes
        self.read_timeout = read_timeout
        self.max_slow = max_slow_per_client
        self.slow: dict[str, int] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and not declared.isdigit():
            await send_error(
                send,
                status=400,
                error="bad_request",
                detail="the Content-Length header must be a number",
                headers=_CLOSE,
            )
            return
        if declared is not None and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        chunked = _header(scope, b"transfer-encoding") is not None
        if not chunked and (declared is None or int(declared) == 0):
            await self.app(scope, receive, send)
            return
        body = await self._read(client_key(scope), receive, send)
        if body is None:
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                # Later calls wait for the disconnect, as the server's receive does.
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, key: str, receive: Receive, send: Send) -> bytes | None:
        """The whole body, or None once an error was answered or the client went away."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.read_timeout
        phase_end = min(loop.time() + self.SLOW_AFTER, deadline)
        slow = False
        chunks: list[bytes] = []
        size = 0
        try:
            while True:
                try:
                    async with asyncio.timeout_at(phase_end):
                        message = await receive()
                except TimeoutError:
                    if phase_end >= deadline:
                        await _timed_out(send, self.read_timeout)
                        return None
                    if self.slow.get(key, 0) >= self.max_slow:
                        await _too_many_slow(send, self.max_slow)
                        return None
                    self.slow[key] = self.slow.get(key, 0) + 1
                    slow = True
                    phase_end = deadline
                    continue
                if message["type"] == "http.disconnect":
                    return None
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > self.limit:
                    # Chunked bodies and lying Content-Length headers are caught here.
                    await _too_large(send, self.limit)
                    return None
                chunks.append(chunk)
                if not message.get("more_body", False):
                    return b"".join(chunks)
        finally:
            if slow:
                self.slow[key] -= 1
                if not self.slow[key]:
                    del self.slow[key]


async def _timed_out(send: Send, timeout: float) -> None:
    await send_error(
        send,
        status=408,
        error="request_timeout",
        detail=f"the request body did not arrive within {timeout:g} seconds",
        headers=_CLOSE,
    )


async def _too_many_slow(send: Send, limit: int) -> None:
    await send_error(
        send,
        status=429,
        error="rate_limited",
        detail=f"this address already has {limit} slow request bodies in progress; "
        "send the next one when one of them is complete",
        headers=[(b"retry-after", b"1"), *_CLOSE],
    )


async def _too_large(send: Send, limit: int) -> None:
    await send_error(
        send,
        status=413,
        error="payload_too_large",
        detail=f"the request body is larger than the limit of {limit} bytes",
        headers=_CLOSE,
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return str(value.decode("latin-1").strip())
    return None


class TokenBucket:
    """Per-key token buckets: `rate` tokens per second, at most `burst` saved up."""

    # Above this many keys, buckets that have refilled completely are forgotten.
    MAX_KEYS = 10_000

    def __init__(
        self, *, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("a rate limit needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.buckets: dict[str, tuple[float, float]] = {}
        self._next_prune = 0.0

    def take(self, key: str) -> float:
        """Spend one token: 0.0 when allowed, else the seconds until one is available."""
        now = self.clock()
        tokens, last = self.buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self.buckets[key] = (tokens - 1.0, now)
            self._prune(now)
            return 0.0
        self.buckets[key] = (tokens, now)
        return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        # At most once per refill period, so a flood of live clients does not make every
        # request scan the table.
        if len(self.buckets) <= self.MAX_KEYS or now < self._next_prune:
            return
        refill = self.burst / self.rate
        self._next_prune = now + refill
        self.buckets = {k: v for k, v in self.buckets.items() if now - v[1] < refill}


class RateLimits:
    """Per client IP, separate budgets for reads (GET/HEAD/OPTIONS) and writes (the rest).

    State lives in the process: with N workers a client can get N times the budget (see
    docs/decisions/0050-hardening-limits.md). Behind a reverse proxy the client IP is the one
    uvicorn derives from X-Forwarded-For for trusted proxies (`--forwarded-allow-ips`).
    Applied by the security middleware (app/security/middleware.py) before anything else.
    """

    def __init__(
        self, *, read_rate: float, read_burst: int, write_rate: float, write_burst: int
    ) -> None:
        self.read = TokenBucket(rate=read_rate, burst=read_burst)
        self.write = TokenBucket(rate=write_rate, burst=write_burst)

    async def refused(self, scope: Scope, send: Send) -> bool:
        """Spend the request's token; without one, answer 429 and return True."""
        bucket = self.read if scope["method"] in SAFE_METHODS else self.write
        wait = bucket.take(client_key(scope))
        if wait <= 0:
            return False
        kind = "read" if bucket is self.read else "write"
        await send_error(
            send,
            status=429,
            error="rate_limited",
            detail=f"too many {kind} requests from this address; retry after the delay "
            "in the Retry-After header",
            headers=[(b"retry-after", str(max(1, math.ceil(wait))).encode("ascii"))],
        )
        return True


@dataclass
class _Failures:
    count: int = 0
    last: float = 0.0
    locked_until: float = 0.0
    refused: int = 0


@dataclass(frozen=True)
class Verdict:
    """What a throttle says about one attempt."""

    wait: float  # seconds before an attempt will be checked again; 0 when it may be now
    failures: int  # failures of this client that are still remembered
    refused: int  # attempts refused unchecked since this client's last checked one


class FailureThrottle:
    """Growing lockouts after failed attempts (admin login), per client and over all clients.

    Each client has `free` failures; from then on every failure locks the client out for twice
    as long as the previous one (1 s, 2 s, 4 s ... up to `max_lockout`), and attempts during a
    lockout are refused without being checked, so they teach nothing. The same rule over all
    clients together (`global_free`, capped at `global_max_lockout`) bounds a guesser spread over
    many addresses. Failures are forgotten after `FORGET_AFTER` seconds without one.
    """

    FORGET_AFTER = 3600.0
    MAX_KEYS = 10_000

    def __init__(
        self,
        *,
        free: int,
        max_lockout: float,
        global_free: int,
        global_max_lockout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.max_lockout = max_lockout
        self.global_free = global_free
        self.global_max_lockout = global_max_lockout
        self.clock = clock
        self.clients: OrderedDict[str, _Failures] = OrderedDict()
        self.everyone = _Failures()
        # Login routes run in the thread pool.
        self._lock = threading.Lock()

    def check(self, key: str) -> Verdict:
        """Whether an attempt from `key` may be checked now; a refusal is counted."""
        with self._lock:
            now = self.clock()
            client = self._client(key, now)
            self._forget(self.everyone, now)
            wait = max(client.locked_until, self.everyone.locked_until) - now
            if wait > 0:
                client.refused += 1
            return Verdict(wait=max(0.0, wait), failures=client.count, refused=client.refused)

    def failed(self, key: str) -> Verdict:
        """Record a failed attempt; the verdict's wait is the lockout it started (0 if none)."""
        with self._lock:
            now = self.clock()
            client = self._client(key, now)
            refused = client.refused
            wait = self._fail(client, now, free=self.free, cap=self.max_lockout)
            self._fail(self.everyone, now, free=self.global_free, cap=self.global_max_lockout)
            return Verdict(wait=wait, failures=client.count, refused=refused)

    def succeeded(self, key: str) -> Verdict:
        """A right answer clears the client's failures (not everyone's)."""
        with self._lock:
            client = self.clients.pop(key, _Failures())
            return Verdict(wait=0.0, failures=client.count, refused=client.refused)

    def _client(self, key: str, now: float) -> _Failures:
        client = self.clients.get(key)
        if client is None:
            client = self.clients[key] = _Failures()
            while len(self.clients) > self.MAX_KEYS:
                # The global lockout still covers whoever is forgotten here.
                self.clients.popitem(last=False)
        self._forget(client, now)
        return client

    def _forget(self, failures: _Failures, now: float) -> None:
        if now - failures.last > self.FORGET_AFTER and now >= failures.locked_until:
            failures.count = 0
            failures.refused = 0

    @staticmethod
    def _fail(failures: _Failures, now: float, *, free: int, cap: float) -> float:
        failures.count += 1
        failures.last = now
        failures.refused = 0
        if failures.count < free:
            return 0.0
        lockout = min(cap, 2.0 ** (failures.count - free))
        failures.locked_until = now + lockout
        return lockout


class AdmissionMiddleware:
    """At most `max_in_flight` requests inside the app at once, of which at most `max_writing`
    writes; the rest wait here, in order.

    Each request holds one database connection from its first dependency to its response. If
    more requests than pooled connections were let in, they would wait on the connection pool,
    which is unfair (some time out with 503 while newer requests pass) and can deadlock with the
    thread pool (a request holding a connection waits for a thread while threads wait for
    connections). Admitting no more requests than connections, with at least as many threads,
    makes a burst queue fairly in the event loop, where waiting costs nothing.

    Writes have a smaller gate of their own (decision 0116). Writers meet on hot rows (a
    letter's position, the registry's version) and, on SQLite, on the database's write lock;
    past a few per worker, more of them at once add no throughput, only waiting backends and
    threads that PostgreSQL and the GIL pay to wake (on one hot letter with 2 workers: 5.1 ms
    of PostgreSQL CPU per signature with 30 writers a worker, ~1.7 ms with 3). Reads never wait
    behind writers: a writer stuck on a lock holds a write slot, not a read's.

    The slot is taken once the body has arrived (RequestBodyMiddleware runs first) and given
    back when the response starts: by then the route has returned its connection, and a client
    that reads the response slowly must not hold a slot either.
    """

    def __init__(self, app: ASGIApp, *, max_in_flight: int, max_writing: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self.max_writing = min(max_writing, max_in_flight)
        self._gates: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[asyncio.Semaphore, asyncio.Semaphore]
        ] = weakref.WeakKeyDictionary()

    def _gates_here(self) -> tuple[asyncio.Semaphore, asyncio.Semaphore]:
        loop = asyncio.get_running_loop()
        gates = self._gates.get(loop)
        if gates is None:
            gates = self._gates[loop] = (
                asyncio.Semaphore(self.max_in_flight),
                asyncio.Semaphore(self.max_writing),
            )
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(int(limiter.total_tokens), self.max_in_flight)
        return gates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        every, writes = self._gates_here()
        # A write waits for a write slot first, holding nothing a read needs meanwhile.
        held = [writes] if scope["method"] not in SAFE_METHODS else []
        for gate in held:
            await gate.acquire()
        try:
            await every.acquire()
        except BaseException:
            for gate in held:
                gate.release()
            raise
        held.append(every)

        def release() -> None:
            while held:
                held.pop().release()

        async def releasing_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, releasing_send)
        finally:
            release()
