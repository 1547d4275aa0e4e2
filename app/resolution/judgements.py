"""Admins' verdicts on pairs of organisations, applied to whole merge clusters.

A cluster is a live organisation plus everything merged into it (transitively). A `different`
verdict between any members of two clusters keeps the two clusters apart for good: if A ≠ B and
B is later merged with C, the pair A–C is never suggested and cannot be merged.
"""

from collections.abc import Iterable

from sqlmodel import Session, col, select

from app.db import utcnow
from app.organisations.models import Organisation
from app.resolution.models import Judgement, Verdict


def ordered(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def merged_parents(session: Session) -> dict[int, int]:
    """organisation id → the organisation it was merged into, for every merged-away one."""
    rows = session.exec(
        select(Organisation.id, Organisation.merged_into).where(
            col(Organisation.merged_into).is_not(None)
        )
    )
    return {int(i): int(p) for i, p in rows if i is not None and p is not None}


def root_of(organisation_id: int, parents: dict[int, int]) -> int:
    """The live survivor of an organisation, following merged_into."""
    seen = {organisation_id}
    current = organisation_id
    while current in parents:
        current = parents[current]
        if current in seen:  # a cycle would be a bug elsewhere; stop rather than spin
            break
        seen.add(current)
    return current


def members(session: Session, *, organisation_id: int) -> set[int]:
    """The cluster of an organisation: it and everything merged into it, transitively."""
    result = {organisation_id}
    frontier = {organisation_id}
    while frontier:
        children = set(
            session.exec(select(Organisation.id).where(col(Organisation.merged_into).in_(frontier)))
        )
        frontier = {c for c in children if c is not None} - result
        result |= frontier
    return result


def different_root_pairs(session: Session) -> set[tuple[int, int]]:
    """(root, root) pairs, ordered, that a `different` verdict keeps apart."""
    parents = merged_parents(session)
    pairs = set()
    rows = session.exec(
        select(Judgement.organisation_a, Judgement.organisation_b).where(
            Judgement.verdict == Verdict.different
        )
    )
    for a, b in rows:
        ra, rb = root_of(a, parents), root_of(b, parents)
        if ra != rb:
            pairs.add(ordered(ra, rb))
    return pairs


def judged_root_pairs(session: Session) -> set[tuple[int, int]]:
    """(root, root) pairs with any verdict between their clusters: never asked again."""
    parents = merged_parents(session)
    pairs = set()
    for a, b in session.exec(select(Judgement.organisation_a, Judgement.organisation_b)):
        ra, rb = root_of(a, parents), root_of(b, parents)
        if ra != rb:
            pairs.add(ordered(ra, rb))
    return pairs


def different_between(
    session: Session, *, cluster_a: Iterable[int], cluster_b: Iterable[int]
) -> Judgement | None:
    """A `different` verdict between any member of one cluster and any of the other."""
    a_ids, b_ids = set(cluster_a), set(cluster_b)
    return session.exec(
        select(Judgement).where(
            Judgement.verdict == Verdict.different,
            (col(Judgement.organisation_a).in_(a_ids) & col(Judgement.organisation_b).in_(b_ids))
            | (col(Judgement.organisation_a).in_(b_ids) & col(Judgement.organisation_b).in_(a_ids)),
        )
    ).first()


def get_pair(session: Session, *, a: int, b: int) -> Judgement | None:
    low, high = ordered(a, b)
    return session.exec(
        select(Judgement).where(Judgement.organisation_a == low, Judgement.organisation_b == high)
    ).first()


def put(session: Session, *, a: int, b: int, verdict: Verdict, actor: str) -> Judgement:
    """Record a verdict on a pair, replacing any earlier one on the same pair."""
    low, high = ordered(a, b)
    judgement = get_pair(session, a=low, b=high)
    if judgement is None:
        judgement = Judgement(organisation_a=low, organisation_b=high, verdict=verdict, actor=actor)
    else:
        judgement.verdict, judgement.actor, judgement.created_at = verdict, actor, utcnow()
    session.add(judgement)
    session.flush()
    return judgement


def to_public(judgement: Judgement) -> dict[str, object]:
    return {
        "id": judgement.id,
        "organisation_ids": [judgement.organisation_a, judgement.organisation_b],
        "verdict": judgement.verdict,
        "actor": judgement.actor,
        "created_at": judgement.created_at.isoformat(),
    }
