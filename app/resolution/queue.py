"""The duplicate queue, stored and maintained as organisations change (issue 13).

Candidate pairs live in `duplicate_candidate` (source `scan`, `queued` at signing, or both),
not in a per-process cache rebuilt after every registry change. Every organisation write
already stamps `organisation.revision` with the registry version, so the queue keeps one
watermark (`duplicate_queue_state.version`): every organisation with a revision at or below
it has had its pairs recomputed.

- `refresh(ids)`: drop the scan pairs of these organisations and score their blocked pairs
  again (scan.py's blocking and scoring, the admin's view): what a merge, an undo, a new
  name or a judgement calls in its own transaction for the organisations it involves — a
  merge touches only their pairs.
- `catch_up()`: refresh every organisation changed past the watermark (new ones from signing
  and imports) and advance it; run after commits by a thread of each worker, and by
  `undersigned scan --changed`.
- `rescan()`: the full batch scan (`undersigned scan`), stored, watermark set.
- `candidate_pairs()`: the review page. Reads the stored pairs best first, and scores on the
  fly only the organisations changed since the watermark (a handful when the thread keeps
  up), so the page never waits for a scan and never misses a pair.

Only admins see the queue, so it reads the whole registry, hidden organisations included.
"""

import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import delete, func, insert, text, update
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session, col, select

from app.db import get_engine, open_session, utcnow
from app.organisations.models import Organisation
from app.resolution import judgements as judgement_service
from app.resolution import learned, registry, scan
from app.resolution.index import OrgEntry
from app.resolution.models import DuplicateCandidate, DuplicateQueueState
from app.resolution.registry import View
from app.resolution.rules import registrable_domain
from app.resolution.scan import MIN_SCORE, Pair

logger = logging.getLogger("undersigned.identity")

# Changed organisations the review page scores itself before it says the queue is behind.
PAGE_CATCH_UP = 300
# Organisations refreshed per catch-up round (≈ 1 s of scoring). Large enough that what a
# round reads once for all its organisations (postings, near-name lookups: scan.NearCache)
# is shared by the burst of names a deferred catch-up meets (decision 0109).
BATCH = 1000
_QUEUED_REASON = "queued at signing: the resolver was unsure"
_CANDIDATE = DuplicateCandidate.__table__  # type: ignore[attr-defined]


def _domains(session: Session, entry: OrgEntry) -> defaultdict[str, list[int]]:
    """The live organisations sharing this one's website domain (scan._blocked's `domains`)."""
    domains: defaultdict[str, list[int]] = defaultdict(list)
    domain = registrable_domain(entry.website)
    if domain is None:
        return domains
    rows = session.exec(
        select(Organisation.id, Organisation.website).where(
            col(Organisation.merged_into).is_(None),
            col(Organisation.website).contains(domain),
        )
    )
    domains[domain] = [int(i) for i, w in rows if i is not None and registrable_domain(w) == domain]
    return domains


def _no_pause() -> None:
    return None


