"""Names two real, different organisations bear are never linked; true variants still are.

Each pair of tests/resolution/data/hard_negatives.tsv (and true_variants.tsv) is signed
through the API as a coordinator would: A on one open letter, then B on another. On both
databases.
"""

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from app.config import get_settings
from app.main import create_app
from app.resolution.decide import LINK
from app.resolution.names import split_signatory_line
from app.resolution.normalise import name_key, normalise
from app.resolution.scoring import score_organisation
from tests.factories import sign, signatory_names

DATA = Path(__file__).parent / "data"


def _pairs(file: str) -> list[tuple[str, str, str]]:
    rows = []
    for line in (DATA / file).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            a, b, kind = line.split("\t")
            rows.append((a, b, kind))
    return rows


HARD_NEGATIVES = _pairs("hard_negatives.tsv")
TRUE_VARIANTS = _pairs("true_variants.tsv")


def _names(line: str) -> list[str]:
    return [n.name for n in split_signatory_line(line)]


def test_the_hard_negatives_cover_every_kind() -> None:
    assert len(HARD_NEGATIVES) >= 60
    assert len(set(HARD_NEGATIVES)) == len(HARD_NEGATIVES)
    assert {kind for _, _, kind in HARD_NEGATIVES} >= {
        "reordered",
        "added_body",
        "parent_institute",
        "acronym_contradicts",
        "acronym_collision",
        "sibling",
        "chapter",
        "qualifier",
        "same_name_other_city",
        "type_swap",
        "one_word",
    }


def _score(query: str, registered: str) -> tuple[float, list[str]]:
    result = score_organisation(
        [name_key(n) for n in _names(query)], [name_key(n) for n in _names(registered)]
    )
    return result.score, result.reasons


@pytest.mark.parametrize(("a", "b", "kind"), HARD_NEGATIVES)
def test_hard_negative_scores_below_the_link_line_both_ways(a: str, b: str, kind: str) -> None:
    for query, registered in ((b, a), (a, b)):
        score, reasons = _score(query, registered)
        assert score < LINK, (kind, query, registered, reasons)


@pytest.mark.parametrize(("a", "b", "kind"), TRUE_VARIANTS)
def test_true_variant_scores_at_the_link_line(a: str, b: str, kind: str) -> None:
    score, reasons = _score(b, a)
    assert score >= LINK, (kind, b, a, reasons)
    assert reasons


@pytest.fixture
def unlimited_client(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """The app without its per-address rate limit: these tests sign hundreds of names from
    one address, far above the write budget of a real client."""
    monkeypatch.setenv("UNDERSIGNED_RATE_LIMIT_ENABLED", "false")
    get_settings.cache_clear()
    try:
        with TestClient(create_app()) as test_client:
            yield test_client
    finally:
        get_settings.cache_clear()  # the next read sees the environment monkeypatch restores


def _two_letters(client: TestClient, headers: dict[str, str], prefix: str) -> tuple[str, str]:
    slugs = (f"{prefix}-a", f"{prefix}-b")
    for slug in slugs:
        body = {
            "slug": slug,
            "title": "A letter",
            "lang": "en",
            "body": "We ask.",
            "status": "open",
        }
        response = client.post("/api/v1/letters", json=body, headers=headers)
        assert response.status_code == 201, response.text
    return slugs


@pytest.mark.slow
def test_hard_negatives_signed_on_two_letters_are_never_linked(
    unlimited_client: TestClient, coordinator_headers: dict[str, str]
) -> None:
    """B never joins A's organisation, and B's letter lists B. The registry grows pair by
    pair, so B may only ever be `existing` for an organisation bearing B's own name (the
    same name in an earlier pair)."""
    client = unlimited_client
    for number, (a, b, kind) in enumerate(HARD_NEGATIVES):
        first, second = _two_letters(client, coordinator_headers, f"hn{number}")
        a_id = sign(client, coordinator_headers, first, name=a, expect=(201,))["organisation_id"]
        signed = sign(client, coordinator_headers, second, name=b, expect=(201,))
        resolution = signed["resolution"]
        assert signed["organisation_id"] != a_id, (kind, a, b, resolution)
        if resolution["status"] == "existing":
            own = {normalise(n) for n in _names(b)}
            assert normalise(resolution["matched_name"]) in own, (kind, a, b, resolution)
        b_names = {b, *_names(b)}
        assert signatory_names(client, second) == [b], (kind, a, b)
        assert set(signatory_names(client, second, lang="en")) <= b_names, (kind, a, b)


@pytest.mark.slow
def test_true_variants_signed_on_two_letters_are_linked(
    unlimited_client: TestClient, coordinator_headers: dict[str, str]
) -> None:
    client = unlimited_client
    for number, (a, b, kind) in enumerate(TRUE_VARIANTS):
        first, second = _two_letters(client, coordinator_headers, f"tv{number}")
        a_id = sign(client, coordinator_headers, first, name=a, expect=(201,))["organisation_id"]
        signed = sign(client, coordinator_headers, second, name=b, expect=(201,))
        assert signed["resolution"]["status"] == "existing", (kind, a, b, signed["resolution"])
        assert signed["organisation_id"] == a_id, (kind, a, b)
        assert signatory_names(client, second) == [b]
