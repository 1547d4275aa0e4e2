"""Resolution through the API (match and signing) against the seed letter, on both databases."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.admin.models import DuplicateCandidate, Judgement
from app.db import open_session
from app.resolution import service as resolution_service


def match(client: TestClient, headers: dict[str, str], name: str):  # type: ignore[no-untyped-def]
    return client.get("/api/v1/organisations/match", params={"name": name}, headers=headers)


def org_id_of(client: TestClient, headers: dict[str, str], exact: str) -> int:
    data = match(client, headers, exact).json()
    assert data and data[0]["decision"] == "same", data
    return int(data[0]["organisation_id"])


@pytest.fixture
def seed_headers(seeded: str, make_token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('coordinator', [seeded])}"}


def test_seed_keeps_every_signatory_apart(client: TestClient, seeded: str) -> None:
    count = client.get(f"/api/v1/letters/{seeded}/count").json()
    assert count["named"] == 281


def test_match_finds_seed_organisations(client: TestClient, seed_headers: dict[str, str]) -> None:
    for query, registered in [
        ("FORUM-ASIA", "Asian Forum for Human Rights and Development (FORUM-ASIA)"),
        ("Frontline Defenders", "Front Line Defenders"),
        ("台湾南社", "台灣南社"),
        ("Reporters sans frontières", "Reporters Without Borders"),
    ]:
        expected = org_id_of(client, seed_headers, registered)
        data = match(client, seed_headers, query).json()
        assert data[0]["organisation_id"] == expected, query
        assert data[0]["decision"] == "same"
        assert data[0]["reasons"]


def test_signing_keeps_distinct_organisations_apart(
    client: TestClient, seed_headers: dict[str, str], seeded: str
) -> None:
    for query, other in [
        ("ACAT Belgium", "ACAT-Switzerland"),
        ("Amnesty International", "Amnesty International Taiwan"),
        ("Japan Uyghur Association", "Japan Uyghur Union"),
        ("台灣南社", "台灣客社"),
    ]:
        first = client.post(
            f"/api/v1/letters/{seeded}/signatures",
            json={"organisation": {"name": other}},
            headers=seed_headers,
        )
        assert first.status_code in (200, 201), first.text
        other_id = first.json()["organisation_id"]
        data = match(client, seed_headers, query).json()
        linked = [c for c in data if c["decision"] == "same"]
        assert linked and linked[0]["organisation_id"] != other_id, query
    taiwan = client.post(
        f"/api/v1/letters/{seeded}/signatures",
        json={"organisation": {"name": "Amnesty International Taiwan"}},
        headers=seed_headers,
    ).json()
    assert taiwan["resolution"]["status"] != "existing" or taiwan["organisation_id"] != (
        org_id_of(client, seed_headers, "Amnesty International")
    )


def test_needs_review_queues_the_pair(
    client: TestClient, seed_headers: dict[str, str], seeded: str
) -> None:
    response = client.post(
        f"/api/v1/letters/{seeded}/signatures",
        json={"organisation": {"name": "Karapatan"}},
        headers=seed_headers,
    )
    assert response.status_code == 201, response.text
    resolution = response.json()["resolution"]
    assert resolution["status"] == "needs_review"
    new_id = response.json()["organisation_id"]
    with open_session() as session:
        pairs = session.exec(select(DuplicateCandidate)).all()
    assert any(new_id in (p.organisation_a, p.organisation_b) and p.reasons for p in pairs)


def test_added_name_resolves_at_once(
    client: TestClient, seed_headers: dict[str, str], admin_headers: dict[str, str]
) -> None:
    target = org_id_of(client, seed_headers, "Московская Хельсинкская группа")
    assert all(
        c["organisation_id"] != target or c["decision"] != "same"
        for c in match(client, seed_headers, "Moscow Helsinki Group").json()
    )
    added = client.post(
        f"/api/v1/organisations/{target}/names",
        json={"name": "Moscow Helsinki Group", "lang": "en"},
        headers=seed_headers,
    )
    assert added.status_code == 201, added.text
    data = match(client, seed_headers, "Moscow Helsinki Group").json()
    assert data[0]["organisation_id"] == target and data[0]["decision"] == "same"


def test_index_follows_external_writes_and_resets(
    client: TestClient, coordinator_headers: dict[str, str], make_letter
) -> None:
    make_letter(coordinator_headers)
    created = client.post(
        "/api/v1/letters/test-letter/signatures",
        json={"organisation": {"name": "Sova Center for Information and Analysis"}},
        headers=coordinator_headers,
    )
    assert created.status_code == 201
    # Another worker's process would start from nothing: the version counter rebuilds it.
    resolution_service.reset_cache()
    data = match(client, coordinator_headers, "Sova Center").json()
    assert data and data[0]["organisation_id"] == created.json()["organisation_id"]


@pytest.mark.parametrize("verdict", ["different", "same", None])
def test_judgements_between_twins(engine, verdict: str | None) -> None:
    """Two organisations registered under one name: never linked across `different`; an
    admin's `same` lets the margin rule ignore the twin."""
    from app.organisations import service as organisation_service

    with open_session(write=True) as session:
        ids = []
        for _ in range(2):
            names = organisation_service.parse_names(name="Tibet Action Network")
            created = organisation_service.create(session, names=names)
            assert created.id is not None
            ids.append(created.id)
        a, b = sorted(ids)
        if verdict:
            session.add(Judgement(organisation_a=a, organisation_b=b, verdict=verdict, actor="t"))
        session.commit()
        resolution = resolution_service.resolve(session, names=["Tibet Action Network"])
    if verdict == "same":
        assert resolution.status == "existing" and resolution.organisation_id == a
    else:
        assert resolution.status == "needs_review"
        assert {c.organisation_id for c in resolution.candidates} == {a, b}


