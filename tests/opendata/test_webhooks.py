"""Signed webhooks: SSRF guard, outbox in the transaction of the change, signed deliveries in
order per letter, retries after the receiver was down, leases that survive a killed worker,
public-safe payloads, test event, pause."""

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlmodel import select

from app.config import get_settings
from app.db import open_session, utcnow
from app.opendata.publicid import public_org_id
from app.webhooks import service, urls
from app.webhooks.models import WebhookDelivery
from tests.factories import csv_of, sign

ALL = ["signature.created", "signature.withdrawn", "count.changed", "letter.updated"]


class _Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, Any]]] = []
    status: ClassVar[int] = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if _Receiver.status == 200:
            _Receiver.received.append({"headers": dict(self.headers), "body": body})
        self.send_response(_Receiver.status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def allow_private(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhooks may go to this machine's receiver. Set where the URL check reads it, not through
    the environment and get_settings' cache: a background thread of the app (the resolver's
    warm-up, deliveries, the count bumper) may refill that cache at the same moment with
    settings it read before the change."""
    allowed = get_settings().model_copy(update={"webhook_allow_private": True})
    monkeypatch.setattr(urls, "get_settings", lambda: allowed)


@pytest.fixture
def receiver(allow_private: None) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Receiver.received, _Receiver.status = [], 200
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def _drain() -> None:
    for _ in range(100):
        if service.deliver_due() == 0:
            return
    raise AssertionError("deliveries never drained")


def _subscribe(client: TestClient, headers: dict[str, str], url: str, **extra: Any) -> dict:
    response = client.post(
        "/api/v1/letters/test-letter/webhooks",
        json={"url": url, "events": ALL} | extra,
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_refuses_unsafe_urls(client: TestClient, coordinator_headers, make_letter) -> None:
    make_letter(coordinator_headers)
    for url in (
        "http://example.org/hook",
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://192.168.0.10/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://[::ffff:127.0.0.1]/hook",
        "https://localhost/hook",
        "https://user:pw@127.0.0.1/hook",
        "ftp://example.org/",
    ):
        response = client.post(
            "/api/v1/letters/test-letter/webhooks",
            json={"url": url, "events": ["count.changed"]},
            headers=coordinator_headers,
        )
        assert response.status_code == 400, (url, response.text)
        assert response.json()["field"] == "url"
    unknown = client.post(
        "/api/v1/letters/test-letter/webhooks",
        json={"url": "https://127.0.0.1/", "events": ["signature.teleported"]},
        headers=coordinator_headers,
    )
    assert unknown.status_code == 400


def test_events_arrive_signed_once_in_order(
    client: TestClient, coordinator_headers, make_letter, receiver: str
) -> None:
    make_letter(coordinator_headers)
    hook = _subscribe(client, coordinator_headers, receiver)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    listed = client.get("/api/v1/letters/test-letter/webhooks", headers=coordinator_headers)
    assert secret not in listed.text
    a = sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "Alpha Aid"}})
    sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Quiet Helpers"}, "anonymous": True},
    )
    withdrawn = client.delete(
        f"/api/v1/letters/test-letter/signatures/{a['id']}", headers=coordinator_headers
    )
    assert withdrawn.status_code == 200, withdrawn.text
    # Written with the change: pending before any worker ran.
    with open_session() as session:
        assert len(session.exec(select(WebhookDelivery)).all()) == 6
    _drain()
    got = _Receiver.received
    events = [g["headers"]["Undersigned-Event"] for g in got]
    assert events == [
        "signature.created",
        "count.changed",
        "signature.created",
        "count.changed",
        "signature.withdrawn",
        "count.changed",
    ]
    ids = [g["headers"]["Undersigned-Delivery"] for g in got]
    assert len(set(ids)) == 6
    for g in got:
        assert service.verify(secret, header=g["headers"]["Undersigned-Signature"], body=g["body"])
        assert not service.verify(
            "whsec_wrong", header=g["headers"]["Undersigned-Signature"], body=g["body"]
        )
    bodies = [json.loads(g["body"]) for g in got]
    assert bodies[0]["data"]["signature"]["organisation_id"] == public_org_id(a["organisation_id"])
    anonymous = bodies[2]["data"]["signature"]
    assert anonymous["anonymous"] is True
    assert anonymous["organisation_id"] is None and anonymous["name"] is None
    assert "Quiet Helpers" not in got[2]["body"].decode()
    assert bodies[3]["data"] == {"total": 2, "named": 1, "anonymous": 1}
    assert bodies[5]["data"] == {"total": 1, "named": 0, "anonymous": 1}
    # Nothing sent twice.
    _drain()
    assert len(_Receiver.received) == 6
    deliveries = client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=coordinator_headers
    ).json()["data"]
    assert [d["status"] for d in deliveries] == ["delivered"] * 6
    assert [d["id"] for d in reversed(deliveries)] == ids


def test_receiver_down_then_up_and_a_killed_worker(
    client: TestClient, coordinator_headers, make_letter, receiver: str
) -> None:
    make_letter(coordinator_headers)
    hook = _subscribe(client, coordinator_headers, receiver)
    _Receiver.status = 503
    sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "Alpha Aid"}})
    assert service.deliver_due() == 1  # the oldest of the subscription, and only it
    with open_session() as session:
        first = session.exec(select(WebhookDelivery).order_by(WebhookDelivery.id)).first()
        assert first is not None
        assert first.status == "pending" and first.attempts == 1
        assert first.last_status_code == 503 and first.next_attempt_at > utcnow()
    assert service.deliver_due() == 0  # backing off
    # A worker leases the row and dies (kill -9) before sending.
    with open_session(write=True) as session:
        session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow()))
        session.commit()
    with open_session(write=True) as session:
        leased = service._lease(session)
        assert len(leased) == 1
        session.commit()
    _Receiver.status = 200
    assert service.deliver_due() == 0  # the lease holds while it is fresh
    with open_session(write=True) as session:
        session.execute(
            update(WebhookDelivery).values(leased_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    _drain()
    events = [g["headers"]["Undersigned-Event"] for g in _Receiver.received]
    assert events == ["signature.created", "count.changed"]
    deliveries = client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=coordinator_headers
    ).json()["data"]
    assert [(d["status"], d["attempts"]) for d in deliveries] == [
        ("delivered", 1),
        ("delivered", 2),
    ]


def test_gives_up_after_a_day(client: TestClient, coordinator_headers, make_letter, receiver):
    make_letter(coordinator_headers)
    hook = _subscribe(client, coordinator_headers, receiver)
    _Receiver.status = 500
    client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=coordinator_headers)
    with open_session(write=True) as session:
        session.execute(update(WebhookDelivery).values(created_at=utcnow() - timedelta(hours=25)))
        session.commit()
    service.deliver_due()
    deliveries = client.get(
        f"/api/v1/webhooks/{hook['id']}/deliveries", headers=coordinator_headers
    ).json()["data"]
    assert deliveries[0]["status"] == "failed"


def test_test_event_pause_and_scope(
    client: TestClient, coordinator_headers, admin_headers, make_letter, make_token, receiver
) -> None:
    make_letter(coordinator_headers)
    hook = _subscribe(client, coordinator_headers, receiver)
    paused = client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"paused": True}, headers=coordinator_headers
    )
    assert paused.status_code == 200 and paused.json()["paused"] is True
    queued = client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=coordinator_headers)
    assert queued.status_code == 202 and queued.json()["event"] == "ping"
    assert service.deliver_due() == 0 and _Receiver.received == []
    client.patch(
        f"/api/v1/webhooks/{hook['id']}", json={"paused": False}, headers=coordinator_headers
    )
    _drain()
    assert [g["headers"]["Undersigned-Event"] for g in _Receiver.received] == ["ping"]
    assert _Receiver.received[0]["headers"]["Undersigned-Delivery"] == queued.json()["id"]
    # Another coordinator: not their webhook (404, as if it did not exist).
    stranger = {"Authorization": f"Bearer {make_token('coordinator')}"}
    assert (
        client.get(f"/api/v1/webhooks/{hook['id']}/deliveries", headers=stranger).status_code == 404
    )
    assert client.post(f"/api/v1/webhooks/{hook['id']}/test", headers=stranger).status_code == 404
    # Anonymous signers' organisations: the letter's coordinators may opt in, admins may not.
    opted = _subscribe(client, coordinator_headers, receiver, include_anonymous=True)
    assert opted["include_anonymous"] is True
    refused = client.post(
        "/api/v1/letters/test-letter/webhooks",
        json={"url": receiver, "events": ALL, "include_anonymous": True},
        headers=admin_headers,
    )
    assert refused.status_code == 400 and refused.json()["field"] == "include_anonymous"
    _Receiver.received = []
    signed = sign(
        client,
        coordinator_headers,
        "test-letter",
        {"organisation": {"name": "Quiet Helpers"}, "anonymous": True},
    )
    _drain()
    created = [
        json.loads(g["body"])
        for g in _Receiver.received
        if g["headers"]["Undersigned-Event"] == "signature.created"
    ]
    orgs = sorted(str(c["data"]["signature"]["organisation_id"]) for c in created)
    assert orgs == sorted(["None", public_org_id(signed["organisation_id"])])


def test_workers_lease_disjoint_rows(
    client: TestClient, coordinator_headers, make_letter, receiver, database_url: str
) -> None:
    make_letter(coordinator_headers)
    for n in range(3):
        _subscribe(client, coordinator_headers, receiver + str(n))
    sign(client, coordinator_headers, "test-letter", {"organisation": {"name": "Alpha Aid"}})
    if not database_url.startswith("postgresql"):
        # SQLite: writers are serialised; a second lease after the first sees the lease.
        with open_session(write=True) as one:
            first = service._lease(one)
            one.commit()
        with open_session(write=True) as two:
            assert service._lease(two) == []
        assert len(first) == 3
        return
    # PostgreSQL: two workers at once, the first still holding its row locks.
    with open_session(write=True) as one, open_session(write=True) as two:
        first = service._lease(one)
        second = service._lease(two)
        assert len(first) == 3 and second == []
        one.rollback()
        two.rollback()


def test_letter_updated(client: TestClient, coordinator_headers, make_letter, receiver) -> None:
    make_letter(coordinator_headers)
    _subscribe(client, coordinator_headers, receiver)
    patched = client.patch(
        "/api/v1/letters/test-letter", json={"status": "closed"}, headers=coordinator_headers
    )
    assert patched.status_code == 200, patched.text
    _drain()
    (got,) = _Receiver.received
    assert got["headers"]["Undersigned-Event"] == "letter.updated"
    assert json.loads(got["body"])["data"] == {
        "slug": "test-letter",
        "status": "closed",
        "fields": ["status"],
    }


def test_merge_and_undo_send_signature_moved(
    client: TestClient, coordinator_headers, admin_headers, make_letter, receiver
) -> None:
    make_letter(coordinator_headers)
    _subscribe(client, coordinator_headers, receiver, events=["signature.moved", "count.changed"])
    ids = [
        client.post(
            "/api/v1/letters/test-letter/signatures",
            json={"organisation": {"name": name}},
            headers=coordinator_headers,
        ).json()["organisation_id"]
        for name in ("Riverside Tenants Union", "Harbour Fishers Guild")
    ]
    _drain()
    _Receiver.received = []
    merged = client.post(
        "/api/v1/admin/merges",
        json={"survivor_id": ids[0], "merged_ids": [ids[1]]},
        headers=admin_headers,
    )
    assert merged.status_code == 201, merged.text
    _drain()
    events = [
        (r["headers"]["Undersigned-Event"], json.loads(r["body"])["data"])
        for r in _Receiver.received
    ]
    assert [e for e, _ in events] == ["signature.moved", "count.changed"]
    assert events[1][1]["total"] == 1
    _Receiver.received = []
    undone = client.post(
        f"/api/v1/admin/merges/{merged.json()['merge_id']}/undo", headers=admin_headers
    )
    assert undone.status_code == 200, undone.text
    _drain()
    events = [
        (r["headers"]["Undersigned-Event"], json.loads(r["body"])["data"])
        for r in _Receiver.received
    ]
    assert [e for e, _ in events] == ["signature.moved", "count.changed"]
    assert events[1][1]["total"] == 2


def test_an_import_sends_its_signatures_and_one_count(
    client: TestClient, coordinator_headers, make_letter, receiver
) -> None:
    make_letter(coordinator_headers)
    _subscribe(client, coordinator_headers, receiver)
    imported = client.post(
        "/api/v1/letters/test-letter/imports",
        content=csv_of(["Lakeside Watch", "Mountain Rights Forum", "Valley Press Union"]),
        headers=coordinator_headers | {"Content-Type": "text/csv"},
    )
    assert imported.status_code in (200, 201), imported.text
    _drain()
    events = [r["headers"]["Undersigned-Event"] for r in _Receiver.received]
    assert events == ["signature.created"] * 3 + ["count.changed"]
    assert json.loads(_Receiver.received[-1]["body"])["data"]["total"] == 3
