"""404 and 410 as HTML pages for browsers; every other client keeps the JSON error."""

import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.errors import AppError
from app.i18n.negotiation import negotiate, ui_locale
from app.i18n.sentences import ui_gettext
from app.pages.rendering import html, render

HTML_STATUSES = frozenset({404, 410})
API_PREFIX = "/api/"


def wants_html(request: Request) -> bool:
    """A browser navigating: it asks for HTML first. The API always answers JSON."""
    if request.url.path.startswith(API_PREFIX):
        return False
    first = request.headers.get("accept", "").split(",")[0].split(";")[0].strip().lower()
    return first in ("text/html", "application/xhtml+xml")


def error_page(request: Request, status_code: int) -> Response:
    try:
        ui, _ = negotiate(
            locale=request.query_params.get("locale"),
            lang=request.query_params.get("lang"),
            accept_language=request.headers.get("accept-language"),
        )
    except AppError:  # an invalid ?locale= on a missing page: the page still answers
        ui = ui_locale("en")
    if status_code == 410:
        heading = ui_gettext(ui, "This page is gone")
        explanation = ui_gettext(ui, "What was published at this address has been removed.")
    else:
        heading = ui_gettext(ui, "Page not found")
        explanation = ui_gettext(
            ui, "There is no public page at this address. Check the link, or start from the list."
        )
    content = render("error.html", ui, heading=heading, explanation=explanation)
    return html(content, status_code=status_code)


Handler = Callable[[Request, Any], Response | Awaitable[Response]]


def install(app: FastAPI) -> None:
    """Wrap the JSON error handlers (app/errors.py) of the exceptions that carry 404 or 410."""
    for kind in (AppError, StarletteHTTPException):
        original: Handler = app.exception_handlers[kind]

        async def handler(
            request: Request, exc: Exception, original: Handler = original
        ) -> Response:
            status_code = getattr(exc, "status_code", 500)
            if status_code in HTML_STATUSES and wants_html(request):
                return error_page(request, status_code)
            answer = original(request, exc)
            return await answer if inspect.isawaitable(answer) else answer

        app.add_exception_handler(kind, handler)
