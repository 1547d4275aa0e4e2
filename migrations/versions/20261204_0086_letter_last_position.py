"""letter.last_position: the hot letter's positions come from its row (decision 0109)

Revision ID: 0086
Revises: 0085
Create Date: 2026-12-04 21:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0086'
down_revision: str | None = '0085'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite too): no table copy of the letters.
    op.add_column(
        'letter', sa.Column('last_position', sa.Integer(), server_default='0', nullable=False)
    )
    # Every letter starts at its highest position (withdrawn signatures keep theirs).
    op.execute(
        'UPDATE letter SET last_position = COALESCE('
        '(SELECT MAX(position) FROM signature WHERE signature.letter_id = letter.id), 0)'
    )


def downgrade() -> None:
    op.drop_column('letter', 'last_position')
