"""Benchmark: a 10,000-row CSV imported into a registry of 100,000 organisations.

    .venv/bin/python bench/imports.py                 # SQLite and PostgreSQL
    .venv/bin/python bench/imports.py --db sqlite --orgs 20000 --rows 2000
    .venv/bin/python bench/imports.py --role admin    # import as an admin instead

For each database: build the registry with bulk inserts (not timed) — plus another letter that
a hundredth of it signed, a tenth of those anonymously — then, in a fresh child process that
serves the real app in-process (fastapi TestClient), POST the CSV as the letter's coordinator
(by default), as a dry run and then as a real import, and report wall time, the time spent
inside the resolver
(`app.resolution.service.resolve`) and the child's peak RSS. PostgreSQL needs the local server
(postgres@127.0.0.1:5432, trust auth); a throwaway database is created and dropped.
Targets (issue 6): each run <= 10 s, peak RSS <= 500 MB.
"""

import argparse
import csv
import io
import json
import os
import platform
import random
import resource
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"
PG_ADMIN_URL = os.environ.get(
    "UNDERSIGNED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SLUG = "bench-import"
HEADER = ["position", "name", "other_names", "kind", "lang", "country", "website", "anonymous"]

_ADJECTIVES = [
    "Global",
    "Regional",
    "National",
    "Independent",
    "United",
    "Free",
    "Open",
    "Democratic",
    "Civic",
    "Youth",
    "Women's",
    "Indigenous",
    "Rural",
    "Urban",
    "Northern",
    "Southern",
    "Eastern",
    "Western",
    "Pacific",
    "Atlantic",
    "Central",
    "Coastal",
    "Mountain",
    "River",
    "Green",
    "Digital",
    "Legal",
    "Medical",
    "Peaceful",
    "Solidarity",
    "Humanist",
]
_NOUNS = [
    "Rights",
    "Justice",
    "Freedom",
    "Democracy",
    "Peace",
    "Dignity",
    "Voices",
    "Defenders",
    "Watch",
    "Action",
    "Alliance",
    "Network",
    "Coalition",
    "Forum",
    "Council",
    "Union",
    "League",
    "Initiative",
    "Foundation",
    "Institute",
    "Centre",
    "Movement",
    "Campaign",
    "Association",
    "Society",
    "Collective",
    "Observatory",
    "Trust",
    "Committee",
    "Assembly",
]
_PLACES = [
    "Kenya",
    "Chile",
    "Taiwan",
    "Nepal",
    "Peru",
    "Ghana",
    "Norway",
    "Canada",
    "Brazil",
    "Japan",
    "Uganda",
    "Mexico",
    "Poland",
    "Tunisia",
    "Benin",
    "Bolivia",
    "Kosovo",
    "Malawi",
    "Latvia",
    "Fiji",
    "Sudan",
    "Yemen",
    "Laos",
    "Chad",
    "Niger",
    "Mali",
    "Iraq",
    "Oman",
    "Cuba",
    "Togo",
    "Berlin",
    "Lagos",
    "Lima",
    "Quito",
    "Dakar",
    "Accra",
    "Oslo",
    "Hanoi",
    "Manila",
    "Seoul",
    "Osaka",
    "Tbilisi",
    "Yerevan",
]
_KINDS = [
    "Group",
    "Project",
    "Office",
    "Chapter",
    "Hub",
    "Lab",
    "Circle",
    "Desk",
    "Partners",
    "Friends",
]
_CJK = list("人權自由民主和平正義聯盟協會基金網絡中心行動青年婦女台灣香港日本律師記者環境發展教育")


def registry_names(count: int, rng: random.Random) -> list[str]:
    """`count` distinct organisation names: Latin phrases, a tenth of them in CJK."""
    names: set[str] = set()
    while len(names) < count:
        if rng.random() < 0.1:
            names.add("".join(rng.choice(_CJK) for _ in range(rng.randint(4, 9))))
        else:
            names.add(
                f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice(_PLACES)} "
                f"{rng.choice(_KINDS)} {rng.randint(1, 999)}"
            )
    return sorted(names)


