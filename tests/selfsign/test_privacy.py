"""An anonymous self-signer is counted and identified nowhere public; contact details and
tokens appear in no public response, export or log line; `undersigned purge` erases them."""

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select
from typer.testing import CliRunner

from app.cli import app as cli
from app.db import open_session, utcnow
from app.letters.models import Letter
from app.selfsign.models import SelfSignature, SelfSignToken
from tests.selfsign.conftest import Inbox, sign_request

API = "/api/v1"
SECRET_ORG = "Qzsecret Solidarity Fund"
SECRET_PERSON = "Qzperson Lin"
SECRET_EMAIL = "qzmail@qzsecret-fund.example"


def public_texts(client: TestClient, slug: str) -> list[str]:
    paths = [
        f"{API}/letters/{slug}",
        f"{API}/letters/{slug}/count",
        f"{API}/letters/{slug}/signatories",
        f"{API}/letters/{slug}/export.csv",
        f"{API}/letters/{slug}/export.json",
        f"/letters/{slug}",
        f"/letters/{slug}/sign",
        f"{API}/letters",
        "/",
    ]
    texts = []
    for path in paths:
        response = client.get(path)
        assert response.status_code < 500, path
        texts.append(response.text + str(response.headers))
    return texts


def test_anonymous_self_signature_counts_but_names_nobody(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    coordinator_headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    slug = self_sign_letter()
    answer = client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": SECRET_ORG}, SECRET_EMAIL, anonymous=True, person=SECRET_PERSON),
    )
    assert answer.status_code == 202
    links = smtp.links(smtp.messages[0])
    confirmed = client.post(f"/sign-requests/confirm/{links['confirm']}")
    (row,) = client.get(f"{API}/letters/{slug}/sign-requests", headers=coordinator_headers).json()[
        "data"
    ]
    client.post(
        f"{API}/letters/{slug}/sign-requests/{row['id']}/verify", headers=coordinator_headers
    )
    letter = client.get(f"{API}/letters/{slug}").json()
    assert letter["counts"] == {"total": 1, "named": 0, "anonymous": 1}
    # The organisation exists only through an anonymous signature: no public page.
    organisation_id = (
        row["organisation_id"]
        or client.get(f"{API}/letters/{slug}/sign-requests", headers=coordinator_headers).json()[
            "data"
        ][0]["organisation_id"]
    )
    assert client.get(f"{API}/organisations/{organisation_id}").status_code in (401, 404)
    secrets = [SECRET_ORG, "Qzsecret", SECRET_PERSON, SECRET_EMAIL, "qzsecret-fund"]
    secrets += [links["confirm"], links["manage"]]
    for text in [*public_texts(client, slug), answer.text, confirmed.text]:
        assert not [s for s in secrets if s.casefold() in text.casefold()]
    # The app's own log lines (the test's SMTP server and HTTP client log what they carry).
    app_records = [r for r in caplog.records if not r.name.startswith(("mail.log", "httpx"))]
    for record in app_records:
        line = record.getMessage()
        assert not [s for s in secrets if s.casefold() in line.casefold()], line


def test_hidden_organisation_changes_nothing_the_signer_sees(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    make_letter: Callable[..., dict[str, Any]],
    coordinator_headers: dict[str, str],
    make_token: Callable[..., str],
) -> None:
    """Differential: the same self-signature with and without an organisation of that name
    and website known only through an anonymous signature on another letter."""
    slug = self_sign_letter()
    other = {"Authorization": f"Bearer {make_token('coordinator')}"}

    def run(name: str, address: str) -> tuple[str, str, str]:
        answer = client.post(
            f"{API}/letters/{slug}/sign-requests", json=sign_request({"name": name}, address)
        )
        links = smtp.links(smtp.to(address)[0])
        confirmed = client.post(f"/sign-requests/confirm/{links['confirm']}")
        manage = client.get(f"/sign-requests/manage/{links['manage']}")
        state = manage.text.split('data-state="')[1].split('"')[0]
        return answer.text, confirmed.text, state

    make_letter(other, slug="hidden-letter")
    signed = client.post(
        f"{API}/letters/hidden-letter/signatures",
        json={
            "organisation": {"name": "Hidden Harbour League", "website": "https://harbour.example"},
            "anonymous": True,
        },
        headers=other,
    )
    assert signed.status_code == 201
    with_hidden = run("Hidden Harbour League", "a@harbour.example")
    without = run("Open Meadow League", "a@meadow.example")
    assert with_hidden[0] == without[0]
    assert with_hidden[1] == without[1]
    assert with_hidden[2] == without[2] == "unverified"
    # The self-signer's organisation is a new one, never the hidden one.
    rows = client.get(f"{API}/letters/{slug}/sign-requests", headers=coordinator_headers).json()
    hidden_id = signed.json()["organisation_id"]
    assert all(r["organisation_id"] != hidden_id for r in rows["data"])


def _close_long_ago(slug: str) -> None:
    with open_session(write=True) as session:
        letter = session.exec(select(Letter).where(Letter.slug == slug)).one()
        letter.status = "closed"
        letter.closed_at = utcnow() - timedelta(days=365)
        session.add(letter)
        session.commit()


def test_purge_erases_contact_details_idempotently_with_a_dry_run(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    for index in range(2):
        client.post(
            f"{API}/letters/{slug}/sign-requests",
            json=sign_request({"name": f"Org {index}"}, f"p{index}@org{index}.example"),
        )
    client.post(f"/sign-requests/confirm/{smtp.links(smtp.messages[0])['confirm']}")
    manage = smtp.links(smtp.messages[0])["manage"]
    runner = CliRunner()
    nothing = runner.invoke(cli, ["purge"])
    assert nothing.exit_code == 0, nothing.output
    assert "erased the contact details of 0 self-signatures" in nothing.output
    _close_long_ago(slug)
    dry = runner.invoke(cli, ["purge", "--dry-run"])
    assert dry.exit_code == 0
    assert "would erase the contact details of 2 self-signatures and 4 links" in dry.output
    with open_session() as session:
        assert all(r.contact_email for r in session.exec(select(SelfSignature)))
    done = runner.invoke(cli, ["purge"])
    assert "erased the contact details of 2 self-signatures and 4 links" in done.output
    with open_session() as session:
        rows = list(session.exec(select(SelfSignature)))
        assert all(r.contact_email is None and r.contact_name is None for r in rows)
        assert all(r.purged_at is not None and len(r.email_hash) == 64 for r in rows)
        assert not list(session.exec(select(SelfSignToken)))
    again = runner.invoke(cli, ["purge"])
    assert "erased the contact details of 0 self-signatures and 0 links" in again.output
    assert client.get(f"/sign-requests/manage/{manage}").status_code == 404
