"""Request body limit and per-IP token-bucket rate limits (pure ASGI, so they cover every route)."""

import asyncio
import json
import math
import time
import weakref
from collections.abc import Callable

import anyio.to_thread
from starlette.exceptions import HTTPException
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


class BodyTooLarge(HTTPException):
    """Raised from receive(): FastAPI re-raises HTTPExceptions met while reading a body."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than the limit of {limit} bytes")


class BodyLimitMiddleware:
    """413 for a body over the limit: by Content-Length up front, else by counting the stream."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.limit = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await send_error(
                    send,
                    status=400,
                    error="bad_request",
                    detail="the Content-Length header must be a number",
                )
                return
            if int(declared) > self.limit:
                await _too_large(send, self.limit)
                return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                # Chunked bodies and lying Content-Length headers are caught here.
                received += len(message.get("body", b""))
                if received > self.limit:
                    raise BodyTooLarge(self.limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracking_send)
        except BodyTooLarge:
            # Only reached when a route read the body outside FastAPI's own parsing.
            if started:
                raise
            await _too_large(send, self.limit)


async def _too_large(send: Send, limit: int) -> None:
    await send_error(
        send,
        status=413,
        error="payload_too_large",
        detail=f"the request body is larger than the limit of {limit} bytes",
        headers=[(b"connection", b"close")],
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


class RateLimitMiddleware:
    """Per client IP, separate budgets for reads (GET/HEAD/OPTIONS) and writes (the rest).

    State lives in the process: with N workers a client can get N times the budget (see
    docs/decisions/0050-hardening-limits.md). Behind a reverse proxy the client IP is the one
    uvicorn derives from X-Forwarded-For for trusted proxies (`--forwarded-allow-ips`).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        read_rate: float,
        read_burst: int,
        write_rate: float,
        write_burst: int,
    ) -> None:
        self.app = app
        self.read = TokenBucket(rate=read_rate, burst=read_burst)
        self.write = TokenBucket(rate=write_rate, burst=write_burst)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        key = client[0] if client else "unknown"
        bucket = self.read if scope["method"] in SAFE_METHODS else self.write
        wait = bucket.take(key)
        if wait > 0:
            kind = "read" if bucket is self.read else "write"
            await send_error(
                send,
                status=429,
                error="rate_limited",
                detail=f"too many {kind} requests from this address; retry after the delay "
                "in the Retry-After header",
                headers=[(b"retry-after", str(max(1, math.ceil(wait))).encode("ascii"))],
            )
            return
        await self.app(scope, receive, send)


class AdmissionMiddleware:
    """At most `max_in_flight` requests inside the app at once; the rest wait here, in order.

    Each request holds one database connection from its first dependency to its response. If
    more requests than pooled connections were let in, they would wait on the connection pool,
    which is unfair (some time out with 503 while newer requests pass) and can deadlock with the
    thread pool (a request holding a connection waits for a thread while threads wait for
    connections). Admitting no more requests than connections, with at least as many threads,
    makes a burst queue fairly in the event loop, where waiting costs nothing.
    """

    def __init__(self, app: ASGIApp, *, max_in_flight: int) -> None:
        self.app = app
        self.max_in_flight = max_in_flight
        self._gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
            weakref.WeakKeyDictionary()
        )

    def _gate(self) -> asyncio.Semaphore:
        loop = asyncio.get_running_loop()
        gate = self._gates.get(loop)
        if gate is None:
            gate = self._gates[loop] = asyncio.Semaphore(self.max_in_flight)
            limiter = anyio.to_thread.current_default_thread_limiter()
            limiter.total_tokens = max(int(limiter.total_tokens), self.max_in_flight)
        return gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        async with self._gate():
            await self.app(scope, receive, send)
