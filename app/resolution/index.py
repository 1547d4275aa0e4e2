"""In-process candidate blocking index (pure: no database access here).

Every name of every live organisation is indexed under a few keys; a query only touches the
posting lists of its own keys, rarest first, and scores the best-weighted few dozen
organisations with app/resolution/scoring.py. Never a full scan.

Keys of one name: `=` normalised name, `~` name without spaces, `w:` each word (content and
organisation-type words), `j:` two adjacent words glued (`frontline`), `p:` places and chapter
words, `i:` initials of a long name (≥ 3 letters), `t:` anyascii transliteration (non-Latin
alphabets), `b:` CJK character bigrams (`u:` a lone CJK character). Weights are IDF:
log(1 + N / df), with exact-name keys weighted far above the rest.

For the admin duplicate scan: `index.candidates_for_names(names, exclude={org_id})` returns
`[(organisation_id, score, reasons)]` best first, blocked and scored exactly as resolution does.
"""

import math
import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from app.resolution.normalise import NameKey, name_key
from app.resolution.scoring import OrgScore, score_organisation

# A posting list longer than this is only read when nothing rarer found anything: "human",
# "rights" or "association" alone say little and would cost a scan of thousands of ids.
_COMMON = 4000
_EXACT_WEIGHT = 60.0


@dataclass(frozen=True, slots=True)
class OrgEntry:
    organisation_id: int
    names: tuple[NameKey, ...]
    website: str | None
    country: str | None


def name_index_keys(key: NameKey) -> set[str]:
    """The blocking keys under which one name is filed."""
    keys: set[str] = set()
    if key.norm:
        keys.add("=" + key.norm)
        keys.add("~" + key.despaced)
    words = [(kind, value) for kind, value, _ in key.items if kind != "s"]
    for kind, value in words:
        keys.add(("w:" if kind in "ct" else "p:") + value)
    for (kind_a, a), (kind_b, b) in zip(words, words[1:], strict=False):
        if kind_a in "ct" and kind_b in "ct":
            keys.add("j:" + a + b)
    if len(key.initials) >= 3:
        keys.add("i:" + key.initials)
    if key.translit:
        keys.add("t:" + key.translit)
    if key.cjk:
        if len(key.cjk) == 1:
            keys.add("u:" + key.cjk)
        keys.update("b:" + key.cjk[i : i + 2] for i in range(len(key.cjk) - 1))
    return keys


def query_keys(key: NameKey) -> dict[str, float]:
    """Keys a submitted name looks up, with a bonus for exact-name keys."""
    keys = dict.fromkeys(name_index_keys(key), 0.0)
    keys.pop("i:" + key.initials, None)
    for exact in ("=" + key.norm, "~" + key.despaced):
        keys[exact] = _EXACT_WEIGHT
    if key.is_acronym and len(key.despaced) >= 2:
        # An acronym query finds long names with these initials and names that contain it.
        keys["i:" + key.despaced] = 0.0
        keys["w:" + key.despaced] = 0.0
    if len(key.initials) >= 2:
        keys["=" + key.initials] = 0.0  # a long name finds the registered acronym
    for _, value, _ in key.items:
        keys.setdefault("j:" + value, 0.0)  # "frontline" finds "front line"
    return keys


class Index:
    """Organisations by blocking key; thread-safe; incremental upsert and remove."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._postings: dict[str, set[int]] = defaultdict(set)
        self._entries: dict[int, OrgEntry] = {}
        self._keys: dict[int, frozenset[str]] = {}

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
        keys = [name_key(n) for n in names if n and n.strip()]
        long_names = [k.raw for k in keys if k.norm and not k.cjk and not k.is_acronym]
        if len(long_names) > 1:
            # The printed line split at a slash or dash is also matched whole.
            keys.append(name_key(" ".join(long_names)))
        entry = OrgEntry(organisation_id, tuple(k for k in keys if k.norm), website, country)
        filed: set[str] = set()
        for key in entry.names:
            filed |= name_index_keys(key)
        with self._lock:
            self._drop(organisation_id)
            if not entry.names:
                return
            self._entries[organisation_id] = entry
            self._keys[organisation_id] = frozenset(filed)
            for item in filed:
                self._postings[item].add(organisation_id)

    def remove(self, organisation_id: int) -> None:
        with self._lock:
            self._drop(organisation_id)

    def _drop(self, organisation_id: int) -> None:
        self._entries.pop(organisation_id, None)
        for item in self._keys.pop(organisation_id, ()):
            posting = self._postings.get(item)
            if posting is not None:
                posting.discard(organisation_id)
                if not posting:
                    del self._postings[item]

    def rarity(self, word: str) -> int:
        """How many organisations use this word (0 when none)."""
        posting = self._postings.get("w:" + word)
        return len(posting) if posting else 0

    def entry(self, organisation_id: int) -> OrgEntry | None:
        return self._entries.get(organisation_id)

    def block(
        self, query: Sequence[NameKey], *, limit: int = 30, exclude: Iterable[int] = ()
    ) -> list[int]:
        """The organisations worth scoring: best IDF-weighted key overlap, rarest keys first."""
        excluded = set(exclude)
        wanted: dict[str, float] = {}
        for key in query:
            for item, bonus in query_keys(key).items():
                wanted[item] = max(bonus, wanted.get(item, 0.0))
        with self._lock:
            total = max(1, len(self._entries))
            lists = [
                (len(self._postings[item]), item, bonus)
                for item, bonus in wanted.items()
                if item in self._postings
            ]
            lists.sort()
            weights: dict[int, float] = defaultdict(float)
            for size, _item, bonus in lists:
                if size > _COMMON and weights:
                    break
                weight = math.log(1.0 + total / size) + bonus
                for organisation_id in self._postings[_item]:
                    weights[organisation_id] += weight
        ranked = sorted(
            ((w, oid) for oid, w in weights.items() if oid not in excluded),
            key=lambda pair: (-pair[0], pair[1]),
        )
        return [oid for _, oid in ranked[:limit]]

    def score(
        self,
        query: Sequence[NameKey],
        *,
        website: str | None = None,
        country: str | None = None,
        exclude: Iterable[int] = (),
        block_limit: int = 30,
    ) -> list[tuple[int, OrgScore]]:
        """Blocked candidates scored against the query, best first (ties by id)."""
        results = []
        for organisation_id in self.block(query, limit=block_limit, exclude=exclude):
            entry = self._entries.get(organisation_id)
            if entry is None:
                continue
            scored = score_organisation(
                query,
                entry.names,
                rarity=self.rarity,
                query_website=website,
                website=entry.website,
                query_country=country,
                country=entry.country,
            )
            results.append((organisation_id, scored))
        results.sort(key=lambda pair: (-pair[1].score, pair[0]))
        return results

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
                query, website=website, country=country, exclude=exclude
            )
            if scored.score >= minimum
        ]
