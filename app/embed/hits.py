"""The public routes' answers from memory, complete down to their headers (decision 0108).

Each representation the count cache holds (count JSON, badge, widget, letter page: one per
letter revision, locale and variant, decision 0086) carries its response headers, encoded
once per (Vary, settings) with the security headers already on (`app.security.headers`), so
an answer is a status, a list of headers plus `Age`, and bytes. The routes send these answers,
and `PublicAnswers` sends the same ones for a cache hit from the front of the middleware
stack (after the rate limiter, before routing): no router walk, no Request or Response
object, no dependency solving. Anything it cannot answer from memory (a miss, a stale entry,
an invalid parameter, a 404) goes on to the route, which has the one copy of those paths.
"""

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from starlette.datastructures import QueryParams
from starlette.responses import Response
from starlette.types import Scope

from app.config import Settings, get_settings
from app.embed import page as letter_view
from app.embed import service
from app.embed.cache import Entry, Snapshot, count_cache
from app.errors import AppError, BadRequest
from app.i18n.negotiation import UiLocale, negotiate
from app.security.headers import secured

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, Headers, bytes]

_TYPES = {
    "count": b"application/json",
    "badge": b"image/svg+xml",
    "widget": b"text/html; charset=utf-8",
    "page": b"text/html; charset=utf-8",
}
LETTER_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)


def widget_csp(settings: Settings) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {settings.embed_frame_ancestors}"
    )


@dataclass(frozen=True)
class Heads:
    ok: Headers  # a 200's headers but Age (and Content-Length when the body holds the age)
    not_modified: Headers  # a 304's headers but Age


@dataclass(frozen=True)
class Rendered:
    """One representation: its bytes, its strong ETag and, for the widget, where in the body
    its data-age value goes (the ETag ignores it). `heads` memoises the encoded headers."""

    kind: str
    body: bytes
    etag: str
    age_at: int | None = None
    heads: dict[tuple[Any, ...], Heads] = field(default_factory=dict, compare=False)

    def headers(self, settings: Settings, *, vary: bool) -> Heads:
        key = (
            vary,
            settings.count_max_age,
            settings.count_stale_if_error,
            settings.embed_frame_ancestors,
        )
        heads = self.heads.get(key)
        if heads is None:
            heads = self.heads[key] = self._build_headers(settings, vary=vary)
        return heads

    def _build_headers(self, settings: Settings, *, vary: bool) -> Heads:
        max_age = settings.count_max_age
        # Cacheable by browsers and CDNs: revalidated by ETag, served stale while revalidating.
        common = {
            "Cache-Control": f"public, max-age={max_age}, stale-while-revalidate={2 * max_age}, "
            f"stale-if-error={settings.count_stale_if_error}",
            "ETag": self.etag,
        }
        if self.kind in ("count", "badge"):
            common |= service.CORS | {"Access-Control-Expose-Headers": "ETag, Age"}
        else:
            csp = widget_csp(settings) if self.kind == "widget" else LETTER_CSP
            common = {"Content-Security-Policy": csp} | common
        if vary:
            common["Vary"] = "Accept-Language"
        encoded = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in common.items()]
        ok: Headers = [(b"content-type", _TYPES[self.kind])]
        if self.age_at is None:
            ok.append((b"content-length", str(len(self.body)).encode("ascii")))
        return Heads(ok=secured([*ok, *encoded]), not_modified=secured(encoded))

    def answer(
        self, settings: Settings, entry: Entry, *, vary: bool, if_none_match: str | None
    ) -> Answer:
        heads = self.headers(settings, vary=vary)
        age = service.age(entry).encode("ascii")
        if service.etag_matches(if_none_match, self.etag):
            return 304, [*heads.not_modified, (b"age", age)], b""
        if self.age_at is None:
            return 200, [*heads.ok, (b"age", age)], self.body
        body = self.body[: self.age_at] + age + self.body[self.age_at :]
        length = str(len(body)).encode("ascii")
        return 200, [*heads.ok, (b"content-length", length), (b"age", age)], body


class AnswerResponse(Response):
    """A route's answer as it is: status, complete headers, body."""

    def __init__(self, answer: Answer) -> None:
        self.status_code, self.raw_headers, self.body = answer
        self.background = None


def _rendered(
    snapshot: Snapshot, ui: UiLocale, kind: str, body_of: Callable[[Snapshot, UiLocale], bytes]
) -> Rendered:
    """The count or badge of this snapshot in this locale, rendered once."""
    key = (kind, ui.name)
    rendered = snapshot.renders.get(key)
    if rendered is None:
        body = body_of(snapshot, ui)
        rendered = snapshot.renders[key] = Rendered(kind, body, service.etag_of(body))
    return rendered


