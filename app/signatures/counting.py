"""Live signature counts, always recounted from the signature table, and the note a write
leaves on its session so that caches drop the letter once it commits."""

import logging
import threading
import time

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
    """After COMMIT: have the revision and counts time of the letters this transaction signed
    moved, so every worker's cache recounts them: in a statement of its own (as the position
    was taken: the letter's row lock is held for that statement alone), by this process's
    bumper, for every signature committed here meanwhile (decision 0121). Until then other
    workers serve the count from before this signature, as they would have until this
    commit, and for at most their cache's TTL after it. Should this process die before, the
    cache's fold (`RECOUNT_AFTER`, app/embed/cache.py) recounts every letter within a minute
    all the same."""
    letter_ids = session.info.pop(SIGNED_LETTERS, None)
    if letter_ids:
        _bumper.add(letter_ids)


# How long the bumper gathers letters before it moves them. A hot letter's signers commit
# every few milliseconds: one statement then moves the letter for all of them, where each
# commit moved it once (an UPDATE of the hottest row, and its round trip, per signature).
# Other workers revalidate their counts every `count_cache_ttl` (1 s): this delay is a few
# per cent of it.
BUMP_AFTER = 0.02
_BUMP_IDLE = 60.0  # the bumper's thread ends after this long with nothing to do


class _Bumper:
    """One thread per process that moves signed letters' revisions after their commits."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pending: set[int] = set()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._moving = 0  # letters taken from `_pending`, their statement not done yet

    def add(self, letter_ids: set[int]) -> None:
        with self._lock:
            self._pending |= letter_ids
            if self._thread is None or not self._thread.is_alive():
                self._start()
        self._wake.set()

    def _start(self) -> None:
        """Under the lock: a new bumper thread."""
        self._thread = threading.Thread(target=self._run, name="count-bumper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while self._wake.wait(_BUMP_IDLE):
            time.sleep(BUMP_AFTER)
            self.move()
        with self._lock:
            if self._pending:  # added just as the wait ended: go on in a new thread
                self._start()
            else:
                self._thread = None

    def move(self) -> None:
        """Move every pending letter now; the statement starts after every commit that added
        one, so it moves the letter past all of them."""
        with self._lock:
            self._wake.clear()
            letter_ids, self._pending = self._pending, set()
            self._moving += len(letter_ids)
        try:
            if letter_ids:
                run_outside(_BUMP, {"ids": sorted(letter_ids), "now": utcnow()})
        except Exception as exc:  # the signatures are committed: nobody's answer fails for this
            logger.warning("letter revision not moved after signatures: %s", type(exc).__name__)
        finally:
            with self._lock:
                self._moving -= len(letter_ids)

    def settle(self, timeout: float = 10.0) -> None:
        """Wait until every letter added so far has been moved (tests; shutting down)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending and not self._moving:
                    return
            time.sleep(0.005)


_bumper = _Bumper()


def settle_bumps() -> None:
    """Move now what this process still has to move (at shutdown), and wait for it."""
    _bumper.move()
    _bumper.settle()


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
