"""Authorization header → Principal; 401 for a bad token, 403 for a role that is not enough."""

import logging
from typing import Annotated

from fastapi import BackgroundTasks, Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from app.auth import service
from app.auth.models import Role
from app.auth.service import Principal
from app.db import SessionDep, open_session
from app.errors import Forbidden, Unauthorized

logger = logging.getLogger("undersigned")

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer <token>`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def _record_use(token_id: int) -> None:
    # After the response, in its own transaction: a read stays a read, and a busy database
    # delays nobody. Losing one record only makes "last used" an hour staler.
    try:
        with open_session(write=True) as session:
            service.record_use(session, token_id=token_id)
            session.commit()
    except SQLAlchemyError as exc:
        logger.warning("token use not recorded: %s", type(exc).__name__)


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def principal_from(
    session: Session,
    *,
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    background: BackgroundTasks,
) -> Principal | None:
    """The caller's principal, None without a token; 401 for a malformed or unknown one. The
    one home of authentication: the dependencies below, and routes that read it in their own
    thread hand-off (`db.run_in_transaction`)."""
    if credentials is None:
        if request.headers.get("authorization"):
            raise Unauthorized(
                "the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE
            )
        return None
    principal = service.authenticate(session, clear_token=credentials.credentials)
    if principal is None:
        raise Unauthorized("the token is invalid or revoked", headers=_CHALLENGE)
    request.state.actor = principal.actor
    if principal.use_due and principal.token_id is not None:
        background.add_task(_record_use, principal.token_id)
    return principal


def optional_principal(
    request: Request, session: SessionDep, credentials: Bearer, background: BackgroundTasks
) -> Principal | None:
    return principal_from(session, request=request, credentials=credentials, background=background)


def require_coordinator(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("this endpoint needs a coordinator or admin token", headers=_CHALLENGE)
    return principal


# The role checks below read nothing: `async def` runs them on the event loop, where a plain
# `def` dependency costs a hand-off to the thread pool and back for every request.
async def coordinator(
    principal: Annotated[Principal | None, Depends(optional_principal)],
) -> Principal:
    return require_coordinator(principal)


async def admin(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized("this endpoint needs an admin token", headers=_CHALLENGE)
    if principal.role != Role.admin:
        raise Forbidden("this endpoint needs an admin token")
    return principal


OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
CoordinatorUser = Annotated[Principal, Depends(coordinator)]
AdminUser = Annotated[Principal, Depends(admin)]
