"""self-signatures: the letter's form settings, self_signature and its link tokens; letter
text versions

Revision ID: 0080
Revises: 0070
Create Date: 2026-12-04 15:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0080"
down_revision: str | None = "0070"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LETTER_FLAGS = [
    ("self_signing", sa.false()),
    ("self_sign_counts_unverified", sa.false()),
    ("self_sign_withdraw_after_close", sa.true()),
]


def upgrade() -> None:
    # Plain ADD/DROP COLUMN (SQLite ≥ 3.35): a batch copy of `letter` would lose its
    # expression-based draft-slug index.
    for name, default in _LETTER_FLAGS:
        op.add_column(
            "letter", sa.Column(name, sa.Boolean(), nullable=False, server_default=default)
        )
    op.add_column(
        "letter",
        sa.Column("text_version", sa.Integer(), nullable=False, server_default=sa.text("1")),
    )
    op.create_table(
        "letter_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("lang", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
        sa.Column("title", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["letter_id"],
            ["letter.id"],
            name=op.f("fk_letter_version_letter_id_letter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_letter_version")),
        sa.UniqueConstraint("letter_id", "version", name=op.f("uq_letter_version_letter_id")),
    )
    op.create_index(
        op.f("ix_letter_version_letter_id"), "letter_version", ["letter_id"], unique=False
    )
    op.create_table(
        "self_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("letter_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("submitted", sa.JSON(), nullable=False),
        sa.Column("anonymous", sa.Boolean(), nullable=False),
        sa.Column("contact_name", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=320), nullable=True),
        sa.Column("email_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=True),
        sa.Column("signature_id", sa.Integer(), nullable=True),
        sa.Column("text_version", sa.Integer(), nullable=False),
        sa.Column("text_lang", sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
        sa.Column("reject_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("purged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["letter_id"], ["letter.id"], name=op.f("fk_self_signature_letter_id_letter")
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisation.id"],
            name=op.f("fk_self_signature_organisation_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["signature_id"], ["signature.id"], name=op.f("fk_self_signature_signature_id_signature")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_signature")),
    )
    op.create_index(
        op.f("ix_self_signature_letter_id"), "self_signature", ["letter_id"], unique=False
    )
    op.create_index(op.f("ix_self_signature_state"), "self_signature", ["state"], unique=False)
    op.create_index(
        op.f("ix_self_signature_email_hash"), "self_signature", ["email_hash"], unique=False
    )
    op.create_table(
        "self_sign_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("self_signature_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["self_signature_id"],
            ["self_signature.id"],
            name=op.f("fk_self_sign_token_self_signature_id_self_signature"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_sign_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_self_sign_token_token_hash")),
    )
    op.create_index(
        op.f("ix_self_sign_token_self_signature_id"),
        "self_sign_token",
        ["self_signature_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_self_sign_token_self_signature_id"), table_name="self_sign_token")
    op.drop_table("self_sign_token")
    op.drop_index(op.f("ix_self_signature_email_hash"), table_name="self_signature")
    op.drop_index(op.f("ix_self_signature_state"), table_name="self_signature")
    op.drop_index(op.f("ix_self_signature_letter_id"), table_name="self_signature")
    op.drop_table("self_signature")
    op.drop_index(op.f("ix_letter_version_letter_id"), table_name="letter_version")
    op.drop_table("letter_version")
    op.drop_column("letter", "text_version")
    for name, _ in reversed(_LETTER_FLAGS):
        op.drop_column("letter", name)
