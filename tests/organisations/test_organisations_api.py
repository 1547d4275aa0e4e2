"""Organisation endpoints: read, 308 for merged ids, add a name, no anonymous leak."""

from fastapi.testclient import TestClient

from app.db import open_session
from app.organisations.models import Organisation
from tests.factories import sign


def test_organisation_keeps_all_names_with_scripts(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    signed = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "香港黎明, Dawn of Hong Kong, 香港の夜明け", "country": "hk"}},
    )
    org = client.get(
        f"/api/v1/organisations/{signed['organisation_id']}", headers=coordinator_headers
    ).json()
    assert [(n["name"], n["script"], n["is_primary"]) for n in org["names"]] == [
        ("香港黎明", "Hani", True),
        ("Dawn of Hong Kong", "Latn", False),
        ("香港の夜明け", "Jpan", False),
    ]
    assert org["country"] == "HK"
    assert org["signatures"] == [
        {"letter": "test-letter", "position": 1, "signed_at": org["signatures"][0]["signed_at"]}
    ]


def test_added_name_resolves_at_once(client: TestClient, coordinator_headers, make_letter) -> None:
    make_letter(coordinator_headers)
    signed = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Московская Хельсинкская группа", "lang": "ru"}},
    )
    org_id = signed["organisation_id"]
    added = client.post(
        f"/api/v1/organisations/{org_id}/names",
        json={"name": "Moscow Helsinki Group", "lang": "en"},
        headers=coordinator_headers,
    )
    assert added.status_code == 201
    assert {
        "name": "Moscow Helsinki Group",
        "lang": "en",
        "script": "Latn",
    }.items() <= added.json()["names"][-1].items()
    match = client.get(
        "/api/v1/organisations/match",
        params={"name": "Moscow Helsinki Group"},
        headers=coordinator_headers,
    ).json()
    assert match[0]["organisation_id"] == org_id
    assert match[0]["decision"] == "same"
    again = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "moscow helsinki group"}},
    )
    assert again["organisation_id"] == org_id and again["resolution"]["status"] == "existing"
    duplicate = client.post(
        f"/api/v1/organisations/{org_id}/names",
        json={"name": "MOSCOW Helsinki group"},
        headers=coordinator_headers,
    )
    assert duplicate.status_code == 409 and duplicate.json()["field"] == "name"


def test_add_name_refuses_bad_names(client: TestClient, coordinator_headers, make_letter) -> None:
    make_letter(coordinator_headers)
    org_id = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Sova Center"}}
    )["organisation_id"]
    for bad in ["", "   ", "\u200b\u200c", "x" * 301, "Sova\u202eCenter", "Sova\x00"]:
        response = client.post(
            f"/api/v1/organisations/{org_id}/names", json={"name": bad}, headers=coordinator_headers
        )
        assert response.status_code == 422, bad
        assert response.json()["field"] == "name"
    assert (
        client.post(
            "/api/v1/organisations/999999/names",
            json={"name": "Ghost"},
            headers=coordinator_headers,
        ).status_code
        == 404
    )


def test_merged_id_answers_308_to_survivor(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    a = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Human Rights in China"}},
    )["organisation_id"]
    b = sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "HRIC"}})[
        "organisation_id"
    ]
    with open_session(write=True) as session:
        merged = session.get(Organisation, b)
        assert merged is not None
        merged.merged_into = a
        session.add(merged)
        session.commit()
    response = client.get(
        f"/api/v1/organisations/{b}", headers=coordinator_headers, follow_redirects=False
    )
    assert response.status_code == 308
    assert response.headers["location"].endswith(f"/api/v1/organisations/{a}")
    assert client.get(f"/api/v1/organisations/{b}", headers=coordinator_headers).json()["id"] == a
    # Signing by a merged-away id signs for the survivor.
    by_id = sign(client, coordinator_headers, "test-letter", {"organisation_id": b})
    assert by_id["organisation_id"] == a


def test_organisation_page_hides_anonymous_signatures(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers, slug="named-letter")
    make_letter(coordinator_headers, slug="anon-letter")
    org_id = sign(
        client, coordinator_headers, "named-letter", {"organisation": {"name": "Quiet Voices"}}
    )["organisation_id"]
    sign(client, coordinator_headers, "anon-letter", {"organisation_id": org_id, "anonymous": True})
    org = client.get(f"/api/v1/organisations/{org_id}", headers=coordinator_headers).json()
    assert [s["letter"] for s in org["signatures"]] == ["named-letter"]


def test_organisation_endpoints_need_a_token(client: TestClient) -> None:
    assert client.get("/api/v1/organisations/1").status_code == 401
    assert client.get("/api/v1/organisations/match", params={"name": "x"}).status_code == 401


def test_match_refuses_bad_names(client: TestClient, coordinator_headers) -> None:
    response = client.get(
        "/api/v1/organisations/match", params={"name": "a\u202eb"}, headers=coordinator_headers
    )
    assert response.status_code == 400 and response.json()["field"] == "name"


def test_organisation_signatures_show_public_ranks_not_real_positions(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    """Another letter's coordinator reads an organisation: the position of its signature is its
    rank among public entries, so it does not tell how many anonymous signers came before."""
    make_letter(coordinator_headers)
    for index in range(3):
        sign(
            client,
            coordinator_headers,
            "test-letter",
            {"organisation": {"name": f"Hidden Group {index}"}, "anonymous": True},
        )
    sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "First Named"}})
    signed = sign(
        client, coordinator_headers, "test-letter", {"organisation": {"name": "Second Named"}}
    )
    org = client.get(
        f"/api/v1/organisations/{signed['organisation_id']}", headers=coordinator_headers
    ).json()
    assert [s["position"] for s in org["signatures"]] == [2]
