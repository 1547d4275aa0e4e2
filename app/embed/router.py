"""Partner-facing endpoints: count JSON, SVG badge, iframe widget, embed.js, public letter page."""

import asyncio
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from app.config import Settings, get_settings
from app.db import SessionDep, open_session
from app.embed import hits, pdf, service
from app.embed import page as letter_view
from app.embed.cache import Entry, Snapshot, count_cache
from app.embed.schemas import CountPublic
from app.i18n.catalogs import translations
from app.i18n.negotiation import UiLocale, negotiate
from app.i18n.sentences import count_sentence
from app.letters import texts

router = APIRouter(tags=["embed"])
pages_router = APIRouter(tags=["embed"], include_in_schema=True)

_HERE = Path(__file__).resolve().parent
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_STATIC = {
    name: (_HERE / "static" / name).read_bytes()
    for name in ("embed.js", "widget.js", "widget.css", "letter.css")
}
_STATIC_TYPES = {"js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"}

LocaleQuery = Annotated[
    str | None,
    Query(description="UI locale (BCP 47, e.g. fr, pt-BR, zh-Hant); else Accept-Language"),
]
LangQuery = Annotated[str | None, Query(description="Alias of locale")]
AcceptLanguage = Annotated[str | None, Header(include_in_schema=False)]


def _public_counts(slug: str, settings: Settings) -> Entry:
    return count_cache.get(service.check_slug(slug), ttl=settings.count_cache_ttl)


_refreshing: dict[str, "asyncio.Future[Entry]"] = {}


async def _public_counts_async(slug: str, settings: Settings) -> Entry:
    # The hot path is a dict lookup on the event loop; only a miss (at most once per TTL per
    # letter and worker) reads the database, in the threadpool. Concurrent misses share one
    # read (single flight), and while it runs an entry less than two TTLs old is still served:
    # its Age header says how old, so clients' max-age still ends on time. A letter written by
    # this process was evicted, so it always waits for the read. See docs/decisions/0030.
    ttl = settings.count_cache_ttl
    entry = count_cache.fresh(service.check_slug(slug), ttl=ttl)
    if entry is not None:
        return entry
    loop = asyncio.get_running_loop()
    pending = _refreshing.get(slug)
    if pending is None or pending.get_loop() is not loop:
        pending = asyncio.ensure_future(run_in_threadpool(count_cache.refresh, slug))
        _refreshing[slug] = pending

        def _done(future: "asyncio.Future[Entry]", slug: str = slug) -> None:
            if _refreshing.get(slug) is future:
                del _refreshing[slug]
            if not future.cancelled():
                # Mark a failure as retrieved: when nobody awaited it (a previous entry was
                # served), the next miss retries; waiters get the exception themselves.
                future.exception()

        pending.add_done_callback(_done)
    previous = count_cache.peek(slug)
    if previous is not None and time.monotonic() - previous.checked_at < 2 * ttl:
        return previous
    # shield: a client that disconnects must not cancel the read the others are waiting for.
    return await asyncio.shield(pending)


# The two hottest routes read their path, query and headers from the request instead of
# declared parameters: FastAPI's per-parameter dependency solving was most of their own cost
# (docs/decisions/0030). The slug is validated by service.check_slug (400); the parameters are
# documented in OpenAPI here.
_NEGOTIATED = {
    "parameters": [
        {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "locale",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "maxLength": 35},
            "description": "UI locale (BCP 47: fr, pt-BR, zh-Hant); else Accept-Language, else en",
        },
        {
            "name": "lang",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "Alias of locale",
        },
        {
            "name": "Accept-Language",
            "in": "header",
            "required": False,
            "schema": {"type": "string"},
        },
        {"name": "If-None-Match", "in": "header", "required": False, "schema": {"type": "string"}},
    ]
}


def _answer(
    rendered: hits.Rendered, request: Request, *, entry: Entry, vary: bool, settings: Settings
) -> Response:
    if_none_match = request.headers.get("if-none-match")
    return hits.AnswerResponse(
        rendered.answer(settings, entry, vary=vary, if_none_match=if_none_match)
    )


def _negotiate(request: Request) -> tuple[UiLocale, bool]:
    query = request.query_params
    return negotiate(
        locale=query.get("locale"),
        lang=query.get("lang"),
        accept_language=request.headers.get("accept-language"),
    )


