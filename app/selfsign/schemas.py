"""Request and response shapes of self-signatures."""

import re
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, StrictBool, StrictInt, field_validator

from app.fields import check_lang
from app.organisations.schemas import OrganisationCreate
from app.signatures.schemas import ResolutionPublic

# Deliberately simple: one @, a dot in the domain, no spaces or angle brackets. The mail
# server is the judge of the rest (a wrong address simply never confirms).
_EMAIL = re.compile(r"^[^\s@<>()\[\],;:\"]{1,64}@[A-Za-z0-9.-]{1,253}\.[A-Za-z0-9-]{2,63}$")


def check_email(value: str) -> str:
    value = value.strip()
    if not _EMAIL.match(value):
        raise ValueError("must be an email address such as name@example.org")
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def check_person(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("must not be empty")
    if re.search(r"[\u0000-\u001f\u202a-\u202e\u2066-\u2069]", value):
        raise ValueError("must not contain control or bidi-override characters")
    return value


class ContactCreate(BaseModel):
    name: str = Field(min_length=1, max_length=300)
    email: str = Field(min_length=3, max_length=320)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return check_person(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str) -> str:
        return check_email(value)


class SignRequestCreate(BaseModel):
    """What the signing form sends; the same body as JSON for partner sites."""

    organisation: OrganisationCreate
    contact: ContactCreate
    anonymous: StrictBool = False
    consent: StrictBool = Field(description="must be true: consent to the exact text shown")
    lang: str | None = Field(
        default=None, max_length=35, description="language of the text the signer read"
    )
    text_version: StrictInt | None = Field(default=None, ge=1, le=1_000_000)

    @field_validator("consent")
    @classmethod
    def _consent(cls, value: bool) -> bool:
        if value is not True:
            raise ValueError("must be true: the signer consents to the text shown")
        return value

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        return check_lang(value)


class SignRequestAccepted(BaseModel):
    status: str = "accepted"
    detail: str


class ContactUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=300)
    email: str | None = Field(default=None, min_length=3, max_length=320)

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else check_person(value)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return None if value is None else check_email(value)


class SelfSignatureVerify(BaseModel):
    organisation_id: StrictInt | None = Field(
        default=None, ge=1, le=2**31 - 1, description="a correction: sign for this organisation"
    )


class SelfSignatureReject(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="told to the signer")

    @field_validator("reason")
    @classmethod
    def _reason(cls, value: str) -> str:
        return check_person(value)


class ContactAdmin(BaseModel):
    name: str | None
    email: str | None


class SelfSignatureAdmin(BaseModel):
    """A self-signature as its letter's coordinators see it (never public)."""

    id: int
    state: str
    organisation: dict[str, Any]
    anonymous: bool
    contact: ContactAdmin
    organisation_id: int | None
    signature_id: int | None
    text_version: int
    text_lang: str
    resolution: ResolutionPublic
    reject_reason: str | None
    created_at: datetime
    confirmed_at: datetime | None
    decided_at: datetime | None


class SelfSignaturesAdmin(BaseModel):
    data: list[SelfSignatureAdmin]
    count: int
