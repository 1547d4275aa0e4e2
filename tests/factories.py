"""What tests build and do through the API, in one place: letters, signatures, matches,
merges and CSV bodies. Fixtures in conftest.py wrap these; test modules import them rather than
keeping private copies (a change to the API's shape is then mended here once)."""

from collections.abc import Iterable
from typing import Any

from fastapi.testclient import TestClient

API = "/api/v1"
# Responses are typed Any: Starlette's test client returns its own httpx flavour.
Headers = dict[str, str]
# The CSV header of the import format, every column present (only `name` is required).
CSV_HEADER = "position,name,other_names,kind,lang,country,website,anonymous\n"


def letter_body(slug: str = "test-letter", **fields: Any) -> dict[str, Any]:
    """A valid `POST /letters` body (a draft unless `status` is given); `fields` override or add
    any field."""
    return {"slug": slug, "title": "A test letter", "lang": "en", "body": "We ask."} | fields


def create_letter(
    client: TestClient,
    headers: Headers,
    slug: str = "test-letter",
    status: str = "open",
    **fields: Any,
) -> dict[str, Any]:
    """A letter made through the API, open unless told otherwise."""
    body = letter_body(slug, status=status, **fields)
    response = client.post(f"{API}/letters", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def post_signature(
    client: TestClient,
    headers: Headers,
    slug: str,
    body: dict[str, Any],
    *,
    key: str | None = None,
) -> Any:
    """The raw answer to a signature, for tests that look at refusals or status codes."""
    extra = {"Idempotency-Key": key} if key else {}
    return client.post(f"{API}/letters/{slug}/signatures", json=body, headers=headers | extra)


def sign(
    client: TestClient,
    headers: Headers,
    slug: str,
    body: dict[str, Any] | None = None,
    *,
    name: str | None = None,
    anonymous: bool = False,
    expect: Iterable[int] = (200, 201),
) -> dict[str, Any]:
    """Sign and return the JSON answer; `name=` is short for `{"organisation": {"name": …}}`."""
    if body is None:
        body = {"anonymous": anonymous}
        if name is not None:
            body["organisation"] = {"name": name}
    response = post_signature(client, headers, slug, body)
    assert response.status_code in tuple(expect), response.text
    signed: dict[str, Any] = response.json()
    return signed


def match_response(client: TestClient, headers: Headers, name: str) -> Any:
    return client.get(f"{API}/organisations/match", params={"name": name}, headers=headers)


def match(client: TestClient, headers: Headers, name: str) -> list[dict[str, Any]]:
    """The candidates `GET /organisations/match` gives for a name."""
    response = match_response(client, headers, name)
    assert response.status_code == 200, response.text
    return list(response.json())


def merge(client: TestClient, headers: Headers, survivor: int, merged: list[int]) -> Any:
    return client.post(
        f"{API}/admin/merges", json={"survivor_id": survivor, "merged_ids": merged}, headers=headers
    )


def signatory_names(client: TestClient, slug: str, lang: str | None = None) -> list[str]:
    """The names a letter's public signatory list shows, in order."""
    params = {"lang": lang} if lang else {}
    response = client.get(f"{API}/letters/{slug}/signatories", params=params)
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.json()["data"]]


def csv_of(names: list[str]) -> bytes:
    """An import CSV with one named organisation per line."""
    return (CSV_HEADER + "".join(f",{n},,organisation,,,,false\n" for n in names)).encode()
