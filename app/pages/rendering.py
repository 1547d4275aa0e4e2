"""Rendering of the server-side pages: one template environment, one HTML response shape."""

from pathlib import Path
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from app.i18n.catalogs import SUPPORTED, translations
from app.i18n.negotiation import UiLocale
from app.i18n.sentences import language_name

_HERE = Path(__file__).resolve().parent
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def render_plain(template: str, **context: Any) -> str:
    """A page outside the localised site (the API documentation)."""
    return _templates.get_template(template).render(**context)


def render(template: str, ui: UiLocale, **context: Any) -> str:
    catalog = translations(ui.name)
    languages = [
        {"tag": tag, "name": language_name(tag, in_locale=tag)} for tag in SUPPORTED.values()
    ]
    return _templates.get_template(template).render(
        ui=ui, _=catalog.gettext, languages=languages, **context
    )


def html(content: str, *, status_code: int = 200, vary: bool = True) -> HTMLResponse:
    headers = {"Cache-Control": "no-cache"}
    if vary:
        headers["Vary"] = "Accept-Language"
    return HTMLResponse(content, status_code=status_code, headers=headers)
