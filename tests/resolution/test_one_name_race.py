"""One organisation per name under concurrency: a real uvicorn with 2 worker processes.

One new name is signed at the same moment on 30 letters (by their coordinator, who cannot see
the organisation that signed under that name anonymously elsewhere). Every signature must
land on one new organisation, and the hidden namesake must be queued once for an admin, by
the workers' background check. Decision 0066.
"""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from app.auth import service as auth_service
from app.auth.models import Role
from app.db import make_engine
from tests.conftest import ADMIN_TOKEN
from tests.hardening.conftest import UNLIMITED, Server, throwaway_database
from tests.hardening.test_concurrency import burst

API = "/api/v1"
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
NAME = "Lantern Harbour Rights Collective"
LETTERS = 30


@pytest.fixture(params=["sqlite", "postgresql"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    url, drop = throwaway_database(request.param, tmp_path)
    pools = {"UNDERSIGNED_DB_POOL_SIZE": "8", "UNDERSIGNED_DB_MAX_OVERFLOW": "4"}
    checks = {"UNDERSIGNED_IDENTITY_CHECKS_IN_BACKGROUND": "true"}
    server = Server(database_url=url, workers=2, env=UNLIMITED | pools | checks)
    try:
        server.start(log_level="warning")
        yield server, url
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()


def sql(url: str, query: str) -> list[tuple[object, ...]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.exec_driver_sql(query)]
    finally:
        engine.dispose()


def coordinator_token(url: str) -> str:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            _, clear = auth_service.create(session, role=Role.coordinator, letter_ids=[])
            session.commit()
    finally:
        engine.dispose()
    return clear


@pytest.mark.slow
def test_one_new_name_signed_at_once_on_thirty_letters_makes_one_organisation(
    served: tuple[Server, str],
) -> None:
    server, url = served
    coordinator = {"Authorization": f"Bearer {coordinator_token(url)}"}
    with httpx.Client(base_url=server.url + API, timeout=60) as http:
        for slug, headers in [("secret-letter", ADMIN)] + [
            (f"race-{i:02d}", coordinator) for i in range(LETTERS)
        ]:
            body = {"slug": slug, "title": "Race", "lang": "en", "status": "open"}
            assert http.post("/letters", json=body, headers=headers).status_code == 201
        hidden = http.post(
            "/letters/secret-letter/signatures",
            json={"organisation": {"name": NAME}, "anonymous": True},
            headers=ADMIN,
        )
        assert hidden.status_code == 201, hidden.text
    hidden_id = hidden.json()["organisation_id"]
    results = burst(
        server.url + API,
        [
            (
                "POST",
                f"/letters/race-{i:02d}/signatures",
                {"organisation": {"name": NAME}},
                coordinator,
            )
            for i in range(LETTERS)
        ],
        in_flight=LETTERS,
    )
    assert [status for status, _ in results] == [201] * LETTERS, results
    signed = {body["organisation_id"] for _, body in results}
    assert len(signed) == 1 and hidden_id not in signed, signed
    (public_id,) = signed
    statuses = sorted(body["resolution"]["status"] for _, body in results)
    assert statuses == ["existing"] * (LETTERS - 1) + ["new"]
    named = sql(
        url,
        "SELECT DISTINCT o.id FROM organisation o JOIN organisation_name n"
        f" ON n.organisation_id = o.id WHERE n.name = '{NAME}' AND o.merged_into IS NULL",
    )
    assert sorted(row[0] for row in named) == sorted([hidden_id, public_id])
    # The background check of the new organisation queues the hidden namesake, once.
    pair = tuple(sorted((hidden_id, public_id)))
    for _ in range(300):
        pairs = sql(url, "SELECT organisation_a, organisation_b FROM duplicate_candidate")
        left = sql(url, "SELECT count(*) FROM identity_check")
        if pairs and left == [(0,)]:
            break
        time.sleep(0.1)
    assert pairs == [pair], server.log()[-3000:]
