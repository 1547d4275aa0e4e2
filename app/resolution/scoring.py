"""Scores of organisations against organisations: the rules of rules.py, added up in order
(pure: no I/O, no session). bound.py adds up their bounds in the same order; decide.py says
what a score means.

Public API (also used by the admin duplicate scan):

- `score_names(names_a, names_b, *, website_a=None, website_b=None, country_a=None,
  country_b=None, rarity=None) -> (score, reasons)`: how likely two organisations, each given
  by all its names, are the same; symmetric (the larger of both directions). 0–100.
- `score_organisation(query, names, ...) -> OrgScore`: one direction, `query` being the
  submitted names and `names` a registered organisation's; the resolver uses this.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

from app.resolution.decide import REVIEW
from app.resolution.normalise import NameKey, name_key
from app.resolution.rules import (
    PairScore,
    PairsRead,
    Rarity,
    contradicting_acronym_rule,
    country_rule,
    near_miss_rule,
    place_rule,
    registrable_domain,
    same_site,
    score_pair,
    shared_acronym_rule,
    website_rule,
)


@dataclass
class OrgScore:
    score: float
    reasons: list[str] = field(default_factory=list)
    matched_name: str = ""
    query_name: str = ""


def score_organisation(
    query: Sequence[NameKey],
    names: Sequence[NameKey],
    *,
    rarity: Rarity | None = None,
    query_website: str | None = None,
    website: str | None = None,
    query_country: str | None = None,
    country: str | None = None,
    near_misses: bool = False,
    acronym_pairs: dict[tuple[NameKey, NameKey], PairScore] | None = None,
    read: PairsRead | None = None,
) -> OrgScore:
    """Submitted names (`query`) against all names of one registered organisation: the best
    pair of names (rules.score_pair), then the rules over all names of both sides, in this
    order (ScoreBound.__call__ bounds them in the same order).

    `near_misses`: a score below the review line is lifted to it, never further, when a pair
    of names a letter apart (rules.near_miss_rule) takes it there through the same rules. Only
    the duplicate queue asks for it (scan.score_pair); the resolver never does, so that a near
    miss can send a pair to a person but never move what signing decides.

    `acronym_pairs`: the pairs of names one of which is an acronym, scored before with the
    same `rarity` (filled as it goes). The duplicate scan meets every organisation having an
    acronym with every other having it, so it scores the same acronym against the same long
    names again and again; equal keys score equally (rules.score_pair is pure) and a
    PairScore is never changed once made.

    `read`: what ScoreBound found out about these names' pairs (rules.PairsRead): their
    whole-name rules' answers are reused, and only the pairs that may be the best are scored
    when no other pair can be read (_pairs_that_may_be_best)."""
    if not query or not names:
        return OrgScore(0.0)
    if acronym_pairs is None and read is not None and not near_misses:
        pairs = _pairs_that_may_be_best(query, names, rarity=rarity, read=read)
    elif acronym_pairs is None:
        pairs = [score_pair(q, r, rarity=rarity) for q in query for r in names]
    else:
        pairs = []
        for q in query:
            for r in names:
                if not (q.is_acronym or r.is_acronym):
                    pairs.append(score_pair(q, r, rarity=rarity))
                    continue
                pair = acronym_pairs.get((q, r))
                if pair is None:
                    pair = acronym_pairs[q, r] = score_pair(q, r, rarity=rarity)
                pairs.append(pair)
    over_all_names = partial(
        _over_all_names,
        query=query,
        names=names,
        query_website=query_website,
        website=website,
        query_country=query_country,
        country=country,
    )
    scored = over_all_names(pairs)
    if not near_misses or scored.score >= REVIEW:
        return scored
    lifted = [near_miss_rule(pair) for pair in pairs]
    if all(a is b for a, b in zip(lifted, pairs, strict=True)):
        return scored
    near = over_all_names(lifted)
    if near.score <= scored.score:
        return scored
    near.score = min(near.score, REVIEW)
    return near


def _pairs_that_may_be_best(
    query: Sequence[NameKey], names: Sequence[NameKey], *, rarity: Rarity | None, read: PairsRead
) -> list[PairScore]:
    """Every pair of names scored, in score_organisation's order, or, when no query name is an
    acronym, only those that may be the best: in the order of their bounds (`read.bounds`; 100
    for a pair ScoreBound did not bound) until one is bounded below the best score found.

    A pair left out scores below the best pair, so it can be neither the best nor tied with it,
    and without an acronym in the query the rules after the best pair read no other pair
    (shared_acronym_rule and contradicting_acronym_rule need the query's own acronym)."""
    pairs = [(q, r) for q in query for r in names]
    if len(pairs) == 1 or any(q.is_acronym for q in query):
        return [score_pair(q, r, rarity=rarity, read=read) for q, r in pairs]
    bounds = [read.bounds.get((id(q), id(r)), 100.0) for q, r in pairs]
    scored: dict[int, PairScore] = {}
    best = -1.0
    for number in sorted(range(len(pairs)), key=bounds.__getitem__, reverse=True):
        if bounds[number] < best:
            break  # the bounds only fall from here on
        q, r = pairs[number]
        pair = scored[number] = score_pair(q, r, rarity=rarity, read=read)
        best = max(best, pair.score)
    return [scored[number] for number in sorted(scored)]


def _over_all_names(
    pairs: Sequence[PairScore],
    *,
    query: Sequence[NameKey],
    names: Sequence[NameKey],
    query_website: str | None,
    website: str | None,
    query_country: str | None,
    country: str | None,
) -> OrgScore:
    """The best pair, then the rules over all names of both sides."""
    best = max(pairs, key=lambda p: (p.score, p.exact))
    score = best.score
    reasons = list(best.reasons)
    score, extra = place_rule(score, reasons, best=best, query=query, names=names, country=country)
    score = shared_acronym_rule(score, reasons, best=best, pairs=pairs, query=query)
    query_domain = registrable_domain(query_website)
    domain = registrable_domain(website)
    site = same_site(query_domain, domain, score)
    score, contradiction = contradicting_acronym_rule(
        score, reasons, pairs=pairs, query=query, names=names, same_site=site
    )
    score = website_rule(
        score,
        reasons,
        query_domain=query_domain,
        domain=domain,
        same_site=site,
        settled=not (extra or contradiction or best.two_bodies),
    )
    score = country_rule(score, reasons, query_country=query_country, country=country)
    return OrgScore(max(0.0, min(100.0, score)), reasons, best.candidate.raw, best.query.raw)


def score_names(
    names_a: Sequence[str],
    names_b: Sequence[str],
    *,
    website_a: str | None = None,
    website_b: str | None = None,
    country_a: str | None = None,
    country_b: str | None = None,
    rarity: Rarity | None = None,
) -> tuple[float, list[str]]:
    """Symmetric score of two organisations given by all their names; (0–100, reasons).

    `rarity(word)` may give the number of registered organisations using a word (the index's
    `rarity`); without it, no shortened form is considered rare enough to link.
    """
    keys_a = [name_key(n) for n in names_a if n.strip()]
    keys_b = [name_key(n) for n in names_b if n.strip()]
    forward = score_organisation(
        keys_a,
        keys_b,
        rarity=rarity,
        query_website=website_a,
        website=website_b,
        query_country=country_a,
        country=country_b,
    )
    backward = score_organisation(
        keys_b,
        keys_a,
        rarity=rarity,
        query_website=website_b,
        website=website_a,
        query_country=country_b,
        country=country_a,
    )
    best = forward if forward.score >= backward.score else backward
    return best.score, best.reasons
