"""The alternative blocking we measured against: PostgreSQL pg_trgm (GIN trigram index).

    .venv/bin/python bench/resolution_pg_trgm.py [--orgs 100000] [--queries 300]

Loads the same generated registry as bench/resolution.py into a throwaway database (UTF-8
ctype so CJK characters make trigrams), builds `gin (normalised gin_trgm_ops)`, and times the
candidate query `WHERE normalised % :q ORDER BY similarity DESC LIMIT 25` per query. This is
blocking only: scoring in Python would come on top. Prints one JSON report.
"""

import argparse
import json
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from resolution import generate, perturb

from app import listeners
from app.resolution.normalise import normalise

listeners.install()

ADMIN = os.environ.get("UNDERSIGNED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(4)
    registry = generate(args.orgs, rng)
    rows = [(oid, normalise(n)) for oid, names in enumerate(registry, 1) for n in names]
    name = f"undersigned_trgm_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION pg_trgm")
            conn.execute("CREATE TABLE n (organisation_id int, normalised text)")
            with conn.cursor() as cur, cur.copy("COPY n FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            started = time.perf_counter()
            conn.execute("CREATE INDEX n_trgm ON n USING gin (normalised gin_trgm_ops)")
            build = time.perf_counter() - started
            size = conn.execute("SELECT pg_relation_size('n_trgm')").fetchone()
            conn.execute("SET pg_trgm.similarity_threshold = 0.5")
            all_names = [n for names in registry for n in names]
            queries = [
                normalise(
                    perturb(rng.choice(all_names), rng)
                    if rng.random() < 0.5
                    else rng.choice(all_names)
                )
                for _ in range(args.queries)
            ]
            timings = []
            for query in queries:
                t0 = time.perf_counter()
                conn.execute(
                    "SELECT organisation_id, similarity(normalised, %s) AS s FROM n "
                    "WHERE normalised %% %s ORDER BY s DESC LIMIT 25",
                    (query, query),
                ).fetchall()
                timings.append((time.perf_counter() - t0) * 1000)
            timings.sort()
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(
        json.dumps(
            {
                "names": len(rows),
                "gin_build_seconds": round(build, 2),
                "gin_index_mb": round((size[0] if size else 0) / 1e6, 1),
                "queries": len(timings),
                "p50_ms": round(statistics.median(timings), 2),
                "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 2),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
