"""In-process candidate blocking index (pure: no database access here).

Every name of every live organisation is indexed under a few keys; a query only touches the
posting lists of its own keys, rarest first, and scores the best-weighted few dozen
organisations with app/resolution/scoring.py. Never a full scan.

Which keys a name is filed and looked up under is keys.py's; weights are IDF, log(1 + N / df),
with exact-name keys weighted far above the rest.
"""

import gc
import math
import threading
from collections import OrderedDict
from collections.abc import Container, Iterable, KeysView, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from app.resolution.bound import ScoreBound
from app.resolution.keys import name_index_keys, query_keys, whole_name_key
from app.resolution.normalise import NameKey, build_name_key, name_key
from app.resolution.rules import PairsRead, Rarity
from app.resolution.scoring import OrgScore, score_organisation

# A posting list longer than this is only read when nothing rarer found anything: "human",
# "rights" or "association" alone say little and would cost a scan of thousands of ids.
_COMMON = 4000
# At most this many posting entries are read per query before common keys only refine.
_BUDGET = 3000
_REFINE = 200
_WEAK = 0.3
_ASCENDING = 256  # lists of ≤ _BUDGET ids: at most ~6 MB


def settle() -> None:
    """Move the freshly built index out of the cyclic garbage collector's sight.

    A full collection walks every tracked object; with a few hundred thousand names indexed
    that is a 100+ ms pause landing on some unlucky query. The index holds no cycles, so
    freezing what exists after a build is safe (gc.freeze, Python ≥ 3.7)."""
    gc.collect()
    gc.freeze()


def _as_container(ids: Iterable[int]) -> AbstractSet[int]:
    """A set of ids to leave out, without copying one given as a set: a bulk import's
    overlay shadows thousands of organisations, and is consulted on every row."""
    return ids if isinstance(ids, AbstractSet) else set(ids)


def _as_set(posting: "Posting") -> set[int]:
    return {posting} if isinstance(posting, int) else set(posting)


@dataclass(frozen=True, slots=True)
class OrgEntry:
    organisation_id: int
    names: tuple[NameKey, ...]
    website: str | None
    country: str | None


def make_entry(
    organisation_id: int,
    names: Sequence[str],
    *,
    website: str | None = None,
    country: str | None = None,
) -> OrgEntry:
    """What the index files for an organisation: its parsed names (and the whole line)."""
    keys = [build_name_key(n) for n in names if n and n.strip()]
    long_names = [
        k.raw for k in keys if k.norm and not k.cjk and not k.translit and not k.is_acronym
    ]
    if len(long_names) > 1:
        # The printed line split at a slash or dash is also matched whole.
        keys.append(build_name_key(" ".join(long_names)))
    return OrgEntry(organisation_id, tuple(k for k in keys if k.norm), website, country)


def filed_keys(entry: OrgEntry) -> set[str | int]:
    """Every blocking key an entry is filed under."""
    filed: set[str | int] = set()
    for key in entry.names:
        filed |= name_index_keys(key)
    return filed


# A posting is one organisation id, a short list, or (from _SET_AT ids on) a set: most keys
# belong to a single organisation, and a set costs ~200 bytes even when it holds one id.
Posting = int | list[int] | set[int]
_SET_AT = 48


def _size(posting: Posting) -> int:
    return 1 if isinstance(posting, int) else len(posting)


def _ids(posting: Posting) -> Iterable[int]:
    return (posting,) if isinstance(posting, int) else posting


def _accumulate(weights: dict[int, float], posting: Posting, weight: float) -> None:
    """weights[id] += weight for every id of the posting. Long postings go through C set
    operations; Python only loops over ids that already had a weight (usually few)."""
    if isinstance(posting, int):
        weights[posting] = weights.get(posting, 0.0) + weight
    elif isinstance(posting, list):
        for organisation_id in posting:
            weights[organisation_id] = weights.get(organisation_id, 0.0) + weight
    else:
        again = posting.intersection(weights)
        weights.update(dict.fromkeys(posting.difference(weights), weight))
        for organisation_id in again:
            weights[organisation_id] += weight


def _present(posting: Posting, ids: set[int] | KeysView[int]) -> Iterable[int]:
    """The ids of `ids` that are in the posting."""
    if isinstance(posting, int):
        return (posting,) if posting in ids else ()
    if isinstance(posting, list):
        return [organisation_id for organisation_id in posting if organisation_id in ids]
    return posting.intersection(ids)


def _discard(weights: dict[int, float], excluded: AbstractSet[int]) -> None:
    smaller, larger = (excluded, weights) if len(excluded) < len(weights) else (weights, excluded)
    for organisation_id in [i for i in smaller if i in larger]:
        del weights[organisation_id]


