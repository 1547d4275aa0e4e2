"""Reconciliation Service API 0.2: every answer validated against the shipped schemas, driven
as OpenRefine drives it, bad input, and nothing revealed about hidden organisations."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.opendata.publicid import public_org_id
from tests.factories import sign
from tests.opendata.helpers import SPEC, assert_valid, validator

ORGS = [
    {"name": "Human Rights Watch", "country": "us", "website": "https://www.hrw.org"},
    {"name": "Amnesty International (AI)", "country": "gb"},
    {"name": "香港民間人權陣線, Civil Human Rights Front", "country": "hk"},
    {"name": "Московская Хельсинкская группа", "lang": "ru", "country": "ru"},
    {"name": "Reporters sans frontières (RSF)", "lang": "fr", "country": "fr"},
    {"name": "World Uyghur Congress", "country": "de"},
    {"name": "International Service for Human Rights (ISHR)", "country": "ch"},
    {"name": "台灣人權促進會, Taiwan Association for Human Rights", "country": "tw"},
    {"name": "Front Line Defenders", "country": "ie"},
    {"name": "مركز القاهرة لدراسات حقوق الإنسان, Cairo Institute for Human Rights Studies"},
    {"name": "Tibet Justice Center", "country": "us"},
    {"name": "Article 19", "country": "gb"},
]


def _populate(client: TestClient, headers: dict[str, str], make_letter: Any) -> dict[str, int]:
    make_letter(headers)
    ids = {}
    for org in ORGS:
        ids[org["name"]] = sign(client, headers, "test-letter", {"organisation": org})[
            "organisation_id"
        ]
    return ids


@pytest.mark.parametrize(
    "kind",
    [
        "manifest",
        "reconciliation-query-batch",
        "reconciliation-result-batch",
        "suggest-entities-response",
        "suggest-types-response",
        "suggest-properties-response",
    ],
)
def test_the_validator_accepts_the_valid_examples_and_refuses_the_invalid(kind: str) -> None:
    folder = SPEC / "examples" / kind
    valid = sorted((folder / "valid").glob("*.json"))
    assert valid
    for path in valid:
        assert validator(kind).is_valid(json.loads(path.read_text())), path.name
    for path in sorted((folder / "invalid").glob("*.json")):
        assert not validator(kind).is_valid(json.loads(path.read_text())), path.name


def test_manifest(client: TestClient) -> None:
    response = client.get("/api/v1/reconcile")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    manifest = response.json()
    assert_valid("manifest", manifest)
    assert manifest["versions"] == ["0.2"]
    assert manifest["batchSize"] == 50
    assert manifest["defaultTypes"] == [{"id": "organisation", "name": "Organisation"}]
    assert manifest["view"]["url"].endswith("/organisations/{{id}}")
    assert manifest["preview"]["url"].endswith("/api/v1/reconcile/preview?id={{id}}")
    assert manifest["suggest"]["entity"]["service_path"] == "/api/v1/reconcile/suggest"
    preflight = client.options(
        "/api/v1/reconcile",
        headers={"Origin": "https://openrefine.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "*"


def test_openrefine_session(client: TestClient, coordinator_headers, make_letter) -> None:
    """Manifest, a batch of 10 queries (form POST), then preview and suggest."""
    ids = _populate(client, coordinator_headers, make_letter)
    manifest = client.get("/api/v1/reconcile").json()
    queries = {
        "q0": {"query": "Human Rights Watch", "type": "organisation", "limit": 3},
        "q1": {"query": "Amnesty International"},
        "q2": {"query": "香港民間人權陣線"},
        "q3": {"query": "Moscow Helsinki Group"},
        "q4": {"query": "Reporters sans frontieres"},
        "q5": {"query": "World Uyghur Congress", "properties": [{"pid": "country", "v": "DE"}]},
        "q6": {"query": "ISHR"},
        "q7": {"query": "台灣人權促進會"},
        "q8": {"query": "Frontline Defenders"},
        "q9": {"query": "An organisation nobody ever heard of"},
    }
    assert_valid("reconciliation-query-batch", queries)
    response = client.post("/api/v1/reconcile", data={"queries": json.dumps(queries)})
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    results = response.json()
    assert_valid("reconciliation-result-batch", results)
    assert set(results) == set(queries)
    best = {key: value["result"][0] if value["result"] else None for key, value in results.items()}
    assert best["q0"]["id"] == public_org_id(ids["Human Rights Watch"])
    assert best["q0"]["match"] is True
    assert best["q0"]["type"] == [{"id": "organisation", "name": "Organisation"}]
    assert best["q2"]["id"] == public_org_id(ids[ORGS[2]["name"]])
    assert best["q2"]["match"] is True
    assert best["q5"]["id"] == public_org_id(ids["World Uyghur Congress"])
    assert {"id": "country", "value": True} in best["q5"]["features"]
    assert best["q7"]["id"] == public_org_id(ids[ORGS[7]["name"]])
    assert results["q9"]["result"] == [] or not any(r["match"] for r in results["q9"]["result"])
    for value in results.values():
        scores = [r["score"] for r in value["result"]]
        assert scores == sorted(scores, reverse=True)
        # match only where resolution links: at most one per query
        assert sum(r["match"] for r in value["result"]) <= 1
    # The same batch by GET answers the same.
    by_get = client.get("/api/v1/reconcile", params={"queries": json.dumps(queries)})
    assert by_get.json() == results

    preview_url = manifest["preview"]["url"].replace("{{id}}", best["q0"]["id"])
    preview = client.get(preview_url.removeprefix("http://testserver"))
    assert preview.status_code == 200
    assert "Human Rights Watch" in preview.text
    assert "frame-ancestors *" in preview.headers["content-security-policy"]
    assert "x-frame-options" not in preview.headers
    assert f"width:{manifest['preview']['width'] - 16}px" in preview.text

    suggest = client.get("/api/v1/reconcile/suggest", params={"prefix": "human ri"})
    assert suggest.status_code == 200
    assert_valid("suggest-entities-response", suggest.json())
    assert [r["id"] for r in suggest.json()["result"]] == [public_org_id(ids["Human Rights Watch"])]
    assert suggest.headers["access-control-allow-origin"] == "*"
    han = client.get("/api/v1/reconcile/suggest", params={"prefix": "香港"}).json()
    assert [r["id"] for r in han["result"]] == [public_org_id(ids[ORGS[2]["name"]])]
    types = client.get("/api/v1/reconcile/suggest/type", params={"prefix": "org"}).json()
    assert_valid("suggest-types-response", types)
    properties = client.get("/api/v1/reconcile/suggest/property", params={"prefix": "wiki"}).json()
    assert_valid("suggest-properties-response", properties)
    assert [p["id"] for p in properties["result"]] == ["wikidata"]


def _error(response: Any, status: int, field: str, error: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["field"] == field, body
    if error:
        assert body["error"] == error
    assert response.headers["access-control-allow-origin"] == "*"


def test_bad_input(client: TestClient) -> None:
    post = lambda q: client.post("/api/v1/reconcile", data={"queries": q})  # noqa: E731
    _error(post("{not json"), 400, "queries")
    _error(post("[]"), 400, "queries")
    _error(post(json.dumps({"q0": "Amnesty"})), 400, "queries.q0")
    _error(
        post(json.dumps({"q0": {"query": "A", "type": "person"}})),
        400,
        "queries.q0.type",
        "unknown_type",
    )
    _error(
        post(json.dumps({"q0": {"query": "A", "properties": [{"pid": "P17", "v": "x"}]}})),
        400,
        "queries.q0.properties[0].pid",
        "unknown_property",
    )
    _error(
        post(json.dumps({"q0": {"query": "A", "properties": [{"pid": "wikidata", "v": "Z1"}]}})),
        400,
        "queries.q0.properties[0].v",
    )
    _error(post(json.dumps({"q0": {"query": "A", "limit": 0}})), 400, "queries.q0.limit")
    _error(
        post(json.dumps({f"q{i}": {"query": "A"} for i in range(51)})),
        413,
        "queries",
        "payload_too_large",
    )
    _error(client.post("/api/v1/reconcile", data={}), 400, "queries")
    # The spec's invalid query batches are refused too.
    for path in sorted((SPEC / "examples" / "reconciliation-query-batch" / "invalid").glob("*")):
        response = post(path.read_text())
        assert response.status_code == 400, (path.name, response.text)
    # ...and its valid ones are accepted (their types and properties are others' vocabulary:
    # only the shape is checked here, so they are rewritten to ours).
    for path in sorted((SPEC / "examples" / "reconciliation-query-batch" / "valid").glob("*")):
        batch = json.loads(path.read_text())
        for query in batch.values():
            query.pop("type", None)
            query.pop("properties", None)
            query.setdefault("query", "Amnesty")
        response = post(json.dumps(batch))
        assert response.status_code == 200, (path.name, response.text)
        assert_valid("reconciliation-result-batch", response.json())
    missing = client.get("/api/v1/reconcile/preview", params={"id": "org-aaaaaaaaaaaaa"})
    _error(missing, 404, "id", "not_found")


def _snapshot(client: TestClient, public_ids: list[str]) -> list[Any]:
    queries = {
        "hidden": {"query": "Secret Solidarity Network"},
        "near": {"query": "Secret Solidarity"},
        "other": {"query": "Human Rights Watch"},
        "acronym": {"query": "SSN"},
    }
    answers: list[Any] = [
        client.post("/api/v1/reconcile", data={"queries": json.dumps(queries)}).json(),
        client.get("/api/v1/reconcile", params={"queries": json.dumps(queries)}).json(),
    ]
    for prefix in ("secret", "s", "human", "ssn"):
        answers.append(client.get("/api/v1/reconcile/suggest", params={"prefix": prefix}).json())
    for public_id in public_ids:
        preview = client.get("/api/v1/reconcile/preview", params={"id": public_id})
        answers.append((preview.status_code, preview.text))
    return answers


def test_hidden_organisation_changes_no_answer(
    client: TestClient, coordinator_headers, make_letter, make_token
) -> None:
    """The same requests with and without an organisation known only through an anonymous
    signature: byte for byte the same answers."""
    ids = _populate(client, coordinator_headers, make_letter)
    sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Secret Society of Scribes", "country": "us"}},
    )
    public_ids = [public_org_id(i) for i in ids.values()]
    before = _snapshot(client, public_ids)
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    make_letter(other, slug="other-letter")
    hidden = sign(
        client,
        other,
        "other-letter",
        {
            "organisation": {"name": "Secret Solidarity Network (SSN)", "country": "us"},
            "anonymous": True,
        },
    )
    assert hidden["organisation_id"] is not None
    after = _snapshot(client, public_ids)
    assert after == before
    assert "Secret Solidarity Network" not in json.dumps(after, ensure_ascii=False)
    hidden_public = public_org_id(hidden["organisation_id"])
    preview = client.get("/api/v1/reconcile/preview", params={"id": hidden_public})
    nowhere = client.get("/api/v1/reconcile/preview", params={"id": "org-aaaaaaaaaaaaa"})
    assert preview.status_code == nowhere.status_code == 404
    assert preview.json()["detail"].replace(hidden_public, "X") == nowhere.json()["detail"].replace(
        "org-aaaaaaaaaaaaa", "X"
    )


def test_merged_away_id_answers_with_its_survivor(
    client: TestClient, coordinator_headers, admin_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    a = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Dawn Collective"}}
    )["organisation_id"]
    b = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Sunrise Workshop"}}
    )["organisation_id"]
    merged = client.post(
        "/api/v1/admin/merges", json={"survivor_id": a, "merged_ids": [b]}, headers=admin_headers
    )
    assert merged.status_code == 201, merged.text
    preview = client.get("/api/v1/reconcile/preview", params={"id": public_org_id(b)})
    assert preview.status_code == 200
    assert "Dawn Collective" in preview.text
    results = client.get(
        "/api/v1/reconcile", params={"queries": json.dumps({"q": {"query": "Sunrise Workshop"}})}
    ).json()
    assert results["q"]["result"][0]["id"] == public_org_id(a)


def test_scores_are_on_one_scale_of_0_to_100(client: TestClient, seeded: str) -> None:
    """A name found exactly scores 100, like an identifier match, never more."""
    answer = client.post(
        "/api/v1/reconcile",
        data={"queries": json.dumps({"q0": {"query": "Amnesty International"}})},
    ).json()
    (best, *_) = answer["q0"]["result"]
    assert best["match"] is True
    assert best["score"] == 100.0
    assert all(0 <= r["score"] <= 100 for r in answer["q0"]["result"])
