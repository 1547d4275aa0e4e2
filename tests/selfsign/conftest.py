"""A real SMTP server in the test process (aiosmtpd), and helpers for self-signing tests."""

import email
import email.policy
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from app.config import get_settings
from app.selfsign.service import ip_window
from tests.conftest import free_port

LINK = re.compile(r"https?://\S+/sign-requests/(confirm|manage)/([A-Za-z0-9_\-]+)")


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        parsed["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["X-Envelope-To"]]

    def wait_for(self, address: str, *, count: int = 1, timeout: float = 15.0) -> EmailMessage:
        """The newest message to `address` once `count` arrived (a live server sends mail
        after its response)."""
        deadline = time.monotonic() + timeout
        while len(self.to(address)) < count:
            assert time.monotonic() < deadline, f"no mail to {address}"
            time.sleep(0.05)
        return self.to(address)[-1]

    def links(self, message: EmailMessage) -> dict[str, str]:
        body = message.get_body(preferencelist=("plain",))
        assert body is not None
        return {kind: token for kind, token in LINK.findall(body.get_content())}


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("UNDERSIGNED_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("UNDERSIGNED_SMTP_PORT", str(port))
    monkeypatch.setenv("UNDERSIGNED_SMTP_TLS", "none")
    monkeypatch.setenv("UNDERSIGNED_PUBLIC_URL", "https://letters.example.net")
    monkeypatch.setenv("UNDERSIGNED_MAIL_FROM", "Letters <letters@example.net>")
    # Counts are read right after each change: no per-worker count cache in between.
    monkeypatch.setenv("UNDERSIGNED_COUNT_CACHE_TTL", "0")
    get_settings.cache_clear()
    ip_window.clear()
    yield inbox
    controller.stop()
    monkeypatch.undo()
    get_settings.cache_clear()
    ip_window.clear()


@pytest.fixture
def self_sign_letter(
    client: TestClient,
    make_letter: Callable[..., dict[str, Any]],
    coordinator_headers: dict[str, str],
) -> Callable[..., str]:
    """An open letter whose coordinators opened the signing form; returns its slug."""

    def _make(slug: str = "open-form", **settings: Any) -> str:
        make_letter(coordinator_headers, slug=slug)
        response = client.patch(
            f"/api/v1/letters/{slug}",
            json={"self_signing": True} | settings,
            headers=coordinator_headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["self_signing"] is True
        return slug

    return _make


def sign_request(
    organisation: dict[str, Any],
    email_address: str,
    *,
    anonymous: bool = False,
    person: str = "Dana Signer",
) -> dict[str, Any]:
    return {
        "organisation": organisation,
        "contact": {"name": person, "email": email_address},
        "anonymous": anonymous,
        "consent": True,
    }
