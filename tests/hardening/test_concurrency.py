"""Concurrent writers on PostgreSQL: real uvicorn with 2 worker processes, a burst of signs.

The module-scoped `cluster` (throwaway PostgreSQL database migrated by Alembic, 2 workers on a
port of 8700-8719) and `burst` (many requests in flight at once) are meant to be reused by the
concurrent merge + sign and concurrent import tests when those features land.
"""

import asyncio
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.hardening.conftest import UNLIMITED, Server, throwaway_database

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
API = "/api/v1"


@dataclass
class Cluster:
    server: Server
    database_url: str

    def sql(self, query: str, *args: Any) -> list[tuple[Any, ...]]:
        url = self.database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(url) as connection:
            return connection.execute(query, args).fetchall()  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    url, drop = throwaway_database("postgresql", tmp_path_factory.mktemp("pg"))
    # Small pools: PostgreSQL's 100 connections are shared with the rest of the test suite.
    pools = {"UNDERSIGNED_DB_POOL_SIZE": "6", "UNDERSIGNED_DB_MAX_OVERFLOW": "4"}
    server = Server(database_url=url, workers=2, env=UNLIMITED | pools)
    try:
        server.start(log_level="warning")
        yield Cluster(server=server, database_url=url)
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()


@dataclass
class Sent:
    index: int
    body: dict[str, Any]
    key: str | None
    status: int
    json: Any


def burst(
    base: str,
    requests: list[tuple[str, str, dict[str, Any], dict[str, str]]],
    *,
    in_flight: int = 100,
) -> list[tuple[int, Any]]:
    """Send (method, path, json, headers) requests with up to `in_flight` at once."""

    async def run() -> list[tuple[int, Any]]:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        gate = asyncio.Semaphore(in_flight)
        async with httpx.AsyncClient(base_url=base, timeout=180, limits=limits) as client:

            async def one(method: str, path: str, body: dict[str, Any], headers: dict[str, str]):  # type: ignore[no-untyped-def]
                async with gate:
                    response = await client.request(method, path, json=body, headers=headers)
                    return response.status_code, response.json()

            return await asyncio.gather(*(one(*r) for r in requests))

    # In a thread of its own: Playwright's sync API (browser tests in the same worker) leaves
    # an event loop running in the main thread, where asyncio.run() refuses to start.
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, run()).result()


def create_letter(base: str, slug: str) -> None:
    body = {"slug": slug, "title": "Concurrency", "lang": "en", "status": "open"}
    response = httpx.post(f"{base}{API}/letters", json=body, headers=ADMIN, timeout=30)
    assert response.status_code == 201, response.text


def sign_plan(slug: str) -> list[tuple[dict[str, Any], str | None]]:
    """1,000 sign requests: 200 organisations, each named several times, 100 Idempotency-Keys
    each sent 4 times with the same body, and 50 identity-less anonymous signers."""
    plan: list[tuple[dict[str, Any], str | None]] = []
    name = "Concurrency Org {:03d}"
    for index in range(550):
        plan.append(({"organisation": {"name": name.format(index % 200)}}, None))
    for key in range(100):
        body = {"organisation": {"name": name.format((key * 7) % 200)}}
        plan += [(body, f"{slug}-key-{key}")] * 4
    plan += [({"anonymous": True}, None)] * 50
    random.Random(20261121).shuffle(plan)
    return plan


@pytest.mark.slow
def test_thousand_concurrent_signs_leave_one_live_signature_per_organisation(
    cluster: Cluster,
) -> None:
    slug = "concurrent-signing"
    create_letter(cluster.server.url, slug)
    plan = sign_plan(slug)
    assert len(plan) == 1000
    requests = [
        (
            "POST",
            f"{API}/letters/{slug}/signatures",
            body,
            ADMIN | ({"Idempotency-Key": key} if key else {}),
        )
        for body, key in plan
    ]
    results = burst(cluster.server.url, requests)
    sent = [
        Sent(i, b, k, s, j) for i, ((b, k), (s, j)) in enumerate(zip(plan, results, strict=True))
    ]

    assert not [s for s in sent if s.status not in (200, 201)], [
        (s.status, s.json) for s in sent if s.status not in (200, 201)
    ][:5]
    # A retried key answers exactly what its first request answered.
    by_key: dict[str, list[Sent]] = {}
    for s in sent:
        if s.key:
            by_key.setdefault(s.key, []).append(s)
    for key, group in by_key.items():
        assert len({(s.status, repr(s.json)) for s in group}) == 1, key
    # Every request naming one organisation got the same signature.
    by_name: dict[str, set[int]] = {}
    for s in sent:
        if "organisation" in s.body:
            by_name.setdefault(s.body["organisation"]["name"], set()).add(s.json["id"])
    assert len(by_name) == 200
    assert all(len(ids) == 1 for ids in by_name.values())
    # 250 signatures were created (a replayed key repeats its first answer, 201 included).
    assert len({s.json["id"] for s in sent if s.status == 201}) == 200 + 50
    assert len({s.json["id"] for s in sent}) == 250

    letter_id = cluster.sql("SELECT id FROM letter WHERE slug = %s", slug)[0][0]
    duplicates = cluster.sql(
        "SELECT organisation_id FROM signature WHERE letter_id = %s AND withdrawn_at IS NULL "
        "AND organisation_id IS NOT NULL GROUP BY organisation_id HAVING count(*) > 1",
        letter_id,
    )
    assert duplicates == []
    organisations = cluster.sql(
        "SELECT count(DISTINCT organisation_id) FROM organisation_name "
        "WHERE name LIKE 'Concurrency Org %%'"
    )[0][0]
    assert organisations == 200  # racing first signs did not create twins
    named, anonymous = cluster.sql(
        "SELECT count(*) FILTER (WHERE NOT anonymous), count(*) FILTER (WHERE anonymous) "
        "FROM signature WHERE letter_id = %s AND withdrawn_at IS NULL",
        letter_id,
    )[0]
    positions = [
        r[0]
        for r in cluster.sql(
            "SELECT position FROM signature WHERE letter_id = %s ORDER BY position", letter_id
        )
    ]
    assert positions == list(range(1, 251))
    for _ in range(2):  # both workers answer the recount
        count = httpx.get(f"{cluster.server.url}{API}/letters/{slug}/count", timeout=30).json()
        assert (count["total"], count["named"], count["anonymous"]) == (250, named, anonymous)
    assert (named, anonymous) == (200, 50)


def test_cluster_runs_two_worker_processes(cluster: Cluster) -> None:
    """The burst above is only meaningful if two processes really served it."""
    import subprocess

    assert cluster.server.process is not None
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(cluster.server.process.pid)],
        capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    assert len(children) >= 2
