"""Link tokens of self-signatures: random, sent once by email, stored only as a SHA-256 hash.

A confirmation token works once and expires; a manage token (the signer's private link) lasts
as long as the contact details do (`undersigned purge` deletes it with them).
"""

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete
from sqlmodel import Session, select

from app.config import get_settings
from app.db import utcnow
from app.selfsign.models import SelfSignToken, TokenPurpose

# Longer strings cannot be tokens we minted: refused before hashing or querying.
MAX_TOKEN_LENGTH = 100


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def mint(session: Session, *, self_signature_id: int, purpose: TokenPurpose) -> str:
    """A new token for this self-signature; returns it in clear (only its hash is kept)."""
    clear = secrets.token_urlsafe(32)
    expires_at = None
    if purpose == TokenPurpose.confirm:
        expires_at = utcnow() + timedelta(hours=get_settings().self_sign_token_hours)
    session.add(
        SelfSignToken(
            self_signature_id=self_signature_id,
            purpose=purpose,
            token_hash=hash_token(clear),
            expires_at=expires_at,
        )
    )
    session.flush()
    return clear


def find(session: Session, *, token: str, purpose: TokenPurpose) -> SelfSignToken | None:
    """The live token (unused, unexpired) of this purpose, or None: every failure is alike."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.exec(
        select(SelfSignToken).where(
            SelfSignToken.token_hash == hash_token(token), SelfSignToken.purpose == purpose
        )
    ).first()
    if row is None or row.used_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= utcnow():
        return None
    return row


def use(session: Session, *, row: SelfSignToken) -> None:
    row.used_at = utcnow()
    session.add(row)
    session.flush()


def delete_for(session: Session, *, self_signature_ids: list[int]) -> int:
    if not self_signature_ids:
        return 0
    result = session.execute(
        delete(SelfSignToken).where(
            SelfSignToken.self_signature_id.in_(self_signature_ids)  # type: ignore[attr-defined]
        )
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
