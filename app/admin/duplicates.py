"""Candidate duplicate organisations for the admin queue: a blocked scan, never all pairs.

Each live organisation gets blocking keys (folded names, transliterations, acronyms and
initials, the website's registrable domain, its rarest name tokens); only organisations that
share a key are compared, and oversized blocks (a token or acronym many organisations share)
are skipped rather than expanded. Each compared pair is scored by `score_pair`, the one
function to switch to the resolver's scorer (app/resolution/scoring.py) once it lands.
"""

import re
import threading
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from anyascii import anyascii
from rapidfuzz import fuzz, process
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from app.admin import judgements as judgement_service
from app.admin.models import DuplicateCandidate
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution import scoring
from app.resolution.normalise import STOPWORDS, normalise
from app.resolution.scripts import _to_simplified

MIN_SCORE = 70.0
# Names in a shared-token block below this similarity are not scored at all: the scorer could
# not lift them to MIN_SCORE without an acronym, domain or exact key, which block on their own.
PREFILTER_SCORE = 60.0
_INITIALS_ONLY = "initials"
# A token, acronym or bigram shared by more organisations than this says nothing about identity
# ("human", "rights", "AI"); such blocks are skipped, which is what keeps the scan sub-quadratic.
MAX_TOKEN_BLOCK = 40
MAX_EXACT_BLOCK = 200
RARE_TOKENS_PER_NAME = 2
# The best pairs kept per scan (memory per worker); the queue shows the best unjudged ones and
# every merge or new organisation triggers a fresh scan.
MAX_KEPT_PAIRS = 20_000
_SECOND_LEVEL = frozenset(
    ["co", "com", "org", "net", "gov", "ac", "edu", "or", "ne", "go", "gob", "gouv", "nic"]
)


@dataclass(frozen=True)
class Profile:
    """What the scorer knows of one live organisation (pure data, no session)."""

    id: int
    names: tuple[str, ...]
    folded: tuple[str, ...]
    acronyms: frozenset[str]
    initials: frozenset[str]
    domain: str | None
    country: str | None
    website: str | None = None


@dataclass(slots=True)
class Pair:
    a: int
    b: int
    score: float
    reasons: list[str]
    source: str = "scan"


@dataclass
class _ScanCache:
    version: int = -1
    pairs: list[Pair] = field(default_factory=list)
    profiles: dict[int, Profile] = field(default_factory=dict)


_cache = _ScanCache()
_cache_lock = threading.Lock()


@lru_cache(maxsize=200_000)
def fold(name: str) -> str:
    """Normalised name with diacritics removed and Han characters in their simplified form."""
    text = normalise(name)
    if _is_cjk(text):
        # Kana voicing marks and hangul syllables are letters, not diacritics: keep them.
        return str(_to_simplified.convert(text))
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


# Han, kana, hangul and their compatibility and extension blocks.
_CJK = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3040-\u30ff\u3100-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f\U00020000-\U0003134f]"
)


def _is_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


@lru_cache(maxsize=200_000)
def _tokens(folded: str) -> tuple[str, ...]:
    if _is_cjk(folded):
        compact = folded.replace(" ", "")
        return tuple(compact[i : i + 2] for i in range(len(compact) - 1)) or (compact,)
    return tuple(t for t in folded.split() if len(t) >= 3 and t not in STOPWORDS)


@lru_cache(maxsize=200_000)
def _initials(folded: str) -> frozenset[str]:
    words = folded.split()
    if len(words) < 2 or _is_cjk(folded):
        return frozenset()
    result = {"".join(w[0] for w in words)}
    significant = [w for w in words if w not in STOPWORDS]
    if len(significant) >= 2:
        result.add("".join(w[0] for w in significant))
    return frozenset(r for r in result if len(r) >= 3)


