"""Self-signatures (a signing request made by the organisation itself) and their link tokens.

Contact details live here and nowhere else: the public `signature` row made from a
self-signature carries only what every signature carries.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class SelfSignState(StrEnum):
    pending_confirmation = "pending_confirmation"
    # Confirmed by email; the email's domain is the organisation's known website's domain.
    domain_verified = "domain_verified"
    # Confirmed by email, nothing ties the address to the organisation: a coordinator decides.
    unverified = "unverified"
    verified = "verified"
    rejected = "rejected"
    withdrawn = "withdrawn"


class TokenPurpose(StrEnum):
    confirm = "confirm"
    manage = "manage"


class SelfSignature(SQLModel, table=True):
    __tablename__ = "self_signature"

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True)
    state: str = Field(default=SelfSignState.pending_confirmation, max_length=24, index=True)
    # The organisation as submitted ({name, other_names, country, website, lang}).
    submitted: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    anonymous: bool = False
    # Never public; erased by `undersigned purge` (contact_* set to None, purged_at set).
    contact_name: str | None = Field(default=None, max_length=300)
    contact_email: str | None = Field(default=None, max_length=320)
    # SHA-256 of the normalised address: per-email limits, kept after the purge.
    email_hash: str = Field(max_length=64, index=True)
    # The organisation a coordinator chose (a correction), else the resolver's at verification.
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id")
    # The public signature this request became (None while it does not count, or when the
    # organisation had already signed by other means: its withdrawal must not touch that one).
    signature_id: int | None = Field(default=None, foreign_key="signature.id")
    text_version: int = 1
    text_lang: str = Field(max_length=35)
    reject_reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    confirmed_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    decided_by: str | None = Field(default=None, max_length=40)
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    purged_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))


class SelfSignToken(SQLModel, table=True):
    """A link sent by email: only the SHA-256 of the token is stored."""

    __tablename__ = "self_sign_token"

    id: int | None = Field(default=None, primary_key=True)
    self_signature_id: int = Field(foreign_key="self_signature.id", index=True)
    purpose: str = Field(max_length=10)
    token_hash: str = Field(max_length=64, unique=True)
    expires_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
    used_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