@dataclass(frozen=True, slots=True)
class Tail:
    """The ids of block()'s largest posting list that no rarer list named: they all weigh
    the same, so only the lowest few are ever needed (ties go to the lowest id)."""

    ascending: list[int]  # the whole posting list, ascending
    weighed: Container[int]  # ids weighed by rarer lists (not in the tail; never grows)
    excluded: AbstractSet[int]

    def lowest(self, count: int) -> list[int]:
        found: list[int] = []
        weighed, excluded, ascending = self.weighed, self.excluded, self.ascending
        # A slice at a time, filtered in one comprehension (a mapped index's posting is a
        # view of its file: sliced, not read id by id).
        step = max(count, 64)
        start = 0
        while len(found) < count and start < len(ascending):
            found += [
                i for i in ascending[start : start + step] if i not in weighed and i not in excluded
            ]
            start += step
        return found[:count] if count > 0 else []


def _best(
    overlap: dict[int, float],
    bonuses: dict[int, float],
    count: int,
    *,
    tail: Tail | None = None,
    tail_weight: float = 0.0,
) -> list[int]:
    """The `count` best-weighted ids (overlap plus exact-name bonus, and the `tail` ids that
    all weigh `tail_weight`), lowest id first on ties.

    C sorts (by id, then stably by weight) instead of a Python heap over thousands."""
    ranking = overlap
    if bonuses:
        ranking = overlap.copy()
        for organisation_id, bonus in bonuses.items():
            if organisation_id in ranking:
                ranking[organisation_id] += bonus
    ordered = sorted(sorted(ranking), key=ranking.__getitem__, reverse=True)
    if tail is None:
        return ordered[:count]
    above = 0
    while above < len(ordered) and ranking[ordered[above]] > tail_weight:
        above += 1
    if above >= count:
        return ordered[:count]
    tied_end = above
    while tied_end < len(ordered) and ranking[ordered[tied_end]] == tail_weight:
        tied_end += 1
    tied = sorted(ordered[above:tied_end] + tail.lowest(count - above))
    return (ordered[:above] + tied + ordered[tied_end:])[:count]


