"""A worker's index under its threads' races (decision 0109): a version read just before
another thread filed a newer commit uses the newer index, it never rebuilds it; only a
database that really went back does."""

from typing import Any

from fastapi.testclient import TestClient

from app.db import open_session
from app.resolution import registry
from app.resolution import service as identity
from tests.factories import post_signature


def test_a_stale_version_read_uses_the_newer_index_and_a_database_that_went_back_rebuilds(
    client: TestClient, coordinator_headers: dict[str, str], make_letter: Any
) -> None:
    make_letter(coordinator_headers, "raced-letter")
    with open_session() as session:
        identity.warm(session)
    signed = post_signature(
        client, coordinator_headers, "raced-letter", {"organisation": {"name": "Harbour Lantern"}}
    )
    assert signed.status_code == 201, signed.text
    with open_session() as session:
        now = registry.version(session)
    index = registry._shared.public
    assert index is not None and registry._shared.version == now

    # A thread that read the version before that commit: the same, newer index, untouched.
    with open_session() as session:
        assert registry._advance_shared(session, committed=now - 1) is index
    assert registry._shared.public is index and registry._shared.version == now

    # The database went back (replaced by an older one): the index is rebuilt from it.
    registry._shared.version = now + 5
    with open_session() as session:
        rebuilt = registry._advance_shared(session, committed=now)
    assert rebuilt is not index
    assert registry._shared.version == now
    assert signed.json()["organisation_id"] in {e.organisation_id for e in rebuilt.entries()}
