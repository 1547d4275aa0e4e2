"""Request and response shapes of open-data endpoints."""

from pydantic import BaseModel, Field


class IdentifierCreate(BaseModel):
    identifier: str = Field(max_length=250, description="scheme:value, e.g. wikidata:Q42")


class IdentifierPublic(BaseModel):
    scheme: str
    value: str
    url: str | None


class IdentifiersPublic(BaseModel):
    organisation_id: int
    identifiers: list[IdentifierPublic]
