"""Admin page sessions: a signed, expiring cookie that names the token, never holds it.

The cookie is `v1.<actor>.<expires>.<nonce>.<mac>`. The MAC key mixes the server secret with the
hash of the admin token that logged in, so revoking that token ends its sessions at once. The
CSRF token of a session is derived from the same key and the session's nonce. Logging out
records the nonce as revoked, so that a copy of the cookie stops working too.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session, col, select

from app.auth import service as auth_service
from app.auth.models import ApiToken, RevokedSession, Role
from app.auth.service import Principal
from app.config import get_settings
from app.db import utcnow

COOKIE = "undersigned_admin"
LOGIN_CSRF_COOKIE = "undersigned_login_csrf"
ENV_ACTOR = "env"


@lru_cache
def _process_secret() -> bytes:
    return secrets.token_bytes(32)


def server_secret() -> bytes:
    settings = get_settings()
    if settings.session_secret is not None:
        return settings.session_secret.get_secret_value().encode("utf-8")
    if settings.admin_token is not None:
        # Stable across workers and restarts without extra configuration; never the token.
        return hashlib.sha256(
            b"undersigned-session:" + settings.admin_token.get_secret_value().encode("utf-8")
        ).digest()
    return _process_secret()


@dataclass(frozen=True)
class AdminSession:
    principal: Principal
    nonce: str
    key: bytes
    expires: int

    @property
    def csrf_token(self) -> str:
        return hmac.new(self.key, b"csrf|" + self.nonce.encode(), hashlib.sha256).hexdigest()[:40]

    def check_csrf(self, submitted: str | None) -> bool:
        return submitted is not None and hmac.compare_digest(submitted, self.csrf_token)


def _key(token_hash: str) -> bytes:
    return hmac.new(server_secret(), token_hash.encode("ascii"), hashlib.sha256).digest()


def _mac(key: bytes, payload: str) -> str:
    return hmac.new(key, payload.encode("ascii"), hashlib.sha256).hexdigest()


def _token_hash(
    session: Session, actor: str, *, coordinators: bool = False
) -> tuple[str, Principal] | None:
    if actor == ENV_ACTOR:
        env_token = get_settings().admin_token
        if env_token is None:
            return None
        return auth_service.hash_token(env_token.get_secret_value()), Principal(Role.admin, None)
    if not actor.isdigit():
        return None
    token = session.get(ApiToken, int(actor))
    allowed = (Role.admin, Role.coordinator) if coordinators else (Role.admin,)
    if token is None or token.revoked_at is not None or token.role not in allowed:
        return None
    return token.token_hash, Principal(Role(token.role), token.id)


def issue(session: Session, *, clear_token: str, coordinators: bool = False) -> str | None:
    """A session cookie value for an admin token (or, with `coordinators`, a coordinator's:
    the self-signing queue pages, app/selfsign/web.py), or None for any other token."""
    principal = auth_service.authenticate(session, clear_token=clear_token)
    if principal is None or (principal.role != Role.admin and not coordinators):
        return None
    actor = ENV_ACTOR if principal.token_id is None else str(principal.token_id)
    found = _token_hash(session, actor, coordinators=coordinators)
    assert found is not None
    expires = int(time.time()) + get_settings().admin_session_hours * 3600
    payload = f"v1.{actor}.{expires}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_mac(_key(found[0]), payload)}"


def verify(
    session: Session, *, cookie: str | None, coordinators: bool = False
) -> AdminSession | None:
    """The admin session a cookie proves, or None (expired, forged, token revoked); with
    `coordinators`, a coordinator's session too."""
    if not cookie or len(cookie) > 300:
        return None
    parts = cookie.split(".")
    if len(parts) != 5 or parts[0] != "v1" or not parts[2].isdigit():
        return None
    _, actor, expires, nonce, mac = parts
    if int(expires) < time.time():
        return None
    found = _token_hash(session, actor, coordinators=coordinators)
    if found is None:
        return None
    token_hash, principal = found
    key = _key(token_hash)
    if not hmac.compare_digest(_mac(key, ".".join(parts[:4])), mac):
        return None
    if session.exec(select(RevokedSession.id).where(RevokedSession.nonce == nonce)).first():
        return None
    return AdminSession(principal=principal, nonce=nonce, key=key, expires=int(expires))


def revoke(session: Session, *, admin: AdminSession) -> None:
    """End a session for good (logout), and forget revocations of sessions that have expired."""
    now = utcnow()
    session.execute(delete(RevokedSession).where(col(RevokedSession.expires_at) < now))
    # Two logouts of one session at the same instant both succeed: the second finds the row.
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    session.execute(
        insert(RevokedSession)
        .values(nonce=admin.nonce, expires_at=datetime.fromtimestamp(admin.expires, UTC))
        .on_conflict_do_nothing(index_elements=["nonce"])
    )
