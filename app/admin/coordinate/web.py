"""The coordinators' self-signing queue page, `/coordinate/letters/{slug}/sign-requests`.

It lives on the admin floor because it uses the admin page's session and CSRF model
(app/admin/sessions.py, here for coordinator tokens too) under its own cookie and path; its
templates and page shape are the self-signing pages' (app/selfsign/web.py).
"""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Form, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session

from app import audit
from app.admin import sessions
from app.config import get_settings
from app.db import SessionDep
from app.errors import AppError
from app.i18n.negotiation import UiLocale, ui_locale
from app.letters import service as letter_service
from app.letters.dependencies import SlugPath
from app.letters.models import Letter
from app.resolution.visibility import Viewer
from app.security.limits import FailureThrottle, client_key
from app.selfsign import mail, service
from app.selfsign.web import private_page, render
from app.signatures.service import resolution_out

router = APIRouter(prefix="/coordinate", include_in_schema=False)
COOKIE = "undersigned_coordinator"
LOGIN_CSRF_COOKIE = "undersigned_coordinator_login_csrf"
CsrfField = Annotated[str, Form(max_length=100)]
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        "secure": get_settings().secure_cookies or request.url.scheme == "https",
        "path": "/coordinate",
    }


def _english() -> UiLocale:
    return ui_locale("en")


def _login_page(request: Request, *, error: str = "", status_code: int = 200) -> HTMLResponse:
    csrf = secrets.token_urlsafe(24)
    content = render(
        "coordinator_login.html", _english(), csrf=csrf, error=error, next=request.url.path
    )
    response = private_page(content, status_code=status_code)
    response.set_cookie(LOGIN_CSRF_COOKIE, csrf, max_age=3600, **_cookie_flags(request))
    return response


def _coordinator(request: Request, session: Session) -> sessions.AdminSession | None:
    return sessions.verify(session, cookie=request.cookies.get(COOKIE), coordinators=True)


@router.post("/login")
def coordinator_login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)],
    csrf: CsrfField,
    next: Annotated[str, Form(max_length=300, pattern=r"^/coordinate/[a-z0-9/_-]*$")] = (
        "/coordinate/login"
    ),
) -> Response:
    """Exchange a coordinator (or admin) token for a session cookie; failures are throttled
    like the admin page's."""
    throttle: FailureThrottle = request.app.state.login_throttle
    client = client_key(request.scope)
    if throttle.check(client).wait > 0:
        return _login_page(
            request, error="Too many failed logins. Try again later.", status_code=429
        )
    expected = request.cookies.get(LOGIN_CSRF_COOKIE)
    if expected is None or not secrets.compare_digest(expected, csrf):
        return _login_page(request, error="The form expired; please try again.", status_code=403)
    cookie = sessions.issue(session, clear_token=token.strip(), coordinators=True)
    if cookie is None:
        throttle.failed(client)
        audit.record(
            session,
            actor="unauthenticated",
            action="coordinator.login_failed",
            target_type="session",
            target_id=None,
            details={"client": client},
        )
        return _login_page(request, error="That is not a valid token.", status_code=401)
    throttle.succeeded(client)
    response = RedirectResponse(next, status_code=303)
    response.set_cookie(
        COOKIE, cookie, max_age=3600 * get_settings().admin_session_hours, **_cookie_flags(request)
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/coordinate")
    return response


@router.get("/login", response_class=HTMLResponse)
def coordinator_login_page(request: Request) -> HTMLResponse:
    """Log in with a coordinator token."""
    return _login_page(request)


def _queue_page(
    request: Request,
    session: Session,
    *,
    who: sessions.AdminSession,
    letter: Letter,
    notice: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    viewer = Viewer(who.principal)
    rows = []
    for row in service.queue(session, letter=letter):
        resolution = service.resolution_for(session, row=row, viewer=viewer)
        rows.append({"row": row, "resolution": resolution_out(resolution)})
    content = render(
        "coordinator_queue.html",
        _english(),
        letter=letter,
        rows=rows,
        csrf=who.csrf_token,
        notice=notice,
        base=f"/coordinate/letters/{letter.slug}/sign-requests",
    )
    return private_page(content, status_code=status_code)


def _managed(request: Request, session: Session, slug: str) -> tuple[sessions.AdminSession, Letter]:
    who = _coordinator(request, session)
    if who is None:
        raise _LoginNeeded
    return who, letter_service.get_managed(session, slug=slug, principal=who.principal)


class _LoginNeeded(Exception):
    pass


@router.get("/letters/{slug}/sign-requests", response_class=HTMLResponse)
def queue_page(request: Request, session: SessionDep, slug: SlugPath) -> Response:
    """The letter's self-signatures, those waiting for a coordinator first."""
    try:
        who, letter = _managed(request, session, slug)
    except _LoginNeeded:
        return _login_page(request)
    return _queue_page(request, session, who=who, letter=letter)


def _decide(
    request: Request, session: Session, slug: str, csrf: str, action: Any, notice: str
) -> Response:
    try:
        who, letter = _managed(request, session, slug)
    except _LoginNeeded:
        return _login_page(request, error="Please log in again.", status_code=403)
    if not who.check_csrf(csrf):
        return _login_page(request, error="Please log in again.", status_code=403)
    try:
        action(who, letter)
    except AppError as error:
        session.rollback()
        return _queue_page(
            request,
            session,
            who=who,
            letter=letter,
            notice=error.detail,
            status_code=error.status_code,
        )
    return _queue_page(request, session, who=who, letter=letter, notice=notice)


@router.post(
    "/letters/{slug}/sign-requests/{self_signature_id}/verify", response_class=HTMLResponse
)
def queue_verify(
    request: Request,
    session: SessionDep,
    slug: SlugPath,
    self_signature_id: IdPath,
    csrf: CsrfField,
    organisation_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None,
) -> Response:
    """Verify (optionally for another organisation)."""

    def act(who: sessions.AdminSession, letter: Letter) -> None:
        row = service.get_for_letter(session, letter=letter, self_signature_id=self_signature_id)
        service.verify(
            session,
            letter=letter,
            row=row,
            principal=who.principal,
            organisation_id=organisation_id,
        )

    return _decide(request, session, slug, csrf, act, "Verified: the signature counts.")


@router.post(
    "/letters/{slug}/sign-requests/{self_signature_id}/reject", response_class=HTMLResponse
)
def queue_reject(
    request: Request,
    session: SessionDep,
    background: BackgroundTasks,
    slug: SlugPath,
    self_signature_id: IdPath,
    csrf: CsrfField,
    reason: Annotated[str, Form(min_length=1, max_length=2000)],
) -> Response:
    """Reject with a reason, which the signer is told by email."""

    def act(who: sessions.AdminSession, letter: Letter) -> None:
        row = service.get_for_letter(session, letter=letter, self_signature_id=self_signature_id)
        outgoing = service.reject(
            session, letter=letter, row=row, principal=who.principal, reason=reason.strip()
        )
        if outgoing is not None:
            background.add_task(mail.send, outgoing)

    return _decide(request, session, slug, csrf, act, "Rejected; the signer is told why.")


@router.post("/logout")
def coordinator_logout(request: Request, session: SessionDep, csrf: CsrfField) -> Response:
    """End the session, on the server too."""
    who = _coordinator(request, session)
    if who is not None and who.check_csrf(csrf):
        sessions.revoke(session, admin=who)
    response = RedirectResponse("/coordinate/login", status_code=303)
    response.delete_cookie(COOKIE, path="/coordinate")
    return response
