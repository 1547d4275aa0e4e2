"""Authorization header → Principal; 401 for a bad token, 403 for a role that is not enough."""

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.auth import service
from app.auth.models import Role
from app.auth.service import Principal
from app.db import SessionDep
from app.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="API token: `Authorization: Bearer <token>`")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def optional_principal(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
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
    return principal


def coordinator(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized("this endpoint needs a coordinator or admin token", headers=_CHALLENGE)
    return principal


def admin(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise Unauthorized("this endpoint needs an admin token", headers=_CHALLENGE)
    if principal.role != Role.admin:
        raise Forbidden("this endpoint needs an admin token")
    return principal


OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
CoordinatorUser = Annotated[Principal, Depends(coordinator)]
AdminUser = Annotated[Principal, Depends(admin)]
