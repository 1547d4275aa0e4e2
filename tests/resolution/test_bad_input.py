"""Any text up to the name limit resolves or is refused with a 4xx naming the field: never a
500, never a hang, never a name made only of markup, digits or a place."""

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.resolution.bound import ScoreBound
from app.resolution.decide import LINK, REVIEW
from app.resolution.index import Index
from app.resolution.names import MAX_NAME_LENGTH, NameError_, split_signatory_line
from app.resolution.normalise import name_key
from app.resolution.scoring import score_names, score_organisation

REGISTRY = [
    ["Tenants Union (London)"],
    ["Reporters Without Borders", "Reporters sans frontières", "RSF"],
    ["香港黎明", "Dawn of Hong Kong", "香港の夜明け"],
    ["Мемориал", "Memorial"],
    ["London"],  # a name an older parser stored: it must never be a key for a link
    ["Human Rights First Society"],
]
# Pieces that reach the parser's and the scorer's corners: brackets, dashes, slashes, markup,
# numbers, places, acronyms, scripts, combining marks, invisible and bidi characters.
PIECES = [
    "(",
    ")",
    "[",
    "]",
    "【",
    "】",
    " - ",
    "/",
    ",",
    "、",
    "<",
    ">",
    "<script>",
    "alert(1)",
    "&lt;",
    "2",
    "No. 1",
    "London",
    "UK",
    "RSF",
    "HRIC",
    "Tenants",
    "Union",
    "Society",
    "e.V.",
    "香港",
    "黎明",
    "Мемориал",
    "مرصد",
    "\u0301",
    "\u200b",
    "\u202e",
    "\x00",
    " ",
]
lines = st.one_of(
    st.text(max_size=MAX_NAME_LENGTH),
    st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=MAX_NAME_LENGTH),
)


def _index() -> Index:
    index = Index()
    for number, names in enumerate(REGISTRY, start=1):
        index.upsert(number, names)
    return index


INDEX = _index()


@settings(max_examples=400, deadline=timedelta(seconds=2))
@given(lines)
def test_any_text_parses_and_scores_quickly_or_is_refused(line: str) -> None:
    try:
        parsed = split_signatory_line(line)
    except NameError_:
        return
    names = [n.name for n in parsed]
    assert names and all(0 < len(n) <= MAX_NAME_LENGTH for n in names)
    assert not any("<script" in n.casefold() for n in names)
    keys = [name_key(n) for n in names]
    for registered in REGISTRY:
        score, _ = score_names(names, registered)
        assert 0.0 <= score <= 100.0
        if registered == ["London"]:
            assert score < LINK  # a place alone is never enough to link
        registered_keys = [name_key(n) for n in registered]
        real = score_organisation(keys, registered_keys).score
        assert ScoreBound(keys)(registered_keys) >= real
    for _, result in INDEX.score(keys, minimum=REVIEW):
        assert 0.0 <= result.score <= 100.0


@pytest.mark.parametrize(
    "line",
    [
        "<script>alert(1)</script> Org",
        '"><svg onload=alert(1)> Org',
        "(2)",
        "No. 1",
        "London",
        "(London)",
        "UK",
        "Association",
    ],
)
def test_nothing_links_on_markup_digits_or_a_place(line: str) -> None:
    """Refused, or kept whole as a name that links to nothing on its own."""
    try:
        parsed = split_signatory_line(line)
    except NameError_:
        return
    assert [n.name for n in parsed] == [line]
    for _, result in INDEX.score([name_key(line)], minimum=REVIEW):
        assert result.score < LINK, result.reasons


@pytest.fixture
def open_letter(
    client: TestClient, make_letter: Callable[..., dict[str, object]], coordinator_headers
) -> str:
    make_letter(coordinator_headers, slug="bad-input")
    return "bad-input"


def _sign(
    client: TestClient, headers: dict[str, str], slug: str, organisation: dict[str, Any]
) -> Any:
    # ASCII-escaped JSON, as any client may send it: "\ud800" (a lone surrogate) included.
    return client.post(
        f"/api/v1/letters/{slug}/signatures",
        content=json.dumps({"organisation": organisation}),
        headers=headers | {"Content-Type": "application/json"},
    )


def _assert_4xx_names_the_field(response: Any, field: str) -> None:
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["error"] and body["detail"] and body["field"] == field, body


@pytest.mark.parametrize(
    "name",
    [
        "<script>alert(1)</script> Org",
        '"><svg onload=alert(1)> Org',
        "12345",
        "(2)",
        "\ud800 Org",
        "Org\u202e",
        "\x00Org",
        "a" * (MAX_NAME_LENGTH + 1),
    ],
)
def test_refused_names_answer_4xx_naming_the_field(
    client: TestClient, coordinator_headers: dict[str, str], open_letter: str, name: str
) -> None:
    signed = _sign(client, coordinator_headers, open_letter, {"name": name})
    _assert_4xx_names_the_field(signed, "organisation.name")
    other = {"name": "Valid Collective", "other_names": [name]}
    _assert_4xx_names_the_field(
        _sign(client, coordinator_headers, open_letter, other), "organisation.other_names"
    )
    if "\ud800" not in name:  # a URL cannot carry a lone surrogate
        matched = client.get(
            "/api/v1/organisations/match", params={"name": name}, headers=coordinator_headers
        )
        _assert_4xx_names_the_field(matched, "name")
    count = client.get(f"/api/v1/letters/{open_letter}/count").json()
    assert count["total"] == 0  # nothing half-written


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=lines)
def test_signing_any_text_never_fails_on_the_server(
    client: TestClient, coordinator_headers: dict[str, str], open_letter: str, name: str
) -> None:
    signed = _sign(client, coordinator_headers, open_letter, {"name": name})
    assert signed.status_code in (200, 201, 400, 422), signed.text
    if signed.status_code >= 400:
        _assert_4xx_names_the_field(signed, "organisation.name")
