"""Resolve submitted names to an existing organisation, or decide it is new.

One code path for signing, `GET /organisations/match` and imports. Scoring is pure
(app/resolution/scoring.py); this module keeps the in-process index (app/resolution/index.py)
in step with the database:

- Every organisation write calls `organisations.service.bump_registry`, which increments
  `registry_state.version` under its row lock and stamps `organisation.revision`. Each resolve
  reads that version once; when it moved past what this process indexed, only organisations
  with a newer revision are reloaded (merged ones leave the index); a version lower than seen
  (database reset) rebuilds from scratch. Every worker process does the same, so all converge
  on the committed registry without messaging.
- The shared index only ever holds committed data. A transaction that itself wrote
  organisations (a signing that created one, a seed or bulk import) sees its own uncommitted
  organisations through a per-session overlay (`session.info`), discarded on commit or rollback;
  the versions from its first bump onward are its own (it holds the counter's lock).

For other code:
- `resolve(session, names=..., website=..., country=..., limit=...) -> Resolution`.
- `candidates_for_organisation(session, organisation_id=...) -> [(id, score, reasons)]`: the
  admin duplicate scan's blocked, scored candidates for an existing organisation (judged
  `different` pairs excluded). `shared_index(session)` gives the synchronised `Index` for
  `Index.candidates_for_names(names, exclude=...)`.
- `scoring.score_names(names_a, names_b, website_a=..., website_b=...) -> (score, reasons)`:
  pure pair scoring; `scoring.LINK` / `REVIEW` are the thresholds.
- Merges must `bump_registry` both the merged organisations (they leave the index once
  `merged_into` is set) and the survivor (it is reloaded with the names it received).
- `reset_cache()` after wiping the database.
"""

import threading
from dataclasses import dataclass, field

from sqlalchemy import event, or_
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import SessionTransaction
from sqlmodel import Session, col, select

from app.admin.models import Judgement
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution.index import Index, settle
from app.resolution.normalise import NameKey, name_key
from app.resolution.scoring import LINK, REVIEW, OrgScore, decide

FIRST_OWN_VERSION = "registry_first_own_version"
LAST_OWN_VERSION = "registry_last_own_version"
_OVERLAY = "resolution_overlay"
_SAVEPOINTS = "registry_own_versions_at_savepoints"
_MAX_NAME = 1000
_SETTLE_AT = 10_000


@dataclass
class Candidate:
    organisation_id: int
    name: str
    matched_name: str
    score: float
    decision: str  # "same" | "review"
    reasons: list[str] = field(default_factory=list)


@dataclass
class Resolution:
    status: str  # "existing" | "new" | "needs_review"
    organisation_id: int | None = None
    score: float = 0.0
    matched_name: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class _Shared:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.index: Index | None = None
        self.version = 0


_shared = _Shared()


@dataclass
class _Overlay:
    index: Index = field(default_factory=Index)
    version: int = 0
    shadow: set[int] = field(default_factory=set)


def reset_cache() -> None:
    """Forget the in-process index (tests that wipe the database call this)."""
    with _shared.lock:
        _shared.index = None
        _shared.version = 0


@event.listens_for(OrmSession, "after_transaction_end")
def _end_of_transaction(session: OrmSession, transaction: SessionTransaction) -> None:
    # Only the outermost transaction: SQLAlchemy also ends savepoints (and its own internal
    # subtransactions), after which this transaction still holds its versions and overlay.
    if transaction.parent is None and not transaction.nested:
        for key in (FIRST_OWN_VERSION, LAST_OWN_VERSION, _OVERLAY, _SAVEPOINTS):
            session.info.pop(key, None)


@event.listens_for(OrmSession, "after_transaction_create")
def _savepoint_begins(session: OrmSession, transaction: SessionTransaction) -> None:
    if transaction.nested:
        marks = session.info.setdefault(_SAVEPOINTS, {})
        marks[id(transaction)] = (
            session.info.get(FIRST_OWN_VERSION),
            session.info.get(LAST_OWN_VERSION),
        )


@event.listens_for(OrmSession, "after_soft_rollback")
def _savepoint_rolled_back(session: OrmSession, previous_transaction: SessionTransaction) -> None:
    """A rolled-back savepoint takes its counter bumps and organisations with it: go back to
    the versions held when it began, and drop the overlay (the next resolve rebuilds it from
    what the database still has)."""
    marks = session.info.get(_SAVEPOINTS)
    if not previous_transaction.nested or not marks or id(previous_transaction) not in marks:
        return
    first, last = marks.pop(id(previous_transaction))
    for key, value in ((FIRST_OWN_VERSION, first), (LAST_OWN_VERSION, last)):
        if value is None:
            session.info.pop(key, None)
        else:
            session.info[key] = value
    session.info.pop(_OVERLAY, None)


def held_version(session: Session) -> int | None:
    """The registry version this transaction last bumped to, if its resolver overlay has
    seen every change up to it: an organisation the transaction creates next may carry that
    version too (the counter's row lock is held until commit, so no other writer can come
    between), which saves a counter update per organisation in a bulk import."""
    last = session.info.get(LAST_OWN_VERSION)
    overlay = session.info.get(_OVERLAY)
    if last is None or overlay is None or overlay.version != last:
        return None
    return int(last)


