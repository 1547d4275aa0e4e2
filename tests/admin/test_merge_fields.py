"""The columns a merge snapshots are real columns of their tables (a renamed column would
otherwise drop out of the snapshot, and undo would silently stop restoring it). That every other
column survives merge and undo unchanged is tests/admin/test_merge_properties.py's check."""

import pytest
from sqlmodel import SQLModel

from app.admin import merges
from app.organisations.models import Organisation, OrganisationName
from app.signatures.models import Signature


@pytest.mark.parametrize(
    ("model", "changed"),
    [
        (Organisation, merges.ORG_FIELDS),
        (OrganisationName, merges.NAME_FIELDS),
        (Signature, merges.SIGNATURE_FIELDS),
    ],
)
def test_snapshotted_fields_are_columns(model: type[SQLModel], changed: tuple[str, ...]) -> None:
    columns = {column.name for column in model.__table__.columns}  # type: ignore[attr-defined]
    assert set(changed) <= columns, sorted(set(changed) - columns)
