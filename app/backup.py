"""SQLite backups through the online backup API (consistent while the server keeps writing).

PostgreSQL deployments use pg_dump / pg_restore instead (README, "Backups").
"""

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup or restore that cannot be done safely; the message says why."""


def sqlite_path(database_url: str) -> Path:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        raise BackupError(
            "backup/restore work on SQLite; for PostgreSQL use pg_dump and pg_restore "
            "(see the README)"
        )
    if not url.database or url.database == ":memory:":
        raise BackupError("the database is in memory; there is no file to back up")
    return Path(url.database)


def integrity_errors(path: Path) -> list[str]:
    """`PRAGMA integrity_check` and `foreign_key_check` findings; empty when the file is sound."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
        problems = [p for p in problems if p != "ok"]
        problems += [
            f"foreign key violation in {row[0]} row {row[1]}"
            for row in connection.execute("PRAGMA foreign_key_check")
        ]
        return problems
    finally:
        connection.close()


def _copy(source: Path, destination: Path) -> None:
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(destination)
    try:
        src.backup(dst)
    finally:
        dst.close()
        src.close()


def backup(*, database_url: str, destination: Path, overwrite: bool = False) -> None:
    """Copy the live database to `destination`, then verify the copy."""
    source = sqlite_path(database_url)
    if not source.exists():
        raise BackupError(f"there is no database file at {source}")
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} exists; choose a new file or pass --force")
    if destination.exists():
        destination.unlink()
    _copy(source, destination)
    problems = integrity_errors(destination)
    if problems:
        raise BackupError(f"the backup failed its integrity check: {problems[0]}")


def restore(*, database_url: str, source: Path) -> None:
    """Replace the database's content with a backup's; stop the server first."""
    target = sqlite_path(database_url)
    if not source.is_file():
        raise BackupError(f"there is no backup file at {source}")
    try:
        problems = integrity_errors(source)
        with sqlite3.connect(f"file:{source}?mode=ro", uri=True) as probe:
            tables = {r[0] for r in probe.execute("SELECT name FROM sqlite_master")}
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a SQLite database ({type(exc).__name__})") from None
    if problems:
        raise BackupError(f"the backup failed its integrity check: {problems[0]}")
    if "alembic_version" not in tables:
        raise BackupError(f"{source} is not an Undersigned database (no alembic_version table)")
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, target)