def build_registry(url: str, *, organisations: int, rng: random.Random) -> tuple[list[str], str]:
    """The registry's names and a coordinator token (in clear) for the bench letter."""
    from sqlalchemy import insert
    from sqlmodel import Session

    from app.db import make_engine, utcnow
    from app.organisations.models import Organisation, OrganisationName
    from app.resolution.normalise import normalise
    from app.resolution.scripts import detect_script

    names = registry_names(organisations, rng)
    now = utcnow()
    engine = make_engine(url)
    batch = 5000
    with engine.begin() as conn:
        for start in range(0, len(names), batch):
            chunk = names[start : start + batch]
            conn.execute(
                insert(Organisation),
                [
                    # Revision 1 = registry version 1 below: the resolver's index, like every
                    # worker's, loads organisations by revision.
                    {"id": start + i + 1, "kind": "organisation", "created_at": now, "revision": 1}
                    for i in range(len(chunk))
                ],
            )
            conn.execute(
                insert(OrganisationName),
                [
                    {
                        "organisation_id": start + i + 1,
                        "name": name,
                        "normalised": normalise(name),
                        "script": detect_script(name),
                        "is_acronym": False,
                        "is_primary": True,
                        "created_at": now,
                    }
                    for i, name in enumerate(chunk)
                ],
            )
        conn.exec_driver_sql("UPDATE registry_state SET version = 1 WHERE id = 1")
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('organisation', 'id'), {len(names)})"
            )
    with engine.connect() as conn:
        # Planner statistics, as a live database has them (autovacuum has not run yet).
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")
    from app.auth import service as auth_service
    from app.auth.models import Role
    from app.auth.service import Principal
    from app.letters import service as letter_service
    from app.letters.schemas import LetterCreate
    from app.signatures.models import Signature

    admin = Principal(role=Role.admin, token_id=None)
    with Session(engine) as session:
        letter = letter_service.create(
            session,
            data=LetterCreate(slug=SLUG, title="Bench", lang="en", body="We ask.", status="open"),
            principal=admin,
        )
        # Another coalition's letter that a hundredth of the registry signed, a tenth of those
        # anonymously: their organisations are hidden from the importing coordinator, whose
        # resolution leaves them out (resolution/registry.py:view).
        other = letter_service.create(
            session,
            data=LetterCreate(
                slug="bench-other", title="Other", lang="en", body="We ask.", status="open"
            ),
            principal=admin,
        )
        # Its own generator: the import file stays the same as before these signers existed.
        signers = random.Random(len(names)).sample(range(1, len(names) + 1), len(names) // 100)
        session.execute(
            insert(Signature),
            [
                {
                    "letter_id": other.id,
                    "organisation_id": organisation_id,
                    "anonymous": position % 10 == 0,
                    "position": position,
                    "signed_at": now,
                    "source": "api",
                }
                for position, organisation_id in enumerate(signers, start=1)
            ],
        )
        # The importing coordinator: a token granted this letter only, as a coalition has.
        assert letter.id is not None
        _, clear = auth_service.create(session, role=Role.coordinator, letter_ids=[letter.id])
        session.commit()
    engine.dispose()
    return names, clear


def import_csv(registry: list[str], *, rows: int, rng: random.Random) -> bytes:
    """Half existing organisations (re-cased), 47% new, 2% in-file repeats, 1% anonymous."""
    taken = set(registry)
    existing = rng.sample(registry, rows // 2)
    lines: list[list[str]] = []
    seen_new: list[str] = []
    for position in range(1, rows + 1):
        roll = rng.random()
        if roll < 0.5 and existing:
            name = existing.pop()
            name = name.upper() if rng.random() < 0.3 else name
            lines.append([str(position), name, "", "organisation", "", "", "", "false"])
        elif roll < 0.52 and seen_new:
            lines.append([str(position), rng.choice(seen_new).lower(), "", "", "", "", "", "false"])
        elif roll < 0.53:
            lines.append([str(position), "", "", "", "", "", "", "true"])
        else:
            name = f"New {rng.choice(_NOUNS)} of {rng.choice(_PLACES)} {position}"
            while name in taken:
                name += " bis"
            taken.add(name)
            seen_new.append(name)
            website = f"https://new{position}.example.org" if rng.random() < 0.3 else ""
            lines.append([str(position), name, "", "organisation", "en", "", website, "false"])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(lines)
    return buffer.getvalue().encode("utf-8")


def child(url: str, csv_path: str, token: str) -> None:
    """Runs in a fresh process: dry run then real run through the HTTP app; prints JSON."""
    os.environ["UNDERSIGNED_DATABASE_URL"] = url
    os.environ["UNDERSIGNED_ADMIN_TOKEN"] = ADMIN_TOKEN
    from fastapi.testclient import TestClient
    from sqlalchemy import event

    from app.db import get_engine
    from app.main import app
    from app.resolution import service as resolution_service

    spent = {"resolve": 0.0, "calls": 0, "statements": 0, "resolver_statements": 0, "inside": 0}
    real_resolve = resolution_service.resolve

    def timed_resolve(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        spent["inside"] = 1
        try:
            return real_resolve(*args, **kwargs)
        finally:
            spent["inside"] = 0
            spent["resolve"] += time.perf_counter() - start
            spent["calls"] += 1

    def count_statement(*_: Any) -> None:
        # Round trips do not depend on the machine's load; wall time does.
        spent["statements"] += 1
        spent["resolver_statements"] += spent["inside"]

    event.listen(get_engine(), "before_cursor_execute", count_statement)

    resolution_service.resolve = timed_resolve  # type: ignore[assignment]
    body = Path(csv_path).read_bytes()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "text/csv"}
    results: dict[str, Any] = {"rss_before_mb": _peak_rss_mb()}
    with TestClient(app) as client:
        client.get("/api/v1/healthz")
        # A running server builds the resolver index at start-up (app.main.warm_resolver);
        # wait for it here so that the timed runs measure the import, not the start-up.
        warm = time.perf_counter()
        from app.main import warm_resolver

        warm_resolver()
        results["index_warm_up_seconds"] = round(time.perf_counter() - warm, 2)
        for run, dry in (("dry_run", "true"), ("real_run", "false")):
            spent.update(resolve=0.0, calls=0, statements=0, resolver_statements=0)
            cpu = time.process_time()
            start = time.perf_counter()
            response = client.post(
                f"/api/v1/letters/{SLUG}/imports",
                content=body,
                headers=headers,
                params={"dry_run": dry},
            )
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
            if response.status_code != 200:
                raise SystemExit(f"{run}: {response.status_code} {response.text[:500]}")
            results[run] = {
                "seconds": round(elapsed, 2),
                "resolver_seconds": round(spent["resolve"], 2),
                "resolver_calls": spent["calls"],
                "cpu_seconds": round(cpu, 2),
                "statements": spent["statements"],
                "resolver_statements": spent["resolver_statements"],
                "summary": response.json()["summary"],
            }
    results["peak_rss_mb"] = _peak_rss_mb()
    print(json.dumps(results))


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run_one(kind: str, *, organisations: int, rows: int, seed: int, role: str) -> dict[str, Any]:
    from alembic import command

    from tests.conftest import alembic_config

    rng = random.Random(seed)
    workdir = Path(tempfile.mkdtemp(prefix="undersigned-bench-imports-"))
    drop = None
    if kind == "sqlite":
        url = f"sqlite:///{workdir}/bench.db"
    else:
        import psycopg

        name = f"undersigned_bench_imports_{os.getpid()}_{secrets.token_hex(3)}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0")

        def drop() -> None:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1)
        url = f"{base}/{name}"
    try:
        command.upgrade(alembic_config(url), "head")
        start = time.perf_counter()
        registry, coordinator_token = build_registry(url, organisations=organisations, rng=rng)
        token = ADMIN_TOKEN if role == "admin" else coordinator_token
        build = time.perf_counter() - start
        csv_path = workdir / "import.csv"
        csv_path.write_bytes(import_csv(registry, rows=rows, rng=rng))
        output = subprocess.run(
            [sys.executable, __file__, "--child", url, str(csv_path), token],
            check=True,
            capture_output=True,
            text=True,
            cwd=ROOT,
        ).stdout
        result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
        result["registry_build_seconds"] = round(build, 1)
        result["csv_bytes"] = csv_path.stat().st_size
        return result
    finally:
        if drop is not None:
            drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument(
        "--role",
        choices=["coordinator", "admin"],
        default="coordinator",
        help="who imports: the letter's coordinator (default; the import checks which "
        "candidates it may see) or an admin (sees everything)",
    )
    parser.add_argument("--child", nargs=3, metavar=("URL", "CSV", "TOKEN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, nproc {os.cpu_count()}, {cpu}")
    print(f"# {args.rows} rows into {args.orgs} organisations, imported by: {args.role}\n")
    print(f"# load average before: {os.getloadavg()[0]:.1f}\n")
    print(
        "| database | run | wall s | resolver s (calls) | app CPU s | SQL statements (in "
        "resolver) | signatures | new orgs | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        result = run_one(
            kind, organisations=args.orgs, rows=args.rows, seed=args.seed, role=args.role
        )
        for run in ("dry_run", "real_run"):
            r = result[run]
            s = r["summary"]
            print(
                f"| {kind} | {run.replace('_', ' ')} | {r['seconds']} | "
                f"{r['resolver_seconds']} ({r['resolver_calls']}) | {r['cpu_seconds']} | "
                f"{r['statements']} ({r['resolver_statements']}) | {s['signatures_created']} | "
                f"{s['organisations_created'] or s['organisations_to_create']} | "
                f"{result['peak_rss_mb']} |"
            )
        print(
            f"<!-- {kind}: registry built in {result['registry_build_seconds']} s (not timed "
            f"above); CSV {result['csv_bytes']} bytes; RSS before the runs "
            f"{result['rss_before_mb']} MB; summary {json.dumps(result['real_run']['summary'])} -->"
        )


if __name__ == "__main__":
    main()
