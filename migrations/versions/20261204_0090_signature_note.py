"""signature note

Revision ID: 0090
Revises: 0085
Create Date: 2026-12-04 18:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0090"
down_revision: str | None = "0085"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("signature", sa.Column("note", sa.String(5000), nullable=True))


def downgrade() -> None:
    op.drop_column("signature", "note")
