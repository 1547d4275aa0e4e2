"""Resolution reveals nothing hidden: a differential property test, on both databases.

Two worlds share one registry of public organisations (signed by name on an open letter) and
one coordinator of letter B, whose own letter has an anonymous signer of its own. The second
world also holds organisations hidden from that coordinator (signed only anonymously on
letter A): namesakes of public ones, near names, and names the coordinator then submits.
Whatever the coordinator asks — `GET /organisations/match`, a dry-run import, signing one by
one, and matching again afterwards — the answers must be identical in both worlds, apart from
the ids of rows created meanwhile (the hidden organisations take ids too).
"""

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from app.config import get_settings
from app.db import open_session
from app.letters import service as letter_service
from app.resolution import registry
from app.resolution import service as identity
from app.signatures.models import Signature
from tests.conftest import wipe

API = "/api/v1"
HEADER = "position,name,other_names,kind,lang,country,website,anonymous\n"
WORDS = [
    "Lantern",
    "Harbour",
    "Rights",
    "Watch",
    "Network",
    "Tibet",
    "Exile",
    "Defenders",
    "Society",
    "Kenya",
    "Orchard",
    "Union",
]
name = st.lists(st.sampled_from(WORDS), min_size=2, max_size=4, unique=True).map(" ".join)


def typo(text: str) -> str:
    return text[:-1] if len(text) > 6 else text + "s"


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[str], list[str], list[str]]:
    public = draw(st.lists(name, min_size=1, max_size=5, unique=True))
    hidden = draw(
        st.lists(
            st.one_of(st.sampled_from(public), st.sampled_from(public).map(typo), name),
            min_size=1,
            max_size=4,
        )
    )
    queries = draw(
        st.lists(
            st.one_of(
                st.sampled_from(hidden),
                st.sampled_from(hidden).map(typo),
                st.sampled_from(public),
                name,
            ),
            min_size=1,
            max_size=4,
        )
    )
    return public, hidden, queries


@pytest.fixture
def unlimited(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app without rate limits: the examples send hundreds of writes in seconds, which
    would also drain the shared app's budget for the tests after this one."""
    from app.main import create_app

    monkeypatch.setenv("UNDERSIGNED_RATE_LIMIT_ENABLED", "false")
    get_settings.cache_clear()
    with TestClient(create_app()) as client:
        yield client
    monkeypatch.undo()
    get_settings.cache_clear()


class Answers:
    """Everything the coordinator of letter B is told, with the ids of rows created after the
    shared registry replaced by their order of appearance."""

    def __init__(self, known: set[int]) -> None:
        self.known = known
        self.created: dict[int, str] = {}
        self.log: list[Any] = []

    def _ids(self, value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: self._ids(v, k) for k, v in value.items() if k not in ("id", "signed_at")}
        if isinstance(value, list):
            return [self._ids(v, key) for v in value]
        if key == "organisation_id" and isinstance(value, int) and value not in self.known:
            return self.created.setdefault(value, f"created-{len(self.created)}")
        return value

    def add(self, status: int, body: Any) -> None:
        self.log.append((status, self._ids(body)))


def build(
    client: TestClient,
    make_token: Callable[..., str],
    admin: dict[str, str],
    *,
    public: list[str],
    hidden: list[str],
) -> tuple[dict[str, str], set[int]]:
    """The shared registry, then (when given) the hidden organisations; the coordinator of B
    and the ids of the shared registry."""
    for slug in ("letter-v", "letter-a"):
        body = {"slug": slug, "title": "t", "lang": "en", "status": "open"}
        assert client.post(f"{API}/letters", json=body, headers=admin).status_code == 201
    coordinator = {"Authorization": f"Bearer {make_token('coordinator')}"}
    body = {"slug": "letter-b", "title": "t", "lang": "en", "status": "open"}
    assert client.post(f"{API}/letters", json=body, headers=coordinator).status_code == 201
    known = set()
    for text in public:
        response = client.post(
            f"{API}/letters/letter-v/signatures",
            json={"organisation": {"name": text}},
            headers=admin,
        )
        assert response.status_code in (200, 201), response.text
        known.add(response.json()["organisation_id"])
    own = client.post(
        f"{API}/letters/letter-b/signatures",
        json={"organisation": {"name": "Quiet Lantern Collective"}, "anonymous": True},
        headers=coordinator,
    )
    assert own.status_code == 201, own.text
    known.add(own.json()["organisation_id"])
    # Organisations known only from anonymous signatures on letter A, each its own (as when
    # each signed anonymously before any namesake signed publicly).
    with open_session(write=True) as session:
        letter = letter_service.get_by_slug(session, slug="letter-a")
        assert letter is not None and letter.id is not None
        for position, text in enumerate(hidden, start=1):
            organisation_id = registry.create(session, names=identity.parse_names(name=text))
            session.add(
                Signature(
                    letter_id=letter.id,
                    organisation_id=organisation_id,
                    anonymous=True,
                    position=position,
                )
            )
        session.commit()
    return coordinator, known


def ask(
    client: TestClient, coordinator: dict[str, str], known: set[int], queries: list[str]
) -> Answers:
    answers = Answers(known)

    def match_all() -> None:
        for text in queries:
            found = client.get(
                f"{API}/organisations/match", params={"name": text}, headers=coordinator
            )
            answers.add(found.status_code, found.json())

    match_all()
    csv = HEADER + "".join(f"{i},{text},,,,,,false\n" for i, text in enumerate(queries, 1))
    planned = client.post(
        f"{API}/letters/letter-b/imports",
        params={"dry_run": "true"},
        content=csv.encode(),
        headers=coordinator | {"Content-Type": "text/csv"},
    )
    answers.add(planned.status_code, planned.json())
    for text in queries:
        # How signing goes about it (claim first, or decide first: decision 0117) is part of
        # the work a hidden organisation must not change either.
        answers.log.append(("borne", registry.bears_exactly(identity.query_keys([text]))))
        signed = client.post(
            f"{API}/letters/letter-b/signatures",
            json={"organisation": {"name": text}},
            headers=coordinator,
        )
        answers.add(signed.status_code, signed.json())
    match_all()
    return answers


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@example(
    world=(
        ["Lantern Rights Watch", "Harbour Exile Network"],
        ["Lantern Rights Watch", "Lantern Rights Watc", "Tibet Orchard Union"],
        ["Tibet Orchard Union", "Lantern Rights Watch", "Harbour Exile Networ", "Tibet Orchard"],
    )
)
@example(
    # Chinese glosses are candidates too: a hidden "Dialogue China" is never one.
    world=(
        ["Canada Tibet Committee", "Harbour Exile Network"],
        ["Dialogue China", "China Aid"],
        ["对话中国", "加拿大西藏委員會", "对华援助协会"],
    )
)
@given(world=worlds())
def test_answers_are_the_same_with_and_without_hidden_organisations(
    engine: Engine,
    unlimited: TestClient,
    make_token: Callable[..., str],
    admin_headers: dict[str, str],
    world: tuple[list[str], list[str], list[str]],
) -> None:
    public, hidden, queries = world
    told = []
    for with_hidden in (False, True):
        wipe(engine)
        coordinator, known = build(
            unlimited,
            make_token,
            admin_headers,
            public=public,
            hidden=hidden if with_hidden else [],
        )
        told.append(ask(unlimited, coordinator, known, queries).log)
    assert json.dumps(told[0], sort_keys=True) == json.dumps(told[1], sort_keys=True)
