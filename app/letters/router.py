"""Letter endpoints."""

from typing import Annotated

from fastapi import APIRouter, Query

from app import audit
from app.auth.dependencies import CoordinatorUser, OptionalUser
from app.db import SessionDep
from app.letters import service
from app.letters.dependencies import ManagedLetter, VisibleLetter
from app.letters.schemas import (
    LetterCreate,
    LetterPublic,
    LettersPublic,
    LetterUpdate,
    VersionPublic,
    VersionsPublic,
)
from app.paging import Cursor

router = APIRouter(prefix="/letters", tags=["letters"])


@router.post("", status_code=201, response_model=LetterPublic)
def create_letter(
    data: LetterCreate, session: SessionDep, principal: CoordinatorUser
) -> LetterPublic:
    """Create a letter (coordinator)."""
    letter = service.create(session, data=data, principal=principal)
    audit.record(
        session,
        actor=principal.actor,
        action="letter.create",
        target_type="letter",
        target_id=letter.slug,
    )
    return service.to_public(session, letter=letter)


@router.get("", response_model=LettersPublic)
def list_letters(
    session: SessionDep,
    principal: OptionalUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> LettersPublic:
    """List letters: public ones, plus the drafts a coordinator manages, newest first."""
    page, total = service.list_visible(session, principal=principal, limit=limit, cursor=cursor)
    return LettersPublic(
        data=[service.to_public(session, letter=x) for x in page.items],
        count=total,
        next_cursor=page.next_cursor,
    )


@router.get("/{slug}", response_model=LetterPublic)
def get_letter(letter: VisibleLetter, session: SessionDep) -> LetterPublic:
    """One letter with its counts and declared-versus-actual discrepancy."""
    return service.to_public(session, letter=letter)


@router.patch("/{slug}", response_model=LetterPublic)
def update_letter(
    data: LetterUpdate, letter: ManagedLetter, session: SessionDep, principal: CoordinatorUser
) -> LetterPublic:
    """Change status, declared counts, translations or a draft's slug; the text is locked
    once signed."""
    service.update(session, letter=letter, data=data, principal=principal)
    audit.record(
        session,
        actor=principal.actor,
        action="letter.update",
        target_type="letter",
        target_id=letter.slug,
        details={"fields": sorted(data.model_dump(exclude_unset=True))},
    )
    return service.to_public(session, letter=letter)


@router.get("/{slug}/versions", response_model=VersionsPublic)
def letter_versions(letter: VisibleLetter, session: SessionDep) -> VersionsPublic:
    """The versions of the letter's text, oldest first, with why each changed; a signature
    records the version it consented to."""
    rows = service.versions_of(session, letter=letter)
    data = [VersionPublic.model_validate(r, from_attributes=True) for r in rows]
    return VersionsPublic(data=data, count=len(data))
