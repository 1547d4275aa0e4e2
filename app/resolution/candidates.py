"""Pairs the resolver was unsure about, stored for the admin review queue."""

from collections.abc import Iterable

from sqlmodel import Session, select

from app.resolution.models import DuplicateCandidate


def queue(
    session: Session, *, organisation_id: int, pairs: Iterable[tuple[int, float, list[str]]]
) -> None:
    """Queue (other organisation, score, reasons) pairs with `organisation_id`, once each."""
    for other, score, reasons in pairs:
        if other == organisation_id:
            continue
        a, b = sorted((organisation_id, other))
        exists = session.exec(
            select(DuplicateCandidate).where(
                DuplicateCandidate.organisation_a == a, DuplicateCandidate.organisation_b == b
            )
        ).first()
        if exists is None:
            session.add(
                DuplicateCandidate(organisation_a=a, organisation_b=b, score=score, reasons=reasons)
            )
    session.flush()
