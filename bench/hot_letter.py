"""One hot letter: this checkout against the previous commit, side by side.

    .venv/bin/python bench/hot_letter.py [--clients 8 32] [--seconds 10] [--workers 2]
        [--previous REV] [--kind new|existing] [--rounds 2] [--database postgresql|sqlite]
        [--client wrk|httpx] [--orgs 100000]

For each checkout: a throwaway PostgreSQL database (or SQLite file) (migrated, seeded, and with
`--orgs` that many more organisations in the registry: 100,000 by default, the registry issue 13
measures the hot letter against; figures before 2026-12-05 10:20 UTC used 0 unless they say), `undersigned serve
--workers`, one open letter; `clients` concurrent coordinators sign it for `seconds`, each
signature for a new organisation (`--kind new`, as in issue 13) or for an organisation the
registry already has that has not signed this letter (`--kind existing`). Checkouts
alternate round by round. Prints signatures/s, p50/p99, errors, and checks after each run
that the letter's count equals a recount of its live signatures and that its positions are
unique. Prints the load average. Rate limits off (one loopback client stands for many).

The load comes from `wrk` (Debian's package) with a Lua script that makes every name unique,
when it is installed and the kind is `new`: on 2 cores the Python client used to take 2.5–6.5
of the 30 CPU-seconds a 15-second run has, which the server then did not have (`--client
httpx` keeps that client, as the figures before 2026-12-05 were measured).
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get(
    "UNDERSIGNED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
TOKEN = "hot-letter-admin-" + secrets.token_hex(8)
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="undersigned-hot-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(directory), revision],
        check=True,
        capture_output=True,
    )
    try:
        yield directory
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(directory)], check=False
        )


def cpu_seconds(pids: set[int]) -> dict[int, float]:
    """User + system CPU of each of these processes so far."""
    seconds = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def cpu_since(before: dict[int, float], pids: set[int]) -> float:
    """CPU these processes used since `before`; a process started since counts whole (a
    PostgreSQL backend the pool opened during the run). One that ended is lost."""
    return sum(now - before.get(pid, 0.0) for pid, now in cpu_seconds(pids).items())


def descendants(root: int) -> set[int]:
    """The server process and every process under it (its workers)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    found = {root}
    while True:
        more = {pid for pid, parent in parents.items() if parent in found} - found
        if not more:
            return found
        found |= more


def postgres_backends(database: str) -> set[int]:
    """The PostgreSQL backends serving this database (their process titles name it): other
    sessions' queries on the machine stay out of the figure; the server's own background
    processes (WAL writer, checkpointer) too."""
    out = subprocess.run(["pgrep", "-x", "postgres"], capture_output=True, text=True).stdout
    found = set()
    for pid in out.split():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as title:
                words = title.read().replace(b"\0", b" ").split()
        except OSError:
            continue
        if database.encode() in words:
            found.add(int(pid))
    return found


def connections_per_worker(port: int, pids: set[int]) -> list[int]:
    """How many established connections on this TCP port each process holds, most first (the
    kernel's split of the clients over the workers, decisions 0107 and 0133)."""
    with open("/proc/net/tcp") as table:
        inodes = {
            line.split()[9]
            for line in table.readlines()[1:]
            if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "01"
        }
    held = []
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        count = sum(link[8:-1] in inodes for link in links if link.startswith("socket:["))
        if count:
            held.append(count)
    return sorted(held, reverse=True)


class Waits(threading.Thread):
    """PostgreSQL: how many of this database's backends, on average over the run, wait for a
    lock another transaction holds (`Lock`: a hot row such as the registry's version or the
    letter's position) and how many wait for the WAL to reach the disk (`WALSync`, `WALWrite`),
    read from pg_stat_activity every 10 ms (decision 0138)."""

    def __init__(self, database: str) -> None:
        super().__init__(daemon=True)
        self.database = database
        self.stop = threading.Event()
        self.samples = 0
        self.locked = 0
        self.flushing = 0

    def run(self) -> None:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            while not self.stop.wait(0.01):
                rows = conn.execute(
                    "SELECT wait_event_type, wait_event FROM pg_stat_activity "
                    "WHERE datname = %s AND state = 'active'",
                    (self.database,),
                ).fetchall()
                self.samples += 1
                self.locked += sum(kind == "Lock" for kind, _ in rows)
                self.flushing += sum(event in ("WALSync", "WALWrite") for _, event in rows)

    def report(self) -> str:
        self.stop.set()
        self.join()
        samples = max(self.samples, 1)
        return f"{self.locked / samples:.2f} / {self.flushing / samples:.2f}"


