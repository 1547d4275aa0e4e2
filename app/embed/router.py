"""Partner-facing endpoints: count JSON, SVG badge, iframe widget, embed.js, public letter page."""

import asyncio
import math
import time
from functools import partial
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from babel.dates import format_date, format_datetime
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from app.config import Settings, get_settings
from app.db import SessionDep, open_session
from app.embed import pdf, service
from app.embed.cache import Entry, Snapshot, count_cache
from app.embed.schemas import CountPublic
from app.errors import BadRequest, NotFound
from app.i18n import names as reader_names
from app.i18n.catalogs import SUPPORTED, translations
from app.i18n.negotiation import UiLocale, negotiate, parse_tag
from app.i18n.sentences import count_sentence, language_name, number, ui_gettext
from app.letters import texts
from app.letters.models import LetterStatus
from app.signatures import counting
from app.signatures import service as signature_service

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


def _cached_response(
    rendered: service.Rendered,
    *,
    entry: Entry,
    vary: bool,
    if_none_match: str | None,
    media_type: str,
    settings: Settings,
) -> Response:
    if service.etag_matches(if_none_match, rendered.etag):
        response = Response(status_code=304)
    else:
        response = Response(rendered.body, media_type=media_type)
    response.raw_headers += service.raw_cache_headers(settings, rendered, vary=vary)
    response.raw_headers.append((b"age", service.age(entry).encode()))
    return response


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
    rendered = service.render_count(entry.snapshot, ui)
    return _cached_response(
        rendered,
        entry=entry,
        vary=vary,
        if_none_match=request.headers.get("if-none-match"),
        media_type="application/json",
        settings=settings,
    )


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
    rendered = service.render_badge(entry.snapshot, ui)
    return _cached_response(
        rendered,
        entry=entry,
        vary=vary,
        if_none_match=request.headers.get("if-none-match"),
        media_type="image/svg+xml",
        settings=settings,
    )


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


def _fresh_page(snapshot: Snapshot, key: tuple[Any, ...], settings: Settings) -> Any:
    """A page rendered for this snapshot (letter revision) less than page_render_max_age ago."""
    cached = snapshot.pages.get(key)
    if cached is not None and time.monotonic() - cached[1] < settings.page_render_max_age:
        return cached[0]
    return None


def _keep_page(
    snapshot: Snapshot, key: tuple[Any, ...], value: Any, *, revision: int, made_at: float
) -> None:
    # Read in its own transaction, the page may be newer than the snapshot: stored only when
    # it shows exactly the snapshot's revision, so a key never holds another revision's page.
    if revision == snapshot.revision:
        snapshot.pages[key] = (value, made_at)


def _widget_parts(
    slug: str, snapshot: Snapshot, ui: UiLocale, settings: Settings
) -> tuple[bytes, bytes, str]:
    """The widget's bytes before and after its data-age value, and its ETag (blocking)."""
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
            etag=service.render_count(snapshot, ui).etag,
            max_age=settings.count_max_age,
            age=_AGE_MARK,
        )
        revision = letter.revision
    before, after = content.encode("utf-8").split(_AGE_MARK.encode(), 1)
    parts = (before, after, service.etag_of(before + after))
    _keep_page(snapshot, ("widget", ui.name), parts, revision=revision, made_at=made_at)
    return parts


def _page_headers(
    settings: Settings, entry: Entry, *, etag: str, csp: str, vary: bool
) -> dict[str, str]:
    """Cacheable by browsers and CDNs: revalidated by ETag, served stale while revalidating."""
    max_age = settings.count_max_age
    headers = {
        "Content-Security-Policy": csp,
        "Cache-Control": f"public, max-age={max_age}, stale-while-revalidate={2 * max_age}, "
        f"stale-if-error={settings.count_stale_if_error}",
        "ETag": etag,
        "Age": service.age(entry),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    if vary:
        headers["Vary"] = "Accept-Language"
    return headers


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
    parts = _fresh_page(snapshot, ("widget", ui.name), settings)
    if parts is None:
        parts = await run_in_threadpool(_widget_parts, slug, snapshot, ui, settings)
    before, after, etag = parts
    headers = _page_headers(settings, entry, etag=etag, csp=_widget_csp(settings), vary=vary)
    if service.etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    body = before + headers["Age"].encode() + after
    return Response(body, media_type="text/html; charset=utf-8", headers=headers)


def _widget_csp(settings: Settings) -> str:
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; "
        f"frame-ancestors {settings.embed_frame_ancestors}"
    )


