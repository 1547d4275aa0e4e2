"""Every column a merge may write is classified: changed by a merge (and restored by undo) or
never changed. A new column in neither list fails here, before an undo can silently lose it."""

import pytest
from sqlmodel import SQLModel

from app.admin import merges
from app.organisations.models import Organisation, OrganisationName
from app.signatures.models import Signature


@pytest.mark.parametrize(
    ("model", "changed", "kept"),
    [
        (Organisation, merges.ORG_FIELDS, merges.ORG_KEPT),
        (OrganisationName, merges.NAME_FIELDS, merges.NAME_KEPT),
        (Signature, merges.SIGNATURE_FIELDS, merges.SIGNATURE_KEPT),
    ],
)
def test_every_column_is_classified_once(
    model: type[SQLModel], changed: tuple[str, ...], kept: tuple[str, ...]
) -> None:
    columns = {column.name for column in model.__table__.columns}  # type: ignore[attr-defined]
    assert not set(changed) & set(kept), "a column cannot be both changed and kept"
    assert set(changed) | set(kept) == columns, (
        f"{model.__name__}: unclassified {sorted(columns - set(changed) - set(kept))}, "
        f"gone {sorted((set(changed) | set(kept)) - columns)}"
    )