@router.get(
    "/letters/{slug}/count",
    response_model=CountPublic,
    responses={304: {"description": "Not modified (If-None-Match)"}, 404: {}},
    openapi_extra=_NEGOTIATED,
)
async def letter_count(request: Request) -> Response:
    """Signature counts of a public letter with a localised sentence (cacheable, CORS *)."""
    settings = get_settings()
    slug = request.path_params["slug"]
    ui, vary = _negotiate(request)
    entry = await _public_counts_async(slug, settings)
    if entry.snapshot is None:
        raise service.not_found(settings)
    rendered = hits.render_count(entry.snapshot, ui)
    return _answer(rendered, request, entry=entry, vary=vary, settings=settings)


@router.options("/letters/{slug}/count", include_in_schema=False)
def letter_count_preflight() -> Response:
    """CORS preflight: any origin may read the count, with If-None-Match."""
    return Response(
        status_code=204,
        headers=service.CORS
        | {
            "Access-Control-Allow-Methods": "GET, OPTIONS",
            "Access-Control-Allow-Headers": "If-None-Match, Accept-Language",
            "Access-Control-Max-Age": "86400",
        },
    )


@router.get(
    "/letters/{slug}/badge.svg",
    response_class=Response,
    responses={
        200: {"content": {"image/svg+xml": {}}},
        304: {"description": "Not modified (If-None-Match)"},
        404: {"content": {"image/svg+xml": {}}},
    },
    openapi_extra=_NEGOTIATED,
)
async def letter_badge(request: Request) -> Response:
    """SVG badge with the localised count; a neutral "unknown letter" badge (404) otherwise."""
    settings = get_settings()
    slug = request.path_params["slug"]
    ui, vary = _negotiate(request)
    entry = await _public_counts_async(slug, settings)
    if entry.snapshot is None:
        return Response(
            service.unknown_badge(ui),
            status_code=404,
            media_type="image/svg+xml",
            headers=service.CORS | {"Cache-Control": f"public, max-age={settings.count_max_age}"},
        )
    rendered = hits.render_badge(entry.snapshot, ui)
    return _answer(rendered, request, entry=entry, vary=vary, settings=settings)


def _static(name: str) -> Response:
    kind = name.rsplit(".", 1)[1]
    return Response(
        _STATIC[name],
        media_type=_STATIC_TYPES[kind],
        headers={"Cache-Control": "public, max-age=3600", "Access-Control-Allow-Origin": "*"},
    )


@pages_router.get("/embed.js", response_class=Response)
def embed_script() -> Response:
    """The snippet partners include: inserts and sizes the widget iframe."""
    return _static("embed.js")


@pages_router.get("/embed/widget.js", response_class=Response, include_in_schema=False)
def widget_script() -> Response:
    return _static("widget.js")


@pages_router.get("/embed/widget.css", response_class=Response, include_in_schema=False)
def widget_style() -> Response:
    return _static("widget.css")


@pages_router.get("/embed/letter.css", response_class=Response, include_in_schema=False)
def letter_style() -> Response:
    return _static("letter.css")


def _render(template: str, ui: UiLocale, **context: Any) -> str:
    catalog = translations(ui.name)
    return _templates.get_template(template).render(
        ui=ui, _=catalog.gettext, ngettext=catalog.ngettext, **context
    )


