"""Resolve submitted names to an existing organisation, or decide it is new.

This is the seam the signing code calls; it reads the registry through the session and
keeps scoring pure (see app/resolution/normalise.py).
"""

from dataclasses import dataclass, field

from sqlmodel import Session, col, select

from app.organisations.models import Organisation, OrganisationName
from app.resolution.normalise import normalise


@dataclass
class Candidate:
    organisation_id: int
    name: str
    matched_name: str
    score: float
    decision: str  # "same" | "review"
    reasons: list[str] = field(default_factory=list)


@dataclass
class Resolution:
    status: str  # "existing" | "new" | "needs_review"
    organisation_id: int | None = None
    score: float = 0.0
    matched_name: str | None = None
    candidates: list[Candidate] = field(default_factory=list)


def resolve(
    session: Session,
    *,
    names: list[str],
    website: str | None = None,
    country: str | None = None,
    limit: int = 5,
) -> Resolution:
    """Exact match on any normalised name of a live organisation; else new."""
    keys = {normalise(n) for n in names} - {""}
    if not keys:
        return Resolution(status="new")
    rows = session.exec(
        select(OrganisationName, Organisation)
        .join(Organisation, col(Organisation.id) == OrganisationName.organisation_id)
        .where(col(OrganisationName.normalised).in_(keys), col(Organisation.merged_into).is_(None))
        .order_by(col(Organisation.id))
    ).all()
    by_org: dict[int, Candidate] = {}
    for name, organisation in rows:
        assert organisation.id is not None
        by_org.setdefault(
            organisation.id,
            Candidate(
                organisation_id=organisation.id,
                name=name.name,
                matched_name=name.name,
                score=100.0,
                decision="same",
                reasons=["same name after normalisation"],
            ),
        )
    candidates = list(by_org.values())[:limit]
    if len(candidates) == 1:
        best = candidates[0]
        return Resolution(
            "existing", best.organisation_id, best.score, best.matched_name, candidates
        )
    if len(candidates) > 1:
        # The same name on several organisations (a shared acronym): a person must decide.
        for candidate in candidates:
            candidate.decision = "review"
        return Resolution("needs_review", None, candidates[0].score, None, candidates)
    return Resolution(status="new")


def reset_cache() -> None:
    """Forget anything cached from the registry (tests that wipe the database call this)."""