def pairs_of(
    session: Session,
    seen: View,
    organisation_ids: Iterable[int],
    *,
    pause: Callable[[], None] = _no_pause,
) -> dict[tuple[int, int], Pair]:
    """The scan's pairs (score ≥ MIN_SCORE) that involve these organisations, by (low, high),
    without the pairs an admin's name negatives rule out (learned.py). `pause` is called
    between organisations and between pairs (the background catch-up's `_Pacer`)."""
    bounds = scan._Bounds()
    found: dict[tuple[int, int], Pair] = {}
    done: set[tuple[int, int]] = set()
    entries: list[OrgEntry] = []
    for organisation_id in sorted(set(organisation_ids)):
        entry = seen.entry(organisation_id)
        if entry is not None:
            entries.append(entry)
    met: dict[int, tuple[set[int], set[int]]] = {}
    cache = scan.NearCache()
    # The names of the organisations met, prepared once for the batch's glances (scan._alike,
    # scan._worded; an organisation is met by several of the batch's).
    glances = scan._Glances(seen)
    for entry in entries:
        pause()
        met[entry.organisation_id] = scan.blocked(
            seen, entry, _domains(session, entry), cache, glances=glances
        )
    negatives = learned.Negatives(session)
    for entry in entries:
        strong, weak = met[entry.organisation_id]
        for other_id in sorted(strong | weak):
            pause()
            key = judgement_service.ordered(entry.organisation_id, other_id)
            if key in done:
                continue
            done.add(key)
            other = seen.entry(other_id)
            if other is None:
                continue
            if other_id not in strong:
                ours, theirs = glances[entry.organisation_id], glances[other_id]
                if ours is None or theirs is None or not scan._alike(ours, theirs):
                    continue
            if negatives and negatives.refuses(entry, other):
                continue
            score, reasons = scan.score_pair(seen, entry, other, minimum=MIN_SCORE, bounds=bounds)
            if score >= MIN_SCORE:
                found[key] = Pair(key[0], key[1], round(score, 1), reasons)
    return found


def _store(session: Session, pairs: Iterable[Pair]) -> None:
    """Insert scan pairs, or mark a pair queued at signing as found by the scan too."""
    pairs = list(pairs)
    if not pairs:
        return
    keys = {(p.a, p.b) for p in pairs}
    existing: dict[tuple[int, int], DuplicateCandidate] = {}
    lows = sorted({a for a, _ in keys})
    for start in range(0, len(lows), 5000):
        for found in session.exec(
            select(DuplicateCandidate).where(
                col(DuplicateCandidate.organisation_a).in_(lows[start : start + 5000])
            )
        ):
            key = (found.organisation_a, found.organisation_b)
            if key in keys:
                existing[key] = found
    new: list[dict[str, Any]] = []
    for pair in pairs:
        row = existing.get((pair.a, pair.b))
        if row is None:
            new.append(
                {
                    "organisation_a": pair.a,
                    "organisation_b": pair.b,
                    "score": pair.score,
                    "reasons": list(pair.reasons),
                    "source": "scan",
                    "created_at": utcnow(),
                }
            )
            continue
        if row.source == "queued":
            row.source = "scan+queued"
        row.score = max(float(row.score), pair.score)
        row.reasons = list(row.reasons) + [r for r in pair.reasons if r not in row.reasons]
        session.add(row)
    for start in range(0, len(new), 5000):
        session.execute(insert(_CANDIDATE), new[start : start + 5000])
    session.flush()


def _forget(session: Session, organisation_ids: list[int]) -> None:
    """Drop the scan's pairs of these organisations (a pair also queued at signing stays)."""
    for start in range(0, len(organisation_ids), 5000):
        chunk = organisation_ids[start : start + 5000]
        involves = col(DuplicateCandidate.organisation_a).in_(chunk) | col(
            DuplicateCandidate.organisation_b
        ).in_(chunk)
        session.execute(
            delete(_CANDIDATE).where(involves, col(DuplicateCandidate.source) == "scan")
        )
        session.execute(
            update(_CANDIDATE)
            .where(involves, col(DuplicateCandidate.source) == "scan+queued")
            .values(source="queued")
        )


def refresh(session: Session, *, organisation_ids: Iterable[int]) -> int:
    """Recompute the scan pairs of these organisations in this transaction (merged-away ones
    just lose theirs); how many pairs they now have. A pair queued at signing stays stored
    (the reading maps it to the survivor, and leaves out a pair now inside one cluster), so
    that undoing a merge brings back exactly what it had."""
    ids = sorted(set(organisation_ids))
    if not ids:
        return 0
    session.flush()
    # One writer of stored pairs at a time (the catch-up threads take the same row): two
    # transactions storing one pair would break its unique constraint.
    _state(session, lock=True)
    seen = registry.view(session, viewer=None)
    _forget(session, ids)
    pairs = pairs_of(session, seen, ids)
    _store(session, pairs.values())
    return len(pairs)