def _html(content: str, *, csp: str, cache_control: str, vary: bool) -> HTMLResponse:
    headers = {
        "Content-Security-Policy": csp,
        "Cache-Control": cache_control,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if vary:
        headers["Vary"] = "Accept-Language"
    return HTMLResponse(content, headers=headers)


def _letter_url(settings: Settings, slug: str, ui: UiLocale) -> str:
    return f"{settings.public_base_url.rstrip('/')}/letters/{slug}?locale={quote(ui.tag)}"


_AGE_MARK = "@@undersigned-age@@"


def _widget_parts(slug: str, snapshot: Snapshot, ui: UiLocale, settings: Settings) -> hits.Rendered:
    """The widget, with the place of its data-age value, and its ETag (blocking)."""
    made_at = time.monotonic()
    with open_session() as session:
        letter = service.public_letter(session, slug=slug, settings=settings)
        content = _render(
            "widget.html",
            ui,
            slug=slug,
            text=texts.localised_text(session, letter=letter, requested=ui.tag),
            sentence=count_sentence(ui, total=snapshot.total, anonymous=snapshot.anonymous),
            count_url=f"/api/v1/letters/{slug}/count?locale={quote(ui.tag)}",
            letter_url=_letter_url(settings, slug, ui),
            etag=hits.render_count(snapshot, ui).etag,
            max_age=settings.count_max_age,
            age=_AGE_MARK,
        )
        revision = letter.revision
    before, after = content.encode("utf-8").split(_AGE_MARK.encode(), 1)
    body = before + after
    rendered = hits.Rendered("widget", body, service.etag_of(body), age_at=len(before))
    hits.keep_page(snapshot, hits.widget_key(ui), rendered, revision=revision, made_at=made_at)
    return rendered


@pages_router.get(
    "/embed/{slug}",
    response_class=HTMLResponse,
    responses={304: {"description": "Not modified (If-None-Match)"}},
    openapi_extra=_NEGOTIATED,
)
async def widget(request: Request) -> Response:
    """Small HTML widget for an iframe: title, count sentence, link; refreshes itself.

    Rendered once per (letter revision, locale) and served from memory (decision 0086); reads
    its parameters from the request like the count route (decision 0030)."""
    settings = get_settings()
    slug = request.path_params["slug"]
    ui, vary = _negotiate(request)
    entry = await _public_counts_async(slug, settings)
    if entry.snapshot is None:
        raise service.not_found(settings)
    snapshot = entry.snapshot
    rendered = hits.fresh_page(snapshot, hits.widget_key(ui), settings)
    if rendered is None:
        rendered = await run_in_threadpool(_widget_parts, slug, snapshot, ui, settings)
    return _answer(rendered, request, entry=entry, vary=vary, settings=settings)


@pages_router.get(
    "/letters/{slug}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 404: {}},
)
def letter_pdf(
    request: Request,
    slug: str,
    session: SessionDep,
    locale: LocaleQuery = None,
    lang: LangQuery = None,
    accept_language: AcceptLanguage = None,
    if_none_match: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The letter page as a PDF (A4): text, signatories, counts; for delivering the letter."""
    settings = get_settings()
    ui, vary = negotiate(locale=locale, lang=lang, accept_language=accept_language)
    context = letter_view.letter_context(
        base_url=str(request.base_url),
        session=session,
        slug=slug,
        ui=ui,
        requested=letter_view.requested_tag(locale, lang, ui),
    )
    html = _render("letter.html", ui, for_print=True, **context)
    headers = {
        "Cache-Control": f"public, max-age={settings.count_max_age}",
        "ETag": pdf.etag(html),
        "Content-Disposition": f'inline; filename="{slug}-{ui.tag}.pdf"',
    }
    if vary:
        headers["Vary"] = "Accept-Language"
    if service.etag_matches(if_none_match, headers["ETag"]):
        return Response(status_code=304, headers=headers)
    return Response(pdf.render(html).body, media_type="application/pdf", headers=headers)


def _letter_page(
    request: Request,
    *,
    slug: str,
    snapshot: Snapshot,
    ui: UiLocale,
    requested: str,
    page: int,
    key: tuple[Any, ...],
) -> hits.Rendered:
    """Render one page of the letter and keep it for the snapshot's revision (blocking)."""
    made_at = time.monotonic()
    with open_session() as session:
        context = letter_view.letter_context(
            base_url=str(request.base_url),
            session=session,
            slug=slug,
            ui=ui,
            requested=requested,
            page=page,
        )
    body = _render("letter.html", ui, for_print=False, **context).encode("utf-8")
    rendered = hits.Rendered("page", body, service.etag_of(body))
    hits.keep_page(snapshot, key, rendered, revision=context["revision"], made_at=made_at)
    return rendered


_PAGED = {
    "parameters": [
        *_NEGOTIATED["parameters"],
        {
            "name": "page",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "default": 1},
            "description": "Page of signatories (letter_page_size a page; the PDF has them all)",
        },
    ]
}


@pages_router.get(
    "/letters/{slug}",
    response_class=HTMLResponse,
    responses={304: {"description": "Not modified (If-None-Match)"}, 404: {}},
    openapi_extra=_PAGED,
)
async def letter_page(request: Request) -> Response:
    """Public letter page: header, text in the reader's language, signatories (a page of
    them: `letter_page_size`), counts. Rendered once per (letter revision, locale, language
    asked for, page) and served from memory (decision 0086); the PDF lists every signatory.
    Parameters are read from the request like the count route's (decision 0030)."""
    settings = get_settings()
    slug = request.path_params["slug"]
    query = request.query_params
    ui, vary = _negotiate(request)
    requested = letter_view.requested_tag(query.get("locale"), query.get("lang"), ui)
    page = hits.page_number(query.get("page"))
    entry = await _public_counts_async(slug, settings)
    if entry.snapshot is None:
        raise service.not_found(settings)
    key = hits.page_key(ui, requested=requested, page=page)
    rendered = hits.fresh_page(entry.snapshot, key, settings)
    if rendered is None:
        rendered = await run_in_threadpool(
            partial(
                _letter_page,
                request,
                slug=slug,
                snapshot=entry.snapshot,
                ui=ui,
                requested=requested,
                page=page,
                key=key,
            )
        )
    return _answer(rendered, request, entry=entry, vary=vary, settings=settings)
