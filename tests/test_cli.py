"""The `undersigned` command: tokens are printed once and stored hashed; seed is idempotent."""

from sqlmodel import select
from typer.testing import CliRunner

from app.auth import service as auth_service
from app.auth.models import ApiToken, LetterGrant
from app.cli import app
from app.db import open_session

runner = CliRunner()


def test_token_create_prints_once_and_stores_hash(engine, seeded: str) -> None:
    result = runner.invoke(app, ["token", "create", "--role", "coordinator", "--letter", seeded])
    assert result.exit_code == 0, result.output
    clear = result.stdout.strip().splitlines()[-1]
    assert clear.startswith("us_") and len(clear) > 40
    with open_session() as session:
        token = session.exec(select(ApiToken)).one()
        assert token.token_hash == auth_service.hash_token(clear)
        assert session.exec(select(LetterGrant)).one().token_id == token.id
    listed = runner.invoke(app, ["token", "list"])
    assert listed.exit_code == 0 and clear not in listed.output and clear[:10] in listed.output
    revoked = runner.invoke(app, ["token", "revoke", str(token.id)])
    assert revoked.exit_code == 0
    with open_session() as session:
        assert auth_service.authenticate(session, clear_token=clear) is None


def test_token_create_refuses_unknown_role_and_letter(engine) -> None:
    refused = runner.invoke(app, ["token", "create", "--role", "root"])
    assert refused.exit_code == 2 and "coordinator" in refused.output
    assert (
        runner.invoke(
            app, ["token", "create", "--role", "coordinator", "--letter", "nope"]
        ).exit_code
        == 1
    )


def test_seed_command_is_idempotent(engine) -> None:
    first = runner.invoke(app, ["seed"])
    second = runner.invoke(app, ["seed"])
    assert "seed letter loaded" in first.output
    assert "already present" in second.output