def test_pathological_names_resolve_or_4xx(
    client: TestClient, seed_headers: dict[str, str], seeded: str
) -> None:
    for name in [
        "a" * 300,
        "南" * 300,
        "مرصد Human Rights שלום Watch",
        "a" + "\u0301" * 299,
        "\u0301" * 300,
        "ACAT" + "\u200b" * 50,
        "\u202eACAT",
    ]:
        response = match(client, seed_headers, name)
        assert response.status_code in (200, 400, 422), response.text
        if response.status_code != 200:
            assert response.json()["error"]
        signed = client.post(
            f"/api/v1/letters/{seeded}/signatures",
            json={"organisation": {"name": name}},
            headers=seed_headers,
        )
        assert signed.status_code in (200, 201, 400, 422), signed.text


def test_too_long_name_is_refused(client: TestClient, seed_headers: dict[str, str]) -> None:
    response = match(client, seed_headers, "b" * 301)
    assert response.status_code in (400, 422)
    assert response.json()["field"] == "name"


def test_candidates_for_organisation_skip_judged_pairs(
    client: TestClient, coordinator_headers: dict[str, str], make_letter
) -> None:
    make_letter(coordinator_headers)
    ids = []
    for name in ("Tibet Justice Center", "Tibet Justice Network", "Karapatan Alliance"):
        response = client.post(
            "/api/v1/letters/test-letter/signatures",
            json={"organisation": {"name": name}},
            headers=coordinator_headers,
        )
        ids.append(response.json()["organisation_id"])
    center, network, _ = ids
    with open_session(write=True) as session:
        found = resolution_service.candidates_for_organisation(session, organisation_id=center)
        assert [oid for oid, _, _ in found] == [network]
        assert found[0][2]  # reasons
        a, b = sorted((center, network))
        session.add(Judgement(organisation_a=a, organisation_b=b, verdict="different", actor="t"))
        session.commit()
        assert resolution_service.candidates_for_organisation(session, organisation_id=center) == []


def test_warm_up_builds_the_index_before_any_request(seeded: str) -> None:
    from app.db import open_session
    from app.main import warm_resolver
    from app.resolution import service as resolution_service

    resolution_service.reset_cache()
    assert resolution_service._shared.index is None
    warm_resolver()
    built = resolution_service._shared.index
    assert built is not None and len(built) == 281
    with open_session() as session:
        assert resolution_service.shared_index(session) is built


def test_rolled_back_organisation_never_reaches_the_shared_index(engine) -> None:
    """On both databases: a transaction's own new organisations stay in its overlay."""
    from app.db import open_session
    from app.organisations import service as organisation_service
    from app.resolution import service as resolution_service

    with open_session(write=True) as session:
        before = resolution_service.resolve(session, names=["Existing Coalition"])
        assert before.status == "new"
        created = organisation_service.create(
            session, names=organisation_service.parse_names(name="Phantom Exile Forum")
        )
        created_id = created.id
        inside = resolution_service.resolve(session, names=["Phantom Exile Forum"])
        assert (inside.status, inside.organisation_id) == ("existing", created_id)
        # Other requests of this worker share the index: an uncommitted organisation must not
        # be there (they could link to it, and a rollback would force a full rebuild).
        shared = resolution_service._shared.index
        assert shared is not None and created_id not in shared
        session.rollback()
    with open_session() as session:
        after = resolution_service.resolve(session, names=["Phantom Exile Forum"])
        assert after.status == "new"
        assert created_id not in resolution_service.shared_index(session)


