"""A worker's reload of the organisations committed since it last looked reads them by revision,
whatever SQLite knows of the tables' statistics: a database that was never analyzed (as every
SQLite database the service creates) once drove these reads from `merged_into`, i.e. from every
live organisation of the registry (decision 0137's profile: 10–20 ms a statement at 100,000).

SQLite only, on a database of its own: PostgreSQL analyzes its tables itself (autovacuum), and
its plans for a test-sized table say nothing about a large one."""

import tempfile

from alembic import command
from sqlalchemy import event, text
from sqlmodel import Session

from app.db import make_engine, utcnow
from app.organisations.models import Organisation, OrganisationName
from app.resolution import registry
from tests.conftest import alembic_config


def test_a_reload_by_revision_never_scans_by_merged_into() -> None:
    url = f"sqlite:///{tempfile.mkdtemp(prefix='undersigned-plan-')}/plan.db"
    command.upgrade(alembic_config(url), "head")
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            now = utcnow()
            for i in range(1, 201):
                session.add(Organisation(id=i, kind="organisation", created_at=now, revision=i))
                session.add(
                    OrganisationName(
                        organisation_id=i,
                        name=f"Plan Test Organisation {i}",
                        normalised=f"plan test organisation {i}",
                        script="Latn",
                        is_primary=True,
                        created_at=now,
                    )
                )
            session.commit()
        with Session(engine) as session:
            assert (
                session.execute(
                    text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
                ).scalar()
                == 0
            ), "this test is about a database without statistics"
            statements: list[tuple[str, object]] = []

            def seen(_conn, _cursor, statement, parameters, _context, _many) -> None:  # type: ignore[no-untyped-def]
                if statement.lstrip().upper().startswith("SELECT"):
                    statements.append((statement, parameters))

            event.listen(engine, "before_cursor_execute", seen)
            try:
                loaded, ids = registry._load(session, after=150, upto=160)
            finally:
                event.remove(engine, "before_cursor_execute", seen)
            assert [item.organisation_id for item in loaded] == list(range(151, 161))
            assert all(item.names == [f"Plan Test Organisation {item.organisation_id}"]
                       for item in loaded)  # fmt: skip
            assert ids == set(range(151, 161))
            plans = [
                " | ".join(
                    str(row[-1])
                    for row in session.connection()
                    .exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)  # type: ignore[arg-type]
                    .all()
                )
                for statement, parameters in statements
            ]
            assert len(plans) == 3  # organisations, their names, their signatures
            for plan in plans:
                assert "ix_organisation_merged_into" not in plan, plan
                assert "SCAN organisation" not in plan.replace("SCAN organisation_", ""), plan
    finally:
        engine.dispose()
