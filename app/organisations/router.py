"""Organisation endpoints: match, read (308 for merged ids), add a name."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import RedirectResponse
from sqlmodel import Session, col, select

from app.admin import audit
from app.auth.dependencies import CoordinatorUser
from app.db import SessionDep
from app.errors import BadRequest
from app.letters.models import Letter, LetterStatus
from app.organisations import service
from app.organisations.models import Organisation
from app.organisations.schemas import (
    MatchCandidate,
    NameCreate,
    NamePublic,
    OrganisationPublic,
    PublicSignature,
)
from app.resolution import service as resolution_service
from app.resolution.names import MAX_NAME_LENGTH, NameError_, validate_name
from app.signatures import service as signature_service
from app.signatures.models import Signature

router = APIRouter(prefix="/organisations", tags=["organisations"])
OrganisationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _public(session: Session, organisation: Organisation) -> OrganisationPublic:
    assert organisation.id is not None
    names = service.names_of(session, organisation_ids=[organisation.id])[organisation.id]
    # Named signatures on public letters only: an anonymous signature is never revealed here.
    rows = session.exec(
        select(Signature, Letter)
        .join(Letter, col(Letter.id) == Signature.letter_id)
        .where(
            Signature.organisation_id == organisation.id,
            col(Signature.anonymous).is_(False),
            col(Signature.withdrawn_at).is_(None),
            Letter.status != LetterStatus.draft,
        )
        .order_by(col(Signature.signed_at))
    ).all()
    return OrganisationPublic(
        id=organisation.id,
        kind=organisation.kind,
        country=organisation.country,
        website=organisation.website,
        merged_into=organisation.merged_into,
        created_at=organisation.created_at,
        names=[NamePublic.model_validate(n, from_attributes=True) for n in names],
        signatures=[
            PublicSignature(letter=letter.slug, position=s.position, signed_at=s.signed_at)
            for s, letter in rows
        ],
    )


@router.get("/match", response_model=list[MatchCandidate])
def match_organisations(
    session: SessionDep,
    principal: CoordinatorUser,
    name: Annotated[
        str, Query(min_length=1, max_length=MAX_NAME_LENGTH, description="Name to resolve")
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> list[MatchCandidate]:
    """Ranked candidate organisations for a name, with the decision the resolver would take."""
    try:
        clean = validate_name(name)
    except NameError_ as exc:
        raise BadRequest(f"name {exc}", field="name") from None
    names = [n.name for n in service.parse_names(name=clean)]
    resolution = resolution_service.resolve(session, names=names, limit=limit)
    signature_service.mask_hidden(session, resolution=resolution, principal=principal)
    return [
        MatchCandidate(
            organisation_id=c.organisation_id,
            name=c.name,
            matched_name=c.matched_name,
            score=round(c.score, 2),
            decision=c.decision,
            reasons=c.reasons,
        )
        for c in resolution.candidates[:limit]
    ]


@router.get(
    "/{organisation_id}",
    response_model=OrganisationPublic,
    responses={
        308: {
            "description": "Merged away: Location is the survivor",
            "headers": {"Location": {"schema": {"type": "string"}, "description": "Survivor URL"}},
        }
    },
)
def get_organisation(
    organisation_id: OrganisationId,
    session: SessionDep,
    principal: CoordinatorUser,
    request: Request,
) -> OrganisationPublic | RedirectResponse:
    """An organisation with all its names and its public signatures."""
    organisation = service.get(session, organisation_id=organisation_id)
    if organisation.merged_into is not None:
        survivor = service.get_live(session, organisation_id=organisation_id)
        assert survivor.id is not None
        service.get_visible(session, organisation_id=survivor.id, principal=principal)
        return RedirectResponse(
            str(request.url_for("get_organisation", organisation_id=survivor.id)), status_code=308
        )
    service.get_visible(session, organisation_id=organisation_id, principal=principal)
    return _public(session, organisation)


@router.post("/{organisation_id}/names", status_code=201, response_model=OrganisationPublic)
def add_organisation_name(
    organisation_id: OrganisationId,
    data: NameCreate,
    session: SessionDep,
    principal: CoordinatorUser,
) -> OrganisationPublic:
    """Add a name (another language, script or acronym); it becomes matchable at once."""
    organisation = service.get_visible(
        session, organisation_id=organisation_id, principal=principal
    )
    row = service.add_name(
        session, organisation=organisation, name=data.name, lang=data.lang, acronym=data.is_acronym
    )
    audit.record(
        session,
        actor=principal.actor,
        action="organisation.add_name",
        target_type="organisation",
        target_id=organisation_id,
        details={"name_id": row.id},
    )
    return _public(session, organisation)
