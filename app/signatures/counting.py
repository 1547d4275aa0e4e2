"""Live signature counts, always recounted from the signature table, and the note a write
leaves on its session so that caches drop the letter once it commits."""

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from app.selfsign.models import SelfSignature, SelfSignState
from app.signatures.models import Signature


def counts(session: Session, *, letter_id: int) -> tuple[int, int]:
    """(named, anonymous) live signatures of a letter."""
    row = session.exec(
        select(
            func.count(case((col(Signature.anonymous).is_(False), 1))),
            func.count(case((col(Signature.anonymous).is_(True), 1))),
        ).where(Signature.letter_id == letter_id, col(Signature.withdrawn_at).is_(None))
    ).one()
    return int(row[0]), int(row[1])


# session.info key: slugs of letters whose public state this transaction changed. Letter rows
# written through the ORM are noted by app/embed/cache.py itself; a write that moves the
# letter with a Core statement (signing's final UPDATE) notes it here.
CHANGED_LETTERS = "changed_letters"


def note_changed(session: Session, *, slug: str) -> None:
    session.info.setdefault(CHANGED_LETTERS, set()).add(slug)


def awaiting(session: Session, *, letter_id: int) -> int:
    """Self-signatures (app/selfsign) confirmed by email that wait for a coordinator: a
    number for the count JSON, never who. Every change to it bumps the letter's revision."""
    return int(
        session.exec(
            select(func.count()).where(
                SelfSignature.letter_id == letter_id,
                SelfSignature.state == SelfSignState.unverified,
            )
        ).one()
    )
