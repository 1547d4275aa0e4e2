"""Signatures of letters, and the idempotency records of sign requests."""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class SignatureSource(StrEnum):
    api = "api"
    imported = "import"
    seed = "seed"


# Marks a column that signatory CSV files carry as a cell of the same name, for the import and
# the coordinator's export (`Field(..., sa_column_kwargs=CSV_COLUMN)`): a plain value of the
# signature, validated on import by its field in SignatureCreate (app/imports/parsing.py).
CSV_COLUMN: dict[str, Any] = {"info": {"csv": True}}


class Signature(SQLModel, table=True):
    __tablename__ = "signature"
    __table_args__ = (
        # At most one live signature per (letter, organisation); enforced by the database so
        # that concurrent workers cannot double-count.
        Index(
            "uq_signature_live_letter_organisation",
            "letter_id",
            "organisation_id",
            unique=True,
            sqlite_where=text("withdrawn_at IS NULL AND organisation_id IS NOT NULL"),
            postgresql_where=text("withdrawn_at IS NULL AND organisation_id IS NOT NULL"),
        ),
        UniqueConstraint("letter_id", "position"),
    )

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True)
    organisation_id: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    anonymous: bool = False
    display_name: str | None = Field(default=None, max_length=300)
    position: int
    signed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    source: str = Field(default=SignatureSource.api, max_length=10)
    withdrawn_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class IdempotencyRecord(SQLModel, table=True):
    """First response to a sign request, replayed for a retry with the same key."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("token_key", "letter_id", "key"),)

    id: int | None = Field(default=None, primary_key=True)
    # Who sent it (token id, or "env-admin"): keys are scoped per caller.
    token_key: str = Field(max_length=40)
    letter_id: int = Field(foreign_key="letter.id")
    key: str = Field(max_length=200)
    request_hash: str = Field(max_length=64)
    status_code: int
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
