"""The admin page over HTTP: login, cookies, CSRF, cache headers, merge and undo by form."""

import re

from fastapi.testclient import TestClient

from tests.conftest import ADMIN_TOKEN


def login(client: TestClient, token: str = ADMIN_TOKEN):  # type: ignore[no-untyped-def]
    page = client.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    return client.post(
        "/admin/login", data={"token": token, "csrf": csrf.group(1)}, follow_redirects=False
    )


def page_csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match is not None
    return match.group(1)


def test_login_sets_safe_session_cookie(client: TestClient, seeded) -> None:
    first = client.get("/admin")
    assert first.status_code == 200 and "Admin token" in first.text
    assert first.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in first.headers["content-security-policy"]
    assert "<script" not in first.text
    refused = login(client, token="not-the-admin-token-000000")
    assert refused.status_code == 401 and "undersigned_admin" not in refused.headers.get(
        "set-cookie", ""
    )
    response = login(client)
    assert response.status_code == 303
    cookie = next(
        c for c in response.headers.get_list("set-cookie") if c.startswith("undersigned_admin=")
    )
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/admin" in cookie
    assert ADMIN_TOKEN not in cookie
    review = client.get("/admin")
    assert review.status_code == 200 and "Review queue" in review.text
    assert review.headers["cache-control"] == "no-store"
    assert "HRIC" in review.text and "Human Rights in China" in review.text


def test_forms_need_the_csrf_token(client: TestClient, seeded) -> None:
    login(client)
    review = client.get("/admin")
    match = re.search(
        r'name="survivor_id" value="(\d+)">\s*<input type="hidden" name="merged_id" value="(\d+)"',
        review.text,
    )
    assert match is not None
    form = {"survivor_id": match.group(1), "merged_id": match.group(2)}
    forged = client.post("/admin/merge", data=form | {"csrf": "x" * 40}, follow_redirects=False)
    assert forged.status_code == 403
    count = client.get("/api/v1/letters/global-call-un-mechanism-china/count").json()
    assert count["total"] == 320
    done = client.post(
        "/admin/merge", data=form | {"csrf": page_csrf(review.text)}, follow_redirects=False
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/admin?done=merged"
    after = client.get(done.headers["location"])
    assert "Merged." in after.text and "Undo (mark different)" in after.text
    # A refused action re-renders the page with the reason and keeps nothing.
    again = client.post(
        "/admin/merge", data=form | {"csrf": page_csrf(after.text)}, follow_redirects=False
    )
    assert again.status_code == 409 and "was already merged" in again.text


def test_logged_out_or_foreign_cookie_cannot_act(client: TestClient) -> None:
    client.cookies.set("undersigned_admin", "v1.env.9999999999.abc.deadbeef", path="/admin")
    page = client.get("/admin")
    assert "Admin token" in page.text
    response = client.post(
        "/admin/different",
        data={"organisation_a": "1", "organisation_b": "2", "csrf": "abc"},
        follow_redirects=False,
    )
    assert response.status_code == 403


def test_queue_marks_anonymous_signatures_for_admins(
    client: TestClient, admin_headers, make_letter
) -> None:
    make_letter(admin_headers, slug="masked")
    for body in (
        {"organisation": {"name": "Alpha Rights Watch"}},
        {"organisation": {"name": "Alpha Rights Watch Kenya (ARWK)"}, "anonymous": True},
    ):
        response = client.post(
            "/api/v1/letters/masked/signatures", json=body, headers=admin_headers
        )
        assert response.status_code == 201, response.text
    login(client)
    review = client.get("/admin")
    assert review.text.count('class="group"') == 1
    assert '<span class="tag anon">anonymous</span>' in review.text
    assert "0 named, 1 anonymous" in review.text
    # The public side never learns who signed anonymously.
    assert "ARWK" not in client.get("/api/v1/letters/masked/signatories").text
