"""HTTP of the open-data package: reconciliation, public organisation pages and JSON,
external identifiers. Routes stay thin: the services are reconcile.py, public.py and
identifiers.py."""

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Form, Header, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.auth.dependencies import CoordinatorUser
from app.config import get_settings
from app.db import SessionDep, open_session
from app.errors import BadRequest
from app.i18n.catalogs import SUPPORTED, translations
from app.i18n.negotiation import negotiate
from app.i18n.sentences import language_name
from app.opendata import identifiers, public, publicid, reconcile
from app.opendata.schemas import IdentifierCreate, IdentifierPublic, IdentifiersPublic
from app.organisations import service as organisations
from app.resolution.visibility import Viewer

_HERE = Path(__file__).resolve().parent
_templates = Environment(
    loader=ChoiceLoader(
        [
            FileSystemLoader(_HERE / "templates"),
            FileSystemLoader(_HERE.parent / "pages" / "templates"),
        ]
    ),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
# OpenRefine shows the preview in an iframe of the manifest's size: it may be framed anywhere,
# and runs no script.
PREVIEW_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors *"

api_router = APIRouter(tags=["open data"])
pages_router = APIRouter(tags=["pages"])
PublicId = Annotated[str, PathParam(min_length=1, max_length=60, description="Public id")]
OrganisationId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]


def read_session() -> Iterator[Session]:
    """A read-only transaction even for POST (a reconciliation batch writes nothing): on
    SQLite it must not queue behind writers for the write lock."""
    with open_session() as session:
        try:
            yield session
        finally:
            session.rollback()


ReadSession = Annotated[Session, Depends(read_session)]


def base_url(request: Request) -> str:
    configured = get_settings().public_base_url.rstrip("/")
    return configured or str(request.base_url).rstrip("/")


# --- Reconciliation Service API 0.2 -------------------------------------------------------


def _reconcile(session: Session, request: Request, queries: str | None) -> dict[str, Any]:
    if queries is None:
        return reconcile.manifest(base_url=base_url(request))
    return reconcile.run(session, queries=reconcile.parse_batch(queries))


@api_router.get(
    "/reconcile", responses={413: {"description": "More queries than the manifest's batchSize"}}
)
def reconcile_get(
    session: ReadSession,
    request: Request,
    queries: Annotated[str | None, Query(description="JSON object of queries")] = None,
) -> dict[str, Any]:
    """The service manifest; with `queries`, a batch of reconciliation queries."""
    return _reconcile(session, request, queries)


@api_router.post("/reconcile")
def reconcile_post(
    session: ReadSession,
    request: Request,
    queries: Annotated[str | None, Form(description="JSON object of queries")] = None,
) -> dict[str, Any]:
    """A batch of reconciliation queries, form-encoded (`queries=`), as OpenRefine sends it."""
    if queries is None:
        raise BadRequest("queries is required (a JSON object of queries)", field="queries")
    return _reconcile(session, request, queries)


@api_router.get("/reconcile/suggest")
def reconcile_suggest(
    session: ReadSession,
    prefix: Annotated[str, Query(max_length=300)] = "",
    limit: Annotated[int, Query(ge=1, le=50)] = reconcile.SUGGEST_LIMIT,
) -> dict[str, Any]:
    """Public organisations whose name starts with `prefix`."""
    return {"result": reconcile.suggest(session, prefix=prefix, limit=limit)}


@api_router.get("/reconcile/suggest/type")
def reconcile_suggest_type(prefix: Annotated[str, Query(max_length=300)] = "") -> dict[str, Any]:
    return {"result": reconcile.suggest_types(prefix)}


@api_router.get("/reconcile/suggest/property")
def reconcile_suggest_property(
    prefix: Annotated[str, Query(max_length=300)] = "",
) -> dict[str, Any]:
    return {"result": reconcile.suggest_properties(prefix)}


@api_router.get(
    "/reconcile/preview",
    response_class=HTMLResponse,
    responses={404: {"description": "No organisation the public may see has this id"}},
)
def reconcile_preview(
    session: ReadSession,
    request: Request,
    id: Annotated[str, Query(min_length=1, max_length=60)],
) -> HTMLResponse:
    """A small HTML card of the organisation, sized for the manifest's iframe."""
    found = public.lookup(session, public_id=id)
    org = public.document(session, organisation=found.organisation, base_url=base_url(request))
    content = _templates.get_template("preview.html").render(
        org=org, width=reconcile.PREVIEW_WIDTH, height=reconcile.PREVIEW_HEIGHT
    )
    return HTMLResponse(
        content, headers={"Content-Security-Policy": PREVIEW_CSP, "Cache-Control": "no-cache"}
    )