def note_own_version(session: Session, *, version: int) -> None:
    """Record that this transaction bumped the registry counter to `version`.

    From its first bump on, the transaction holds the counter row's lock until it ends: the
    resolver treats versions from the first one upward as this transaction's uncommitted
    changes (kept out of the shared index, which must survive a rollback), and knows that no
    other transaction can commit an organisation change meanwhile.
    """
    session.info.setdefault(FIRST_OWN_VERSION, version)
    session.info[LAST_OWN_VERSION] = version


def note_created(
    session: Session,
    *,
    organisation_id: int,
    names: list[str],
    website: str | None,
    country: str | None,
    version: int,
) -> None:
    """Add an organisation this transaction just created to its overlay, without a query.

    Only when the overlay is exactly one version behind, or at this version (held_version);
    otherwise the next resolve reloads from the database as usual.
    """
    overlay = session.info.get(_OVERLAY)
    if overlay is None and session.info.get(FIRST_OWN_VERSION) == version:
        # The transaction's first change: its overlay starts from memory, not from a query
        # (an organisation still pending in a bulk write would not be found by one). The
        # shared index must then hold everything committed before it, as _sync would ensure:
        # later resolves of this transaction skip the version query.
        _advance_shared(session, committed=version - 1)
        overlay = session.info[_OVERLAY] = _Overlay(version=version - 1)
    if overlay is None or overlay.version not in (version - 1, version):
        return
    overlay.index.upsert(organisation_id, names, website=website, country=country)
    overlay.shadow.add(organisation_id)
    overlay.version = version


def _names_by_org(session: Session, organisation_ids: list[int]) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {i: [] for i in organisation_ids}
    for start in range(0, len(organisation_ids), 5000):
        chunk = organisation_ids[start : start + 5000]
        rows = session.exec(
            select(OrganisationName.organisation_id, OrganisationName.name)
            .where(col(OrganisationName.organisation_id).in_(chunk))
            .order_by(col(OrganisationName.is_primary).desc(), col(OrganisationName.id))
        ).all()
        for organisation_id, name in rows:
            result[organisation_id].append(name)
    return result


def _load(session: Session, index: Index, *, after: int, upto: int | None) -> set[int]:
    """Apply organisations with after < revision (≤ upto) to the index; their ids."""
    query = select(Organisation).where(col(Organisation.revision) > after)
    if upto is not None:
        query = query.where(col(Organisation.revision) <= upto)
    organisations = session.exec(query.order_by(col(Organisation.id))).all()
    live = [o.id for o in organisations if o.merged_into is None and o.id is not None]
    names = _names_by_org(session, live)
    for organisation in organisations:
        assert organisation.id is not None
        if organisation.merged_into is None:
            index.upsert(
                organisation.id,
                names.get(organisation.id, []),
                website=organisation.website,
                country=organisation.country,
            )
        else:
            index.remove(organisation.id)
    return {o.id for o in organisations if o.id is not None}


def _advance_shared(session: Session, *, committed: int) -> Index:
    """The shared index, brought to the committed registry version `committed`."""
    with _shared.lock:
        if _shared.index is None or committed < _shared.version:
            index = Index()
            _load(session, index, after=0, upto=committed)
            _shared.index, _shared.version = index, committed
            if len(index) > _SETTLE_AT:
                settle()
        elif committed > _shared.version:
            _load(session, _shared.index, after=_shared.version, upto=committed)
            _shared.version = committed
        return _shared.index


def _sync(session: Session) -> tuple[Index, _Overlay | None]:
    """The shared index at the latest committed version, plus this transaction's own changes."""
    overlay = session.info.get(_OVERLAY)
    if overlay is not None and overlay.version == session.info.get(LAST_OWN_VERSION):
        # This transaction holds the counter's lock and its overlay is current: nothing can
        # have changed since the last call, so skip the version query.
        with _shared.lock:
            shared = _shared.index
        if shared is not None:
            return shared, overlay
    version = session.exec(select(RegistryState.version).where(RegistryState.id == 1)).first()
    version = int(version or 0)
    first_own = session.info.get(FIRST_OWN_VERSION)
    committed = version if first_own is None else int(first_own) - 1
    shared = _advance_shared(session, committed=committed)
    if first_own is None:
        return shared, None
    overlay = session.info.get(_OVERLAY)
    if overlay is None:
        overlay = _Overlay(version=committed)
        session.info[_OVERLAY] = overlay
    if version > overlay.version:
        overlay.shadow |= _load(session, overlay.index, after=overlay.version, upto=None)
        overlay.version = version
    return shared, overlay


def _judgements(session: Session, ids: list[int]) -> dict[tuple[int, int], str]:
    if len(ids) < 2:
        return {}
    rows = session.exec(
        select(Judgement).where(
            col(Judgement.organisation_a).in_(ids), col(Judgement.organisation_b).in_(ids)
        )
    ).all()
    return {(j.organisation_a, j.organisation_b): j.verdict for j in rows}


