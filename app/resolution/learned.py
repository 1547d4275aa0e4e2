"""What admins' decisions teach the resolver (issue 12).

Positive: accepting a review pair (a merge) moves the merged organisation's names to the
survivor, and an admin's new name is added at once (proposals.add_name); both bump the
registry version, so every worker indexes the spelling as an exact name of the organisation
on its next resolve.

Negative: a `different` verdict on a pair is also recorded per spelling: each name of one
side becomes a `NameNegative` of the other. The resolver never links a query to an
organisation that refuses every one of its spellings, and leaves it out of the candidates
(so the pair is never queued again); an organisation refusing only some of them is never
linked without review. No score overrides it. Every worker keeps the negatives in memory, as
of the number `RegistryState.negatives` that each verdict moves; every resolve reads that
number with the registry version (one round trip it makes anyway) and a worker behind it
reloads the table, so every worker obeys a verdict from its commit on (decision 0121).
Whether it is read depends only on organisations the caller may see (hidden ones are never
candidates, registry.view), and the query itself only on the query's spellings; and only names
the public may see become negatives, so a refusal never tells of an organisation hidden from
the caller.
"""

import threading
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import true, update
from sqlmodel import Session, col, select

from app.organisations.models import OrganisationName, RegistryState
from app.resolution import registry
from app.resolution.index import OrgEntry
from app.resolution.models import NameNegative
from app.resolution.normalise import NameKey, normalise
from app.resolution.visibility import Standing


def record_different(session: Session, *, a: int, b: int, actor: str) -> int:
    """Each name of `a` refused by `b` and the reverse (names both bear are left alone:
    namesakes judged different still answer to their own name); how many were recorded.

    Only the names of a side the public may see: a negative changes what every caller's
    resolution answers, so the names of an organisation known only through anonymous
    signatures must not become one (its pair verdict still keeps it apart, admin-side)."""
    held = registry.standings(session, [a, b])
    spellings: dict[int, set[str]] = {a: set(), b: set()}
    for organisation_id, spelling in session.exec(
        select(OrganisationName.organisation_id, OrganisationName.normalised).where(
            col(OrganisationName.organisation_id).in_([a, b])
        )
    ):
        spellings[int(organisation_id)].add(spelling)
    existing = {
        (row.organisation_id, row.normalised)
        for row in session.exec(
            select(NameNegative).where(col(NameNegative.organisation_id).in_([a, b]))
        )
    }
    added = 0
    for target, other in ((a, b), (b, a)):
        if held.get(other) in (None, Standing.hidden):
            continue
        for spelling in sorted(spellings[other] - spellings[target]):
            if spelling and (target, spelling) not in existing:
                session.add(NameNegative(organisation_id=target, normalised=spelling, actor=actor))
                added += 1
    session.flush()
    if added:
        # Every worker reloads its copy when it next reads this number (refusals).
        session.execute(_MOVED)
        session.info[registry.NEGATIVES_WRITTEN] = True
    return added


_MOVED = (
    update(RegistryState)
    .where(col(RegistryState.id) == 1)
    .values(negatives=RegistryState.negatives + 1)
)
# The whole table with the number it is at, in one statement (so one snapshot).
_TABLE = (
    select(RegistryState.negatives, NameNegative.organisation_id, NameNegative.normalised)
    .select_from(RegistryState)
    .outerjoin(NameNegative, true())
    .where(col(RegistryState.id) == 1)
)


class _Table:
    """This process's copy of every name negative (spelling → organisation ids) and the
    `RegistryState.negatives` number it is at. The table holds admin verdicts only: small."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.number = -1
        self.by_spelling: dict[str, tuple[int, ...]] = {}

    def at(self, session: Session, *, number: int) -> dict[str, tuple[int, ...]]:
        """The negatives as of `number` or later. A copy at another number is reloaded: behind
        it, a verdict came since; ahead of it, this transaction read the number just before
        another thread of this worker reloaded (rare: verdicts are), or the database went
        back (restored)."""
        with self.lock:
            if self.number == number:
                return self.by_spelling
        rows = session.execute(_TABLE).all()
        loaded = int(rows[0][0]) if rows else number
        by_spelling: dict[str, list[int]] = defaultdict(list)
        for _, organisation_id, spelling in rows:
            if organisation_id is not None:
                by_spelling[spelling].append(int(organisation_id))
        table = {spelling: tuple(ids) for spelling, ids in by_spelling.items()}
        with self.lock:
            self.number, self.by_spelling = int(loaded), table
        return table


_table = _Table()


def reset_cache() -> None:
    """Forget this process's copy (tests that wipe the database)."""
    global _table
    _table = _Table()


