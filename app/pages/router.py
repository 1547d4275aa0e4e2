"""The home page (public letters), the API documentation pages, and their static files."""

from pathlib import Path
from typing import Annotated, Any

import fastapi_offline
from fastapi import APIRouter, FastAPI, Header, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from app.db import SessionDep
from app.i18n.negotiation import negotiate
from app.i18n.sentences import count_sentence, language_name, number, ui_gettext
from app.letters import service as letter_service
from app.letters import texts
from app.letters.models import LetterStatus
from app.pages.rendering import html, render, render_plain
from app.signatures import counting

router = APIRouter(tags=["pages"])
_HERE = Path(__file__).resolve().parent
# The home page lists this many letters, newest first; the API pages through all of them.
HOME_LIMIT = 200
DOCS_ASSETS = Path(fastapi_offline.__file__).resolve().parent / "static"


@router.get("/", response_class=HTMLResponse)
def home(
    session: SessionDep,
    locale: Annotated[str | None, Query(description="UI locale (BCP 47)")] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> HTMLResponse:
    """Home page: the open and closed public letters with their counts and languages."""
    ui, vary = negotiate(locale=locale, accept_language=accept_language)
    page, total = letter_service.list_visible(
        session, principal=None, limit=HOME_LIMIT, cursor=None
    )
    letters = page.items
    by_status: dict[str, list[dict[str, Any]]] = {LetterStatus.open: [], LetterStatus.closed: []}
    for letter in letters:
        assert letter.id is not None
        versions = texts.versions(session, letter=letter)
        text = texts.choose(versions, requested=ui.tag)
        named, anonymous = counting.counts(session, letter_id=letter.id)
        by_status[letter.status].append(
            {
                "slug": letter.slug,
                "title": text.title,
                "lang": text.lang,
                "direction": text.direction,
                "sentence": count_sentence(ui, total=named + anonymous, anonymous=anonymous),
                "languages": [language_name(v.lang, in_locale=ui.tag) for v in versions],
            }
        )
    headings: dict[str, str] = {
        LetterStatus.open: ui_gettext(ui, "Open for signature"),
        LetterStatus.closed: ui_gettext(ui, "Closed"),
    }
    sections = [
        {"id": f"letters-{status}", "heading": headings[status], "letters": items}
        for status, items in by_status.items()
        if items
    ]
    more = ""
    if total > len(letters):
        more = ui_gettext(
            ui,
            "The %(shown)s newest letters are shown; the API lists all.",
            shown=number(HOME_LIMIT, ui),
        )
    return html(render("home.html", ui, sections=sections, more=more), vary=vary)


def install_docs(app: FastAPI) -> None:
    """Swagger UI at /docs and ReDoc at /redoc, served with their assets from this server.

    The app is created with FastAPI's own docs off (they load from a CDN); the URLs are set
    back on it so that everything reading them (the security headers' docs CSP) still sees
    them.
    """
    app.mount("/docs/assets", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    openapi_url = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return HTMLResponse(
            render_plain(
                "docs.html",
                title=app.title,
                openapi_url=request.scope.get("root_path", "") + openapi_url,
            )
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return HTMLResponse(
            render_plain(
                "redoc.html",
                title=app.title,
                openapi_url=request.scope.get("root_path", "") + openapi_url,
            )
        )

    app.docs_url, app.redoc_url = "/docs", "/redoc"