def listening(port: int) -> int:
    """How many sockets listen on this TCP port (IPv4)."""
    with open("/proc/net/tcp") as table:
        return sum(
            1
            for line in table.readlines()[1:]
            if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
        )


@contextlib.contextmanager
def server(
    root: Path,
    port: int,
    workers: int,
    database: str = "postgresql",
    organisations: int = 0,
    analyzed: bool | None = None,
) -> Iterator[tuple[str, str, int]]:
    """A migrated, seeded database with `organisations` more, analyzed (None: PostgreSQL only,
    as in production), served by `undersigned serve --workers`: (base URL, dsn, server pid)."""
    name = f"undersigned_hot_{secrets.token_hex(4)}"
    if database == "sqlite":
        dsn = f"sqlite:///{tempfile.mkdtemp(prefix='undersigned-hot-db-')}/{name}.sqlite"
        url = dsn
    else:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
        url = dsn.replace("postgresql://", "postgresql+psycopg://")
    env = os.environ | {
        "UNDERSIGNED_DATABASE_URL": url,
        "UNDERSIGNED_ADMIN_TOKEN": TOKEN,
        "UNDERSIGNED_RATE_LIMIT_ENABLED": "false",
        "UNDERSIGNED_LOG_LEVEL": "warning",
    }
    for step in ("migrate", "seed"):
        subprocess.run([sys.executable, "-m", "app.cli", step], cwd=root, env=env, check=True)
    if organisations:
        subprocess.run(
            [sys.executable, "-c", _GROW, url, str(organisations)], cwd=root, env=env, check=True
        )
    if analyzed if analyzed is not None else database == "postgresql":
        analyze(dsn)
    # As the service runs in production (the Dockerfile's CMD): `undersigned serve`, whose
    # workers each listen on their own socket since decision 0107 (uvicorn's shared one
    # before, in checkouts older than that).
    process = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
         "--workers", str(workers)],
        cwd=root, env=env,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        # Every worker listening on its own socket (decision 0107) before the load starts:
        # connections go to the sockets that exist when they arrive, so a worker still
        # starting would leave the whole run to the others.
        while time.monotonic() < deadline and listening(port) < workers:
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}", dsn, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)
        if database == "sqlite":
            shutil.rmtree(Path(dsn.removeprefix("sqlite:///")).parent, ignore_errors=True)
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def hammer(
    base: str, *, slug: str, clients: int, seconds: float, kind: str, names: list[str]
) -> tuple[int, list[float], dict[str, int]]:
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:

        async def one_client(index: int) -> None:
            while time.monotonic() < deadline:
                n = next(counter)
                if kind == "new":
                    body = {"organisation": {"name": f"Hot Letter Signer {slug} {n:07d}"}}
                else:
                    if n >= len(names):
                        return
                    body = {"organisation": {"name": names[n]}}
                start = time.perf_counter()
                response = await client.post(
                    f"/api/v1/letters/{slug}/signatures", json=body, headers=ADMIN
                )
                latencies.append(time.perf_counter() - start)
                if response.status_code not in (200, 201):
                    status = str(response.status_code)
                    errors[status] = errors.get(status, 0) + 1

        await asyncio.gather(*(one_client(i) for i in range(clients)))
    return len(latencies), latencies, errors


