"""Splitting a printed signatory line into names, and script detection (no database)."""

import pytest

from app.resolution.names import NameError_, split_signatory_line, validate_name
from app.resolution.scripts import detect_script


def names(line: str) -> list[str]:
    return [n.name for n in split_signatory_line(line)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "香港黎明, Dawn of Hong Kong, 香港の夜明け",
            ["香港黎明", "Dawn of Hong Kong", "香港の夜明け"],
        ),
        (
            "Reporters Without Borders (Reporters sans frontières, RSF)",
            ["Reporters Without Borders", "Reporters sans frontières", "RSF"],
        ),
        (
            "Federation for a Democratic China 民主中国陣線",
            ["Federation for a Democratic China", "民主中国陣線"],
        ),
        ("Friends of Tibet (NZ)", ["Friends of Tibet (NZ)"]),
        (
            "Asociación Civil Fuerza, Unión, Justicia, Solidaridad y Paz (FUNPAZ)",
            ["Asociación Civil Fuerza, Unión, Justicia, Solidaridad y Paz", "FUNPAZ"],
        ),
        ("Cambodian Alliance of Trade Union [CATU]", ["Cambodian Alliance of Trade Union", "CATU"]),
        (
            "【台灣民間支援香港協會】 Taiwanese Civil Aid to HKers",
            ["台灣民間支援香港協會", "Taiwanese Civil Aid to HKers"],
        ),
        (
            "Building Inclusive Society Tanzania Organization (BISTO).",
            ["Building Inclusive Society Tanzania Organization", "BISTO"],
        ),
        (
            "Southern Africa Human Rights Defenders Network- SAHRDN",
            ["Southern Africa Human Rights Defenders Network", "SAHRDN"],
        ),
        (
            "Réseau International des Droits Humains RIDH",
            ["Réseau International des Droits Humains", "RIDH"],
        ),
        ("Friends of Tibet - Austria", ["Friends of Tibet - Austria"]),
        (
            "International Society for Human Rights, Munich",
            ["International Society for Human Rights, Munich"],
        ),
        ("Human Rights in China", ["Human Rights in China"]),
    ],
)
def test_split_signatory_line(line: str, expected: list[str]) -> None:
    assert names(line) == expected


def test_first_name_is_primary_and_acronyms_flagged() -> None:
    parsed = split_signatory_line("Reporters Without Borders (Reporters sans frontières, RSF)")
    assert [n.is_primary for n in parsed] == [True, False, False]
    assert [n.is_acronym for n in parsed] == [False, False, True]


@pytest.mark.parametrize(
    ("text", "script"),
    [
        ("Dawn of Hong Kong", "Latn"),
        ("Liên Đoàn Công Giáo Việt Nam tại Đức", "Latn"),
        ("Московская Хельсинкская группа", "Cyrl"),
        ("مرصد الصحراء للنسلم والديمقراطية وحقوق الإنسان", "Arab"),
        ("台灣南社", "Hant"),
        ("国会", "Hans"),
        ("日本ウイグル協会", "Jpan"),
        ("日本人権財団", "Jpan"),
        ("香港黎明", "Hani"),
        ("한국인권", "Kore"),
    ],
)
def test_detect_script(text: str, script: str) -> None:
    assert detect_script(text) == script


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("   ", "empty"),
        ("\u200b\u200b\u200d", "invisible"),
        ("a" * 301, "at most 300"),
        ("Evil\u202eOrg", "bidi"),
        ("Bad\x07Bell", "control"),
        ("<script>alert(1)</script> Org", "markup"),
        ('"><svg onload=alert(1)> Org', "markup"),
        ("Org </b>", "markup"),
        ("12345", "letter"),
        ("(2) -- #", "letter"),
    ],
)
def test_validate_name_refuses(raw: str, problem: str) -> None:
    with pytest.raises(NameError_, match=problem):
        validate_name(raw)


def test_validate_name_normalises() -> None:
    assert validate_name("  Cafe\u0301   Society \n") == "Café Society"


@pytest.mark.parametrize("raw", ["Women <3 Rights", "A < B Collective", "Café & Co"])
def test_angle_brackets_that_open_no_tag_are_kept(raw: str) -> None:
    assert validate_name(raw) == raw