def _language_choices() -> list[dict[str, str]]:
    return [{"tag": tag, "name": language_name(tag, in_locale=tag)} for tag in SUPPORTED.values()]


def _requested_tag(locale: str | None, lang: str | None, ui: UiLocale) -> str:
    """The language the reader asked for, even one the interface does not speak (a Korean
    translation is shown for ?locale=ko although the page's own words are in English)."""
    asked = locale if locale is not None else lang
    return asked.strip() if asked and parse_tag(asked.strip()) is not None else ui.tag


def _letter_context(
    request: Request,
    session: Session,
    *,
    slug: str,
    ui: UiLocale,
    requested: str,
    page: int | None = None,
) -> dict[str, Any]:
    """Everything the letter page (one `page` of signatories) and its PDF (all of them,
    `page` None) show, read in one transaction."""
    settings = get_settings()
    service.check_slug(slug)
    letter = service.public_letter(session, slug=slug, settings=settings)
    assert letter.id is not None
    # Counted in the same transaction, so the notes and pages agree with the list shown.
    named, anonymous = counting.counts(session, letter_id=letter.id)
    total = named + anonymous
    size = settings.letter_page_size
    pages = max(1, math.ceil(named / size))
    if page is not None and page > pages:
        raise NotFound("no such page of signatories", field="page")
    named_rows, _ = signature_service.signatories(
        session,
        letter=letter,
        lang=ui.tag,
        limit=size if page is not None else max(named, 1),
        cursor=str((page - 1) * size) if page is not None else None,
    )
    all_versions = texts.versions(session, letter=letter)
    text = texts.choose(all_versions, requested=requested)
    return {
        "slug": slug,
        "letter": letter,
        "text": text,
        "fallback_note": _fallback_note(ui, text, requested=requested),
        "versions": [
            {
                "tag": v.lang,
                "name": language_name(v.lang, in_locale=v.lang),
                "original": v.is_original,
                "current": v is text.version,
            }
            for v in all_versions
        ],
        "languages": _language_choices(),
        "dates": _dates(ui, letter),
        "sentence": count_sentence(ui, total=total, anonymous=anonymous),
        "notes": _declared_notes(ui, letter, total=total, anonymous=anonymous),
        "signatories": named_rows,
        "direction": reader_names.direction,
        "anonymous_note": ui_gettext(
            ui,
            "Signed anonymously: %(count)s. Their names are not published.",
            count=number(anonymous, ui),
        )
        if anonymous
        else "",
        "pdf_url": f"/letters/{slug}.pdf?locale={quote(ui.tag)}",
        "page_url": (settings.public_base_url or str(request.base_url)).rstrip("/")
        + f"/letters/{slug}?locale={quote(ui.tag)}",
        "updated": format_datetime(letter.counts_changed_at, "medium", locale=ui.locale),
        "paging": _paging(ui, slug=slug, page=page, pages=pages, size=size, named=named),
        "revision": letter.revision,
        # Organisations sign for themselves where the coordinators opened the form (app/selfsign);
        # a text changed after signatures came in has a public history.
        "sign_url": f"/letters/{slug}/sign?locale={quote(ui.tag)}"
        if letter.self_signing and letter.status == LetterStatus.open
        else None,
        "history_url": f"/letters/{slug}/versions?locale={quote(ui.tag)}"
        if letter.text_version > 1
        else None,
    }


