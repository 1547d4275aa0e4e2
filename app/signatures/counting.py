"""Live signature counts, always recounted from the signature table, and the note a write
leaves on its session so that caches drop the letter once it commits."""

import logging

from sqlalchemy import bindparam, case, func, update
from sqlmodel import Session, col, select

from app.db import run_outside, utcnow
from app.letters.models import Letter
from app.selfsign.models import SelfSignature, SelfSignState
from app.signatures.models import Signature

logger = logging.getLogger("undersigned.counts")


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


# session.info key: ids of letters a signer's transaction added to without moving their row
# (PostgreSQL signing takes its position outside the transaction: decision 0109).
SIGNED_LETTERS = "signed_letters"


def note_signed(session: Session, *, letter_id: int) -> None:
    session.info.setdefault(SIGNED_LETTERS, set()).add(letter_id)


_LETTER = Letter.__table__  # type: ignore[attr-defined]
# Built once: building and keying it cost about what PostgreSQL spends running it.
_BUMP = (
    update(_LETTER)
    .where(_LETTER.c.id.in_(bindparam("ids", expanding=True)))
    .values(
        revision=_LETTER.c.revision + 1,
        counts_changed_at=bindparam("now", type_=_LETTER.c.counts_changed_at.type),
    )
)


def bump_signed(session: Session) -> None:
    """After COMMIT: move the revision and counts time of the letters this transaction signed,
    so every worker's cache recounts them (in a statement of its own, as the position was
    taken: the letter's row lock is held for that statement alone). Until then other workers
    serve the count from before this signature, as they would have until this commit. Should
    this process die between the two, the cache's fold (`RECOUNT_AFTER`, app/embed/cache.py)
    recounts every letter within a minute all the same."""
    letter_ids = session.info.pop(SIGNED_LETTERS, None)
    if not letter_ids:
        return
    try:
        run_outside(_BUMP, {"ids": sorted(letter_ids), "now": utcnow()})
    except Exception as exc:  # the signature is committed: never fail its answer for this
        logger.warning("letter revision not moved after a signature: %s", type(exc).__name__)


def forget_signed(session: Session) -> None:
    session.info.pop(SIGNED_LETTERS, None)


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
