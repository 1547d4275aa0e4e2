"""Organisation endpoints: match, read (308 for merged ids), add a name (or propose it)."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, RedirectResponse
from sqlmodel import Session

from app.auth.dependencies import CoordinatorUser
from app.db import SessionDep
from app.errors import BadRequest
from app.organisations import service
from app.organisations.models import Organisation
from app.organisations.schemas import (
    MatchCandidatePublic,
    NameCreate,
    NameProposalPublic,
    OrganisationPublic,
)
from app.resolution import proposals
from app.resolution import service as identity
from app.resolution.names import MAX_NAME_LENGTH, NameError_, validate_name
from app.resolution.visibility import Viewer

router = APIRouter(prefix="/organisations", tags=["organisations"])
OrganisationId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _public(session: Session, organisation: Organisation) -> OrganisationPublic:
    profile = service.profile(session, organisation=organisation)
    return OrganisationPublic.model_validate(profile, from_attributes=True)


@router.get("/match", response_model=list[MatchCandidatePublic])
def match_organisations(
    session: SessionDep,
    principal: CoordinatorUser,
    name: Annotated[
        str, Query(min_length=1, max_length=MAX_NAME_LENGTH, description="Name to resolve")
    ],
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> list[MatchCandidatePublic]:
    """Ranked candidate organisations for a name, with the decision the resolver would take."""
    try:
        clean = validate_name(name)
    except NameError_ as exc:
        raise BadRequest(f"name {exc}", field="name") from None
    names = [n.name for n in identity.parse_names(name=clean)]
    resolution = identity.resolve(session, names=names, viewer=Viewer(principal), limit=limit)
    return [
        MatchCandidatePublic.model_validate(c, from_attributes=True)
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
    viewer = Viewer(principal)
    if organisation.merged_into is not None:
        survivor = service.get_live(session, organisation_id=organisation_id)
        assert survivor.id is not None
        service.get_visible(session, organisation_id=survivor.id, viewer=viewer)
        return RedirectResponse(
            str(request.url_for("get_organisation", organisation_id=survivor.id)), status_code=308
        )
    service.get_visible(session, organisation_id=organisation_id, viewer=viewer)
    return _public(session, organisation)


@router.post(
    "/{organisation_id}/names",
    status_code=201,
    response_model=OrganisationPublic,
    responses={
        202: {
            "model": NameProposalPublic,
            "description": "Letters you do not manage show this organisation: the name waits "
            "for an admin",
        }
    },
)
def add_organisation_name(
    organisation_id: OrganisationId,
    data: NameCreate,
    session: SessionDep,
    principal: CoordinatorUser,
) -> OrganisationPublic | JSONResponse:
    """Add a name (another language, script or acronym): at once when every letter that shows
    the organisation is yours, else as a proposal an admin accepts."""
    viewer = Viewer(principal)
    organisation = service.get_visible(session, organisation_id=organisation_id, viewer=viewer)
    added = proposals.add_name(
        session,
        organisation=organisation,
        name=data.name,
        lang=data.lang,
        acronym=data.is_acronym,
        viewer=viewer,
        actor=principal.actor,
    )
    if added.proposal is not None:
        body = NameProposalPublic.model_validate(added.proposal, from_attributes=True)
        return JSONResponse(body.model_dump(mode="json"), status_code=202)
    return _public(session, organisation)
