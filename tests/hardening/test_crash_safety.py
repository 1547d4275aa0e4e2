"""kill -9 the server in the middle of a burst of signings: after a restart nothing that was
acknowledged is lost, nothing half-written remains, and the database checks clean.

(The same harness takes the import and merge cases when those features land: start the long
write in `writes_until_killed`, kill, then assert all-or-nothing on its rows.)
"""

import asyncio
import signal
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import ADMIN_TOKEN
from tests.hardening.conftest import UNLIMITED, Server, throwaway_database
from tests.hardening.test_concurrency import create_letter

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SLUG = "crash-letter"


def query(url: str, sql: str) -> list[tuple[Any, ...]]:
    if url.startswith("sqlite"):
        with sqlite3.connect(make_url(url).database or "") as connection:
            return connection.execute(sql).fetchall()
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as connection:
        return connection.execute(sql).fetchall()  # type: ignore[arg-type]


def writes_until_killed(server: Server, *, acknowledged_before_kill: int) -> list[dict[str, Any]]:
    """Sign continuously with 20 requests in flight; SIGKILL the server after enough 2xx.

    Returns the bodies of every acknowledged (2xx) signing.
    """
    acknowledged: list[dict[str, Any]] = []
    stop = threading.Event()

    async def hammer() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:

            async def worker(offset: int) -> None:
                for index in range(offset, 100_000, 20):
                    if stop.is_set():
                        return
                    body = (
                        {"anonymous": True}
                        if index % 7 == 0
                        else {
                            "organisation": {
                                "name": f"Crash Org {index}",
                                "other_names": [f"CO{index}"],
                            }
                        }
                    )
                    try:
                        response = await client.post(
                            f"/api/v1/letters/{SLUG}/signatures", json=body, headers=ADMIN
                        )
                    except httpx.HTTPError:
                        return  # the server is gone
                    if response.status_code in (200, 201):
                        acknowledged.append(response.json())

            await asyncio.gather(*(worker(i) for i in range(20)))

    with ThreadPoolExecutor(max_workers=1) as executor:
        running = executor.submit(asyncio.run, hammer())
        deadline = time.monotonic() + 60
        while len(acknowledged) < acknowledged_before_kill and time.monotonic() < deadline:
            time.sleep(0.01)
        server.kill(signal.SIGKILL)  # mid-burst: 20 requests are in flight
        stop.set()
        running.result(timeout=60)
    assert len(acknowledged) >= acknowledged_before_kill
    return acknowledged


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_signing_loses_nothing_and_leaves_nothing_half_done(
    kind: str, tmp_path: Path
) -> None:
    url, drop = throwaway_database(kind, tmp_path)
    server = Server(database_url=url, env=UNLIMITED)
    try:
        server.start(log_level="warning")
        create_letter(server.url, SLUG)
        acknowledged = writes_until_killed(server, acknowledged_before_kill=80)

        if kind == "sqlite":
            path = make_url(url).database or ""
            with sqlite3.connect(path) as connection:
                connection.execute("PRAGMA foreign_keys = ON")
                assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
                assert connection.execute("PRAGMA foreign_key_check").fetchall() == []

        server.start(log_level="warning")
        live = {
            row[0]: row[1:]
            for row in query(
                url,
                "SELECT s.id, s.position, s.organisation_id FROM signature s "
                "JOIN letter l ON l.id = s.letter_id "
                f"WHERE l.slug = '{SLUG}' AND s.withdrawn_at IS NULL",
            )
        }
        # Durability: every acknowledged signature survived.
        assert {a["id"] for a in acknowledged} <= set(live)
        # Atomicity: each signature came with its audit event and its organisation's names;
        # positions have no gaps (a killed transaction left no half-row behind).
        audited = {
            int(row[0])
            for row in query(
                url, "SELECT target_id FROM audit_event WHERE action = 'signature.create'"
            )
        }
        assert audited == set(live)
        positions = sorted(position for position, _ in live.values())
        assert positions == list(range(1, len(live) + 1))
        nameless = query(
            url,
            "SELECT o.id FROM organisation o WHERE NOT EXISTS "
            "(SELECT 1 FROM organisation_name n WHERE n.organisation_id = o.id)",
        )
        assert nameless == []
        unsigned = query(
            url,
            "SELECT o.id FROM organisation o WHERE NOT EXISTS "
            "(SELECT 1 FROM signature s WHERE s.organisation_id = o.id)",
        )
        assert unsigned == []
        # The restarted server counts what is there, and keeps going.
        count = httpx.get(f"{server.url}/api/v1/letters/{SLUG}/count", timeout=30).json()
        assert count["total"] == len(live)
        after = httpx.post(
            f"{server.url}/api/v1/letters/{SLUG}/signatures",
            json={"organisation": {"name": "After The Crash"}},
            headers=ADMIN,
            timeout=30,
        )
        assert after.status_code == 201
        assert after.json()["position"] == len(live) + 1
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()
