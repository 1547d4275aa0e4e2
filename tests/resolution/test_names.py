"""Splitting a printed signatory line into names (acronym detection included)."""

import csv
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.resolution.names import NameError_, split_signatory_line
from app.resolution.normalise import name_key

SEED = Path(__file__).resolve().parents[2] / "seeds" / "signatories.csv"


@pytest.mark.parametrize(
    ("line", "names"),
    [
        (
            "Reporters Without Borders (Reporters sans frontières, RSF)",
            ["Reporters Without Borders", "Reporters sans frontières", "RSF"],
        ),
        (
            "Lesbian and Gay Federation in Germany LSVD",
            ["Lesbian and Gay Federation in Germany", "LSVD"],
        ),
        ("VAJ Vietnamese Association in Japan", ["VAJ", "Vietnamese Association in Japan"]),
        ("Fridays for Future, PCT", ["Fridays for Future, PCT"]),
        ("Friends of Tibet (NZ)", ["Friends of Tibet (NZ)"]),
        ("NGURUKA DEVELOPMENT AGENCY", ["NGURUKA DEVELOPMENT AGENCY"]),
        ("Free Tibet Campaign UK", ["Free Tibet Campaign UK"]),
        (
            "香港黎明, Dawn of Hong Kong, 香港の夜明け",
            ["香港黎明", "Dawn of Hong Kong", "香港の夜明け"],
        ),
    ],
)
def test_split(line: str, names: list[str]) -> None:
    assert [n.name for n in split_signatory_line(line)] == names


def test_every_seed_line_parses_with_one_primary_name() -> None:
    with SEED.open(encoding="utf-8-sig", newline="") as handle:
        lines = [row["name"] for row in csv.DictReader(handle) if row["name"].strip()]
    assert len(lines) == 281
    for line in lines:
        names = split_signatory_line(line)
        assert names and names[0].is_primary and sum(n.is_primary for n in names) == 1
        assert all(n.name.strip() == n.name and n.name for n in names)


@pytest.mark.parametrize(
    "line",
    [
        "Tenants Union (London)",
        "Women Lawyers Association (London)",
        "Tenants Union (Amsterdam)",
        "Tenants Union [Berlin]",
        "Tenants Union (Kyiv)",
        "Tenants Union (2)",
        "Tenants Union (No. 1)",
        "Tenants Union (II)",
        "Tenants Union (Hackney)",  # a place no table knows: one word that spells nothing
        "Tenants Union - London",
        "Tenants Union / London",
        "Tenants Union （伦敦）",
        "Amnesty International 香港",
        "Amnesty International (UK)",
        "Amnesty International (Youth)",
        "Amnesty International (Youth Wing)",
        "Free Tibet (Tibet Society UK)",
        "Tenants Union (NGO)",
        "Tenants Union (The)",
        "Tenants Union (...)",
        "ACAT - Togo",
        "Memorial (Москва)",
        "香港黎明 (分會)",
        "London (Tenants Union)",
        "alert(1) Org",
    ],
)
def test_a_qualifier_stays_in_the_name(line: str) -> None:
    """A place, a number, a type or chapter word, a stopword or punctuation is no name."""
    assert [n.name for n in split_signatory_line(line)] == [line]


@pytest.mark.parametrize(
    ("line", "names"),
    [
        ("Memorial (Мемориал)", ["Memorial", "Мемориал"]),
        ("Human Rights in Cambodia (HRIC)", ["Human Rights in Cambodia", "HRIC"]),
        (
            "Fédération internationale pour les droits humains (FIDH)",
            ["Fédération internationale pour les droits humains", "FIDH"],
        ),
        (
            "Philippine Human Rights Information Center (PhilRights)",
            ["Philippine Human Rights Information Center", "PhilRights"],
        ),
        (
            "Programa Venezolano de Educación-Acción en Derechos Humanos (Provea)",
            ["Programa Venezolano de Educación-Acción en Derechos Humanos", "Provea"],
        ),
        (
            "Action des Chrétiens pour l'Abolition de la Torture au Burundi(Acat-Burundi)",
            ["Action des Chrétiens pour l'Abolition de la Torture au Burundi", "Acat-Burundi"],
        ),
        ("Tenants Union (Tenants Union of Hackney)", ["Tenants Union", "Tenants Union of Hackney"]),
    ],
)
def test_another_name_is_split_off(line: str, names: list[str]) -> None:
    assert [n.name for n in split_signatory_line(line)] == names


@pytest.mark.parametrize(
    "line",
    [
        "<script>alert(1)</script> Org",
        '"><svg onload=alert(1)> Org',
        "Org <img src=x onerror=alert(1)>",
        "<!-- x --> Org",
        "(2)",
        "12345",
        "!!!",
    ],
)
def test_markup_and_names_without_a_letter_are_refused(line: str) -> None:
    with pytest.raises(NameError_):
        split_signatory_line(line)


@settings(max_examples=400, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                *("Tenants", "Union", "London", "(", ")", "[", "]", "-", "/", ",", "2", "No."),
                *("RSF", "UK", "香港", "黎明", "Memorial", "Мемориал", "Youth", "Society", "the"),
                "e.V.",
            ]
        ),
        min_size=1,
        max_size=9,
    ).map(" ".join)
)
def test_every_name_split_off_identifies(line: str) -> None:
    """Whatever the line, a line split into several names gives only names that can stand
    for an organisation (never a place, a number, a type word or punctuation alone)."""
    try:
        names = split_signatory_line(line)
    except NameError_:
        return
    assert names[0].is_primary and sum(n.is_primary for n in names) == 1
    if len(names) > 1:
        assert all(name_key(n.name).identifying for n in names), [n.name for n in names]
