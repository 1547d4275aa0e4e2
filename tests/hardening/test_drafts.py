"""A draft stays private: nothing another coordinator can do with its slug tells that it exists.

Before: `GET` of a draft's slug was 404 to others, but `POST /letters` with that slug answered
`409 duplicate_slug` to any coordinator, confirming the draft.
"""

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.conftest import wipe
from tests.factories import letter_body

URL = "/api/v1/letters"


def probe(client: TestClient, headers: dict[str, str], slug: str) -> list[Any]:
    """Everything a coordinator can try with a slug, in order, creation times masked."""
    answers = [
        client.post(URL, json=letter_body(slug), headers=headers),
        client.get(f"{URL}/{slug}", headers=headers),
        client.get(URL, headers=headers),
        client.post(URL, json=letter_body(slug), headers=headers),  # their own draft now: 409
        client.patch(f"{URL}/{slug}", json={"status": "open"}, headers=headers),
        client.get(f"{URL}/{slug}"),
        client.get(f"{URL}/{slug}/count"),
        client.post(f"{URL}/{slug}/signatures", json={"anonymous": True}, headers=headers),
    ]
    return [(r.status_code, re.sub(r'"\w+_at":"[^"]+"', "", r.text)) for r in answers]


def test_another_coordinators_draft_changes_no_answer(
    client: TestClient, make_token: Callable[..., str], engine: Engine
) -> None:
    """The same probe, with and without another coordinator's draft holding the slug."""
    worlds = []
    for holder_drafts in (True, False):
        wipe(engine)
        holder = {"Authorization": f"Bearer {make_token('coordinator')}"}
        prober = {"Authorization": f"Bearer {make_token('coordinator')}"}
        if holder_drafts:
            held = client.post(
                URL, json=letter_body("the-slug", title="Secret plans"), headers=holder
            )
            assert held.status_code == 201
        worlds.append(probe(client, prober, "the-slug"))
    assert worlds[0] == worlds[1]
    assert [status for status, _ in worlds[0]] == [201, 200, 200, 409, 200, 200, 200, 201]
    assert "Secret plans" not in json.dumps(worlds[0])


def test_a_published_slug_is_refused_as_before(
    client: TestClient, make_token: Callable[..., str]
) -> None:
    """A published letter is public: refusing its slug tells nothing new."""
    owner = {"Authorization": f"Bearer {make_token('coordinator')}"}
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    assert (
        client.post(URL, json=letter_body("taken", status="open"), headers=owner).status_code == 201
    )
    refused = client.post(URL, json=letter_body("taken"), headers=other)
    assert refused.status_code == 409
    assert refused.json()["error"] == "duplicate_slug"


def test_the_draft_holder_renames_when_someone_publishes_the_slug(
    client: TestClient, make_token: Callable[..., str], admin_headers: dict[str, str]
) -> None:
    holder = {"Authorization": f"Bearer {make_token('coordinator')}"}
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}
    client.post(URL, json=letter_body("shared", title="Draft of the holder"), headers=holder)
    published = client.post(
        URL, json=letter_body("shared", title="Public", status="open"), headers=other
    )
    assert published.status_code == 201
    # The public, partners and counts see the published letter only.
    assert client.get(f"{URL}/shared").json()["title"] == "Public"
    assert client.get(f"{URL}/shared/count").status_code == 200
    # The holder still reaches their draft, cannot publish it under that slug, and renames it.
    assert client.get(f"{URL}/shared", headers=holder).json()["title"] == "Draft of the holder"
    blocked = client.patch(f"{URL}/shared", json={"status": "open"}, headers=holder)
    assert blocked.status_code == 409 and blocked.json()["error"] == "duplicate_slug"
    renamed = client.patch(
        f"{URL}/shared", json={"slug": "shared-too", "status": "open"}, headers=holder
    )
    assert renamed.status_code == 200, renamed.text
    assert client.get(f"{URL}/shared-too").json()["title"] == "Draft of the holder"
    locked = client.patch(f"{URL}/shared-too", json={"slug": "moved"}, headers=holder)
    assert locked.status_code == 409 and locked.json()["error"] == "slug_locked"
    # An admin, who sees every draft, is refused a slug any letter holds.
    assert client.post(URL, json=letter_body("shared"), headers=admin_headers).status_code == 409


def test_a_coordinator_granted_a_draft_is_refused_its_slug(
    client: TestClient, make_token: Callable[..., str], admin_headers: dict[str, str]
) -> None:
    """Who can see the draft learns nothing from the refusal."""
    assert client.post(URL, json=letter_body("granted"), headers=admin_headers).status_code == 201
    granted = {"Authorization": f"Bearer {make_token('coordinator', letters=['granted'])}"}
    assert client.get(f"{URL}/granted", headers=granted).status_code == 200
    assert client.post(URL, json=letter_body("granted"), headers=granted).status_code == 409
