"""Request and response shapes of organisations."""

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StrictBool, field_validator

from app.fields import (
    CountryOrEmpty,
    LanguageTagOrEmpty,
    OrganisationName,
    WebsiteOrEmpty,
    check_name,
)


class NameCreate(BaseModel):
    name: OrganisationName
    lang: LanguageTagOrEmpty | None = None
    is_acronym: StrictBool | None = None


class OrganisationCreate(BaseModel):
    """An organisation as a coordinator submits it when signing."""

    name: OrganisationName = Field(description="Name as printed; may hold several names")
    other_names: list[str] = Field(default_factory=list, max_length=50)
    lang: LanguageTagOrEmpty | None = None
    country: CountryOrEmpty | None = None
    website: WebsiteOrEmpty | None = None
    kind: str = Field(default="organisation", pattern="^(organisation|individual)$")

    # One validator for the list rather than a typed item: errors name the field
    # `organisation.other_names` and the item in the message, as the API contract has it.
    @field_validator("other_names")
    @classmethod
    def _other_names(cls, values: list[str]) -> list[str]:
        result = []
        for index, value in enumerate(values):
            try:
                result.append(check_name(value))
            except ValueError as exc:
                raise ValueError(f"other_names[{index}] {exc}") from None
        return result


class NamePublic(BaseModel):
    id: int
    name: str
    lang: str | None
    script: str | None
    is_acronym: bool
    is_primary: bool


class OrganisationSignaturePublic(BaseModel):
    letter: str
    position: int
    signed_at: datetime


class OrganisationPublic(BaseModel):
    id: int
    kind: str
    country: str | None
    website: str | None
    merged_into: int | None
    created_at: datetime
    names: list[NamePublic]
    signatures: list[OrganisationSignaturePublic]


class MatchCandidatePublic(BaseModel):
    organisation_id: int
    name: str
    matched_name: str
    score: Annotated[float, AfterValidator(lambda score: round(score, 2))]
    decision: str
    reasons: list[str]


class NameProposalPublic(BaseModel):
    """A name waiting for an admin: shown nowhere and unknown to the resolver until then."""

    id: int
    organisation_id: int
    name: str
    lang: str | None
    is_acronym: bool | None
    status: str
    created_at: datetime
