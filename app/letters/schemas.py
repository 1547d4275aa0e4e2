"""Request and response shapes of letters."""

import re
from datetime import datetime

from pydantic import BaseModel, Field, StrictBool, StrictInt, ValidationInfo, field_validator

from app.letters.models import LetterStatus
from app.organisations.validation import check_lang

SLUG_PATTERN = r"^[a-z0-9-]{3,80}$"


def _text(value: str, limit: int) -> str:
    if re.search(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u202a-\u202e\u2066-\u2069]", value):
        raise ValueError("must not contain control or bidi-override characters")
    if len(value) > limit:
        raise ValueError(f"must be at most {limit} characters")
    return value.strip()


class TranslationIn(BaseModel):
    lang: str = Field(max_length=35)
    title: str = Field(min_length=1, max_length=500)
    body: str = Field(default="", max_length=200_000)
    recipients: str = Field(
        default="", max_length=5000, description="Empty: the original's recipients are shown"
    )

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        checked = check_lang(value)
        if checked is None:
            raise ValueError("is required")
        return checked

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = _text(value, 500)
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("body", "recipients")
    @classmethod
    def _body(cls, value: str) -> str:
        return _text(value, 200_000)


class LetterCreate(BaseModel):
    slug: str = Field(
        pattern=SLUG_PATTERN,
        description="[a-z0-9-]{3,80}; unique among published letters and the creator's drafts",
    )
    title: str = Field(min_length=1, max_length=500)
    lang: str = Field(max_length=35, description="BCP 47 language of the original text")
    body: str = Field(default="", max_length=200_000)
    recipients: str = Field(default="", max_length=5000)
    status: LetterStatus = LetterStatus.draft
    declared_total: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    declared_anonymous: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    translations: list[TranslationIn] = Field(default_factory=list, max_length=100)
    self_signing: StrictBool = Field(
        default=False, description="organisations may sign through the public form"
    )
    self_sign_counts_unverified: StrictBool = False
    self_sign_withdraw_after_close: StrictBool = True

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = _text(value, 500)
        if not value:
            raise ValueError("must not be empty")
        return value

    @field_validator("body", "recipients")
    @classmethod
    def _long_text(cls, value: str) -> str:
        return _text(value, 200_000)

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str) -> str:
        checked = check_lang(value)
        if checked is None:
            raise ValueError("is required")
        return checked

    @field_validator("declared_anonymous")
    @classmethod
    def _declared(cls, value: int | None, info: ValidationInfo) -> int | None:
        total = info.data.get("declared_total")
        if total is not None and value is not None and value > total:
            raise ValueError("must not exceed declared_total")
        return value


class LetterUpdate(BaseModel):
    """Every field optional; text fields are refused once the letter has signatures."""

    slug: str | None = Field(
        default=None, pattern=SLUG_PATTERN, description="a new slug, for a draft only"
    )
    title: str | None = Field(default=None, min_length=1, max_length=500)
    body: str | None = Field(default=None, max_length=200_000)
    recipients: str | None = Field(default=None, max_length=5000)
    lang: str | None = Field(default=None, max_length=35)
    status: LetterStatus | None = None
    declared_total: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    declared_anonymous: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    translations: list[TranslationIn] | None = Field(default=None, max_length=100)
    # The public signing form (app/selfsign): open it, whether self-signatures a coordinator
    # has not verified count, whether signers may withdraw once the letter is closed.
    self_signing: StrictBool | None = None
    self_sign_counts_unverified: StrictBool | None = None
    self_sign_withdraw_after_close: StrictBool | None = None
    text_change_reason: str | None = Field(
        default=None,
        min_length=1,
        max_length=2000,
        description="required to change the text of a signed letter: makes a new version",
    )

    @field_validator("text_change_reason")
    @classmethod
    def _reason(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = _text(value, 2000)
        if not value:
            raise ValueError("must not be empty")
        return value

    # An explicit null reaches the service, which refuses it for text fields with a 400; the
    # create-time validators would crash on it (a 500 found by the schema fuzzer).
    @field_validator("title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return None if value is None else LetterCreate._title(value)

    @field_validator("lang")
    @classmethod
    def _lang(cls, value: str | None) -> str | None:
        return None if value is None else LetterCreate._lang(value)

    @field_validator("body", "recipients")
    @classmethod
    def _long_text(cls, value: str | None) -> str | None:
        return None if value is None else _text(value, 200_000)


class Counts(BaseModel):
    total: int
    named: int
    anonymous: int


class TranslationPublic(BaseModel):
    lang: str
    title: str
    body: str
    recipients: str


class LetterPublic(BaseModel):
    slug: str
    title: str
    lang: str
    body: str
    recipients: str
    status: str
    translations: list[TranslationPublic]
    declared_total: int | None
    declared_anonymous: int | None
    count_discrepancy: int | None = Field(description="declared_total minus the actual total")
    counts: Counts
    created_at: datetime
    closed_at: datetime | None
    self_signing: bool
    text_version: int = Field(description="the version of the text signers consent to now")


class VersionPublic(BaseModel):
    version: int
    lang: str
    title: str
    body: str
    recipients: str
    reason: str | None = Field(description="why the text changed (none for the first version)")
    created_at: datetime


class VersionsPublic(BaseModel):
    data: list[VersionPublic]
    count: int


class LettersPublic(BaseModel):
    data: list[LetterPublic]
    count: int
