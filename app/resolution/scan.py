"""Candidate duplicate organisations for the admin queue: a blocked scan, never all pairs.

The scan reads the registry (every live organisation, hidden ones included: only admins see
the queue) through the resolver's own blocking keys (keys.query_keys) and scores pairs with
the resolver's scorer, so the queue and signing judge pairs by the same rules. Per name of
each organisation it looks up its whole-name and initials keys, and its two rarest word,
transliteration or CJK keys; organisations with the same website domain meet too. A key
shared by more than a few dozen organisations ("human", "rights", "AI") says nothing about
identity and is skipped, which keeps the scan sub-quadratic. Pairs that share only a rare
word (not an acronym's) are scored when their names are alike at C speed (rapidfuzz, as a
person would glance, at names prepared once per organisation: decision 0129): the scorer
could not lift the others to the review line. Names alike but for one word (reordered, or
one letter apart) meet whatever their words' rarity (`_near`, decision 0111). An acronym, or a long name's initials, meets everyone going by it
while few names do (`MAX_ACRONYM_GROUP`); once a crowd does, it identifies no one, like a
common word: it then meets only the organisations known by acronyms alone and those whose own
words are alike (`_worded`, decision 0122). A cheap upper bound of the score
(bound.ScoreBound) skips each direction that cannot reach it, or the other direction's score:
organisations sharing an acronym are mostly settled by one direction (the shared acronym's
bound), and a worker scores each acronym against a name once (decision 0120). Names a letter
apart that the rules score below the review line are lifted to it, for a person to look at
(near misses, decision 0112). The full scan
is a batch job: it blocks and scores in forked worker processes; queue.pairs_of refreshes a
few organisations through `blocked`, the same rules.
"""

import gc
import multiprocessing
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from app.resolution.bound import ScoreBound
from app.resolution.decide import REVIEW
from app.resolution.index import Index, OrgEntry
from app.resolution.keys import name_index_keys, query_keys, whole_name_key
from app.resolution.normalise import NameKey
from app.resolution.registry import View
from app.resolution.rules import PairScore, registrable_domain
from app.resolution.scoring import OrgScore, score_organisation

MIN_SCORE = REVIEW
MAX_BLOCK = 40
PREFILTER_SCORE = 60.0
MAX_EXACT_BLOCK = 200
# An acronym, or a long name's initials, that more names than this go by identifies none of
# them (_few, _worded; decision 0122).
MAX_ACRONYM_GROUP = 4
RARE_KEYS_PER_NAME = 2
# The best pairs an in-memory scan returns by default (the stored queue keeps them all:
# queue.rescan).
MAX_KEPT_PAIRS = 20_000
# Names alike but for one word are looked for among the organisations having the other words
# only when the rarest of those words is shared by at most this many (what a lookup reads).
MAX_NEAR_POOL = 5000


@dataclass(slots=True)
class Pair:
    a: int
    b: int
    score: float
    reasons: list[str]
    source: str = "scan"


def _members(seen: View, item: str | int) -> set[int]:
    found: set[int] = set()
    for layer in seen.layers:
        # Set operations in C: a common word's posting holds thousands of ids.
        members = set(layer.index.members(item))
        if layer.exclude:
            members.difference_update(layer.exclude)
        found |= members
    return found


def _size(seen: View, item: str | int) -> int:
    """How many organisations of the view are filed under a key (hidden ones included)."""
    return sum(layer.index.size(item) for layer in seen.layers)


def _single(seen: View) -> Index | None:
    """The view's one index when it has one layer leaving nothing out (the full scan's usual
    view): its postings are then read directly, and a key's size is its members' count."""
    if len(seen.layers) == 1 and not seen.layers[0].exclude:
        return seen.layers[0].index
    return None


