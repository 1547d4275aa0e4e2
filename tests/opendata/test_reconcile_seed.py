"""The seed letter's organisations reconciled from a list of 50 names in several scripts, the
way a researcher would paste them into OpenRefine: one batch, every one matched to the
organisation the letter shows."""

import csv
import json
from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import open_session
from app.opendata.publicid import public_org_id
from app.signatures.models import Signature
from tests.opendata.helpers import assert_valid

SEED = Path(__file__).resolve().parents[2] / "seeds" / "signatories.csv"


def _names() -> list[tuple[int, str]]:
    rows = [r for r in csv.DictReader(SEED.open(encoding="utf-8")) if r["anonymous"] == "false"]
    other_scripts = [r for r in rows if any(ord(c) > 0x24F for c in r["name"])]
    latin = [r for r in rows if r not in other_scripts]
    chosen = other_scripts + latin[:: max(1, len(latin) // (50 - len(other_scripts)))]
    return [(int(r["position"]), r["name"]) for r in chosen[:50]]


def test_fifty_seed_names_in_several_scripts(client: TestClient, seeded: str) -> None:
    names = _names()
    assert len(names) == 50
    with open_session() as session:
        by_position = {
            s.position: s.organisation_id
            for s in session.exec(
                select(Signature).where(Signature.anonymous == False)  # noqa: E712
            )
        }
    queries = {f"q{position}": {"query": name} for position, name in names}
    response = client.post("/api/v1/reconcile", data={"queries": json.dumps(queries)})
    assert response.status_code == 200, response.text
    results = response.json()
    assert_valid("reconciliation-result-batch", results)
    missed = []
    for position, name in names:
        result = results[f"q{position}"]["result"]
        expected = public_org_id(by_position[position])
        if not result or result[0]["id"] != expected or result[0]["match"] is not True:
            missed.append((position, name, result[:1]))
    assert not missed, missed
    # A part of a name in another script finds the organisation too.
    parts = {"a": {"query": "民主中国陣線"}, "b": {"query": "Japan Committee for Tibet"}}
    found = client.get("/api/v1/reconcile", params={"queries": json.dumps(parts)}).json()
    assert found["a"]["result"][0]["id"] == public_org_id(by_position[83])
    assert found["b"]["result"][0]["id"] == public_org_id(by_position[273])