def test_organisations_created_in_one_transaction_share_its_version(engine) -> None:
    """On both databases: one counter bump per transaction, and every worker still sees all
    of its organisations after the commit."""
    from app.db import open_session
    from app.organisations import service as organisation_service
    from app.organisations.models import Organisation, RegistryState

    names = ["Lantern Watch Yerevan", "Harbour Rights Lab Fiji", "Quiet Orchard Collective"]
    with open_session() as session:
        start = session.get(RegistryState, 1).version  # type: ignore[union-attr]
        resolution_service.warm(session)  # this worker's index is at `start`
    with open_session(write=True) as session:
        ids = []
        for name in names:
            assert resolution_service.resolve(session, names=[name]).status == "new"
            created = organisation_service.create(
                session, names=organisation_service.parse_names(name=name)
            )
            ids.append(created.id)
        # Each later row of the same transaction finds the earlier ones (its overlay).
        found = resolution_service.resolve(session, names=[names[0]])
        assert (found.status, found.organisation_id) == ("existing", ids[0])
        session.commit()
    with open_session() as session:
        assert session.get(RegistryState, 1).version == start + 1  # type: ignore[union-attr]
        revisions = {session.get(Organisation, i).revision for i in ids}  # type: ignore[union-attr]
        assert revisions == {start + 1}
        for name, organisation_id in zip(names, ids, strict=True):
            resolved = resolution_service.resolve(session, names=[name])
            assert (resolved.status, resolved.organisation_id) == ("existing", organisation_id)


def test_a_rolled_back_savepoint_takes_its_organisations_and_version_along(engine) -> None:
    """On both databases: after ROLLBACK TO SAVEPOINT the transaction neither reuses the lost
    version nor resolves to the lost organisation; what it creates next is seen by all."""
    from app.db import open_session
    from app.organisations import service as organisation_service
    from app.organisations.models import Organisation, OrganisationName, RegistryState

    with open_session() as session:
        start = session.get(RegistryState, 1).version  # type: ignore[union-attr]
        resolution_service.warm(session)
    with open_session(write=True) as session:
        kept = organisation_service.create(
            session, names=organisation_service.parse_names(name="Kept Lantern Forum")
        ).id
        resolution_service.resolve(session, names=["anything"])
        savepoint = session.begin_nested()
        lost = organisation_service.create(
            session, names=organisation_service.parse_names(name="Lost Harbour Circle")
        ).id  # SQLite may give this id again after the rollback
        inside = resolution_service.resolve(session, names=["Lost Harbour Circle"])
        assert inside.organisation_id == lost
        savepoint.rollback()
        gone = resolution_service.resolve(session, names=["Lost Harbour Circle"])
        assert gone.status == "new"
        # Still uncommitted: the organisation made before the savepoint stays this
        # transaction's own, out of the index other requests share.
        still = resolution_service.resolve(session, names=["Kept Lantern Forum"])
        assert still.organisation_id == kept
        shared = resolution_service._shared.index
        assert shared is not None and kept not in shared
        later = organisation_service.create(
            session, names=organisation_service.parse_names(name="Later Orchard Assembly")
        ).id
        session.commit()
    with open_session() as session:
        version = session.get(RegistryState, 1).version  # type: ignore[union-attr]
        later_revision = session.get(Organisation, later).revision  # type: ignore[union-attr]
        assert start < later_revision <= version
        lost_names = session.exec(
            select(OrganisationName).where(OrganisationName.name == "Lost Harbour Circle")
        ).all()
        assert lost_names == []
        for name, organisation_id in (
            ("Kept Lantern Forum", kept),
            ("Later Orchard Assembly", later),
        ):
            resolved = resolution_service.resolve(session, names=[name])
            assert (resolved.status, resolved.organisation_id) == ("existing", organisation_id)


def test_a_transaction_that_creates_first_still_sees_what_others_committed_before(
    engine,
) -> None:
    """On both databases: the overlay of a transaction whose first act is creating an
    organisation starts from memory; the worker's shared index must still catch up with what
    other transactions committed before (its later resolves skip the version query)."""
    from app.db import open_session
    from app.organisations import service as organisation_service

    with open_session() as session:
        resolution_service.warm(session)  # this worker's index, before the other commit
    with open_session(write=True) as other:
        theirs = organisation_service.create(
            other, names=organisation_service.parse_names(name="Brand New Orchard Forum")
        ).id
        other.commit()
    with open_session(write=True) as session:
        organisation_service.create(
            session, names=organisation_service.parse_names(name="Another Fresh Harbour Lab")
        )
        found = resolution_service.resolve(session, names=["Brand New Orchard Forum"])
        assert (found.status, found.organisation_id) == ("existing", theirs)
