"""Signing, withdrawing and listing signatures."""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import String, bindparam, cast, func, text, update
from sqlalchemy import insert as insert_rows
from sqlalchemy import select as core_select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app import audit, paging
from app.audit import AuditEvent
from app.auth.service import Principal
from app.db import run_outside, send_shared_with_next, share_with_next, utcnow
from app.errors import Conflict, NotFound
from app.i18n import names as reader_names
from app.letters.models import Letter, LetterStatus
from app.organisations import service as organisation_service
from app.organisations.models import Organisation
from app.resolution import registry
from app.resolution import service as identity
from app.resolution.service import Resolution
from app.resolution.visibility import Standing, Viewer, shows
from app.signatures import counting
from app.signatures.models import IdempotencyRecord, Signature
from app.signatures.schemas import SignatureCreate, SignaturePublic
from app.webhooks import events as webhook_events
from app.webhooks import service as webhook_service

# The request's fields stored as they come: every field SignatureCreate shares with the table,
# except those signing decides (who signs, under which name). A new column that the request
# also takes flows through here with no other change.
_CARRIED = (set(SignatureCreate.model_fields) & set(Signature.model_fields)) - {
    "organisation_id",
    "display_name",
}


@dataclass(frozen=True)
class Signed:
    """What signing did: `created` is false when the organisation had signed already (or the
    replayed request's first answer said so); `body` is the answer, kept for replays."""

    created: bool
    body: dict[str, Any]


# PostgreSQL advisory-lock class of "a letter's signatures" (the key is (class, letter id)).
LETTER_LOCK_CLASS = 0x5547


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def share_letter(session: Session, *, letter: Letter) -> None:
    """Keep whole-letter writers (imports, merges, withdrawals: `lock_letter`) out while this
    signature is prepared, without excluding other signers (decision 0087).

    A shared advisory lock rather than a shared row lock: PostgreSQL's lock manager queues a
    new shared request behind a waiting exclusive one, so a merge is not starved by a stream
    of signers (a FOR KEY SHARE row lock would let every new signer in ahead of it). SQLite:
    BEGIN IMMEDIATE already holds the database's write lock.

    Taken with the transaction's next statement (decision 0128): a new organisation's claim
    of its names takes it in the same round trip."""
    if _is_postgresql(session):
        assert letter.id is not None
        share_with_next(session, lock_class=LETTER_LOCK_CLASS, key=letter.id)


def exclude_signers(session: Session, *, letter_ids: list[int]) -> None:
    """Wait for the letters' in-flight signers and keep new ones out until commit; in id order
    (every whole-letter writer takes these first, before any row lock)."""
    if _is_postgresql(session):
        for letter_id in sorted(set(letter_ids)):
            session.execute(
                text("SELECT pg_advisory_xact_lock(:cls, :id)"),
                {"cls": LETTER_LOCK_CLASS, "id": letter_id},
            )


@lru_cache(maxsize=1)
def _taken() -> Any:
    """The letter's next position, only while it is open, with its revision and counts time
    bumped: the step that makes signers of one letter wait for each other. Built once, with
    parameters `letter_id` and `changed_at`: building and keying a statement cost about as
    much CPU as PostgreSQL spends running it."""
    table = Letter.__table__  # type: ignore[attr-defined]
    return (
        update(table)
        .where(table.c.id == bindparam("letter_id"), table.c.status == LetterStatus.open)
        .values(
            revision=table.c.revision + 1,
            counts_changed_at=bindparam("changed_at", type_=table.c.counts_changed_at.type),
            last_position=table.c.last_position + 1,
        )
        .returning(table.c.last_position, table.c.revision)
    )


# session.info key: ids of letters whose row this transaction locked (`lock_letter`) or wrote.
_HELD_HERE = "letters_held_here"