def _blocked(
    seen: View,
    entry: OrgEntry,
    domains: dict[str, list[int]],
    glances: "_Glances | None" = None,
) -> tuple[set[int], set[int]]:
    """The organisations one organisation is compared with: met through a whole name, its
    initials, an acronym or the website's domain (strong), or through a rare word only
    (weak). A name's acronym or initials meet everyone going by them when few names do
    (`_few`); otherwise only as `_worded` says. `glances`: the names prepared for `_worded`,
    kept for a batch of organisations of one view."""
    single = _single(seen)
    if single is not None:
        index = single

        def members_of(item: str | int) -> set[int]:
            return set(index.members(item))

        size_of = index.size
    else:

        def members_of(item: str | int) -> set[int]:
            return _members(seen, item)

        def size_of(item: str | int) -> int:
            return _size(seen, item)

    strong: set[int] = set()
    weak: set[int] = set()
    common: set[int] = set()
    for key in entry.names:
        rare: list[tuple[int, str]] = []
        whole = whole_name_key(key)
        looked_up = query_keys(key)
        lettered: set[int] = set()
        # _few's count of the names going by the letters looked up, read with their sizes.
        crowd = 0
        for item in looked_up:
            if isinstance(item, int):  # a whole name, or initials and acronyms (hashed)
                size = size_of(item)
                letters = key.is_acronym or item != whole
                if letters:
                    crowd += size
                # One index: the size is the members' count (a whole name's posting of a
                # crowd is not read only to be dropped).
                limit = MAX_EXACT_BLOCK if item == whole else MAX_BLOCK
                if not size or (single is not None and size > limit):
                    continue
                members = members_of(item)
                if len(members) > limit:
                    continue
                if key.is_acronym or (item != whole and not key.cjk):
                    lettered |= members
                else:
                    strong |= members
            elif not item.startswith("p:"):  # a place alone says nothing about identity
                size = size_of(item)
                if 1 <= size <= MAX_BLOCK:
                    rare.append((size, item))
        rare.sort()
        spelled = _spelled_word(key)
        for _, item in rare[:RARE_KEYS_PER_NAME]:
            # An acronym's own word (LSVD) meets the long names that carry it, and a long
            # name's letters the acronyms spelling it.
            (lettered if key.is_acronym or item == spelled else weak).update(members_of(item))
        if lettered:
            (strong if _few(key, looked_up, crowd, size_of) else common).update(lettered)
    domain = registrable_domain(entry.website)
    if domain is not None and len(domains[domain]) <= MAX_EXACT_BLOCK:
        strong.update(domains[domain])
    strong |= _worded(seen, entry, common - strong, glances)
    strong.discard(entry.organisation_id)
    return strong, weak - strong - {entry.organisation_id}


def _spelled_word(key: NameKey) -> str:
    """The word under which a long name looks up the acronyms that spell it without its
    places (keys.query_keys: "Students for a Free Tibet Japan" finds "SFT Japan")."""
    if key.is_acronym or key.cjk:
        return ""
    return "w:" + "".join(letters for kind, _, letters in key.items if kind in "cth")


def _few(
    key: NameKey,
    looked_up: dict[str | int, float],
    crowd: int,
    size_of: Callable[[str | int], int],
) -> bool:
    """Whether at most MAX_ACRONYM_GROUP names go by a name's letters: for an acronym, the
    names written so and the long names having it as initials; for a long name, the
    acronyms its initials spell and the long names with the same initials (filed under them,
    keys.name_index_keys, but not looked up). Counted alike from either side of a pair, so
    that both agree. `crowd`: the view's sizes of the letters looked up (the hashed keys of
    `looked_up` but a long name's whole name), which `_blocked` has read already."""
    if crowd > MAX_ACRONYM_GROUP or key.is_acronym:
        return crowd <= MAX_ACRONYM_GROUP
    for item in name_index_keys(key):
        if item not in looked_up:
            crowd += size_of(item)
    return crowd <= MAX_ACRONYM_GROUP


def _in_words(entry: OrgEntry) -> list[NameKey]:
    return [key for key in entry.names if not key.is_acronym]


# A name as the rapidfuzz glances read it: its words sorted (what token_sort_ratio compares,
# prepared once per name rather than once per comparison), and its CJK characters (None for
# a name without any).
_Glanced = tuple[str, str | None]