def _paging(
    ui: UiLocale, *, slug: str, page: int | None, pages: int, size: int, named: int
) -> dict[str, str] | None:
    """Where this page sits among the signatories, with links to its neighbours."""
    if page is None or pages == 1:
        return None
    first, last = (page - 1) * size + 1, min(page * size, named)

    def link(number_: int) -> str:
        return f"/letters/{slug}?locale={quote(ui.tag)}&page={number_}"

    return {
        "range": ui_gettext(
            ui,
            "Signatories %(first)s to %(last)s of %(total)s",
            first=number(first, ui),
            last=number(last, ui),
            total=number(named, ui),
        ),
        "previous": link(page - 1) if page > 1 else "",
        "next": link(page + 1) if page < pages else "",
        "previous_label": ui_gettext(ui, "Previous page"),
        "next_label": ui_gettext(ui, "Next page"),
    }


def _fallback_note(ui: UiLocale, text: texts.LocalisedText, *, requested: str) -> str:
    asked = language_name(requested, in_locale=ui.tag)
    if text.shown == texts.Shown.english:
        return ui_gettext(
            ui, "This letter has no %(requested)s version; it is shown in English.", requested=asked
        )
    if text.shown == texts.Shown.original:
        return ui_gettext(
            ui,
            "This letter has no %(requested)s or English version; it is shown in its original "
            "language, %(original)s.",
            requested=asked,
            original=language_name(text.lang, in_locale=ui.tag),
        )
    return ""


def _dates(ui: UiLocale, letter: Any) -> list[str]:
    lines = [
        ui_gettext(
            ui,
            "Published here on %(date)s",
            date=format_date(letter.created_at, "long", locale=ui.locale),
        )
    ]
    if letter.closed_at is not None:
        lines.append(
            ui_gettext(
                ui,
                "Closed to signatures on %(date)s",
                date=format_date(letter.closed_at, "long", locale=ui.locale),
            )
        )
    return lines


def _declared_notes(ui: UiLocale, letter: Any, *, total: int, anonymous: int) -> list[str]:
    notes = []
    if letter.declared_total is not None and letter.declared_total != total:
        notes.append(
            ui_gettext(
                ui,
                "Signatories stated in the published letter: %(declared)s. Recorded here: %(actual)s.",
                declared=number(letter.declared_total, ui),
                actual=number(total, ui),
            )
        )
    if letter.declared_anonymous is not None and letter.declared_anonymous != anonymous:
        notes.append(
            ui_gettext(
                ui,
                "Anonymous signatories stated in the published letter: %(declared)s. "
                "Recorded here: %(actual)s.",
                declared=number(letter.declared_anonymous, ui),
                actual=number(anonymous, ui),
            )
        )
    return notes


_LETTER_CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'"
)


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
    context = _letter_context(
        request, session, slug=slug, ui=ui, requested=_requested_tag(locale, lang, ui)
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
) -> service.Rendered:
    """Render one page of the letter and keep it for the snapshot's revision (blocking)."""
    made_at = time.monotonic()
    with open_session() as session:
        context = _letter_context(
            request, session, slug=slug, ui=ui, requested=requested, page=page
        )
    body = _render("letter.html", ui, for_print=False, **context).encode("utf-8")
    rendered = service.Rendered(body, service.etag_of(body))
    _keep_page(snapshot, key, rendered, revision=context["revision"], made_at=made_at)
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


def _page_number(value: str | None) -> int:
    if value is None:
        return 1
    if not value.isdigit() or not 1 <= int(value) <= 10_000_000 or len(value) > 8:
        raise BadRequest("page must be a whole number from 1", field="page")
    return int(value)


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
    requested = _requested_tag(query.get("locale"), query.get("lang"), ui)
    page = _page_number(query.get("page"))
    entry = await _public_counts_async(slug, settings)
    if entry.snapshot is None:
        raise service.not_found(settings)
    key = ("page", ui.name, requested, page)
    rendered = _fresh_page(entry.snapshot, key, settings)
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
    headers = _page_headers(settings, entry, etag=rendered.etag, csp=_LETTER_CSP, vary=vary)
    if service.etag_matches(request.headers.get("if-none-match"), rendered.etag):
        return Response(status_code=304, headers=headers)
    return Response(rendered.body, media_type="text/html; charset=utf-8", headers=headers)