def _take_position(session: Session, *, letter: Letter, changed_at: datetime) -> int | None:
    """The letter's next position, or None when it is no longer open (decision 0109).

    PostgreSQL: in a statement of its own that commits at once, on a connection outside this
    transaction, so the letter's row lock — the one thing all signers of a letter wait for —
    is held for that statement alone, in the server, never across this transaction's other
    statements, its COMMIT, or the waits of this worker's threads for the GIL. Counts and
    caches follow at this transaction's commit (`counting.note_signed`). A position taken by a
    transaction that then fails stays unused: positions are unique and in signing order, and
    may have gaps.

    SQLite, or a transaction that already holds the letter's row (`lock_letter`: a
    self-signature's confirmation; waiting outside for it would wait for ourselves): inside
    the transaction."""
    assert letter.id is not None
    if _is_postgresql(session) and letter.id not in session.info.get(_HELD_HERE, ()):
        # The letter's shared lock guards this too: taken first if no statement took it yet.
        send_shared_with_next(session)
        row = run_outside(_taken(), {"letter_id": letter.id, "changed_at": changed_at})
        if row is not None:
            counting.note_signed(session, letter_id=letter.id)
    else:
        row = session.execute(_taken(), {"letter_id": letter.id, "changed_at": changed_at}).first()
        if row is not None:
            # The ORM's copy follows the row this transaction wrote, without flushing it
            # again (a later touch_counts in it starts from these values).
            set_committed_value(letter, "last_position", int(row[0]))
            set_committed_value(letter, "revision", int(row[1]))
            set_committed_value(letter, "counts_changed_at", changed_at)
    return None if row is None else int(row[0])


def _finish(
    session: Session, *, letter: Letter, values: dict[str, Any], actor: str
) -> Signature | None:
    """Take the letter's next position, insert the signature and its audit event: the
    signature, or None when the letter is no longer open (nothing written)."""
    assert letter.id is not None
    changed_at = utcnow()
    position = _take_position(session, letter=letter, changed_at=changed_at)
    if position is None:
        return None
    # Everything of the audit event but the signature's id is known now; an anonymous
    # signature is recorded without its organisation.
    event = {
        "actor": actor,
        "action": "signature.create",
        "target_type": "signature",
        "details": created_details(
            letter=letter,
            anonymous=bool(values["anonymous"]),
            organisation_id=values["organisation_id"],
        ),
        "created_at": changed_at,
    }
    row = values | {"position": position}
    if _is_postgresql(session):
        statement = _signed_and_audited(tuple(sorted(row)))
        params = row | {f"audit_{key}": value for key, value in event.items()}
        fields = session.execute(statement, params).one()._asdict()
    else:
        fields = session.execute(_signed(tuple(sorted(row))), row).one()._asdict()
        session.execute(_audited(), event | {"target_id": str(fields["id"])})
    counting.note_changed(session, slug=letter.slug)
    return Signature(**fields)


_AUDITED = ("actor", "action", "target_type", "details", "created_at")


@lru_cache(maxsize=4)
def _signed(columns: tuple[str, ...]) -> Any:
    """INSERT of a signature with these columns (parameters named after them), returning it.
    Built once per set of columns, as `_taken`."""
    table = Signature.__table__  # type: ignore[attr-defined]
    return (
        insert_rows(table)
        .values({name: bindparam(name, type_=table.c[name].type) for name in columns})
        .returning(*table.c)
    )


@lru_cache(maxsize=1)
def _audited() -> Any:
    audits = AuditEvent.__table__  # type: ignore[attr-defined]
    names = (*_AUDITED, "target_id")
    return insert_rows(audits).values(
        {name: bindparam(name, type_=audits.c[name].type) for name in names}
    )


@lru_cache(maxsize=4)
def _signed_and_audited(columns: tuple[str, ...]) -> Any:
    """PostgreSQL: the signature and its audit event in one statement (a data-modifying CTE;
    SQLite has none), the event's fields as parameters `audit_<field>`."""
    audits = AuditEvent.__table__  # type: ignore[attr-defined]
    signed = _signed(columns).cte("signed")
    audited = insert_rows(audits).from_select(
        [*_AUDITED, "target_id"],
        core_select(
            *(bindparam(f"audit_{name}", type_=audits.c[name].type) for name in _AUDITED),
            cast(signed.c.id, String),
        ),
    )
    return core_select(signed).add_cte(audited.cte("audited"))


def lock_letter(session: Session, *, letter: Letter) -> None:
    """Serialise whole-letter writes (imports, withdrawals) with everything else on the letter.

    PostgreSQL: the letter's exclusive advisory lock (waits for in-flight signers, decision
    0087), then a row lock on the letter. SQLite: write requests already hold the database's
    write lock from BEGIN IMMEDIATE (app/db.py), so FOR UPDATE is dropped by the dialect.
    """
    assert letter.id is not None
    exclude_signers(session, letter_ids=[letter.id])
    session.refresh(letter, with_for_update=True)
    session.info.setdefault(_HELD_HERE, set()).add(letter.id)