def render_count(snapshot: Snapshot, ui: UiLocale) -> Rendered:
    return _rendered(snapshot, ui, "count", service.count_body)


def render_badge(snapshot: Snapshot, ui: UiLocale) -> Rendered:
    return _rendered(snapshot, ui, "badge", service.badge_body)


def fresh_page(snapshot: Snapshot, key: tuple[Any, ...], settings: Settings) -> Rendered | None:
    """A page rendered for this snapshot (letter revision) less than page_render_max_age ago."""
    cached = snapshot.pages.get(key)
    if cached is not None and time.monotonic() - cached[1] < settings.page_render_max_age:
        rendered: Rendered = cached[0]
        return rendered
    return None


def keep_page(
    snapshot: Snapshot, key: tuple[Any, ...], rendered: Rendered, *, revision: int, made_at: float
) -> None:
    # Read in its own transaction, the page may be newer than the snapshot: stored only when
    # it shows exactly the snapshot's revision, so a key never holds another revision's page.
    if revision == snapshot.revision:
        snapshot.pages[key] = (rendered, made_at)


def widget_key(ui: UiLocale) -> tuple[Any, ...]:
    return ("widget", ui.name)


def page_key(ui: UiLocale, *, requested: str, page: int) -> tuple[Any, ...]:
    return ("page", ui.name, requested, page)


def page_number(value: str | None) -> int:
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= 10_000_000 or len(value) > 8:
        raise BadRequest("page must be a whole number from 1", field="page")
    return int(value)


def _query(query_string: bytes) -> tuple[str | None, str | None, str | None]:
    # Starlette's own parsing (the routes read request.query_params), memoised for the short
    # query strings partner pages send over and over; a long one is parsed, not kept.
    if len(query_string) > 200:
        return _parse_query(query_string)
    return _parse_short_query(query_string)


def _parse_query(query_string: bytes) -> tuple[str | None, str | None, str | None]:
    query = QueryParams(query_string)
    return query.get("locale"), query.get("lang"), query.get("page")


_parse_short_query = lru_cache(maxsize=1024)(_parse_query)


class PublicAnswers:
    """Cache hits of the four public GET routes, answered before routing (decision 0108).

    Called by the security middleware once a request has passed the rate limiter; returns
    None for anything but a hit, and the request goes on to its route as if this did not
    exist. tests/embed/test_hits.py holds the answers equal to the routes' own."""

    def __init__(self, *, api_prefix: str) -> None:
        self.api_letters = api_prefix + "/letters/"

    def __call__(self, scope: Scope) -> Answer | None:
        if scope["method"] != "GET" or scope.get("root_path"):
            return None
        path: str = scope["path"]
        if path.startswith(self.api_letters):
            rest = path[len(self.api_letters) :]
            if rest.endswith("/count"):
                kind, slug = "count", rest[:-6]
            elif rest.endswith("/badge.svg"):
                kind, slug = "badge", rest[:-10]
            else:
                return None
        elif path.startswith("/embed/"):
            kind, slug = "widget", path[7:]
        elif path.startswith("/letters/"):
            kind, slug = "page", path[9:]
        else:
            return None
        if not service.is_slug(slug):
            return None
        settings = get_settings()
        entry = count_cache.fresh(slug, ttl=settings.count_cache_ttl)
        if entry is None or entry.snapshot is None:
            return None
        accept_language = if_none_match = None
        for name, value in scope["headers"]:
            if name == b"accept-language" and accept_language is None:
                accept_language = value.decode("latin-1")
            elif name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        locale, lang, page = _query(scope["query_string"])
        try:
            ui, vary = negotiate(locale=locale, lang=lang, accept_language=accept_language)
            rendered = self._rendered(kind, entry.snapshot, ui, settings, locale, lang, page)
        except AppError:
            return None
        if rendered is None:
            return None
        return rendered.answer(settings, entry, vary=vary, if_none_match=if_none_match)

    @staticmethod
    def _rendered(
        kind: str,
        snapshot: Snapshot,
        ui: UiLocale,
        settings: Settings,
        locale: str | None,
        lang: str | None,
        page: str | None,
    ) -> Rendered | None:
        if kind == "count":
            return render_count(snapshot, ui)
        if kind == "badge":
            return render_badge(snapshot, ui)
        if kind == "widget":
            return fresh_page(snapshot, widget_key(ui), settings)
        requested = letter_view.requested_tag(locale, lang, ui)
        return fresh_page(
            snapshot, page_key(ui, requested=requested, page=page_number(page)), settings
        )
