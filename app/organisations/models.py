"""Organisation and its names (languages, scripts, acronyms)."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class OrganisationKind(StrEnum):
    organisation = "organisation"
    individual = "individual"


class Organisation(SQLModel, table=True):
    __tablename__ = "organisation"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(default=OrganisationKind.organisation, max_length=20)
    country: str | None = Field(default=None, max_length=2)
    website: str | None = Field(default=None, max_length=500)
    merged_into: int | None = Field(default=None, foreign_key="organisation.id", index=True)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    # Registry version at this organisation's last change: workers reload what moved past
    # the version they indexed (see app/resolution/index.py).
    revision: int = Field(default=0, index=True)


class OrganisationName(SQLModel, table=True):
    __tablename__ = "organisation_name"
    __table_args__ = (Index("ix_organisation_name_normalised", "normalised"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    name: str = Field(max_length=300)
    normalised: str = Field(max_length=600)
    lang: str | None = Field(default=None, max_length=35)
    script: str | None = Field(default=None, max_length=4)
    is_acronym: bool = False
    is_primary: bool = False
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class RegistryState(SQLModel, table=True):
    """One row: a counter bumped (under its row lock) by every organisation write."""

    __tablename__ = "registry_state"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0)
    # Moved by every admin verdict that records name negatives (learned.record_different):
    # each worker keeps the negatives in memory and reloads them when this number moves.
    negatives: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