def lock_live_organisation(session: Session, *, organisation: Organisation) -> Organisation:
    """Share-lock the organisation and follow merges that committed meanwhile.

    A concurrent admin merge holds the organisation FOR UPDATE (app/admin/merges.py); waiting
    here and re-reading means a signature never lands on a merged-away organisation.
    """
    seen: set[int | None] = set()
    while True:
        session.refresh(organisation, with_for_update={"read": True})
        if organisation.merged_into is None or organisation.id in seen:
            return organisation
        seen.add(organisation.id)
        organisation = organisation_service.get(session, organisation_id=organisation.merged_into)


def ensure_open(*, letter: Letter) -> None:
    if letter.status != LetterStatus.open:
        raise Conflict(
            f"the letter is {letter.status}: only open letters accept signatures",
            field="slug",
            error="letter_not_open",
        )


def touch_counts(session: Session, *, letter: Letter, placed: int | None = None) -> None:
    """A whole-letter write (under `lock_letter`) changed its signatures; `placed`: the highest
    position it gave a new signature."""
    letter.revision += 1
    letter.counts_changed_at = utcnow()
    if placed is not None:
        letter.last_position = max(letter.last_position, placed)
    session.add(letter)
    session.info.setdefault(_HELD_HERE, set()).add(letter.id)


def next_position(session: Session, *, letter: Letter) -> int:
    """The next free position of a letter under `lock_letter` (whole-letter writers): past
    both the letter's counter and its signatures (they agree; the larger is the safe one)."""
    current = session.scalar(
        select(func.max(Signature.position)).where(Signature.letter_id == letter.id)
    )
    return max(int(current or 0), letter.last_position) + 1


def live_signature(session: Session, *, letter_id: int, organisation_id: int) -> Signature | None:
    return session.exec(
        select(Signature).where(
            Signature.letter_id == letter_id,
            Signature.organisation_id == organisation_id,
            col(Signature.withdrawn_at).is_(None),
        )
    ).first()


def live_signatures(session: Session, *, letter_id: int, shown: bool = False) -> list[Signature]:
    """Every live signature of a letter, in letter order (bulk form of live_signature); with
    `shown`, only those that show their organisation (named ones)."""
    query = select(Signature).where(Signature.letter_id == letter_id)
    query = query.where(shows() if shown else col(Signature.withdrawn_at).is_(None))
    return list(session.exec(query.order_by(col(Signature.position))))


def created_details(
    *, letter: Letter, anonymous: bool, organisation_id: int | None
) -> dict[str, Any]:
    """Audit details of a new signature: an anonymous one is recorded without its organisation."""
    details: dict[str, Any] = {"letter": letter.slug, "anonymous": anonymous}
    if not anonymous:
        details["organisation_id"] = organisation_id
    return details


