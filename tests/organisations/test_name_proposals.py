"""Names belong to the letters that show them: a coordinator's name for an organisation that
other letters show waits for an admin, shown nowhere and never matched until accepted."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func
from sqlmodel import col, select

from app.audit import AuditEvent
from app.db import open_session
from app.letters.models import Letter
from app.resolution.visibility import shows
from app.signatures.models import Signature
from tests.admin.test_admin_page import login, page_csrf

API = "/api/v1"
SEED = "global-call-un-mechanism-china"
RUSSIAN = "Фронт Лайн Дефендерс"
Headers = dict[str, str]


@pytest.fixture
def newcomer(
    seeded: str, make_token: Callable[..., str], make_letter: Callable[..., Any]
) -> Headers:
    """The coordinator of a new letter, who manages nothing of the seed letter."""
    headers = {"Authorization": f"Bearer {make_token('coordinator')}"}
    make_letter(headers, slug="new-letter")
    return headers


def front_line(client: TestClient, headers: Headers) -> int:
    found = client.get(
        f"{API}/organisations/match", params={"name": "Front Line Defenders"}, headers=headers
    ).json()
    assert found[0]["decision"] == "same"
    return int(found[0]["organisation_id"])


def russian_listing(client: TestClient, organisation_id: int) -> str:
    """The organisation's line in the public Russian list, found by its public position (the
    public list carries no organisation ids: decision 0085)."""
    with open_session() as session:
        letter_id = session.exec(select(Letter.id).where(Letter.slug == SEED)).one()
        mine = session.exec(
            select(Signature.position).where(
                Signature.letter_id == letter_id,
                Signature.organisation_id == organisation_id,
                col(Signature.withdrawn_at).is_(None),
            )
        ).one()
        rank = session.exec(
            select(func.count())
            .select_from(Signature)
            .where(Signature.letter_id == letter_id, shows(), Signature.position <= mine)
        ).one()
    rows = client.get(f"{API}/letters/{SEED}/signatories", params={"lang": "ru", "limit": 500})
    return next(r["name"] for r in rows.json()["data"] if r["position"] == rank)


def links(client: TestClient, headers: Headers, name: str) -> list[int]:
    found = client.get(f"{API}/organisations/match", params={"name": name}, headers=headers)
    return [c["organisation_id"] for c in found.json() if c["decision"] == "same"]


def actions() -> list[str]:
    with open_session() as session:
        return list(session.exec(select(AuditEvent.action).order_by(col(AuditEvent.id))))


def test_a_name_for_another_letters_organisation_waits_for_an_admin(
    client: TestClient, newcomer: Headers, admin_headers: Headers
) -> None:
    target = front_line(client, newcomer)
    shown_before = russian_listing(client, target)
    response = client.post(
        f"{API}/organisations/{target}/names",
        json={"name": RUSSIAN, "lang": "ru"},
        headers=newcomer,
    )
    assert response.status_code == 202, response.text
    proposal = response.json()
    assert (proposal["organisation_id"], proposal["name"], proposal["status"]) == (
        target,
        RUSSIAN,
        "pending",
    )
    # Shown nowhere, matched by nothing.
    assert russian_listing(client, target) == shown_before != RUSSIAN
    page = client.get(f"{API}/organisations/{target}", headers=newcomer).json()
    assert RUSSIAN not in [n["name"] for n in page["names"]]
    assert target not in links(client, newcomer, RUSSIAN)
    assert actions()[-1] == "organisation.propose_name"
    # The admin sees it in the queue (API), accepts it: shown and matched from then on.
    queue = client.get(f"{API}/admin/name-proposals", headers=admin_headers).json()
    assert [(p["id"], p["organisation_id"]) for p in queue["data"]] == [(proposal["id"], target)]
    assert "Front Line Defenders" in queue["data"][0]["organisation_names"]
    accepted = client.post(
        f"{API}/admin/name-proposals/{proposal['id']}/accept", headers=admin_headers
    )
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert russian_listing(client, target) == RUSSIAN
    assert links(client, newcomer, RUSSIAN) == [target]
    assert actions()[-1] == "name_proposal.accept"
    again = client.post(
        f"{API}/admin/name-proposals/{proposal['id']}/reject", headers=admin_headers
    )
    assert again.status_code == 409 and again.json()["error"] == "already_decided"
    assert client.get(f"{API}/admin/name-proposals", headers=admin_headers).json()["count"] == 0


def test_a_rejected_name_is_never_shown(
    client: TestClient, newcomer: Headers, admin_headers: Headers
) -> None:
    target = front_line(client, newcomer)
    proposal = client.post(
        f"{API}/organisations/{target}/names", json={"name": "FLD Moscow Desk"}, headers=newcomer
    ).json()
    rejected = client.post(
        f"{API}/admin/name-proposals/{proposal['id']}/reject", headers=admin_headers
    )
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    page = client.get(f"{API}/organisations/{target}", headers=newcomer).json()
    assert "FLD Moscow Desk" not in [n["name"] for n in page["names"]]
    assert target not in links(client, newcomer, "FLD Moscow Desk")
    assert actions()[-1] == "name_proposal.reject"


def test_the_letters_own_coordinators_and_admins_add_names_at_once(
    client: TestClient, seeded: str, make_token: Callable[..., str], admin_headers: Headers
) -> None:
    seed_coordinator = {"Authorization": f"Bearer {make_token('coordinator', [seeded])}"}
    target = front_line(client, seed_coordinator)
    added = client.post(
        f"{API}/organisations/{target}/names",
        json={"name": RUSSIAN, "lang": "ru"},
        headers=seed_coordinator,
    )
    assert added.status_code == 201, added.text
    assert RUSSIAN in [n["name"] for n in added.json()["names"]]
    assert russian_listing(client, target) == RUSSIAN
    assert actions()[-1] == "organisation.add_name"
    by_admin = client.post(
        f"{API}/organisations/{target}/names", json={"name": "FLD HQ"}, headers=admin_headers
    )
    assert by_admin.status_code == 201


def test_the_review_page_accepts_a_proposed_name(
    client: TestClient, newcomer: Headers, admin_headers: Headers
) -> None:
    target = front_line(client, newcomer)
    proposal = client.post(
        f"{API}/organisations/{target}/names",
        json={"name": RUSSIAN, "lang": "ru"},
        headers=newcomer,
    ).json()
    login(client)
    review = client.get("/admin")
    assert "Proposed names (1)" in review.text and RUSSIAN in review.text
    forged = client.post(
        "/admin/name-proposal",
        data={"proposal_id": proposal["id"], "accept": "true", "csrf": "x" * 40},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    done = client.post(
        "/admin/name-proposal",
        data={"proposal_id": proposal["id"], "accept": "true", "csrf": page_csrf(review.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/admin?done=accepted"
    assert russian_listing(client, target) == RUSSIAN
    assert "Proposed names (0)" in client.get("/admin").text
