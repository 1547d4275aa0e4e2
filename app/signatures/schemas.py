"""Request and response shapes of signatures."""

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from app.organisations.schemas import OrganisationIn
from app.resolution.names import MAX_NAME_LENGTH, NameError_, validate_name


class SignatureCreate(BaseModel):
    # Field order matters: `organisation` is validated last so it can see the others.
    anonymous: StrictBool = False
    display_name: str | None = Field(default=None, max_length=MAX_NAME_LENGTH)
    organisation_id: StrictInt | None = Field(default=None, ge=1, le=2**31 - 1)
    organisation: OrganisationIn | None = Field(default=None, validate_default=True)

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return validate_name(value)
        except NameError_ as exc:
            raise ValueError(str(exc)) from None

    @field_validator("organisation")
    @classmethod
    def _who(cls, value: OrganisationIn | None, info: ValidationInfo) -> OrganisationIn | None:
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


class SignatureOut(BaseModel):
    id: int
    letter: str
    organisation_id: int | None
    anonymous: bool
    display_name: str | None
    position: int
    signed_at: datetime
    source: str
    withdrawn_at: datetime | None


class SignResponse(SignatureOut):
    resolution: ResolutionPublic


class SignaturesOut(BaseModel):
    data: list[SignatureOut]
    count: int
    next_cursor: str | None


class Signatory(BaseModel):
    position: int = Field(
        description="Rank among the public signatories (1, 2, 3, …): anonymous and withdrawn "
        "signatures leave no gap"
    )
    name: str


class SignatoriesPublic(BaseModel):
    letter: str
    lang: str | None
    data: list[Signatory]
    named_count: int
    anonymous_count: int
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page (how many public entries came before)"
    )
