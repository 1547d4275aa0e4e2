"""Hostile input at the transport level: oversized and malformed bodies, bursts, headers."""

from collections.abc import Callable, Iterator

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from app.security.headers import DOCS_CSP, HTML_CSP
from app.security.limits import TokenBucket

ERROR_KEYS = {"error", "detail", "field"}
LETTER = {"slug": "limits-letter", "title": "T", "lang": "en", "body": "B", "status": "open"}


def test_body_over_the_limit_by_content_length_is_413(
    engine, build_app: Callable[..., FastAPI], admin_headers
) -> None:
    app = build_app(max_body_bytes=2000)
    with TestClient(app) as client:
        big = {"organisation": {"name": "x" * 250, "other_names": ["y" * 250] * 10}}
        response = client.post("/api/v1/letters/any/signatures", json=big, headers=admin_headers)
        assert response.status_code == 413
        assert response.json()["error"] == "payload_too_large"
        assert set(response.json()) == ERROR_KEYS
        assert response.headers["x-content-type-options"] == "nosniff"
        small = client.post("/api/v1/letters", json=LETTER, headers=admin_headers)
        assert small.status_code == 201


def test_streamed_body_over_the_limit_is_413(
    engine, build_app: Callable[..., FastAPI], admin_headers
) -> None:
    app = build_app(max_body_bytes=2000)

    def chunks() -> Iterator[bytes]:
        yield b'{"slug": "streamed", "title": "'
        for _ in range(100):
            yield b"x" * 100
        yield b'"}'

    with TestClient(app) as client:
        # A generator body is sent chunked, without Content-Length: only counting catches it.
        response = client.post(
            "/api/v1/letters",
            content=chunks(),
            headers=admin_headers | {"content-type": "application/json"},
        )
        assert response.status_code == 413, response.text
        assert response.json()["error"] == "payload_too_large"
        assert client.get("/api/v1/letters/streamed").status_code == 404


def test_lying_content_length_is_400(engine, build_app: Callable[..., FastAPI]) -> None:
    with TestClient(build_app()) as client:
        response = client.post("/api/v1/letters", content=b"{}", headers={"content-length": "abc"})
        assert response.status_code == 400
        assert response.json()["error"] == "bad_request"


def test_malformed_json_is_400_without_echo(client: TestClient, admin_headers) -> None:
    response = client.post(
        "/api/v1/letters",
        content=b'{"slug": "secret-marker-xyz", oops',
        headers=admin_headers | {"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"
    assert response.json()["field"] is None
    assert "secret-marker-xyz" not in response.text


def test_wrong_content_type_is_415(client: TestClient, admin_headers) -> None:
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "text/csv"):
        response = client.post(
            "/api/v1/letters",
            content=b'{"slug": "abc"}',
            headers=admin_headers | {"content-type": content_type},
        )
        assert response.status_code == 415, (content_type, response.text)
        assert response.json()["error"] == "unsupported_media_type"


def test_non_object_and_missing_and_undecodable_bodies_are_4xx(
    client: TestClient, admin_headers
) -> None:
    json_headers = admin_headers | {"content-type": "application/json"}
    cases = {b"[]": 422, b"": 422, b"42": 422, b'"\xff\xfe"': 400, b"null": 422}
    for body, status in cases.items():
        response = client.post("/api/v1/letters", content=body, headers=json_headers)
        assert response.status_code == status, (body, response.text)
        assert set(response.json()) == ERROR_KEYS


def test_unhandled_error_is_json_500(engine, build_app: Callable[..., FastAPI]) -> None:
    app = build_app()

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.json() == {
        "error": "internal_error",
        "detail": "an internal error occurred; it has been logged",
        "field": None,
    }


def test_token_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=2.0, burst=3, clock=lambda: now[0])
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == 0.5  # one token comes back every 0.5 s
    assert bucket.take("b") == 0.0  # another client has its own bucket
    now[0] += 0.5
    assert bucket.take("a") == 0.0
    assert bucket.take("a") > 0
    now[0] += 100
    assert [bucket.take("a") for _ in range(4)][-1] > 0  # never more than the burst


def test_token_bucket_forgets_idle_clients() -> None:
    """Memory stays bounded when many addresses pass by (a spoofing flood, a botnet)."""
    now = [0.0]
    bucket = TokenBucket(rate=10.0, burst=5, clock=lambda: now[0])
    bucket.MAX_KEYS = 100
    for index in range(1000):
        now[0] += 0.01
        bucket.take(f"10.0.{index // 256}.{index % 256}")
    assert len(bucket.buckets) <= 101
    assert "10.0.3.231" in bucket.buckets  # the latest clients are still limited


def test_burst_above_the_read_limit_gets_429_with_retry_after(
    engine, build_app: Callable[..., FastAPI], admin_headers
) -> None:
    app = build_app(
        rate_limit_read_burst=5,
        rate_limit_read_per_second=0.2,
        rate_limit_write_burst=3,
        rate_limit_write_per_second=0.2,
    )
    with TestClient(app) as client:
        statuses = [client.get("/api/v1/healthz").status_code for _ in range(5)]
        assert statuses == [200] * 5
        limited = client.get("/api/v1/letters")
        assert limited.status_code == 429
        assert limited.json()["error"] == "rate_limited"
        assert set(limited.json()) == ERROR_KEYS
        assert 1 <= int(limited.headers["retry-after"]) <= 5
        assert limited.headers["x-content-type-options"] == "nosniff"
        # Writes have their own budget: exhausting reads does not block a sign-up.
        created = client.post("/api/v1/letters", json=LETTER, headers=admin_headers)
        assert created.status_code == 201
        writes = [
            client.patch(
                "/api/v1/letters/limits-letter", json={}, headers=admin_headers
            ).status_code
            for _ in range(3)
        ]
        assert writes[:2] == [200, 200] and writes[2] == 429


def test_default_limits_leave_room_for_a_partner_page(engine, build_app) -> None:
    """A page view fetches the widget, the count and a badge; defaults allow many such views."""
    app = build_app()
    with TestClient(app) as client:
        statuses = {client.get("/api/v1/healthz").status_code for _ in range(300)}
    assert statuses == {200}


def test_security_headers(engine, build_app: Callable[..., FastAPI]) -> None:
    app = build_app()

    @app.get("/plain-page", response_class=HTMLResponse)
    def plain_page() -> str:
        return "<p>hi</p>"

    @app.get("/frameable", response_class=HTMLResponse)
    def frameable() -> HTMLResponse:
        return HTMLResponse(
            "<p>widget</p>",
            headers={"Content-Security-Policy": "default-src 'none'; frame-ancestors *"},
        )

    with TestClient(app) as client:
        api = client.get("/api/v1/healthz")
        assert api.headers["x-content-type-options"] == "nosniff"
        missing = client.get("/api/v1/nowhere")
        assert missing.headers["x-content-type-options"] == "nosniff"

        page = client.get("/plain-page")
        assert page.headers["content-security-policy"] == HTML_CSP
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["referrer-policy"] == "no-referrer"
        assert page.headers["x-content-type-options"] == "nosniff"

        widget = client.get("/frameable")
        assert widget.headers["content-security-policy"] == "default-src 'none'; frame-ancestors *"
        assert "x-frame-options" not in widget.headers
        assert widget.headers["x-content-type-options"] == "nosniff"

        docs = client.get("/docs")
        assert docs.status_code == 200
        assert docs.headers["content-security-policy"] == DOCS_CSP
        assert "http" not in DOCS_CSP  # the docs load nothing from a third party
