"""Tables of the open-data package: external identifiers, sources of enriched names, and the
server secret that keys public organisation ids."""

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class ExternalIdentifier(SQLModel, table=True):
    """An identifier of an organisation in another register (`wikidata:Q42`).

    Unique per (scheme, value) among the organisations a caller may see, enforced by
    `identifiers.add`, not by the database: a coordinator whose organisation takes an
    identifier that an organisation hidden from them holds must get the same answer as if
    it did not exist, so both rows stand and the pair goes to the admins' duplicate queue."""

    __tablename__ = "external_identifier"
    __table_args__ = (Index("ix_external_identifier_scheme_value", "scheme", "value"),)

    id: int | None = Field(default=None, primary_key=True)
    organisation_id: int = Field(foreign_key="organisation.id", index=True)
    scheme: str = Field(max_length=40)
    value: str = Field(max_length=200)
    added_by: str = Field(max_length=40)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class NameSource(SQLModel, table=True):
    """Where a name added by enrichment came from (`wikidata:Q42`), so that an admin can tell
    it from the names coordinators gave."""

    __tablename__ = "name_source"

    id: int | None = Field(default=None, primary_key=True)
    organisation_name_id: int = Field(foreign_key="organisation_name.id", unique=True)
    source: str = Field(max_length=250)
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class OpendataSecret(SQLModel, table=True):
    """Server secrets created by the migration (random), shared by every worker."""

    __tablename__ = "opendata_secret"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=40, unique=True)
    value: str = Field(max_length=200)
