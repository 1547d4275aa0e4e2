"""Pure pair scoring and the blocking index (no database)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.resolution.index import Index
from app.resolution.normalise import name_key
from app.resolution.scoring import (
    LINK,
    MARGIN,
    REVIEW,
    decide,
    registrable_domain,
    score_names,
    score_organisation,
)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (["FORUM-ASIA"], ["Asian Forum for Human Rights and Development", "FORUM-ASIA"]),
        (["Frontline Defenders"], ["Front Line Defenders"]),
        (["台湾南社"], ["台灣南社"]),
        (["Students for a Free Tibet Japan"], ["SFT Japan"]),
        (["Lawyers for Lawyers", "L4L"], ["Lawyers for Lawyers"]),
        (["Free Tibet Campaign"], ["Free Tibet"]),
        (["Việt Tân"], ["Viet Tan"]),
        (["台灣南社", "Taiwan Southern Society"], ["台灣南社"]),
        (["ISHR Munich"], ["International Society for Human Rights, Munich"]),
        (["China Aid", "ChinaAid"], ["China Aid, Inc."]),  # a legal form names no other body
        (["China Aid"], ["ChinaAid"]),  # the same letters spell the same place
        (["Tibet Initiative Deutschland e.V."], ["Tibet Initiative Deutschland"]),
        (["Reporters Without Borders", "RSF"], ["Reporters Without Borders"]),
    ],
)
def test_same(a: list[str], b: list[str]) -> None:
    score, reasons = score_names(a, b)
    assert score >= LINK, reasons
    assert reasons


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (["ACAT Belgium"], ["ACAT-Switzerland"]),
        (["Amnesty International Taiwan"], ["Amnesty International"]),
        (["Japan Uyghur Association"], ["Japan Uyghur Union"]),
        (["台灣南社"], ["台灣客社"]),
        (["ウイグル協会"], ["ウイクル協会"]),
        (["Canada Tibet Society"], ["Canada Tibet Committee"]),
        (["World Uyghur Youth Union"], ["World Uyghur Congress"]),
        (["Human Rights in China"], ["Chinese Human Rights Defenders"]),
        (["Dialogue China"], ["China Dialogue"]),
        (["Human Rights First Society"], ["Human Rights First"]),
        (["Human Rights in Cambodia", "HRIC"], ["Cambodian Center for Human Rights"]),
        (["Human Rights First", "HRF"], ["Human Rights Foundation", "HRF"]),
        (["London"], ["London"]),
        (["Tenants Union", "London"], ["Women Lawyers Association", "London"]),
    ],
)
def test_not_linked(a: list[str], b: list[str]) -> None:
    score, reasons = score_names(a, b)
    assert score < LINK, reasons


@pytest.mark.parametrize(
    ("a", "b", "why"),
    [
        (["Dialogue China"], ["China Dialogue"], "another order"),
        (["Human Rights First Society"], ["Human Rights First"], "'society'"),
        (["Oxfam"], ["Oxfam International"], "'international'"),
        (["(2)"], ["(2)"], "names only a place, a number or a type"),
        (["UK"], ["UK"], "names only a place"),
        (["Association"], ["Association"], "names only a place, a number or a type"),
    ],
)
def test_two_bodies_could_bear_the_names(a: list[str], b: list[str], why: str) -> None:
    """The names fit, but two real organisations could bear them: review, never a link."""
    score, reasons = score_names(a, b)
    assert REVIEW <= score < LINK, reasons
    assert any(why in r for r in reasons), reasons


def test_an_acronym_that_contradicts_the_candidate_asks_for_review() -> None:
    # The CJK names are equal, but the query's own acronym spells a long name that is not
    # the candidate's (one direction, as the resolver scores a submitted organisation).
    result = score_organisation(
        [name_key(n) for n in ("Human Rights in Cambodia", "HRIC", "柬埔寨人权中心")],
        [name_key(n) for n in ("Cambodian Center for Human Rights", "柬埔寨人权中心")],
    )
    score, reasons = result.score, result.reasons
    assert REVIEW <= score < LINK, reasons
    assert any("acronym HRIC spells 'Human Rights in Cambodia'" in r for r in reasons), reasons
    # Full names that link are evidence enough: FTC only adds a word that names no body.
    score, reasons = score_names(["Free Tibet Campaign", "FTC"], ["Free Tibet"])
    assert score >= LINK, reasons


def test_an_acronym_that_spells_another_language_says_nothing() -> None:
    # FIDH spells the French name: beside the English one it contradicts nothing.
    score, reasons = score_names(
        ["International Federation for Human Rights", "FIDH"],
        ["International Federation for Human Rights"],
    )
    assert score >= LINK, reasons
    assert not any("acronym" in r for r in reasons)


def test_a_shared_website_does_not_settle_two_bodies() -> None:
    same_site = {"website_a": "https://www.ibanet.org/a", "website_b": "https://ibanet.org"}
    for a, b in [
        (["Human Rights First"], ["Human Rights First Society"]),
        (
            ["International Bar Association"],
            ["International Bar Association Human Rights Institute"],
        ),
        (["Human Rights in Cambodia", "HRIC"], ["Cambodian Center for Human Rights"]),
    ]:
        score, reasons = score_names(a, b, **same_site)
        assert score < LINK, (a, b, reasons)


def test_reasons_name_the_discriminator() -> None:
    score, reasons = score_names(["ACAT Canada"], ["ACAT Belgium"])
    assert score < REVIEW
    assert any("Canada" in r and "Belgium" in r for r in reasons)


def test_three_letter_initials_are_review_only() -> None:
    score, reasons = score_names(["UHR"], ["Uyghur Human Rights"])
    assert REVIEW <= score < LINK
    assert any("initials" in r for r in reasons)


def test_longer_initials_reach_the_link_line_in_any_language() -> None:
    # Whether they link is the resolver's: only when no other candidate has them (margin).
    score, reasons = score_names(["UHRP"], ["Uyghur Human Rights Project"])
    assert score == LINK
    assert any("initials" in r for r in reasons)
    # FIDH comes from the French name; the registry holds the acronym only.
    score, _ = score_names(["Fédération internationale pour les droits humains"], ["FIDH"])
    assert score == LINK
    # The places the acronym spells are not places it leaves out: ACHK.
    score, _ = score_names(["ACHK"], ["Alliance Canada Hong Kong"])
    assert score == LINK


def test_website_domain() -> None:
    assert registrable_domain("https://www.amnesty.org.uk/x") == "amnesty.org.uk"
    assert registrable_domain("http://hrw.org") == "hrw.org"
    plain, _ = score_names(["Uyghur Projects"], ["Uyghur Human Rights Project"])
    same, reasons = score_names(
        ["Uyghur Projects"],
        ["Uyghur Human Rights Project"],
        website_a="https://uhrp.org/about",
        website_b="http://www.uhrp.org",
    )
    assert same > plain and any("uhrp.org" in r for r in reasons)


REGISTRY = [
    ["Amnesty International"],
    ["Amnesty International Taiwan"],
    ["ACAT Belgium"],
    ["ACAT-Switzerland"],
    ["Front Line Defenders"],
    ["台灣南社"],
    ["台灣客社"],
    ["Reporters Without Borders", "Reporters sans frontières", "RSF"],
    ["Japan Uyghur Association"],
    ["Japan Uyghur Union"],
    ["Asian Forum for Human Rights and Development", "FORUM-ASIA"],
]


def _index(order: list[int]) -> Index:
    index = Index()
    for i in order:
        index.upsert(i + 1, REGISTRY[i])
    return index


def test_blocking_never_scans_everything() -> None:
    index = _index(list(range(len(REGISTRY))))
    blocked = index.block([name_key("RSF")])
    assert blocked[0] == 8
    assert len(blocked) < len(REGISTRY)


def test_remove_and_upsert() -> None:
    index = _index(list(range(len(REGISTRY))))
    index.remove(5)
    assert all(oid != 5 for oid, _, _ in index.candidates_for_names(["Front Line Defenders"]))
    index.upsert(5, ["Front Line Defenders", "FLD"])
    assert index.candidates_for_names(["FLD"])[0][0] == 5


@settings(max_examples=60, deadline=None)
@given(
    st.permutations(list(range(len(REGISTRY)))),
    st.sampled_from(
        ["Amnesty International", "ACAT", "Frontline Defenders", "台湾南社", "RSF", "Japan Uyghur"]
        + [n for names in REGISTRY for n in names]
    ),
)
def test_independent_of_registry_order(order: list[int], query: str) -> None:
    baseline = _index(list(range(len(REGISTRY)))).candidates_for_names([query])
    shuffled = _index(order).candidates_for_names([query])
    assert shuffled == baseline


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=3))
def test_arbitrary_unicode_never_raises(names: list[str]) -> None:
    index = _index(list(range(len(REGISTRY))))
    first = index.candidates_for_names(names)
    assert first == index.candidates_for_names(names)
    assert all(0.0 <= score <= 100.0 for _, score, _ in first)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=100), min_size=1, max_size=6),
    st.dictionaries(
        st.tuples(st.integers(1, 6), st.integers(1, 6)).filter(lambda p: p[0] < p[1]),
        st.sampled_from(["same", "different"]),
        max_size=8,
    ),
)
def test_decide_never_links_across_a_different_judgement(
    scores: list[float], judgements: dict[tuple[int, int], str]
) -> None:
    ranked = sorted(
        ((i + 1, s) for i, s in enumerate(scores)), key=lambda pair: (-pair[1], pair[0])
    )
    reasons = decide(ranked, judgements)
    assert reasons == decide(ranked, judgements)  # deterministic
    if reasons:
        return
    best_id, best = ranked[0]
    assert best >= LINK
    for other, score in ranked[1:]:
        verdict = judgements.get((min(best_id, other), max(best_id, other)))
        if verdict == "different":
            assert score < LINK
        if verdict != "same":
            assert best - score >= MARGIN
