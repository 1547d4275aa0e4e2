"""GET /letters/{slug}/export.csv and .json: who sees what, formula neutralisation, BOM."""

import csv
import io
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from app.imports.parsing import IMPORT_COLUMNS
from tests.imports.test_imports_api import HEADER, post_import, signatures_of

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+1+cmd|' /C calc'!A0",
    "-2+3 Lantern Circle",  # a name needs a word of its own (decision 0060); still a formula
    "@SUM(A1:A9)",
]


def make_signed_letter(client: TestClient, headers: dict[str, str], make_letter) -> None:  # type: ignore[no-untyped-def]
    make_letter(headers)
    rows = [
        "1,Open Society Watch,OSW|Veille Société Ouverte,organisation,en,FR,osw.example.org,false",
        "2,Secret Marker Org 7f3a,Hidden Alias 7f3a,organisation,,TW,secret7f3a.example.org,true",
        "3,,,,,,,true",
        *[
            f'{i},"{name.replace(chr(34), chr(34) * 2)}",,,,,,false'
            for i, name in enumerate(HOSTILE, start=4)
        ],
    ]
    response = post_import(client, headers, "test-letter", HEADER + "\n".join(rows) + "\n")
    assert response.status_code == 200, response.text


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_public_csv_has_named_signatories_only(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_signed_letter(client, coordinator_headers, make_letter)
    response = client.get("/api/v1/letters/test-letter/export.csv")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["content-disposition"]
    assert "7f3a" not in response.text
    rows = read_csv(response.text)
    assert [r["position"] for r in rows] == ["1", "2", "3", "4", "5"]  # no gaps (0085)
    assert rows[0]["name"] == "Open Society Watch"
    # Organisation details are coordinator-only in the API; the public file has the name.
    assert (rows[0]["website"], rows[0]["country"], rows[0]["other_names"]) == ("", "", "")
    assert {r["anonymous"] for r in rows} == {"false"}


def test_coordinator_csv_has_everyone_with_the_anonymous_flag(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_signed_letter(client, coordinator_headers, make_letter)
    response = client.get("/api/v1/letters/test-letter/export.csv", headers=coordinator_headers)
    assert response.headers["cache-control"] == "no-store"
    rows = read_csv(response.text)
    assert list(rows[0]) == list(IMPORT_COLUMNS)
    assert [(r["position"], r["anonymous"]) for r in rows[:3]] == [
        ("1", "false"),
        ("2", "true"),
        ("3", "true"),
    ]
    assert rows[0]["other_names"] == "OSW|Veille Société Ouverte"
    assert (rows[0]["country"], rows[0]["website"]) == ("FR", "https://osw.example.org")
    assert rows[1]["name"] == "Secret Marker Org 7f3a"
    assert rows[2]["name"] == ""


def test_a_coordinator_of_another_letter_gets_the_public_export(
    client: TestClient, coordinator_headers, make_letter, make_token: Callable[..., str]
) -> None:
    make_signed_letter(client, coordinator_headers, make_letter)
    stranger = {"Authorization": f"Bearer {make_token('coordinator')}"}
    for path in ("export.csv", "export.json"):
        response = client.get(f"/api/v1/letters/test-letter/{path}", headers=stranger)
        assert response.status_code == 200
        assert "7f3a" not in response.text


def test_formula_cells_are_neutralised_and_import_back_intact(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_signed_letter(client, coordinator_headers, make_letter)
    for headers in ({}, coordinator_headers):
        text = client.get("/api/v1/letters/test-letter/export.csv", headers=headers).text
        for line in text.splitlines()[1:]:
            for cell in next(csv.reader([line])):
                assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell
        names = [r["name"] for r in read_csv(text)]
        assert ["'" + h for h in HOSTILE] == names[-4:]
    exported = client.get("/api/v1/letters/test-letter/export.csv", headers=coordinator_headers)
    make_letter(coordinator_headers, slug="copy-letter")
    response = post_import(client, coordinator_headers, "copy-letter", exported.content)
    assert response.status_code == 200, response.text
    assert [r[3] for r in signatures_of("copy-letter")][-4:] == HOSTILE
    assert signatures_of("copy-letter") == signatures_of("test-letter")


def test_bom_option(client: TestClient, coordinator_headers, make_letter) -> None:
    make_signed_letter(client, coordinator_headers, make_letter)
    plain = client.get("/api/v1/letters/test-letter/export.csv").content
    with_bom = client.get("/api/v1/letters/test-letter/export.csv?bom=true").content
    assert not plain.startswith(b"\xef\xbb\xbf")
    assert with_bom == b"\xef\xbb\xbf" + plain


def test_json_export(client: TestClient, coordinator_headers, make_letter) -> None:
    make_signed_letter(client, coordinator_headers, make_letter)
    public: dict[str, Any] = client.get("/api/v1/letters/test-letter/export.json").json()
    assert public["full"] is False
    assert (public["named_count"], public["anonymous_count"]) == (5, 2)
    assert [s["position"] for s in public["signatories"]] == [1, 2, 3, 4, 5]
    assert "organisation_id" not in public["signatories"][0]
    assert "anonymous" not in public["signatories"][0]
    assert "7f3a" not in str(public)
    full = client.get("/api/v1/letters/test-letter/export.json", headers=coordinator_headers)
    assert full.headers["cache-control"] == "no-store"
    rows = full.json()["signatories"]
    assert [(s["position"], s["anonymous"]) for s in rows[:3]] == [
        (1, False),
        (2, True),
        (3, True),
    ]
    assert rows[1]["other_names"] == ["Hidden Alias 7f3a"]
    assert rows[2]["organisation_id"] is None
    # JSON is not a spreadsheet: values are as stored.
    assert rows[-1]["name"] == HOSTILE[-1]


def test_draft_letter_export_is_hidden_from_the_public(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers, status="draft")
    assert client.get("/api/v1/letters/test-letter/export.csv").status_code == 404
    assert (
        client.get(
            "/api/v1/letters/test-letter/export.csv", headers=coordinator_headers
        ).status_code
        == 200
    )
