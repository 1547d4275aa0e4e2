"""The admin page `/admin`: review queue side by side, proposed names, merge history with undo.

Server-rendered (Jinja2), no JavaScript. Login exchanges an admin token once for a signed session
cookie (app/admin/sessions.py); every form carries the session's CSRF token, checked here.
"""

import logging
import math
import secrets
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from app import audit
from app.admin import merges as merge_service
from app.admin import review, sessions
from app.config import get_settings
from app.db import SessionDep
from app.errors import AppError, Forbidden
from app.resolution import proposals
from app.security.limits import FailureThrottle, client_key

router = APIRouter(prefix="/admin", include_in_schema=False)
logger = logging.getLogger("undersigned.admin")
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
QUEUE_SIZE = review.QUEUE_SIZE
_NOTICES = {
    "merged": "Merged. The merge can be undone below.",
    "undone": "Merge undone; the organisations are back as they were.",
    "different": "Recorded as different: this pair will not be suggested again.",
    "accepted": "Name accepted: it is shown and matched from now on.",
    "rejected": "Name rejected: it will be shown nowhere.",
    "login": "Logged in.",
}
IdField = Annotated[int, Form(ge=1, le=2**31 - 1)]
CsrfField = Annotated[str, Form(max_length=100)]


def _headers(nonce: str) -> dict[str, str]:
    return {
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def _render(
    request: Request, template: str, context: dict[str, Any], status_code: int = 200
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(12)
    response = templates.TemplateResponse(
        request, template, context | {"style_nonce": nonce}, status_code=status_code
    )
    response.headers.update(_headers(nonce))
    return response


def _redirect(location: str) -> RedirectResponse:
    response = RedirectResponse(location, status_code=303)
    response.headers.update(_headers("none"))
    return response


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {
        "httponly": True,
        "samesite": "strict",
        # Behind a TLS-terminating proxy the request may look like plain http to the app.
        "secure": get_settings().secure_cookies or request.url.scheme == "https",
        "path": "/admin",
    }


def _session(request: Request, session: Session) -> sessions.AdminSession | None:
    return sessions.verify(session, cookie=request.cookies.get(sessions.COOKIE))


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    status_code: int = 200,
    retry_after: float = 0.0,
) -> Response:
    csrf = secrets.token_urlsafe(24)
    response = _render(request, "login.html", {"csrf": csrf, "error": error}, status_code)
    response.set_cookie(sessions.LOGIN_CSRF_COOKIE, csrf, max_age=3600, **_cookie_flags(request))
    if retry_after > 0:
        response.headers["Retry-After"] = str(_seconds(retry_after))
    return response


def _skips(values: list[str]) -> set[tuple[int, int]]:
    result = set()
    for value in values[:200]:
        first, _, second = value.partition("-")
        if first.isdigit() and second.isdigit():
            a, b = int(first), int(second)
            result.add((min(a, b), max(a, b)))
    return result


def _review_page(
    request: Request,
    session: Session,
    admin: sessions.AdminSession,
    *,
    skip: set[tuple[int, int]] | None = None,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    size: int = QUEUE_SIZE,
) -> Response:
    context = review.page_context(session, skip=skip or set(), limit=size)
    context |= {
        "csrf": admin.csrf_token,
        "actor": admin.principal.actor,
        "notice": notice,
        "error": error,
    }
    return _render(request, "review.html", context, status_code)


@router.get("", response_class=HTMLResponse)
def admin_page(
    request: Request,
    session: SessionDep,
    skip: Annotated[list[str], Query(max_length=200)] = [],  # noqa: B006
    done: Annotated[str | None, Query(max_length=20)] = None,
    size: Annotated[int, Query(ge=1, le=100)] = QUEUE_SIZE,
) -> Response:
    """The admin review page (login form when not logged in)."""
    admin = _session(request, session)
    if admin is None:
        return _login_page(request)
    return _review_page(
        request, session, admin, skip=_skips(skip), notice=_NOTICES.get(done or ""), size=size
    )


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=200)],
    csrf: CsrfField,
) -> Response:
    """Exchange an admin token for a session cookie; failures lock the address out for longer
    and longer (docs/decisions/0077-admin-login-abuse.md)."""
    throttle: FailureThrottle = request.app.state.login_throttle
    client = client_key(request.scope)
    locked = throttle.check(client)
    if locked.wait > 0:
        # Not checked at all, so a guess made now teaches nothing; counted for the next audit.
        return _login_page(
            request,
            error=f"Too many failed logins. Try again in {_seconds(locked.wait)} seconds.",
            status_code=429,
            retry_after=locked.wait,
        )
    expected = request.cookies.get(sessions.LOGIN_CSRF_COOKIE)
    if expected is None or not secrets.compare_digest(expected, csrf):
        return _login_page(request, error="The form expired; please try again.", status_code=403)
    cookie = sessions.issue(session, clear_token=token.strip())
    if cookie is None:
        failed = throttle.failed(client)
        # Who tried and how often, never what they typed.
        audit.record(
            session,
            actor="unauthenticated",
            action="admin.login_failed",
            target_type="session",
            target_id=None,
            details={
                "client": client,
                "failures": failed.failures,
                "refused_before": failed.refused,
                "lockout_seconds": _seconds(failed.wait),
            },
        )
        if failed.wait:
            logger.warning(
                "admin login: %s locked out for %d s after %d failures",
                client,
                _seconds(failed.wait),
                failed.failures,
            )
        return _login_page(
            request,
            error="That is not a valid admin token.",
            status_code=401,
            retry_after=failed.wait,
        )
    admin = sessions.verify(session, cookie=cookie)
    assert admin is not None
    passed = throttle.succeeded(client)
    audit.record(
        session,
        actor=admin.principal.actor,
        action="admin.login",
        target_type="session",
        target_id=None,
        details={"client": client, "failures_before": passed.failures},
    )
    response = _redirect("/admin?done=login")
    response.set_cookie(
        sessions.COOKIE,
        cookie,
        max_age=3600 * get_settings().admin_session_hours,
        **_cookie_flags(request),
    )
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE, path="/admin")
    return response


