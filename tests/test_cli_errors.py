"""The CLI explains itself: a user error is one line on stderr with a hint, never a traceback."""

import sqlite3
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.main import get_command
from typer.testing import CliRunner, Result

from app.cli import app

runner = CliRunner()


def one_error_line(result: Result, *, code: int = 1) -> str:
    """The single line a failed command printed on stderr."""
    assert result.exit_code == code, (result.exit_code, result.output, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ") and "Traceback" not in result.output
    return lines[0]


def test_user_errors_are_one_line_with_a_hint(engine, seeded: str, tmp_path: Path) -> None:
    line = one_error_line(
        runner.invoke(app, ["import", str(tmp_path / "nope.csv"), "--letter", seeded])
    )
    assert "no such file" in line and "nope.csv" in line
    line = one_error_line(runner.invoke(app, ["import", str(tmp_path), "--letter", seeded]))
    assert "is a directory" in line
    listed = tmp_path / "list.txt"
    listed.write_text("1. Someone\n", encoding="utf-8")
    line = one_error_line(runner.invoke(app, ["import", str(listed), "--letter", "no-such-letter"]))
    assert "no letter 'no-such-letter'" in line
    line = one_error_line(runner.invoke(app, ["token", "revoke", "424242"]))
    assert "no token with id 424242" in line and "token list" in line
    line = one_error_line(
        runner.invoke(app, ["token", "create", "--role", "admin", "--letter", seeded]), code=2
    )
    assert "--letter is for coordinator tokens" in line
    line = one_error_line(runner.invoke(app, ["token", "create", "--role", "root"]), code=2)
    assert "'--role'" in line and "coordinator" in line
    line = one_error_line(runner.invoke(app, ["import", str(listed)]), code=2)
    assert "Missing option '--letter'" in line and "--help" in line


def test_import_with_errors_hints_at_skip_errors(engine, seeded: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,kind\nGood Org,\nBad Org,alien\n", encoding="utf-8")
    line = one_error_line(runner.invoke(app, ["import", str(bad), "--letter", seeded]))
    assert "--skip-errors" in line and "skip_errors=true" not in line


def test_backup_errors_are_one_line(sqlite_db: Path, tmp_path: Path) -> None:
    line = one_error_line(runner.invoke(app, ["backup", str(tmp_path / "missing-dir" / "b.db")]))
    assert "no directory" in line
    line = one_error_line(runner.invoke(app, ["backup", str(tmp_path)]))
    assert "is a directory" in line
    line = one_error_line(runner.invoke(app, ["restore", str(tmp_path / "nope.db")]))
    assert "no backup file" in line


def test_a_missing_database_is_named_and_never_created(
    engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "elsewhere.db"
    for args in (["token", "list"], ["seed"], ["export", "--letter", "x"]):
        line = one_error_line(runner.invoke(app, [*args, "--database", f"sqlite:///{missing}"]))
        assert f"no database at {missing}" in line and "undersigned migrate" in line
    assert not missing.exists() and list(tmp_path.iterdir()) == []


def test_an_unmigrated_database_is_named_with_the_fix(engine, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    line = one_error_line(runner.invoke(app, ["token", "list", "--database", f"sqlite:///{empty}"]))
    assert "not migrated" in line and "undersigned migrate" in line
    migrated = runner.invoke(app, ["migrate", "--database", f"sqlite:///{empty}"])
    assert migrated.exit_code == 0, migrated.output
    listed = runner.invoke(app, ["token", "list", "--database", f"sqlite:///{empty}"])
    assert listed.exit_code == 0, listed.stderr


def test_an_unreachable_server_is_one_line(engine) -> None:
    from tests.conftest import free_port

    url = f"postgresql+psycopg://postgres:secret@127.0.0.1:{free_port()}/x"
    line = one_error_line(runner.invoke(app, ["token", "list", "--database", url]))
    assert "cannot connect" in line and "secret" not in line


def test_every_command_takes_database() -> None:
    root = get_command(app)
    commands = []
    for name, cmd in root.commands.items():  # type: ignore[attr-defined]
        sub = getattr(cmd, "commands", None)
        commands += [(f"{name} {n}", c) for n, c in sub.items()] if sub else [(name, cmd)]
    # eval-resolution builds its own throwaway database from the seed.
    without = [n for n, c in commands if "--database" not in {o for p in c.params for o in p.opts}]
    assert without == ["eval-resolution"]


def test_help_has_no_type_noise() -> None:
    for args in (["import", "--help"], ["token", "create", "--help"], ["backup", "--help"]):
        result = runner.invoke(app, args)
        assert result.exit_code == 0
        assert "<bool>" not in result.output and "<str>" not in result.output


def test_unexpected_errors_need_debug_for_a_traceback(
    engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.auth import service as auth_service

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(auth_service, "list_tokens", broken)
    line = one_error_line(runner.invoke(app, ["token", "list"]))
    assert "RuntimeError: boom" in line and "--debug" in line
    debug = runner.invoke(app, ["--debug", "token", "list"])
    assert isinstance(debug.exception, RuntimeError)


def test_restore_refuses_while_a_server_holds_the_database(sqlite_db: Path, tmp_path: Path) -> None:
    from app.main import app as web_app

    backup = tmp_path / "backup.db"
    assert runner.invoke(app, ["backup", str(backup)]).exit_code == 0
    with TestClient(web_app):
        line = one_error_line(runner.invoke(app, ["restore", str(backup)]))
        assert "a running server is using" in line and "stop it" in line
    restored = runner.invoke(app, ["restore", str(backup)])
    assert restored.exit_code == 0, restored.stderr


def test_token_list_shows_role_letters_and_last_use(
    client: TestClient, make_token, seeded: str
) -> None:
    created = runner.invoke(
        app, ["token", "create", "--role", "coordinator", "--letter", seeded, "--label", "ngo"]
    )
    clear = created.stdout.strip().splitlines()[-1]
    make_token("admin")
    before = runner.invoke(app, ["token", "list"])
    assert before.exit_code == 0
    rows = [line.split() for line in before.stdout.splitlines() if "…" in line]
    assert [r[1] for r in rows] == ["coordinator", "admin"]
    assert rows[0][2] == seeded and rows[1][2] == "all"
    assert rows[0][-1] == "never"
    response = client.get(
        f"/api/v1/letters/{seeded}/signatures", headers={"Authorization": f"Bearer {clear}"}
    )
    assert response.status_code == 200
    after = runner.invoke(app, ["token", "list"])
    rows = [line.split() for line in after.stdout.splitlines() if "…" in line]
    assert rows[0][-1] != "never" and rows[1][-1] == "never"
