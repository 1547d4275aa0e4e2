"""Merge, undo, judgements and refusals through the API, on the seed letter and small fixtures."""

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import select

from app.admin.models import MergeRecord
from app.audit import AuditEvent
from app.db import open_session
from app.organisations.models import OrganisationName
from app.resolution.models import Judgement

SEED = "global-call-un-mechanism-china"


def org_id(name: str) -> int:
    with open_session() as s:
        rows = s.exec(select(OrganisationName).where(OrganisationName.name == name)).all()
        assert len(rows) == 1, name
        return rows[0].organisation_id


def counts(client: TestClient, slug: str = SEED) -> tuple[int, int, int]:
    body = client.get(f"/api/v1/letters/{slug}/count").json()
    return body["named"], body["anonymous"], body["total"]


def table_state() -> dict[str, Any]:
    with open_session() as s:
        return {
            "judgements": s.exec(select(Judgement)).all(),
            "merges": s.exec(select(MergeRecord)).all(),
        }


def test_seed_merge_hric_and_undo(client: TestClient, admin_headers, seeded) -> None:
    hric, full = org_id("HRIC"), org_id("Human Rights in China")
    assert counts(client) == (281, 39, 320)
    merged = client.post(
        "/api/v1/admin/merges",
        json={"survivor_id": full, "merged_ids": [hric]},
        headers=admin_headers,
    )
    assert merged.status_code == 201, merged.text
    body = merged.json()
    assert body["retired_signatures"] == 1 and body["letters"] == [SEED]
    assert counts(client) == (280, 39, 319)
    # The earlier position (117, printed as HRIC) wins and now belongs to the survivor (the
    # coordinator's list: real positions and ids, decision 0085).
    signatories = client.get(
        f"/api/v1/letters/{SEED}/signatures?limit=1000", headers=admin_headers
    ).json()["data"]
    survivor_rows = [s for s in signatories if s["organisation_id"] == full]
    assert [s["position"] for s in survivor_rows] == [117]
    assert not [s for s in signatories if s["organisation_id"] == hric]
    # The merged id answers 308 to the survivor, which now has both names.
    moved = client.get(
        f"/api/v1/organisations/{hric}", headers=admin_headers, follow_redirects=False
    )
    assert moved.status_code == 308 and moved.headers["location"].endswith(f"/{full}")
    names = {
        n["name"]
        for n in client.get(f"/api/v1/organisations/{full}", headers=admin_headers).json()["names"]
    }
    assert {"HRIC", "Human Rights in China"} <= names

    undone = client.post(f"/api/v1/admin/merges/{body['merge_id']}/undo", headers=admin_headers)
    assert undone.status_code == 200, undone.text
    assert undone.json()["undone_at"] is not None
    assert counts(client) == (281, 39, 320)
    signatories = client.get(
        f"/api/v1/letters/{SEED}/signatures?limit=1000", headers=admin_headers
    ).json()["data"]
    by_position = {s["position"]: s["organisation_id"] for s in signatories}
    assert by_position[117] == hric and by_position[121] == full
    assert client.get(f"/api/v1/organisations/{hric}", headers=admin_headers).status_code == 200
    # Undo recorded `different`: merging them again is refused, and nothing is written.
    before = table_state()
    again = client.post(
        "/api/v1/admin/merges",
        json={"survivor_id": full, "merged_ids": [hric]},
        headers=admin_headers,
    )
    assert again.status_code == 409 and again.json()["error"] == "judged_different"
    assert table_state() == before
    twice = client.post(f"/api/v1/admin/merges/{body['merge_id']}/undo", headers=admin_headers)
    assert twice.status_code == 409 and twice.json()["error"] == "already_undone"


def test_refused_merges_write_nothing(client: TestClient, admin_headers, seeded) -> None:
    a, b, c = org_id("HRIC"), org_id("Human Rights in China"), org_id("ACAT Belgium")
    with open_session() as s:
        audit_before = len(s.exec(select(AuditEvent)).all())

    def merge(survivor: int, merged: list[int]):  # type: ignore[no-untyped-def]
        return client.post(
            "/api/v1/admin/merges",
            json={"survivor_id": survivor, "merged_ids": merged},
            headers=admin_headers,
        )

    itself = merge(a, [a])
    assert itself.status_code == 409 and itself.json()["error"] == "merge_into_itself"
    assert "itself" in itself.json()["detail"]
    assert merge(b, [a]).status_code == 201
    into_merged = merge(a, [c])
    assert into_merged.status_code == 409 and into_merged.json()["error"] == "merged_away"
    from_merged = merge(c, [a])
    assert from_merged.status_code == 409 and from_merged.json()["error"] == "merged_away"
    judged = client.post(
        "/api/v1/admin/judgements",
        json={"organisation_ids": [c, a], "verdict": "different"},
        headers=admin_headers,
    )
    # A ≠ C recorded on the merged-away id still binds its cluster (the survivor b).
    assert judged.status_code == 201, judged.text
    refused = merge(b, [c])
    assert refused.status_code == 409 and refused.json()["error"] == "judged_different"
    assert "judged different" in refused.json()["detail"]
    assert merge(c, [b]).status_code == 409
    assert counts(client) == (280, 39, 319)
    with open_session() as s:
        # One merge + one judgement audited, the refusals wrote nothing.
        assert len(s.exec(select(AuditEvent)).all()) == audit_before + 2
        assert len(s.exec(select(MergeRecord)).all()) == 1
    assert merge(999999, [a]).status_code == 404
    assert (
        client.post(
            "/api/v1/admin/merges",
            json={"survivor_id": b, "merged_ids": []},
            headers=admin_headers,
        ).status_code
        == 422
    )


def test_admin_endpoints_need_admin(client: TestClient, coordinator_headers) -> None:
    assert client.get("/api/v1/admin/duplicates").status_code == 401
    assert client.get("/api/v1/admin/audit", headers=coordinator_headers).status_code == 403
    response = client.post(
        "/api/v1/admin/merges",
        json={"survivor_id": 1, "merged_ids": [2]},
        headers=coordinator_headers,
    )
    assert response.status_code == 403