def _seconds(wait: float) -> int:
    return max(1, math.ceil(wait)) if wait > 0 else 0


def _require(request: Request, session: Session, csrf: str) -> sessions.AdminSession:
    admin = _session(request, session)
    if admin is None:
        raise Forbidden("your admin session has expired; log in again", error="no_session")
    if not admin.check_csrf(csrf):
        raise Forbidden("the form's CSRF token is missing or wrong", error="csrf_failed")
    return admin


def _act(request: Request, session: Session, csrf: str, action: Any, done: str) -> Response:
    try:
        admin = _require(request, session, csrf)
    except AppError:
        session.rollback()
        return _login_page(request, error="Please log in again.", status_code=403)
    try:
        action(admin.principal.actor)
    except AppError as error:
        # Nothing of a refused action is kept; the page explains why.
        session.rollback()
        return _review_page(
            request, session, admin, error=error.detail, status_code=error.status_code
        )
    return _redirect(f"/admin?done={done}")


@router.post("/logout")
def logout(request: Request, session: SessionDep, csrf: CsrfField) -> Response:
    """End the admin session, on the server too."""
    admin = _session(request, session)
    if admin is not None:
        if not admin.check_csrf(csrf):
            return _review_page(
                request, session, admin, error="CSRF check failed.", status_code=403
            )
        # A copy of the cookie (another browser, a stolen one) stops working too.
        sessions.revoke(session, admin=admin)
        audit.record(
            session,
            actor=admin.principal.actor,
            action="admin.logout",
            target_type="session",
            target_id=None,
        )
    response = _redirect("/admin")
    response.delete_cookie(sessions.COOKIE, path="/admin")
    return response


@router.post("/merge")
def merge_pair(
    request: Request,
    session: SessionDep,
    survivor_id: IdField,
    merged_id: IdField,
    csrf: CsrfField,
) -> Response:
    """Merge one organisation of a pair into the other."""
    return _act(
        request,
        session,
        csrf,
        lambda actor: merge_service.merge(
            session, survivor_id=survivor_id, merged_ids=[merged_id], actor=actor
        ),
        "merged",
    )


@router.post("/different")
def judge_different(
    request: Request,
    session: SessionDep,
    organisation_a: IdField,
    organisation_b: IdField,
    csrf: CsrfField,
) -> Response:
    """Record that a pair is two different organisations."""
    return _act(
        request,
        session,
        csrf,
        lambda actor: review.record_different(
            session, a=organisation_a, b=organisation_b, actor=actor
        ),
        "different",
    )


@router.post("/name-proposal")
def decide_name_proposal(
    request: Request,
    session: SessionDep,
    proposal_id: IdField,
    csrf: CsrfField,
    accept: Annotated[bool, Form()],
) -> Response:
    """Accept or reject a name a coordinator proposed."""
    return _act(
        request,
        session,
        csrf,
        lambda actor: proposals.decide(
            session, proposal_id=proposal_id, accept=accept, actor=actor
        ),
        "accepted" if accept else "rejected",
    )


@router.post("/undo")
def undo_merge(
    request: Request,
    session: SessionDep,
    merge_id: IdField,
    csrf: CsrfField,
    record_different_verdict: Annotated[bool, Form()] = True,
) -> Response:
    """Undo a merge exactly (recording the pair as different unless unticked)."""
    return _act(
        request,
        session,
        csrf,
        lambda actor: merge_service.undo(
            session, merge_id=merge_id, actor=actor, record_different=record_different_verdict
        ),
        "undone",
    )