def _glanced(text: str, key: NameKey) -> _Glanced:
    return " ".join(sorted(text.split())), key.despaced if key.cjk else None


@dataclass(frozen=True, slots=True)
class _Glance:
    """An organisation's names prepared for `_alike` and `_worded`."""

    worded: tuple[_Glanced, ...]  # its names in words (not acronyms)
    every: tuple[_Glanced, ...]  # all its names
    # Its names in words by their words of their own (not type words, places, stopwords).
    own: tuple[_Glanced, ...]


def _glance(entry: OrgEntry) -> _Glance:
    every = tuple(_glanced(key.norm, key) for key in entry.names)
    worded = tuple(g for g, key in zip(every, entry.names, strict=True) if not key.is_acronym)
    own = tuple(
        _glanced(" ".join([value for kind, value, _ in key.items if kind == "c"]), key)
        for key in _in_words(entry)
    )
    return _Glance(worded, every, own)


class _Glances(dict[int, "_Glance | None"]):
    """The organisations' glances made so far (None: not in the view), for a batch of
    organisations of one view (each organisation meets a few dozen others, and is met by as
    many); read as a dict, made when missing."""

    # Glances kept at most (~0.4 kB each): a worker's organisations meet most of the
    # registry through rare words, in no order, so it keeps them all up to a large registry.
    LIMIT = 1_200_000

    def __init__(self, seen: View) -> None:
        super().__init__()
        self._seen = seen

    def __missing__(self, organisation_id: int) -> "_Glance | None":
        entry = self._seen.entry(organisation_id)
        made = self[organisation_id] = None if entry is None else _glance(entry)
        return made


def _worded(
    seen: View, entry: OrgEntry, common: set[int], glances: _Glances | None = None
) -> set[int]:
    """Of the organisations met only through an acronym or initials that many names go by,
    those it may still identify: every one when this organisation is known by acronyms alone
    (the acronym is all it says, and its pairs are one per holder); otherwise those known by
    acronyms alone, and those whose words of their own are alike this one's ("Amnesty
    International" and "Amnistía Internacional", both AI). Two bodies that name themselves
    in words that are not alike are not told apart by letters a crowd goes by, any more than
    by a common word (decision 0122)."""
    if not common or not _in_words(entry):
        return common
    if glances is None:
        glances = _Glances(seen)
    ours = _glance(entry).own
    found: set[int] = set()
    for other_id in common:
        other = glances[other_id]
        if other is None:
            continue
        theirs = other.own
        if not theirs or any(_words_alike(q, r) for q in ours for r in theirs):
            found.add(other_id)
    return found


def _words_alike(q: _Glanced, r: _Glanced) -> bool:
    """Whether two names are alike in their words of their own, at C speed (CJK names: in
    their characters)."""
    if q[1] is not None and r[1] is not None:
        return fuzz.ratio(q[1], r[1]) >= PREFILTER_SCORE
    return bool(q[0] and r[0]) and fuzz.ratio(q[0], r[0]) >= PREFILTER_SCORE


# ---- Names alike but for one word: the same words in another order, or one misspelled ----
#
# Neither meets through the keys above when every word the two names share is common: the
# whole name differs ("Watch Rights Human Kalo", "Kalo Huan Rights Watch") and so do the
# initials. Two names are `_near` when they share all their words but at most one on each
# side, and are one letter apart as written (Levenshtein ≤ 1: a letter deleted, added or
# changed, even one that turns "The" into "Te" or "Centre" into the stopword "entre") or the
# same words in another order. Their shared words are one of each name's `_rests` (its words,
# or its words less one), and the full scan groups names by their rests (_near_pairs); an
# organisation refreshed alone reads the organisations having all the words of one of its
# rests (_near_of). Both keep exactly the pairs `_near` accepts whose shared words include one
# had by at most MAX_NEAR_POOL organisations (tests/resolution/test_scan_near.py).


