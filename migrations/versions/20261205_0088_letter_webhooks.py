"""letter.webhooks: how many subscriptions a letter has, so that a signer of a letter nobody
subscribed to reads none (decision 0121)

Revision ID: 0088
Revises: 0087
Create Date: 2026-12-05 03:05:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0088'
down_revision: str | None = '0087'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        'letter', sa.Column('webhooks', sa.Integer(), server_default='0', nullable=False)
    )
    op.execute(
        'UPDATE letter SET webhooks = '
        '(SELECT COUNT(*) FROM webhook_subscription WHERE webhook_subscription.letter_id = letter.id)'
    )


def downgrade() -> None:
    op.drop_column('letter', 'webhooks')
