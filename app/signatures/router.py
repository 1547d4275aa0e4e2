"""Signature endpoints: sign, withdraw, coordinator list, public signatories and count."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Header, Query, Request
from fastapi.responses import JSONResponse
from sqlmodel import Session

from app.auth.dependencies import Bearer, CoordinatorUser, principal_from, require_coordinator
from app.db import SessionDep, run_in_transaction
from app.letters import service as letters
from app.letters.dependencies import ManagedLetter, SlugPath, VisibleLetter
from app.signatures import counting, service
from app.signatures.schemas import (
    SignatoriesPublic,
    SignatureCreate,
    SignaturePublic,
    SignaturesPublic,
    SignResponse,
)

router = APIRouter(prefix="/letters/{slug}", tags=["signatures"])

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        max_length=200,
        pattern=r"^[\x21-\x7e]{1,200}$",
        description="A retry with the same key returns the first response",
    ),
]
LangQuery = Annotated[
    str | None,
    Query(
        max_length=35, pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$", description="BCP 47"
    ),
]


@router.post(
    "/signatures",
    status_code=201,
    response_model=SignResponse,
    responses={
        200: {"model": SignResponse, "description": "Already signed, or a replayed request"}
    },
)
async def sign_letter(
    slug: SlugPath,
    data: SignatureCreate,
    request: Request,
    credentials: Bearer,
    background: BackgroundTasks,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    """Sign the letter for an organisation (resolved by name or given by id) or anonymously."""

    # The token, the letter and the signature in one hand-off to the thread pool (decision
    # 0121): the same checks, in the same order, as CoordinatorUser and ManagedLetter.
    def work(session: Session) -> service.Signed:
        principal = require_coordinator(
            principal_from(session, request=request, credentials=credentials, background=background)
        )
        letter = letters.get_managed(session, slug=slug, principal=principal)
        return service.sign(
            session, letter=letter, data=data, principal=principal, idempotency_key=idempotency_key
        )

    signed = await run_in_transaction(request, work)
    return JSONResponse(signed.body, status_code=201 if signed.created else 200)


@router.delete("/signatures/{signature_id}", response_model=SignaturePublic)
def withdraw_signature(
    signature_id: int, letter: ManagedLetter, session: SessionDep, principal: CoordinatorUser
) -> SignaturePublic:
    """Withdraw a signature: kept for the record, removed from every count."""
    signature = service.withdraw(
        session, letter=letter, signature_id=signature_id, principal=principal
    )
    return SignaturePublic.model_validate(service.signature_out(signature, letter=letter))


@router.get("/signatures", response_model=SignaturesPublic)
def list_signatures(
    letter: ManagedLetter,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
    include_withdrawn: bool = False,
) -> SignaturesPublic:
    """All signatures of a letter, anonymous ones with their organisation (coordinator)."""
    rows, next_cursor = service.list_signatures(
        session, letter=letter, limit=limit, cursor=cursor, include_withdrawn=include_withdrawn
    )
    assert letter.id is not None
    named, anonymous = counting.counts(session, letter_id=letter.id)
    return SignaturesPublic(
        data=[
            SignaturePublic.model_validate(service.signature_out(r, letter=letter)) for r in rows
        ],
        count=named + anonymous,
        next_cursor=next_cursor,
    )


@router.get("/signatories", response_model=SignatoriesPublic)
def list_signatories(
    letter: VisibleLetter,
    session: SessionDep,
    lang: LangQuery = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=20)] = None,
) -> SignatoriesPublic:
    """Named signatories in letter order, each name in the requested language when known."""
    data, next_cursor = service.signatories(
        session, letter=letter, lang=lang, limit=limit, cursor=cursor
    )
    assert letter.id is not None
    named, anonymous = counting.counts(session, letter_id=letter.id)
    return SignatoriesPublic.model_validate(
        {
            "letter": letter.slug,
            "lang": lang,
            "data": data,
            "named_count": named,
            "anonymous_count": anonymous,
            "next_cursor": next_cursor,
        }
    )
