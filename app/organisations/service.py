"""Organisations and their names."""

import functools
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import TextClause, bindparam, insert, text, update
from sqlalchemy.orm import make_transient_to_detached
from sqlmodel import Session, col, select

from app.auth import service as auth_service
from app.auth.service import Principal
from app.db import utcnow
from app.errors import Conflict, NotFound
from app.letters.models import Letter, LetterStatus
from app.organisations.models import Organisation, OrganisationName, RegistryState
from app.resolution import service as resolution_service
from app.resolution.names import ParsedName, detect_script, is_acronym, split_signatory_line
from app.resolution.normalise import normalise
from app.signatures.models import Signature

_REGISTRY = RegistryState.__table__  # type: ignore[attr-defined]
_ORGANISATION = Organisation.__table__  # type: ignore[attr-defined]
# Built once: an import runs these thousands of times, and building a statement costs about
# as much as SQLite executing it.
_BUMP = (
    update(_REGISTRY)
    .where(_REGISTRY.c.id == 1)
    .values(version=_REGISTRY.c.version + 1)
    .returning(_REGISTRY.c.version)
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
_INSERT_NAMES = insert(OrganisationName.__table__)  # type: ignore[attr-defined]


def next_registry_version(session: Session) -> int:
    """Bump the registry counter and return the new version (one statement).

    The UPDATE takes the counter row's lock until commit, so versions become visible in order
    and a worker that has seen version N has seen every change up to N.
    """
    version = int(session.execute(_BUMP).scalar_one())
    resolution_service.note_own_version(session, version=version)
    return version


def bump_registry(session: Session, *, organisations: Iterable[Organisation]) -> int:
    """Mark organisations as changed so every worker's resolver index reloads them."""
    version = next_registry_version(session)
    for organisation in organisations:
        organisation.revision = version
        session.add(organisation)
    session.flush()
    return version


def parse_names(
    *, name: str, other_names: Sequence[str] = (), lang: str | None = None
) -> list[ParsedName]:
    """Every name of a submitted organisation: the printed line split, then the extra names."""
    parsed = split_signatory_line(name)
    seen = {normalise(p.name) for p in parsed}
    for other in other_names:
        for extra in split_signatory_line(other):
            key = normalise(extra.name)
            if key and key not in seen:
                seen.add(key)
                parsed.append(ParsedName(extra.name, extra.script, extra.is_acronym, False))
    return parsed


class PendingCreates:
    """Organisations a bulk import creates, written together by flush() rather than in one
    round trip each (on PostgreSQL most of an import's non-resolver time).

    Their ids are reserved up front, so each is known (and resolvable through the
    transaction's resolver overlay) at once. The owner must flush() before anything else of
    the transaction reads the organisation tables or refers to these rows, and before it
    ends; an exception or rollback simply drops what was pending.
    """

    def __init__(self) -> None:
        self._organisations: list[dict[str, Any]] = []
        self._names: list[dict[str, Any]] = []
        self._ids: list[int] = []
        self._next = 0
        # Ids reserved at a time, doubling up to 256: a small import wastes few sequence
        # numbers, a large one needs few round trips.
        self._reserve = 8

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
    names: list[ParsedName],
    lang: str | None = None,
    kind: str = "organisation",
    country: str | None = None,
    website: str | None = None,
    pending: PendingCreates | None = None,
) -> Organisation:
    """A new organisation with its names; with `pending`, written when that is flushed (and
    returned detached from the session)."""
    # Written with Core statements rather than a unit-of-work flush: an import creates
    # thousands of organisations in one request, and per-statement round trips were most of
    # its time (docs/decisions/0041-import-performance.md).
    now = utcnow()
    rows = [
        {
            "name": parsed.name,
            "normalised": normalise(parsed.name),
            # The submitted language describes the primary name; others carry their script.
            "lang": lang if parsed.is_primary else None,
            "script": parsed.script,
            "is_acronym": parsed.is_acronym,
            "is_primary": parsed.is_primary,
        }
        for parsed in names
    ]
    fields = {"kind": kind, "country": country, "website": website, "now": now}
    # Organisations created one after another by one transaction share its registry version
    # (resolution_service.held_version): other workers load them all at its commit.
    held = resolution_service.held_version(session)
    columns: dict[str, Any] = {
        "kind": kind,
        "country": country,
        "website": website,
        "merged_into": None,
        "created_at": now,
    }

    def named(organisation_id: int) -> list[dict[str, Any]]:
        return [row | {"organisation_id": organisation_id, "created_at": now} for row in rows]

    if pending is not None:
        version = held if held is not None else next_registry_version(session)
        organisation_id = pending.reserve_id(session)
        pending.add(
            columns | {"id": organisation_id, "revision": version},
            named(organisation_id),
        )
    elif session.get_bind().dialect.name == "postgresql":
        organisation_id, version = _insert_in_one_statement(
            session, fields=fields, names=rows, revision=held
        )
    else:
        # SQLite runs in-process, so separate statements cost little. The registry is bumped
        # first so the row is inserted with its revision.
        version = held if held is not None else next_registry_version(session)
        organisation_id = session.execute(
            _INSERT_ORGANISATION, fields | {"revision": version}
        ).scalar_one()
        session.execute(_INSERT_NAMES, named(organisation_id))
    resolution_service.note_own_version(session, version=version)
    # This transaction's resolver overlay learns the organisation from memory: re-reading
    # it from the database before the next resolve cost two queries per imported row.
    resolution_service.note_created(
        session,
        organisation_id=organisation_id,
        names=[parsed.name for parsed in names],
        website=website,
        country=country,
        version=version,
    )
    organisation = Organisation(id=organisation_id, revision=version, **columns)
    if pending is None:
        # The row exists: attach the object as persistent without another INSERT or SELECT.
        # A pending one is not attached: its row does not exist yet, and should the import's
        # savepoint roll back, SQLite may reserve its id again.
        make_transient_to_detached(organisation)
        session.add(organisation)
    return organisation


