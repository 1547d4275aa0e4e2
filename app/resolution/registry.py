"""The organisation registry each worker process holds in memory, in step with the database.

- Every write to an organisation (created, renamed, merged, its standing changed by a
  signature) marks it with this transaction's placeholder revision (`touch`, `create`); at
  commit, one short final statement increments `registry_state.version` and stamps the
  placeholder rows with it, so the counter's row lock is held from there to COMMIT only, not
  for the whole transaction: organisation writes across letters no longer queue behind each
  other (decision 0090). Each resolve reads that version once; when it
  moved past what this process holds, only organisations with a newer revision are reloaded
  (merged ones leave), with their names and standing (visibility.Standing); a version lower
  than seen (database reset) rebuilds from scratch. Every worker does the same, so all converge
  on the committed registry without messaging.
- Organisations that everyone may see (public or unsigned) and hidden ones are held in two
  separate indexes: a caller who may not see a hidden organisation resolves against an index
  it was never in, so that it changes no score, no word rarity, no candidate list and no work.
  The hidden organisations a caller may see anyway (its letters' anonymous signers) come in
  as a small index of their own (`View`).
- The shared indexes only ever hold committed data. A transaction that itself wrote
  organisations sees them through a per-session overlay (`session.info`), dropped on commit or
  rollback; they all carry its placeholder until commit, and then share one version.
- One organisation per name without a global lock: before creating, a transaction takes
  PostgreSQL advisory locks on the buckets of the names it creates (`claim`), then decides
  again if the registry moved; a concurrent creator of the same name holds the bucket until
  it has committed, stamped version included (decision 0090, which refines 0066).
"""

