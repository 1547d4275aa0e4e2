"""Public lists tell nothing about where hidden signatures sit (issue 14, decision 0085).

Before: the public signatory list, exports and cursors carried real positions (1, 4, 5, …:
a gap where each anonymous or withdrawn signature is) and sequential organisation ids (a gap
for each hidden organisation, and their creation order).
Differential: the same named signatories with and without anonymous ones interleaved must give
the same public lists, page after page.
"""

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests import factories
from tests.conftest import wipe

SLUG = "interleaved"
NAMED = ["Access Now", "Article 19", "Human Rights Watch", "PEN America", "Privacy International"]


def build(client: TestClient, headers: dict[str, str], *, hidden: bool) -> None:
    """The named signatories in order; with `hidden`, anonymous ones (with and without an
    organisation, each a new hidden organisation) and a withdrawn one between them."""
    response = client.post(
        "/api/v1/letters",
        json={"slug": SLUG, "title": "T", "lang": "en", "body": "We ask.", "status": "open"},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    for index, name in enumerate(NAMED):
        if hidden:
            factories.sign(
                client,
                headers,
                SLUG,
                {"organisation": {"name": f"Hidden Group {index}"}, "anonymous": True},
            )
            factories.sign(client, headers, SLUG, {"anonymous": True})
        factories.sign(client, headers, SLUG, {"organisation": {"name": name}})
        if hidden and index == 2:
            gone = factories.sign(
                client, headers, SLUG, {"organisation": {"name": "Withdrawn Alliance"}}
            )
            deleted = client.delete(
                f"/api/v1/letters/{SLUG}/signatures/{gone['id']}", headers=headers
            )
            assert deleted.status_code == 200, deleted.text


def public_views(client: TestClient) -> dict[str, Any]:
    pages = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get(f"/api/v1/letters/{SLUG}/signatories", params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        pages.append((body["data"], body["next_cursor"]))
        cursor = body["next_cursor"]
        if cursor is None:
            break
    exported = client.get(f"/api/v1/letters/{SLUG}/export.json").json()["signatories"]
    rows = list(csv.DictReader(io.StringIO(client.get(f"/api/v1/letters/{SLUG}/export.csv").text)))
    html = client.get(f"/letters/{SLUG}").text
    numbers = re.findall(r'<span class="number">(\d+)\.</span>', html)
    return {"pages": pages, "json": exported, "csv": rows, "page_numbers": numbers}


def test_public_lists_are_the_same_with_and_without_hidden_signatures(
    client: TestClient, make_token: Callable[..., str], engine: Engine
) -> None:
    worlds = []
    for hidden in (True, False):
        wipe(engine)
        headers = {"Authorization": f"Bearer {make_token('coordinator')}"}
        build(client, headers, hidden=hidden)
        worlds.append(public_views(client))
    with_hidden, without = worlds
    # Consecutive public positions, named in order, no gap.
    listed = [entry for data, _ in with_hidden["pages"] for entry in data]
    assert [e["position"] for e in listed] == [1, 2, 3, 4, 5]
    assert [e["name"] for e in listed] == NAMED
    assert [e["position"] for e in with_hidden["json"]] == [1, 2, 3, 4, 5]
    assert [r["position"] for r in with_hidden["csv"]] == ["1", "2", "3", "4", "5"]
    assert with_hidden["page_numbers"] == ["1", "2", "3", "4", "5"]
    # No organisation id (creation order counts hidden organisations) in any public entry.
    assert all("organisation_id" not in e for e in listed + with_hidden["json"])
    # Cursors included: nothing differs from the world without hidden signatures.
    assert with_hidden == without


def test_the_coordinators_list_keeps_real_positions(
    client: TestClient, make_token: Callable[..., str]
) -> None:
    headers = {"Authorization": f"Bearer {make_token('coordinator')}"}
    build(client, headers, hidden=True)
    rows = client.get(
        f"/api/v1/letters/{SLUG}/signatures", params={"limit": 100}, headers=headers
    ).json()["data"]
    named = [r["position"] for r in rows if not r["anonymous"]]
    assert named == [3, 6, 9, 13, 16]
    assert all(r["organisation_id"] for r in rows if r["display_name"] in NAMED)