@functools.lru_cache(maxsize=64)
def _one_statement(names: int, *, bump: bool) -> TextClause:
    """The statement of _insert_in_one_statement for a number of names (parsed once: text()
    scans its SQL for parameters every time it is built)."""
    values = ", ".join(
        f"(:name{i}, :normalised{i}, :lang{i}, :script{i}, :is_acronym{i}, :is_primary{i})"
        for i in range(names)
    )
    if bump:
        version = " UPDATE registry_state SET version = version + 1 WHERE id = 1 RETURNING version"
    else:
        version = " SELECT CAST(:revision AS INTEGER) AS version"
    return text(
        f"WITH bump AS ({version}),"
        " new_organisation AS ("
        " INSERT INTO organisation (kind, country, website, merged_into, created_at, revision)"
        " SELECT :kind, :country, :website, NULL, :now, bump.version FROM bump"
        " RETURNING id, revision),"
        " new_names AS ("
        " INSERT INTO organisation_name"
        " (organisation_id, name, normalised, lang, script, is_acronym, is_primary, created_at)"
        " SELECT new_organisation.id, given.name, given.normalised, given.lang, given.script,"
        " given.is_acronym, given.is_primary, :now FROM new_organisation,"
        f" (VALUES {values}) AS given (name, normalised, lang, script, is_acronym, is_primary))"
        " SELECT id, revision FROM new_organisation"
    )


def _insert_in_one_statement(
    session: Session,
    *,
    fields: dict[str, Any],
    names: list[dict[str, Any]],
    revision: int | None,
) -> tuple[int, int]:
    """PostgreSQL: bump the registry (unless `revision` is the transaction's held version),
    insert the organisation and its names in one round trip (data-modifying CTEs all run to
    completion); returns (id, registry version)."""
    params: dict[str, Any] = dict(fields)
    for i, row in enumerate(names):
        params |= {f"{key}{i}": value for key, value in row.items()}
    if revision is not None:
        params["revision"] = revision
    statement = _one_statement(len(names), bump=revision is None)
    created = session.execute(statement, params).one()
    return int(created[0]), int(created[1])


