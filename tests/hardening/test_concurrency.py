"""Concurrent writers on PostgreSQL: real uvicorn with 2 worker processes, a burst of signs.

The module-scoped `cluster` (throwaway PostgreSQL database migrated by Alembic, 2 workers on a
port of 8700-8719) serves three races: a burst of 1,000 signs; signs on several letters while an
admin merges two of the signing organisations, undoes the merge and merges again; overlapping
CSV imports (and signs) into one letter at once.
"""

import asyncio
import random
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.factories import csv_of
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
            return connection.execute(query, args).fetchall()


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
    requests: Sequence[tuple[str, str, Any, dict[str, str]]],
    *,
    in_flight: int = 100,
) -> list[tuple[int, Any]]:
    """Send (method, path, json or raw bytes, headers) requests with up to `in_flight` at once."""

    async def run() -> list[tuple[int, Any]]:
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        gate = asyncio.Semaphore(in_flight)
        async with httpx.AsyncClient(base_url=base, timeout=180, limits=limits) as client:

            async def one(
                method: str, path: str, body: dict[str, Any] | bytes, headers: dict[str, str]
            ) -> tuple[int, Any]:
                kw: dict[str, Any] = (
                    {"content": body} if isinstance(body, bytes) else {"json": body}
                )
                async with gate:
                    response = await client.request(method, path, headers=headers, **kw)
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


def sign_one(base: str, slug: str, name: str) -> int:
    body = {"organisation": {"name": name}}
    response = httpx.post(
        f"{base}{API}/letters/{slug}/signatures", json=body, headers=ADMIN, timeout=60
    )
    assert response.status_code in (200, 201), response.text
    organisation_id: int = response.json()["organisation_id"]
    return organisation_id


def live_signatures(cluster: Cluster, slugs: list[str]) -> int:
    return int(
        cluster.sql(
            "SELECT count(*) FROM signature s JOIN letter l ON l.id = s.letter_id "
            "WHERE l.slug = ANY(%s)",
            slugs,
        )[0][0]
    )


def assert_letters_consistent(cluster: Cluster, slugs: list[str]) -> None:
    """One live signature per (letter, organisation), none on a merged-away organisation,
    positions unique, and the public count equal to a recount on both workers."""
    assert (
        cluster.sql(
            "SELECT s.letter_id, s.organisation_id FROM signature s JOIN letter l "
            "ON l.id = s.letter_id WHERE l.slug = ANY(%s) AND s.withdrawn_at IS NULL "
            "AND s.organisation_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1",
            slugs,
        )
        == []
    )
    assert (
        cluster.sql(
            "SELECT s.id, o.id, o.merged_into FROM signature s JOIN organisation o "
            "ON o.id = s.organisation_id WHERE s.withdrawn_at IS NULL "
            "AND o.merged_into IS NOT NULL"
        )
        == []
    )
    assert (
        cluster.sql(
            "SELECT s.letter_id, s.position FROM signature s JOIN letter l ON l.id = s.letter_id "
            "WHERE l.slug = ANY(%s) GROUP BY 1, 2 HAVING count(*) > 1",
            slugs,
        )
        == []
    )
    time.sleep(1.2)  # each worker re-checks the letter's revision at most once a second
    for slug in slugs:
        named, anonymous = cluster.sql(
            "SELECT count(*) FILTER (WHERE NOT anonymous), count(*) FILTER (WHERE anonymous) "
            "FROM signature s JOIN letter l ON l.id = s.letter_id "
            "WHERE l.slug = %s AND s.withdrawn_at IS NULL",
            slug,
        )[0]
        for _ in range(4):  # both workers answer
            count = httpx.get(f"{cluster.server.url}{API}/letters/{slug}/count", timeout=30).json()
            assert (count["total"], count["named"], count["anonymous"]) == (
                named + anonymous,
                named,
                anonymous,
            ), slug


ALPHA, BETA = "Alpha Merge Race Foundation", "Beta Watch Collective"