def _request_hash(data: SignatureCreate) -> str:
    canonical = json.dumps(data.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _replay(
    session: Session, *, principal: Principal, letter: Letter, key: str, request_hash: str
) -> Signed | None:
    record = session.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.token_key == principal.actor,
            IdempotencyRecord.letter_id == letter.id,
            IdempotencyRecord.key == key,
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != request_hash:
        raise Conflict(
            "this Idempotency-Key was already used with a different request body",
            field="Idempotency-Key",
            error="idempotency_key_reused",
        )
    return Signed(created=record.status_code == 201, body=record.response)


def signature_out(signature: Signature, *, letter: Letter) -> dict[str, Any]:
    """JSON-ready signature, serialised like every other response (pydantic, UTC "Z")."""
    fields = signature.model_dump() | {"letter": letter.slug}
    return SignaturePublic.model_validate(fields).model_dump(mode="json")


def resolution_out(resolution: Resolution | None) -> dict[str, Any]:
    if resolution is None:
        return {"status": "none", "score": 0.0, "matched_name": None, "candidates": []}
    return {
        "status": resolution.status,
        "score": round(resolution.score, 2),
        "matched_name": resolution.matched_name,
        "candidates": [
            {
                "organisation_id": c.organisation_id,
                "name": c.name,
                "score": round(c.score, 2),
                "reasons": c.reasons,
            }
            for c in resolution.candidates
        ],
    }


def resolve_or_create(
    session: Session,
    *,
    data: SignatureCreate,
    viewer: Viewer,
    batch: registry.Batch | None = None,
) -> tuple[int | None, Resolution | None]:
    """The id of the organisation a sign request names: given (merges followed), resolved
    from its names among the organisations the caller may see, created, or none.

    `batch`: where a bulk import collects the organisations it creates."""
    if data.organisation_id is not None:
        organisation = organisation_service.get_live(session, organisation_id=data.organisation_id)
        assert organisation.id is not None
        if not viewer.sees(session, organisation.id):
            raise NotFound(
                f"no organisation with id {data.organisation_id}", field="organisation_id"
            )
        return organisation.id, None
    if data.organisation is None:
        return None, None
    submitted = data.organisation
    resolution = identity.identify(
        session,
        name=submitted.name,
        other_names=submitted.other_names,
        lang=submitted.lang,
        kind=submitted.kind,
        country=submitted.country,
        website=submitted.website,
        viewer=viewer,
        batch=batch,
    )
    return resolution.organisation_id, resolution


def _claim_key(
    session: Session, *, principal: Principal, letter: Letter, key: str, request_hash: str
) -> tuple[IdempotencyRecord | None, Signed | None]:
    """Reserve an Idempotency-Key before the work: (our record, None), or (None, the first
    response) when a request with this key committed first. Signers no longer exclude each
    other, so two retries can race: PostgreSQL makes the second insert wait for the first's
    transaction, then it fails and replays what the first stored."""
    assert letter.id is not None
    replay = _replay(
        session, principal=principal, letter=letter, key=key, request_hash=request_hash
    )
    if replay is not None:
        return None, replay
    record = IdempotencyRecord(
        token_key=principal.actor,
        letter_id=letter.id,
        key=key,
        request_hash=request_hash,
        status_code=0,
        response={},
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        replay = _replay(
            session, principal=principal, letter=letter, key=key, request_hash=request_hash
        )
        if replay is None:
            raise
        return None, replay
    return record, None


def _insert_signature(
    session: Session,
    *,
    letter: Letter,
    organisation_id: int | None,
    data: SignatureCreate,
    source: str,
    actor: str,
    contested: bool = True,
) -> tuple[bool, Signature]:
    """(True, the new signature, audited), or (False, the live one) when a concurrent request
    signed for the same organisation first (the partial unique index; the savepoint undoes our
    rows, and a position taken outside the transaction stays unused). Not `contested` (no organisation, or one this transaction created
    that nobody else can sign yet): no savepoint, two statements fewer."""
    assert letter.id is not None
    display_name = data.display_name or (data.organisation.name if data.organisation else None)
    values = Signature(
        **data.model_dump(include=_CARRIED),
        letter_id=letter.id,
        organisation_id=organisation_id,
        display_name=display_name,
        position=0,  # taken by the statement (_finish)
        source=source,
    ).model_dump(exclude={"id", "position"})

    def insert() -> Signature:
        signature = _finish(session, letter=letter, values=values, actor=actor)
        if signature is None:
            # Closed after the signer's first check: nothing was written.
            session.refresh(letter)
            ensure_open(letter=letter)
            raise AssertionError("letter row vanished")  # pragma: no cover - open yet no row
        return signature

    if not contested:
        return True, insert()
    try:
        with session.begin_nested():
            signature = insert()
    except IntegrityError:
        if organisation_id is None:
            raise
        existing = live_signature(session, letter_id=letter.id, organisation_id=organisation_id)
        if existing is None:
            raise
        session.refresh(letter)
        return False, existing
    return True, signature


def sign(
    session: Session,
    *,
    letter: Letter,
    data: SignatureCreate,
    principal: Principal,
    idempotency_key: str | None = None,
    source: str = "api",
) -> Signed:
    """Sign a letter: a new signature, the organisation's live one, or a replayed answer.

    Concurrent signers of one letter run side by side until `_finish`, the one short
    serialised step (decisions 0087, 0109)."""
    share_letter(session, letter=letter)
    record = None
    if idempotency_key is not None:
        record, replay = _claim_key(
            session,
            principal=principal,
            letter=letter,
            key=idempotency_key,
            request_hash=_request_hash(data),
        )
        if replay is not None:
            return replay
    ensure_open(letter=letter)
    assert letter.id is not None
    viewer = Viewer(principal)
    organisation_id, resolution = resolve_or_create(session, data=data, viewer=viewer)
    existing = None
    # Created by this transaction: nobody else can see, sign or merge it before it commits,
    # and its standing is read when it is stamped (registry._stamp). Nothing to lock or check.
    fresh = organisation_id is not None and registry.created_here(session, organisation_id)
    if organisation_id is not None and not fresh:
        # A signature that may change who can see the organisation (its first public one, or
        # the first anonymous one of an organisation nothing showed) reloads it everywhere.
        # The counter is taken before the organisation: the lock order of decision 0052.
        held = registry.standings(session, [organisation_id])[organisation_id]
        restanding = registry.changes_standing(held, shows_publicly=not data.anonymous)
        if restanding:
            registry.claim(session)
        organisation = lock_live_organisation(
            session, organisation=organisation_service.get(session, organisation_id=organisation_id)
        )
        organisation_id = organisation.id
        assert organisation_id is not None
        existing = live_signature(session, letter_id=letter.id, organisation_id=organisation_id)
        if restanding and existing is None:
            registry.touch(session, organisations=[organisation])
    if existing is not None:
        created, signature = False, existing
    else:
        # Read before `_finish` takes the letter's row lock: all signers of the letter queue
        # on that lock, so every round trip after it counts (decision 0106).
        subscriptions = webhook_service.subscribed(session, letter=letter)
        created, signature = _insert_signature(
            session,
            letter=letter,
            organisation_id=organisation_id,
            data=data,
            source=source,
            actor=principal.actor,
            contested=organisation_id is not None and not fresh,
        )
        if created:
            webhook_events.signature_event(
                session,
                letter=letter,
                event="signature.created",
                signature=signature,
                counts=lambda: counting.counts(session, letter_id=letter.id),  # type: ignore[arg-type]
                subscriptions=subscriptions,
            )
    body = signature_out(signature, letter=letter) | {"resolution": resolution_out(resolution)}
    if record is not None:
        # The idempotency record replays the first answer, HTTP status included.
        record.status_code = 201 if created else 200
        record.response = body
        session.add(record)
        session.flush()
    return Signed(created=created, body=body)


def withdraw(
    session: Session, *, letter: Letter, signature_id: int, principal: Principal
) -> Signature:
    lock_letter(session, letter=letter)
    signature = session.get(Signature, signature_id)
    if signature is None or signature.letter_id != letter.id:
        raise NotFound(f"no signature {signature_id} on this letter", field="id")
    if signature.withdrawn_at is None:
        signature.withdrawn_at = utcnow()
        session.add(signature)
        touch_counts(session, letter=letter)
        session.flush()
        if (
            signature.organisation_id is not None
            and not signature.anonymous
            and registry.standings(session, [signature.organisation_id]).get(
                signature.organisation_id
            )
            == Standing.public
        ):
            # Its last public signature may be gone: the organisation may be hidden now.
            registry.touch_ids(session, organisation_ids=[signature.organisation_id])
        audit.record(
            session,
            actor=principal.actor,
            action="signature.withdraw",
            target_type="signature",
            target_id=signature.id,
            details={"letter": letter.slug},
        )
        assert letter.id is not None
        webhook_events.signature_event(
            session,
            letter=letter,
            event="signature.withdrawn",
            signature=signature,
            counts=lambda: counting.counts(session, letter_id=letter.id),  # type: ignore[arg-type]
        )
    return signature


def list_signatures(
    session: Session, *, letter: Letter, limit: int, cursor: str | None, include_withdrawn: bool
) -> tuple[list[Signature], str | None]:
    query = select(Signature).where(Signature.letter_id == letter.id)
    if not include_withdrawn:
        query = query.where(col(Signature.withdrawn_at).is_(None))
    page = paging.keyset(session, query, key=Signature.position, limit=limit, cursor=cursor)
    return page.items, page.next_cursor


def signatories(
    session: Session, *, letter: Letter, lang: str | None, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """Named live signatories in letter order; anonymous ones never appear here.

    Public shape (decision 0085): `position` is the rank among the entries the public sees
    (1, 2, 3, … with no gap where an anonymous or withdrawn signature sits), and no
    organisation id, whose creation order would count hidden organisations. The coordinator's
    list (`list_signatures`) keeps real positions and ids."""
    query = (
        select(Signature)
        .where(Signature.letter_id == letter.id, shows())
        .order_by(col(Signature.position))
    )
    page, start = paging.ranked(session, query, limit=limit, cursor=cursor)
    rows, next_cursor = page.items, page.next_cursor
    names = organisation_service.names_of(
        session, organisation_ids=[r.organisation_id for r in rows if r.organisation_id]
    )
    wanted = reader_names.reader(lang) if lang else None
    # shows() implies an organisation: every row gets the next public number.
    data = [
        {
            "position": start + index,
            "name": reader_names.name_for(
                names.get(r.organisation_id or 0, []), wanted=wanted, display_name=r.display_name
            ),
        }
        for index, r in enumerate(rows, start=1)
    ]
    return data, next_cursor
