"""Signing end to end through the API, on both databases."""

from typing import Any

from fastapi.testclient import TestClient


def sign(
    client: TestClient,
    headers: dict[str, str],
    slug: str,
    body: dict[str, Any],
    key: str | None = None,
):  # type: ignore[no-untyped-def]
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(f"/api/v1/letters/{slug}/signatures", json=body, headers=headers | extra)


def test_sign_counts_and_signatories(client: TestClient, coordinator_headers, make_letter) -> None:
    make_letter(coordinator_headers)
    first = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Access Now"}}
    )
    assert first.status_code == 201, first.text
    assert first.json()["resolution"]["status"] == "new"
    again = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "ACCESS  now"}}
    )
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["resolution"]["status"] == "existing"
    anon = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Secret Org"}, "anonymous": True},
    )
    assert anon.status_code == 201
    nobody = sign(client, coordinator_headers, "test-letter", {"anonymous": True})
    assert nobody.status_code == 201 and nobody.json()["organisation_id"] is None

    count = client.get("/api/v1/letters/test-letter/count").json()
    assert (count["total"], count["named"], count["anonymous"]) == (3, 1, 2)
    public = client.get("/api/v1/letters/test-letter/signatories").json()
    assert [s["name"] for s in public["data"]] == ["Access Now"]
    assert public["anonymous_count"] == 2
    assert "Secret Org" not in client.get("/api/v1/letters/test-letter/signatories").text


def test_idempotency_key_replays_first_response(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    body = {"organisation": {"name": "Front Line Defenders"}}
    first = sign(client, coordinator_headers, "test-letter", body, key="abc-1")
    second = sign(client, coordinator_headers, "test-letter", body, key="abc-1")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert client.get("/api/v1/letters/test-letter/count").json()["total"] == 1
    other = sign(client, coordinator_headers, "test-letter", {"anonymous": True}, key="abc-1")
    assert other.status_code == 409
    assert other.json()["error"] == "idempotency_key_reused"
