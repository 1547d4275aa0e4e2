"""kill -9 the server in the middle of a burst of signings: after a restart nothing that was
acknowledged is lost, nothing half-written remains, and the database checks clean.

(The same harness takes the import and merge cases when those features land: start the long
write in `writes_until_killed`, kill, then assert all-or-nothing on its rows.)
"""

import asyncio
import json
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
from tests.factories import csv_of
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
        return connection.execute(sql).fetchall()


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


def assert_signs_next(server: Server, *, name: str, position: int, gaps: int = 0) -> None:
    """The restarted server keeps going: a new signature takes the next position, or, with
    `gaps`, one of the next `gaps + 1` (positions that killed signers had taken)."""
    after = httpx.post(
        f"{server.url}/api/v1/letters/{SLUG}/signatures",
        json={"organisation": {"name": name}},
        headers=ADMIN,
        timeout=30,
    )
    assert after.status_code == 201
    assert position <= after.json()["position"] <= position + gaps


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
        # Positions: unique and in order. On PostgreSQL a signer takes its position outside its
        # transaction (decision 0109), so one killed in flight (at most the 20 the client
        # keeps going) leaves its position unused; SQLite takes it inside and leaves no gap.
        positions = sorted(position for position, _ in live.values())
        gaps = 0 if kind == "sqlite" else 20
        assert len(set(positions)) == len(positions) and positions[0] >= 1
        assert positions[-1] - len(positions) <= gaps, positions
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
        assert_signs_next(server, name="After The Crash", position=positions[-1] + 1, gaps=gaps)
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()


def check_sqlite(url: str) -> None:
    with sqlite3.connect(make_url(url).database or "") as connection:
        connection.execute("PRAGMA foreign_keys = ON")
        assert connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def write_in_progress(url: str) -> bool:
    """A write transaction is open and (on PostgreSQL) has already written rows."""
    if url.startswith("sqlite"):
        # Writers hold SQLite's write lock from BEGIN IMMEDIATE to COMMIT (app/db.py).
        connection = sqlite3.connect(make_url(url).database or "", timeout=0)
        try:
            connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return True
        finally:
            connection.close()
        return False
    database = make_url(url).database
    rows = query(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS NOT NULL "
        f"AND datname = '{database}' AND pid <> pg_backend_pid()",
    )
    return bool(rows[0][0])


def assert_counts_match_recount(server: Server, url: str, slugs: list[str]) -> None:
    for slug in slugs:
        total = query(
            url,
            "SELECT count(*) FROM signature s JOIN letter l ON l.id = s.letter_id "
            f"WHERE l.slug = '{slug}' AND s.withdrawn_at IS NULL",
        )[0][0]
        count = httpx.get(f"{server.url}/api/v1/letters/{slug}/count", timeout=30).json()
        assert count["total"] == total, slug


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_a_10000_row_import_leaves_all_of_it_or_none(
    kind: str, tmp_path: Path
) -> None:
    url, drop = throwaway_database(kind, tmp_path)
    server = Server(database_url=url, env=UNLIMITED)
    try:
        server.start(log_level="warning")
        create_letter(server.url, SLUG)
        for name in ("Signed Before One", "Signed Before Two"):
            response = httpx.post(
                f"{server.url}/api/v1/letters/{SLUG}/signatures",
                json={"organisation": {"name": name}},
                headers=ADMIN,
                timeout=30,
            )
            assert response.status_code == 201
        names = [f"Crash Import Org {i:05d}" for i in range(10_000)]
        answer: list[Any] = []

        def post() -> None:
            try:
                answer.append(
                    httpx.post(
                        f"{server.url}/api/v1/letters/{SLUG}/imports",
                        content=csv_of(names),
                        headers=ADMIN | {"content-type": "text/csv"},
                        timeout=120,
                    )
                )
            except httpx.HTTPError as exc:
                answer.append(exc)

        with ThreadPoolExecutor(max_workers=1) as executor:
            running = executor.submit(post)
            deadline = (
                time.monotonic() + 120
            )  # parsing 10,000 rows first is slow on a loaded 2-core machine
            while not write_in_progress(url) and time.monotonic() < deadline:
                time.sleep(0.01)
            assert write_in_progress(url), "the import's transaction never started"
            time.sleep(2.5)  # well into the import: thousands of organisations written
            server.kill(signal.SIGKILL)
            running.result(timeout=60)
        # The kill came before the answer (the import takes far longer than 2.5 s).
        assert isinstance(answer[0], httpx.HTTPError), answer[0]

        if kind == "sqlite":
            check_sqlite(url)
        server.start(log_level="warning")
        imported = query(
            url,
            "SELECT count(*) FROM signature s JOIN letter l ON l.id = s.letter_id "
            f"WHERE l.slug = '{SLUG}' AND s.source = 'import'",
        )[0][0]
        organisations = query(
            url, "SELECT count(*) FROM organisation_name WHERE name LIKE 'Crash Import Org %'"
        )[0][0]
        audited = query(url, "SELECT count(*) FROM audit_event WHERE action = 'letter.import'")
        # All of it or none of it: signatures, the organisations made for them, the audit.
        assert (imported, organisations, audited[0][0]) in ((0, 0, 0), (10_000, 10_000, 1))
        assert_counts_match_recount(server, url, [SLUG])
        live = query(
            url,
            "SELECT s.position FROM signature s JOIN letter l ON l.id = s.letter_id "
            f"WHERE l.slug = '{SLUG}' AND s.withdrawn_at IS NULL ORDER BY s.position",
        )
        assert [p for (p,) in live] == list(range(1, len(live) + 1))
        assert_signs_next(server, name="After The Import Crash", position=len(live) + 1)
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()


