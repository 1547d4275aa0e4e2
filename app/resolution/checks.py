"""New organisations compared with the hidden ones, after the response (decision 0065).

A caller who may not see an organisation must not learn that it exists: not from an answer,
and not from how long an answer takes. So resolution never looks at what the caller may not
see, and an organisation it creates is compared with the hidden ones later: the creating
transaction writes an `IdentityCheck` row (durable: it commits or rolls back with the
organisations), and a thread of each worker process — woken when such a transaction commits,
and at start-up for rows a stopped process left — scores them against the hidden
organisations and queues the plausible pairs for an admin (decision 0001).
"""

import logging
import threading
from collections.abc import Callable

from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, delete, select

from app.config import get_settings
from app.db import open_session
from app.resolution import candidates, registry, scan
from app.resolution.models import IdentityCheck
from app.resolution.scoring import REVIEW

logger = logging.getLogger("undersigned.identity")
_QUEUED = "identity_checks_queued"
_BATCH = 20
# A missed wake-up (a process stopped between commit and check) waits at most this long.
_POLL_SECONDS = 300.0
_wake = threading.Event()
_started = threading.Lock()
_thread: threading.Thread | None = None


def queue(session: Session, *, organisation_ids: list[int]) -> None:
    """Compare these new organisations with the hidden ones once this transaction commits."""
    if not organisation_ids:
        return
    session.add(IdentityCheck(organisation_ids=sorted(organisation_ids)))
    session.flush()
    session.info[_QUEUED] = True


def _committed(session: OrmSession) -> None:
    if session.info.pop(_QUEUED, False):
        start()
        _wake.set()


def _rolled_back(session: OrmSession) -> None:
    session.info.pop(_QUEUED, None)


def run_pending(session: Session, *, limit: int = _BATCH) -> int:
    """Check up to `limit` queued rows in this transaction (the caller commits); how many."""
    query = select(IdentityCheck).order_by(col(IdentityCheck.id)).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        # Several workers drain one queue: each takes rows nobody else holds.
        query = query.with_for_update(skip_locked=True)
    rows = list(session.exec(query))
    if not rows:
        return 0
    hidden = registry.hidden_view(session)
    for row in rows:
        for organisation_id in row.organisation_ids:
            entry = registry.entry(session, organisation_id)
            if entry is None:  # merged or gone since
                continue
            pairs = []
            for other in hidden.blocked(entry.names, exclude={organisation_id}):
                # Both directions, as the admin scan compares: "X Kenya" is a plausible
                # chapter of a hidden "X" even though "X" would not link to "X Kenya".
                score, reasons = scan.score_pair(hidden, entry, other)
                if score >= REVIEW:
                    pairs.append(
                        (
                            other.organisation_id,
                            score,
                            ["checked against hidden organisations", *reasons],
                        )
                    )
            candidates.queue(session, organisation_id=organisation_id, pairs=pairs)
    session.exec(delete(IdentityCheck).where(col(IdentityCheck.id).in_([r.id for r in rows])))
    return len(rows)


def drain() -> None:
    """Check every queued row now, one transaction per batch."""
    while True:
        with open_session(write=True) as session:
            done = run_pending(session)
            session.commit()
        if done == 0:
            return


def _loop() -> None:
    while True:
        _wake.wait(timeout=_POLL_SECONDS)
        _wake.clear()
        try:
            drain()
        except Exception as exc:  # the rows stay queued for the next wake-up
            logger.warning("identity checks postponed: %s", type(exc).__name__)


def start() -> None:
    """Run the checks in a thread of this process (once), beginning with what is queued."""
    global _thread
    if not get_settings().identity_checks_in_background:
        return
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="identity-checks", daemon=True)
            _thread.start()
    _wake.set()


# Session events this module reacts to, installed by app/listeners.py (at start-up, never as a
# side effect of an import).
LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_commit", _committed),
    ("after_rollback", _rolled_back),
)
