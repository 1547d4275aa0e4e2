"""Headless Chromium: log in, merge a queued pair, see the count change, undo, see it restored."""

import pytest

from tests.conftest import ADMIN_TOKEN

SEED = "global-call-un-mechanism-china"


@pytest.mark.browser
def test_admin_merges_and_undoes_in_the_browser(
    live_server: str, browser, artifacts_dir, seeded
) -> None:
    context = browser.new_context()
    page = context.new_page()
    try:
        page.goto(f"{live_server}/admin")
        page.fill("#token", ADMIN_TOKEN)
        page.click("button:has-text('Log in')")
        page.wait_for_selector("#queue")
        named = page.locator(f'tr[data-slug="{SEED}"] td.named')
        assert named.inner_text() == "281"
        # The session cookie is HttpOnly and SameSite=Strict, and is not the token.
        cookie = next(c for c in context.cookies() if c["name"] == "undersigned_admin")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        assert ADMIN_TOKEN not in cookie["value"]

        group = (
            page.locator("article.group")
            .filter(has_text="HRIC")
            .filter(has_text="Human Rights in China")
            .first
        )
        assert "acronym" in group.inner_text()
        group.locator("button", has_text="Merge into").first.click()
        page.wait_for_selector("text=Merged.")
        assert page.locator(f'tr[data-slug="{SEED}"] td.named').inner_text() == "280"
        assert page.locator(f'tr[data-slug="{SEED}"] td.total').inner_text() == "319"
        page.screenshot(path=str(artifacts_dir / "admin-after-merge.png"), full_page=True)

        # Keyboard: focus the undo button and press Enter.
        page.locator("button", has_text="Undo (mark different)").first.focus()
        page.keyboard.press("Enter")
        page.wait_for_selector("text=Merge undone")
        assert page.locator(f'tr[data-slug="{SEED}"] td.named').inner_text() == "281"
        assert page.locator(f'tr[data-slug="{SEED}"] td.anonymous').inner_text() == "39"
        assert (
            page.locator("article.group")
            .filter(has_text="HRIC")
            .filter(has_text="Human Rights in China")
            .count()
            == 0
        )
        page.screenshot(path=str(artifacts_dir / "admin-after-undo.png"), full_page=True)
    finally:
        context.close()