def _state(session: Session, *, lock: bool) -> DuplicateQueueState:
    query = select(DuplicateQueueState).where(DuplicateQueueState.id == 1)
    if lock:
        query = query.with_for_update()
    state = session.exec(query).first()
    if state is None:
        state = DuplicateQueueState(id=1, version=0)
        session.add(state)
        session.flush()
    return state


def watermark(session: Session) -> int:
    state = session.exec(select(DuplicateQueueState).where(DuplicateQueueState.id == 1)).first()
    return 0 if state is None else int(state.version)


def _changed(session: Session, *, after: int, limit: int) -> tuple[list[int], int | None]:
    """Organisations (merged ones included) changed past `after`, whole revisions only, at
    most about `limit`; and the highest revision they cover (None: nothing changed)."""
    rows = list(
        session.exec(
            select(Organisation.id, Organisation.revision)
            .where(col(Organisation.revision) > after)
            .order_by(col(Organisation.revision), col(Organisation.id))
            .limit(limit + 1)
        )
    )
    if not rows:
        return [], None
    if len(rows) <= limit:
        return [int(i) for i, _ in rows if i is not None], int(rows[-1][1])
    last = int(rows[-1][1])
    kept = [(i, r) for i, r in rows if r < last]
    if not kept:  # one revision larger than the limit (a bulk import): all of it at once
        ids = session.exec(select(Organisation.id).where(col(Organisation.revision) == last))
        return [int(i) for i in ids if i is not None], last
    return [int(i) for i, _ in kept if i is not None], int(kept[-1][1])


def catch_up(session: Session, *, limit: int = BATCH) -> int:
    """Refresh up to about `limit` organisations changed past the watermark and advance it
    (the caller commits); how many were refreshed."""
    state = _state(session, lock=True)
    ids, upto = _changed(session, after=state.version, limit=limit)
    if upto is None:
        return 0
    refresh(session, organisation_ids=ids)
    state.version = upto
    session.add(state)
    session.flush()
    return len(ids)


# pg_try_advisory_lock key of the catch-up ("undq"): one worker of all machines scores a batch.
_CATCH_UP_LOCK = 0x756E6471


@contextmanager
def _alone(*, wait: bool) -> Iterator[bool]:
    """Whether this process may catch up now. On PostgreSQL the workers of every machine wake
    after the same commits; without this each scored the same batch and all but one threw it
    away (the watermark check below), doubling the CPU a hot letter's signers compete with.
    A session-level advisory lock on a connection of its own, released at the end (or by the
    server if the process dies); `wait` waits for it. SQLite: no lock, the watermark check
    alone."""
    engine = get_engine()
    if engine.dialect.name != "postgresql":
        yield True
        return
    with engine.connect() as conn:
        take = "pg_advisory_lock" if wait else "pg_try_advisory_lock"
        got = conn.execute(text(f"SELECT {take}(:k)"), {"k": _CATCH_UP_LOCK}).scalar()
        got = wait or bool(got)
        conn.commit()
        try:
            yield got
        finally:
            if got:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _CATCH_UP_LOCK})
                conn.commit()


def catch_up_all(
    *, limit: int = BATCH, wait: bool = True, pause: Callable[[], None] = _no_pause
) -> int:
    """catch_up until nothing is left, scoring in a read transaction and writing in a short
    one (on SQLite a write transaction holds the database's write lock: signers must not wait
    for the scoring); how many organisations were refreshed. Without `wait` (the background
    thread), -1 at once when another worker is catching up."""
    with _alone(wait=wait) as alone:
        return _catch_up_all(limit=limit, pause=pause) if alone else -1


