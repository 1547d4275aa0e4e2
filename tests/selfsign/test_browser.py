"""In Chromium, without JavaScript: a signer fills the form in English and in Arabic, the SMTP
server receives the mail, a GET of the link changes nothing, the button confirms; the
coordinator verifies; the count moves; the signer withdraws; the count moves back."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.selfsign.conftest import Inbox

API = "/api/v1"


def total(base: str, slug: str) -> int:
    return int(httpx.get(f"{base}{API}/letters/{slug}").json()["counts"]["total"])


@pytest.mark.browser
def test_sign_confirm_verify_withdraw_in_chromium(
    smtp: Inbox,
    live_server: str,
    browser: Any,
    make_token: Callable[..., str],
    artifacts_dir: Path,
) -> None:
    headers = {"Authorization": f"Bearer {make_token('coordinator')}"}
    with httpx.Client(base_url=live_server + API, headers=headers) as http:
        for slug, body in [
            (
                "earlier",
                {"organisation": {"name": "Amnesty International", "website": "amnesty.org"}},
            ),
        ]:
            http.post(
                "/letters", json={"slug": slug, "title": "Earlier", "lang": "en", "status": "open"}
            )
            assert http.post(f"/letters/{slug}/signatures", json=body).status_code == 201
        created = http.post(
            "/letters",
            json={
                "slug": "browser-form",
                "title": "Free them",
                "lang": "en",
                "body": "We ask.",
                "status": "open",
                "self_signing": True,
            },
        )
        assert created.status_code == 201, created.text
    slug = "browser-form"
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    try:
        # English, an address at the organisation's known website: counts once confirmed.
        page.goto(f"{live_server}/letters/{slug}/sign?locale=en")
        page.get_by_label("Organisation name").fill("Amnesty International")
        page.get_by_label("Your name").fill("Dana")
        page.get_by_label("Your email address").fill("dana@amnesty.org")
        page.get_by_label("I may sign for this organisation").check()
        page.get_by_role("button", name="Sign the letter").click()
        assert page.locator("h1").inner_text() == "Check your email"
        links = smtp.links(smtp.wait_for("dana@amnesty.org"))
        page.goto(f"{live_server}/sign-requests/confirm/{links['confirm']}")
        assert total(live_server, slug) == 0
        page.get_by_role("button", name="Confirm the signature").click()
        assert total(live_server, slug) == 1

        # Arabic, right to left, an address elsewhere: waits for the coordinator.
        page.goto(f"{live_server}/letters/{slug}/sign?locale=ar")
        assert page.locator("html").get_attribute("dir") == "rtl"
        page.screenshot(path=str(artifacts_dir / "selfsign-form-ar.png"), full_page=True)
        page.locator("#name").fill("منظمة العفو الدولية للشباب")
        page.locator("#contact_name").fill("ليلى")
        page.locator("#contact_email").fill("layla@mail.example")
        page.locator("#consent").check()
        page.locator("form.selfsign button[type=submit]").click()
        links = smtp.links(smtp.wait_for("layla@mail.example"))
        page.goto(f"{live_server}/sign-requests/confirm/{links['confirm']}?locale=ar")
        page.locator("form button[type=submit]").click()
        assert total(live_server, slug) == 1
        with httpx.Client(base_url=live_server + API, headers=headers) as http:
            queue = http.get(f"/letters/{slug}/sign-requests").json()["data"]
            waiting = [r for r in queue if r["state"] == "unverified"]
            assert len(waiting) == 1
            verified = http.post(f"/letters/{slug}/sign-requests/{waiting[0]['id']}/verify")
            assert verified.status_code == 200
        assert total(live_server, slug) == 2

        page.goto(f"{live_server}/sign-requests/manage/{links['manage']}?locale=ar")
        assert page.locator("#state").get_attribute("data-state") == "verified"
        page.locator("form.inline button[type=submit]").click()
        assert page.locator("#state").get_attribute("data-state") == "withdrawn"
        assert total(live_server, slug) == 1
    finally:
        context.close()
