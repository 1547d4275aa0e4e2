"""External identifiers: validated by scheme, editable within the scope rules, one visible
organisation per identifier, and reconciliation by identifier."""

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import open_session
from app.errors import BadRequest
from app.opendata import identifiers
from app.opendata.publicid import public_org_id
from app.resolution.models import DuplicateCandidate
from tests.factories import sign
from tests.opendata.helpers import assert_valid


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("wikidata:Q42", ("wikidata", "Q42")),
        ("wikidata: q7186 ", ("wikidata", "Q7186")),
        ("ror:https://ror.org/05gq02987", ("ror", "05gq02987")),
        ("isni:0000000121032683", ("isni", "0000000121032683")),
        ("lei:5493001KJTIIGC8Y1R12", ("lei", "5493001KJTIIGC8Y1R12")),
        ("gb-chc:1051681", ("gb-chc", "1051681")),
        ("fr-siren:732829320", ("fr-siren", "732829320")),
    ],
)
def test_valid_identifiers(text: str, expected: tuple[str, str]) -> None:
    assert identifiers.parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Q42",  # no scheme
        "wikidata:",  # no value
        "wikidata:P31",  # a property, not an item
        "wikidata:Q0",
        "isni:0000000121032684",  # wrong check digit
        "lei:5493001KJTIIGC8Y1R13",  # wrong check digits
        "fr-siren:732829321",  # fails Luhn
        "viaf:12345",  # unknown scheme
    ],
)
def test_invalid_identifiers(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        identifiers.parse(text)
    assert caught.value.field == "identifier"


def test_admin_attaches_identifier_and_reconciliation_finds_it(
    client: TestClient, coordinator_headers, admin_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    oid = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Human Rights Watch"}}
    )["organisation_id"]
    other = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Article 19"}}
    )["organisation_id"]
    added = client.post(
        f"/api/v1/organisations/{oid}/identifiers",
        json={"identifier": "wikidata:q630022"},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    assert added.json()["identifiers"] == [
        {"scheme": "wikidata", "value": "Q630022", "url": "https://www.wikidata.org/wiki/Q630022"}
    ]
    again = client.post(
        f"/api/v1/organisations/{other}/identifiers",
        json={"identifier": "wikidata:Q630022"},
        headers=admin_headers,
    )
    assert again.status_code == 409 and again.json()["error"] == "identifier_taken"
    bad = client.post(
        f"/api/v1/organisations/{oid}/identifiers",
        json={"identifier": "wikidata:X1"},
        headers=admin_headers,
    )
    assert bad.status_code == 400 and bad.json()["field"] == "identifier"
    public = client.get(f"/api/v1/organisations/{public_org_id(oid)}/public").json()
    assert public["identifiers"][0]["value"] == "Q630022"
    queries = {
        "by_id": {"properties": [{"pid": "wikidata", "v": "Q630022"}]},
        "by_both": {"query": "HRW", "properties": [{"pid": "wikidata", "v": "wikidata:Q630022"}]},
        "nobody": {"properties": [{"pid": "wikidata", "v": "Q1"}]},
    }
    results = client.post("/api/v1/reconcile", data={"queries": json.dumps(queries)}).json()
    assert_valid("reconciliation-result-batch", results)
    for key in ("by_id", "by_both"):
        first = results[key]["result"][0]
        assert first["id"] == public_org_id(oid) and first["match"] is True
        assert {"id": "identifier", "value": True} in first["features"]
    assert results["nobody"]["result"] == []
    removed = client.delete(
        f"/api/v1/organisations/{oid}/identifiers/wikidata:Q630022", headers=admin_headers
    )
    assert removed.status_code == 204
    assert (
        client.get(f"/api/v1/organisations/{public_org_id(oid)}/public").json()["identifiers"] == []
    )


def test_coordinator_scope(
    client: TestClient, coordinator_headers, make_letter, make_token
) -> None:
    make_letter(coordinator_headers)
    mine = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Only Mine Collective"}},
    )["organisation_id"]
    ok = client.post(
        f"/api/v1/organisations/{mine}/identifiers",
        json={"identifier": "wikidata:Q11"},
        headers=coordinator_headers,
    )
    assert ok.status_code == 201
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    make_letter(other, slug="other-letter")
    sign(client, other, "other-letter", {"organisation_id": mine})
    refused = client.post(
        f"/api/v1/organisations/{mine}/identifiers",
        json={"identifier": "wikidata:Q12"},
        headers=coordinator_headers,
    )
    assert refused.status_code == 403


def test_collision_with_a_hidden_organisation_answers_as_if_it_did_not_exist(
    client: TestClient, coordinator_headers, admin_headers, make_letter, make_token
) -> None:
    make_letter(coordinator_headers)
    hidden = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Quiet Helpers"}, "anonymous": True},
    )["organisation_id"]
    assert (
        client.post(
            f"/api/v1/organisations/{hidden}/identifiers",
            json={"identifier": "wikidata:Q77"},
            headers=admin_headers,
        ).status_code
        == 201
    )
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    make_letter(other, slug="other-letter")
    a = sign(client, other, "other-letter", {"organisation": {"name": "Loud Helpers"}})
    b = sign(client, other, "other-letter", {"organisation": {"name": "Bright Helpers"}})
    taken = client.post(
        f"/api/v1/organisations/{a['organisation_id']}/identifiers",
        json={"identifier": "wikidata:Q77"},
        headers=other,
    )
    free = client.post(
        f"/api/v1/organisations/{b['organisation_id']}/identifiers",
        json={"identifier": "wikidata:Q78"},
        headers=other,
    )
    assert taken.status_code == free.status_code == 201
    assert taken.json()["identifiers"][0]["value"] == "Q77"
    # The admins get the pair to review; the public reconciliation sees the visible one only.
    with open_session() as session:
        pairs = session.exec(select(DuplicateCandidate)).all()
        assert {(p.organisation_a, p.organisation_b) for p in pairs} >= {
            tuple(sorted((hidden, a["organisation_id"])))
        }
    results = client.get(
        "/api/v1/reconcile",
        params={"queries": json.dumps({"q": {"properties": [{"pid": "wikidata", "v": "Q77"}]}})},
    ).json()
    assert [r["id"] for r in results["q"]["result"]] == [public_org_id(a["organisation_id"])]
