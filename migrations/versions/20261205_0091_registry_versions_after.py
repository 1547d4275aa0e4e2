"""registry_versions_after(taken): the registry's version and negatives read with a snapshot of
their own, so that the statement that claims a signer's name buckets also reads, after its
locks, what the transactions it waited for committed (PostgreSQL; decision 0128)

Revision ID: 0091
Revises: 0088
Create Date: 2026-12-05 05:10:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0091'
down_revision: str | None = '0088'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    # VOLATILE (and so never inlined): in READ COMMITTED its query takes a fresh snapshot when
    # it runs, after the locks its argument depends on, not the calling statement's snapshot
    # taken before them.
    op.execute(
        'CREATE FUNCTION registry_versions_after(taken bigint)'
        ' RETURNS TABLE (version integer, negatives integer)'
        ' LANGUAGE sql VOLATILE'
        ' AS $$ SELECT version, negatives FROM registry_state WHERE id = 1 $$'
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP FUNCTION registry_versions_after(bigint)')
