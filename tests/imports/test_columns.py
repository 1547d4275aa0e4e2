"""Every column of the signature table is either a column of signatory CSV files or listed, with
why, as not carried: a new column is a decision, not something the import silently drops and the
export never writes. Columns the model marks CSV_COLUMN reach the import's validation through
SignatureCreate, and nothing else names them."""

import csv
import io

from fastapi.testclient import TestClient
from sqlalchemy import inspect

from app.imports.parsing import IMPORT_COLUMNS, NOT_CARRIED, SIGNATURE_COLUMNS
from app.signatures.models import Signature
from app.signatures.schemas import SignatureCreate
from tests.imports.test_export import read_csv
from tests.imports.test_imports_api import post_import

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


# A cell a spreadsheet would run, with a comma (quoted in CSV), and text after it.
HOSTILE = '=HYPERLINK("http://evil.example","x"), then text'


def _csv(rows: list[dict[str, str]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=IMPORT_COLUMNS, restval="", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


# Written for text columns (the house types of app/fields.py refuse control characters); a
# column of another type needs its own values here. With no column marked yet, the round trip of
# the file's own columns is still checked: a marked one joins it without a new test.
def test_the_coordinator_export_round_trips_with_the_marked_columns(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    rows = [
        {"position": "1", "name": "Open Society Watch", "country": "DE"}
        | dict.fromkeys(SIGNATURE_COLUMNS, HOSTILE),
        {"position": "2", "anonymous": "true"} | dict.fromkeys(SIGNATURE_COLUMNS, "plain"),
        {"position": "3", "name": "Lantern Circle", "other_names": "LC|Lantern"},
    ]
    response = post_import(client, coordinator_headers, "test-letter", _csv(rows))
    assert response.status_code == 200, response.text
    exported = client.get("/api/v1/letters/test-letter/export.csv", headers=coordinator_headers)
    assert list(read_csv(exported.text)[0]) == list(IMPORT_COLUMNS)
    public = client.get("/api/v1/letters/test-letter/export.csv")
    for column in SIGNATURE_COLUMNS:
        cells = [r[column] for r in read_csv(exported.text)]
        assert cells == ["'" + HOSTILE, "plain", ""], column
        assert [r[column] for r in read_csv(public.text)] == ["", ""], column
    # The coordinator's export imports back as the same list, every column included.
    make_letter(coordinator_headers, slug="copy-letter")
    again = post_import(client, coordinator_headers, "copy-letter", exported.text)
    assert again.status_code == 200, again.text
    copy = client.get("/api/v1/letters/copy-letter/export.csv", headers=coordinator_headers)
    assert copy.text == exported.text

    for column in SIGNATURE_COLUMNS:
        bad = [
            {"position": "1", "name": "Harbour Trust", column: "a\u202eb"},
            {"position": "2", "anonymous": "true", column: "a\u0007b"},
        ]
        refused = post_import(client, coordinator_headers, "copy-letter", _csv(bad))
        assert refused.status_code == 400, refused.text
        report = refused.json()["report"]
        assert [(r["line"], r["status"]) for r in report["rows"]] == [(2, "error"), (3, "error")]
        assert all(r["reason"].startswith(f"{column}: ") for r in report["rows"]), report["rows"]
