"""Names belong to the letters that show them (decision 0067).

A name added to an organisation shows on every letter that lists it (`?lang=` picks it) and
changes what the resolver links to. So a coordinator adds a name at once only when every
letter that shows the organisation publicly is one it manages; otherwise the name becomes a
`NameProposal`, shown nowhere and unknown to the resolver until an admin accepts it. Both
paths, and the admin's decision, are audited.
"""

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app import audit
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.organisations.models import Organisation, OrganisationName
from app.resolution import registry
from app.resolution.models import NameProposal, ProposalStatus
from app.resolution.names import detect_script, is_acronym
from app.resolution.normalise import normalise
from app.resolution.visibility import Viewer


@dataclass
class Added:
    """What add_name did: a name added (`name`) or a proposal queued (`proposal`)."""

    name: OrganisationName | None = None
    proposal: NameProposal | None = None


def _check_new(session: Session, *, organisation: Organisation, name: str) -> None:
    if organisation.merged_into is not None:
        raise Conflict("this organisation was merged; add the name to the survivor", field="id")
    existing = session.exec(
        select(OrganisationName).where(
            OrganisationName.organisation_id == organisation.id,
            OrganisationName.normalised == normalise(name),
        )
    ).first()
    if existing is not None:
        raise Conflict(
            "the organisation already has this name", field="name", error="duplicate_name"
        )


def _insert(
    session: Session,
    *,
    organisation: Organisation,
    name: str,
    lang: str | None,
    acronym: bool | None,
) -> OrganisationName:
    row = OrganisationName(
        organisation_id=organisation.id,  # type: ignore[arg-type]
        name=name,
        normalised=normalise(name),
        lang=lang,
        script=detect_script(name),
        is_acronym=is_acronym(name) if acronym is None else acronym,
        is_primary=False,
    )
    session.add(row)
    registry.touch(session, organisations=[organisation])
    return row


def add_name(
    session: Session,
    *,
    organisation: Organisation,
    name: str,
    lang: str | None,
    acronym: bool | None,
    viewer: Viewer,
    actor: str,
) -> Added:
    """Add a name, or propose it when letters the caller does not manage show the
    organisation publicly. The caller must be allowed to see the organisation."""
    _check_new(session, organisation=organisation, name=name)
    assert organisation.id is not None
    if viewer.may_edit(session, organisation_id=organisation.id):
        row = _insert(session, organisation=organisation, name=name, lang=lang, acronym=acronym)
        audit.record(
            session,
            actor=actor,
            action="organisation.add_name",
            target_type="organisation",
            target_id=organisation.id,
            details={"name_id": row.id},
        )
        return Added(name=row)
    proposal = NameProposal(
        organisation_id=organisation.id, name=name, lang=lang, is_acronym=acronym, proposed_by=actor
    )
    session.add(proposal)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organisation.propose_name",
        target_type="name_proposal",
        target_id=proposal.id,
        details={"organisation_id": organisation.id},
    )
    return Added(proposal=proposal)


def pending(session: Session, *, limit: int) -> list[NameProposal]:
    """Proposals awaiting an admin, oldest first."""
    return list(
        session.exec(
            select(NameProposal)
            .where(NameProposal.status == ProposalStatus.pending)
            .order_by(col(NameProposal.id))
            .limit(limit)
        )
    )


def _pending(session: Session, *, proposal_id: int) -> NameProposal:
    proposal = session.get(NameProposal, proposal_id, with_for_update=True)
    if proposal is None:
        raise NotFound(f"no name proposal {proposal_id}", field="proposal_id")
    if proposal.status != ProposalStatus.pending:
        raise Conflict(
            f"name proposal {proposal_id} was already {proposal.status}",
            field="proposal_id",
            error="already_decided",
        )
    return proposal


def decide(session: Session, *, proposal_id: int, accept: bool, actor: str) -> NameProposal:
    """An admin accepts a proposal (the name is added to the organisation, or to the one it
    was merged into) or rejects it."""
    proposal = _pending(session, proposal_id=proposal_id)
    details: dict[str, int | None] = {"organisation_id": proposal.organisation_id}
    if accept:
        organisation = session.get(Organisation, proposal.organisation_id)
        seen = set()
        while organisation is not None and organisation.merged_into is not None:
            seen.add(organisation.id)
            organisation = session.get(Organisation, organisation.merged_into)
            if organisation is not None and organisation.id in seen:
                organisation = None
        if organisation is None:
            raise Conflict("the organisation no longer exists", field="proposal_id")
        _check_new(session, organisation=organisation, name=proposal.name)
        row = _insert(
            session,
            organisation=organisation,
            name=proposal.name,
            lang=proposal.lang,
            acronym=proposal.is_acronym,
        )
        session.flush()
        details = {"organisation_id": organisation.id, "name_id": row.id}
    proposal.status = ProposalStatus.accepted if accept else ProposalStatus.rejected
    proposal.decided_by, proposal.decided_at = actor, utcnow()
    session.add(proposal)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"name_proposal.{'accept' if accept else 'reject'}",
        target_type="name_proposal",
        target_id=proposal.id,
        details=details,
    )
    return proposal
