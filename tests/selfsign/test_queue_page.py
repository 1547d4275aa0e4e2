"""The coordinators' queue page: token login to a session cookie, CSRF on every form, only
the letter's coordinators."""

import re
from collections.abc import Callable

from fastapi.testclient import TestClient

from tests.selfsign.conftest import Inbox, sign_request

API = "/api/v1"


def login(client: TestClient, token: str, next_path: str) -> None:
    page = client.get("/coordinate/login")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    done = client.post(
        "/coordinate/login",
        data={"token": token, "csrf": csrf.group(1), "next": next_path},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert done.headers["location"] == next_path


def test_coordinator_verifies_and_rejects_from_the_page(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    coordinator_headers: dict[str, str],
    make_token: Callable[..., str],
) -> None:
    slug = self_sign_letter()
    for name, address in [("Page Org One", "one@one.example"), ("Page Org Two", "two@two.example")]:
        client.post(
            f"{API}/letters/{slug}/sign-requests", json=sign_request({"name": name}, address)
        )
        client.post(f"/sign-requests/confirm/{smtp.links(smtp.to(address)[0])['confirm']}")
    queue_path = f"/coordinate/letters/{slug}/sign-requests"

    # Not logged in: the login form, nothing listed.
    anonymous = client.get(queue_path)
    assert "Page Org One" not in anonymous.text and 'name="token"' in anonymous.text

    # Another coordinator cannot open this letter's queue.
    other = make_token("coordinator")
    login(client, other, queue_path)
    refused = client.get(queue_path)
    assert refused.status_code in (403, 404)
    assert "Page Org One" not in refused.text
    client.cookies.clear()

    token = coordinator_headers["Authorization"].split()[-1]
    login(client, token, queue_path)
    page = client.get(queue_path)
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    assert "Page Org One" in page.text and "one@one.example" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    ids = re.findall(r'id="request-(\d+)"', page.text)
    assert len(ids) == 2

    forged = client.post(f"{queue_path}/{ids[0]}/verify", data={"csrf": "wrong"})
    assert forged.status_code == 403
    assert client.get(f"{API}/letters/{slug}").json()["counts"]["total"] == 0

    verified = client.post(f"{queue_path}/{ids[0]}/verify", data={"csrf": csrf.group(1)})
    assert verified.status_code == 200
    assert "Verified" in verified.text
    rejected = client.post(
        f"{queue_path}/{ids[1]}/reject", data={"csrf": csrf.group(1), "reason": "Not a member."}
    )
    assert rejected.status_code == 200
    assert client.get(f"{API}/letters/{slug}").json()["counts"]["total"] == 1
    states = {
        r["id"]: r["state"]
        for r in client.get(
            f"{API}/letters/{slug}/sign-requests", headers=coordinator_headers
        ).json()["data"]
    }
    assert states == {int(ids[0]): "verified", int(ids[1]): "rejected"}
    assert "Not a member." in smtp.messages[-1].get_content()  # type: ignore[attr-defined]

    client.post("/coordinate/logout", data={"csrf": csrf.group(1)})
    assert "Page Org One" not in client.get(queue_path).text
