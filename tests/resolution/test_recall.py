"""Recall on real-world spellings (issue 12): places after a name, acronyms across languages,
Cyrillic letters, office words; and the hard rule that none of it makes a false link.

Through the resolver on both databases (organisations created straight in the registry)."""

import pytest
from sqlmodel import Session

from app.resolution import registry
from app.resolution import service as resolution_service


def create(session: Session, name: str, *, country: str | None = None) -> int:
    names = resolution_service.parse_names(name=name)
    return registry.create(session, names=names, country=country)


def resolve(session: Session, name: str) -> resolution_service.Resolution:
    names = [n.name for n in resolution_service.parse_names(name=name)]
    return resolution_service.resolve(session, names=names, viewer=None)


@pytest.mark.parametrize(
    "query",
    [
        "World Uyghur Congress, Germany",
        "World Uyghur Congress (Germany)",
        "World Uyghur Congress, Berlin",
    ],
)
def test_place_of_the_registered_country_is_the_headquarters(session: Session, query: str) -> None:
    own = create(session, "World Uyghur Congress", country="DE")
    result = resolve(session, query)
    assert (result.status, result.organisation_id) == ("existing", own), result
    assert any("registered" in r for r in result.reasons)


def test_place_without_a_known_country_asks_a_person(session: Session) -> None:
    own = create(session, "World Uyghur Congress")
    result = resolve(session, "World Uyghur Congress, Germany")
    assert result.status == "needs_review"
    assert result.candidates[0].organisation_id == own
    assert any("chapter or office" in r for r in result.candidates[0].reasons)


def test_place_of_another_country_asks_a_person(session: Session) -> None:
    create(session, "Helsinki Foundation for Human Rights", country="PL")
    result = resolve(session, "Helsinki Foundation for Human Rights (Norway)")
    assert result.status != "existing"


def test_international_kind_is_never_linked_to_a_national_section(session: Session) -> None:
    # Even where the registry says the international body is based in that country.
    create(session, "Amnesty International", country="GB")
    for query in ("Amnesty International UK", "Amnesty International, UK"):
        result = resolve(session, query)
        assert result.status == "needs_review", (query, result)
        assert any("national section" in r for r in result.candidates[0].reasons)


def test_us_set_apart_after_the_name_is_a_place(session: Session) -> None:
    own = create(session, "Uyghur Human Rights Project", country="US")
    result = resolve(session, "Uyghur Human Rights Project, US")
    assert (result.status, result.organisation_id) == ("existing", own)
    # "US" inside a name is still a word.
    other = create(session, "Stand With US")
    assert resolve(session, "Stand with US").organisation_id == other


def test_sibling_in_another_place_is_not_the_headquarters(session: Session) -> None:
    create(session, "Students for a Free Tibet", country="US")
    assert resolve(session, "SFT Canada").status != "existing"
    assert resolve(session, "Students for a Free Tibet Canada").status != "existing"


@pytest.mark.parametrize(
    ("registered", "query"),
    [
        ("Uyghur Rights Advocacy Project", "URAP"),
        ("Toronto Association for Democracy in China", "TADC"),
        ("Alliance Canada Hong Kong", "ACHK"),
        ("East and Horn of Africa Human Rights Defenders Project", "EHAHRDP"),
        # An acronym-only entry and a full name in another language that spells it.
        ("FIDH", "Fédération internationale pour les droits humains"),
        ("Hong Kong Democracy Council (HKDC)", "Hong Kong Democratic Council"),
        # Small words written out in small letters: the capitals are the initials.
        ("International Coalition for the Responsibility to Protect", "ICRtoP"),
        ("ICRtoP", "International Coalition for the Responsibility to Protect"),
    ],
)
def test_acronym_links_to_the_one_name_with_its_initials(
    session: Session, registered: str, query: str
) -> None:
    own = create(session, registered)
    result = resolve(session, query)
    assert (result.status, result.organisation_id) == ("existing", own), result


@pytest.mark.parametrize(
    ("registered", "query"),
    [
        # "i" is no word: HRiC is not read as HRC.
        ("Human Rights Council", "HRiC"),
        # The word written out must be one of the long name's: "of" is not "to".
        ("International Coalition for the Responsibility to Protect", "ICRofP"),
    ],
)
def test_small_letters_in_an_acronym_must_be_words_it_spells(
    session: Session, registered: str, query: str
) -> None:
    create(session, registered)
    assert resolve(session, query).status != "existing"


def test_acronym_two_names_spell_is_for_a_person(session: Session) -> None:
    create(session, "Uyghur Rights Advocacy Project")
    create(session, "Urban Renewal Action Partnership")
    result = resolve(session, "URAP")
    assert result.status == "needs_review"
    assert len(result.candidates) == 2


