"""Tokens: hashed at rest, 401 for missing/invalid/revoked, 403 for a role that is not enough."""

from fastapi.testclient import TestClient
from sqlmodel import select

from app.auth import service as auth_service
from app.auth.models import ApiToken
from app.db import open_session


def test_tokens_are_stored_hashed(client: TestClient, make_token) -> None:
    clear = make_token("coordinator")
    with open_session() as session:
        stored = session.exec(select(ApiToken)).one()
    assert clear not in (stored.token_hash, stored.prefix)
    assert stored.token_hash == auth_service.hash_token(clear)
    assert len(stored.token_hash) == 64


def test_missing_invalid_and_revoked_tokens(client: TestClient, make_token) -> None:
    body = {"slug": "auth-test", "title": "x", "lang": "en"}
    assert client.post("/api/v1/letters", json=body).status_code == 401
    bad = client.post(
        "/api/v1/letters", json=body, headers={"Authorization": "Bearer us_not-a-token"}
    )
    assert bad.status_code == 401 and bad.json()["error"] == "unauthorized"
    assert bad.headers["www-authenticate"] == "Bearer"
    malformed = client.get("/api/v1/letters", headers={"Authorization": "Basic abc"})
    assert malformed.status_code == 401
    clear = make_token("coordinator")
    headers = {"Authorization": f"Bearer {clear}"}
    assert client.post("/api/v1/letters", json=body, headers=headers).status_code == 201
    with open_session(write=True) as session:
        token = session.exec(select(ApiToken)).one()
        assert token.id is not None
        auth_service.revoke(session, token_id=token.id)
        session.commit()
    assert client.get("/api/v1/letters", headers=headers).status_code == 401


def test_coordinator_cannot_use_admin_routes(
    client: TestClient, coordinator_headers, admin_headers
) -> None:
    # Admin routes come with the admin issue; the role check itself lives in auth.dependencies.
    from fastapi import FastAPI

    from app.auth.dependencies import AdminUser
    from app.db import SessionDep

    probe = FastAPI()

    @probe.get("/probe")
    def _probe(_: AdminUser, __: SessionDep) -> dict[str, str]:
        return {"ok": "yes"}

    from app.errors import register_error_handlers

    register_error_handlers(probe)
    with TestClient(probe) as test_client:
        assert test_client.get("/probe").status_code == 401
        assert test_client.get("/probe", headers=coordinator_headers).status_code == 403
        assert test_client.get("/probe", headers=admin_headers).json() == {"ok": "yes"}