def registrable_domain(website: str | None) -> str | None:
    """example.org for https://www.example.org/path; two labels, three under co.uk-style."""
    if not website:
        return None
    host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", website.strip().lower()).split("/")[0]
    host = host.split("@")[-1].split(":")[0].strip(".")
    labels = [label for label in host.split(".") if label]
    if len(labels) < 2:
        return None
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def make_profile(
    *,
    organisation_id: int,
    names: Iterable[tuple[str, bool]],
    website: str | None,
    country: str | None,
) -> Profile:
    """A Profile from (name, is_acronym) pairs and the organisation's fields."""
    raw: list[str] = []
    folded: list[str] = []
    acronyms: set[str] = set()
    initials: set[str] = set()
    for name, acronym in names:
        key = fold(name)
        if not key:
            continue
        raw.append(name)
        folded.append(key)
        if acronym:
            acronyms.add(key.replace(" ", ""))
        else:
            initials |= _initials(key)
    return Profile(
        id=organisation_id,
        names=tuple(raw),
        folded=tuple(folded),
        acronyms=frozenset(acronyms),
        initials=frozenset(initials),
        domain=registrable_domain(website),
        country=country,
        website=website,
    )


def score_pair(a: Profile, b: Profile) -> tuple[float, list[str]]:
    """Score in [0, 100] that two organisations are one, with human-readable reasons.

    The resolver's own pure scorer: the queue and signing judge pairs by the same rules
    (discriminating places and chapters, Han variants, acronyms, website domains).
    """
    return scoring.score_names(
        a.names,
        b.names,
        website_a=a.website,
        website_b=b.website,
        country_a=a.country,
        country_b=b.country,
    )


def blocking_keys(profile: Profile, *, rare: dict[str, int]) -> dict[str, str | None]:
    """Blocking keys of an organisation; a token key carries the name it came from."""
    keys: dict[str, str | None] = {}
    for key in profile.folded:
        keys["n:" + key] = None
        if not key.isascii():
            latin = anyascii(key).lower().strip()
            if latin:
                keys["n:" + " ".join(latin.split())] = None
        tokens = sorted(set(_tokens(key)), key=lambda t: (rare.get(t, 0), t))
        for token in tokens[:RARE_TOKENS_PER_NAME]:
            keys.setdefault("t:" + token, key)
    # Initials alone only meet given acronyms: two long names with the same initials are
    # compared through their tokens, if at all.
    for acronym in profile.initials:
        keys["a:" + acronym] = _INITIALS_ONLY
    for acronym in profile.acronyms:
        keys["a:" + acronym] = None
    if profile.domain:
        keys["d:" + profile.domain] = None
    return keys


def _token_block_pairs(members: list[tuple[int, str | None]]) -> list[tuple[int, int]]:
    """Pairs of a shared-token block whose names are alike enough to score (C-speed filter)."""
    names = [name or "" for _, name in members]
    cjk = any(_is_cjk(n) for n in names)
    scorer = fuzz.ratio if cjk else fuzz.token_sort_ratio
    choices = [n.replace(" ", "") for n in names] if cjk else names
    result = []
    for i in range(len(members) - 1):
        rest = choices[i + 1 :]
        for _, _, offset in process.extract(
            choices[i], rest, scorer=scorer, score_cutoff=PREFILTER_SCORE, limit=None
        ):
            result.append((members[i][0], members[i + 1 + offset][0]))
    return result


def scan(profiles: list[Profile], *, min_score: float = MIN_SCORE) -> list[Pair]:
    """Blocked scan: every pair sharing a key is scored once; best first."""
    frequency: dict[str, int] = defaultdict(int)
    for profile in profiles:
        for token in {t for key in profile.folded for t in _tokens(key)}:
            frequency[token] += 1
    blocks: dict[str, list[tuple[int, str | None]]] = defaultdict(list)
    for index, profile in enumerate(profiles):
        for key, name in blocking_keys(profile, rare=frequency).items():
            blocks[key].append((index, name))
    seen: set[tuple[int, int]] = set()
    pairs: list[Pair] = []
    for key, members in blocks.items():
        token_block = key.startswith("t:")
        cap = MAX_TOKEN_BLOCK if token_block or key.startswith("a:") else MAX_EXACT_BLOCK
        if len(members) < 2 or len(members) > cap:
            continue
        if token_block:
            candidates = _token_block_pairs(members)
        elif key.startswith("a:"):
            given = [i for i, mark in members if mark is None]
            initials = [i for i, mark in members if mark is not None]
            candidates = [(g, o) for n, g in enumerate(given) for o in given[n + 1 :] + initials]
        else:
            indexes = [i for i, _ in members]
            candidates = [
                (first, second) for n, first in enumerate(indexes) for second in indexes[n + 1 :]
            ]
        for first, second in candidates:
            pair_key = (first, second) if first < second else (second, first)
            if pair_key in seen or first == second:
                continue
            seen.add(pair_key)
            a, b = profiles[pair_key[0]], profiles[pair_key[1]]
            score, reasons = score_pair(a, b)
            if score >= min_score:
                low, high = judgement_service.ordered(a.id, b.id)
                pairs.append(Pair(low, high, round(score, 1), reasons))
    pairs.sort(key=lambda p: (-p.score, p.a, p.b))
    return pairs[:MAX_KEPT_PAIRS]


