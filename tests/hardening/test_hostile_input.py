"""SQL and HTML in every field: stored as text or refused with a 4xx, never executed or a 5xx."""

from fastapi.testclient import TestClient

PAYLOADS = [
    "'; DROP TABLE signature; --",
    "Robert'); DELETE FROM letter WHERE ('1'='1",
    '<script>alert("x")</script>',
    '"><img src=x onerror=alert(1)>',
    "{{7*7}} ${7*7} %s%s%n",
    '=HYPERLINK("http://evil.example")',
]


def test_sql_and_html_in_every_field(client: TestClient, admin_headers) -> None:
    letter = {"slug": "hostile", "title": "T", "lang": "en", "body": "B", "status": "open"}
    assert client.post("/api/v1/letters", json=letter, headers=admin_headers).status_code == 201
    statuses: set[int] = set()
    for index, payload in enumerate(PAYLOADS):
        organisation_fields = {
            "name": f"{payload} {index}",
            "other_names": [payload],
            "lang": payload,
            "country": payload[:2],
            "website": payload,
            "kind": payload,
        }
        for field, value in organisation_fields.items():
            body = {"organisation": {"name": f"Hostile {index} {field}", field: value}}
            response = client.post(
                "/api/v1/letters/hostile/signatures", json=body, headers=admin_headers
            )
            statuses.add(response.status_code)
            assert response.status_code in (200, 201, 422), (field, payload, response.text)
            assert response.headers["content-type"] == "application/json"
        for field in ("title", "body", "recipients", "lang"):
            created = client.post(
                "/api/v1/letters",
                json=letter | {"slug": f"hostile-{index}-{field}", field: payload},
                headers=admin_headers,
            )
            statuses.add(created.status_code)
            assert created.status_code in (201, 422), (field, payload, created.text)
            if created.status_code == 201 and field != "lang":
                # Stored verbatim as data (trimmed), returned as JSON, never interpreted.
                assert created.json()[field] == payload.strip()
        hostile_slug = client.get(f"/api/v1/letters/{payload}", headers=admin_headers)
        assert hostile_slug.status_code in (404, 422)
        statuses.add(
            client.get(
                "/api/v1/organisations/match", params={"name": payload}, headers=admin_headers
            ).status_code
        )
    assert max(statuses) < 500
    # The tables are all still there and consistent.
    count = client.get("/api/v1/letters/hostile/count").json()
    signatories = client.get("/api/v1/letters/hostile/signatories?limit=1000").json()
    assert count["named"] == len(signatories["data"]) > 0
    names = {s["name"] for s in signatories["data"]}
    assert "'; DROP TABLE signature; -- 0" in names
