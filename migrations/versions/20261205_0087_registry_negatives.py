"""registry_state.negatives: moved by every admin verdict that records name negatives, so
workers keep the negatives in memory (decision 0121)

Revision ID: 0087
Revises: 0086
Create Date: 2026-12-05 02:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0087'
down_revision: str | None = '0086'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (SQLite too). Starting at 0 whatever the table holds is right: a
    # worker has no copy yet, and loads the table at the first number it reads.
    op.add_column(
        'registry_state', sa.Column('negatives', sa.Integer(), server_default='0', nullable=False)
    )


def downgrade() -> None:
    op.drop_column('registry_state', 'negatives')