# Every name unique across wrk's threads and connections: the thread's number, then a counter.
_WRK_SCRIPT = """
local count = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  slug = args[1]
  wrk.headers["Authorization"] = "Bearer " .. args[2]
  wrk.headers["Content-Type"] = "application/json"
end
function request()
  count = count + 1
  local body = string.format(
    '{"organisation": {"name": "Hot Letter Signer %s %d %07d"}}', slug, tid, count)
  return wrk.format("POST", nil, nil, body)
end
function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "non2xx": %d, "socket": %d, "p50": %d, "p99": %d}\\n',
    summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


# Run in the checkout being measured (its own app package): add `count` organisations that
# signed nothing, with names from bench/imports.py's generator, as one registry version, and
# mark the duplicate queue as caught up with them (a registry scanned long ago, not a burst
# of new organisations for the queue to score during the run).
_GROW = """
import random, sys
sys.path.insert(0, "bench")
from imports import registry_names
from sqlalchemy import insert
from app.db import make_engine, utcnow
from app.organisations.models import Organisation, OrganisationName
from app.resolution.normalise import normalise
from app.resolution.scripts import detect_script
url, count = sys.argv[1], int(sys.argv[2])
engine = make_engine(url)
names = registry_names(count, random.Random(13))
now = utcnow()
with engine.begin() as conn:
    first = int(conn.exec_driver_sql("SELECT coalesce(max(id), 0) FROM organisation").scalar()) + 1
    version = int(conn.exec_driver_sql("SELECT version FROM registry_state").scalar()) + 1
    for start in range(0, count, 5000):
        chunk = names[start : start + 5000]
        ids = range(first + start, first + start + len(chunk))
        conn.execute(insert(Organisation), [
            {"id": i, "kind": "organisation", "created_at": now, "revision": version} for i in ids])
        conn.execute(insert(OrganisationName), [
            {"organisation_id": i, "name": n, "normalised": normalise(n),
             "script": detect_script(n), "is_acronym": False, "is_primary": True,
             "created_at": now} for i, n in zip(ids, chunk)])
    conn.exec_driver_sql(f"UPDATE registry_state SET version = {version}")
    conn.exec_driver_sql(f"UPDATE duplicate_queue_state SET version = {version}")
    if engine.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"SELECT setval(pg_get_serial_sequence('organisation', 'id'), {first + count})")
"""


def analyze(dsn: str) -> None:
    """The planner's statistics, committed. PostgreSQL gathers them itself in production
    (autovacuum); nothing in the service analyzes a SQLite database, so `--analyze auto` leaves
    SQLite's as the service would have it (decision 0137 measured both)."""
    if dsn.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(dsn.removeprefix("sqlite:///"))) as lite:
            lite.execute("ANALYZE")
            lite.commit()
    else:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("ANALYZE")


