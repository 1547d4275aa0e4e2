"""A hot letter: signers do not queue behind one another's whole transaction (decision 0087).

Before: signing took the letter's row lock FOR UPDATE first and held it through resolution,
organisation creation and every insert, so on PostgreSQL a second signature to the same
letter waited for the whole of the first.
"""

import threading
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine

from app.signatures import service

SLUG = "hot-letter"


def test_a_slow_signer_does_not_hold_up_the_letter(
    client: TestClient,
    coordinator_headers: dict[str, str],
    make_letter: Callable[..., Any],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    make_letter(coordinator_headers, slug=SLUG)
    inside, release = threading.Event(), threading.Event()
    real = service.resolve_or_create

    def slow_for_one(session: Any, **kwargs: Any) -> Any:
        data = kwargs["data"]
        if data.organisation is not None and data.organisation.name == "Slow Org":
            inside.set()
            assert release.wait(30)
        return real(session, **kwargs)

    monkeypatch.setattr(service, "resolve_or_create", slow_for_one)
    answers: dict[str, Any] = {}

    def sign(name: str) -> None:
        answers[name] = client.post(
            f"/api/v1/letters/{SLUG}/signatures",
            json={"organisation": {"name": name}},
            headers=coordinator_headers,
        )

    slow = threading.Thread(target=sign, args=("Slow Org",))
    slow.start()
    assert inside.wait(10)
    fast = threading.Thread(target=sign, args=("Fast Org",))
    fast.start()
    try:
        fast.join(timeout=10 if engine.dialect.name == "postgresql" else 0.5)
        overtook = not fast.is_alive()
    finally:
        release.set()
        slow.join(30)
        fast.join(30)
    if engine.dialect.name == "postgresql":
        # The slow signer was still resolving: the letter was not locked meanwhile.
        assert overtook, "the second signature waited for the first one's lock"
        assert answers["Fast Org"].json()["position"] == 1
    assert answers["Slow Org"].status_code == answers["Fast Org"].status_code == 201
    positions = sorted(answers[n].json()["position"] for n in ("Slow Org", "Fast Org"))
    assert positions == [1, 2]
    count = client.get(f"/api/v1/letters/{SLUG}/count").json()
    with engine.connect() as conn:
        recount = conn.execute(
            text(
                "SELECT count(*) FROM signature JOIN letter ON letter.id = signature.letter_id "
                "WHERE letter.slug = :slug AND withdrawn_at IS NULL"
            ),
            {"slug": SLUG},
        ).scalar_one()
    assert count["total"] == recount == 2


def test_a_letter_closed_while_a_signature_is_prepared_refuses_it(
    client: TestClient,
    coordinator_headers: dict[str, str],
    make_letter: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    engine: Engine,
) -> None:
    """The final UPDATE matches only an open letter: a close that commits between the
    signer's first check and its allocation wins, and nothing is written. (SQLite: the
    signer holds the database's write lock from its first statement, so no close can commit
    meanwhile; the race exists on PostgreSQL only.)"""
    make_letter(coordinator_headers, slug=SLUG)
    if engine.dialect.name != "postgresql":
        return
    real = service.resolve_or_create

    def close_meanwhile(session: Any, **kwargs: Any) -> Any:
        from sqlalchemy import update

        from app.db import open_session
        from app.letters.models import Letter

        with open_session(write=False) as other:
            # Before: the signer held the letter FOR UPDATE here, so the close could not run.
            other.execute(text("SET LOCAL lock_timeout = '5s'"))
            other.execute(update(Letter).where(Letter.slug == SLUG).values(status="closed"))
            other.commit()
        return real(session, **kwargs)

    monkeypatch.setattr(service, "resolve_or_create", close_meanwhile)
    answer = client.post(
        f"/api/v1/letters/{SLUG}/signatures",
        json={"anonymous": True},
        headers=coordinator_headers,
    )
    assert answer.status_code == 409 and answer.json()["error"] == "letter_not_open"
    assert client.get(f"/api/v1/letters/{SLUG}/count").json()["total"] == 0


def test_concurrent_retries_with_one_idempotency_key_sign_once(
    client: TestClient,
    coordinator_headers: dict[str, str],
    make_letter: Callable[..., Any],
) -> None:
    make_letter(coordinator_headers, slug=SLUG)
    answers: list[Any] = []
    lock = threading.Lock()

    def sign() -> None:
        response = client.post(
            f"/api/v1/letters/{SLUG}/signatures",
            json={"organisation": {"name": "Retry Org"}},
            headers=coordinator_headers | {"Idempotency-Key": "retry-1"},
        )
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=sign) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    # Every retry gets the first response (its status included), none signs again.
    assert [a.status_code for a in answers] == [201] * 6
    assert len({a.json()["id"] for a in answers}) == 1
    assert client.get(f"/api/v1/letters/{SLUG}/count").json()["total"] == 1
