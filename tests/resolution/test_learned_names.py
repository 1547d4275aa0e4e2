"""Names learned from admin decisions (issue 12, deliverable 4), on SQLite and PostgreSQL.

A merge (accepting a review pair) or an admin's new name makes a spelling an exact name of
the organisation for the next coordinator, in every worker; a `different` verdict is a
negative no later score overrides: the spelling is never linked to that organisation, and the
pair is never queued again.
"""

from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from app.db import open_session
from app.resolution import queue, registry
from app.resolution.service import parse_names

API = "/api/v1"
RUSSIAN = "Международная амнистия"


def sign(client: TestClient, headers: dict[str, str], slug: str, name: str, **extra: Any) -> dict:
    body = {"organisation": {"name": name}} | extra
    body = {key: value for key, value in body.items() if value is not None}
    response = client.post(f"{API}/letters/{slug}/signatures", json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


def bearer(make_token: Callable[..., str], *letters: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token('coordinator', letters=list(letters))}"}


def other_worker() -> None:
    """What another worker process holds: nothing until its next resolve reloads it."""
    registry.reset_cache()


def letters(client: TestClient, admin: dict[str, str], make_letter, *slugs: str) -> None:
    for slug in slugs:
        make_letter(admin, slug=slug)


def test_a_merge_teaches_the_next_coordinator(
    client: TestClient, admin_headers: dict[str, str], make_letter, make_token
) -> None:
    letters(client, admin_headers, make_letter, "one", "two")
    amnesty = sign(client, admin_headers, "one", "Amnesty International")["organisation_id"]
    first = bearer(make_token, "one")
    learned = sign(client, first, "one", RUSSIAN)
    # Without an admin's word the resolver does not tie the Russian name to the English one.
    assert learned["organisation_id"] != amnesty
    merged = client.post(
        f"{API}/admin/merges",
        json={"survivor_id": amnesty, "merged_ids": [learned["organisation_id"]]},
        headers=admin_headers,
    )
    assert merged.status_code == 201, merged.text
    other_worker()
    second = bearer(make_token, "two")
    answer = sign(client, second, "two", RUSSIAN)
    assert answer["organisation_id"] == amnesty
    assert answer["resolution"]["status"] == "existing"


def test_an_admins_new_name_links_at_once(
    client: TestClient, admin_headers: dict[str, str], make_letter, make_token
) -> None:
    letters(client, admin_headers, make_letter, "one")
    amnesty = sign(client, admin_headers, "one", "Amnesty International")["organisation_id"]
    coordinator = bearer(make_token, "one")
    before = client.get(
        f"{API}/organisations/match", params={"name": "国际特赦"}, headers=coordinator
    )
    # At most a review candidate (a dictionary gloss), never a link, before the admin's name.
    assert all(c["decision"] != "same" for c in before.json() if c["organisation_id"] == amnesty), (
        before.json()
    )
    added = client.post(
        f"{API}/organisations/{amnesty}/names",
        json={"name": "国际特赦", "lang": "zh"},
        headers=admin_headers,
    )
    assert added.status_code == 201, added.text
    other_worker()
    answer = sign(client, coordinator, "one", "国际特赦")
    assert (answer["organisation_id"], answer["resolution"]["status"]) == (amnesty, "existing")


def test_different_is_a_negative_no_score_overrides(
    client: TestClient, admin_headers: dict[str, str], make_letter, make_token
) -> None:
    letters(client, admin_headers, make_letter, "one", "two", "three")
    watch = sign(client, admin_headers, "one", "Tibet Justice Center")["organisation_id"]
    # A near spelling an admin registers as an organisation of its own (the resolver would
    # have linked it), signed publicly on letter two and anonymously on letter three; an
    # admin then judges the two different.
    with open_session(write=True) as session:
        other = registry.create(session, names=parse_names(name="Tibet Justice Centre"))
        session.commit()
    centre = sign(client, admin_headers, "two", "", organisation_id=other, organisation=None)
    sign(
        client, admin_headers, "three", "", organisation_id=other, organisation=None, anonymous=True
    )
    judged = client.post(
        f"{API}/admin/judgements",
        json={"organisation_ids": [watch, other], "verdict": "different"},
        headers=admin_headers,
    )
    assert judged.status_code == 201, judged.text
    # Its public signature withdrawn, the second organisation is known only through an
    # anonymous one: a coordinator of letter one cannot see it. Without the verdict, the
    # spelling would link to the first (the control below, on another spelling).
    withdrawn = client.delete(f"{API}/letters/two/signatures/{centre['id']}", headers=admin_headers)
    assert withdrawn.status_code == 200, withdrawn.text
    other_worker()
    coordinator = bearer(make_token, "one")
    control = client.get(
        f"{API}/organisations/match",
        params={"name": "The Tibet Justice Centre"},
        headers=coordinator,
    ).json()
    answer = sign(client, coordinator, "one", "Tibet Justice Centre")
    assert answer["organisation_id"] not in (watch, other)
    assert answer["resolution"]["status"] == "new"
    assert watch not in [c["organisation_id"] for c in answer["resolution"]["candidates"]]
    # Never queued with the first organisation either, by the signing nor by the scan.
    with open_session(write=True) as session:
        queue.catch_up(session)
        session.commit()
    with open_session(write=True) as session:
        pairs = {(p.a, p.b) for p in queue.candidate_pairs(session, limit=50)}
    new = answer["organisation_id"]
    assert (min(watch, new), max(watch, new)) not in pairs
    assert control and control[0]["organisation_id"] == watch


def test_a_different_verdict_on_a_hidden_organisation_teaches_nothing_public(
    client: TestClient, admin_headers: dict[str, str], make_letter, make_token
) -> None:
    """A negative changes every caller's answers: a hidden organisation's names never make
    one (they would tell a coordinator that an organisation so named exists)."""
    letters(client, admin_headers, make_letter, "one", "two")
    watch = sign(client, admin_headers, "one", "Tibet Justice Center")["organisation_id"]
    hidden = sign(client, admin_headers, "two", "Tibet Justice Network", anonymous=True)
    coordinator = bearer(make_token, "one")
    before = client.get(
        f"{API}/organisations/match", params={"name": "Tibet Justice Network"}, headers=coordinator
    ).json()
    judged = client.post(
        f"{API}/admin/judgements",
        json={"organisation_ids": [watch, hidden["organisation_id"]], "verdict": "different"},
        headers=admin_headers,
    )
    assert judged.status_code == 201, judged.text
    other_worker()
    after = client.get(
        f"{API}/organisations/match", params={"name": "Tibet Justice Network"}, headers=coordinator
    ).json()
    assert after == before


def test_a_worker_holding_the_negatives_obeys_a_later_verdict_and_reads_them_once(
    client: TestClient, admin_headers: dict[str, str], make_letter, make_token, engine: Engine
) -> None:
    """Each worker keeps the negatives in memory (decision 0121): one holding them from
    before a verdict obeys it from the verdict's commit on, and a resolve reads the table
    only when the negatives' number moved."""
    letters(client, admin_headers, make_letter, "one")
    watch = sign(client, admin_headers, "one", "Tibet Justice Center")["organisation_id"]
    with open_session(write=True) as session:
        other = registry.create(session, names=parse_names(name="Tibet Justice Centre"))
        session.commit()
    coordinator = bearer(make_token, "one")

    def match(name: str) -> list[int]:
        answer = client.get(
            f"{API}/organisations/match", params={"name": name}, headers=coordinator
        )
        assert answer.status_code == 200, answer.text
        return [c["organisation_id"] for c in answer.json()]

    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "name_negative" in statement:
            reads.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        # This process now holds the negatives (none yet); a second resolve reads no table.
        assert watch in match("The Tibet Justice Centre")
        loaded = len(reads)
        assert watch in match("The Tibet Justice Centre")
        assert len(reads) == loaded
        judged = client.post(
            f"{API}/admin/judgements",
            json={"organisation_ids": [watch, other], "verdict": "different"},
            headers=admin_headers,
        )
        assert judged.status_code == 201, judged.text
        # Not reset: the copy from before the verdict is what this worker holds.
        assert watch not in match("Tibet Justice Centre")
        after = len(reads)
        assert after > loaded
        assert watch not in match("Tibet Justice Centre")
        assert len(reads) == after
    finally:
        event.remove(engine, "before_cursor_execute", count)
