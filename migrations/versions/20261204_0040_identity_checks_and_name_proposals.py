"""identity checks and name proposals

Revision ID: 0040
Revises: 0030
Create Date: 2026-12-04 09:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0040'
down_revision: str | None = '0030'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('identity_check',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_ids', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_check'))
    )
    op.create_table('name_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True),
    sa.Column('is_acronym', sa.Boolean(), nullable=True),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('proposed_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_name_proposal_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_name_proposal'))
    )
    with op.batch_alter_table('name_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_name_proposal_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_name_proposal_status'), ['status'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('name_proposal', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_name_proposal_status'))
        batch_op.drop_index(batch_op.f('ix_name_proposal_organisation_id'))
    op.drop_table('name_proposal')
    op.drop_table('identity_check')
