"""API tokens (stored as hashes) and coordinators' letter grants."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class Role(StrEnum):
    admin = "admin"
    coordinator = "coordinator"


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(max_length=20)
    # SHA-256 of the token: tokens are 256-bit random, so a fast hash is enough and lets us
    # look a token up by its hash.
    token_hash: str = Field(max_length=64, unique=True, index=True)
    # First characters, to tell tokens apart in listings and logs without revealing them.
    prefix: str = Field(max_length=12)
    label: str | None = Field(default=None, max_length=200)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    revoked_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    # Recorded at most once per USE_RECORD_INTERVAL (app/auth/service.py), after the response.
    last_used_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class LetterGrant(SQLModel, table=True):
    __tablename__ = "letter_grant"
    __table_args__ = (UniqueConstraint("token_id", "letter_id"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_token.id", index=True)
    letter_id: int = Field(foreign_key="letter.id", index=True)


class RevokedSession(SQLModel, table=True):
    """An admin page session ended by logging out: its cookie is still signed and unexpired,
    so the signature alone would let a copy of it in. Kept until the session would expire."""

    __tablename__ = "revoked_session"

    id: int | None = Field(default=None, primary_key=True)
    nonce: str = Field(max_length=40, unique=True, index=True)
    expires_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
