"""Splitting a printed signatory line into names (acronym detection included)."""

import csv
from pathlib import Path

import pytest

from app.resolution.names import split_signatory_line

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
