"""Every column of the signature table is either a column of signatory CSV files or listed, with
why, as not carried: a new column is a decision, not something the import silently drops and the
export never writes. Columns the model marks CSV_COLUMN reach the import's validation through
SignatureCreate, and nothing else names them."""

from sqlalchemy import inspect

from app.imports.parsing import IMPORT_COLUMNS, NOT_CARRIED, SIGNATURE_COLUMNS
from app.signatures.models import Signature
from app.signatures.schemas import SignatureCreate

COLUMNS = {column.key for column in inspect(Signature).columns}


def test_every_signature_column_is_carried_or_listed_as_not() -> None:
    carried = COLUMNS & set(IMPORT_COLUMNS)
    unclassified = COLUMNS - carried - set(NOT_CARRIED)
    assert not unclassified, (
        f"{sorted(unclassified)}: mark the column CSV_COLUMN in app/signatures/models.py or add "
        "it to NOT_CARRIED in app/imports/parsing.py with the reason"
    )
    assert not carried & set(NOT_CARRIED), sorted(carried & set(NOT_CARRIED))


def test_not_carried_names_only_real_columns() -> None:
    assert set(NOT_CARRIED) <= COLUMNS, sorted(set(NOT_CARRIED) - COLUMNS)


def test_marked_columns_are_validated_by_signature_create() -> None:
    # A marked column SignatureCreate lacks would be dropped by the import without a word.
    assert set(SIGNATURE_COLUMNS) <= set(SignatureCreate.model_fields), sorted(
        set(SIGNATURE_COLUMNS) - set(SignatureCreate.model_fields)
    )


def test_marked_columns_are_not_read_by_hand_as_well() -> None:
    # position and anonymous have rules of their own in parsing and planning: marking one of them
    # would make it a column twice.
    assert len(set(IMPORT_COLUMNS)) == len(IMPORT_COLUMNS), IMPORT_COLUMNS
