"""An organisation's name for a reader: language and script first, OpenCC between Chinese scripts."""

from dataclasses import dataclass

import pytest

from app.errors import BadRequest
from app.i18n.names import name_for, reader


@dataclass
class N:
    name: str
    lang: str | None
    script: str | None
    is_acronym: bool = False
    is_primary: bool = False


TAIWAN = [
    N("Taiwan Southern Society", "en", "Latn", is_primary=True),
    N("台灣南社", "zh-Hant", "Hant"),
]


def test_chinese_readers_get_their_script() -> None:
    assert name_for(TAIWAN, wanted=reader("zh-Hant"), display_name=None) == "台灣南社"
    assert name_for(TAIWAN, wanted=reader("zh-Hans"), display_name=None) == "台湾南社"
    assert name_for(TAIWAN, wanted=reader("zh-CN"), display_name=None) == "台湾南社"
    both = [*TAIWAN, N("台湾南社会", "zh-Hans", "Hans")]
    # A name written in the reader's script wins over a converted one.
    assert name_for(both, wanted=reader("zh-Hans"), display_name=None) == "台湾南社会"
    assert name_for(TAIWAN, wanted=reader("en"), display_name=None) == "Taiwan Southern Society"


def test_japanese_names_are_not_converted() -> None:
    japanese = [N("日本ウイグル協会", "ja", "Jpan")]
    assert name_for(japanese, wanted=reader("zh-Hans"), display_name="x") == "x"
    assert name_for(japanese, wanted=reader("ja"), display_name=None) == "日本ウイグル協会"


def test_no_match_keeps_the_printed_name_and_bad_tags_are_refused() -> None:
    russian = [N("Сахаровский Центр", "ru", "Cyrl")]
    assert name_for(russian, wanted=reader("ar"), display_name="Sakharov Center") == (
        "Sakharov Center"
    )
    assert name_for([], wanted=reader("ar"), display_name="Printed") == "Printed"
    with pytest.raises(BadRequest):
        reader("xx-not-a-tag-at-all")
