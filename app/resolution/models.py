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
    """A pair queued for an admin: the resolver found it plausible but not certain at
    signing (`source` "queued"), or the duplicate scan found it (`scan`, maintained as
    organisations change: app/resolution/queue.py), or both (`scan+queued`)."""

    __tablename__ = "duplicate_candidate"
    __table_args__ = (UniqueConstraint("organisation_a", "organisation_b"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_a: int = Field(foreign_key="organisation.id", index=True)
    organisation_b: int = Field(foreign_key="organisation.id", index=True)
    score: float = Field(index=True)
    source: str = Field(default="queued", max_length=16)
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


class DuplicateQueueState(SQLModel, table=True):
    """How far the stored duplicate queue is maintained: every organisation with a registry
    revision up to `version` has had its scan pairs recomputed (app/resolution/queue.py)."""

    __tablename__ = "duplicate_queue_state"

    id: int | None = Field(default=None, primary_key=True)
    version: int = Field(default=0)


class NameNegative(SQLModel, table=True):
    """An admin said a spelling is NOT this organisation (a `different` verdict on a pair
    carries every name of each side to the other): the resolver never links that spelling to
    it, nor queues it with it again, whatever the score (app/resolution/learned.py)."""

    __tablename__ = "name_negative"
    __table_args__ = (UniqueConstraint("organisation_id", "normalised"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    normalised: str = Field(max_length=600, index=True)
    actor: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
