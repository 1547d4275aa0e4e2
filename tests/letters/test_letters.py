"""Letters: create, read, patch (status, declared counts, translations, text lock)."""

import pytest
from fastapi.testclient import TestClient

URL = "/api/v1/letters"


def test_create_and_read_letter(client: TestClient, coordinator_headers, make_letter) -> None:
    created = make_letter(
        coordinator_headers, slug="free-them-all", status="draft", declared_total=10
    )
    assert created["status"] == "draft"
    assert created["counts"] == {"total": 0, "named": 0, "anonymous": 0}
    assert created["count_discrepancy"] == 10
    # A draft is invisible to the public and to other coordinators: 404, not 403.
    assert client.get(f"{URL}/free-them-all").status_code == 404
    assert client.get(URL).json()["count"] == 0
    assert client.get(f"{URL}/free-them-all", headers=coordinator_headers).status_code == 200


def test_draft_hidden_from_other_coordinator(
    client: TestClient, coordinator_headers, make_token, make_letter
) -> None:
    make_letter(coordinator_headers, slug="secret-draft", status="draft")
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    response = client.get(f"{URL}/secret-draft", headers=other)
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert (
        client.patch(f"{URL}/secret-draft", json={"status": "open"}, headers=other).status_code
        == 404
    )


def test_public_letter_not_managed_by_other_coordinator(
    client: TestClient, coordinator_headers, make_token, make_letter
) -> None:
    make_letter(coordinator_headers, slug="open-letter")
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    assert (
        client.patch(f"{URL}/open-letter", json={"declared_total": 3}, headers=other).status_code
        == 403
    )
    assert client.get(f"{URL}/open-letter/signatures", headers=other).status_code == 403
    granted = {"Authorization": f"Bearer {make_token('coordinator', letters=['open-letter'])}"}
    assert (
        client.patch(f"{URL}/open-letter", json={"declared_total": 3}, headers=granted).status_code
        == 200
    )


def test_duplicate_slug_conflicts(client: TestClient, coordinator_headers, make_letter) -> None:
    make_letter(coordinator_headers, slug="same-slug")
    response = client.post(
        URL, json={"slug": "same-slug", "title": "x", "lang": "en"}, headers=coordinator_headers
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": "duplicate_slug",
        "detail": "a letter with slug 'same-slug' already exists",
        "field": "slug",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"slug": "AB", "title": "x", "lang": "en"}, "slug"),
        ({"slug": "good-slug", "title": "", "lang": "en"}, "title"),
        ({"slug": "good-slug", "title": "x", "lang": "xx-notalang-really"}, "lang"),
        ({"slug": "good-slug", "title": "x", "lang": "qq"}, "lang"),
        ({"slug": "good-slug", "title": "x", "lang": "en", "declared_total": -1}, "declared_total"),
        (
            {
                "slug": "good-slug",
                "title": "x",
                "lang": "en",
                "declared_total": 3,
                "declared_anonymous": 4,
            },
            "declared_anonymous",
        ),
        ({"slug": "good-slug", "title": "x", "lang": "en", "status": "archived"}, "status"),
        ({"slug": "good-slug", "title": "x\u202e", "lang": "en"}, "title"),
    ],
)
def test_create_letter_bad_input_names_field(
    client: TestClient, coordinator_headers, body, field
) -> None:
    response = client.post(URL, json=body, headers=coordinator_headers)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field
    assert response.json()["error"] == "validation_error"
    assert client.get(URL, headers=coordinator_headers).json()["count"] == 0


def test_status_transitions(client: TestClient, coordinator_headers, make_letter) -> None:
    make_letter(coordinator_headers, slug="lifecycle", status="draft")
    assert (
        client.patch(
            f"{URL}/lifecycle", json={"status": "closed"}, headers=coordinator_headers
        ).status_code
        == 409
    )
    opened = client.patch(f"{URL}/lifecycle", json={"status": "open"}, headers=coordinator_headers)
    assert opened.json()["status"] == "open"
    closed = client.patch(
        f"{URL}/lifecycle", json={"status": "closed"}, headers=coordinator_headers
    )
    assert closed.json()["status"] == "closed" and closed.json()["closed_at"] is not None
    back = client.patch(f"{URL}/lifecycle", json={"status": "open"}, headers=coordinator_headers)
    assert back.status_code == 409 and back.json()["field"] == "status"


def test_text_locked_once_signed_but_translations_allowed(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers, slug="locked")
    assert (
        client.patch(
            f"{URL}/locked", json={"body": "Edited before signing."}, headers=coordinator_headers
        ).status_code
        == 200
    )
    signed = client.post(
        f"{URL}/locked/signatures", json={"anonymous": True}, headers=coordinator_headers
    )
    assert signed.status_code == 201
    refused = client.patch(
        f"{URL}/locked", json={"title": "New title"}, headers=coordinator_headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "letter_text_locked" and refused.json()["field"] == "title"
    added = client.patch(
        f"{URL}/locked",
        json={
            "translations": [{"lang": "fr", "title": "Une lettre", "body": "Nous demandons."}],
            "declared_total": 2,
        },
        headers=coordinator_headers,
    )
    assert added.status_code == 200
    assert added.json()["translations"] == [
        {"lang": "fr", "title": "Une lettre", "body": "Nous demandons.", "recipients": ""}
    ]
    assert added.json()["count_discrepancy"] == 1
    changed = client.patch(
        f"{URL}/locked",
        json={"translations": [{"lang": "fr", "title": "Autre", "body": ""}]},
        headers=coordinator_headers,
    )
    assert changed.status_code == 409
    assert client.get(f"{URL}/locked").json()["title"] == "A test letter"


def test_signing_draft_or_closed_letter_conflicts(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers, slug="not-yet", status="draft")
    response = client.post(
        f"{URL}/not-yet/signatures", json={"anonymous": True}, headers=coordinator_headers
    )
    assert response.status_code == 409 and response.json()["error"] == "letter_not_open"
    client.patch(f"{URL}/not-yet", json={"status": "open"}, headers=coordinator_headers)
    client.patch(f"{URL}/not-yet", json={"status": "closed"}, headers=coordinator_headers)
    response = client.post(
        f"{URL}/not-yet/signatures",
        json={"organisation": {"name": "Late Org"}},
        headers=coordinator_headers,
    )
    assert response.status_code == 409
    # Nothing half-written: the organisation of the refused signature was not created.
    match = client.get(
        "/api/v1/organisations/match", params={"name": "Late Org"}, headers=coordinator_headers
    )
    assert match.json() == []
