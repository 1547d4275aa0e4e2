"""Request and response shapes of signatures."""

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from app.fields import OrganisationName
from app.organisations.schemas import OrganisationCreate


class SignatureCreate(BaseModel):
    # Field order matters: `organisation` is validated last so it can see the others.
    anonymous: StrictBool = False
    display_name: OrganisationName | None = None
    organisation_id: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    organisation: OrganisationCreate | None = Field(default=None, validate_default=True)

    @field_validator("organisation")
    @classmethod
    def _who(
        cls, value: OrganisationCreate | None, info: ValidationInfo
    ) -> OrganisationCreate | None:
        if value is not None and info.data.get("organisation_id") is not None:
            raise ValueError("give organisation or organisation_id, not both")
        if (
            value is None
            and info.data.get("organisation_id") is None
            and not info.data.get("anonymous")
        ):
            raise ValueError("give organisation or organisation_id, or sign with anonymous: true")
        return value


class CandidatePublic(BaseModel):
    organisation_id: int
    name: str
    score: float
    reasons: list[str] = Field(default_factory=list)


class ResolutionPublic(BaseModel):
    status: str = Field(description="existing | new | needs_review | none (identity-less)")
    score: float
    matched_name: str | None
    candidates: list[CandidatePublic]


class SignaturePublic(BaseModel):
    id: int
    letter: str
    organisation_id: int | None
    anonymous: bool
    display_name: str | None
    position: int
    signed_at: datetime
    source: str
    withdrawn_at: datetime | None


class SignResponse(SignaturePublic):
    resolution: ResolutionPublic


class SignaturesPublic(BaseModel):
    data: list[SignaturePublic]
    count: int
    next_cursor: str | None


class SignatoryPublic(BaseModel):
    position: int = Field(
        description="Rank among the public signatories (1, 2, 3, …): anonymous and withdrawn "
        "signatures leave no gap"
    )
    name: str


class SignatoriesPublic(BaseModel):
    letter: str
    lang: str | None
    data: list[SignatoryPublic]
    named_count: int
    anonymous_count: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (how many public entries came before)"
    )
