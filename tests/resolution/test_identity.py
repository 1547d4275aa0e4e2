"""Organisation identity through the API, on both databases: what a coordinator of another
letter may see as organisations become hidden or public, one organisation per name, the
refusal to guess between namesakes, and the check of new organisations against hidden ones."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import open_session
from app.organisations.models import Organisation
from app.resolution import checks, registry
from app.resolution import service as identity
from app.resolution.models import DuplicateCandidate, IdentityCheck
from tests.factories import API, Headers, match, sign


@pytest.fixture
def owner(coordinator_headers: Headers, make_letter: Callable[..., Any]) -> Headers:
    """The coordinator of letter A (where organisations sign anonymously)."""
    make_letter(coordinator_headers, slug="letter-a")
    return coordinator_headers


@pytest.fixture
def outsider(make_token: Callable[..., str], make_letter: Callable[..., Any]) -> Headers:
    """The coordinator of letters B, C, D and E, who manages nothing of letter A."""
    headers = {"Authorization": f"Bearer {make_token('coordinator')}"}
    for slug in ("letter-b", "letter-c", "letter-d", "letter-e"):
        make_letter(headers, slug=slug)
    return headers


def organisations_named(name: str) -> list[int]:
    from app.organisations.models import OrganisationName

    with open_session() as session:
        rows = session.exec(
            select(OrganisationName.organisation_id)
            .join(Organisation, Organisation.id == OrganisationName.organisation_id)  # type: ignore[arg-type]
            .where(OrganisationName.name == name, Organisation.merged_into == None)  # noqa: E711
        ).all()
    return sorted(set(rows))


def queued_pairs() -> set[tuple[int, int]]:
    with open_session() as session:
        return {
            (c.organisation_a, c.organisation_b) for c in session.exec(select(DuplicateCandidate))
        }


def test_a_name_hidden_elsewhere_signed_by_name_on_four_letters_makes_one_organisation(
    client: TestClient, owner: Headers, outsider: Headers
) -> None:
    secret = sign(
        client,
        owner,
        "letter-a",
        {"organisation": {"name": "Qx7 Lantern Exiles"}, "anonymous": True},
    )
    ids = [
        sign(client, outsider, slug, {"organisation": {"name": "Qx7 Lantern Exiles"}})
        for slug in ("letter-b", "letter-c", "letter-d", "letter-e")
    ]
    public = ids[0]["organisation_id"]
    assert public != secret["organisation_id"]
    assert [i["organisation_id"] for i in ids] == [public] * 4
    assert [i["resolution"]["status"] for i in ids] == ["new", "existing", "existing", "existing"]
    # The hidden one was no rival of the public one: a plain exact link, score 100.
    linked = ids[1]["resolution"]
    assert (linked["score"], linked["matched_name"]) == (100.0, "Qx7 Lantern Exiles")
    assert [c["organisation_id"] for c in linked["candidates"]] == [public]
    assert organisations_named("Qx7 Lantern Exiles") == sorted([secret["organisation_id"], public])
    # One review pair, found after the responses.
    assert queued_pairs() == set()
    checks.drain()
    assert queued_pairs() == {tuple(sorted((secret["organisation_id"], public)))}


def test_an_organisation_becomes_visible_with_its_first_public_signature_and_hidden_again(
    client: TestClient, owner: Headers, outsider: Headers
) -> None:
    hidden = sign(
        client,
        owner,
        "letter-a",
        {"organisation": {"name": "Qx8 Harbour Watch"}, "anonymous": True},
    )
    organisation_id = hidden["organisation_id"]
    assert match(client, outsider, "Qx8 Harbour Watch") == []
    assert client.get(f"{API}/organisations/{organisation_id}", headers=outsider).status_code == 404
    # Its own coordinator signs it by name on a second (public) letter: it is public now.
    make = client.post(
        f"{API}/letters",
        json={"slug": "letter-a2", "title": "t", "lang": "en", "status": "open"},
        headers=owner,
    )
    assert make.status_code == 201
    named = sign(client, owner, "letter-a2", {"organisation_id": organisation_id})
    found = match(client, outsider, "Qx8 Harbour Watch")
    assert [(c["organisation_id"], c["decision"]) for c in found] == [(organisation_id, "same")]
    page = client.get(f"{API}/organisations/{organisation_id}", headers=outsider)
    assert page.status_code == 200
    assert [s["letter"] for s in page.json()["signatures"]] == ["letter-a2"]
    # Withdrawn, the public signature no longer shows it: hidden again, everywhere.
    withdrawn = client.delete(f"{API}/letters/letter-a2/signatures/{named['id']}", headers=owner)
    assert withdrawn.status_code == 200
    assert match(client, outsider, "Qx8 Harbour Watch") == []
    assert client.get(f"{API}/organisations/{organisation_id}", headers=outsider).status_code == 404
    again = sign(client, outsider, "letter-b", {"organisation": {"name": "Qx8 Harbour Watch"}})
    assert again["organisation_id"] != organisation_id
    assert again["resolution"]["status"] == "new"


def test_the_first_anonymous_signature_of_an_unsigned_organisation_hides_it(
    client: TestClient, owner: Headers, outsider: Headers
) -> None:
    with open_session(write=True) as session:
        unsigned = registry.create(session, names=identity.parse_names(name="Qx9 Orchard Circle"))
        session.commit()
    assert [c["organisation_id"] for c in match(client, outsider, "Qx9 Orchard Circle")] == [
        unsigned
    ]
    signed = sign(
        client,
        owner,
        "letter-a",
        {"organisation": {"name": "Qx9 Orchard Circle"}, "anonymous": True},
    )
    assert signed["organisation_id"] == unsigned
    assert match(client, outsider, "Qx9 Orchard Circle") == []
    # Every worker reloads it: a process starting from nothing agrees.
    identity.reset_cache()
    assert match(client, outsider, "Qx9 Orchard Circle") == []
    assert [c["organisation_id"] for c in match(client, owner, "Qx9 Orchard Circle")] == [unsigned]


def test_namesakes_are_never_guessed_between_nor_joined_by_a_third(
    client: TestClient, owner: Headers, outsider: Headers
) -> None:
    first = sign(client, owner, "letter-a", {"organisation": {"name": "Tibet Action Network"}})
    with open_session(write=True) as session:
        twin = registry.create(session, names=identity.parse_names(name="Tibet Action Network"))
        session.commit()
    before = organisations_named("Tibet Action Network")
    assert before == sorted([first["organisation_id"], twin])
    response = client.post(
        f"{API}/letters/letter-b/signatures",
        json={"organisation": {"name": "Tibet Action Network"}},
        headers=outsider,
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert (body["error"], body["field"]) == ("ambiguous_organisation", "organisation.name")
    assert sorted(c["organisation_id"] for c in body["candidates"]) == before
    # An import names the same: an error row with the candidates, nothing created.
    report = client.post(
        f"{API}/letters/letter-b/imports",
        params={"dry_run": "true"},
        content="position,name,other_names,kind,lang,country,website,anonymous\n"
        "1,Tibet Action Network,,,,,,false\n",
        headers=outsider | {"Content-Type": "text/csv"},
    ).json()
    row = report["rows"][0]
    assert row["status"] == "error" and "organisation_id" in row["reason"]
    assert sorted(c["organisation_id"] for c in row["candidates"]) == before
    # Signing by id chooses; no third organisation was ever made.
    chosen = sign(client, outsider, "letter-b", {"organisation_id": twin})
    assert chosen["organisation_id"] == twin
    assert organisations_named("Tibet Action Network") == before


def test_new_organisations_are_checked_against_hidden_ones_after_the_transaction(
    client: TestClient, owner: Headers, outsider: Headers, admin_headers: Headers
) -> None:
    secret = sign(
        client,
        owner,
        "letter-a",
        {"organisation": {"name": "Zv4 Mountain Defenders"}, "anonymous": True},
    )
    new = sign(
        client, outsider, "letter-b", {"organisation": {"name": "Zv4 Mountain Defenders Kenya"}}
    )
    assert new["resolution"] == {
        "status": "new",
        "score": 0.0,
        "matched_name": None,
        "candidates": [],
    }
    with open_session() as session:
        rows = session.exec(select(IdentityCheck)).all()
    assert [r.organisation_ids for r in rows][-1] == [new["organisation_id"]]
    # A refused request leaves no check behind; a dry-run import neither.
    client.post(
        f"{API}/letters/letter-b/imports",
        params={"dry_run": "true"},
        content="position,name,other_names,kind,lang,country,website,anonymous\n"
        "1,Zv4 Mountain Defenders Nepal,,,,,,false\n",
        headers=outsider | {"Content-Type": "text/csv"},
    )
    with open_session() as session:
        assert len(session.exec(select(IdentityCheck)).all()) == len(rows)
    checks.drain()
    with open_session() as session:
        assert session.exec(select(IdentityCheck)).all() == []
    pair = tuple(sorted((secret["organisation_id"], new["organisation_id"])))
    assert pair in queued_pairs()
    # The admin queue shows it; admins create without a deferred check (they see everything).
    groups = client.get(f"{API}/admin/duplicates", headers=admin_headers).json()["data"]
    assert any(tuple(g["organisation_ids"]) == pair for g in groups)
    make = client.post(
        f"{API}/letters",
        json={"slug": "admin-letter", "title": "t", "lang": "en", "status": "open"},
        headers=admin_headers,
    )
    assert make.status_code == 201
    # Admins see every organisation: they link to the hidden one, and what they create is
    # not checked again.
    admin_linked = sign(
        client, admin_headers, "admin-letter", {"organisation": {"name": "Zv4 Mountain Defenders"}}
    )
    assert admin_linked["organisation_id"] == secret["organisation_id"]
    admin_new = sign(
        client, admin_headers, "admin-letter", {"organisation": {"name": "Zv4 Coastal Archive"}}
    )
    assert admin_new["resolution"]["status"] == "new"
    with open_session() as session:
        assert session.exec(select(IdentityCheck)).all() == []


def test_a_rolled_back_creation_leaves_no_check(engine: Any) -> None:
    from app.auth.models import Role
    from app.auth.service import Principal
    from app.resolution.visibility import Viewer

    coordinator = Viewer(Principal(role=Role.coordinator, token_id=None))
    with open_session(write=True) as session:
        created = identity.identify(session, name="Rolled Back Harbour Forum", viewer=coordinator)
        assert created.status == "new" and created.organisation_id is not None
        assert len(session.exec(select(IdentityCheck)).all()) == 1
        session.rollback()
    with open_session() as session:
        assert session.exec(select(IdentityCheck)).all() == []


def test_organisations_merely_alike_do_not_stop_a_new_one(
    client: TestClient, owner: Headers, outsider: Headers
) -> None:
    """Two organisations that only share a website domain with the submitted one (a hosting
    domain) both reach the link line, but neither bears its name: a new organisation and
    review pairs, as before, not a refusal."""
    with open_session(write=True) as session:
        alike = [
            registry.create(
                session,
                names=identity.parse_names(name=name),
                website=f"https://{host}.example.org",
            )
            for name, host in (
                ("New Movement of Quito 263", "a"),
                ("New Movement of Quito 5426", "b"),
            )
        ]
        session.commit()
    new = sign(
        client,
        outsider,
        "letter-b",
        {
            "organisation": {
                "name": "New Movement of Quito 7949",
                "website": "https://c.example.org",
            }
        },
    )
    assert new["resolution"]["status"] == "needs_review"
    assert sorted(c["organisation_id"] for c in new["resolution"]["candidates"]) == alike
    assert new["organisation_id"] not in alike