import logging
import secrets
import threading
import zlib
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import (
    ColumnElement,
    TextClause,
    bindparam,
    event,
    exists,
    func,
    insert,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from app import db
from app.config import get_settings
from app.db import utcnow
from app.letters.models import Letter
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution import snapshot
from app.resolution.index import Index, OrgEntry, settle
from app.resolution.names import ParsedName
from app.resolution.normalise import NameKey, normalise
from app.resolution.rules import Rarity
from app.resolution.scoring import OrgScore
from app.resolution.visibility import Standing, Viewer, standing_columns, standing_of
from app.signatures.models import Signature

PENDING = "registry_pending_revision"
COMMITTED_VERSION = "registry_committed_version"
_OVERLAY = "registry_overlay"
_SYNCED = "registry_synced_version"
_CLAIMED = "registry_claimed_buckets"
# Organisations this transaction created: nobody else can see, sign or merge them before it
# commits.
_CREATED = "registry_created"
# Organisations it touched before it had an overlay (the overlay loads them when it starts).
_TOUCHED = "registry_touched"
# A savepoint rolled back and took the overlay along: rebuild it from the database.
_LOST = "registry_overlay_lost"
# The committed registry version the last claim read, for the resolve that follows at once.
_FRESH = "registry_fresh_version"
# (version, what this transaction's organisations are at it): applied to this process's
# shared indexes after commit when they were at the version just before (_advance_in_place).
_ADVANCE = "registry_advance"
# The name negatives' number (RegistryState.negatives) this transaction read with the registry
# version, for learned.refusals.
NEGATIVES_SEEN = "registry_negatives_seen"
# This transaction recorded name negatives (learned.record_different): not committed yet, so
# never read from or into a worker's copy.
NEGATIVES_WRITTEN = "registry_negatives_written"
_TRANSACTION_KEYS = (
    NEGATIVES_SEEN,
    NEGATIVES_WRITTEN,
    PENDING,
    _OVERLAY,
    _SYNCED,
    _CLAIMED,
    _CREATED,
    _TOUCHED,
    _LOST,
    _FRESH,
    _ADVANCE,
)
# Advisory lock buckets of names being created (PostgreSQL): few enough that a bulk import
# can hold them all, many enough that two signers creating unrelated names rarely meet.
_BUCKETS = 256
_LOCK_SPACE = 0x5E6  # the first key of pg_advisory_xact_lock(int, int): ours
_SETTLE_AT = 10_000
# Up to this many organisations written, the commit's stamp returns them (PostgreSQL).
_STAMP_RETURNS = 64
_EXTRA_CACHE = 32

_REGISTRY = RegistryState.__table__  # type: ignore[attr-defined]
_ORGANISATION = Organisation.__table__  # type: ignore[attr-defined]
_NAME = OrganisationName.__table__  # type: ignore[attr-defined]
_SIGNATURE = Signature.__table__  # type: ignore[attr-defined]
_LETTER = Letter.__table__  # type: ignore[attr-defined]
_VERSIONS = select(RegistryState.version, RegistryState.negatives).where(RegistryState.id == 1)
# Built once: an import runs these thousands of times, and building a statement costs about
# as much as SQLite executing it.
_BUMP_IF_PENDING = text(
    "UPDATE registry_state SET version = version + 1 WHERE id = 1"
    " AND EXISTS (SELECT 1 FROM organisation WHERE revision = :pending)"
    " RETURNING version"
)
_INSERT_ORGANISATION = (
    insert(_ORGANISATION)
    .values(
        kind=bindparam("kind"),
        country=bindparam("country"),
        website=bindparam("website"),
        merged_into=None,
        created_at=bindparam("now"),
        revision=bindparam("revision"),
    )
    .returning(_ORGANISATION.c.id)
)
_INSERT_NAMES = insert(_NAME)
# PostgreSQL: the shared locks the caller left for this statement (`db.share_with_next`), then
# the buckets, then the versions, in that order (each step's rows depend on the one before),
# in one round trip. The versions come from a VOLATILE function (migration 0091), whose query
# takes its own snapshot when it runs, after the locks: this statement's snapshot, taken
# before it waited for them, would miss what the creator it waited for committed.
_CLAIM_AND_READ = text(
    "WITH shared AS MATERIALIZED ("
    " SELECT count(pg_advisory_xact_lock_shared(held.lock_class, held.key)) AS taken"
    " FROM unnest(CAST(:shared_classes AS integer[]), CAST(:shared_keys AS integer[]))"
    " AS held (lock_class, key)),"
    " claimed AS MATERIALIZED ("
    " SELECT shared.taken + (SELECT count(pg_advisory_xact_lock(:space, wanted))"
    " FROM unnest(CAST(:buckets AS integer[])) AS wanted WHERE shared.taken >= 0) AS taken"
    " FROM shared)"
    " SELECT latest.version, latest.negatives"
    " FROM claimed, LATERAL registry_versions_after(claimed.taken) AS latest"
)


class _Shared:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.public: Index | None = None
        self.hidden = Index()
        self.revision: dict[int, int] = {}  # of hidden organisations (what `extra` caches on)
        # In `public`, but nothing shows them publicly.
        self.unsigned: set[int] | snapshot.Unsigned = set()
        self.version = 0
        # Small indexes of hidden organisations some callers may see, by their (id, revision).
        self.extra: OrderedDict[tuple[tuple[int, int], ...], Index] = OrderedDict()


_shared = _Shared()
_log = logging.getLogger(__name__)


@dataclass
class _Overlay:
    """This transaction's own organisations (created or changed), uncommitted."""

    index: Index = field(default_factory=Index)
    shadow: set[int] = field(default_factory=set)  # their older entries in the shared indexes
    # Of the organisations it changed (reloaded): those it created are absent until commit.
    standing: dict[int, Standing] = field(default_factory=dict)
    # Changed since the overlay last read them (touch): reloaded by id on the next resolve.
    dirty: set[int] = field(default_factory=set)
    # What each entry was built from (names, website, country): at commit, an organisation
    # that is still so is filed in the shared index as this entry, not parsed again.
    sources: dict[int, tuple[tuple[str, ...], str | None, str | None]] = field(default_factory=dict)

    def file(
        self, organisation_id: int, names: Sequence[str], website: str | None, country: str | None
    ) -> None:
        self.index.upsert(organisation_id, names, website=website, country=country)
        self.sources[organisation_id] = (tuple(names), website, country)
        self.shadow.add(organisation_id)

    def hidden(self) -> set[int]:
        return {i for i, held in self.standing.items() if held == Standing.hidden}


def reset_cache() -> None:
    """Forget the in-process registry (tests that wipe the database call this)."""
    with _shared.lock:
        _shared.public = None
        _shared.hidden = Index()
        _shared.revision.clear()
        _shared.unsigned = set()
        _shared.extra.clear()
        _shared.version = 0


def _end_of_transaction(session: OrmSession, transaction: SessionTransaction) -> None:
    # Only the outermost transaction: SQLAlchemy also ends savepoints (and its own internal
    # subtransactions), after which this transaction still holds its placeholder and overlay.
    if transaction.parent is None and not transaction.nested:
        for key in _TRANSACTION_KEYS:
            session.info.pop(key, None)


def _begins(session: OrmSession, transaction: SessionTransaction, connection: Any) -> None:
    session.info.pop(COMMITTED_VERSION, None)


def _savepoint_rolled_back(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    """A rolled-back savepoint takes its organisations with it: drop the overlay (the next
    resolve rebuilds it from what the database still has under the placeholder)."""
    if previous_transaction.nested:
        session.info.pop(_OVERLAY, None)
        session.info.pop(_CREATED, None)
        session.info.pop(_TOUCHED, None)
        session.info[_LOST] = True


def _stamp(session: OrmSession) -> None:
    """The registry version, taken in the transaction's last statements: bump the counter and
    stamp this transaction's organisations with it. The counter's row lock is held from here
    to COMMIT, so versions still become visible in order (workers reload `revision > held`),
    but no longer for a whole signing or import.

    When this process's shared indexes are at the version just before, the stamping
    statement also returns the organisations as a reload would read them (names, standing),
    and they are filed after COMMIT (`_advance_in_place`): the process does not reload its
    own organisations on its next resolve (decision 0106)."""
    pending = session.info.get(PENDING)
    if pending is None or _releasing_savepoint(session):
        return
    assert isinstance(session, Session)
    session.flush()
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and _written(session) <= _STAMP_RETURNS:
        # A signature's few organisations: bump, stamp and read them back in one statement.
        # Every creator of organisations, on every letter, waits for the counter's row lock
        # until this COMMIT: nothing else runs here, not even reading the rows (nor waiting
        # for this process's index lock, which a resolve may hold through a database read):
        # that is `_advance_in_place`'s, after COMMIT.
        # With COMMIT in the same round trip (db.run_then_commit): the counter's row lock is
        # held by the server alone, never while this thread waits for the GIL, nor through the
        # WAL flush (decision 0138).
        rows = db.run_then_commit(session, _stamp_returning(), {"pending": pending})
        if not rows:
            return  # nothing under the placeholder (see below)
        version = int(rows[0][4])  # the stamped revision
        session.info[COMMITTED_VERSION] = version
        session.info[_ADVANCE] = (version, session.info.get(_OVERLAY), rows, None)
        return
    # Nothing under the placeholder (a rolled-back savepoint took it all: an import's dry
    # run): the registry did not change, and its version stays.
    bumped = session.execute(_BUMP_IF_PENDING, {"pending": pending}).scalar()
    if bumped is None:
        return
    version = int(bumped)
    session.execute(
        update(_ORGANISATION).where(_ORGANISATION.c.revision == pending).values(revision=version)
    )
    session.info[COMMITTED_VERSION] = version
    if postgresql:
        return  # many organisations (an import): every worker reloads them
    with _shared.lock:
        if _shared.public is None or _shared.version != version - 1:
            return
    # SQLite runs in-process: the statements of a reload cost little there.
    loaded, ids = _load(session, after=version - 1, upto=version)
    for item in loaded:
        item.revision = version  # the session's own objects may still say the placeholder
    session.info[_ADVANCE] = (version, session.info.get(_OVERLAY), None, (loaded, ids))


def _written(session: Session) -> int:
    """About how many organisations this transaction wrote (created or touched)."""
    overlay = session.info.get(_OVERLAY)
    own = 0 if overlay is None else len(overlay.shadow) + len(overlay.dirty)
    return own + len(session.info.get(_TOUCHED, ())) + (1_000_000 if session.info.get(_LOST) else 0)


def _releasing_savepoint(session: OrmSession) -> bool:
    """Whether this before_commit is a savepoint's release, which fires it too: the version
    then waits for the real COMMIT (taking the counter's row lock there would hold it for the
    rest of the transaction). A COMMIT issued with savepoints still open releases them first,
    innermost out, and fires it for the transaction last, with none open."""
    return session.in_nested_transaction()


def _advance_in_place(session: OrmSession) -> None:
    """After COMMIT: file this transaction's organisations in the shared indexes, if nothing
    else moved them meanwhile (they are then exactly the registry at its version)."""
    advance = session.info.pop(_ADVANCE, None)
    if advance is None:
        return
    version, overlay, rows, read = advance
    if _shared.public is None or _shared.version != version - 1:
        return  # moved meanwhile (checked again under the lock): the next resolve reloads
    # The stamping statement's rows (PostgreSQL), or what SQLite read back.
    loaded, ids = _loaded_rows(rows) if rows is not None else read
    if overlay is not None:
        for item in loaded:
            if overlay.sources.get(item.organisation_id) == (
                tuple(item.names),
                item.website,
                item.country,
            ):
                item.entry = overlay.index.entry(item.organisation_id)
    with _shared.lock:
        if _shared.public is not None and _shared.version == version - 1:
            _apply_shared(loaded, ids, _shared.public)
            _shared.version = version


def changed(session: Session) -> bool:
    """Whether this transaction changed organisations (the registry moves at its commit)."""
    return session.info.get(PENDING) is not None


def _pending(session: Session) -> int:
    """This transaction's placeholder revision: negative, so that no worker's `revision >
    held` ever matches it, and unique, so that commit stamps only this transaction's rows."""
    pending = session.info.get(PENDING)
    if pending is None:
        if not event.contains(OrmSession, "before_commit", _stamp):
            # Without the commit hook these organisations would keep a placeholder revision
            # that no worker ever loads: refuse rather than corrupt the registry.
            raise RuntimeError("session listeners not installed: call app.listeners.install()")
        pending = session.info[PENDING] = -(secrets.randbits(30) + 1)
    return int(pending)


def _buckets(names: Iterable[str]) -> list[int]:
    keys = {normalise(name).replace(" ", "") for name in names}
    return sorted({zlib.crc32(key.encode()) % _BUCKETS for key in keys if key})


def claim(session: Session, *, names: Sequence[str] = (), bulk: bool = False) -> bool:
    """Before creating an organisation under these names: on PostgreSQL, take the advisory
    locks of their buckets (every bucket for a bulk import, at once and in order, so that
    creators never deadlock), held until this transaction ends; then whether the committed
    registry moved since this transaction last resolved (decide again: another transaction
    may just have created this very organisation)."""
    if session.get_bind().dialect.name == "postgresql":
        held: set[int] = session.info.setdefault(_CLAIMED, set())
        if bulk:
            wanted = [] if len(held) == _BUCKETS else list(range(_BUCKETS))
        else:
            wanted = [b for b in _buckets(names) if b not in held]
        shared = db.take_shared_with_next(session)
        row = session.execute(
            _CLAIM_AND_READ,
            {
                "shared_classes": [lock_class for lock_class, _ in shared],
                "shared_keys": [key for _, key in shared],
                "space": _LOCK_SPACE,
                "buckets": wanted,
            },
        ).one()
        held.update(wanted)
        current = _versions_seen(session, row)
    else:
        current = _read_versions(session)
    synced = session.info.get(_SYNCED)
    # Read after the locks: the resolve that follows (when the registry moved) needs no
    # second read.
    session.info[_FRESH] = current
    return synced is None or current != int(synced)


def _read_versions(session: Session) -> int:
    """The committed registry version; the name negatives' number read with it, in the same
    round trip, is left for learned.refusals (NEGATIVES_SEEN)."""
    return _versions_seen(session, session.execute(_VERSIONS).first())


def _versions_seen(session: Session, row: Any) -> int:
    version, negatives = (0, 0) if row is None else (int(row[0]), int(row[1]))
    session.info[NEGATIVES_SEEN] = negatives
    return version


def touch(session: Session, *, organisations: Iterable[Organisation]) -> None:
    """Mark organisations as changed (names, merges, standing) so that every worker reloads
    them after this transaction commits; its own later resolves see them through its overlay."""
    pending = _pending(session)
    touched = []
    for organisation in organisations:
        organisation.revision = pending
        session.add(organisation)
        if organisation.id is not None:
            touched.append(organisation.id)
    session.flush()
    _dirty(session, touched)


def touch_ids(session: Session, *, organisation_ids: Iterable[int]) -> None:
    """`touch` for organisations known by id (one statement)."""
    ids = sorted(set(organisation_ids))
    if not ids:
        return
    pending = _pending(session)
    for start in range(0, len(ids), 5000):
        session.execute(
            update(_ORGANISATION)
            .where(_ORGANISATION.c.id.in_(ids[start : start + 5000]))
            .values(revision=pending)
        )
    _dirty(session, ids)


def _dirty(session: Session, organisation_ids: Iterable[int]) -> None:
    overlay = session.info.get(_OVERLAY)
    if overlay is not None:
        overlay.dirty.update(organisation_ids)
    else:
        session.info.setdefault(_TOUCHED, set()).update(organisation_ids)


def created_here(session: Session, organisation_id: int) -> bool:
    """Whether this transaction created the organisation (uncommitted: nobody else can see,
    sign or merge it yet)."""
    return organisation_id in session.info.get(_CREATED, ())


def standings(session: Session, organisation_ids: Iterable[int]) -> dict[int, Standing | None]:
    """The standing this process's registry holds for each organisation (None: not live).
    Organisations this transaction created count as public until its commit reloads them."""
    wanted = list(organisation_ids)
    own = _own(session)
    if own is not None and all(i in own.shadow for i in wanted):
        # Only this transaction's own organisations: the shared indexes have nothing to say.
        public: Index = Index()
        overlay: _Overlay | None = own
    else:
        public, overlay = _sync(session)
    organisation_ids = wanted
    result: dict[int, Standing | None] = {}
    with _shared.lock:
        for organisation_id in organisation_ids:
            if overlay is not None and organisation_id in overlay.shadow:
                if organisation_id not in overlay.index:
                    result[organisation_id] = None
                else:
                    result[organisation_id] = overlay.standing.get(organisation_id, Standing.public)
            elif organisation_id in _shared.hidden:
                result[organisation_id] = Standing.hidden
            elif organisation_id in _shared.unsigned:
                result[organisation_id] = Standing.unsigned
            else:
                result[organisation_id] = Standing.public if organisation_id in public else None
    return result


def changes_standing(held: Standing | None, *, shows_publicly: bool) -> bool:
    """Whether one more signature (showing the organisation publicly, or a sensitive one)
    changes the standing `held`: the first public signature of a hidden organisation, or the
    first sensitive signature of one that nothing showed."""
    return held == (Standing.hidden if shows_publicly else Standing.unsigned)


@dataclass
class _Loaded:
    organisation_id: int
    names: list[str]
    website: str | None
    country: str | None
    standing: Standing
    revision: int
    # Already built (this transaction's overlay holds it, from the same names): filed as is.
    entry: OrgEntry | None = None


@lru_cache(maxsize=1)
def _stamp_returning() -> Any:
    """PostgreSQL, one statement: bump the counter if organisations carry the placeholder,
    stamp them with the new version and return them (`_returned_columns`). Built
    once: building it cost about as much as running it."""
    organisation, registry = _ORGANISATION, _REGISTRY
    pending: Any = bindparam("pending")
    bumped = (
        update(registry)
        .where(
            registry.c.id == 1,
            exists().where(organisation.c.revision == pending).correlate(None),
        )
        .values(version=registry.c.version + 1)
        .returning(registry.c.version)
        .cte("bumped")
    )
    # The counter's row is bumped only when some organisation carries the placeholder, seen
    # by the same snapshot as this WHERE: either both happen or neither.
    return (
        update(organisation)
        .where(organisation.c.revision == pending)
        .values(revision=select(bumped.c.version).scalar_subquery())
        .returning(*_returned_columns())
    )


@lru_cache(maxsize=1)
def _reload_between() -> Any:
    """PostgreSQL: `_returned_columns` of the organisations with :after < revision ≤ :upto,
    what a worker reads of the others' new organisations before each resolution. Built once:
    SQLAlchemy walks a new statement object to find its compiled form, which took 4 % of a
    worker's CPU on the hot letter with two workers (decision 0128's profile method)."""
    revision = _ORGANISATION.c.revision
    return select(*_returned_columns()).where(
        revision > bindparam("after"), revision <= bindparam("upto")
    )


@lru_cache(maxsize=1)
def _returned_columns() -> tuple[ColumnElement[Any], ...]:
    """An organisation as a reload reads it, in one row (PostgreSQL): id, merged_into,
    website, country, revision, its names (primary first, then in order) and its standing's
    two aggregates (visibility.standing_columns)."""
    organisation = _ORGANISATION
    names = (
        select(
            func.array_agg(aggregate_order_by(_NAME.c.name, _NAME.c.is_primary.desc(), _NAME.c.id))
        )
        .where(_NAME.c.organisation_id == organisation.c.id)
        .correlate(organisation)
        .scalar_subquery()
    )
    signed = _SIGNATURE.join(_LETTER, _LETTER.c.id == _SIGNATURE.c.letter_id)
    public, sensitive = (
        select(aggregate)
        .select_from(signed)
        .where(_SIGNATURE.c.organisation_id == organisation.c.id)
        .correlate(organisation)
        .scalar_subquery()
        for aggregate in standing_columns()
    )
    return (
        organisation.c.id,
        organisation.c.merged_into,
        organisation.c.website,
        organisation.c.country,
        organisation.c.revision,
        names,
        public,
        sensitive,
    )


def _loaded_rows(rows: Iterable[Sequence[Any]]) -> tuple[list[_Loaded], set[int]]:
    """`_returned_columns` rows as `_load` gives them: the live ones in id order, and the ids
    of all (merged ones included)."""
    loaded = []
    ids = set()
    for row in sorted(rows, key=lambda row: int(row[0])):
        organisation_id, merged_into, website, country, revision, names, public, sensitive = row
        ids.add(int(organisation_id))
        if merged_into is None:
            standing = standing_of(public=bool(public), sensitive=bool(sensitive))
            loaded.append(
                _Loaded(
                    int(organisation_id), list(names or []), website, country, standing, revision
                )
            )
    return loaded, ids


def _load(
    session: Session,
    *,
    after: int = 0,
    upto: int | None = None,
    ids: Sequence[int] | None = None,
    pending: int | None = None,
) -> tuple[list[_Loaded], set[int]]:
    """Organisations with after < revision (≤ upto), or those of `ids`, or those carrying a
    transaction's placeholder revision `pending`: the live ones with their names and standing,
    and the ids of all of them (merged ones included)."""
    where: ColumnElement[bool]
    if ids is not None:
        where = col(Organisation.id).in_(list(ids))
    elif pending is not None:
        where = col(Organisation.revision) == pending
    else:
        # By revision range rather than by id: a bulk import commits thousands.
        where = col(Organisation.revision) > after
        if upto is not None:
            where &= col(Organisation.revision) <= upto
    if session.get_bind().dialect.name == "postgresql" and (after > 0 or ids or pending):
        # A few organisations (what other workers committed since this one last looked): one
        # round trip rather than three. A whole registry still loads by joins.
        if ids is None and pending is None and upto is not None:
            between = session.execute(_reload_between(), {"after": after, "upto": upto})
            return _loaded_rows(between)
        return _loaded_rows(session.execute(select(*_returned_columns()).where(where)))
    organisations = session.exec(
        select(Organisation).where(where).order_by(col(Organisation.id))
    ).all()
    live = {o.id: o for o in organisations if o.merged_into is None and o.id is not None}
    names: dict[int, list[str]] = {i: [] for i in live}
    standings: dict[int, Standing] = dict.fromkeys(live, Standing.unsigned)
    if live:
        # The same `where` as above, the merged ones left out here rather than in SQL: with
        # `merged_into IS NULL` beside a revision range, SQLite without statistics (a database
        # never analyzed) drives these joins from ix_organisation_merged_into, i.e. from every
        # live organisation: 10–20 ms a statement at 100,000 (decision 0137's profile).
        rows = session.exec(
            select(OrganisationName.organisation_id, OrganisationName.name)
            .join(Organisation, col(Organisation.id) == OrganisationName.organisation_id)
            .where(where)
            .order_by(col(OrganisationName.is_primary).desc(), col(OrganisationName.id))
        )
        for organisation_id, name in rows:
            if organisation_id in names:
                names[organisation_id].append(name)
        signed = session.exec(
            select(Signature.organisation_id, *standing_columns())
            .join(Letter, col(Letter.id) == Signature.letter_id)
            .join(Organisation, col(Organisation.id) == Signature.organisation_id)
            .where(where)
            .group_by(col(Signature.organisation_id))
        )
        for signer, public, sensitive in signed:
            if signer in standings:
                standings[signer] = standing_of(public=bool(public), sensitive=bool(sensitive))
    loaded = [
        _Loaded(i, names[i], o.website, o.country, standings[i], o.revision)
        for i, o in live.items()
    ]
    return loaded, {o.id for o in organisations if o.id is not None}


# Rows fetched per round trip while a snapshot is built from the whole registry.
_STREAM = 10_000


def _registry_rows(session: Session, *, upto: int) -> Iterator[tuple[snapshot.Row, Standing, int]]:
    """Every live organisation with 0 < revision ≤ `upto` as `_load(after=0, upto=upto)`
    finds it (names primary first, then by id; its standing; its revision), in ascending id
    order, streamed: three Core selects ordered by organisation id, read `_STREAM` rows at a
    time (server-side cursors on PostgreSQL) and merged by id. No ORM object and no list of
    the registry: the snapshot's parsing processes start on the first rows while the rest
    are read (`_load` took 22.9 s and 2.5 GB at 1,000,000 organisations, decision 0125)."""
    organisation = _ORGANISATION
    live = (
        (organisation.c.revision > 0)
        & (organisation.c.revision <= upto)
        & organisation.c.merged_into.is_(None)
    )
    organisations = (
        select(
            organisation.c.id,
            organisation.c.website,
            organisation.c.country,
            organisation.c.revision,
        )
        .where(live)
        .order_by(organisation.c.id)
    )
    names = (
        select(_NAME.c.organisation_id, _NAME.c.name)
        .join(organisation, organisation.c.id == _NAME.c.organisation_id)
        .where(live)
        .order_by(_NAME.c.organisation_id, _NAME.c.is_primary.desc(), _NAME.c.id)
    )
    signed = (
        select(_SIGNATURE.c.organisation_id, *standing_columns())
        .join(_LETTER, _LETTER.c.id == _SIGNATURE.c.letter_id)
        .join(organisation, organisation.c.id == _SIGNATURE.c.organisation_id)
        .where(live)
        .group_by(_SIGNATURE.c.organisation_id)
        .order_by(_SIGNATURE.c.organisation_id)
    )
    connection = session.connection()

    def run(statement: Any) -> Any:
        return connection.execute(statement.execution_options(yield_per=_STREAM))

    found = run(organisations)
    organisation_rows = iter(found)
    first = next(organisation_rows, None)
    if first is None:
        # No organisation: names and standings are not read (nor their tables locked), as a
        # whole `_load` did not read them.
        found.close()
        return iter(())
    # The other two statements run now, before the caller starts its parsing processes: every
    # table is locked (ACCESS SHARE) from here, as a whole load did; only FETCHes follow.
    # Had a cursor been opened later, a TRUNCATE or ALTER waiting on a table already read
    # would have deadlocked against it (the tests' wipes did).
    results = [found, run(names), run(signed)]
    return _merged_by_id(results, chain([first], organisation_rows))


def _merged_by_id(
    results: list[Any], organisation_rows: Iterator[Any]
) -> Iterator[tuple[snapshot.Row, Standing, int]]:
    """The organisation, name and standing rows of `results` (the organisations read through
    `organisation_rows`), each ordered by organisation id, merged."""
    try:
        _, name_rows, signed_rows = map(iter, results)
        name_row = next(name_rows, None)
        signed_row = next(signed_rows, None)
        for organisation_id, website, country, revision in organisation_rows:
            held: list[str] = []
            while name_row is not None and name_row[0] <= organisation_id:
                if name_row[0] == organisation_id:
                    held.append(name_row[1])
                name_row = next(name_rows, None)
            standing = Standing.unsigned
            while signed_row is not None and signed_row[0] <= organisation_id:
                if signed_row[0] == organisation_id:
                    public, sensitive = signed_row[1], signed_row[2]
                    standing = standing_of(public=bool(public), sensitive=bool(sensitive))
                signed_row = next(signed_rows, None)
            yield snapshot.Row(organisation_id, held, website, country), standing, revision
    finally:
        for result in results:
            result.close()


def _apply_shared(loaded: list[_Loaded], ids: set[int], public: Index) -> None:
    for organisation_id in ids:
        public.remove(organisation_id)
        _shared.hidden.remove(organisation_id)
        _shared.revision.pop(organisation_id, None)
        _shared.unsigned.discard(organisation_id)
    for item in loaded:
        target = _shared.hidden if item.standing == Standing.hidden else public
        if item.entry is not None:
            target.adopt(item.entry)
        else:
            target.upsert(
                item.organisation_id, item.names, website=item.website, country=item.country
            )
        if item.standing == Standing.hidden:
            _shared.revision[item.organisation_id] = item.revision
        elif item.standing == Standing.unsigned:
            _shared.unsigned.add(item.organisation_id)


def _identity(session: Session) -> str:
    """Which database a snapshot was written from: its first organisation's id and creation
    time (a database wiped and refilled past the snapshot's version differs here), and on
    PostgreSQL the server's incarnation (a snapshot may hold commits a crash then lost:
    decision 0138)."""
    first = session.execute(
        text("SELECT id, created_at FROM organisation ORDER BY id LIMIT 1")
    ).first()
    if first is None:
        return ""
    identity = f"{first[0]}:{first[1]}"
    if session.get_bind().dialect.name == "postgresql":
        token = session.execute(text("SELECT token FROM server_incarnation WHERE id = 1")).scalar()
        identity += f":{token}"
    return identity


def _machine_index(session: Session, *, committed: int) -> snapshot.Opened | None:
    """The registry at a version ≤ `committed` from the machine's shared snapshot, written
    first (under a file lock, so once per machine) when there is none usable or it is far
    behind; None below the configured registry size."""
    settings = get_settings()
    live = session.execute(
        text("SELECT count(*) FROM organisation WHERE merged_into IS NULL")
    ).scalar()
    if int(live or 0) < settings.resolution_index_min:
        return None
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    path = snapshot.location(url, settings.resolution_index_dir)
    identity = _identity(session)
    with snapshot.FileLock(path):
        opened = snapshot.usable(path, identity=identity, committed=committed)
        if opened is not None:
            behind = session.execute(
                text(
                    "SELECT count(*) FROM organisation WHERE revision > :after AND revision <= :upto"
                ),
                {"after": opened.version, "upto": committed},
            ).scalar()
            if not snapshot.stale(opened, behind=int(behind or 0)):
                return opened
        hidden: list[tuple[snapshot.Row, int]] = []
        unsigned = array("q")

        rows = _registry_rows(session, upto=committed)  # its statements run here

        def public() -> Iterator[snapshot.Row]:
            # Hidden and unsigned ones are noted as the rows stream by: snapshot.write reads
            # those two only once the public rows are exhausted.
            for row, standing, revision in rows:
                if standing == Standing.hidden:
                    hidden.append((row, revision))
                    continue
                if standing == Standing.unsigned:
                    unsigned.append(row.organisation_id)
                yield row

        snapshot.write(
            path,
            version=committed,
            identity=identity,
            public=public(),
            hidden=hidden,
            unsigned=unsigned,
        )
        return snapshot.usable(path, identity=identity, committed=committed)


def _advance_shared(session: Session, *, committed: int) -> Index:
    """The shared indexes, brought to the committed registry version `committed` (or later)."""
    public, held = _shared.public, _shared.version
    if public is not None and committed < held:
        # Usually this transaction read the version just before another thread of this worker
        # filed a newer commit: the newer index is the one to use (what it adds is committed,
        # and this transaction's next statements see it too). Only a database that really
        # went back (replaced, restored) rebuilds; rebuilding for a stale read reloaded, under
        # the index lock, every organisation since the snapshot, again and again while a hot
        # letter's signers committed.
        committed = max(committed, _read_versions(session))
    went_back = public is not None and committed < held
    if public is not None and not went_back:
        if committed == held:
            return public  # nothing to do: no lock to wait for behind the other threads
        # The common step (another worker's few new organisations): read them without holding
        # the index lock. Held through a database round trip, it kept every other thread of
        # this worker waiting (each also behind the GIL) while the other worker's commits
        # moved the version again. Filed only if nothing moved the index meanwhile.
        loaded, ids = _load(session, after=held, upto=committed)
        with _shared.lock:
            if _shared.public is public and _shared.version == held:
                _apply_shared(loaded, ids, public)
                _shared.version = committed
            if _shared.public is public and _shared.version >= committed:
                return public
    with _shared.lock:
        if _shared.public is None or (went_back and committed < _shared.version):
            # No version while the indexes fill: the unlocked paths above never take a
            # half-built index for a complete one.
            _shared.version = -1
            _shared.public, _shared.hidden = Index(), Index()
            _shared.revision = {}
            _shared.unsigned = set()
            _shared.extra.clear()
            try:
                opened = _machine_index(session, committed=committed)
            except OSError:
                # No shared file (directory not writable, disk full): this worker builds its
                # own index, as every worker did before decision 0093.
                _log.warning("resolution snapshot unavailable; building a per-worker index")
                opened = None
            if opened is not None:
                # The machine's snapshot, and what was committed since it was written.
                _shared.public, _shared.hidden = opened.public, opened.hidden
                _shared.revision, _shared.unsigned = opened.revision, opened.unsigned
                loaded, ids = _load(session, after=opened.version, upto=committed)
                _apply_shared(loaded, ids, _shared.public)
                _shared.version = committed
                settle()  # what start-up allocated stays out of full collections' way
                return _shared.public
            loaded, ids = _load(session, after=0, upto=committed)
            _apply_shared(loaded, ids, _shared.public)
            _shared.version = committed
            if len(_shared.public) + len(_shared.hidden) > _SETTLE_AT:
                settle()
        elif committed > _shared.version:
            loaded, ids = _load(session, after=_shared.version, upto=committed)
            _apply_shared(loaded, ids, _shared.public)
            _shared.version = committed
        return _shared.public


def _sync(session: Session) -> tuple[Index, _Overlay | None]:
    """The shared public index at the latest committed version, plus this transaction's own
    changes."""
    fresh = session.info.pop(_FRESH, None)
    version = int(fresh) if fresh is not None else _read_versions(session)
    shared = _advance_shared(session, committed=version)
    session.info[_SYNCED] = version
    return shared, _own(session)


def _own(session: Session) -> _Overlay | None:
    """This transaction's overlay (None while it has written no organisation), up to date
    with what it touched."""
    pending = session.info.get(PENDING)
    if pending is None:
        return None
    overlay = session.info.get(_OVERLAY)
    if overlay is None:
        overlay = session.info[_OVERLAY] = _Overlay()
        # What it touched before: by id (created ones are noted from memory, _note_created),
        # or, after a rolled-back savepoint, whatever still carries its placeholder.
        overlay.dirty = session.info.pop(_TOUCHED, set())
        if session.info.pop(_LOST, False):
            _reload(overlay, *_load(session, pending=pending))
    if overlay.dirty:
        ids = sorted(overlay.dirty)
        overlay.dirty.clear()
        _reload(overlay, *_load(session, ids=ids))
    return overlay


def _reload(overlay: _Overlay, loaded: list[_Loaded], ids: set[int]) -> None:
    for organisation_id in ids:
        overlay.index.remove(organisation_id)
        overlay.standing.pop(organisation_id, None)
        overlay.sources.pop(organisation_id, None)
    for item in loaded:
        overlay.file(item.organisation_id, item.names, item.website, item.country)
        overlay.standing[item.organisation_id] = item.standing
    overlay.shadow |= ids


@dataclass(frozen=True)
class Layer:
    index: Index
    exclude: frozenset[int] | set[int] = frozenset()


class View:
    """The registry as one caller may see it: layers of indexes, each leaving out what a
    layer above replaces (or what the caller may not see)."""

    def __init__(self, layers: Sequence[Layer], *, counted: Sequence[Index] = ()) -> None:
        self.layers = [layer for layer in layers if len(layer.index)]
        # Word rarity counts the organisations of the layers (or of `counted`).
        indexes = [i for i in counted if len(i)] or [layer.index for layer in self.layers]
        self.rarity: Rarity
        if len(indexes) == 1:
            self.rarity = indexes[0].rarity
        elif len(indexes) == 2:  # the common case (overlay or hidden, and public): no loop
            first, second = indexes[0].rarity, indexes[1].rarity
            self.rarity = lambda word: first(word) + second(word)
        else:
            self.rarity = lambda word: sum(index.rarity(word) for index in indexes)

    def entry(self, organisation_id: int) -> OrgEntry | None:
        """The organisation as the first layer that holds it and does not leave it out."""
        for layer in self.layers:
            if organisation_id in layer.exclude:
                continue
            found = layer.index.entry(organisation_id)
            if found is not None:
                return found
        return None

    def exact(self, keys: Sequence[NameKey]) -> dict[int, Index]:
        """Organisations with a name equal to a query name, and the index holding each."""
        hits: dict[int, Index] = {}
        for layer in self.layers:
            for organisation_id in layer.index.exact(keys, exclude=layer.exclude):
                hits.setdefault(organisation_id, layer.index)
        return hits

    def score(
        self,
        keys: Sequence[NameKey],
        *,
        website: str | None,
        country: str | None,
        minimum: float | None,
    ) -> dict[int, OrgScore]:
        """Blocked candidates of every layer, scored (words counted over the view)."""
        scored: dict[int, OrgScore] = {}
        for layer in self.layers:
            for organisation_id, result in layer.index.score(
                keys,
                website=website,
                country=country,
                exclude=layer.exclude,
                minimum=minimum,
                rarity=self.rarity,
            ):
                scored.setdefault(organisation_id, result)
        return scored

    def score_one(
        self,
        keys: Sequence[NameKey],
        organisation_id: int,
        index: Index,
        *,
        website: str | None,
        country: str | None,
    ) -> OrgScore | None:
        return index.score_one(
            keys, organisation_id, website=website, country=country, rarity=self.rarity
        )

    def blocked(
        self, keys: Sequence[NameKey], *, exclude: frozenset[int] | set[int] = frozenset()
    ) -> list[OrgEntry]:
        """The organisations worth comparing with these names (each layer's blocking)."""
        found: dict[int, OrgEntry] = {}
        for layer in self.layers:
            for organisation_id in layer.index.block(keys, exclude=layer.exclude | exclude):
                entry = layer.index.entry(organisation_id)
                if entry is not None:
                    found.setdefault(organisation_id, entry)
        return list(found.values())

    def entries(self) -> dict[int, OrgEntry]:
        """Every organisation of the view (the duplicate scan's admin view)."""
        found: dict[int, OrgEntry] = {}
        for layer in self.layers:
            for entry in layer.index.entries():
                if entry.organisation_id not in layer.exclude:
                    found.setdefault(entry.organisation_id, entry)
        return found


def _extra_index(organisation_ids: frozenset[int]) -> Index:
    """A small index of the hidden organisations a caller may see (under _shared.lock)."""
    key = tuple(sorted((i, _shared.revision[i]) for i in organisation_ids))
    cached = _shared.extra.get(key)
    if cached is not None:
        _shared.extra.move_to_end(key)
        return cached
    index = Index()
    for organisation_id in organisation_ids:
        entry = _shared.hidden.entry(organisation_id)
        if entry is not None:
            index.adopt(entry)
    _shared.extra[key] = index
    if len(_shared.extra) > _EXTRA_CACHE:
        _shared.extra.popitem(last=False)
    return index


def bears_exactly(keys: Sequence[NameKey]) -> bool:
    """Whether an organisation of this process's shared public index, as it stands, bears one
    of these names as it is. No database read, so maybe a few commits behind: a hint for
    how to go about a decision (`identify`), never the decision."""
    public = _shared.public
    return public is not None and bool(public.exact(keys))


def view(session: Session, *, viewer: Viewer | None) -> View:
    """The registry as this caller may see it (None: everything, for admin tools)."""
    public, overlay = _sync(session)
    shadow: frozenset[int] | set[int] = overlay.shadow if overlay is not None else frozenset()
    everything = viewer is None or viewer.is_admin
    extra: frozenset[int] = frozenset()
    if viewer is not None and not viewer.is_admin:
        extra = viewer.extra(session)
    layers = []
    if overlay is not None:
        exclude = set() if everything else overlay.hidden() - extra
        layers.append(Layer(overlay.index, exclude))
    layers.append(Layer(public, shadow))
    with _shared.lock:
        if everything:
            layers.append(Layer(_shared.hidden, shadow))
        else:
            seen = frozenset(i for i in extra if i in _shared.revision)
            if seen:
                layers.append(Layer(_extra_index(seen), shadow))
    return View(layers)


def hidden_view(session: Session) -> View:
    """The organisations hidden from the public alone, words counted over the whole registry
    (comparing a new organisation with them: checks.py)."""
    public, _ = _sync(session)
    with _shared.lock:
        hidden = _shared.hidden
    return View([Layer(hidden)], counted=[public, hidden])


def entry(session: Session, organisation_id: int) -> OrgEntry | None:
    """A committed live organisation as the registry holds it."""
    public, _ = _sync(session)
    with _shared.lock:
        return public.entry(organisation_id) or _shared.hidden.entry(organisation_id)


def version(session: Session) -> int:
    """The committed registry version this process's view of it is at."""
    _sync(session)
    return int(session.info.get(_SYNCED) or _shared.version)


def warm(session: Session) -> int:
    """Build the shared indexes now (at start-up) rather than on the first request; size."""
    public, _ = _sync(session)
    with _shared.lock:
        return len(public) + len(_shared.hidden)


def _note_created(
    session: Session,
    *,
    organisation_id: int,
    names: list[str],
    website: str | None,
    country: str | None,
) -> None:
    """Add an organisation this transaction just created to its overlay, without a query (an
    organisation still pending in a bulk write would not be found by one)."""
    overlay = _own(session)
    assert overlay is not None  # created under the placeholder
    overlay.file(organisation_id, names, website, country)
    session.info.setdefault(_CREATED, set()).add(organisation_id)


class Batch:
    """Organisations a bulk import creates, written together by flush() rather than in one
    round trip each (on PostgreSQL most of an import's non-resolver time).

    Their ids are reserved up front, so each is known (and resolvable through the
    transaction's overlay) at once. The owner must flush() before anything else of the
    transaction reads the organisation tables or refers to these rows, and before it ends;
    an exception or rollback simply drops what was pending. `created` lists every
    organisation created through it.
    """

    def __init__(self) -> None:
        self._organisations: list[dict[str, Any]] = []
        self._names: list[dict[str, Any]] = []
        self._ids: list[int] = []
        self._next = 0
        # Ids reserved at a time, doubling up to 256: a small import wastes few sequence
        # numbers, a large one needs few round trips.
        self._reserve = 8
        self.created: list[int] = []

    def reserve_id(self, session: Session) -> int:
        if not self._ids:
            self._reserve = min(self._reserve * 2, 256)
            if session.get_bind().dialect.name == "postgresql":
                self._ids = list(
                    session.execute(
                        text(
                            "SELECT nextval(pg_get_serial_sequence('organisation', 'id'))"
                            " FROM generate_series(1, :count)"
                        ),
                        {"count": self._reserve},
                    ).scalars()
                )
            else:
                # SQLite gives max(id) + 1; this transaction holds its write lock.
                highest = session.execute(text("SELECT max(id) FROM organisation")).scalar()
                start = max(int(highest or 0), self._next) + 1
                self._ids = list(range(start, start + self._reserve))
                self._next = self._ids[-1]
        return self._ids.pop(0)

    def add(self, organisation: dict[str, Any], names: list[dict[str, Any]]) -> None:
        self._organisations.append(organisation)
        self._names.extend(names)

    def flush(self, session: Session) -> None:
        if not self._organisations:
            return
        session.execute(insert(_ORGANISATION), self._organisations)
        session.execute(_INSERT_NAMES, self._names)
        self._organisations.clear()
        self._names.clear()


def create(
    session: Session,
    *,
    names: Sequence[ParsedName],
    lang: str | None = None,
    kind: str = "organisation",
    country: str | None = None,
    website: str | None = None,
    batch: Batch | None = None,
) -> int:
    """Insert a new organisation with its names, under a registry version, and let this
    transaction's overlay know it; its id. With `batch`, written when that is flushed."""
    # Written with Core statements rather than a unit-of-work flush: an import creates
    # thousands of organisations in one request, and per-statement round trips were most of
    # its time (docs/decisions/0041-import-performance.md).
    now = utcnow()
    rows = [
        {
            "name": new.name,
            "normalised": normalise(new.name),
            # The submitted language describes the primary name; others carry their script.
            "lang": lang if new.is_primary else None,
            "script": new.script,
            "is_acronym": new.is_acronym,
            "is_primary": new.is_primary,
        }
        for new in names
    ]
    fields = {"kind": kind, "country": country, "website": website, "now": now}
    # Stamped with the registry version at commit (_stamp).
    pending = _pending(session)

    def named(organisation_id: int) -> list[dict[str, Any]]:
        return [row | {"organisation_id": organisation_id, "created_at": now} for row in rows]

    if batch is not None:
        organisation_id = batch.reserve_id(session)
        batch.add(
            {
                "id": organisation_id,
                "kind": kind,
                "country": country,
                "website": website,
                "merged_into": None,
                "created_at": now,
                "revision": pending,
            },
            named(organisation_id),
        )
        batch.created.append(organisation_id)
    elif session.get_bind().dialect.name == "postgresql":
        organisation_id = _insert_in_one_statement(
            session, fields=fields, names=rows, revision=pending
        )
    else:
        # SQLite runs in-process, so separate statements cost little.
        organisation_id = session.execute(
            _INSERT_ORGANISATION, fields | {"revision": pending}
        ).scalar_one()
        session.execute(_INSERT_NAMES, named(organisation_id))
    # The overlay learns the organisation from memory: re-reading it from the database before
    # the next resolve cost two queries per imported row.
    _note_created(
        session,
        organisation_id=organisation_id,
        names=[new.name for new in names],
        website=website,
        country=country,
    )
    return int(organisation_id)


@lru_cache(maxsize=64)
def _one_statement(names: int) -> TextClause:
    """The statement of _insert_in_one_statement for a number of names (parsed once: text()
    scans its SQL for parameters every time it is built)."""
    values = ", ".join(
        f"(:name{i}, :normalised{i}, :lang{i}, :script{i}, :is_acronym{i}, :is_primary{i})"
        for i in range(names)
    )
    return text(
        "WITH new_organisation AS ("
        " INSERT INTO organisation (kind, country, website, merged_into, created_at, revision)"
        " VALUES (:kind, :country, :website, NULL, :now, :revision)"
        " RETURNING id),"
        " new_names AS ("
        " INSERT INTO organisation_name"
        " (organisation_id, name, normalised, lang, script, is_acronym, is_primary, created_at)"
        " SELECT new_organisation.id, given.name, given.normalised, given.lang, given.script,"
        " given.is_acronym, given.is_primary, :now FROM new_organisation,"
        f" (VALUES {values}) AS given (name, normalised, lang, script, is_acronym, is_primary))"
        " SELECT id FROM new_organisation"
    )


def _insert_in_one_statement(
    session: Session,
    *,
    fields: dict[str, Any],
    names: list[dict[str, Any]],
    revision: int,
) -> int:
    """PostgreSQL: insert the organisation and its names in one round trip (data-modifying
    CTEs all run to completion); returns its id."""
    params: dict[str, Any] = dict(fields) | {"revision": revision}
    for i, row in enumerate(names):
        params |= {f"{key}{i}": value for key, value in row.items()}
    created = session.execute(_one_statement(len(names)), params).one()
    return int(created[0])


# Session events this module reacts to, installed by app/listeners.py (at start-up, never as a
# side effect of an import).
LISTENERS: tuple[tuple[str, Callable[..., None]], ...] = (
    ("after_transaction_end", _end_of_transaction),
    ("after_begin", _begins),
    ("after_soft_rollback", _savepoint_rolled_back),
    ("before_commit", _stamp),
    ("after_commit", _advance_in_place),
)
