"""`undersigned backup` / `restore` on SQLite: a round trip preserves every table row by row."""

import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app import db
from app.cli import app as cli
from app.config import get_settings
from app.db import open_session


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, in a stable order."""
    with sqlite3.connect(path) as connection:
        tables = [
            r[0]
            for r in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall(), key=repr)
            for table in tables
        }


def flat(output: str) -> str:
    """CLI output with the console's line wrapping undone."""
    return " ".join(output.split())


def test_backup_restore_round_trip_compares_every_table(sqlite_db: Path, tmp_path: Path) -> None:
    from app.imports.seed import load_seed

    with open_session(write=True) as session:
        load_seed(session)
        session.commit()
    runner = CliRunner()
    assert runner.invoke(cli, ["token", "create", "--role", "coordinator"]).exit_code == 0
    before = dump(sqlite_db)
    assert len(before["signature"]) == 320 and before["api_token"]

    backup_path = tmp_path / "backup.db"
    result = runner.invoke(cli, ["backup", str(backup_path)])
    assert result.exit_code == 0, result.output
    assert dump(backup_path) == before

    # Damage the live database, then restore.
    with sqlite3.connect(sqlite_db) as connection:
        connection.execute("DELETE FROM idempotency_record")
        connection.execute("DELETE FROM signature WHERE position > 100")
        connection.execute("UPDATE letter SET title = 'vandalised'")
    assert dump(sqlite_db) != before
    db.get_engine().dispose()
    result = runner.invoke(cli, ["restore", str(backup_path)])
    assert result.exit_code == 0, result.output
    after = dump(sqlite_db)
    assert after.keys() == before.keys()
    for table in before:
        assert after[table] == before[table], table
    with sqlite3.connect(sqlite_db) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert connection.execute("PRAGMA foreign_key_check").fetchall() == []


def test_backup_refuses_to_overwrite_and_restore_refuses_junk(
    sqlite_db: Path, tmp_path: Path
) -> None:
    runner = CliRunner()
    target = tmp_path / "b.db"
    assert runner.invoke(cli, ["backup", str(target)]).exit_code == 0
    again = runner.invoke(cli, ["backup", str(target)])
    assert again.exit_code == 1 and "exists" in flat(again.output)
    assert runner.invoke(cli, ["backup", str(target), "--force"]).exit_code == 0

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    refused = runner.invoke(cli, ["restore", str(junk)])
    assert refused.exit_code == 1 and "not a SQLite database" in flat(refused.output)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE t (x)")
    refused = runner.invoke(cli, ["restore", str(foreign)])
    assert refused.exit_code == 1 and "not an Undersigned database" in flat(refused.output)
    missing = runner.invoke(cli, ["restore", str(tmp_path / "nope.db")])
    assert missing.exit_code == 1


def test_backup_on_postgresql_points_to_pg_dump(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNDERSIGNED_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/x")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(cli, ["backup", "/tmp/never-written.db"])
    finally:
        monkeypatch.undo()
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "pg_dump" in flat(result.output)
    assert not Path("/tmp/never-written.db").exists()
