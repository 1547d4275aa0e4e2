"""Public organisation pages and their JSON: what the public may know, by opaque id, in ten
locales; a hidden organisation answers exactly like one that does not exist."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.i18n.catalogs import SUPPORTED
from app.opendata.publicid import internal_org_id, public_org_id
from tests.factories import sign


def _world(client: TestClient, coordinator_headers: dict[str, str], make_letter: Any) -> dict:
    make_letter(coordinator_headers, slug="open-one", title="First open letter")
    make_letter(coordinator_headers, slug="secretly", title="Signed anonymously")
    org = {
        "name": "香港民間人權陣線, Civil Human Rights Front (CHRF)",
        "country": "hk",
        "website": "https://chrf.example.org",
    }
    signed = sign(client, coordinator_headers, "open-one", {"organisation": org})
    oid = signed["organisation_id"]
    sign(client, coordinator_headers, "secretly", {"organisation_id": oid, "anonymous": True})
    return {"id": oid, "public": public_org_id(oid)}


def test_public_json(client: TestClient, coordinator_headers, make_letter) -> None:
    world = _world(client, coordinator_headers, make_letter)
    response = client.get(f"/api/v1/organisations/{world['public']}/public")
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    body = response.json()
    assert body["id"] == world["public"]
    assert body["name"] == "香港民間人權陣線"
    assert body["country"] == "HK"
    assert body["website"] == "https://chrf.example.org"
    assert [(n["name"], n["script"]) for n in body["names"]] == [
        ("香港民間人權陣線", "Hant"),
        ("Civil Human Rights Front", "Latn"),
        ("CHRF", "Latn"),
    ]
    assert all("lang" in n for n in body["names"])
    # Letters signed by name only: not the one signed anonymously.
    assert [letter["slug"] for letter in body["letters"]] == ["open-one"]
    text = response.text
    assert "secretly" not in text
    # The internal id appears nowhere.
    assert str(world["id"]) not in text.replace(world["public"], "")


def test_public_ids_are_opaque_and_stable(client: TestClient, coordinator_headers, make_letter):
    make_letter(coordinator_headers)
    names = ("Alpha Aid", "Bravo Books", "Charlie Choir", "Delta Dance", "Echo Ecology")
    ids = [
        sign(client, coordinator_headers, "test-letter", {"organisation": {"name": name}})[
            "organisation_id"
        ]
        for name in names
    ]
    public = [public_org_id(i) for i in ids]
    assert len(set(public)) == len(ids)
    assert [internal_org_id(p) for p in public] == ids
    # Consecutive internal ids give unrelated public ids (no shared prefix to count by).
    assert len({p[:8] for p in public}) == len(public)
    assert [public_org_id(i) for i in ids] == public  # stable
    # A tampered id is nobody's.
    for position in range(4, len(public[0])):
        for char in "a7":
            tampered = public[0][:position] + char + public[0][position + 1 :]
            if tampered != public[0]:
                assert internal_org_id(tampered) is None, tampered
    assert internal_org_id("org-") is None and internal_org_id("42") is None


def test_hidden_is_404_exactly_like_nonexistent(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    hidden = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Quiet Helpers"}, "anonymous": True},
    )["organisation_id"]
    assert hidden is not None
    hidden_public = public_org_id(hidden)
    nobody = public_org_id(hidden + 1000)
    for path in ("/api/v1/organisations/{}/public", "/organisations/{}"):
        a = client.get(path.format(hidden_public))
        b = client.get(path.format(nobody))
        assert a.status_code == b.status_code == 404
        assert a.text.replace(hidden_public, "X") == b.text.replace(nobody, "X")
        assert dict(a.headers).keys() == dict(b.headers).keys()
    page = client.get(f"/organisations/{hidden_public}", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "Quiet Helpers" not in page.text


@pytest.mark.parametrize("locale", sorted(SUPPORTED.values()))
def test_page_in_every_locale(
    client: TestClient, coordinator_headers, make_letter, locale: str
) -> None:
    world = _world(client, coordinator_headers, make_letter)
    page = client.get(f"/organisations/{world['public']}", params={"locale": locale})
    assert page.status_code == 200, page.text
    assert f'<html lang="{locale}"' in page.text
    assert "Civil Human Rights Front" in page.text
    assert "First open letter" in page.text
    assert "Signed anonymously" not in page.text
    assert 'href="/letters/open-one' in page.text
    if locale == "fr":
        assert "Lettres signées" in page.text and "Hong Kong" in page.text
    if locale == "ar":
        assert 'dir="rtl"' in page.text and "الرسائل الموقّعة" in page.text
    if locale == "ja":
        assert "署名した書簡" in page.text


def test_merged_away_redirects_permanently(
    client: TestClient, coordinator_headers, admin_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    a = sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "Alpha Aid"}})
    b = sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "Beta Band"}})
    merged = client.post(
        "/api/v1/admin/merges",
        json={"survivor_id": a["organisation_id"], "merged_ids": [b["organisation_id"]]},
        headers=admin_headers,
    )
    assert merged.status_code == 201, merged.text
    survivor = public_org_id(a["organisation_id"])
    gone = public_org_id(b["organisation_id"])
    page = client.get(f"/organisations/{gone}", follow_redirects=False)
    assert page.status_code == 308 and page.headers["location"] == f"/organisations/{survivor}"
    data = client.get(f"/api/v1/organisations/{gone}/public", follow_redirects=False)
    assert data.status_code == 308
    assert data.headers["location"].endswith(f"/api/v1/organisations/{survivor}/public")


def test_key_comes_from_the_database_or_the_setting(engine, monkeypatch) -> None:
    from app.config import get_settings
    from app.opendata import publicid

    monkeypatch.setattr(publicid, "_key", None)
    first = publicid.public_org_id(7)  # creates the row the migration would have stored
    monkeypatch.setattr(publicid, "_key", None)
    assert publicid.public_org_id(7) == first  # read back: every worker agrees
    monkeypatch.setattr(publicid, "_key", None)
    monkeypatch.setenv("UNDERSIGNED_PUBLIC_ID_SECRET", "another deployment's secret")
    get_settings.cache_clear()
    try:
        other = publicid.public_org_id(7)
    finally:
        monkeypatch.delenv("UNDERSIGNED_PUBLIC_ID_SECRET")
        get_settings.cache_clear()
    assert other != first and publicid.internal_org_id(other) == 7
