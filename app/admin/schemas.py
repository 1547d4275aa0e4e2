"""Request and response shapes of the admin API."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator

OrganisationIdField = Field(ge=1, le=2**31 - 1)


class MergeCreate(BaseModel):
    survivor_id: StrictInt = OrganisationIdField
    merged_ids: list[StrictInt] = Field(min_length=1, max_length=100)

    @field_validator("merged_ids")
    @classmethod
    def _ids(cls, values: list[int]) -> list[int]:
        for value in values:
            if not 1 <= value <= 2**31 - 1:
                raise ValueError("organisation ids are positive integers")
        return values


class MergeAdmin(BaseModel):
    merge_id: int
    survivor_id: int
    merged_ids: list[int]
    actor: str
    created_at: datetime
    undone_at: datetime | None
    undone_by: str | None
    moved_names: int
    moved_signatures: int | None = None
    retired_signatures: int | None = None
    letters: list[str] | None = None


class MergesAdmin(BaseModel):
    data: list[MergeAdmin]
    next_cursor: str | None


class UndoCreate(BaseModel):
    record_different: StrictBool = Field(
        default=True,
        description="Record a `different` verdict for the pair so automatic matching cannot "
        "redo the mistake",
    )


class JudgementCreate(BaseModel):
    organisation_ids: list[StrictInt] = Field(min_length=2, max_length=2)
    verdict: Literal["different"]

    @field_validator("organisation_ids")
    @classmethod
    def _pair(cls, values: list[int]) -> list[int]:
        for value in values:
            if not 1 <= value <= 2**31 - 1:
                raise ValueError("organisation ids are positive integers")
        if values[0] == values[1]:
            raise ValueError("a judgement needs two different organisations")
        return values


class JudgementAdmin(BaseModel):
    id: int
    organisation_ids: list[int]
    verdict: str
    actor: str
    created_at: datetime


class DuplicateNameAdmin(BaseModel):
    name: str
    script: str | None
    lang: str | None
    is_acronym: bool


class DuplicateOrganisationAdmin(BaseModel):
    id: int
    names: list[DuplicateNameAdmin]
    country: str | None
    website: str | None


class DuplicateGroupAdmin(BaseModel):
    organisation_ids: list[int]
    score: float
    reasons: list[str]
    source: str
    organisations: list[DuplicateOrganisationAdmin]


class DuplicateGroupsAdmin(BaseModel):
    data: list[DuplicateGroupAdmin]
    count: int


class AuditEventAdmin(BaseModel):
    id: int
    actor: str
    action: str
    target_type: str
    target_id: str | None
    details: dict[str, Any]
    created_at: datetime


class AuditEventsAdmin(BaseModel):
    data: list[AuditEventAdmin]
    next_cursor: str | None


class NameProposalAdmin(BaseModel):
    """A name a coordinator proposed for an organisation other letters show."""

    id: int
    organisation_id: int
    organisation_names: list[str]
    name: str
    lang: str | None
    is_acronym: bool | None
    status: str
    proposed_by: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class NameProposalsAdmin(BaseModel):
    data: list[NameProposalAdmin]
    count: int
