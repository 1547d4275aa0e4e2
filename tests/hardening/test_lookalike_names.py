"""Look-alike and invisible characters in names (issue 14, finding 2).

A mostly-Cyrillic "Аmnеstу Intеrnаtiоnаl" would show on a public page exactly like Amnesty
International; zero-width characters inside a name made a second spelling no one can see; a
zero-width space or BOM before "=" skipped the CSV formula guard."""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.imports.export import neutralise
from app.imports.parsing import unneutralise
from app.resolution.lookalike import lookalike_word, strip_invisible
from app.resolution.names import NameError_, validate_name
from tests.factories import post_signature

# Cyrillic А, е, у, о among Latin letters.
TWIN = "\u0410mn\u0435st\u0443 Int\u0435rn\u0430ti\u043en\u0430l"


def sign_name(client: TestClient, headers: dict[str, str], name: str, **extra: object) -> Any:
    return post_signature(client, headers, "test-letter", {"organisation": {"name": name, **extra}})


def test_mixed_script_twin_of_a_name_is_refused_naming_the_field(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    assert sign_name(client, coordinator_headers, "Amnesty International").status_code == 201
    response = sign_name(client, coordinator_headers, TWIN)
    assert response.status_code == 422, response.text
    body = response.json()
    assert "organisation" in str(body.get("field")) and "name" in str(body.get("field"))
    assert "look-alike" in response.text
    # Nothing was created: the public list still shows one Amnesty International.
    listed = client.get("/api/v1/letters/test-letter/signatories").json()["data"]
    assert len(listed) == 1


def test_twin_refused_in_other_names_too(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    response = sign_name(client, coordinator_headers, "Some Group", other_names=[TWIN])
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    "name",
    [
        "Московская Хельсинкская группа",  # one script per word
        "Federation for a Democratic China 民主中国陣線",
        "香港の夜明け",
        "Ελληνικό Παρατηρητήριο των Συμφωνιών του Ελσίνκι",
        "Stand with HK@JPN",
    ],
)
def test_real_names_in_one_script_per_word_are_kept(name: str) -> None:
    assert lookalike_word(name) is None
    assert validate_name(name) == name


def test_invisible_characters_are_removed_before_storing(
    client: TestClient, coordinator_headers, make_letter
) -> None:
    make_letter(coordinator_headers)
    first = sign_name(client, coordinator_headers, "Amnesty International")
    assert first.status_code == 201, first.text
    make_letter(coordinator_headers, slug="second-letter")
    hidden = "Amnesty\u200b Inter\u200dnational\u200e\ufe0f"
    response = client.post(
        "/api/v1/letters/second-letter/signatures",
        json={"organisation": {"name": hidden}},
        headers=coordinator_headers,
    )
    assert response.status_code == 201, response.text
    # The same organisation, not a second one spelled with characters no one can see.
    assert response.json()["organisation_id"] == first.json()["organisation_id"]
    assert "\u200b" not in response.text and "\u200d" not in response.text


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Amnesty\u200bInternational", "AmnestyInternational"),
        ("\ufeffFree Tibet", "Free Tibet"),
        ("Free\u00adTibet\u2060", "FreeTibet"),
        ("Tibet\u200f Watch\u200e", "Tibet Watch"),
        ("Human Rights Watch\ufe0f\U000e0067", "Human Rights Watch"),
        # A joiner between Persian letters spells the word; between Latin ones it is padding.
        ("می\u200cخواهم", "می\u200cخواهم"),
        ("Amnesty\u200c International", "Amnesty International"),
    ],
)
def test_invisible_characters_stripped(raw: str, stored: str) -> None:
    assert validate_name(raw) == stored
    assert strip_invisible(raw) == stored


def test_only_invisible_characters_is_refused() -> None:
    with pytest.raises(NameError_):
        validate_name("\u200b\u200e\ufeff")


@pytest.mark.parametrize("prefix", ["\u200b", "\ufeff", "\u200e", "\u2060\u200b"])
def test_csv_formula_guard_looks_past_invisible_characters(prefix: str) -> None:
    cell = prefix + '=HYPERLINK("http://evil.example")'
    guarded = neutralise(cell)
    assert guarded.startswith("'")
    assert unneutralise(guarded) == cell
    assert neutralise("Amnesty International") == "Amnesty International"
