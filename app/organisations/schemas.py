"""Request and response shapes of organisations."""

from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, field_validator

from app.organisations.validation import check_country, check_lang, check_website
from app.resolution.names import MAX_NAME_LENGTH, NameError_, validate_name


class NameCreate(BaseModel):
    name: str = Field(
        max_length=MAX_NAME_LENGTH,
        description="The name as written (1–300 characters)",
    )
    lang: str | None = Field(default=None, max_length=35, description="BCP 47 language tag")
    is_acronym: StrictBool | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return validate_name(value)
        except NameError_ as exc:
            raise ValueError(str(exc)) from None

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        return check_lang(value)


class OrganisationCreate(BaseModel):
    """An organisation as a coordinator submits it when signing."""

    name: str = Field(
        max_length=MAX_NAME_LENGTH,
        description="Name as printed; may hold several names",
    )
    other_names: list[str] = Field(default_factory=list, max_length=50)
    lang: str | None = Field(default=None, max_length=35)
    country: str | None = Field(default=None, max_length=2, description="ISO 3166-1 alpha-2")
    website: str | None = Field(default=None, max_length=500)
    kind: str = Field(default="organisation", pattern="^(organisation|individual)$")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        try:
            return validate_name(value)
        except NameError_ as exc:
            raise ValueError(str(exc)) from None

    @field_validator("other_names")
    @classmethod
    def _other_names(cls, values: list[str]) -> list[str]:
        result = []
        for index, value in enumerate(values):
            try:
                result.append(validate_name(value))
            except NameError_ as exc:
                raise ValueError(f"other_names[{index}] {exc}") from None
        return result

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        return check_lang(value)

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return check_country(value)

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        return check_website(value)


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


class MatchCandidate(BaseModel):
    organisation_id: int
    name: str
    matched_name: str
    score: float
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
