"""Admin login under attack: throttled with growing delays per address and overall, audited
without the token, Secure cookies on demand, and a logout that ends the session on the server.

Before: 260 guesses in 0.6 s gave 212 × 401 (only the generic rate limit answered 429), no
failed login was audited, the cookie was Secure only when the app itself saw https, and logout
only asked the browser to forget a cookie that stayed valid.
"""

import re
from collections import Counter
from collections.abc import Callable, Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from sqlmodel import col, select

from app.audit import AuditEvent
from app.db import open_session
from tests.conftest import ADMIN_TOKEN

ATTACKER = "198.51.100.7"
ADMIN_HOME = "203.0.113.9"
GENEROUS = {"rate_limit_write_burst": 1_000_000, "rate_limit_read_burst": 1_000_000}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def login_app(engine, build_app: Callable[..., FastAPI]) -> Iterator[tuple[FastAPI, Clock]]:
    """A fresh app whose login throttle runs on a clock the test moves."""
    app = build_app(**GENEROUS)
    yield app, on_test_clock(app)


def on_test_clock(app: FastAPI) -> Clock:
    clock = Clock()
    throttle = getattr(app.state, "login_throttle", None)  # absent before the fix
    if throttle is not None:
        throttle.clock = clock
    return clock


def browser(app: FastAPI, address: str) -> TestClient:
    return TestClient(app, client=(address, 40000))


def attempt(client: TestClient, token: str) -> Response:
    """Fill in the login form as a browser does: the form's CSRF field matches its cookie."""
    page = client.get("/admin")
    match = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert match is not None
    return client.post(
        "/admin/login", data={"token": token, "csrf": match.group(1)}, follow_redirects=False
    )


def audit(action: str) -> list[AuditEvent]:
    with open_session() as session:
        return list(
            session.exec(
                select(AuditEvent).where(AuditEvent.action == action).order_by(col(AuditEvent.id))
            )
        )


def test_three_hundred_guesses_are_throttled_and_audited(
    login_app: tuple[FastAPI, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    app, clock = login_app
    attacker = browser(app, ATTACKER)
    answers = [attempt(attacker, f"guess-{i:04d}-wrong-token") for i in range(300)]
    statuses = Counter(r.status_code for r in answers)
    assert statuses == {401: 5, 429: 295}
    refused = answers[-1]
    assert refused.headers["retry-after"] == "1"
    assert "Too many failed logins" in refused.text

    failed = audit("admin.login_failed")
    assert [e.details["failures"] for e in failed] == [1, 2, 3, 4, 5]
    assert {e.details["client"] for e in failed} == {ATTACKER}
    assert [e.details["lockout_seconds"] for e in failed] == [0, 0, 0, 0, 1]
    everything = " ".join(str(e.details) + str(e.actor) + str(e.target_id) for e in failed)
    log = " ".join(r.getMessage() for r in caplog.records)
    assert "guess-" not in everything and "guess-" not in log

    # The admin, from their own address, is not locked out by someone else's guessing.
    assert attempt(browser(app, ADMIN_HOME), ADMIN_TOKEN).status_code == 303
    # From the attacker's address, the right token waits for the lockout like any guess...
    assert attempt(attacker, ADMIN_TOKEN).status_code == 429
    clock.now += 1.01
    # ... and works once it is over; the audit records how many attempts were refused.
    assert attempt(attacker, ADMIN_TOKEN).status_code == 303
    logins = audit("admin.login")
    assert logins[-1].details == {"client": ATTACKER, "failures_before": 5}


def test_delays_grow_with_each_failure(login_app: tuple[FastAPI, Clock]) -> None:
    app, clock = login_app
    attacker = browser(app, ATTACKER)
    for _ in range(4):
        assert attempt(attacker, "wrong-token-000000000").status_code == 401
    lockouts = []
    for _ in range(6):
        answer = attempt(attacker, "wrong-token-000000000")
        assert answer.status_code == 401
        lockouts.append(int(answer.headers["retry-after"]))
        assert attempt(attacker, "wrong-token-000000000").status_code == 429
        clock.now += lockouts[-1] + 0.01
    assert lockouts == [1, 2, 4, 8, 16, 32]
    assert audit("admin.login_failed")[-1].details["refused_before"] == 1


def test_guesses_from_many_addresses_meet_the_global_throttle(
    engine, build_app: Callable[..., FastAPI]
) -> None:
    app = build_app(login_global_free_failures=20, **GENEROUS)
    clock = on_test_clock(app)
    statuses = [
        attempt(browser(app, f"192.0.2.{i}"), "wrong-token-000000000").status_code
        for i in range(1, 41)
    ]
    assert statuses == [401] * 20 + [429] * 20
    admin = browser(app, ADMIN_HOME)
    assert attempt(admin, ADMIN_TOKEN).status_code == 429  # during the global lockout
    clock.now += 1.01
    assert attempt(admin, ADMIN_TOKEN).status_code == 303


def test_a_setting_forces_secure_cookies(engine, build_app: Callable[..., FastAPI]) -> None:
    """Behind a TLS-terminating proxy the app sees http; the cookies must still be Secure."""
    for forced in (False, True):
        app = build_app(secure_cookies=forced)
        # The browser speaks https to the proxy, so it sends Secure cookies back: by hand here.
        page = browser(app, ADMIN_HOME).get("/admin")
        login_csrf = page.headers["set-cookie"]
        assert ("; Secure" in login_csrf) is forced, login_csrf
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf is not None
        response = browser(app, ADMIN_HOME).post(
            "/admin/login",
            data={"token": ADMIN_TOKEN, "csrf": csrf.group(1)},
            headers={"cookie": login_csrf.split(";")[0]},
            follow_redirects=False,
        )
        assert response.status_code == 303
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith("undersigned_admin=")
        )
        assert ("; Secure" in cookie) is forced, cookie


def test_logout_ends_the_session_on_the_server(client: TestClient, seeded: str) -> None:
    assert attempt(client, ADMIN_TOKEN).status_code == 303
    copied = client.cookies["undersigned_admin"]
    review = client.get("/admin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', review.text)
    assert csrf is not None and "Review queue" in review.text
    out = client.post("/admin/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    # A copy of the cookie (another browser, a stolen one) is refused from now on.
    thief = TestClient(client.app)
    thief.cookies.set("undersigned_admin", copied, path="/admin")
    assert "Admin token" in thief.get("/admin").text
    forged = thief.post(
        "/admin/different",
        data={"organisation_a": "1", "organisation_b": "2", "csrf": csrf.group(1)},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    assert [e.actor for e in audit("admin.logout")] == ["env-admin"]


def test_two_logouts_of_one_session_at_once_both_succeed(engine, seeded: str) -> None:
    """Both requests verified the session before either revoked it: the second revocation finds
    the first one's row instead of failing on the unique nonce."""
    from app.admin import sessions

    with open_session(write=True) as session:
        cookie = sessions.issue(session, clear_token=ADMIN_TOKEN)
        admin = sessions.verify(session, cookie=cookie)
    assert admin is not None
    for _ in range(2):
        with open_session(write=True) as session:
            sessions.revoke(session, admin=admin)
            session.commit()
    with open_session() as session:
        assert sessions.verify(session, cookie=cookie) is None
