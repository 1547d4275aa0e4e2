"""Public count JSON (the partner-facing number)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from app.db import SessionDep
from app.letters.dependencies import VisibleLetter
from app.signatures import counting

router = APIRouter(tags=["embed"])


class CountPublic(BaseModel):
    letter: str
    total: int
    named: int
    anonymous: int
    updated_at: datetime
    locale: str
    text: str


@router.get("/letters/{slug}/count", response_model=CountPublic)
def letter_count(
    letter: VisibleLetter,
    session: SessionDep,
    locale: Annotated[str | None, Query(max_length=35)] = None,
) -> CountPublic:
    """Signature counts of a letter with a sentence for partner sites."""
    assert letter.id is not None
    named, anonymous = counting.counts(session, letter_id=letter.id)
    total = named + anonymous
    text = f"{total} organisations have signed" + (
        f", {anonymous} of them anonymously" if anonymous else ""
    )
    return CountPublic(
        letter=letter.slug,
        total=total,
        named=named,
        anonymous=anonymous,
        updated_at=letter.counts_changed_at,
        locale="en",
        text=text,
    )
