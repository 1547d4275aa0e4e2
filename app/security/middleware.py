"""The one middleware in front of every route: rate limits, answers from memory, an error
shield and the security headers, in a single pure-ASGI layer (decision 0108).

Order, for each HTTP request:
1. the per-IP rate limit (429, with the security headers like every answer);
2. `from_memory` (app/embed/hits.py): a public page, widget, count or badge held in memory is
   answered at once, headers prebuilt with the security headers on: nothing else runs, and
   it needs no admission slot since it holds no database connection;
3. anything else goes on inward (body reading and admission: app/security/limits.py, then
   the app), its response start given the security headers it lacks (`headers.secured`);
4. throughout, an unhandled error becomes a JSON 500 and a log line without data in it.
   Re-raising would let the server log the exception's message, which may quote a name.
"""

import logging
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.security.headers import secured
from app.security.limits import RateLimits, send_error
from app.security.logs import describe_exception

logger = logging.getLogger("undersigned.errors")

# A status, complete headers and a body; None: not held, go on to the route.
FromMemory = Callable[[Scope], tuple[int, list[tuple[bytes, bytes]], bytes] | None]


class SecurityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: RateLimits | None,
        docs_paths: frozenset[str] = frozenset(),
        from_memory: FromMemory | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.docs_paths = docs_paths
        self.from_memory = from_memory

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def secured_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", [])
                if not isinstance(headers, list):
                    headers = list(headers)
                message["headers"] = secured(headers, docs=scope["path"] in self.docs_paths)
            await send(message)

        try:
            if self.limits is not None and await self.limits.refused(scope, secured_send):
                return
            if self.from_memory is not None:
                answer = self.from_memory(scope)
                if answer is not None:
                    status, headers, body = answer
                    started = True
                    await send(
                        {"type": "http.response.start", "status": status, "headers": headers}
                    )
                    await send({"type": "http.response.body", "body": body})
                    return
            await self.app(scope, receive, secured_send)
        except Exception as exc:
            logger.error(
                "unhandled error on %s %s\n%s",
                scope.get("method"),
                scope.get("path"),
                describe_exception(exc),
            )
            if not started:
                await send_error(
                    secured_send,
                    status=500,
                    error="internal_error",
                    detail="an internal error occurred; it has been logged",
                )
