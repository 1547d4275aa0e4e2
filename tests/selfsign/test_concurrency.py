"""Two POSTs of one confirmation link at the same moment confirm once and sign once."""

import threading
from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import func, select

from app.db import open_session
from app.selfsign import service
from app.signatures.models import Signature
from tests.selfsign.conftest import Inbox, sign_request

API = "/api/v1"


def test_concurrent_confirmations_sign_once(
    client: TestClient, smtp: Inbox, self_sign_letter: Callable[..., str]
) -> None:
    slug = self_sign_letter(self_sign_counts_unverified=True)
    client.post(
        f"{API}/letters/{slug}/sign-requests",
        json=sign_request({"name": "Racing Org"}, "r@racing.example"),
    )
    token = smtp.links(smtp.messages[0])["confirm"]
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def confirm() -> None:
        barrier.wait()
        with open_session(write=True) as session:  # as a POST request
            results.append(service.confirm(session, token=token) is not None)
            session.commit()

    threads = [threading.Thread(target=confirm) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == [False, True]
    with open_session() as session:
        assert session.scalar(select(func.count()).select_from(Signature)) == 1
