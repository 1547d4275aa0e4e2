"""Pairs the resolver was unsure about, stored for the admin review queue."""

from collections.abc import Iterable

from sqlmodel import Session, select

from app.admin.models import DuplicateCandidate
from app.resolution.service import Candidate


def queue(session: Session, *, organisation_id: int, candidates: Iterable[Candidate]) -> None:
    for candidate in candidates:
        if candidate.decision != "review" or candidate.organisation_id == organisation_id:
            continue
        a, b = sorted((organisation_id, candidate.organisation_id))
        exists = session.exec(
            select(DuplicateCandidate).where(
                DuplicateCandidate.organisation_a == a, DuplicateCandidate.organisation_b == b
            )
        ).first()
        if exists is None:
            session.add(
                DuplicateCandidate(
                    organisation_a=a,
                    organisation_b=b,
                    score=candidate.score,
                    reasons=candidate.reasons,
                )
            )
    session.flush()