def merge_race_plan(slugs: list[str], alpha: int, beta: int) -> list[dict[str, Any]]:
    """2,400 signs on three letters (600 could finish before the merges on a loaded machine,
    more so once signers of one letter stopped queueing: decision 0087): the two
    organisations being merged, by id and by name, anonymously too, and 40 bystanders;
    (letter, body) per request."""
    bodies: list[dict[str, Any]] = [
        {"organisation_id": alpha},
        {"organisation_id": beta},
        {"organisation": {"name": ALPHA}},
        {"organisation": {"name": BETA}},
        {"organisation_id": beta, "anonymous": True},
        {"anonymous": True},
    ]
    plan = []
    for index in range(2400):
        slug = slugs[index % 3]
        body = (
            {"organisation": {"name": f"Merge Race Bystander {index % 40:02d}"}}
            if index % 2
            else bodies[(index // 2) % len(bodies)]
        )
        plan.append({"slug": slug, "body": body})
    random.Random(7).shuffle(plan)
    return plan


@pytest.mark.slow
def test_merge_and_undo_during_concurrent_signs_lose_no_signature(cluster: Cluster) -> None:
    base = cluster.server.url
    slugs = ["merge-race-1", "merge-race-2", "merge-race-3"]
    for slug in slugs:
        create_letter(base, slug)
    alpha = sign_one(base, slugs[0], ALPHA)
    beta = sign_one(base, slugs[2], BETA)
    assert sign_one(base, slugs[1], ALPHA) == alpha
    assert sign_one(base, slugs[1], BETA) == beta  # letter 2: a duplicate for the merge
    assert alpha != beta
    plan = merge_race_plan(slugs, alpha, beta)
    requests: list[tuple[str, str, dict[str, Any] | bytes, dict[str, str]]] = [
        ("POST", f"{API}/letters/{p['slug']}/signatures", p["body"], ADMIN) for p in plan
    ]

    def admin(path: str, body: dict[str, Any]) -> httpx.Response:
        return httpx.post(f"{base}{API}/admin{path}", json=body, headers=ADMIN, timeout=120)

    def wait_for_signatures(at_least: int) -> None:
        deadline = time.monotonic() + 90
        while live_signatures(cluster, slugs) < at_least and time.monotonic() < deadline:
            time.sleep(0.02)

    admin_answers = []
    with ThreadPoolExecutor(max_workers=1) as executor:
        running = executor.submit(burst, base, requests, in_flight=40)
        wait_for_signatures(40)
        merge = admin("/merges", {"survivor_id": alpha, "merged_ids": [beta]})
        admin_answers.append(merge)
        assert merge.status_code == 201, merge.text
        wait_for_signatures(live_signatures(cluster, slugs) + 30)
        undo = admin(f"/merges/{merge.json()['merge_id']}/undo", {"record_different": False})
        admin_answers.append(undo)
        # 409 is the documented answer when signatures made since the merge take a restored
        # one's place; the organisations then stay merged.
        assert undo.status_code in (200, 409), undo.text
        if undo.status_code == 200:
            wait_for_signatures(live_signatures(cluster, slugs) + 30)
            again = admin("/merges", {"survivor_id": alpha, "merged_ids": [beta]})
            admin_answers.append(again)
            assert again.status_code == 201, again.text
        overlapped = not running.done()
        results = running.result()

    assert overlapped, "the signs finished before the admin's merges: no race was exercised"
    failures = [(p, s, j) for p, (s, j) in zip(plan, results, strict=True) if s not in (200, 201)]
    assert failures == [], failures[:5]

    parents = dict(cluster.sql("SELECT id, merged_into FROM organisation"))
    assert parents[beta] == alpha and parents[alpha] is None

    def root(organisation_id: int) -> int:
        while parents[organisation_id] is not None:
            organisation_id = parents[organisation_id]
        return organisation_id

    rows = cluster.sql(
        "SELECT s.id, l.slug, s.organisation_id FROM signature s JOIN letter l "
        "ON l.id = s.letter_id WHERE l.slug = ANY(%s) AND s.withdrawn_at IS NULL",
        slugs,
    )
    live = {(slug, organisation_id) for _, slug, organisation_id in rows}
    live_ids = {signature_id for signature_id, _, _ in rows}
    for p, (_status, answer) in zip(plan, results, strict=True):
        if answer["organisation_id"] is None:
            assert answer["id"] in live_ids  # an identity-less signature stays as it was
        else:
            # Acknowledged for an organisation: its survivor has a live signature there.
            assert (p["slug"], root(answer["organisation_id"])) in live, (p, answer)
    # Merged away: beta's signatures all moved to alpha, and its merges are on record.
    assert cluster.sql("SELECT count(*) FROM signature WHERE organisation_id = %s", beta) == [(0,)]
    records = cluster.sql(
        "SELECT survivor_id, undone_at IS NULL FROM merge_record ORDER BY id DESC LIMIT 1"
    )
    assert records == [(alpha, True)]
    assert_letters_consistent(cluster, slugs)


@pytest.mark.slow
def test_overlapping_concurrent_imports_into_one_letter_create_no_duplicate(
    cluster: Cluster,
) -> None:
    base = cluster.server.url
    slug = "import-race"
    create_letter(base, slug)
    names = [f"Import Race Org {i:03d}" for i in range(120)]
    ranges = [(0, 80), (40, 120), (0, 80), (0, 120), (60, 120), (20, 100)]
    csv = {"content-type": "text/csv"}
    requests: list[tuple[str, str, dict[str, Any] | bytes, dict[str, str]]] = [
        ("POST", f"{API}/letters/{slug}/imports", csv_of(names[a:b]), ADMIN | csv)
        for a, b in ranges
    ]
    # Signs of the same organisations race the imports.
    requests += [
        ("POST", f"{API}/letters/{slug}/signatures", {"organisation": {"name": n}}, ADMIN)
        for n in names[::3]
    ]
    results = burst(base, requests, in_flight=len(requests))

    assert [s for s, _ in results[: len(ranges)]] == [200] * len(ranges), results[:6]
    assert all(s in (200, 201) for s, _ in results[len(ranges) :])
    created = sum(j["summary"]["signatures_created"] for _, j in results[: len(ranges)])
    created += sum(s == 201 for s, _ in results[len(ranges) :])
    letter_id = cluster.sql("SELECT id FROM letter WHERE slug = %s", slug)[0][0]
    rows = cluster.sql(
        "SELECT s.position, n.name FROM signature s JOIN organisation_name n "
        "ON n.organisation_id = s.organisation_id AND n.is_primary "
        "WHERE s.letter_id = %s AND s.withdrawn_at IS NULL",
        letter_id,
    )
    # Exactly one live signature per organisation, each name once: no twin organisations.
    assert sorted(name for _, name in rows) == names
    assert created == len(rows) == 120
    assert sorted(position for position, _ in rows) == list(range(1, 121))
    twins = cluster.sql(
        "SELECT name FROM organisation_name WHERE name LIKE 'Import Race Org %%' "
        "GROUP BY name HAVING count(DISTINCT organisation_id) > 1"
    )
    assert twins == []
    assert_letters_consistent(cluster, [slug])


@pytest.mark.slow
def test_racing_merges_of_one_pair_merge_it_once(cluster: Cluster) -> None:
    """A double-submitted merge, or two admins merging a pair opposite ways at once: one
    merge wins, the others answer 409 (merged_away), and no cycle or second record appears.

    Regression: the merge validated the organisations before taking their locks, so the
    loser went ahead on a stale read (two records for one pair, or A→B and B→A)."""
    base = cluster.server.url
    slug = "merge-twice"
    create_letter(base, slug)
    pairs = [
        (
            sign_one(base, slug, f"Twice Keeper Guild {i:02d}"),
            sign_one(base, slug, f"Twice Other Union {i:02d}"),
        )
        for i in range(8)
    ]
    requests = []
    for keeper, other in pairs:
        forward = {"survivor_id": keeper, "merged_ids": [other]}
        backward = {"survivor_id": other, "merged_ids": [keeper]}
        requests += [
            ("POST", f"{API}/admin/merges", body, ADMIN) for body in (forward, forward, backward)
        ]
    results = burst(base, requests, in_flight=len(requests))
    parents = dict(cluster.sql("SELECT id, merged_into FROM organisation"))
    for index, (keeper, other) in enumerate(pairs):
        answers = results[3 * index : 3 * index + 3]
        assert sorted(status for status, _ in answers) == [201, 409, 409], answers
        assert all(j["error"] == "merged_away" for s, j in answers if s == 409), answers
        records = cluster.sql(
            "SELECT count(*) FROM merge_record WHERE survivor_id = ANY(%s)", [keeper, other]
        )
        assert records == [(1,)]
        # Exactly one of the two points at the other, and nothing points back.
        assert sorted([parents[keeper] is None, parents[other] is None]) == [False, True]
        survivor = keeper if parents[keeper] is None else other
        assert parents[keeper if survivor == other else other] == survivor
    assert_letters_consistent(cluster, [slug])


@pytest.mark.slow
@pytest.mark.parametrize("creates", [False, True], ids=["existing-only", "creating"])
def test_merge_during_an_import_leaves_no_signature_on_the_merged_away_organisation(
    cluster: Cluster, creates: bool
) -> None:
    """An import resolves its first row to an organisation; an admin merges that organisation
    away while the import is still planning the rest; the import's signature must land on
    the survivor.

    Regressions: the import neither locked the organisations it resolved nor followed merges
    that committed meanwhile, so it signed for a merged-away organisation (existing-only: the
    merge commits mid-import). Once it did lock them, an import that creates organisations
    (holding the registry counter) and a merge (holding the organisations, then wanting the
    counter) deadlocked: the merge now takes the counter first and waits for the import."""
    base = cluster.server.url
    suffix = "c" if creates else "e"
    other_letter, letter = f"import-merge-other-{suffix}", f"import-merge-{suffix}"
    create_letter(base, other_letter)
    create_letter(base, letter)
    keeper = sign_one(base, other_letter, f"Import Merge Keeper Institute {suffix}")
    other = sign_one(base, other_letter, f"Gamma Rights Network {suffix}")
    # Enough rows that the import is still planning when the merge commits: 1,000 were planned
    # within 0.3 s once resolution got faster (decision 0135), and the race did not happen.
    fillers = [f"Import Merge Filler {suffix} {i:04d}" for i in range(4000)]
    if not creates:  # every row of the import names an organisation that exists already
        made = httpx.post(
            f"{base}{API}/letters/{other_letter}/imports",
            content=csv_of(fillers),
            headers=ADMIN | {"content-type": "text/csv"},
            timeout=180,
        )
        assert made.status_code == 200, made.text
    names = [f"Gamma Rights Network {suffix}", *fillers]
    database = cluster.database_url.rsplit("/", 1)[1]

    def import_started() -> bool:
        # The import's transaction holds its letter's lock (a row lock gives it an xid).
        rows = cluster.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s "
            "AND backend_xid IS NOT NULL AND pid <> pg_backend_pid()",
            database,
        )
        return bool(rows[0][0])

    with ThreadPoolExecutor(max_workers=1) as executor:
        running = executor.submit(
            httpx.post,
            f"{base}{API}/letters/{letter}/imports",
            content=csv_of(names),
            headers=ADMIN | {"content-type": "text/csv"},
            timeout=180,
        )
        deadline = time.monotonic() + 60
        while not import_started() and time.monotonic() < deadline:
            time.sleep(0.005)
        assert not running.done() and import_started()
        time.sleep(0.3)  # row 1 resolved; thousands of rows still to plan
        merge = httpx.post(
            f"{base}{API}/admin/merges",
            json={"survivor_id": keeper, "merged_ids": [other]},
            headers=ADMIN,
            timeout=180,
        )
        if not creates:  # nothing made the merge wait: it committed in the middle
            assert not running.done(), "the import ended before the merge: no race"
        imported = running.result()
    assert merge.status_code == 201, merge.text
    assert imported.status_code == 200, imported.text
    signed = cluster.sql(
        "SELECT s.organisation_id FROM signature s JOIN letter l ON l.id = s.letter_id "
        "WHERE l.slug = %s AND s.position = 1",
        letter,
    )
    assert signed == [(keeper,)]
    assert_letters_consistent(cluster, [letter, other_letter])