@dataclass
class Refusals:
    """The organisations that refuse some of a query's spellings."""

    query: frozenset[str] = frozenset()
    by_organisation: dict[int, set[str]] = field(default_factory=dict)

    def excluded(self, organisation_id: int) -> bool:
        """Refuses every spelling of the query: never a candidate."""
        refused = self.by_organisation.get(organisation_id)
        return bool(refused) and bool(self.query) and self.query <= refused  # type: ignore[operator]

    def partial(self, organisation_id: int) -> bool:
        """Refuses some spelling of the query: never linked without review."""
        return organisation_id in self.by_organisation and not self.excluded(organisation_id)


def spellings(keys: Sequence[NameKey]) -> frozenset[str]:
    return frozenset(s for s in (normalise(k.raw) for k in keys) if s)


def _own_spellings(entry: OrgEntry) -> frozenset[str]:
    """An indexed organisation's names, without the whole printed line the index adds for a
    name split at a slash (Index.upsert): that is not a name an admin was shown."""
    names = list(entry.names)
    if len(names) > 2:
        long_names = [
            k.raw for k in names[:-1] if not k.cjk and not k.translit and not k.is_acronym
        ]
        if len(long_names) > 1 and names[-1].raw == " ".join(long_names):
            names = names[:-1]
    return spellings(names)


def refusals(session: Session, *, keys: Sequence[NameKey]) -> Refusals:
    """What the negatives say of these spellings: from this process's copy when the
    transaction read the negatives' number (every resolve does, registry.view), from the
    database otherwise, or when this transaction recorded some itself (not committed yet)."""
    query = spellings(keys)
    if not query:
        return Refusals()
    found: dict[int, set[str]] = defaultdict(set)
    number = session.info.get(registry.NEGATIVES_SEEN)
    if number is not None and not session.info.get(registry.NEGATIVES_WRITTEN):
        table = _table.at(session, number=int(number))
        for spelling in query:
            for organisation_id in table.get(spelling, ()):
                found[organisation_id].add(spelling)
        return Refusals(query, dict(found))
    rows = session.exec(
        select(NameNegative.organisation_id, NameNegative.normalised).where(
            col(NameNegative.normalised).in_(sorted(query))
        )
    )
    for organisation_id, spelling in rows:
        found[int(organisation_id)].add(spelling)
    return Refusals(query, dict(found))


class Negatives:
    """Every name negative, to keep refused pairs out of the duplicate queue."""

    def __init__(self, session: Session) -> None:
        self._by_organisation: dict[int, set[str]] = defaultdict(set)
        for organisation_id, spelling in session.exec(
            select(NameNegative.organisation_id, NameNegative.normalised)
        ):
            self._by_organisation[int(organisation_id)].add(spelling)

    def __bool__(self) -> bool:
        return bool(self._by_organisation)

    def refuses(self, a: OrgEntry, b: OrgEntry) -> bool:
        """Whether one side refuses every name of the other."""
        for one, other in ((a, b), (b, a)):
            refused = self._by_organisation.get(one.organisation_id)
            if refused and _own_spellings(other) <= refused:
                return True
        return False


def refused_pairs(
    negatives: Negatives, entries: dict[int, OrgEntry], pairs: Iterable[tuple[int, int]]
) -> set[tuple[int, int]]:
    """The pairs (of organisations in `entries`) that a negative rules out."""
    if not negatives:
        return set()
    return {
        (a, b)
        for a, b in pairs
        if a in entries and b in entries and negatives.refuses(entries[a], entries[b])
    }
