"""draft slugs held per creator; revoked admin sessions

A letter's slug is unique among published letters and among one creator's drafts, no longer
across everything: a draft must not hold its slug against other coordinators, whose refusal
would confirm that the draft exists (docs/decisions/0076). Logging out of the admin page records
the session as revoked (docs/decisions/0077).

Revision ID: 0030
Revises: 0020
Create Date: 2026-12-04 12:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = "0030"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DRAFT = sa.text("status = 'draft'")
PUBLISHED = sa.text("status != 'draft'")


def upgrade() -> None:
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_letter_slug"))
        batch_op.create_index(batch_op.f("ix_letter_slug"), ["slug"], unique=False)
        batch_op.create_index(
            "uq_letter_published_slug",
            ["slug"],
            unique=True,
            sqlite_where=PUBLISHED,
            postgresql_where=PUBLISHED,
        )
        batch_op.create_index(
            "uq_letter_draft_slug",
            ["slug", sa.text("coalesce(created_by_token_id, 0)")],
            unique=True,
            sqlite_where=DRAFT,
            postgresql_where=DRAFT,
        )

    op.create_table(
        "revoked_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_revoked_session")),
    )
    with op.batch_alter_table("revoked_session", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_revoked_session_nonce"), ["nonce"], unique=True)
        batch_op.create_index(
            batch_op.f("ix_revoked_session_expires_at"), ["expires_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("revoked_session", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_revoked_session_expires_at"))
        batch_op.drop_index(batch_op.f("ix_revoked_session_nonce"))
    op.drop_table("revoked_session")

    # Fails if two letters now share a slug (drafts of different coordinators): rename one of
    # them first, as the old schema cannot hold both.
    with op.batch_alter_table("letter", schema=None) as batch_op:
        batch_op.drop_index("uq_letter_draft_slug")
        batch_op.drop_index("uq_letter_published_slug")
        batch_op.drop_index(batch_op.f("ix_letter_slug"))
        batch_op.create_index(batch_op.f("ix_letter_slug"), ["slug"], unique=True)