def word_keys(key: NameKey) -> frozenset[str]:
    """The keys under which keys.name_index_keys files a name's words (not its stopwords);
    empty for names compared otherwise (acronyms, CJK) or of fewer than two words."""
    if key.is_acronym or key.cjk:
        return frozenset()
    words = frozenset(
        ("w:" if kind in "ct" else "p:") + value for kind, value, _ in key.items if kind != "s"
    )
    return words if len(words) >= 2 else frozenset()


def _rests(words: frozenset[str]) -> list[frozenset[str]]:
    return [words, *(words - {odd} for odd in words)] if words else []


def _near(q: NameKey, q_words: frozenset[str], r: NameKey, r_words: frozenset[str]) -> bool:
    if not q_words or not r_words or len(q_words - r_words) > 1 or len(r_words - q_words) > 1:
        return False
    return Levenshtein.distance(q.norm, r.norm, score_cutoff=1) <= 1 or sorted(
        q.norm.split()
    ) == sorted(r.norm.split())


def _pool(seen: View, words: Iterable[str]) -> list[tuple[int, str]]:
    """The words with how many organisations have each, rarest first."""
    return sorted((_size(seen, w), w) for w in words)


@dataclass
class NearCache:
    """What looking for near names reads, kept for the next organisation of a batch of one
    view: the words' organisations (the common words of names, type words, are read once) and
    the organisations' names as word sets. A batch of organisations whose names differ by one
    word (a hot letter's "… Chapter 1", "… Chapter 2") meets the same pool of thousands again
    and again; building each pool member's word sets once per batch rather than once per
    organisation was half the duplicate queue's catch-up (decision 0109)."""

    postings: dict[str, set[int]] = field(default_factory=dict)
    names: dict[int, list[tuple[NameKey, frozenset[str]]]] = field(default_factory=dict)
    # Large pools (by their one or two rarest words) as lookups, built once per batch.
    lookups: dict[tuple[str, ...], "_Lookup"] = field(default_factory=dict)

    def names_of(self, seen: View, organisation_id: int) -> list[tuple[NameKey, frozenset[str]]]:
        others = self.names.get(organisation_id)
        if others is None:
            other = seen.entry(organisation_id)
            others = self.names[organisation_id] = (
                [] if other is None else [(k, word_keys(k)) for k in other.names]
            )
        return others


@dataclass
class _Lookup:
    """A large pool's organisations by their names' one-letter deletions and sorted words:
    every name `_near` a given one shares a deletion with it (the name itself included) or has
    its words in another order, so a lookup finds a superset of the near names in a few dict
    reads instead of comparing the name with each of thousands (the pairs are then checked
    by `_near` as before: the same result, tests/resolution/test_scan_near.py)."""

    deletions: defaultdict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    orders: defaultdict[tuple[str, ...], set[int]] = field(default_factory=lambda: defaultdict(set))

    def add(self, organisation_id: int, key: NameKey) -> None:
        for deleted in _deletions(key.norm):
            self.deletions[deleted].add(organisation_id)
        self.orders[tuple(sorted(key.norm.split()))].add(organisation_id)

    def meeting(self, key: NameKey) -> set[int]:
        found = set(self.orders.get(tuple(sorted(key.norm.split())), ()))
        for deleted in _deletions(key.norm):
            found |= self.deletions.get(deleted, set())
        return found


def _near_of(seen: View, entry: OrgEntry, cache: NearCache) -> set[int]:
    """The organisations with a name near one of this organisation's (see above)."""
    postings = cache.postings

    def having(word: str) -> set[int]:
        found = postings.get(word)
        if found is None:
            found = postings[word] = _members(seen, word)
        return found

    found: set[int] = set()
    for key in entry.names:
        words = word_keys(key)
        for rest in _rests(words):
            rarest = _pool(seen, rest)
            if rarest[0][0] > MAX_NEAR_POOL:
                continue
            pool = having(rarest[0][1])
            if len(rarest) > 1:
                pool = pool & having(rarest[1][1])
            candidates = pool - found - {entry.organisation_id}
            if len(candidates) > _GROUP_PAIRWISE:
                pool_key = tuple(word for _, word in rarest[:2])
                lookup = cache.lookups.get(pool_key)
                if lookup is None:
                    lookup = cache.lookups[pool_key] = _Lookup()
                    for member in pool:
                        for r, _ in cache.names_of(seen, member):
                            lookup.add(member, r)
                candidates &= lookup.meeting(key)
            for other_id in candidates:
                others = cache.names_of(seen, other_id)
                if any(_near(key, words, r, r_words) for r, r_words in others):
                    found.add(other_id)
    return found


