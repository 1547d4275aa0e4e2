"""Identity records beside the organisation tables: admins' verdicts on pairs, pairs queued for
review, new organisations still to be checked against hidden ones, and proposed names."""

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


class IdentityCheck(SQLModel, table=True):
    """Organisations a transaction created for a caller who cannot see every organisation:
    still to be compared with the ones hidden from that caller, after the response
    (app/resolution/checks.py). Written in the creating transaction, so none is lost."""

    __tablename__ = "identity_check"

    id: int | None = Field(default=None, primary_key=True)
    organisation_ids: list[int] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class ProposalStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    rejected = "rejected"


class NameProposal(SQLModel, table=True):
    """A name a coordinator wants to add to an organisation that letters it does not manage
    show publicly: shown nowhere and unknown to the resolver until an admin accepts it."""

    __tablename__ = "name_proposal"

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=300)
    lang: str | None = Field(default=None, max_length=35)
    is_acronym: bool | None = None
    status: str = Field(default=ProposalStatus.pending, max_length=10, index=True)
    proposed_by: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    decided_by: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = Field(
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )
