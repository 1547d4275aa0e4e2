"""Letter: the text organisations sign, with translations and declared counts."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Column, Index, Text, UniqueConstraint, false, text, true
from sqlmodel import Field, SQLModel

from app.db import UTCDateTime, utcnow


class LetterStatus(StrEnum):
    draft = "draft"
    open = "open"
    closed = "closed"


_DRAFT = text("status = 'draft'")
_PUBLISHED = text("status != 'draft'")


class Letter(SQLModel, table=True):
    __tablename__ = "letter"
    # A slug names one published letter, and one draft per creator: a draft does not hold its
    # slug against other coordinators, who must not learn that it exists (docs/decisions/0076).
    __table_args__ = (
        Index(
            "uq_letter_published_slug",
            "slug",
            unique=True,
            sqlite_where=_PUBLISHED,
            postgresql_where=_PUBLISHED,
        ),
        Index(
            "uq_letter_draft_slug",
            "slug",
            text("coalesce(created_by_token_id, 0)"),
            unique=True,
            sqlite_where=_DRAFT,
            postgresql_where=_DRAFT,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=80, index=True)
    title: str = Field(max_length=500)
    lang: str = Field(max_length=35)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recipients: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    status: str = Field(default=LetterStatus.draft, max_length=10)
    declared_total: int | None = None
    declared_anonymous: int | None = None
    created_by_token_id: int | None = Field(default=None, foreign_key="api_token.id")
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    closed_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime(), nullable=True))
    # Bumped with counts_changed_at on every signature write (sign, withdraw, merge, import), so
    # caches in every worker can tell that a count may have moved.
    revision: int = Field(default=0)
    counts_changed_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
    # The highest position any signature of the letter holds (withdrawn ones included): a
    # signer takes the next one in the same statement that takes the letter's row lock, so
    # that lock is held for one statement and COMMIT (docs/decisions/0109).
    last_position: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # How many webhook subscriptions the letter has (app/webhooks): a signer of a letter with
    # none reads no subscriptions (decision 0121).
    webhooks: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    # Organisations may sign for themselves through the letter's public form (app/selfsign);
    # whether self-signatures a coordinator has not verified count publicly; whether a signer
    # may still withdraw once the letter is closed.
    self_signing: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    self_sign_counts_unverified: bool = Field(
        default=False, sa_column_kwargs={"server_default": false()}
    )
    self_sign_withdraw_after_close: bool = Field(
        default=True, sa_column_kwargs={"server_default": true()}
    )
    # The version of the text (title, body, recipients, language) that signers consent to now;
    # earlier versions are kept in letter_version (docs/decisions/0097).
    text_version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})


class LetterTranslation(SQLModel, table=True):
    __tablename__ = "letter_translation"
    __table_args__ = (UniqueConstraint("letter_id", "lang"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True, ondelete="CASCADE")
    lang: str = Field(max_length=35)
    title: str = Field(max_length=500)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    # Empty: the page shows the original's recipients.
    recipients: str = Field(
        default="", sa_column=Column(Text, nullable=False, default="", server_default="")
    )


class LetterVersion(SQLModel, table=True):
    """A version of a letter's original text. Written when a signed letter's text changes: the
    version signers consented to so far, then the new one with the reason for the change."""

    __tablename__ = "letter_version"
    __table_args__ = (UniqueConstraint("letter_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    letter_id: int = Field(foreign_key="letter.id", index=True, ondelete="CASCADE")
    version: int
    lang: str = Field(max_length=35)
    title: str = Field(max_length=500)
    body: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    recipients: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    reason: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )
