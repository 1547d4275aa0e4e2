"""Request and response shapes of letters."""

from datetime import datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    Field,
    StrictBool,
    StrictInt,
    ValidationInfo,
    field_validator,
)

from app.fields import LanguageTag, LongText, ShortText, Title, check_title
from app.letters.models import LetterStatus

SLUG_PATTERN = r"^[a-z0-9-]{3,80}$"
# Why a signed letter's text changed (docs/decisions/0097): shown with the version history.
ChangeReason = Annotated[str, Field(min_length=1, max_length=2000), AfterValidator(check_title)]


class TranslationCreate(BaseModel):
    lang: LanguageTag
    title: Title
    body: LongText = ""
    recipients: ShortText = Field(
        default="", description="Empty: the original's recipients are shown"
    )


class LetterCreate(BaseModel):
    slug: str = Field(
        pattern=SLUG_PATTERN,
        description="[a-z0-9-]{3,80}; unique among published letters and the creator's drafts",
    )
    title: Title
    lang: LanguageTag = Field(description="BCP 47 language of the original text")
    body: LongText = ""
    recipients: ShortText = ""
    status: LetterStatus = LetterStatus.draft
    declared_total: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    declared_anonymous: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    translations: list[TranslationCreate] = Field(default_factory=list, max_length=100)
    self_signing: StrictBool = Field(
        default=False, description="organisations may sign through the public form"
    )
    self_sign_counts_unverified: StrictBool = False
    self_sign_withdraw_after_close: StrictBool = True

    @field_validator("declared_anonymous")
    @classmethod
    def _declared(cls, value: int | None, info: ValidationInfo) -> int | None:
        total = info.data.get("declared_total")
        if total is not None and value is not None and value > total:
            raise ValueError("must not exceed declared_total")
        return value


class LetterUpdate(BaseModel):
    """Every field optional; text fields are refused once the letter has signatures."""

    # An explicit null reaches the service, which refuses it for text fields with a 400.
    slug: str | None = Field(
        default=None, pattern=SLUG_PATTERN, description="a new slug, for a draft only"
    )
    title: Title | None = None
    body: LongText | None = None
    recipients: ShortText | None = None
    lang: LanguageTag | None = None
    status: LetterStatus | None = None
    declared_total: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    declared_anonymous: StrictInt | None = Field(default=None, ge=0, le=10_000_000)
    translations: list[TranslationCreate] | None = Field(default=None, max_length=100)
    # The public signing form (app/selfsign): open it, whether self-signatures a coordinator
    # has not verified count, whether signers may withdraw once the letter is closed.
    self_signing: StrictBool | None = None
    self_sign_counts_unverified: StrictBool | None = None
    self_sign_withdraw_after_close: StrictBool | None = None
    text_change_reason: ChangeReason | None = Field(
        default=None,
        description="required to change the text of a signed letter: makes a new version",
    )


class CountsPublic(BaseModel):
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
    counts: CountsPublic
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
    next_cursor: str | None = Field(default=None, description="Pass as `cursor` for the next page")
