"""The seed letter of document 004, as `make run` loads it."""

import csv
from pathlib import Path

from fastapi.testclient import TestClient

from app.db import open_session
from app.imports.seed import load_seed

ROOT = Path(__file__).resolve().parent.parent


def test_seed_csv_has_the_letter_rows() -> None:
    with (ROOT / "seeds" / "signatories.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    named = [r for r in rows if r["anonymous"] == "false"]
    anonymous = [r for r in rows if r["anonymous"] == "true"]
    assert (len(named), len(anonymous)) == (281, 39)
    assert [int(r["position"]) for r in rows] == list(range(1, 321))
    assert all(r["name"] == "" for r in anonymous)
    assert (
        named[0]["name"] == "21Wilberforce"
        and named[-1]["name"] == "香港黎明, Dawn of Hong Kong, 香港の夜明け"
    )
    # Wrapped lines are joined as one name.
    assert named[147]["name"] == "Kalikasan People's Network for the Environment (Kalikasan PNE)"
    assert [r["name"] for r in named if r["kind"] == "individual"] == [
        "Miloon Kothari individually as an independent expert and former UN Special Rapporteur",
        "Ms. Enakshi Ganguly individually as an independent expert",
    ]


def test_seeded_counts_and_discrepancy(client: TestClient, seeded: str) -> None:
    count = client.get(f"/api/v1/letters/{seeded}/count").json()
    assert (count["total"], count["named"], count["anonymous"]) == (320, 281, 39)
    letter = client.get(f"/api/v1/letters/{seeded}").json()
    assert letter["declared_total"] == 321 and letter["declared_anonymous"] == 39
    assert letter["count_discrepancy"] == 1
    assert letter["lang"] == "zh-Hant" and letter["translations"][0]["lang"] == "en"
    # Seeding again changes nothing.
    with open_session(write=True) as session:
        assert load_seed(session) is False
    assert client.get(f"/api/v1/letters/{seeded}/count").json()["total"] == 320


def test_seeded_signatories_in_letter_order_and_language(client: TestClient, seeded: str) -> None:
    page = client.get(f"/api/v1/letters/{seeded}/signatories", params={"limit": 200}).json()
    assert [s["position"] for s in page["data"]] == list(range(1, 201))
    rest = client.get(
        f"/api/v1/letters/{seeded}/signatories",
        params={"limit": 200, "cursor": page["next_cursor"]},
    ).json()
    assert [s["position"] for s in rest["data"]] == list(range(201, 282)) and rest[
        "next_cursor"
    ] is None
    assert rest["anonymous_count"] == 39
    by_lang = {
        lang: client.get(
            f"/api/v1/letters/{seeded}/signatories", params={"lang": lang, "cursor": "280"}
        ).json()["data"][0]["name"]
        for lang in ("en", "ja", "zh-Hant")
    }
    assert by_lang == {"en": "Dawn of Hong Kong", "ja": "香港の夜明け", "zh-Hant": "香港黎明"}
    printed = client.get(
        f"/api/v1/letters/{seeded}/signatories", params={"cursor": "200", "limit": 1}
    ).json()
    assert (
        printed["data"][0]["name"] == "Reporters Without Borders (Reporters sans frontières, RSF)"
    )