# --- Public organisation pages -------------------------------------------------------------


@api_router.get(
    "/organisations/{public_id}/public",
    responses={308: {"description": "Merged away: Location is the survivor"}},
)
def organisation_public(public_id: PublicId, session: ReadSession, request: Request) -> Any:
    """An organisation as the public may know it (no token): names with language and script,
    country, website, external identifiers, letters it signed by name."""
    found = public.lookup(session, public_id=public_id)
    if found.merged:
        survivor = publicid.public_org_id(found.organisation)
        return RedirectResponse(
            f"{base_url(request)}/api/v1/organisations/{survivor}/public", status_code=308
        )
    return public.document(session, organisation=found.organisation, base_url=base_url(request))


@pages_router.get("/organisations/{public_id}", response_class=HTMLResponse)
def organisation_page(
    public_id: PublicId,
    session: ReadSession,
    request: Request,
    locale: Annotated[str | None, Query(description="UI locale (BCP 47)")] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Response:
    """The public page of an organisation, in the reader's language."""
    ui, vary = negotiate(locale=locale, accept_language=accept_language)
    found = public.lookup(session, public_id=public_id)
    if found.merged:
        target = f"/organisations/{publicid.public_org_id(found.organisation)}"
        return RedirectResponse(target + (f"?locale={ui.tag}" if locale else ""), status_code=308)
    org = public.document(session, organisation=found.organisation, base_url=base_url(request))
    country_name = (
        ui.locale.territories.get(org["country"], org["country"]) if org["country"] else None
    )
    languages = [
        {"tag": tag, "name": language_name(tag, in_locale=tag)} for tag in SUPPORTED.values()
    ]
    content = _templates.get_template("organisation.html").render(
        ui=ui,
        _=translations(ui.name).gettext,
        languages=languages,
        org=org,
        country_name=country_name,
    )
    headers = {"Cache-Control": "no-cache"}
    if vary:
        headers["Vary"] = "Accept-Language"
    return HTMLResponse(content, headers=headers)


# --- External identifiers ------------------------------------------------------------------


def _identifiers_out(session: Session, organisation_id: int) -> IdentifiersPublic:
    rows = identifiers.of(session, organisation_ids=[organisation_id])[organisation_id]
    return IdentifiersPublic(
        organisation_id=organisation_id,
        identifiers=[
            IdentifierPublic(scheme=r.scheme, value=r.value, url=identifiers.url_of(r))
            for r in rows
        ],
    )


@api_router.post("/organisations/{organisation_id}/identifiers", status_code=201)
def add_identifier(
    organisation_id: OrganisationId,
    data: IdentifierCreate,
    session: SessionDep,
    principal: CoordinatorUser,
) -> IdentifiersPublic:
    """Attach an external identifier (admins; coordinators when every letter that shows the
    organisation is theirs)."""
    viewer = Viewer(principal)
    organisation = organisations.get_visible(
        session, organisation_id=organisation_id, viewer=viewer
    )
    identifiers.add(
        session,
        organisation=organisation,
        text=data.identifier,
        viewer=viewer,
        actor=principal.actor,
    )
    return _identifiers_out(session, organisation_id)


@api_router.delete("/organisations/{organisation_id}/identifiers/{identifier}", status_code=204)
def remove_identifier(
    organisation_id: OrganisationId,
    identifier: Annotated[str, PathParam(max_length=250)],
    session: SessionDep,
    principal: CoordinatorUser,
) -> Response:
    viewer = Viewer(principal)
    organisation = organisations.get_visible(
        session, organisation_id=organisation_id, viewer=viewer
    )
    identifiers.remove(
        session, organisation=organisation, text=identifier, viewer=viewer, actor=principal.actor
    )
    return Response(status_code=204)


# --- CORS -----------------------------------------------------------------------------------


def _cors_path(path: str) -> bool:
    return path.startswith("/api/v1/reconcile") or (
        path.startswith("/api/v1/organisations/") and path.endswith("/public")
    )


class OpenDataCorsMiddleware:
    """CORS on every open-data route, errors included: any origin may read (no credentials,
    nothing secret is served there); preflights answer at once."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _cors_path(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            response = Response(
                status_code=204,
                headers={
                    "Access-Control-Allow-Origin": "*",
                    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
                    "Access-Control-Allow-Headers": "Content-Type",
                    "Access-Control-Max-Age": "86400",
                },
            )
            await response(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Access-Control-Allow-Origin"] = "*"
            await send(message)

        await self.app(scope, receive, send_with_cors)


def install(app: FastAPI, *, api_prefix: str) -> None:
    app.include_router(api_router, prefix=api_prefix)
    app.include_router(pages_router)
    app.add_middleware(OpenDataCorsMiddleware)