class _Pacer:
    """Shares the worker's GIL with its requests: while they keep committing, the catch-up
    thread rests `REST` seconds after every `SLICE` seconds of work.

    A thread that scores for a second at a time holds the GIL in 5 ms turns, and every
    request thread of the worker waits for one such turn after each of its database round
    trips: on the hot letter, once the catch-up ran (30 s into a burst at the latest),
    signatures/s fell by about two thirds. Resting three quarters of the time while busy
    still refreshes ~250 organisations/s of that benchmark's names, more than it creates;
    when the worker is quiet it runs at full speed."""

    SLICE = 0.010
    REST = 0.030

    def __init__(self, busy: Callable[[], bool]) -> None:
        self._busy = busy
        self._since = time.perf_counter()

    def __call__(self) -> None:
        if time.perf_counter() - self._since < self.SLICE:
            return
        if self._busy():
            time.sleep(self.REST)
        self._since = time.perf_counter()


def _catch_up_all(*, limit: int, pause: Callable[[], None]) -> int:
    total = 0
    while True:
        with open_session() as session:
            after = watermark(session)
            ids, upto = _changed(session, after=after, limit=limit)
            if upto is None:
                return total
            pairs = pairs_of(session, registry.view(session, viewer=None), ids, pause=pause)
        with open_session(write=True) as session:
            state = _state(session, lock=True)
            if state.version == after:  # else another worker did it meanwhile: read again
                _forget(session, ids)
                _store(session, pairs.values())
                state.version = upto
                session.add(state)
                total += len(ids)
            session.commit()