def load_profiles(session: Session) -> dict[int, Profile]:
    """Profiles of every live organisation, in one query."""
    rows = session.execute(
        sa_select(
            col(OrganisationName.organisation_id),
            col(OrganisationName.name),
            col(OrganisationName.is_acronym),
            col(Organisation.website),
            col(Organisation.country),
        )
        .join(Organisation, col(Organisation.id) == OrganisationName.organisation_id)
        .where(col(Organisation.merged_into).is_(None))
        .order_by(col(OrganisationName.organisation_id), col(OrganisationName.id))
    )
    grouped: dict[int, list[tuple[str, bool]]] = defaultdict(list)
    fields: dict[int, tuple[str | None, str | None]] = {}
    for organisation_id, name, acronym, website, country in rows:
        grouped[organisation_id].append((name, acronym))
        fields[organisation_id] = (website, country)
    return {
        i: make_profile(organisation_id=i, names=names, website=fields[i][0], country=fields[i][1])
        for i, names in grouped.items()
    }


def _scanned(session: Session) -> tuple[list[Pair], dict[int, Profile]]:
    """The scan for the current registry version (cached per process; versions only grow)."""
    version = session.exec(select(RegistryState.version).where(RegistryState.id == 1)).first()
    version = int(version or 0)
    with _cache_lock:
        if _cache.version == version:
            return _cache.pairs, _cache.profiles
    profiles = load_profiles(session)
    pairs = scan(list(profiles.values()))
    with _cache_lock:
        _cache.version, _cache.pairs, _cache.profiles = version, pairs, profiles
    return pairs, profiles


def reset_cache() -> None:
    with _cache_lock:
        _cache.version, _cache.pairs, _cache.profiles = -1, [], {}


def candidate_pairs(
    session: Session, *, limit: int, skip: set[tuple[int, int]] | None = None
) -> list[Pair]:
    """Unjudged candidate pairs of live organisations, best first."""
    scanned, profiles = _scanned(session)
    parents = judgement_service.merged_parents(session)
    judged = judgement_service.judged_root_pairs(session)
    skip = skip or set()

    def wanted(key: tuple[int, int]) -> bool:
        return not (key in judged or key in skip or key[0] in parents or key[1] in parents)

    chosen: dict[tuple[int, int], Pair] = {}
    for stored in session.exec(select(DuplicateCandidate)):
        a = judgement_service.root_of(stored.organisation_a, parents)
        b = judgement_service.root_of(stored.organisation_b, parents)
        key = judgement_service.ordered(a, b)
        if a == b or not wanted(key):
            continue
        reasons = ["queued at signing: the resolver was unsure", *stored.reasons]
        score = float(stored.score)
        if a in profiles and b in profiles:
            rescored, more = score_pair(profiles[key[0]], profiles[key[1]])
            score = max(score, rescored)
            reasons += [r for r in more if r not in reasons]
        chosen[key] = Pair(key[0], key[1], round(score, 1), reasons, source="queued")
    # The scan is sorted best first: its first `limit` wanted pairs, with the stored ones, hold
    # the best `limit` of all, without walking the whole list.
    taken = 0
    for pair in scanned:
        if taken >= limit:
            break
        key = (pair.a, pair.b)
        if not wanted(key):
            continue
        taken += 1
        if key in chosen:
            known = chosen[key]
            known.reasons += [r for r in pair.reasons if r not in known.reasons]
            known.score = max(known.score, pair.score)
            known.source = "scan+queued"
        else:
            chosen[key] = Pair(pair.a, pair.b, pair.score, list(pair.reasons))
    return sorted(chosen.values(), key=lambda p: (-p.score, p.a, p.b))[:limit]
