"""SQLite backups through the online backup API (consistent while the server keeps writing).

PostgreSQL deployments use pg_dump / pg_restore instead (README, "Backups").
"""

import contextlib
import fcntl
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url


class BackupError(Exception):
    """A backup or restore that cannot be done safely; the message says why."""


def sqlite_path(database_url: str) -> Path:
    if make_url(database_url).get_backend_name() != "sqlite":
        raise BackupError(
            "backup/restore work on SQLite; for PostgreSQL use pg_dump and pg_restore "
            "(see the README)"
        )
    path = _sqlite_file(database_url)
    if path is None:
        raise BackupError("the database is in memory; there is no file to back up")
    return path


def _sqlite_file(database_url: str) -> Path | None:
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database)


@contextlib.contextmanager
def held_by_server(database_url: str) -> Iterator[None]:
    """While open, `restore` refuses this SQLite database: a running server holds it.

    A shared flock on the database file: it does not interact with SQLite's own (fcntl) locks,
    every worker process can hold one, and the kernel drops it when the process dies.
    """
    path = _sqlite_file(database_url)
    if path is None or not path.exists():
        yield
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        with contextlib.suppress(OSError):  # a restore in progress: serve anyway
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def _refuse_if_served(path: Path) -> None:
    if not path.exists():
        return
    descriptor = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise BackupError(f"a running server is using {path}; stop it, then restore") from None
    finally:
        os.close(descriptor)


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
    if destination.is_dir():
        raise BackupError(f"{destination} is a directory; give a file name inside it")
    if destination.exists() and not overwrite:
        raise BackupError(f"{destination} exists; choose a new file or pass --force")
    if not destination.parent.is_dir():
        raise BackupError(f"there is no directory {destination.parent} to write the backup in")
    if not os.access(destination.parent, os.W_OK):
        raise BackupError(f"cannot write in {destination.parent} (permission denied)")
    if destination.exists():
        destination.unlink()
    _copy(source, destination)
    problems = integrity_errors(destination)
    if problems:
        raise BackupError(f"the backup failed its integrity check: {problems[0]}")


def restore(*, database_url: str, source: Path) -> None:
    """Replace the database's content with a backup's; stop the server first."""
    target = sqlite_path(database_url)
    if source.is_dir():
        raise BackupError(f"{source} is a directory, not a backup file")
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
    _refuse_if_served(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _copy(source, target)
