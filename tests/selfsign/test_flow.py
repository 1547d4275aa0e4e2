"""End to end: form → mail through a real SMTP server → confirm by POST → coordinator's queue
→ verify → public count; the private link withdraws. On SQLite and PostgreSQL."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import open_session
from app.selfsign.models import SelfSignature, SelfSignToken
from tests.factories import signatory_names
from tests.selfsign.conftest import Inbox, sign_request

API = "/api/v1"


def total(client: TestClient, slug: str) -> int:
    response = client.get(f"{API}/letters/{slug}")
    assert response.status_code == 200
    return int(response.json()["counts"]["total"])


def known_organisation(
    client: TestClient, make_letter: Callable[..., dict[str, Any]], headers: dict[str, str]
) -> int:
    """Amnesty International with its website, public through another letter."""
    make_letter(headers, slug="earlier-letter")
    response = client.post(
        f"{API}/letters/earlier-letter/signatures",
        json={"organisation": {"name": "Amnesty International", "website": "https://amnesty.org"}},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return int(response.json()["organisation_id"])


def test_form_is_off_by_default(
    client: TestClient, make_letter: Callable[..., dict[str, Any]], coordinator_headers: dict
) -> None:
    make_letter(coordinator_headers, slug="plain-letter")
    assert client.get(f"{API}/letters/plain-letter").json()["self_signing"] is False
    page = client.get("/letters/plain-letter/sign")
    assert page.status_code == 404
    answer = client.post(
        f"{API}/letters/plain-letter/sign-requests",
        json=sign_request({"name": "Some Org"}, "a@some.org"),
    )
    assert answer.status_code == 404


def test_domain_verified_and_unverified_signers_end_to_end(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    make_letter: Callable[..., dict[str, Any]],
    coordinator_headers: dict[str, str],
) -> None:
    amnesty = known_organisation(client, make_letter, coordinator_headers)
    slug = self_sign_letter()
    assert total(client, slug) == 0

    # A signer whose address is at the organisation's known website: counts once confirmed.
    answer = client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Amnesty International"}, "press@amnesty.org"),
    )
    assert answer.status_code == 202
    (message,) = smtp.to("press@amnesty.org")
    assert message["From"] == "Letters <letters@example.net>"
    links = smtp.links(message)
    assert set(links) == {"confirm", "manage"}
    body = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert f"https://letters.example.net/sign-requests/confirm/{links['confirm']}" in body

    # A scanner's GET confirms nothing.
    page = client.get(f"/sign-requests/confirm/{links['confirm']}")
    assert page.status_code == 200
    assert 'method="post"' in page.text
    assert total(client, slug) == 0
    confirmed = client.post(f"/sign-requests/confirm/{links['confirm']}")
    assert confirmed.status_code == 200
    assert total(client, slug) == 1
    assert signatory_names(client, slug) == ["Amnesty International"]

    # A signer from a mismatched domain stays unverified until the coordinator acts.
    client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Reporters sans frontières"}, "someone@gmail.com"),
    )
    (second,) = smtp.to("someone@gmail.com")
    second_links = smtp.links(second)
    assert client.post(f"/sign-requests/confirm/{second_links['confirm']}").status_code == 200
    assert total(client, slug) == 1

    queue = client.get(f"{API}/letters/{slug}/sign-requests", headers=coordinator_headers)
    assert queue.status_code == 200
    rows = queue.json()["data"]
    assert [r["state"] for r in rows] == ["unverified", "domain_verified"]
    assert rows[1]["organisation_id"] == amnesty
    assert rows[0]["resolution"]["status"] == "new"
    assert rows[0]["contact"]["email"] == "someone@gmail.com"
    count = client.get(f"{API}/letters/{slug}/count").json()
    assert (count["total"], count["awaiting_verification"]) == (1, 1)

    # The public cannot see the queue.
    assert client.get(f"{API}/letters/{slug}/sign-requests").status_code == 401

    verified = client.post(
        f"{API}/letters/{slug}/sign-requests/{rows[0]['id']}/verify", headers=coordinator_headers
    )
    assert verified.status_code == 200, verified.text
    assert verified.json()["state"] == "verified"
    assert total(client, slug) == 2
    count = client.get(f"{API}/letters/{slug}/count").json()
    assert (count["total"], count["awaiting_verification"]) == (2, 0)

    # The signer withdraws through the private link: gone from counts and lists at once.
    manage = client.get(f"/sign-requests/manage/{second_links['manage']}")
    assert manage.status_code == 200
    assert 'data-state="verified"' in manage.text
    assert "someone@gmail.com" in manage.text  # the signer's own page shows their details
    withdrawn = client.post(f"/sign-requests/manage/{second_links['manage']}/withdraw")
    assert withdrawn.status_code == 200
    assert 'data-state="withdrawn"' in withdrawn.text
    assert total(client, slug) == 1
    assert "Reporters sans frontières" not in signatory_names(client, slug)

    # Audited, by ids only.
    with open_session() as session:
        from app.audit import AuditEvent

        actions = [e.action for e in session.exec(select(AuditEvent))]
        assert {"selfsign.request", "selfsign.confirm", "selfsign.verify"} <= set(actions)
        assert "selfsign.withdraw" in actions
        for event in session.exec(select(AuditEvent)):
            assert "gmail" not in str(event.details)


def test_confirmation_link_is_single_use_expiring_and_stored_hashed(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Greenpeace"}, "x@greenpeace.example"),
    )
    links = smtp.links(smtp.messages[0])
    with open_session() as session:
        stored = [t.token_hash for t in session.exec(select(SelfSignToken))]
    assert links["confirm"] not in stored and links["manage"] not in stored
    assert len(stored) == 2 and all(len(h) == 64 for h in stored)

    assert client.post(f"/sign-requests/confirm/{links['confirm']}").status_code == 200
    again = client.post(f"/sign-requests/confirm/{links['confirm']}")
    assert again.status_code == 404
    assert client.post("/sign-requests/confirm/not-a-token").status_code == 404
    assert client.get(f"/sign-requests/manage/{links['confirm']}").status_code == 404

    # An expired link confirms nothing.
    client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Oxfam"}, "y@oxfam.example"),
    )
    late = smtp.links(smtp.to("y@oxfam.example")[0])
    with open_session(write=True) as session:
        from datetime import timedelta

        from app.db import utcnow
        from app.selfsign.tokens import hash_token

        token = session.exec(
            select(SelfSignToken).where(SelfSignToken.token_hash == hash_token(late["confirm"]))
        ).one()
        token.expires_at = utcnow() - timedelta(seconds=1)
        session.add(token)
        session.commit()
    assert client.post(f"/sign-requests/confirm/{late['confirm']}").status_code == 404
    with open_session() as session:
        states = {r.submitted["name"]: r.state for r in session.exec(select(SelfSignature))}
    assert states == {"Greenpeace": "unverified", "Oxfam": "pending_confirmation"}


def test_reject_tells_the_signer_and_withdraws_a_counted_signature(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    coordinator_headers: dict[str, str],
) -> None:
    slug = self_sign_letter(self_sign_counts_unverified=True)
    client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Friends of the Forest"}, "f@forest.example"),
    )
    links = smtp.links(smtp.messages[0])
    client.post(f"/sign-requests/confirm/{links['confirm']}")
    # This letter counts unverified self-signatures.
    assert total(client, slug) == 1
    (row,) = client.get(f"{API}/letters/{slug}/sign-requests", headers=coordinator_headers).json()[
        "data"
    ]
    rejected = client.post(
        f"{API}/letters/{slug}/sign-requests/{row['id']}/reject",
        json={"reason": "We could not reach the organisation."},
        headers=coordinator_headers,
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["state"] == "rejected"
    assert total(client, slug) == 0
    told = smtp.to("f@forest.example")
    assert len(told) == 2
    assert "We could not reach the organisation." in told[1].get_content()  # type: ignore[attr-defined]
    missing = client.post(
        f"{API}/letters/{slug}/sign-requests/{row['id']}/reject",
        json={},
        headers=coordinator_headers,
    )
    assert missing.status_code == 422
    assert missing.json()["field"] == "reason"


@pytest.mark.parametrize("already", ["email", "organisation"])
def test_the_answer_is_the_same_whether_or_not_already_signed(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str], already: str
) -> None:
    slug = self_sign_letter()
    first = sign_request({"name": "Human Rights Watch"}, "a@hrw.example")
    client.post(f"{API}/letters/{slug}/sign-requests", json=first)
    client.post(f"/sign-requests/confirm/{smtp.links(smtp.messages[0])['confirm']}")
    fresh = sign_request({"name": "Brand New Org"}, "new@brand.example")
    if already == "email":
        repeat = sign_request({"name": "Brand New Org"}, "a@hrw.example")
    else:
        repeat = sign_request({"name": "Human Rights Watch"}, "new2@brand.example")
    answers = [client.post(f"{API}/letters/{slug}/sign-requests", json=b) for b in (fresh, repeat)]
    assert [a.status_code for a in answers] == [202, 202]
    assert answers[0].content == answers[1].content

    def headers(response: Any) -> dict[str, str]:
        return {k: v for k, v in response.headers.items() if k not in ("date", "x-request-id")}

    assert headers(answers[0]) == headers(answers[1])
