"""The signing form and the signer's pages: server-rendered, no JavaScript, localised (RTL in
Arabic), errors tied to their fields."""

import re
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from app.i18n.catalogs import SUPPORTED
from tests.selfsign.conftest import Inbox

API = "/api/v1"
FORM = {
    "name": "Association des Amis",
    "other_names": "AdA\nFriends Association",
    "country": "fr",
    "website": "amis.example",
    "contact_name": "Claire",
    "contact_email": "claire@amis.example",
    "consent": "1",
}


@pytest.mark.parametrize("locale", sorted(SUPPORTED.values()))
def test_form_in_every_locale(
    client: TestClient, self_sign_letter: Callable[..., str], locale: str
) -> None:
    slug = self_sign_letter()
    page = client.get(f"/letters/{slug}/sign", params={"locale": locale})
    assert page.status_code == 200
    assert f'<html lang="{locale}" dir="{"rtl" if locale == "ar" else "ltr"}">' in page.text
    assert "<script" not in page.text
    # Every visible input has a label.
    ids = set(re.findall(r'<(?:input|textarea)[^>]* id="([^"]+)"', page.text))
    labelled = set(re.findall(r'<label for="([^"]+)"', page.text))
    assert ids <= labelled
    assert page.headers["cache-control"] == "no-store"


def test_arabic_form_is_translated(
    client: TestClient, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    page = client.get(f"/letters/{slug}/sign", params={"locale": "ar"})
    assert "Sign the letter" not in page.text
    assert "وقّع" in page.text or "توقيع" in page.text


def test_form_errors_are_tied_to_their_fields(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    page = client.post(
        f"/letters/{slug}/sign",
        data=FORM | {"contact_email": "nope", "consent": ""},
    )
    assert page.status_code == 422
    assert 'id="contact_email-error"' in page.text
    assert re.search(r'id="contact_email"[^>]*aria-invalid="true"', page.text)
    assert re.search(r'aria-describedby="[^"]*contact_email-error', page.text)
    assert 'id="consent-error"' in page.text
    assert 'value="Association des Amis"' in page.text  # what was typed is kept
    assert not smtp.messages


def test_form_post_sends_the_mail_and_the_links_work_without_javascript(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter()
    sent = client.post(f"/letters/{slug}/sign", params={"locale": "fr"}, data=FORM)
    assert sent.status_code == 200
    assert 'lang="fr"' in sent.text
    (message,) = smtp.to("claire@amis.example")
    links = smtp.links(message)
    confirm = client.get(f"/sign-requests/confirm/{links['confirm']}", params={"locale": "ar"})
    assert 'dir="rtl"' in confirm.text
    assert re.search(r'<form[^>]*method="post"', confirm.text)
    done = client.post(f"/sign-requests/confirm/{links['confirm']}")
    assert done.status_code == 200
    manage = client.get(f"/sign-requests/manage/{links['manage']}")
    assert 'data-state="unverified"' in manage.text
    changed = client.post(
        f"/sign-requests/manage/{links['manage']}/contact",
        data={"contact_name": "Claire B.", "contact_email": "claire.b@amis.example"},
    )
    assert changed.status_code == 200
    assert 'value="claire.b@amis.example"' in changed.text
    refused = client.post(
        f"/sign-requests/manage/{links['manage']}/contact",
        data={"contact_email": "not an address"},
    )
    assert refused.status_code == 422
    assert 'id="contact_email-error"' in refused.text


def test_closed_letter_may_forbid_withdrawal(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    coordinator_headers: dict[str, str],
) -> None:
    slug = self_sign_letter(self_sign_withdraw_after_close=False, self_sign_counts_unverified=True)
    client.post(f"/letters/{slug}/sign", data=FORM)
    links = smtp.links(smtp.messages[0])
    client.post(f"/sign-requests/confirm/{links['confirm']}")
    assert client.get(f"{API}/letters/{slug}").json()["counts"]["total"] == 1
    closed = client.patch(
        f"{API}/letters/{slug}", json={"status": "closed"}, headers=coordinator_headers
    )
    assert closed.status_code == 200
    manage = client.get(f"/sign-requests/manage/{links['manage']}")
    assert "/withdraw" not in manage.text
    refused = client.post(f"/sign-requests/manage/{links['manage']}/withdraw")
    assert refused.status_code == 409
    assert client.get(f"{API}/letters/{slug}").json()["counts"]["total"] == 1
