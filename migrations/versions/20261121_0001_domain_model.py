"""domain model

Revision ID: 0001
Revises: 
Create Date: 2026-11-21 04:30:18.024869
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('api_token',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('role', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('token_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('prefix', sqlmodel.sql.sqltypes.AutoString(length=12), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_token'))
    )
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_token_token_hash'), ['token_hash'], unique=True)

    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('action', sqlmodel.sql.sqltypes.AutoString(length=60), nullable=False),
    sa.Column('target_type', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('target_id', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_event_actor'), ['actor'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_event_created_at'), ['created_at'], unique=False)

    op.create_table('organisation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sqlmodel.sql.sqltypes.AutoString(length=20), nullable=False),
    sa.Column('country', sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
    sa.Column('website', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True),
    sa.Column('merged_into', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['merged_into'], ['organisation.id'], name=op.f('fk_organisation_merged_into_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation'))
    )
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_merged_into'), ['merged_into'], unique=False)
        batch_op.create_index(batch_op.f('ix_organisation_revision'), ['revision'], unique=False)

    op.create_table('registry_state',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registry_state'))
    )
    # The single counter row every organisation write bumps (see app/resolution/index.py).
    op.execute("INSERT INTO registry_state (id, version) VALUES (1, 0)")
    op.create_table('duplicate_candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_a', sa.Integer(), nullable=False),
    sa.Column('organisation_b', sa.Integer(), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_a'], ['organisation.id'], name=op.f('fk_duplicate_candidate_organisation_a_organisation')),
    sa.ForeignKeyConstraint(['organisation_b'], ['organisation.id'], name=op.f('fk_duplicate_candidate_organisation_b_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_duplicate_candidate')),
    sa.UniqueConstraint('organisation_a', 'organisation_b', name=op.f('uq_duplicate_candidate_organisation_a'))
    )
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_duplicate_candidate_organisation_a'), ['organisation_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_duplicate_candidate_organisation_b'), ['organisation_b'], unique=False)

    op.create_table('judgement',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_a', sa.Integer(), nullable=False),
    sa.Column('organisation_b', sa.Integer(), nullable=False),
    sa.Column('verdict', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_a'], ['organisation.id'], name=op.f('fk_judgement_organisation_a_organisation')),
    sa.ForeignKeyConstraint(['organisation_b'], ['organisation.id'], name=op.f('fk_judgement_organisation_b_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_judgement')),
    sa.UniqueConstraint('organisation_a', 'organisation_b', name=op.f('uq_judgement_organisation_a'))
    )
    with op.batch_alter_table('judgement', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_judgement_organisation_a'), ['organisation_a'], unique=False)
        batch_op.create_index(batch_op.f('ix_judgement_organisation_b'), ['organisation_b'], unique=False)

    op.create_table('letter',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('slug', sqlmodel.sql.sqltypes.AutoString(length=80), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('recipients', sa.Text(), nullable=False),
    sa.Column('status', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('declared_total', sa.Integer(), nullable=True),
    sa.Column('declared_anonymous', sa.Integer(), nullable=True),
    sa.Column('created_by_token_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('counts_changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by_token_id'], ['api_token.id'], name=op.f('fk_letter_created_by_token_id_api_token')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letter'))
    )
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letter_slug'), ['slug'], unique=True)

    op.create_table('merge_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('survivor_id', sa.Integer(), nullable=False),
    sa.Column('merged_ids', sa.JSON(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('actor', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('undone_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('undone_by', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
    sa.ForeignKeyConstraint(['survivor_id'], ['organisation.id'], name=op.f('fk_merge_record_survivor_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_merge_record'))
    )
    with op.batch_alter_table('merge_record', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_merge_record_survivor_id'), ['survivor_id'], unique=False)

    op.create_table('organisation_name',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
    sa.Column('normalised', sqlmodel.sql.sqltypes.AutoString(length=600), nullable=False),
    sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=True),
    sa.Column('script', sqlmodel.sql.sqltypes.AutoString(length=4), nullable=True),
    sa.Column('is_acronym', sa.Boolean(), nullable=False),
    sa.Column('is_primary', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_organisation_name_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_name'))
    )
    with op.batch_alter_table('organisation_name', schema=None) as batch_op:
        batch_op.create_index('ix_organisation_name_normalised', ['normalised'], unique=False)
        batch_op.create_index(batch_op.f('ix_organisation_name_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_key', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('key', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('request_hash', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['letter_id'], ['letter.id'], name=op.f('fk_idempotency_record_letter_id_letter')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('token_key', 'letter_id', 'key', name=op.f('uq_idempotency_record_token_key'))
    )
    op.create_table('letter_grant',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['letter_id'], ['letter.id'], name=op.f('fk_letter_grant_letter_id_letter')),
    sa.ForeignKeyConstraint(['token_id'], ['api_token.id'], name=op.f('fk_letter_grant_token_id_api_token')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letter_grant')),
    sa.UniqueConstraint('token_id', 'letter_id', name=op.f('uq_letter_grant_token_id'))
    )
    with op.batch_alter_table('letter_grant', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letter_grant_letter_id'), ['letter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_letter_grant_token_id'), ['token_id'], unique=False)

    op.create_table('letter_translation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('lang', sqlmodel.sql.sqltypes.AutoString(length=35), nullable=False),
    sa.Column('title', sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['letter_id'], ['letter.id'], name=op.f('fk_letter_translation_letter_id_letter'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_letter_translation')),
    sa.UniqueConstraint('letter_id', 'lang', name=op.f('uq_letter_translation_letter_id'))
    )
    with op.batch_alter_table('letter_translation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_letter_translation_letter_id'), ['letter_id'], unique=False)

    op.create_table('signature',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('letter_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=True),
    sa.Column('anonymous', sa.Boolean(), nullable=False),
    sa.Column('display_name', sqlmodel.sql.sqltypes.AutoString(length=300), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['letter_id'], ['letter.id'], name=op.f('fk_signature_letter_id_letter')),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisation.id'], name=op.f('fk_signature_organisation_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signature')),
    sa.UniqueConstraint('letter_id', 'position', name=op.f('uq_signature_letter_id'))
    )
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signature_letter_id'), ['letter_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_signature_organisation_id'), ['organisation_id'], unique=False)
        batch_op.create_index('uq_signature_live_letter_organisation', ['letter_id', 'organisation_id'], unique=True, sqlite_where=sa.text('withdrawn_at IS NULL AND organisation_id IS NOT NULL'), postgresql_where=sa.text('withdrawn_at IS NULL AND organisation_id IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('signature', schema=None) as batch_op:
        batch_op.drop_index('uq_signature_live_letter_organisation', sqlite_where=sa.text('withdrawn_at IS NULL AND organisation_id IS NOT NULL'), postgresql_where=sa.text('withdrawn_at IS NULL AND organisation_id IS NOT NULL'))
        batch_op.drop_index(batch_op.f('ix_signature_organisation_id'))
        batch_op.drop_index(batch_op.f('ix_signature_letter_id'))

    op.drop_table('signature')
    with op.batch_alter_table('letter_translation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letter_translation_letter_id'))

    op.drop_table('letter_translation')
    with op.batch_alter_table('letter_grant', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letter_grant_token_id'))
        batch_op.drop_index(batch_op.f('ix_letter_grant_letter_id'))

    op.drop_table('letter_grant')
    op.drop_table('idempotency_record')
    with op.batch_alter_table('organisation_name', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_name_organisation_id'))
        batch_op.drop_index('ix_organisation_name_normalised')

    op.drop_table('organisation_name')
    with op.batch_alter_table('merge_record', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_merge_record_survivor_id'))

    op.drop_table('merge_record')
    with op.batch_alter_table('letter', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_letter_slug'))

    op.drop_table('letter')
    with op.batch_alter_table('judgement', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_judgement_organisation_b'))
        batch_op.drop_index(batch_op.f('ix_judgement_organisation_a'))

    op.drop_table('judgement')
    with op.batch_alter_table('duplicate_candidate', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_duplicate_candidate_organisation_b'))
        batch_op.drop_index(batch_op.f('ix_duplicate_candidate_organisation_a'))

    op.drop_table('duplicate_candidate')
    op.drop_table('registry_state')
    with op.batch_alter_table('organisation', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_revision'))
        batch_op.drop_index(batch_op.f('ix_organisation_merged_into'))

    op.drop_table('organisation')
    with op.batch_alter_table('audit_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_event_created_at'))
        batch_op.drop_index(batch_op.f('ix_audit_event_actor'))

    op.drop_table('audit_event')
    with op.batch_alter_table('api_token', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_token_token_hash'))

    op.drop_table('api_token')
