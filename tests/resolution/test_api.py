"""Resolution through the API (match and signing) against the seed letter, on both databases."""

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import open_session
from app.resolution import registry, scan
from app.resolution import service as resolution_service
from app.resolution.models import DuplicateCandidate, Judgement
from tests.factories import match_response


def create(session, name: str) -> int:  # type: ignore[no-untyped-def]
    """A new organisation straight through the registry (no signature, no resolution)."""
    return registry.create(session, names=resolution_service.parse_names(name=name))


def resolve(session, name: str):  # type: ignore[no-untyped-def]
    return resolution_service.resolve(session, names=[name], viewer=None)


def org_id_of(client: TestClient, headers: dict[str, str], exact: str) -> int:
    data = match_response(client, headers, exact).json()
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
        data = match_response(client, seed_headers, query).json()
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
        data = match_response(client, seed_headers, query).json()
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
        for c in match_response(client, seed_headers, "Moscow Helsinki Group").json()
    )
    added = client.post(
        f"/api/v1/organisations/{target}/names",
        json={"name": "Moscow Helsinki Group", "lang": "en"},
        headers=seed_headers,
    )
    assert added.status_code == 201, added.text
    data = match_response(client, seed_headers, "Moscow Helsinki Group").json()
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
    data = match_response(client, coordinator_headers, "Sova Center").json()
    assert data and data[0]["organisation_id"] == created.json()["organisation_id"]


@pytest.mark.parametrize("verdict", ["different", "same", None])
def test_judgements_between_twins(engine, verdict: str | None) -> None:
    """Two organisations registered under one name: never linked across `different`; an
    admin's `same` lets the margin rule ignore the twin."""

    with open_session(write=True) as session:
        ids = []
        for _ in range(2):
            ids.append(create(session, "Tibet Action Network"))
        a, b = sorted(ids)
        if verdict:
            session.add(Judgement(organisation_a=a, organisation_b=b, verdict=verdict, actor="t"))
        session.commit()
        resolution = resolve(session, "Tibet Action Network")
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
        response = match_response(client, seed_headers, name)
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
    response = match_response(client, seed_headers, "b" * 301)
    assert response.status_code in (400, 422)
    assert response.json()["field"] == "name"


def test_the_scan_finds_candidates_and_skips_judged_pairs(
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
    pair = tuple(sorted(ids[:2]))
    with open_session(write=True) as session:
        seen = registry.view(session, viewer=None)
        scanned = scan.scan(seen)
        assert [(p.a, p.b) for p in scanned] == [pair]
        assert scanned[0].reasons and scanned[0].score >= 70
        assert [(p.a, p.b) for p in scan.candidate_pairs(session, limit=10)] == [pair]
        session.add(
            Judgement(
                organisation_a=pair[0], organisation_b=pair[1], verdict="different", actor="t"
            )
        )
        session.commit()
        assert scan.candidate_pairs(session, limit=10) == []


def test_warm_up_builds_the_index_before_any_request(seeded: str) -> None:
    from app.main import warm_resolver

    resolution_service.reset_cache()
    assert registry._shared.public is None
    warm_resolver()
    built = registry._shared.public
    assert built is not None and len(built) == 281
    with open_session() as session:
        assert registry.warm(session) == 281
        assert registry._shared.public is built


def test_rolled_back_organisation_never_reaches_the_shared_index(engine) -> None:
    """On both databases: a transaction's own new organisations stay in its overlay."""

    with open_session(write=True) as session:
        before = resolve(session, "Existing Coalition")
        assert before.status == "new"
        created_id = create(session, "Phantom Exile Forum")
        inside = resolve(session, "Phantom Exile Forum")
        assert (inside.status, inside.organisation_id) == ("existing", created_id)
        # Other requests of this worker share the index: an uncommitted organisation must not
        # be there (they could link to it, and a rollback would force a full rebuild).
        assert created_id not in registry._shared.public  # type: ignore[operator]
        session.rollback()
    with open_session() as session:
        after = resolve(session, "Phantom Exile Forum")
        assert after.status == "new"
        assert registry.entry(session, created_id) is None


def test_organisations_created_in_one_transaction_share_its_version(engine) -> None:
    """On both databases: one counter bump per transaction, and every worker still sees all
    of its organisations after the commit."""
    from app.organisations.models import Organisation, RegistryState

    names = ["Lantern Watch Yerevan", "Harbour Rights Lab Fiji", "Quiet Orchard Collective"]
    with open_session() as session:
        start = session.get(RegistryState, 1).version  # type: ignore[union-attr]
        resolution_service.warm(session)  # this worker's index is at `start`
    with open_session(write=True) as session:
        ids = []
        for name in names:
            assert resolve(session, name).status == "new"
            ids.append(create(session, name))
        # Each later row of the same transaction finds the earlier ones (its overlay).
        found = resolve(session, names[0])
        assert (found.status, found.organisation_id) == ("existing", ids[0])
        session.commit()
    with open_session() as session:
        assert session.get(RegistryState, 1).version == start + 1  # type: ignore[union-attr]
        revisions = {session.get(Organisation, i).revision for i in ids}  # type: ignore[union-attr]
        assert revisions == {start + 1}
        for name, organisation_id in zip(names, ids, strict=True):
            resolved = resolve(session, name)
            assert (resolved.status, resolved.organisation_id) == ("existing", organisation_id)


def test_a_rolled_back_savepoint_takes_its_organisations_and_version_along(engine) -> None:
    """On both databases: after ROLLBACK TO SAVEPOINT the transaction neither reuses the lost
    version nor resolves to the lost organisation; what it creates next is seen by all."""
    from app.organisations.models import Organisation, OrganisationName, RegistryState

    with open_session() as session:
        start = session.get(RegistryState, 1).version  # type: ignore[union-attr]
        resolution_service.warm(session)
    with open_session(write=True) as session:
        kept = create(session, "Kept Lantern Forum")
        resolve(session, "anything")
        savepoint = session.begin_nested()
        lost = create(
            session, "Lost Harbour Circle"
        )  # SQLite may give this id again after the rollback
        inside = resolve(session, "Lost Harbour Circle")
        assert inside.organisation_id == lost
        savepoint.rollback()
        gone = resolve(session, "Lost Harbour Circle")
        assert gone.status == "new"
        # Still uncommitted: the organisation made before the savepoint stays this
        # transaction's own, out of the index other requests share.
        still = resolve(session, "Kept Lantern Forum")
        assert still.organisation_id == kept
        assert kept not in registry._shared.public  # type: ignore[operator]
        later = create(session, "Later Orchard Assembly")
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
            resolved = resolve(session, name)
            assert (resolved.status, resolved.organisation_id) == ("existing", organisation_id)


def test_a_transaction_that_creates_first_still_sees_what_others_committed_before(
    engine,
) -> None:
    """On both databases: the overlay of a transaction whose first act is creating an
    organisation starts from memory; the worker's shared index must still catch up with what
    other transactions committed before (its later resolves skip the version query)."""

    with open_session() as session:
        resolution_service.warm(session)  # this worker's index, before the other commit
    with open_session(write=True) as other:
        theirs = create(other, "Brand New Orchard Forum")
        other.commit()
    with open_session(write=True) as session:
        create(session, "Another Fresh Harbour Lab")
        found = resolve(session, "Brand New Orchard Forum")
        assert (found.status, found.organisation_id) == ("existing", theirs)