def _deletions(text: str) -> set[str]:
    return {text} | {text[:i] + text[i + 1 :] for i in range(len(text))}


# A group of names sharing a rest larger than this is compared through the deletions of the
# names (names one letter apart share one) and their sorted words, not pair by pair.
_GROUP_PAIRWISE = 32


def _near_pairs(seen: View, entries: Iterable[OrgEntry]) -> set[int]:
    """Every pair of organisations with near names, as low << 32 | high."""
    ids: list[int] = []
    keys: list[NameKey] = []
    names: list[frozenset[str]] = []
    # Records (a name under one of its rests) by the rest: a sum of word hashes (a collision
    # only costs a _near check); a single record as an int, several as a list.
    groups: dict[int, int | list[int]] = {}
    for entry in entries:
        for key in entry.names:
            words = word_keys(key)
            if not words:
                continue
            total = sum(hash(w) for w in words)
            record = len(ids)
            ids.append(entry.organisation_id)
            keys.append(key)
            names.append(words)
            for rest in [total, *(total - hash(odd) for odd in words)]:
                rest &= 0xFFFFFFFFFFFFFFFF
                held = groups.get(rest)
                if held is None:
                    groups[rest] = record
                elif isinstance(held, int):
                    groups[rest] = [held, record]
                else:
                    held.append(record)
    pairs: set[int] = set()
    for held in groups.values():
        if isinstance(held, int):
            continue
        subgroups: Iterable[list[int]] = [held]
        if len(held) > _GROUP_PAIRWISE:
            by_spelling: dict[str, list[int]] = defaultdict(list)
            for record in held:
                norm = keys[record].norm
                for spelled in [*_deletions(norm), "\0" + " ".join(sorted(norm.split()))]:
                    by_spelling[spelled].append(record)
            subgroups = by_spelling.values()
        for records in subgroups:
            for i, first in enumerate(records):
                for second in records[i + 1 :]:
                    a, b = ids[first], ids[second]
                    pair = min(a, b) << 32 | max(a, b)
                    if a == b or pair in pairs:
                        continue
                    if not _near(keys[first], names[first], keys[second], names[second]):
                        continue
                    shared = names[first] & names[second]
                    if _pool(seen, shared)[0][0] <= MAX_NEAR_POOL:
                        pairs.add(pair)
    return pairs


def blocked(
    seen: View,
    entry: OrgEntry,
    domains: dict[str, list[int]],
    cache: NearCache | None = None,
    *,
    glances: "_Glances | None" = None,
) -> tuple[set[int], set[int]]:
    """The organisations one organisation is compared with, as the full scan compares it
    (refreshing one organisation's pairs: queue.pairs_of): strong ones (_blocked, and near
    names) and those met through a rare word only (scored when _alike). Pass one `cache` and
    one `glances` for a batch of organisations of one view."""
    strong, weak = _blocked(seen, entry, domains, glances)
    strong |= _near_of(seen, entry, NearCache() if cache is None else cache)
    return strong, weak - strong


def _alike(a: OrgEntry | _Glance, b: OrgEntry | _Glance) -> bool:
    """Whether two organisations sharing only a rare word deserve the scorer. When both name
    themselves in words, their acronyms are left out: an acronym both write, or one's acronym
    that the other's initials spell, is no likeness of their names (see `_worded`). Given
    as entries, or as their glances (made once for a batch: `_Glances`)."""
    ours = a if isinstance(a, _Glance) else _glance(a)
    theirs = b if isinstance(b, _Glance) else _glance(b)
    if ours.worded and theirs.worded:
        return _alike_names(ours.worded, theirs.worded)
    return _alike_names(ours.every, theirs.every)


