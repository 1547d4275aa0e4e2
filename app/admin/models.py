"""Judgements, merges (undoable), duplicate candidates queued at signing, and the audit log."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class Verdict(StrEnum):
    same = "same"
    different = "different"


class Judgement(SQLModel, table=True):
    __tablename__ = "judgement"
    __table_args__ = (UniqueConstraint("organisation_a", "organisation_b"),)

    id: int | None = Field(default=None, primary_key=True)
    # Stored with organisation_a < organisation_b.
    organisation_a: int = Field(foreign_key="organisation.id", index=True)
    organisation_b: int = Field(foreign_key="organisation.id", index=True)
    verdict: str = Field(max_length=10)
    actor: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class MergeRecord(SQLModel, table=True):
    __tablename__ = "merge_record"

    id: int | None = Field(default=None, primary_key=True)
    survivor_id: int = Field(foreign_key="organisation.id", index=True)
    merged_ids: list[int] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Everything needed to restore the state before the merge exactly.
    snapshot: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    actor: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    undone_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    undone_by: str | None = Field(default=None, max_length=40)


class DuplicateCandidate(SQLModel, table=True):
    """A pair the resolver found plausible but not certain, queued for an admin."""

    __tablename__ = "duplicate_candidate"
    __table_args__ = (UniqueConstraint("organisation_a", "organisation_b"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_a: int = Field(foreign_key="organisation.id", index=True)
    organisation_b: int = Field(foreign_key="organisation.id", index=True)
    score: float
    reasons: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    # "token:<id>" or "env-admin"; never the token itself.
    actor: str = Field(max_length=40, index=True)
    action: str = Field(max_length=60)
    target_type: str = Field(max_length=40)
    target_id: str | None = Field(default=None, max_length=80)
    # Ids and counts only: an anonymous signer's identity never goes here in clear text.
    details: dict = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
