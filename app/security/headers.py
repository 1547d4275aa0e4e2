"""Security headers; a header a route already set (the embed widget's CSP) is never replaced."""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No third-party assets anywhere: pages load their own scripts and styles only. Inline styles
# are allowed (low risk, used by small server-rendered pages); inline scripts are not.
HTML_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# An SVG opened directly is a document that could run script; badges need none.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *"
# Swagger UI and ReDoc, served by this server (app/pages): their bundles inject styles, ReDoc
# runs a worker from a blob. Still nothing from a third party.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, docs_paths: frozenset[str] = frozenset()) -> None:
        self.app = app
        self.docs_paths = docs_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                self._decorate(MutableHeaders(scope=message), path=path)
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _decorate(self, headers: MutableHeaders, *, path: str) -> None:
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if "content-security-policy" in headers:
            return
        if content_type == "text/html":
            headers["Content-Security-Policy"] = DOCS_CSP if path in self.docs_paths else HTML_CSP
            # For browsers without CSP frame-ancestors; only with our own CSP, so that a
            # route that allows framing (the widget) is never contradicted.
            headers.setdefault("X-Frame-Options", "DENY")
        elif content_type == "image/svg+xml":
            headers["Content-Security-Policy"] = SVG_CSP