def _alike_names(names: Sequence[_Glanced], others: Sequence[_Glanced]) -> bool:
    """Whether a name of one side is alike a name of the other at C speed (rapidfuzz's
    token_sort_ratio, as a person would glance; two CJK names: ratio of their characters)."""
    ratio = fuzz.ratio
    for q_words, q_cjk in names:
        for r_words, r_cjk in others:
            if q_cjk is not None and r_cjk is not None:
                similar = ratio(q_cjk, r_cjk)
            else:
                similar = ratio(q_words, r_words)
            if similar >= PREFILTER_SCORE:
                return True
    return False


def score_pair(
    seen: View,
    a: OrgEntry,
    b: OrgEntry,
    *,
    minimum: float = 0.0,
    bounds: "_Bounds | None" = None,
    acronym_pairs: dict[tuple[NameKey, NameKey], PairScore] | None = None,
) -> tuple[float, list[str]]:
    """Symmetric score of two registered organisations (the larger of both directions), as
    the queue scores them: names a letter apart reach the review line and no further
    (score_organisation's `near_misses`, decision 0112), which the resolver never asks for.
    With `bounds`, a direction whose upper bound can reach neither `minimum` nor the other
    direction's score is not scored: the result is the same. `acronym_pairs`:
    score_organisation's, for a batch of pairs of one view."""
    directions = [(a, b), (b, a)]
    limits = [100.0, 100.0]
    if bounds is not None:
        both = [bounds(query, other) for query, other in directions]
        # The order is the plain bounds' (as before the shared acronym's bound): of two
        # directions scoring alike, the first gives the reasons.
        limits = [capped for _, capped in both]
        if both[1][0] > both[0][0]:
            directions.reverse()
            limits.reverse()
    best: OrgScore | None = None
    for (query, other), limit in zip(directions, limits, strict=True):
        if limit < minimum or (best is not None and limit <= best.score):
            continue
        scored = score_organisation(
            query.names,
            other.names,
            rarity=seen.rarity,
            query_website=query.website,
            website=other.website,
            query_country=query.country,
            country=other.country,
            near_misses=True,
            acronym_pairs=acronym_pairs,
        )
        if best is None or scored.score > best.score:
            best = scored
    return (best.score, best.reasons) if best is not None else (0.0, [])


class _Bounds:
    """Upper bounds of score_organisation, one ScoreBound per querying organisation: the
    bound, and the bound with the shared acronym's (ScoreBound.bounds)."""

    def __init__(self) -> None:
        self._bounds: dict[int, ScoreBound] = {}

    def __call__(self, query: OrgEntry, other: OrgEntry) -> tuple[float, float]:
        bound = self._bounds.get(query.organisation_id)
        if bound is None:
            bound = self._bounds[query.organisation_id] = ScoreBound(
                query.names, website=query.website, country=query.country, near_misses=True
            )
        return bound.bounds(
            other.names, website=other.website, country=other.country, shared_acronyms=True
        )


# What the worker processes of one full scan read: set before they are forked (copy on write:
# the index is not copied), never pickled.
_FORKED: tuple[View, dict[int, OrgEntry], dict[str, list[int]], float] | None = None
# The glances of one full scan's organisations (`_alike`, `_worded`), made by each worker
# process as its tasks meet them and kept for its next tasks (a task's organisations meet
# random others: a glance per task would be made again and again).
_GLANCES: _Glances | None = None
# Organisations (blocking) and pairs (scoring) per task of a worker process.
_CHUNK = 2000
# Name pairs with an acronym a worker process has scored (score_organisation's
# `acronym_pairs`), for the pairs of its next tasks: one full scan's, forgotten past this many.
_ACRONYM_PAIRS: dict[tuple[NameKey, NameKey], PairScore] = {}
_MAX_ACRONYM_PAIRS = 500_000


