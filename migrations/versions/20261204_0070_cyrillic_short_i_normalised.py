"""recompute normalised names holding Й or Ї (no longer folded to И or І)

Revision ID: 0070
Revises: 0060
Create Date: 2026-12-04 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0070"
down_revision: str | None = "0060"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LETTERS = ("й", "Й", "ї", "Ї")


def _rows(connection: sa.Connection) -> list[tuple[int, str, str]]:
    where = " OR ".join(f"name LIKE '%{c}%'" for c in _LETTERS)
    return [
        (row[0], row[1], row[2])
        for row in connection.execute(
            sa.text(f"SELECT id, name, normalised FROM organisation_name WHERE {where}")
        )
    ]


def upgrade() -> None:
    # The application's own normalisation (what every new name gets from now on).
    from app.resolution.normalise import normalise

    connection = op.get_bind()
    for row_id, name, _ in _rows(connection):
        connection.execute(
            sa.text("UPDATE organisation_name SET normalised = :n WHERE id = :id"),
            {"n": normalise(name), "id": row_id},
        )


def downgrade() -> None:
    # The previous fold read й as и and ї as і.
    connection = op.get_bind()
    for row_id, _, normalised in _rows(connection):
        connection.execute(
            sa.text("UPDATE organisation_name SET normalised = :n WHERE id = :id"),
            {"n": normalised.replace("й", "и").replace("ї", "і"), "id": row_id},
        )
