"""Self-signing API: the public sign request, and the coordinators' verification queue."""

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Query, Request
from fastapi.responses import JSONResponse

from app.auth.dependencies import CoordinatorUser
from app.db import SessionDep
from app.letters.dependencies import ManagedLetter
from app.resolution.visibility import Viewer
from app.security.limits import client_key
from app.selfsign import mail, service
from app.selfsign.dependencies import PublicLetter, SmallBody
from app.selfsign.models import SelfSignature, SelfSignState
from app.selfsign.schemas import (
    ContactAdmin,
    SelfSignatureAdmin,
    SelfSignatureReject,
    SelfSignaturesAdmin,
    SelfSignatureVerify,
    SignRequestAccepted,
    SignRequestCreate,
)
from app.signatures.schemas import ResolutionPublic
from app.signatures.service import resolution_out

router = APIRouter(prefix="/letters/{slug}/sign-requests", tags=["self-signing"])
IdPath = Annotated[int, Path(ge=1, le=2**31 - 1)]
ACCEPTED = SignRequestAccepted(
    detail=(
        "If the address can receive mail, a message is on its way to it with a link to "
        "confirm the signature. Nothing is signed until that link is used."
    )
).model_dump()


def accepted() -> JSONResponse:
    # One body for every case (new, already signed, limit reached): the answer never tells.
    return JSONResponse(ACCEPTED, status_code=202, headers={"Cache-Control": "no-store"})


@router.post(
    "",
    status_code=202,
    response_model=SignRequestAccepted,
    dependencies=[SmallBody],
    responses={202: {"description": "The same answer whatever happened"}},
)
def request_signature(
    data: SignRequestCreate,
    letter: PublicLetter,
    session: SessionDep,
    request: Request,
    background: BackgroundTasks,
) -> JSONResponse:
    """Ask to sign for an organisation (public; needs the letter's form to be open): a
    confirmation email goes to the contact address."""
    outgoing = service.request(session, letter=letter, data=data, client=client_key(request.scope))
    if outgoing is not None:
        background.add_task(mail.send, outgoing)
    return accepted()


def self_signature_out(
    session: SessionDep, *, row: SelfSignature, viewer: Viewer
) -> SelfSignatureAdmin:
    assert row.id is not None
    resolution = service.resolution_for(session, row=row, viewer=viewer)
    out: dict[str, Any] = resolution_out(resolution)
    return SelfSignatureAdmin(
        id=row.id,
        state=row.state,
        organisation=row.submitted,
        anonymous=row.anonymous,
        contact=ContactAdmin(name=row.contact_name, email=row.contact_email),
        organisation_id=row.organisation_id,
        signature_id=row.signature_id,
        text_version=row.text_version,
        text_lang=row.text_lang,
        resolution=ResolutionPublic.model_validate(out),
        reject_reason=row.reject_reason,
        created_at=row.created_at,
        confirmed_at=row.confirmed_at,
        decided_at=row.decided_at,
    )


@router.get("", response_model=SelfSignaturesAdmin)
def list_sign_requests(
    letter: ManagedLetter,
    session: SessionDep,
    principal: CoordinatorUser,
    state: Annotated[list[SelfSignState] | None, Query(max_length=10)] = None,
) -> SelfSignaturesAdmin:
    """The letter's confirmed self-signatures, those waiting for a coordinator first, with
    what the resolver makes of each (coordinators of the letter)."""
    rows = service.queue(session, letter=letter, states=[s.value for s in state or []])
    viewer = Viewer(principal)
    data = [self_signature_out(session, row=r, viewer=viewer) for r in rows]
    return SelfSignaturesAdmin(data=data, count=len(data))


@router.post("/{self_signature_id}/verify", response_model=SelfSignatureAdmin)
def verify_sign_request(
    self_signature_id: IdPath,
    letter: ManagedLetter,
    session: SessionDep,
    principal: CoordinatorUser,
    data: SelfSignatureVerify | None = None,
) -> SelfSignatureAdmin:
    """Verify a self-signature (optionally for another organisation: a correction); it then
    counts publicly."""
    row = service.get_for_letter(session, letter=letter, self_signature_id=self_signature_id)
    service.verify(
        session,
        letter=letter,
        row=row,
        principal=principal,
        organisation_id=data.organisation_id if data else None,
    )
    return self_signature_out(session, row=row, viewer=Viewer(principal))


@router.post("/{self_signature_id}/reject", response_model=SelfSignatureAdmin)
def reject_sign_request(
    self_signature_id: IdPath,
    data: SelfSignatureReject,
    letter: ManagedLetter,
    session: SessionDep,
    principal: CoordinatorUser,
    background: BackgroundTasks,
) -> SelfSignatureAdmin:
    """Reject a self-signature with a reason, which the signer is told by email."""
    row = service.get_for_letter(session, letter=letter, self_signature_id=self_signature_id)
    outgoing = service.reject(
        session, letter=letter, row=row, principal=principal, reason=data.reason
    )
    if outgoing is not None:
        background.add_task(mail.send, outgoing)
    return self_signature_out(session, row=row, viewer=Viewer(principal))
