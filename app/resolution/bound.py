"""A cheap upper bound of scoring.score_organisation for one query, made of the bounds that
rules.py keeps beside each rule, added up in the order scoring.py applies the rules.

The resolver skips candidates bounded below the review line and below the best score it
already has (Index.score), so a bound below the score would hide a runner-up (a false link)
or the best candidate (a missed duplicate): tests/resolution/test_bounds.py checks it.
"""

from collections.abc import Sequence

from app.resolution.normalise import NameKey
from app.resolution.rules import (
    PairsRead,
    alignable_words,
    country_bound,
    near_miss_bound,
    place_bound,
    registrable_domain,
    shared_acronym_bound,
    website_bound,
    whole_name_bound,
    word_pair_bound,
)


class ScoreBound:
    """Cheap upper bounds of score_organisation(query, names, ...) for one query.

    The best pair score is bounded without aligning words: the rules that read whole names
    (CJK, other scripts, acronyms) as they are, word alignment by its bound
    (rules.whole_name_bound, rules.word_pair_bound). When every pair is bounded below 100 that
    way, no pair is read as an acronym, spells one or has the same letters, so nothing is
    `consumed` and the caps for places, websites and countries apply as they will to the real
    score; only the same website domain raises a score. The other rules (word
    order, added body words, names that identify nothing, contradicting and shared acronyms)
    only lower it. With `near_misses` (score_organisation's), a pair a letter apart is bounded
    at least at the review line (rules.near_miss_bound).

    `bounds` also gives the bound with rules.shared_acronym_bound: the duplicate scan meets
    every pair of the organisations that share an acronym, and bounds each direction by it so
    as to score one direction of such a pair, not both. The resolver keeps the bound it had.

    `read` (rules.PairsRead) records what the whole-name rules answered for each pair bounded,
    and the pair's bound, for score_organisation: the resolver bounds every candidate, then
    scores those it cannot skip."""

    def __init__(
        self,
        query: Sequence[NameKey],
        *,
        website: str | None = None,
        country: str | None = None,
        near_misses: bool = False,
        read: PairsRead | None = None,
    ) -> None:
        self._near_misses = near_misses
        self._read = read
        self._query = [(q, alignable_words(q)) for q in query]
        self._keys = query
        self._acronyms = any(q.is_acronym for q in query)
        self._domain = registrable_domain(website)
        self._country = country.upper() if country else None
        self._places = frozenset().union(*(q.discriminators for q in query))
        self._has_words = any(q.items for q in query)

    def __call__(
        self,
        names: Sequence[NameKey],
        *,
        website: str | None = None,
        country: str | None = None,
    ) -> float:
        return self.bounds(names, website=website, country=country)[0]

    def bounds(
        self,
        names: Sequence[NameKey],
        *,
        website: str | None = None,
        country: str | None = None,
        shared_acronyms: bool = False,
    ) -> tuple[float, float]:
        """The bound, and (with `shared_acronyms`) the bound of the rules up to the shared
        acronym's (never above the first: the caps that follow only lower both alike)."""
        if not self._query or not names:
            return 0.0, 0.0
        domain = registrable_domain(website) if self._domain else None
        if self._domain and self._domain == domain:
            return 100.0, 100.0  # website_bound: no other bound can lower it
        shared_acronyms = shared_acronyms and self._acronyms
        bound = 0.0
        # The bound of the pairs neither of whose names is an acronym (shared_acronym_bound).
        long_bound = 0.0
        # Each pair's bound, for score_organisation to leave pairs out: a lone pair never is.
        read = None if self._read is None or len(names) * len(self._query) < 2 else self._read
        for r in names:
            r_words = None  # read only for word alignment: most pairs are settled before
            for q, q_words in self._query:
                pair = whole_name_bound(q, r, self._read)  # positional: 25 calls a query
                if pair is None:
                    if r_words is None:
                        r_words = alignable_words(r)
                    pair = word_pair_bound(q, q_words, r, r_words)
                if self._near_misses:
                    pair = near_miss_bound(pair, q, r)
                if read is not None:
                    read.bounds[id(q), id(r)] = pair
                bound = max(bound, pair)
                if not (q.is_acronym or r.is_acronym):
                    long_bound = max(long_bound, pair)
                if bound >= 100.0 and not shared_acronyms:
                    return bound, bound
        if not shared_acronyms:
            capped = bound
        else:
            capped = shared_acronym_bound(
                bound, query=self._keys, names=names, long_bound=long_bound
            )
        if bound >= 100.0:
            # A pair may have consumed places (acronyms, the same letters): no place bound.
            return bound, capped
        bound = place_bound(
            bound,
            query_places=self._places,
            query_has_words=self._has_words,
            names=names,
            country=country,
        )
        final = self._sites_and_countries(bound, domain=domain, country=country)
        if not shared_acronyms:
            return final, final
        capped = self._sites_and_countries(min(capped, bound), domain=domain, country=country)
        return final, capped

    def _sites_and_countries(
        self, bound: float, *, domain: str | None, country: str | None
    ) -> float:
        bound = website_bound(bound, query_domain=self._domain, domain=domain)
        return max(0.0, country_bound(bound, query_country=self._country, country=country))
