"""The browser harness itself: Chromium renders a page the live server serves."""

import pytest


@pytest.mark.browser
def test_chromium_reads_live_health(live_server: str, browser, artifacts_dir) -> None:
    page = browser.new_page()
    try:
        page.goto(f"{live_server}/api/v1/healthz")
        assert '"database":"ok"' in page.content().replace(" ", "")
    finally:
        page.close()
