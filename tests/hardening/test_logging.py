"""No query string, token or anonymous identity in any log line."""

import logging
import subprocess
import sys
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.exc import IntegrityError

from app.security.logs import AccessLogFilter, RedactingFilter
from tests.hardening.conftest import ROOT

MARKER = "Zqx Hidden Collective 7731"


def test_access_log_lines_drop_the_query_string() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/api/v1/organisations/match?name={MARKER}", "1.1", 200),
        None,
    )
    assert AccessLogFilter().filter(record)
    assert record.getMessage() == '127.0.0.1:5000 - "GET /api/v1/organisations/match HTTP/1.1" 200'


def test_token_shaped_strings_are_masked() -> None:
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "headers %s",
        ("Authorization: Bearer us_abcDEF123456",),
        None,
    )
    RedactingFilter().filter(record)
    assert "us_abcDEF123456" not in record.getMessage()
    assert "[redacted]" in record.getMessage()


def test_serve_log_config_strips_queries_and_tokens() -> None:
    """The logging set-up of `undersigned serve`, applied in a fresh interpreter."""
    script = (
        "import logging, logging.config\n"
        "from app.security.logs import log_config\n"
        "logging.config.dictConfig(log_config('debug'))\n"
        "logging.getLogger('uvicorn.access').info('%s - \"%s %s HTTP/%s\" %d',"
        f" '10.0.0.1:1', 'GET', '/api/v1/organisations/match?name={MARKER}', '1.1', 200)\n"
        "logging.getLogger('undersigned.x').warning('got Authorization: Bearer us_abcdefghijkl')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    output = result.stdout + result.stderr
    assert "GET /api/v1/organisations/match HTTP/1.1" in output
    assert MARKER not in output
    assert "us_abcdefghijkl" not in output and "[redacted]" in output


def test_no_marker_or_token_in_logs_of_requests(
    client: TestClient,
    make_letter,
    make_token: Callable[..., str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    admin = {"Authorization": f"Bearer {make_token('admin')}"}
    make_letter(admin, slug="log-letter")
    caplog.set_level(logging.DEBUG)
    # Statement logging on: parameters (the submitted name) must still stay out of the log.
    logging.getLogger("sqlalchemy.engine").setLevel(logging.INFO)
    try:
        signed = client.post(
            "/api/v1/letters/log-letter/signatures",
            json={
                "organisation": {"name": MARKER, "website": "zqx-hidden.example"},
                "anonymous": True,
            },
            headers=admin,
        )
        assert signed.status_code == 201
        client.get(f"/api/v1/organisations/match?name={MARKER}", headers=admin)
        client.get("/api/v1/letters", headers={"Authorization": "Bearer us_forgedtoken123456"})
    finally:
        logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)
    assert any("INSERT" in r.getMessage() for r in caplog.records)  # the statements were logged
    text = "\n".join(r.getMessage() for r in caplog.records) + caplog.text
    assert MARKER not in text
    assert "zqx-hidden" not in text
    assert admin["Authorization"].split()[1] not in text
    assert "us_forgedtoken123456" not in text


def test_unhandled_database_error_is_logged_without_its_message(
    engine, build_app: Callable[..., FastAPI], caplog: pytest.LogCaptureFixture
) -> None:
    app = build_app()

    @app.get("/explode")
    def explode() -> None:
        # What a constraint violation looks like: the driver quotes the offending row.
        raise IntegrityError(
            "INSERT INTO organisation_name ...",
            {"name": MARKER},
            Exception(f"Key (name)=({MARKER})"),
        )

    caplog.set_level(logging.DEBUG)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        response = test_client.get("/explode")
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"
    assert MARKER not in response.text
    assert "sqlalchemy.exc.IntegrityError (message withheld)" in caplog.text
    assert "in explode" in caplog.text  # the code location is kept for debugging
    assert MARKER not in caplog.text
