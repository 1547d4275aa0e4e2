"""The word tables of app/resolution/data/ (tables.py): a malformed row fails loudly, and the
tables agree with one another (no database)."""

from pathlib import Path

import pytest

from app.resolution import normalise, tables
from app.resolution.lemmas import type_words


def test_rows_skip_comments_and_blank_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "t.tsv").write_text("# word\tcanonical\n\ncentre\tcenter\n", encoding="utf-8")
    monkeypatch.setattr(tables, "DATA", tmp_path)
    assert tables.rows("t", 2) == [("centre", "center")]


@pytest.mark.parametrize("row", ["centre center", "centre\tcenter\textra", "centre\t"])
def test_a_malformed_row_fails_naming_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, row: str
) -> None:
    # Spaces instead of a tab (an editor's doing), a field too many, an empty field.
    (tmp_path / "t.tsv").write_text(f"# word\tcanonical\n{row}\n", encoding="utf-8")
    monkeypatch.setattr(tables, "DATA", tmp_path)
    with pytest.raises(ValueError, match=r"t\.tsv, line 2"):
        tables.rows("t", 2)


def test_every_variant_and_translation_names_a_canonical_type_word() -> None:
    assert set(normalise._TYPE_VARIANTS.values()) <= normalise.TYPE_WORDS
    assert set(type_words().values()) <= normalise.TYPE_WORDS


def test_no_word_is_in_two_tables() -> None:
    # A word in two tables would be read by whichever _classify asks first.
    found = [
        normalise.STOPWORDS,
        normalise.TYPE_WORDS,
        frozenset(normalise._TYPE_VARIANTS),
        frozenset(normalise._CHAPTER_WORDS),
        frozenset(type_words()),
    ]
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            assert not a & b, a & b


def test_roles_of_type_words() -> None:
    assert normalise.LEGAL_FORMS < normalise._NO_BODY_OF_ITS_OWN < normalise.TYPE_WORDS
    assert {"inc", "ev", "asbl"} <= normalise.LEGAL_FORMS
    assert normalise.names_a_body("society")
    assert not normalise.names_a_body("campaign")
    assert not normalise.names_a_body("inc")