def test_three_letter_initials_are_for_a_person(session: Session) -> None:
    create(session, "International Commission of Jurists")
    assert resolve(session, "ICJ").status == "needs_review"
    assert resolve(session, "ICJ Kenya").status != "existing"


def test_office_word_names_no_other_body(session: Session) -> None:
    own = create(session, "International Tibet Network")
    result = resolve(session, "International Tibet Network Secretariat")
    assert (result.status, result.organisation_id) == ("existing", own)


def test_short_i_is_its_own_letter(session: Session) -> None:
    own = create(session, "Гражданский форум")
    result = resolve(session, "Гражданский форум")
    assert (result.status, result.organisation_id) == ("existing", own)
    assert "exact" in " ".join(result.reasons) or result.score == 100.0


@pytest.mark.parametrize(
    ("registered", "query"),
    [
        ("Human Rights First", "Human Rights First Society"),
        ("Human Rights First", "Human Rights First Society – Saudi Arabia"),
        ("China Dialogue", "Dialogue China"),
        ("Dialogue China", "China Dialogue"),
        ("Amnesty International", "Amnesty International UK"),
        ("Amnesty International", "Amnesty International Canada"),
        ("International Commission of Jurists", "ICJ Kenya"),
    ],
)
def test_hard_negatives_stay_apart(session: Session, registered: str, query: str) -> None:
    own = create(session, registered)
    result = resolve(session, query)
    assert not (result.status == "existing" and result.organisation_id == own), result


@pytest.mark.parametrize(
    ("registered", "query", "gloss"),
    [
        ("Dialogue China", "对话中国", "dialogue china"),
        ("Canada Tibet Committee (CTC)", "加拿大西藏委員會", "canada tibet committee"),
        ("China Aid", "对华援助协会", "aid"),
    ],
)
def test_chinese_gloss_is_a_review_candidate_with_its_reason(
    session: Session, registered: str, query: str, gloss: str
) -> None:
    own = create(session, registered)
    create(session, "Human Rights Watch")
    result = resolve(session, query)
    assert result.status == "needs_review", result
    assert result.candidates[0].organisation_id == own
    reason = " ".join(result.candidates[0].reasons)
    assert reason.startswith("Chinese gloss:") and gloss in reason
    assert result.candidates[0].score < 90


def test_gloss_never_stands_in_the_way_of_a_link(session: Session) -> None:
    own = create(session, "对话中国")
    create(session, "Dialogue China")
    result = resolve(session, "对话中国")
    assert (result.status, result.organisation_id) == ("existing", own)


def test_gloss_that_covers_only_part_of_a_name_is_no_candidate(session: Session) -> None:
    create(session, "China Human Rights Defenders")
    assert resolve(session, "对话中国").candidates == []


def test_cyrillic_name_read_in_latin_letters(session: Session) -> None:
    own = create(session, "Сахаровский Центр")
    result = resolve(session, "The Sakharov Center")
    assert (result.status, result.organisation_id) == ("existing", own), result
    assert any("read as 'sakharov center'" in r for r in result.reasons)


def test_cyrillic_case_forms_and_type_words(session: Session) -> None:
    own = create(session, "Центр «Сова»")
    result = resolve(session, "Центра «Сова»")
    assert (result.status, result.organisation_id) == ("existing", own)
    # Комитет is the type word committee: a name without it is a person's call, as in English.
    create(session, 'Комитет "Гражданское содействие"')
    assert resolve(session, "Гражданское содействие").status == "needs_review"


def test_acronym_needing_stopwords_is_for_a_person(session: Session) -> None:
    # The seed letter itself lists HRIC and Human Rights in China as two signatories.
    create(session, "HRIC")
    assert resolve(session, "Human Rights in China").status == "needs_review"


@pytest.mark.parametrize(
    ("registered", "query"),
    [
        ("Hanbyun (Lawyers for Human Rights and Unification of Korea)", "한변"),
        ("MINBYUN - Lawyers for a Democratic Society", "민변"),
        ("민변", "Minbyeon"),
    ],
)
def test_hangul_links_to_its_romanisations(session: Session, registered: str, query: str) -> None:
    own = create(session, registered)
    result = resolve(session, query)
    assert (result.status, result.organisation_id) == ("existing", own), result
    assert any("romanisation of Korean" in r for r in result.reasons)


@pytest.mark.parametrize(
    ("registered", "query"),
    [
        ("Hanbyul", "한변"),  # another syllable: another name
        ("Minbyun Foundation", "민변"),  # a body named after it, not its spelling
        ("Seoul", "서울"),  # a place names nobody
    ],
)
def test_hangul_readings_do_not_link_other_names(
    session: Session, registered: str, query: str
) -> None:
    create(session, registered)
    assert resolve(session, query).status != "existing"