PAIRS = 80
MERGE_LETTERS = ["crash-merge-1", "crash-merge-2", "crash-merge-3"]


def merges_until_killed(
    server: Server, pairs: list[tuple[int, int]], *, before_kill: int
) -> set[int]:
    """Merge each (survivor, merged) pair, 4 at a time; SIGKILL after enough 201s.

    Returns the merged ids of every acknowledged merge."""
    acknowledged: set[int] = set()
    stop = threading.Event()

    async def hammer() -> None:
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:

            async def worker(offset: int) -> None:
                for survivor, merged in pairs[offset::4]:
                    if stop.is_set():
                        return
                    try:
                        response = await client.post(
                            "/api/v1/admin/merges",
                            json={"survivor_id": survivor, "merged_ids": [merged]},
                            headers=ADMIN,
                        )
                    except httpx.HTTPError:
                        return
                    assert response.status_code == 201, response.text
                    acknowledged.add(merged)

            await asyncio.gather(*(worker(i) for i in range(4)))

    with ThreadPoolExecutor(max_workers=1) as executor:
        running = executor.submit(asyncio.run, hammer())
        deadline = time.monotonic() + 60
        while len(acknowledged) < before_kill and time.monotonic() < deadline:
            time.sleep(0.005)
        server.kill(signal.SIGKILL)  # 4 merges are in flight
        stop.set()
        running.result(timeout=60)
    assert before_kill <= len(acknowledged) < len(pairs), len(acknowledged)
    return acknowledged


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_kill_9_during_merges_leaves_each_merge_whole_or_absent(kind: str, tmp_path: Path) -> None:
    url, drop = throwaway_database(kind, tmp_path)
    server = Server(database_url=url, env=UNLIMITED)
    try:
        server.start(log_level="warning")
        keepers = [f"Keeper Society {i:03d}" for i in range(PAIRS)]
        gone = [f"Duplicate Trust {i:03d}" for i in range(PAIRS)]
        for slug in MERGE_LETTERS:  # every organisation signs all three letters
            create_letter(server.url, slug)
            response = httpx.post(
                f"{server.url}/api/v1/letters/{slug}/imports",
                content=csv_of(keepers + gone),
                headers=ADMIN | {"content-type": "text/csv"},
                timeout=120,
            )
            assert response.status_code == 200, response.text
            assert response.json()["summary"]["signatures_created"] == 2 * PAIRS
        ids = dict(query(url, "SELECT name, organisation_id FROM organisation_name"))
        pairs = [(ids[k], ids[g]) for k, g in zip(keepers, gone, strict=True)]
        signatures_before = {
            row[0]: row[1:]
            for row in query(url, "SELECT id, organisation_id, withdrawn_at FROM signature")
        }
        assert len(signatures_before) == 6 * PAIRS

        acknowledged = merges_until_killed(server, pairs, before_kill=10)

        if kind == "sqlite":
            check_sqlite(url)
        server.start(log_level="warning")
        records = {}
        for record_id, survivor, merged_ids in query(
            url, "SELECT id, survivor_id, merged_ids FROM merge_record"
        ):
            merged_ids = json.loads(merged_ids) if isinstance(merged_ids, str) else merged_ids
            records[merged_ids[0]] = (record_id, survivor)
        parents = dict(query(url, "SELECT id, merged_into FROM organisation"))
        signatures = {
            row[0]: row[1:]
            for row in query(url, "SELECT id, organisation_id, withdrawn_at FROM signature")
        }
        assert set(signatures) == set(signatures_before)
        judged_same = {
            tuple(sorted(row))
            for row in query(
                url,
                "SELECT organisation_a, organisation_b FROM judgement WHERE verdict = 'same'",
            )
        }
        merged = 0
        for survivor, duplicate in pairs:
            theirs = [
                i for i, (organisation, _) in signatures_before.items()
                if organisation in (survivor, duplicate)
            ]  # fmt: skip
            live = [i for i in theirs if signatures[i][1] is None]
            if duplicate in records:
                merged += 1
                # The merge record, the pointer, every moved signature, the verdict: all there.
                assert records[duplicate][1] == survivor
                assert parents[duplicate] == survivor
                assert {signatures[i][0] for i in theirs} == {survivor}
                assert len(live) == 3  # one per letter, the other retired
                assert tuple(sorted((survivor, duplicate))) in judged_same
            else:
                # None of it: both organisations as before, each with its three signatures.
                assert duplicate not in acknowledged
                assert parents[duplicate] is None
                assert all(signatures[i] == signatures_before[i] for i in theirs)
                assert len(live) == 6
                assert tuple(sorted((survivor, duplicate))) not in judged_same
        assert acknowledged <= set(records)
        assert merged == len(records) >= len(acknowledged)
        audited = query(url, "SELECT count(*) FROM audit_event WHERE action = 'organisation.merge'")
        assert audited[0][0] == len(records)
        assert_counts_match_recount(server, url, MERGE_LETTERS)
        # The restarted server merges what was left.
        survivor, duplicate = next(p for p in pairs if p[1] not in records)
        response = httpx.post(
            f"{server.url}/api/v1/admin/merges",
            json={"survivor_id": survivor, "merged_ids": [duplicate]},
            headers=ADMIN,
            timeout=30,
        )
        assert response.status_code == 201, response.text
    finally:
        server.kill()
        server.log_path.unlink(missing_ok=True)
        drop()