def rescan(
    session: Session,
    *,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> int:
    """The full scan, stored: every scan pair recomputed, the watermark set to the registry
    version scanned (the caller commits); how many pairs. A batch job (`undersigned scan`):
    it scores in `workers` processes, by default one per core."""
    state = _state(session, lock=True)
    seen = registry.view(session, viewer=None)
    upto = registry.version(session)
    pairs = scan.scan(seen, keep=None, progress=progress, workers=workers or os.cpu_count() or 1)
    refused = learned.refused_pairs(
        learned.Negatives(session), seen.entries(), [(p.a, p.b) for p in pairs]
    )
    session.execute(delete(_CANDIDATE).where(col(DuplicateCandidate.source) == "scan"))
    session.execute(
        update(_CANDIDATE)
        .where(col(DuplicateCandidate.source) == "scan+queued")
        .values(source="queued")
    )
    kept = [p for p in pairs if (p.a, p.b) not in refused]
    _store(session, kept)
    state.version = max(state.version, upto)
    session.add(state)
    session.flush()
    return len(kept)


def pending(session: Session) -> int:
    """Organisations changed since the queue was last brought up to date."""
    return int(
        session.exec(
            select(func.count())
            .select_from(Organisation)
            .where(col(Organisation.revision) > watermark(session))
        ).one()
    )


def candidate_pairs(
    session: Session, *, limit: int, skip: set[tuple[int, int]] | None = None
) -> list[Pair]:
    """Unjudged candidate pairs of live organisations, best first: the stored queue, with the
    organisations changed since its watermark scored now (at most PAGE_CATCH_UP of them)."""
    # The first PAGE_CATCH_UP only (not whole revisions: the page advances no watermark); a
    # larger backlog (a bulk import just committed) is the catch-up thread's, minutes at most.
    changed = {
        int(i)
        for i in session.exec(
            select(Organisation.id)
            .where(col(Organisation.revision) > watermark(session))
            .order_by(col(Organisation.revision), col(Organisation.id))
            .limit(PAGE_CATCH_UP)
        )
        if i is not None
    }
    fresh: dict[tuple[int, int], Pair] = {}
    if changed:
        fresh = pairs_of(session, registry.view(session, viewer=None), changed)
    parents = judgement_service.merged_parents(session)
    judged = judgement_service.judged_root_pairs(session)
    skip = skip or set()

    def wanted(key: tuple[int, int]) -> bool:
        return not (key in judged or key in skip or key[0] in parents or key[1] in parents)

    chosen: dict[tuple[int, int], Pair] = {}
    for key, pair in fresh.items():
        if wanted(key):
            chosen[key] = pair
    # Best first: once `limit` wanted stored pairs are read, no later one can make the list.
    taken = 0
    offset = 0
    page = max(limit * 4, 200)
    while taken < limit:
        rows = list(
            session.exec(
                select(DuplicateCandidate)
                .order_by(
                    col(DuplicateCandidate.score).desc(),
                    col(DuplicateCandidate.organisation_a),
                    col(DuplicateCandidate.organisation_b),
                )
                .offset(offset)
                .limit(page)
            )
        )
        if not rows:
            break
        offset += len(rows)
        for row in rows:
            queued = row.source != "scan"
            stale = row.organisation_a in changed or row.organisation_b in changed
            if stale and not queued:
                continue  # recomputed above
            a = judgement_service.root_of(row.organisation_a, parents)
            b = judgement_service.root_of(row.organisation_b, parents)
            key = judgement_service.ordered(a, b)
            if a == b or not wanted(key):
                continue
            source = row.source if not stale else "queued"
            reasons = [_QUEUED_REASON, *row.reasons] if queued else list(row.reasons)
            known = chosen.get(key)
            if known is not None:
                known.reasons += [r for r in reasons if r not in known.reasons]
                known.score = max(known.score, float(row.score))
                if queued:
                    known.source = "scan+queued" if known.source != "queued" else "queued"
                continue
            taken += 1
            chosen[key] = Pair(key[0], key[1], round(float(row.score), 1), reasons, source=source)
    return sorted(chosen.values(), key=lambda p: (-p.score, p.a, p.b))[:limit]


# A worker brings the stored queue up to date after each commit that changed organisations
# (a thread, as for the identity checks: the signing request does not wait for it).
_wake = threading.Event()
_started = threading.Lock()
_thread: threading.Thread | None = None


# After a wake-up, wait for a quiet moment before catching up: until no commit of this worker
# changed organisations for this long, but never longer than the second figure. A burst of
# signatures (a hot letter, an import) is then scored in batches rather than one organisation
# per commit, and mostly after the burst: scoring ran in the signers' own processes, and took
# a third of a hot letter's CPU (decision 0109). The review page still scores what changed
# since the watermark (PAGE_CATCH_UP), so it never shows a stale queue.
_GATHER_SECONDS = 2.0
_DEFER_AT_MOST_SECONDS = 30.0


def _quiet_moment() -> None:
    started = time.monotonic()
    while True:
        _wake.clear()
        time.sleep(_GATHER_SECONDS)
        if not _wake.is_set() or time.monotonic() - started >= _DEFER_AT_MOST_SECONDS:
            return


def _loop() -> None:
    while True:
        _wake.wait(timeout=300.0)
        _quiet_moment()
        _wake.clear()
        try:
            # Busy: a commit of this worker changed organisations since this round began.
            if catch_up_all(wait=False, pause=_Pacer(_wake.is_set)) < 0:
                # Another worker holds the batch; what this one's commits added after that
                # worker read the watermark is caught up on the next round.
                _wake.set()
        except Exception as exc:  # the watermark stays: the next wake-up retries
            logger.warning("duplicate queue catch-up postponed: %s", type(exc).__name__)


def start() -> None:
    """Maintain the queue in a thread of this process (once)."""
    global _thread
    from app.config import get_settings

    if not get_settings().identity_checks_in_background:
        return
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="duplicate-queue", daemon=True)
            _thread.start()
    _wake.set()


def wake() -> None:
    if _thread is not None:
        _wake.set()


def _committed(session: OrmSession) -> None:
    # A transaction that bumped the registry changed organisations: bring the queue along.
    if session.info.get(registry.COMMITTED_VERSION) is not None:
        wake()


# Session events this module reacts to, installed by app/listeners.py (at start-up, never as a
# side effect of an import).
LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (("after_commit", _committed),)
