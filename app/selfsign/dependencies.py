"""Path and body guards of the self-signing routes."""

from typing import Annotated

from fastapi import Depends, Request

from app.config import get_settings
from app.db import SessionDep
from app.errors import PayloadTooLarge
from app.letters import service as letter_service
from app.letters.dependencies import SlugPath
from app.letters.models import Letter


def small_body(request: Request) -> None:
    """A sign request is a few hundred bytes: far less than the app-wide body limit.

    Judged by Content-Length (reading the body here would consume the stream that the form
    parser reads next); a body sent without one still meets the app-wide limit, which counts.
    """
    limit = get_settings().self_sign_max_body_bytes
    declared = request.headers.get("content-length")
    if declared is None:
        chunked = "transfer-encoding" in request.headers
    else:
        chunked = False
        if not declared.isdigit() or int(declared) > limit:
            raise PayloadTooLarge(f"a sign request is at most {limit} bytes", field="body")
    if chunked:
        raise PayloadTooLarge(
            f"a sign request is at most {limit} bytes and must say how long it is",
            field="body",
        )


def public_letter(slug: SlugPath, session: SessionDep) -> Letter:
    """The letter as the public sees it (a draft is 404, whoever asks)."""
    return letter_service.get_visible(session, slug=slug, principal=None)


SmallBody = Depends(small_body)
PublicLetter = Annotated[Letter, Depends(public_letter)]
