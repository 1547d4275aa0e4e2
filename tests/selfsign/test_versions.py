"""Text versions: a signed letter's text changes only as a new version with a reason; each
self-signature records the version and language it consented to."""

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import select

from app.db import open_session
from app.selfsign.models import SelfSignature
from tests.selfsign.conftest import Inbox, sign_request

API = "/api/v1"


def test_changing_a_signed_text_makes_a_version_and_signatures_keep_theirs(
    client: TestClient,
    smtp: Inbox,
    self_sign_letter: Callable[..., str],
    coordinator_headers: dict[str, str],
) -> None:
    slug = self_sign_letter()
    client.patch(
        f"{API}/letters/{slug}",
        json={"translations": [{"lang": "fr", "title": "Une lettre", "body": "Nous demandons."}]},
        headers=coordinator_headers,
    )
    first = sign_request({"name": "Early Org"}, "e@early.example") | {"lang": "fr"}
    assert client.post(f"{API}/letters/{slug}/sign-requests", json=first).status_code == 202
    assert client.get(f"{API}/letters/{slug}/versions").json()["count"] == 1

    # Coordinator-entered signature makes the text locked; without a reason: refused.
    client.post(
        f"{API}/letters/{slug}/signatures",
        json={"organisation": {"name": "Listed Org"}},
        headers=coordinator_headers,
    )
    refused = client.patch(
        f"{API}/letters/{slug}", json={"body": "We ask, louder."}, headers=coordinator_headers
    )
    assert refused.status_code == 409
    assert refused.json()["error"] == "letter_text_locked"
    changed = client.patch(
        f"{API}/letters/{slug}",
        json={"body": "We ask, louder.", "text_change_reason": "A typo in the demand."},
        headers=coordinator_headers,
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["text_version"] == 2
    versions = client.get(f"{API}/letters/{slug}/versions").json()["data"]
    assert [(v["version"], v["body"], v["reason"]) for v in versions] == [
        (1, "We ask.", None),
        (2, "We ask, louder.", "A typo in the demand."),
    ]
    page = client.get(f"/letters/{slug}/versions")
    assert page.status_code == 200 and "A typo in the demand." in page.text

    # A request made against the old version is refused; the current one is recorded.
    stale = sign_request({"name": "Late Org"}, "l@late.example") | {"text_version": 1}
    answer = client.post(f"{API}/letters/{slug}/sign-requests", json=stale)
    assert answer.status_code == 409 and answer.json()["field"] == "text_version"
    fresh = sign_request({"name": "Late Org"}, "l@late.example") | {"text_version": 2}
    assert client.post(f"{API}/letters/{slug}/sign-requests", json=fresh).status_code == 202
    unknown = sign_request({"name": "Other Org"}, "o@other.example") | {"lang": "de"}
    assert client.post(f"{API}/letters/{slug}/sign-requests", json=unknown).json()["field"] == (
        "lang"
    )
    with open_session() as session:
        rows = {r.submitted["name"]: r for r in session.exec(select(SelfSignature))}
    assert (rows["Early Org"].text_version, rows["Early Org"].text_lang) == (1, "fr")
    assert (rows["Late Org"].text_version, rows["Late Org"].text_lang) == (2, "en")

    # The form shows the new text and refuses a submission made on the old one.
    form = client.get(f"/letters/{slug}/sign")
    assert 'name="text_version" value="2"' in form.text
    assert f"/letters/{slug}/versions" in form.text
    old = client.post(
        f"/letters/{slug}/sign",
        data={
            "name": "Form Org",
            "contact_name": "P",
            "contact_email": "p@form.example",
            "consent": "1",
            "text_version": "1",
        },
    )
    assert old.status_code == 409
    assert "We ask, louder." in old.text
