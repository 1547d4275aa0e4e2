"""open data: external identifiers, name sources, public id secret

Revision ID: 0085
Revises: 0040
Create Date: 2026-12-04 15:30:00
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0085'
down_revision: str | None = '0040'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('external_identifier',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('scheme', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('added_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_external_identifier_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_external_identifier'))
    )
    with op.batch_alter_table('external_identifier', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_external_identifier_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('ix_external_identifier_scheme_value', ['scheme', 'value'], unique=False)
    op.create_table('name_source',
    sa.Column('organisation_name_id', sa.Integer(), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=250), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_name_id'], ['organisation_name.id'], name=op.f('fk_name_source_organisation_name_id_organisation_name')),
    sa.PrimaryKeyConstraint('organisation_name_id', name=op.f('pk_name_source'))
    )
    secret = op.create_table('opendata_secret',
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('value', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_opendata_secret'))
    )
    # Keys public organisation ids (decision 0100): random per deployment, never in git.
    op.bulk_insert(secret, [{'name': 'public_id', 'value': secrets.token_hex(32)}])


def downgrade() -> None:
    op.drop_table('opendata_secret')
    op.drop_table('name_source')
    with op.batch_alter_table('external_identifier', schema=None) as batch_op:
        batch_op.drop_index('ix_external_identifier_scheme_value')
        batch_op.drop_index(batch_op.f('ix_external_identifier_organisation_id'))
    op.drop_table('external_identifier')
