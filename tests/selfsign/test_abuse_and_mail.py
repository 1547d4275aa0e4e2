"""Abuse limits (per address, per email, honeypot, body size) and mail delivery modes."""

import logging
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.config import get_settings
from app.db import open_session
from app.selfsign import mail
from app.selfsign.models import SelfSignature
from app.selfsign.service import ip_window
from tests.conftest import free_port
from tests.selfsign.conftest import Inbox, sign_request

API = "/api/v1"


def recorded() -> int:
    with open_session() as session:
        return int(session.scalar(select(func.count()).select_from(SelfSignature)) or 0)


def test_per_email_limit_drops_silently_with_the_same_answer(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    limit = get_settings().self_sign_per_email_per_day
    answers = [
        client.post(
            f"{API}/letters/{slug}/sign-requests",
            json=sign_request({"name": f"Org {i}"}, "Same@Example.org"),
        )
        for i in range(limit + 2)
    ]
    assert {a.status_code for a in answers} == {202}
    assert len({a.content for a in answers}) == 1
    assert recorded() == limit
    assert len(smtp.messages) == limit


def test_per_address_limit_answers_429(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UNDERSIGNED_SELF_SIGN_PER_IP_PER_HOUR", "3")
    get_settings.cache_clear()
    ip_window.clear()
    slug = self_sign_letter()
    codes = [
        client.post(
            f"{API}/letters/{slug}/sign-requests",
            json=sign_request({"name": f"Org {i}"}, f"x{i}@org{i}.example"),
        ).status_code
        for i in range(5)
    ]
    assert codes == [202, 202, 202, 429, 429]
    assert recorded() == 3


def test_honeypot_and_body_size(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    form = {
        "name": "Bot Org",
        "contact_name": "Bot",
        "contact_email": "bot@bot.example",
        "consent": "1",
        "homepage": "http://spam.example",
    }
    answer = client.post(f"/letters/{slug}/sign", data=form)
    assert answer.status_code == 200
    human = client.post(f"/letters/{slug}/sign", data=form | {"homepage": ""})
    assert human.status_code == 200
    assert answer.text == human.text  # the bot cannot tell
    assert recorded() == 1 and len(smtp.messages) == 1
    big = sign_request({"name": "Big Org", "other_names": ["x" * 200] * 100}, "b@big.example")
    too_big = client.post(f"{API}/letters/{slug}/sign-requests", json=big)
    assert too_big.status_code == 413
    assert too_big.json()["error"] == "payload_too_large"


def test_bad_input_names_the_field(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    cases = {
        "contact.email": sign_request({"name": "Org"}, "not-an-address"),
        "consent": sign_request({"name": "Org"}, "a@org.example") | {"consent": False},
        "organisation.country": sign_request({"name": "Org", "country": "XX"}, "a@org.example"),
    }
    for field, body in cases.items():
        response = client.post(f"{API}/letters/{slug}/sign-requests", json=body)
        assert response.status_code == 422, field
        assert response.json()["field"] == field
        assert "a@org.example" not in response.text
    assert recorded() == 0


def test_outbox_without_smtp_host(
    client: TestClient,
    self_sign_letter: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("UNDERSIGNED_MAIL_OUTBOX", str(tmp_path / "outbox"))
    monkeypatch.delenv("UNDERSIGNED_SMTP_HOST", raising=False)
    get_settings.cache_clear()
    ip_window.clear()
    slug = self_sign_letter()
    client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Outbox Org"}, "o@outbox.example"),
    )
    (written,) = (tmp_path / "outbox").glob("*.eml")
    text = written.read_text()
    assert "To: o@outbox.example" in text
    assert "/sign-requests/confirm/" in text
    get_settings.cache_clear()


def test_a_failing_mail_server_is_logged_without_the_address(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("UNDERSIGNED_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("UNDERSIGNED_SMTP_PORT", str(free_port()))  # nothing listens there
    monkeypatch.setenv("UNDERSIGNED_SMTP_TLS", "starttls")
    get_settings.cache_clear()
    caplog.set_level(logging.INFO, logger="undersigned.mail")
    sent = mail.send(mail.Mail(to="secret-person@example.org", subject="s", text="t"))
    assert sent is False
    assert caplog.records and "mail not delivered" in caplog.records[0].getMessage()
    assert "secret-person" not in caplog.text
    get_settings.cache_clear()