def warm_up(base: str) -> None:
    """Signatures on a letter of their own, on new connections, until every worker has its
    index (a registry of 100,000 is mapped or built at a worker's first resolution)."""
    created = httpx.post(
        f"{base}/api/v1/letters",
        json={"slug": "warm-up", "title": "Warm", "lang": "en", "body": "We ask.",
              "status": "open"},
        headers=ADMIN,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    for n in range(12):
        answer = httpx.post(
            f"{base}/api/v1/letters/warm-up/signatures",
            json={"organisation": {"name": f"Warm Up Signer {n:03d}"}},
            headers=ADMIN,
            timeout=300,
        )
        assert answer.status_code in (200, 201), answer.text


def hammer_wrk(
    base: str, *, slug: str, clients: int, seconds: float
) -> tuple[int, float, float, dict[str, int]]:
    """Signatures made, p50 and p99 in seconds, errors, as wrk saw them."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua") as script:
        script.write(_WRK_SCRIPT)
        script.flush()
        out = subprocess.run(
            ["wrk", "-t2", f"-c{clients}", f"-d{seconds:.0f}s", "--timeout", "60s",
             "-s", script.name, f"{base}/api/v1/letters/{slug}/signatures", "--", slug, TOKEN],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    report = json.loads(out.stdout.strip().splitlines()[-1])
    errors = {k: report[k] for k in ("non2xx", "socket") if report[k]}
    return report["requests"], report["p50"] / 1e6, report["p99"] / 1e6, errors


def check_exact(base: str, dsn: str, slug: str) -> str:
    # wrk stops with requests in flight, which the server still finishes: count after them.
    time.sleep(2)
    count = httpx.get(f"{base}/api/v1/letters/{slug}/count").json()["total"]
    query = (
        "SELECT count(*) FILTER (WHERE s.withdrawn_at IS NULL), count(*), "
        "count(DISTINCT s.position) FROM signature s JOIN letter l ON l.id = s.letter_id "
        "WHERE l.slug = {}"
    )
    if dsn.startswith("sqlite:///"):
        with contextlib.closing(sqlite3.connect(dsn.removeprefix("sqlite:///"))) as lite:
            recount, positions, distinct = lite.execute(query.format("?"), (slug,)).fetchone()
    else:
        with psycopg.connect(dsn) as conn:
            recount, positions, distinct = conn.execute(
                query.format("%s"),  # type: ignore[arg-type]
                (slug,),
            ).fetchone()  # type: ignore[misc]
    return (
        f"count {count} {'=' if count == recount else '≠'} recount {recount}, positions "
        f"unique: {positions == distinct}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--kind", choices=["new", "existing"], default="new")
    parser.add_argument("--previous", default="HEAD~1")
    parser.add_argument("--port", type=int, default=8730)  # outside the tests' 8700-8719
    parser.add_argument("--client", choices=["wrk", "httpx"], default="wrk")
    parser.add_argument("--database", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument(
        "--analyze",
        choices=["auto", "yes", "no"],
        default="auto",
        help="the planner's statistics before the run (auto: PostgreSQL's, as autovacuum would)",
    )
    parser.add_argument(
        "--orgs",
        type=int,
        default=100_000,
        help="organisations added to the registry (default: issue 13's 100,000; 0 for the seed only)",
    )
    args = parser.parse_args()
    use_wrk = args.client == "wrk" and args.kind == "new"
    if use_wrk and shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk), or pass --client httpx")
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, {args.database}, "
        f"{args.workers} workers, {args.seconds:.0f} s per run, kind {args.kind}, "
        f"{args.orgs:,} organisations added, analyze {args.analyze}, previous = "
        f"{args.previous}; load from {'wrk' if use_wrk else 'httpx'}; load average at start "
        f"{load_average()}\n"
    )
    print(
        "| round | checkout | clients | signatures/s | p50 ms | p99 ms | errors | exact "
        "| CPU ms per signature: server (PostgreSQL) | connections per worker "
        "| backends waiting: lock / WAL flush |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with checkout(args.previous) as previous:
        roots = {"this": ROOT, "previous": previous}
        for round_ in range(1, args.rounds + 1):
            for name, root in roots.items():
                analyzed = {"auto": None, "yes": True, "no": False}[args.analyze]
                with server(root, args.port, args.workers, args.database, args.orgs, analyzed) as (
                    base,
                    dsn,
                    pid,
                ):
                    warm_up(base)
                    names: list[str] = []
                    if args.kind == "existing":
                        assert args.database == "postgresql", "--kind existing: PostgreSQL only"
                        with psycopg.connect(dsn) as conn:
                            names = [
                                r[0]
                                for r in conn.execute(
                                    "SELECT name FROM organisation_name WHERE is_primary "
                                    "ORDER BY organisation_id"
                                )
                            ]
                    for clients in args.clients:
                        slug = f"hot-{clients}-{round_}"
                        created = httpx.post(
                            f"{base}/api/v1/letters",
                            json={"slug": slug, "title": "Hot", "lang": "en", "body": "We ask.",
                                  "status": "open"},
                            headers=ADMIN,
                        )  # fmt: skip
                        assert created.status_code == 201, created.text
                        database = dsn.rsplit("/", 1)[1]
                        cpu_before = (
                            cpu_seconds(descendants(pid)),
                            cpu_seconds(postgres_backends(database)),
                        )
                        # The split of the clients' connections over the workers, mid-run.
                        split: list[int] = []
                        sampler = threading.Timer(
                            args.seconds / 2,
                            lambda split=split, pid=pid: split.extend(
                                connections_per_worker(args.port, descendants(pid))
                            ),
                        )
                        sampler.start()
                        waits = Waits(database) if args.database == "postgresql" else None
                        if waits is not None:
                            waits.start()
                        if use_wrk:
                            done, p50, p99, errors = hammer_wrk(
                                base, slug=slug, clients=clients, seconds=args.seconds
                            )
                        else:
                            done, latencies, errors = asyncio.run(
                                hammer(
                                    base,
                                    slug=slug,
                                    clients=clients,
                                    seconds=args.seconds,
                                    kind=args.kind,
                                    names=names,
                                )
                            )
                            latencies.sort()
                            p50 = statistics.median(latencies)
                            p99 = latencies[max(0, int(len(latencies) * 0.99) - 1)]
                        waited = "–" if waits is None else waits.report()
                        # CPU per signature holds up better than signatures/s on a shared
                        # machine: another session's load takes time, not CPU, from ours.
                        app_ms, db_ms = (
                            1000 * cpu_since(before, pids) / max(done, 1)
                            for pids, before in zip(
                                (descendants(pid), postgres_backends(database)),
                                cpu_before,
                                strict=True,
                            )
                        )
                        print(
                            f"| {round_} | {name} | {clients} | {done / args.seconds:,.0f} | "
                            f"{p50 * 1000:.0f} | {p99 * 1000:.0f} | "
                            f"{errors or 0} | {check_exact(base, dsn, slug)} | "
                            f"{app_ms:.1f} ({db_ms:.1f}) | {'/'.join(map(str, split))} | "
                            f"{waited} |",
                            flush=True,
                        )
    print(f"\nload average at end {load_average()}")


if __name__ == "__main__":
    main()
