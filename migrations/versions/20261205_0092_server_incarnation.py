"""server_incarnation: a token in an UNLOGGED table, which PostgreSQL empties after a crash, so
that workers learn that commits they may have seen before the WAL flush are gone (PostgreSQL;
decision 0138)

Revision ID: 0092
Revises: 0091
Create Date: 2026-12-05 10:50:00
"""

from collections.abc import Sequence

from alembic import op


revision: str = '0092'
down_revision: str | None = '0091'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    # UNLOGGED: not in the WAL, so crash recovery (or a replica's promotion) leaves it empty,
    # while a clean shutdown, which loses no commit, keeps it.
    op.execute(
        'CREATE UNLOGGED TABLE server_incarnation'
        ' (id integer PRIMARY KEY CHECK (id = 1), token text NOT NULL)'
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute('DROP TABLE server_incarnation')
