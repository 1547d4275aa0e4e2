"""The letter as a PDF, by WeasyPrint from the page's own HTML and print stylesheet.

WeasyPrint loads nothing from the network: only the stylesheets of this package. Rendering a
letter with a few hundred signatories takes seconds of CPU, so a worker renders one PDF at a
time and keeps the last few, keyed by a digest of the HTML: a PDF is rendered again exactly when
what it shows (text, names, counts, language) changed.
"""

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_STATIC = Path(__file__).resolve().parent / "static"
_STYLESHEETS = {"/embed/letter.css": _STATIC / "letter.css"}
_KEEP = 16
_lock = threading.Lock()
_rendered: "OrderedDict[str, Document]" = OrderedDict()


@dataclass(frozen=True)
class Document:
    body: bytes
    etag: str


def _own_stylesheets() -> Any:
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    class OwnStylesheets(URLFetcher):  # type: ignore[misc]  # weasyprint ships no type hints
        """Serves this package's stylesheets; refuses every other URL (no network, no files)."""

        def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
            path = _STYLESHEETS.get(url.removeprefix("file://"))
            if path is None:
                raise ValueError("the letter PDF loads only its own stylesheet")
            return URLFetcherResponse(
                url, path.read_bytes(), {"Content-Type": "text/css; charset=utf-8"}
            )

    return OwnStylesheets(fail_on_errors=True)


def etag(html: str) -> str:
    """The PDF's ETag, known before rendering it: a digest of the HTML it is made from."""
    return f'"{_digest(html)[:32]}"'


def _digest(html: str) -> str:
    return hashlib.sha256(html.encode("utf-8")).hexdigest()


def render(html: str) -> Document:
    digest = _digest(html)
    with _lock:
        found = _rendered.get(digest)
        if found is None:
            from weasyprint import HTML

            body = HTML(string=html, base_url="file://", url_fetcher=_own_stylesheets()).write_pdf()
            found = Document(body=body, etag=etag(html))
            _rendered[digest] = found
            while len(_rendered) > _KEEP:
                _rendered.popitem(last=False)
        _rendered.move_to_end(digest)
        return found