def get(session: Session, *, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation with id {organisation_id}", field="organisation_id")
    return organisation


def get_live(session: Session, *, organisation_id: int) -> Organisation:
    """The organisation, or the survivor it was merged into."""
    organisation = get(session, organisation_id=organisation_id)
    seen = {organisation.id}
    while organisation.merged_into is not None:
        organisation = get(session, organisation_id=organisation.merged_into)
        if organisation.id in seen:  # defensive: a cycle would be a bug elsewhere
            raise Conflict("organisation merge chain is cyclic")
        seen.add(organisation.id)
    return organisation


def names_of(
    session: Session, *, organisation_ids: Iterable[int]
) -> dict[int, list[OrganisationName]]:
    ids = list(set(organisation_ids))
    result: dict[int, list[OrganisationName]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.exec(
        select(OrganisationName)
        .where(col(OrganisationName.organisation_id).in_(ids))
        .order_by(col(OrganisationName.is_primary).desc(), col(OrganisationName.id))
    )
    for row in rows:
        result[row.organisation_id].append(row)
    return result


def hidden_from(
    session: Session, *, organisation_ids: Iterable[int], principal: Principal | None
) -> set[int]:
    """Organisations this caller must not learn about: known only through anonymous signatures
    (or unpublished drafts) on letters the caller does not manage.

    An organisation that signed anonymously must not be confirmed to exist to anyone but the
    admins and the coordinators of that letter; once it has a live named signature on a public
    letter it is public (its anonymous signatures stay hidden everywhere public).
    """
    return _hidden(session, organisation_ids=set(organisation_ids), principal=principal)


class HiddenSnapshot:
    """hidden_from for many lookups in one request (a bulk import resolves thousands of rows):
    the organisations hidden from the caller, read once, and every id asked about, so that
    `stale()` can check them all again with hidden_from before the result is used."""

    def __init__(self, session: Session, *, principal: Principal | None) -> None:
        self._principal = principal
        self._hidden = _hidden(session, organisation_ids=None, principal=principal)
        self.asked: set[int] = set()

    def among(self, organisation_ids: Iterable[int]) -> set[int]:
        ids = set(organisation_ids)
        self.asked |= ids
        return ids & self._hidden

    def stale(self, session: Session) -> bool:
        """Whether an organisation asked about became hidden (or visible) since the snapshot,
        in which case it is updated and whatever used it must be done again."""
        now: set[int] = set()
        for chunk in _chunks(self.asked):  # bounded IN lists
            now |= hidden_from(session, organisation_ids=chunk, principal=self._principal)
        if now == self._hidden & self.asked:
            return False
        self._hidden = (self._hidden - self.asked) | now
        return True


def _hidden(
    session: Session, *, organisation_ids: set[int] | None, principal: Principal | None
) -> set[int]:
    """Organisations hidden from the caller among `organisation_ids` (all when None)."""
    if organisation_ids is not None and not organisation_ids:
        return set()
    if principal is not None and principal.is_admin:
        return set()
    query = (
        select(Signature.organisation_id)
        .join(Letter, col(Letter.id) == Signature.letter_id)
        .where(
            col(Signature.organisation_id).is_not(None),
            col(Signature.anonymous).is_(True) | (Letter.status == LetterStatus.draft),
        )
        .distinct()
    )
    if organisation_ids is not None:
        query = query.where(col(Signature.organisation_id).in_(organisation_ids))
    sensitive = {i for i in session.exec(query) if i is not None}
    if not sensitive:
        return set()
    public: set[int | None] = set()
    for chunk in _chunks(sensitive):  # the whole registry's can be long: bounded IN lists
        public |= set(
            session.exec(
                select(Signature.organisation_id)
                .join(Letter, col(Letter.id) == Signature.letter_id)
                .where(
                    col(Signature.organisation_id).in_(chunk),
                    col(Signature.anonymous).is_(False),
                    col(Signature.withdrawn_at).is_(None),
                    Letter.status != LetterStatus.draft,
                )
                .distinct()
            )
        )
    hidden = sensitive - public
    if hidden and principal is not None:
        managed = managed_letter_ids(session, principal=principal)
        for chunk in _chunks(hidden):
            hidden -= set(
                session.exec(
                    select(Signature.organisation_id)
                    .where(
                        col(Signature.organisation_id).in_(chunk),
                        col(Signature.letter_id).in_(managed),
                    )
                    .distinct()
                )
            )
    return {i for i in hidden if i is not None}


def _chunks(ids: set[int], size: int = 5000) -> list[list[int]]:
    ordered = sorted(ids)
    return [ordered[start : start + size] for start in range(0, len(ordered), size)]


def managed_letter_ids(session: Session, *, principal: Principal) -> set[int]:
    granted = auth_service.granted_letter_ids(session, principal=principal)
    if principal.token_id is None:
        return granted
    created = session.exec(
        select(Letter.id).where(Letter.created_by_token_id == principal.token_id)
    )
    return granted | {i for i in created if i is not None}


def get_visible(
    session: Session, *, organisation_id: int, principal: Principal | None
) -> Organisation:
    """The organisation, or 404 when the caller must not learn that it exists."""
    organisation = get(session, organisation_id=organisation_id)
    if hidden_from(session, organisation_ids=[organisation_id], principal=principal):
        raise NotFound(f"no organisation with id {organisation_id}", field="organisation_id")
    return organisation


def add_name(
    session: Session,
    *,
    organisation: Organisation,
    name: str,
    lang: str | None = None,
    acronym: bool | None = None,
) -> OrganisationName:
    if organisation.merged_into is not None:
        raise Conflict("this organisation was merged; add the name to the survivor", field="id")
    assert organisation.id is not None
    key = normalise(name)
    existing = session.exec(
        select(OrganisationName).where(
            OrganisationName.organisation_id == organisation.id, OrganisationName.normalised == key
        )
    ).first()
    if existing is not None:
        raise Conflict(
            "the organisation already has this name", field="name", error="duplicate_name"
        )
    row = OrganisationName(
        organisation_id=organisation.id,
        name=name,
        normalised=key,
        lang=lang,
        script=detect_script(name),
        is_acronym=is_acronym(name) if acronym is None else acronym,
        is_primary=False,
    )
    session.add(row)
    bump_registry(session, organisations=[organisation])
    return row