def query_keys(names: list[str]) -> list[NameKey]:
    keys = []
    seen = set()
    for name in names:
        key = name_key(name[:_MAX_NAME])
        if key.norm and key.norm not in seen:
            seen.add(key.norm)
            keys.append(key)
    return keys


def resolve(
    session: Session,
    *,
    names: list[str],
    website: str | None = None,
    country: str | None = None,
    limit: int = 5,
) -> Resolution:
    """existing (auto-link: score ≥ LINK, a clear margin, no `different` judgement in the way),
    needs_review (a plausible candidate, score ≥ REVIEW) or new; reasons on every candidate."""
    keys = query_keys(names)
    if not keys:
        return Resolution(status="new", reasons=["no usable name"])
    shared, overlay = _sync(session)
    shortcut = _exact_link(shared, overlay, keys, website=website, country=country)
    if shortcut is not None:
        return shortcut
    scored: dict[int, OrgScore] = {}
    if overlay is not None:
        for organisation_id, result in overlay.index.score(
            keys, website=website, country=country, minimum=REVIEW
        ):
            scored[organisation_id] = result
    for organisation_id, result in shared.score(
        keys,
        website=website,
        country=country,
        exclude=overlay.shadow if overlay is not None else (),
        minimum=REVIEW,
    ):
        scored.setdefault(organisation_id, result)
    ranked = sorted(scored.items(), key=lambda pair: (-pair[1].score, pair[0]))
    plausible = [(oid, s) for oid, s in ranked if s.score >= REVIEW]
    judgements = _judgements(session, [oid for oid, _ in plausible[:20]])
    if not plausible:
        return Resolution(status="new", score=ranked[0][1].score if ranked else 0.0)
    best_id, best = plausible[0]
    reasons = decide([(oid, r.score) for oid, r in plausible], judgements)
    status = "needs_review" if reasons else "existing"
    candidates = []
    for oid, result in plausible[: max(1, limit)]:
        decision = "same" if status == "existing" and oid == best_id else "review"
        candidates.append(
            Candidate(
                organisation_id=oid,
                name=result.matched_name,
                matched_name=result.matched_name,
                score=result.score,
                decision=decision,
                reasons=list(result.reasons),
            )
        )
    if status == "existing":
        return Resolution(
            "existing", best_id, best.score, best.matched_name, candidates, list(best.reasons)
        )
    return Resolution("needs_review", None, best.score, None, candidates, reasons)


def _exact_link(
    shared: Index,
    overlay: _Overlay | None,
    keys: list[NameKey],
    *,
    website: str | None,
    country: str | None,
) -> Resolution | None:
    """API.md rule 2: a name equal, after normalisation, to a name of exactly one live
    organisation links to it without fuzzy scoring of the rest — unless that organisation's
    own score says otherwise (a different country or website pulls it under the link line)."""
    hits: dict[int, Index] = {}
    if overlay is not None:
        hits |= dict.fromkeys(overlay.index.exact(keys), overlay.index)
    shadow = overlay.shadow if overlay is not None else set()
    for organisation_id in shared.exact(keys, exclude=shadow):
        hits.setdefault(organisation_id, shared)
    if len(hits) != 1:
        return None
    ((organisation_id, index),) = hits.items()
    result = index.score_one(keys, organisation_id, website=website, country=country)
    if result is None or result.score < LINK:
        return None
    reasons = list(result.reasons)
    candidate = Candidate(
        organisation_id=organisation_id,
        name=result.matched_name,
        matched_name=result.matched_name,
        score=result.score,
        decision="same",
        reasons=reasons,
    )
    return Resolution(
        "existing", organisation_id, result.score, result.matched_name, [candidate], reasons
    )


def candidates_for_organisation(
    session: Session, *, organisation_id: int, minimum: float = REVIEW
) -> list[tuple[int, float, list[str]]]:
    """Blocked and scored candidate duplicates of an existing organisation (admin scan).

    Organisations an admin judged `different` from it are left out.
    """
    shared, _ = _sync(session)
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        return []
    names = _names_by_org(session, [organisation_id])[organisation_id]
    judged = session.exec(
        select(Judgement).where(
            or_(
                col(Judgement.organisation_a) == organisation_id,
                col(Judgement.organisation_b) == organisation_id,
            ),
            col(Judgement.verdict) == "different",
        )
    ).all()
    exclude = (
        {organisation_id} | {j.organisation_a for j in judged} | {j.organisation_b for j in judged}
    )
    return shared.candidates_for_names(
        names,
        website=organisation.website,
        country=organisation.country,
        exclude=exclude,
        minimum=minimum,
    )


def warm(session: Session) -> int:
    """Build the shared index now (at start-up) rather than on the first request; its size."""
    shared, _ = _sync(session)
    return len(shared)


def shared_index(session: Session) -> Index:
    """The synchronised in-process index (for `Index.candidates_for_names` in admin tools)."""
    shared, _ = _sync(session)
    return shared
