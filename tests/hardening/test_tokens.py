"""Forged and revoked tokens."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app as cli


def test_revoked_token_gets_401_at_once(
    client: TestClient, make_token: Callable[..., str], make_letter
) -> None:
    token = make_token("coordinator")
    headers = {"Authorization": f"Bearer {token}"}
    make_letter(headers, slug="revoke-me")
    assert client.get("/api/v1/letters/revoke-me/signatures", headers=headers).status_code == 200
    listed = CliRunner().invoke(cli, ["token", "list"])
    assert listed.exit_code == 0 and token not in listed.output
    token_id = _token_id(token)
    result = CliRunner().invoke(cli, ["token", "revoke", str(token_id)])
    assert result.exit_code == 0, result.output
    refused = client.get("/api/v1/letters/revoke-me/signatures", headers=headers)
    assert refused.status_code == 401
    assert refused.json()["error"] == "unauthorized"
    assert refused.headers["www-authenticate"] == "Bearer"
    write = client.post(
        "/api/v1/letters/revoke-me/signatures", json={"anonymous": True}, headers=headers
    )
    assert write.status_code == 401


def test_forged_tokens_get_401(client: TestClient, make_token: Callable[..., str]) -> None:
    real = make_token("admin")
    forged = [
        real[:-1] + ("A" if real[-1] != "A" else "B"),
        real + "x",
        "us_" + "A" * 43,
        "' OR 1=1 --",
        "test-admin-token-012345678",  # the env admin token minus one character
    ]
    for token in forged:
        response = client.get(
            "/api/v1/organisations/1", headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
        assert response.json()["error"] == "unauthorized"
    basic = client.get("/api/v1/organisations/1", headers={"Authorization": f"Basic {real}"})
    assert basic.status_code == 401


def _token_id(clear: str) -> int:
    from sqlmodel import select

    from app.auth.models import ApiToken
    from app.auth.service import hash_token
    from app.db import open_session

    with open_session() as session:
        token = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(clear))).one()
        assert token.id is not None
        return token.id
