"""Token minting, lookup by hash, and who may manage which letter."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from app.auth.models import ApiToken, LetterGrant, Role
from app.config import get_settings
from app.db import utcnow
from app.errors import BadRequest, NotFound

TOKEN_PREFIX = "us_"
# `token list` shows when a token was last used to this precision; finer would make every
# authenticated read a write.
USE_RECORD_INTERVAL = timedelta(hours=1)


@dataclass(frozen=True)
class Principal:
    role: Role
    token_id: int | None  # None for the bootstrap admin token from the environment
    last_used_at: datetime | None = field(default=None, compare=False)

    @property
    def use_due(self) -> bool:
        """Whether this use should be recorded (see record_use)."""
        return self.token_id is not None and (
            self.last_used_at is None or utcnow() - self.last_used_at >= USE_RECORD_INTERVAL
        )

    @property
    def actor(self) -> str:
        return "env-admin" if self.token_id is None else f"token:{self.token_id}"

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create(
    session: Session, *, role: Role, letter_ids: list[int] | None = None, label: str | None = None
) -> tuple[ApiToken, str]:
    """Mint a token; the clear token is returned once and never stored."""
    clear = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(role=role, token_hash=hash_token(clear), prefix=clear[:10], label=label)
    session.add(token)
    session.flush()
    assert token.id is not None
    for letter_id in letter_ids or []:
        session.add(LetterGrant(token_id=token.id, letter_id=letter_id))
    session.flush()
    return token, clear


def revoke(session: Session, *, token_id: int) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None:
        raise NotFound(f"no token with id {token_id}", field="token_id")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.flush()
    return token


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.exec(select(ApiToken).order_by(ApiToken.id)))  # type: ignore[arg-type]


def authenticate(session: Session, *, clear_token: str) -> Principal | None:
    """The principal for a presented token, or None when it is unknown or revoked."""
    env_token = get_settings().admin_token
    if env_token is not None and hmac.compare_digest(
        clear_token.encode("utf-8"), env_token.get_secret_value().encode("utf-8")
    ):
        return Principal(role=Role.admin, token_id=None)
    digest = hash_token(clear_token)
    token = session.exec(select(ApiToken).where(ApiToken.token_hash == digest)).first()
    # The lookup is by a hash of a 256-bit secret; comparing digests in constant time on top
    # keeps the check free of timing signals even if the index lookup were not.
    if token is None or not hmac.compare_digest(token.token_hash, digest):
        return None
    if token.revoked_at is not None:
        return None
    return Principal(role=Role(token.role), token_id=token.id, last_used_at=token.last_used_at)


def record_use(session: Session, *, token_id: int) -> None:
    """Set last_used_at, unless another request did within USE_RECORD_INTERVAL."""
    now = utcnow()
    session.execute(
        update(ApiToken)
        .where(
            col(ApiToken.id) == token_id,
            or_(
                col(ApiToken.last_used_at).is_(None),
                col(ApiToken.last_used_at) <= now - USE_RECORD_INTERVAL,
            ),
        )
        .values(last_used_at=now)
    )


def grant(session: Session, *, token_id: int, letter_id: int) -> None:
    existing = session.exec(
        select(LetterGrant).where(
            LetterGrant.token_id == token_id, LetterGrant.letter_id == letter_id
        )
    ).first()
    if existing is None:
        session.add(LetterGrant(token_id=token_id, letter_id=letter_id))
        session.flush()


def granted_letter_ids(session: Session, *, principal: Principal) -> set[int]:
    if principal.token_id is None:
        return set()
    return set(
        session.exec(
            select(LetterGrant.letter_id).where(LetterGrant.token_id == principal.token_id)
        )
    )


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise BadRequest(
            f"role must be one of: {', '.join(r.value for r in Role)}", field="role"
        ) from None