class Index:
    """Organisations by blocking key; thread-safe; incremental upsert and remove."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._postings: dict[str | int, Posting] = {}
        self._entries: dict[int, OrgEntry] = {}
        # Ascending ids of the large postings block() last used as its tail (where the lowest
        # ids win ties); dropped when the posting changes, at most _ASCENDING of them.
        self._ascending: OrderedDict[str | int, list[int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, organisation_id: object) -> bool:
        return organisation_id in self._entries

    def upsert(
        self,
        organisation_id: int,
        names: Sequence[str],
        *,
        website: str | None = None,
        country: str | None = None,
    ) -> None:
        self.adopt(make_entry(organisation_id, names, website=website, country=country))

    def adopt(self, entry: OrgEntry) -> None:
        """File an entry built by another index (or upsert) as it is."""
        organisation_id = entry.organisation_id
        with self._lock:
            self._drop(organisation_id)
            if not entry.names:
                return
            self._entries[organisation_id] = entry
            for item in self._filed(entry):
                posting = self._postings.get(item)
                if posting is None:
                    self._postings[item] = organisation_id
                elif isinstance(posting, int):
                    if posting != organisation_id:
                        self._postings[item] = [posting, organisation_id]
                elif isinstance(posting, list):
                    if organisation_id not in posting:
                        posting.append(organisation_id)
                        if len(posting) >= _SET_AT:
                            self._postings[item] = set(posting)
                else:
                    posting.add(organisation_id)
                    self._ascending.pop(item, None)

    @staticmethod
    def _filed(entry: OrgEntry) -> set[str | int]:
        return filed_keys(entry)

    def remove(self, organisation_id: int) -> None:
        with self._lock:
            self._drop(organisation_id)

    def _drop(self, organisation_id: int) -> None:
        entry = self._entries.pop(organisation_id, None)
        if entry is None:
            return
        for item in self._filed(entry):
            posting = self._postings.get(item)
            if posting is None:
                continue
            if isinstance(posting, int):
                if posting == organisation_id:
                    del self._postings[item]
                continue
            self._ascending.pop(item, None)
            posting.discard(organisation_id) if isinstance(posting, set) else (
                posting.remove(organisation_id) if organisation_id in posting else None
            )
            if len(posting) == 1:
                self._postings[item] = next(iter(posting))
            elif not posting:
                del self._postings[item]

    def _ascending_ids(self, item: str | int, posting: set[int]) -> list[int]:
        ascending = self._ascending.get(item)
        if ascending is None:
            ascending = self._ascending[item] = sorted(posting)
            if len(self._ascending) > _ASCENDING:
                self._ascending.popitem(last=False)
        else:
            self._ascending.move_to_end(item)
        return ascending

    def _filed_among(self, item: str | int, ids: set[int] | KeysView[int]) -> Iterable[int]:
        """The ids of `ids` filed under `item` (a common key refining block()'s leaders; a
        mapped index tests them in its file rather than decode the whole posting)."""
        return _present(self._postings[item], ids)

    def _common_pool(self, items: Sequence[str | int]) -> list[int]:
        """The lowest _BUDGET ids filed under every one of `items` (common keys only)."""
        sets = [_as_set(self._postings[item]) for item in items]
        return sorted(set.intersection(*sets))[:_BUDGET]

    def members(self, item: str | int) -> Iterable[int]:
        """The organisations filed under one blocking key (name_index_keys, query_keys)."""
        posting = self._postings.get(item)
        return () if posting is None else tuple(_ids(posting))

    def size(self, item: str | int) -> int:
        posting = self._postings.get(item)
        return 0 if posting is None else _size(posting)

    def rarity(self, word: str) -> int:
        """How many organisations use this word (0 when none)."""
        posting = self._postings.get("w:" + word)
        return 0 if posting is None else _size(posting)

    def entry(self, organisation_id: int) -> OrgEntry | None:
        return self._entries.get(organisation_id)

    def entries(self) -> list[OrgEntry]:
        with self._lock:
            return list(self._entries.values())

    def exact(self, query: Sequence[NameKey], *, exclude: Iterable[int] = ()) -> set[int]:
        """Organisations with a name equal to a (non-acronym) query name after normalisation."""
        excluded = _as_container(exclude)
        found: set[int] = set()
        with self._lock:
            for key in query:
                if not key.norm or key.is_acronym:
                    continue
                posting = self._postings.get(whole_name_key(key))
                if posting is None:
                    continue
                for organisation_id in _ids(posting):
                    entry = self._entries.get(organisation_id)
                    # Exact keys are hashes: confirm the name itself.
                    if (
                        organisation_id not in excluded
                        and entry is not None
                        and any(
                            name.despaced == key.despaced and not name.is_acronym
                            for name in entry.names
                        )
                    ):
                        found.add(organisation_id)
        return found

    def block(
        self, query: Sequence[NameKey], *, limit: int = 25, exclude: Iterable[int] = ()
    ) -> list[int]:
        """The organisations worth scoring: best IDF-weighted key overlap, rarest keys first."""
        excluded = _as_container(exclude)
        wanted: dict[str | int, float] = {}
        for key in query:
            for item, bonus in query_keys(key).items():
                wanted[item] = max(bonus, wanted.get(item, 0.0))
        with self._lock:
            total = max(1, len(self._entries))
            # Each key sized once (a posting is never empty: an absent key has size 0).
            sized = [(self.size(item), item, bonus) for item, bonus in wanted.items()]
            lists = sorted(
                [entry for entry in sized if entry[0]],
                key=lambda entry: (entry[0], str(entry[1])),
            )
            # Word overlap per organisation, without the exact-name bonus (kept apart: it only
            # ranks, the _WEAK floor compares overlaps).
            overlap: dict[int, float] = {}
            bonuses: dict[int, float] = {}
            touched = 0
            read: list[tuple[str | int, Posting, float, float]] = []
            common: list[tuple[int, str | int]] = []
            for size, item, bonus in lists:
                if size > _COMMON or (touched + size > _BUDGET and read):
                    common.append((size, item))
                    continue
                touched += size
                read.append((item, self._postings[item], math.log(1.0 + total / size), bonus))
            # The largest list read (the last) is usually most of the budget; the ids only it
            # names all weigh the same, so they stay a set (`tail`), ranked by id only if needed.
            tail: Tail | None = None
            tail_weight = 0.0
            for number, (item, posting, weight, bonus) in enumerate(read, start=1):
                if number == len(read) and isinstance(posting, set) and not bonus:
                    tail = Tail(self._ascending_ids(item, posting), overlap, excluded)
                    tail_weight = weight
                    for organisation_id in posting.intersection(overlap):
                        overlap[organisation_id] += weight
                    continue
                _accumulate(overlap, posting, weight)
                if bonus:
                    _accumulate(bonuses, posting, bonus)
            only_common = bool(common) and not read
            if only_common:
                # Only common words ("human rights association"): organisations having all of
                # the rarest few, found by set intersection in C, lowest ids first when many;
                # each has every one of those words, so all weigh the same.
                pool = self._common_pool([item for _, item in common[:4]])
                weight = sum(math.log(1.0 + total / size) for size, _ in common[:4])
                overlap = dict.fromkeys(pool, weight)
            _discard(overlap, excluded)
            if common and not only_common:
                # Common words only refine the best few candidates found by rarer ones. No
                # other organisation gains weight, so the final ranking is among these.
                leaders = _best(overlap, bonuses, _REFINE, tail=tail, tail_weight=tail_weight)
                overlap = {oid: overlap.get(oid, tail_weight) for oid in leaders}
                tail = None
                for size, item in common:
                    weight = math.log(1.0 + total / size)
                    for organisation_id in self._filed_among(item, overlap.keys()):
                        overlap[organisation_id] += weight
        ranked = _best(overlap, bonuses, limit, tail=tail, tail_weight=tail_weight)
        if not ranked:
            return []
        # Far weaker word overlaps than the best cannot win; scoring them only costs time.
        weights = [overlap.get(oid, tail_weight) for oid in ranked]
        floor = max(weights) * _WEAK
        return [oid for oid, weight in zip(ranked, weights, strict=True) if weight >= floor]

    def score(
        self,
        query: Sequence[NameKey],
        *,
        website: str | None = None,
        country: str | None = None,
        exclude: Iterable[int] = (),
        block_limit: int = 25,
        minimum: float | None = None,
        rarity: Rarity | None = None,
    ) -> list[tuple[int, OrgScore]]:
        """Blocked candidates scored against the query, best first (ties by id).

        With `minimum`, a candidate whose cheap upper bound (bound.ScoreBound) is below it
        and no higher than the best score found is left out: it can change neither the best
        score nor the list at or above `minimum`. `rarity` counts a word's organisations over
        more than this index (a caller's view of several); by default, over this one."""
        # What bounding a candidate finds out about its pairs of names serves to score it.
        read = PairsRead()
        bounds = (
            ScoreBound(query, website=website, country=country, read=read)
            if minimum is not None
            else None
        )
        bounded = []
        # Each candidate's entry read once (a mapped index decodes it from its file per read).
        entries: dict[int, OrgEntry] = {}
        for organisation_id in self.block(query, limit=block_limit, exclude=exclude):
            entry = self._entries.get(organisation_id)
            if entry is None:
                continue
            entries[organisation_id] = entry
            bound = (
                100.0
                if bounds is None
                else bounds(entry.names, website=entry.website, country=entry.country)
            )
            bounded.append((-bound, organisation_id))
        bounded.sort()
        results = []
        best = -1.0
        for negative_bound, organisation_id in bounded:
            if minimum is not None and -negative_bound < minimum and -negative_bound <= best:
                break  # the bounds only fall from here on
            scored = self._scored(
                query,
                entries[organisation_id],
                website=website,
                country=country,
                rarity=rarity,
                read=read,
            )
            results.append((organisation_id, scored))
            best = max(best, scored.score)
        results.sort(key=lambda pair: (-pair[1].score, pair[0]))
        return results

    def score_one(
        self,
        query: Sequence[NameKey],
        organisation_id: int,
        *,
        website: str | None = None,
        country: str | None = None,
        rarity: Rarity | None = None,
    ) -> OrgScore | None:
        """One indexed organisation scored against the query (None if not indexed)."""
        entry = self._entries.get(organisation_id)
        if entry is None:
            return None
        return self._scored(query, entry, website=website, country=country, rarity=rarity)

    def _scored(
        self,
        query: Sequence[NameKey],
        entry: OrgEntry,
        *,
        website: str | None,
        country: str | None,
        rarity: Rarity | None,
        read: PairsRead | None = None,
    ) -> OrgScore:
        return score_organisation(
            query,
            entry.names,
            rarity=rarity or self.rarity,
            read=read,
            query_website=website,
            website=entry.website,
            query_country=country,
            country=entry.country,
        )

    def candidates_for_names(
        self,
        names: Sequence[str],
        *,
        website: str | None = None,
        country: str | None = None,
        exclude: Iterable[int] = (),
        minimum: float = 0.0,
    ) -> list[tuple[int, float, list[str]]]:
        """[(organisation_id, score, reasons)] for names of an organisation, best first."""
        query = [k for k in (name_key(n) for n in names if n and n.strip()) if k.norm]
        return [
            (organisation_id, scored.score, scored.reasons)
            for organisation_id, scored in self.score(
                query, website=website, country=country, exclude=exclude, minimum=minimum
            )
            if scored.score >= minimum
        ]
