"""Count sentences per language, reviewed sentence by sentence (exact text, every plural form).

Each row is (total, anonymous, sentence). The table covers every CLDR plural category that an
integer can take in each language, for the total and for the anonymous part; the coverage tests
below fail if a category is missing, so a new language cannot slip in half-reviewed.
"""

import pytest
from babel import Locale

from app.i18n.catalogs import SUPPORTED
from app.i18n.negotiation import ui_locale
from app.i18n.sentences import count_sentence

NNBSP = "\u202f"  # French thousands separator (CLDR)
NBSP = "\u00a0"  # Russian thousands separator (CLDR)

TABLE: dict[str, list[tuple[int, int, str]]] = {
    "en": [
        (0, 0, "0 organisations have signed"),
        (1, 0, "1 organisation has signed"),
        (2, 0, "2 organisations have signed"),
        (320, 39, "320 organisations have signed, 39 of them anonymously"),
        (321, 1, "321 organisations have signed, 1 of them anonymously"),
        (1234, 0, "1,234 organisations have signed"),
    ],
    "fr": [
        (0, 0, "0 organisation a signé"),
        (1, 0, "1 organisation a signé"),
        (2, 0, "2 organisations ont signé"),
        (320, 39, "320 organisations ont signé, dont 39 anonymement"),
        (21, 1, "21 organisations ont signé, dont une anonymement"),
        (1_000_000, 0, f"1{NNBSP}000{NNBSP}000 organisations ont signé"),
        (
            1234,
            1_000_000,
            f"1{NNBSP}234 organisations ont signé, dont 1{NNBSP}000{NNBSP}000 anonymement",
        ),
    ],
    "es": [
        (1, 0, "1 organización ha firmado"),
        (0, 0, "0 organizaciones han firmado"),
        (320, 39, "320 organizaciones han firmado, 39 de ellas de forma anónima"),
        (5, 1, "5 organizaciones han firmado, una de ellas de forma anónima"),
        (1_000_000, 0, "1.000.000 organizaciones han firmado"),
        (
            1_000_000,
            1_000_000,
            "1.000.000 organizaciones han firmado, 1.000.000 de ellas de forma anónima",
        ),
    ],
    "de": [
        (1, 0, "1 Organisation hat unterzeichnet"),
        (2, 0, "2 Organisationen haben unterzeichnet"),
        (320, 39, "320 Organisationen haben unterzeichnet, 39 davon anonym"),
        (3, 1, "3 Organisationen haben unterzeichnet, eine davon anonym"),
        (12345, 0, "12.345 Organisationen haben unterzeichnet"),
    ],
    "pt": [
        (0, 0, "0 organização assinou"),
        (1, 0, "1 organização assinou"),
        (2, 0, "2 organizações assinaram"),
        (320, 39, "320 organizações assinaram, 39 delas anonimamente"),
        (7, 1, "7 organizações assinaram, uma delas anonimamente"),
        (1_000_000, 1_000_000, "1.000.000 organizações assinaram, 1.000.000 delas anonimamente"),
    ],
    "ru": [
        (1, 0, "Письмо подписала 1 организация"),
        (21, 0, "Письмо подписала 21 организация"),
        (22, 0, "Письмо подписали 22 организации"),
        (4, 0, "Письмо подписали 4 организации"),
        (25, 0, "Письмо подписали 25 организаций"),
        (11, 0, "Письмо подписали 11 организаций"),
        (0, 0, "Письмо подписали 0 организаций"),
        (112, 0, "Письмо подписали 112 организаций"),
        (320, 39, "Письмо подписали 320 организаций, из них 39 — анонимно"),
        (321, 21, "Письмо подписала 321 организация, из них 21 — анонимно"),
        (23, 2, "Письмо подписали 23 организации, из них 2 — анонимно"),
        (1001, 1, f"Письмо подписала 1{NBSP}001 организация, из них 1 — анонимно"),
    ],
    # CLDR Arabic: zero 0, one 1, two 2, few n%100 in 3..10, many n%100 in 11..99, other.
    "ar": [
        (0, 0, "لم توقّع أي منظمة"),
        (1, 0, "وقّعت منظمة واحدة"),
        (2, 0, "وقّعت منظمتان"),
        (3, 0, "وقّعت 3 منظمات"),
        (10, 0, "وقّعت 10 منظمات"),
        (103, 0, "وقّعت 103 منظمات"),
        (11, 0, "وقّعت 11 منظمة"),
        (99, 0, "وقّعت 99 منظمة"),
        (100, 0, "وقّعت 100 منظمة"),
        (102, 0, "وقّعت 102 منظمة"),
        (320, 39, "وقّعت 320 منظمة، منها 39 منظمة دون الكشف عن هويتها"),
        (321, 1, "وقّعت 321 منظمة، منها منظمة واحدة دون الكشف عن هويتها"),
        (2, 2, "وقّعت منظمتان، منها منظمتان دون الكشف عن هويتيهما"),
        (40, 5, "وقّعت 40 منظمة، منها 5 منظمات دون الكشف عن هويتها"),
        (300, 200, "وقّعت 300 منظمة، منها 200 منظمة دون الكشف عن هويتها"),
        (1200, 0, "وقّعت 1,200 منظمة"),
    ],
    "zh_Hant": [
        (0, 0, "已有0個組織連署"),
        (1, 0, "已有1個組織連署"),
        (320, 39, "已有320個組織連署，其中39個為匿名連署"),
        (12345, 1, "已有12,345個組織連署，其中1個為匿名連署"),
    ],
    "zh_Hans": [
        (1, 0, "已有1个组织联署"),
        (320, 39, "已有320个组织联署，其中39个为匿名联署"),
        (2, 1, "已有2个组织联署，其中1个为匿名联署"),
    ],
    "ja": [
        (1, 0, "1団体が署名しました"),
        (320, 39, "320団体が署名しました（うち39団体は匿名）"),
        (1500, 1, "1,500団体が署名しました（うち1団体は匿名）"),
    ],
}

CASES = [(name, *row) for name, rows in TABLE.items() for row in rows]


@pytest.mark.parametrize(("name", "total", "anonymous", "sentence"), CASES)
def test_sentence(name: str, total: int, anonymous: int, sentence: str) -> None:
    assert count_sentence(ui_locale(name), total=total, anonymous=anonymous) == sentence


# Integers that reach every CLDR category of these languages (1_000_000 is French/Spanish/
# Portuguese "many").
_SAMPLE = [*range(0, 200), 1000, 1001, 1_000_000]


def _categories(name: str, numbers: list[int]) -> set[str]:
    rule = Locale.parse(name).plural_form
    return {rule(n) for n in numbers}


@pytest.mark.parametrize("name", sorted(SUPPORTED))
def test_table_covers_every_plural_category(name: str) -> None:
    reachable = _categories(name, _SAMPLE)
    totals = [total for total, _, _ in TABLE[name]]
    anonymous = [m for _, m, _ in TABLE[name] if m > 0]
    assert _categories(name, totals) == reachable
    assert _categories(name, anonymous) == reachable - {"zero"}


def test_expected_category_sets_follow_cldr() -> None:
    # Guards the table's premise: if babel's CLDR data changed these, the table needs review.
    assert _categories("ru", _SAMPLE) == {"one", "few", "many"}
    assert _categories("ar", _SAMPLE) == {"zero", "one", "two", "few", "many", "other"}
    assert _categories("ja", _SAMPLE) == _categories("zh_Hant", _SAMPLE) == {"other"}
    assert _categories("fr", _SAMPLE) == {"one", "many", "other"}
