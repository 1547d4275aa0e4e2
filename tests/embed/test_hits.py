"""Cache hits answered before routing (decision 0108): the same answers as the routes, only for
hits, behind the rate limiter, never for a path another route owns."""

import asyncio
import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.embed import hits
from app.embed import router as embed_router
from app.main import API_PREFIX, create_app
from app.security.headers import HTML_CSP, SVG_CSP, secured
from app.security.middleware import SecurityMiddleware

SLUG = "partner-letter"
ROUTES = {
    f"/api/v1/letters/{SLUG}/count": embed_router.letter_count,
    f"/api/v1/letters/{SLUG}/badge.svg": embed_router.letter_badge,
    f"/embed/{SLUG}": embed_router.widget,
    f"/letters/{SLUG}": embed_router.letter_page,
}


def without_answers_from_memory() -> FastAPI:
    """The app as served, except that every request goes to its route."""
    app = create_app()
    for middleware in app.user_middleware:
        if middleware.cls is SecurityMiddleware:
            middleware.kwargs["from_memory"] = None
    return app


def http_scope(path: str, query: bytes = b"locale=en", method: str = "GET") -> dict[str, Any]:
    return {
        "type": "http",
        "method": method,
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1),
    }


def comparable(response: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers but Age (and the widget's length, which carries it) and the body with
    the widget's data-age value blanked: the rest must be the same bytes."""
    widget = "frame-ancestors *" in response.headers.get("content-security-policy", "")
    headers = sorted(
        (name, value)
        for name, value in response.headers.items()
        if name != "age" and not (widget and name == "content-length")
    )
    return response.status_code, headers, re.sub(rb'data-age="\d+"', b"", response.content)


def test_the_paths_answered_from_memory_belong_to_the_routes_they_stand_for(engine: Any) -> None:
    """The router sends each of these paths to the route whose hits are answered early, so an
    early answer never hides another route."""
    app = without_answers_from_memory()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        return None

    for path, endpoint in ROUTES.items():
        scope = http_scope(path) | {"server": ("testserver", 80), "scheme": "http"}
        asyncio.run(app(scope, receive, send))  # the router notes the route it chose
        assert scope.get("endpoint") is endpoint, path


def test_answers_from_memory_equal_the_routes_answers(
    client: TestClient, letter: str, sign: Callable[..., Any]
) -> None:
    sign(letter, "Access Now")
    sign(letter, "Hidden", anonymous=True)
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = []
    for path in ROUTES:
        path = path.replace(SLUG, letter)
        requests += [
            (path, {"locale": "en"}, {}),
            (path, {}, {}),
            (path, {}, {"Accept-Language": "fr-FR,fr;q=0.9"}),
            (path, {"lang": "de"}, {}),
            (path, {"locale": "ko"}, {}),
            (path, {"locale": "!!"}, {}),
            (path, {"page": "2"}, {}),
            (path, {"page": "x"}, {}),
        ]
    requests.append((f"/letters/{letter}", {"locale": "en", "page": "1"}, {}))
    requests.append(("/api/v1/letters/no-such-letter/count", {}, {}))
    requests.append(("/embed/no-such-letter", {}, {"Accept": "text/html"}))
    with TestClient(without_answers_from_memory()) as plain:
        for path, params, headers in requests:
            # Twice: the first may render (a miss), the second is the hit.
            for _ in range(2):
                early = client.get(path, params=params, headers=headers)
            routed = plain.get(path, params=params, headers=headers)
            assert comparable(early) == comparable(routed), (path, params, headers)
            etag = early.headers.get("etag")
            if etag:
                conditional = headers | {"If-None-Match": f'W/{etag}, "other"'}
                early = client.get(path, params=params, headers=conditional)
                routed = plain.get(path, params=params, headers=conditional)
                assert early.status_code == 304
                assert comparable(early) == comparable(routed), (path, params, "304")


def test_only_hits_are_answered_early(
    client: TestClient,
    letter: str,
    sign: Callable[..., Any],
    override_settings: Callable[..., None],
) -> None:
    sign(letter, "Access Now")
    answers = hits.PublicAnswers(api_prefix=API_PREFIX)
    paths = [path.replace(SLUG, letter) for path in ROUTES]
    for path in paths:  # nothing cached yet: every request goes to its route
        assert answers(http_scope(path)) is None
    for path in paths:
        assert client.get(path, params={"locale": "en"}).status_code == 200
    for path in paths:
        status, headers, body = answers(http_scope(path))  # type: ignore[misc]
        assert status == 200 and body and b"age" in dict(headers)
        long_query = b"locale=en&utm_source=" + b"x" * 500  # parsed, not memoised
        long_answer = answers(http_scope(path, query=long_query))
        assert long_answer is not None and long_answer[::2] == (200, body)
        assert answers(http_scope(path, query=b"locale=!!")) is None  # the route's 400
        assert answers(http_scope(path, method="HEAD")) is None  # the router's 405
        assert answers(http_scope(path + "/")) is None
        assert answers(http_scope(path) | {"root_path": "/mounted"}) is None
    # Another representation of a cached letter is not rendered here: the route renders it.
    assert answers(http_scope(paths[3], query=b"locale=fr")) is None
    assert answers(http_scope(paths[3], query=b"page=2")) is None
    # An entry older than the TTL is revalidated by the route.
    override_settings(count_cache_ttl=0)
    for path in paths:
        assert answers(http_scope(path)) is None


def test_hits_stay_behind_the_rate_limit(
    engine: Any, build_app: Callable[..., FastAPI], seeded: str
) -> None:
    app = build_app(rate_limit_read_per_second=0.001, rate_limit_read_burst=3)
    with TestClient(app) as client:
        path = f"/api/v1/letters/{seeded}/count"
        statuses = [client.get(path).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]  # the last two were hits


def test_security_headers_are_added_once_and_never_replace_a_routes_own() -> None:
    html = [(b"content-type", b"text/html; charset=utf-8")]
    added = dict(secured(html))
    assert added[b"content-security-policy"] == HTML_CSP.encode()
    assert added[b"x-frame-options"] == b"DENY"
    assert added[b"x-content-type-options"] == b"nosniff"
    assert added[b"referrer-policy"] == b"no-referrer"
    own = [*html, (b"Content-Security-Policy", b"frame-ancestors *")]
    assert b"x-frame-options" not in dict(secured(own))
    svg = dict(secured([(b"content-type", b"image/svg+xml")]))
    assert svg[b"content-security-policy"] == SVG_CSP.encode()
    complete = secured(html)
    assert secured(complete) is complete  # nothing to add: the same list, no copy
