"""What one signature costs (run by hand, PostgreSQL):
`.venv/bin/python bench/sign_path.py [--signatures 100] [--partner] [--profile] [--catch-up]`.

A throwaway database (migrated, seeded) and one open letter; this process signs it
`--signatures` times, each for a new organisation, calling the service as the route does (no
HTTP: what is left is the sign path itself), with the admin principal the hot letter
benchmark uses. Prints statements, CPU and wall time per signature, and the statements by
kind. `--partner`: a second process signs the same letter meanwhile (the other worker: its
organisations are loaded by this one's resolves). `--profile`: cProfile with a CPU clock, the
functions of app/ by cumulative CPU. `--catch-up`: then times the duplicate queue's catch-up
of the new organisations (what a worker's thread does after commits).
"""

import argparse
import collections
import cProfile
import io
import os
import pstats
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

PG_ADMIN = os.environ.get(
    "UNDERSIGNED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
SLUG = "sign-path"


def sign_one(number: int, tag: str) -> None:
    from sqlmodel import select

    from app.auth.models import Role
    from app.auth.service import Principal
    from app.db import open_session
    from app.letters.models import Letter
    from app.signatures import service
    from app.signatures.schemas import SignatureCreate

    body = {"organisation": {"name": f"Sign Path {tag} Signer {number:06d}"}}
    with open_session(write=True) as session:
        letter = session.exec(select(Letter).where(Letter.slug == SLUG)).one()
        signed = service.sign(
            session,
            letter=letter,
            data=SignatureCreate.model_validate(body),
            principal=Principal(role=Role.admin, token_id=None),
        )
        session.commit()
    assert signed.created


def partner() -> None:
    """The other worker: signs until killed."""
    from app import listeners

    listeners.install()
    number = 0
    while True:
        sign_one(number, "partner")
        number += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--signatures", type=int, default=100)
    parser.add_argument("--partner", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--catch-up", action="store_true")
    parser.add_argument("--role", default="main", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "partner":
        partner()
        return
    name = f"undersigned_sign_path_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    os.environ.update(
        UNDERSIGNED_DATABASE_URL=dsn.replace("postgresql://", "postgresql+psycopg://"),
        UNDERSIGNED_LOG_LEVEL="warning",
        UNDERSIGNED_IDENTITY_CHECKS_IN_BACKGROUND="false",
    )
    try:
        for step in ("migrate", "seed"):
            subprocess.run(
                [sys.executable, "-m", "app.cli", step], cwd=ROOT, check=True, capture_output=True
            )
        run(args)
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(args: argparse.Namespace) -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    from app import listeners
    from app.auth.models import Role
    from app.auth.service import Principal
    from app.db import open_session
    from app.letters import service as letter_service
    from app.letters.models import LetterStatus
    from app.letters.schemas import LetterCreate

    listeners.install()
    with open_session(write=True) as session:
        letter = LetterCreate(
            slug=SLUG, title="Hot", lang="en", body="We ask.", status=LetterStatus.open
        )
        letter_service.create(
            session, data=letter, principal=Principal(role=Role.admin, token_id=None)
        )
        session.commit()
    for number in range(5):
        sign_one(number, "warm")
    helper = None
    if args.partner:
        helper = subprocess.Popen(
            [sys.executable, __file__, "--role", "partner"], cwd=ROOT, env=os.environ
        )
        time.sleep(3)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        statements.append(" ".join(statement.split())[:110])

    event.listen(Engine, "before_cursor_execute", record)
    profile = cProfile.Profile(time.process_time) if args.profile else None
    wall, cpu = time.perf_counter(), time.process_time()
    if profile is not None:
        profile.enable()
    try:
        for number in range(args.signatures):
            sign_one(number, "main")
    finally:
        if profile is not None:
            profile.disable()
        if helper is not None:
            helper.kill()
    event.remove(Engine, "before_cursor_execute", record)
    n = args.signatures
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{len(statements) / n:.1f} statements, {cpu / n * 1000:.1f} ms CPU, "
        f"{wall / n * 1000:.1f} ms wall per signature{' (profiled)' if profile else ''}; "
        f"load average {'/'.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    for statement, count in collections.Counter(statements).most_common():
        print(f"{count / n:5.2f}  {statement}")
    if profile is not None:
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats("cumulative")
        stats.print_stats(f"{ROOT}/app/", 40)
        print(out.getvalue())
    if args.catch_up:
        from app.resolution import queue

        wall, cpu = time.perf_counter(), time.process_time()
        queue.catch_up_all()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(
            f"duplicate queue catch-up: {cpu / n * 1000:.1f} ms CPU, {wall / n * 1000:.1f} ms "
            "wall per new organisation"
        )


if __name__ == "__main__":
    main()
