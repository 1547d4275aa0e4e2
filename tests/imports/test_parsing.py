"""Parsing uploads: pasted numbered lists, CSV, encodings (no database)."""

from pathlib import Path

import pytest

from app.errors import BadRequest
from app.imports.parsing import decode, parse_csv, parse_pasted_list, parse_text, unneutralise

DATA = Path(__file__).parent / "data"
HEADER = "position,name,other_names,kind,lang,country,website,anonymous\n"


def test_seed_block_has_281_entries_and_the_footnote() -> None:
    pasted = parse_pasted_list((DATA / "seed004_signatories.txt").read_text(encoding="utf-8"))
    assert [e.number for e in pasted.entries] == list(range(1, 282))
    assert pasted.entries[0].text == "21Wilberforce"
    assert pasted.entries[9].text == "ACTION FOR DEVELOPMENT"  # "- 10.ACTION FOR DEVELOPMENT"
    assert pasted.entries[101].text == "Ghjtrn для трансгендерных людей и их близких T*Revers"
    assert (
        pasted.entries[147].text == "Kalikasan People's Network for the Environment (Kalikasan PNE)"
    )
    assert pasted.entries[280].text == "香港黎明, Dawn of Hong Kong, 香港の夜明け"
    assert [text for _, text in pasted.notes] == [
        "*連署團體共計 321 個。然而，其中有 39 個組織選擇匿名。"
    ]


def test_numbering_styles_wraps_blank_lines_and_page_breaks() -> None:
    text = (
        "Signed by:\n"
        "1. Alpha Network\n"
        "- 2.Beta Fund\n"
        "3) Gamma (Fundación\n"
        "\n"
        "\fGamma)\n"
        "4、台灣南社\n"
        "5. Delta Association of\n"
        "\n"
        "Lawyers\n"
        "6. Epsilon\n"
        "\n"
        "Individuals\n"
        "7. Zeta, Eta Society, 澤塔\n"
        "* Total: 7, of which 2 anonymous\n"
    )
    pasted = parse_pasted_list(text)
    assert [(e.number, e.text) for e in pasted.entries] == [
        (1, "Alpha Network"),
        (2, "Beta Fund"),
        (3, "Gamma (Fundación Gamma)"),
        (4, "台灣南社"),
        (5, "Delta Association of Lawyers"),
        (6, "Epsilon"),
        (7, "Zeta, Eta Society, 澤塔"),
    ]
    assert pasted.notes == [
        (1, "Signed by:"),
        (13, "Individuals"),
        (15, "* Total: 7, of which 2 anonymous"),
    ]
    assert pasted.entries[2].line == 4


def test_footnote_right_after_the_last_entry_is_not_joined_to_it() -> None:
    pasted = parse_pasted_list("1. Alpha\n2. Beta\n\\*321 in total, 39 anonymous\n")
    assert [e.text for e in pasted.entries] == ["Alpha", "Beta"]
    assert pasted.notes == [(3, "*321 in total, 39 anonymous")]


def test_text_without_numbered_entries_is_refused() -> None:
    with pytest.raises(BadRequest) as caught:
        parse_text("just some words\nand more\n")
    assert caught.value.error == "empty_file"


def test_decode_names_the_line_of_a_bad_byte_and_drops_a_bom() -> None:
    assert decode("\ufeffname\n".encode()) == "name\n"
    with pytest.raises(BadRequest) as caught:
        decode(b"line one\nline two\nbad \xe9t\xe9\n")
    assert caught.value.error == "invalid_encoding"
    assert "line 3" in caught.value.detail
    with pytest.raises(BadRequest) as empty:
        decode(b"\xef\xbb\xbf \n\n")
    assert empty.value.error == "empty_file"


def test_csv_rows_columns_and_row_errors() -> None:
    text = (
        "name,anonymous,position,other_names,kind,lang,country,website,extra\n"
        "Alpha,false,1,Alfa|ALF,organisation,en,TW,alpha.org,x\n"
        ",true,2,,,,,,\n"
        '"Multi\nline",no,3,,,,,,\n'
        "Beta,maybe,4,,,,,,\n"
        ",false,5,,,,,,\n"
        "'=cmd,false,x,'+Other|'-Third,,,,,\n"
        "Gamma,false,7,,,,,,,,,\n"
    )
    parsed = parse_csv(text)
    rows = parsed.rows
    assert [r.line for r in rows] == [2, 3, 4, 6, 7, 8, 9]
    assert (rows[0].name, rows[0].other_names, rows[0].country, rows[0].position) == (
        "Alpha",
        ["Alfa", "ALF"],
        "TW",
        1,
    )
    assert rows[1].anonymous and rows[1].name == "" and rows[1].error is None
    assert rows[2].name == "Multi\nline" and rows[2].error is None
    assert rows[3].error == "anonymous must be true or false"
    assert rows[4].error == "name is required unless anonymous is true"
    assert rows[5].name == "=cmd" and rows[5].other_names == ["+Other", "-Third"]
    assert rows[5].error == "position must be a whole number from 1"
    assert rows[6].error is not None and "cells" in rows[6].error
    assert [n.text for n in parsed.notes] == ["ignored column(s): extra"]


def test_csv_header_problems() -> None:
    with pytest.raises(BadRequest) as missing:
        parse_csv("position,country,kind\n1,TW,organisation\n")
    assert missing.value.error == "missing_columns"
    assert "lacks the column name" in missing.value.detail
    with pytest.raises(BadRequest) as header_only:
        parse_csv(HEADER)
    assert header_only.value.error == "empty_file"


def test_unneutralise_only_strips_the_export_guard() -> None:
    assert unneutralise("'=SUM(A1)") == "=SUM(A1)"
    assert unneutralise("'@home") == "@home"
    assert unneutralise("'t Hooft Foundation") == "'t Hooft Foundation"
    assert unneutralise("'") == "'"


def test_neutralise_every_trigger_and_undo_it() -> None:
    from app.imports.export import neutralise

    for cell in ("=1+2", "+1", "-1", "@SUM(A1)", "\tcmd", "\rcmd"):
        assert neutralise(cell) == "'" + cell
        assert unneutralise(neutralise(cell)) == cell
    for cell in ("Access Now", "1=1", "", "'quoted"):
        assert neutralise(cell) == cell


def test_csv_needs_only_the_name_column() -> None:
    parsed = parse_csv("name,country\nTaiwan Association for Human Rights,TW\nAlpha,\n")
    first, second = parsed.rows
    assert (first.name, first.country, first.position, first.kind) == (
        "Taiwan Association for Human Rights",
        "TW",
        None,
        "organisation",
    )
    assert (first.anonymous, first.other_names, first.lang, first.website) == (
        False,
        [],
        None,
        None,
    )
    assert second.name == "Alpha" and second.country is None and second.error is None
    assert parsed.notes == []
    (only,) = parse_csv("name\nBeta\n").rows
    assert only.name == "Beta" and only.error is None