def _meet(organisation_ids: list[int]) -> set[int]:
    """The pairs these organisations' blocking proposes for scoring, as low << 32 | high:
    every strong one, and those met through a rare word only that are _alike."""
    assert _FORKED is not None
    seen, entries, domains, _ = _FORKED
    glances = _GLANCES
    assert glances is not None
    found: set[int] = set()
    unlike: set[int] = set()  # weak pairs not _alike (symmetric: not asked again)
    for organisation_id in organisation_ids:
        if len(glances) > _Glances.LIMIT:
            glances.clear()
        entry = entries[organisation_id]
        strong, weak = _blocked(seen, entry, domains, glances)
        for other_id in strong:
            if other_id in entries:
                found.add(min(organisation_id, other_id) << 32 | max(organisation_id, other_id))
        if not weak:
            continue
        ours = glances[organisation_id]
        assert ours is not None
        for other_id in weak:
            key = min(organisation_id, other_id) << 32 | max(organisation_id, other_id)
            if key in found or key in unlike or other_id not in entries:
                continue
            theirs = glances[other_id]
            assert theirs is not None
            (found if _alike(ours, theirs) else unlike).add(key)
    return found


def _score(keys: list[int]) -> list[tuple[int, int, float, list[str]]]:
    assert _FORKED is not None
    seen, entries, _, min_score = _FORKED
    bounds = _Bounds()
    if len(_ACRONYM_PAIRS) > _MAX_ACRONYM_PAIRS:
        _ACRONYM_PAIRS.clear()
    scored = []
    for key in keys:
        low, high = key >> 32, key & 0xFFFFFFFF
        score, reasons = score_pair(
            seen,
            entries[low],
            entries[high],
            minimum=min_score,
            bounds=bounds,
            acronym_pairs=_ACRONYM_PAIRS,
        )
        if score >= min_score:
            scored.append((low, high, round(score, 1), reasons))
    return scored


def scan(
    seen: View,
    *,
    min_score: float = MIN_SCORE,
    keep: int | None = MAX_KEPT_PAIRS,
    progress: Callable[[int, int], None] | None = None,
    workers: int = 1,
) -> list[Pair]:
    """Every blocked pair scored once; the best `keep` (None: all) at or above `min_score`.
    `progress(done, total)` is called as organisations are blocked, then as pairs are scored.
    With `workers` > 1, blocking and scoring run in that many forked processes (a batch job:
    the caller must hold no lock another thread could be holding, nor need its threads).
    Each worker freezes what it inherits (gc.freeze): the registry is only read there, and a
    full collection would walk it, and copy every page it touches, for nothing."""
    global _FORKED, _GLANCES
    entries = seen.entries()
    domains: dict[str, list[int]] = defaultdict(list)
    for entry in entries.values():
        domain = registrable_domain(entry.website)
        if domain is not None:
            domains[domain].append(entry.organisation_id)
    ids = sorted(entries)
    organisation_chunks = [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]
    _FORKED = (seen, entries, domains, min_score)
    _GLANCES = _Glances(seen)
    pool = None
    try:
        if workers > 1 and len(organisation_chunks) > 1:
            pool = multiprocessing.get_context("fork").Pool(workers, initializer=gc.freeze)
        mapped = pool.imap_unordered if pool is not None else map
        # The workers block while this process groups the near names.
        blocking = mapped(_meet, organisation_chunks)
        candidates = _near_pairs(seen, entries.values())
        for done, found in enumerate(blocking, start=1):
            candidates |= found
            if progress is not None:
                progress(min(done * _CHUNK, len(ids)), len(ids))
        keys = sorted(candidates)
        pair_chunks = [keys[i : i + _CHUNK] for i in range(0, len(keys), _CHUNK)]
        pairs: list[Pair] = []
        for done, scored in enumerate(mapped(_score, pair_chunks), start=1):
            pairs.extend(Pair(a, b, score, reasons) for a, b, score, reasons in scored)
            if progress is not None:
                progress(min(done * _CHUNK, len(keys)), len(keys))
    finally:
        _FORKED = None
        _GLANCES = None
        _ACRONYM_PAIRS.clear()
        if pool is not None:
            pool.terminate()
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs if keep is None else pairs[:keep]
