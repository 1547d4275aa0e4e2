"""stored duplicate queue and name negatives

Revision ID: 0060
Revises: 0040
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0060'
down_revision: str | None = '0040'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False, server_default='queued'))
        batch_op.create_index(batch_op.f('ix_duplicate_candidate_score'), ['score'], unique=False)
    op.create_table('duplicate_queue_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_queue_state'))
    )
    # Version 0: the first review (or `undersigned scan`) brings the queue up to date.
    op.execute("INSERT INTO duplicate_queue_state (id, version) VALUES (1, 0)")
    op.create_table('name_negative',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('normalised', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_name_negative_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_name_negative')),
    sa.UniqueConstraint('organisation_id', 'normalised', name=op.f('uq_name_negative_organisation_id'))
    )
    with op.batch_alter_table('name_negative', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_name_negative_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_name_negative_normalised'), ['normalised'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('name_negative', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_name_negative_normalised'))
        batch_op.drop_index(batch_op.f('ix_name_negative_organisation_id'))
    op.drop_table('name_negative')
    op.drop_table('duplicate_queue_state')
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_candidate_score'))
        batch_op.drop_column('source')
