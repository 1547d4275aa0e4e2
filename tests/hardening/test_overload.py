"""A burst larger than the connection pool queues fairly instead of failing."""

from pathlib import Path

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.hardening.conftest import UNLIMITED, Server, throwaway_database
from tests.hardening.test_concurrency import burst, create_letter

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


@pytest.mark.slow
def test_burst_over_a_one_connection_pool_gets_no_503(tmp_path: Path) -> None:
    url, drop = throwaway_database("sqlite", tmp_path)
    # One pooled connection and a short pool timeout: without admission control, requests
    # queue on the pool, the unlucky ones wait longer than the timeout and get 503.
    pool = {
        "UNDERSIGNED_DB_POOL_SIZE": "1",
        "UNDERSIGNED_DB_MAX_OVERFLOW": "0",
        "UNDERSIGNED_DB_POOL_TIMEOUT": "0.3",
    }
    server = Server(database_url=url, env=UNLIMITED | pool)
    try:
        server.start(log_level="warning")
        create_letter(server.url, "overload")
        requests = [
            (
                "POST",
                "/api/v1/letters/overload/signatures",
                {"organisation": {"name": f"Overload Org {i % 40}"}},
                ADMIN,
            )
            for i in range(120)
        ]
        results = burst(server.url, requests, in_flight=60)
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()
    statuses = sorted({status for status, _ in results})
    assert statuses == [200, 201], statuses
    assert len({body["id"] for _, body in results}) == 40
