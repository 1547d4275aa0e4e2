"""Organisations created in parallel (run by hand, PostgreSQL):
`.venv/bin/python bench/registry_parallel.py [--threads 16] [--each 20] [--hold-ms 20]`.

Each thread runs transactions that create one organisation under a new name (resolve, claim,
insert: `service.identify`) and then hold the transaction open `--hold-ms` (the rest of a
signing: the signature row, counters, idempotency record, the response), then commit.

Side by side, alternated, in one run:
- `stamped at commit` (this code): the registry counter is taken in the commit's last
  statements (decision 0090);
- `row lock held` (the previous release's behaviour, reproduced): the same transaction also
  takes the counter's row lock right after creating, as every creation did before, and so
  holds it until commit.

Prints creations per second and p50/p99 latency per mode, and checks one organisation per
name (a few names are created by two threads at once).
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import text  # noqa: E402

from app import db, listeners  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.auth.service import Principal  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.resolution import service as identity  # noqa: E402
from app.resolution.visibility import Viewer  # noqa: E402

listeners.install()

ADMIN = Viewer(Principal(role=Role.admin, token_id=None))
SYL = [
    "ka",
    "lo",
    "ri",
    "ta",
    "me",
    "su",
    "na",
    "vo",
    "le",
    "pi",
    "ra",
    "du",
    "ko",
    "sa",
    "ne",
    "mi",
    "ba",
    "to",
]


def name_for(n: int) -> str:
    parts = []
    while True:
        parts.append(SYL[n % len(SYL)])
        n //= len(SYL)
        if n == 0:
            break
    return "".join(parts).capitalize() + " Rights Collective"


def run(mode: str, *, threads: int, each: int, hold: float, start: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    barrier = threading.Barrier(threads)

    def worker(t: int) -> None:
        barrier.wait()
        for i in range(each):
            # Every tenth name is also created by the next thread at the same moment.
            n = start + t * each + i
            if i % 10 == 0 and t > 0:
                n = start + (t - 1) * each + i
            began = time.perf_counter()
            with db.open_session(write=True) as session:
                identity.identify(session, name=name_for(n), viewer=ADMIN)
                if mode == "row lock held":
                    session.execute(
                        text("SELECT version FROM registry_state WHERE id = 1 FOR UPDATE")
                    )
                time.sleep(hold)
                session.commit()
            with lock:
                latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--each", type=int, default=20)
    parser.add_argument("--hold-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    admin = os.environ.get(
        "UNDERSIGNED_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"undersigned_bench_{os.getpid()}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + "/" + name
    try:
        os.environ["UNDERSIGNED_DATABASE_URL"] = url
        os.environ["UNDERSIGNED_DB_POOL_SIZE"] = str(args.threads + 2)
        get_settings.cache_clear()
        config = Config(str(ROOT / "alembic.ini"))
        config.set_main_option("script_location", str(ROOT / "migrations"))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        db.set_engine(db.make_engine(url))
        print(f"load average before: {os.getloadavg()}")
        start = 0
        for round_number in range(args.rounds):
            for mode in ("stamped at commit", "row lock held"):
                result = run(
                    mode,
                    threads=args.threads,
                    each=args.each,
                    hold=args.hold_ms / 1000,
                    start=start,
                )
                start += args.threads * args.each
                print(
                    f"round {round_number + 1} {mode:>18}: {result['rate']:.0f} creations/s, "
                    f"p50 {result['p50']:.0f} ms, p99 {result['p99']:.0f} ms"
                )
        with db.get_engine().connect() as conn:
            doubled = conn.execute(
                text(
                    "SELECT count(*) FROM (SELECT normalised FROM organisation_name"
                    " GROUP BY normalised HAVING count(DISTINCT organisation_id) > 1) AS d"
                )
            ).scalar_one()
            total = conn.execute(text("SELECT count(*) FROM organisation")).scalar_one()
        print(f"{total} organisations; names held by more than one: {doubled}")
        print(f"load average after: {os.getloadavg()}")
    finally:
        db.get_engine().dispose()
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
