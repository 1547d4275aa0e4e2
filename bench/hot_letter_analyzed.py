"""The hot letter on SQLite with the planner's statistics gathered: this checkout against the
previous commit, side by side (decision 0137).

    .venv/bin/python bench/hot_letter_analyzed.py [--clients 32] [--seconds 15] [--rounds 3]
        [--previous REV] [--orgs 100000] [--port 8762]

As `bench/hot_letter.py --database sqlite`, with one step more: ANALYZE on the database once its
registry is grown, before the warm-up. hot_letter's own ANALYZE runs inside the transaction
that `db._sqlite_begin` opens on every SQLite connection and is rolled back, so its SQLite
figures are those of a database without statistics, whose planner reads the registry's
organisations by revision through the index of `merged_into IS NULL` (all of them); this
shows what the writers' queue does when a signature is short.
"""

import argparse
import contextlib
import sqlite3
from datetime import UTC, datetime

import httpx
from hot_letter import (
    ADMIN,
    ROOT,
    check_exact,
    checkout,
    cpu_seconds,
    cpu_since,
    descendants,
    hammer_wrk,
    load_average,
    server,
    warm_up,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--previous", default="HEAD~1")
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--port", type=int, default=8762)
    args = parser.parse_args()
    print(
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, sqlite analyzed, 2 workers, {args.clients} "
        f"clients, {args.seconds:.0f} s per run, {args.orgs:,} organisations added, previous = "
        f"{args.previous}; load average at start {load_average()}\n"
    )
    print(
        "| round | checkout | signatures/s | p50 ms | p99 ms | errors | exact | CPU ms per signature |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with checkout(args.previous) as previous:
        for round_ in range(1, args.rounds + 1):
            for name, root in {"this": ROOT, "previous": previous}.items():
                with server(root, args.port, 2, "sqlite", args.orgs) as (base, dsn, pid):
                    path = dsn.removeprefix("sqlite:///")
                    with contextlib.closing(sqlite3.connect(path)) as database:
                        database.execute("ANALYZE")
                        database.commit()
                    warm_up(base)
                    slug = f"hot-{round_}"
                    created = httpx.post(
                        f"{base}/api/v1/letters",
                        json={"slug": slug, "title": "Hot", "lang": "en", "body": "We ask.",
                              "status": "open"},
                        headers=ADMIN,
                    )  # fmt: skip
                    assert created.status_code == 201, created.text
                    before = cpu_seconds(descendants(pid))
                    done, p50, p99, errors = hammer_wrk(
                        base, slug=slug, clients=args.clients, seconds=args.seconds
                    )
                    cpu = cpu_since(before, descendants(pid))
                    print(
                        f"| {round_} | {name} | {done / args.seconds:,.0f} | {p50 * 1000:.0f} | "
                        f"{p99 * 1000:.0f} | {errors or 0} | {check_exact(base, dsn, slug)} | "
                        f"{1000 * cpu / max(done, 1):.1f} |",
                        flush=True,
                    )
    print(f"\nload average at end {load_average()}")


if __name__ == "__main__":
    main()
