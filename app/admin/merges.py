"""Merging duplicate organisations, and undoing a merge exactly.

A merge records, in `MergeRecord.snapshot`, the image of every row it changes before and after
the change. Undo restores the "before" image only when every one of those rows still equals its
"after" image and no later merge touched the same organisations: it detects, it never guesses.

Two live signatures of the merged organisations on one letter become one: the signature with
the earlier position stays live (moved to the survivor, anonymous if either was) and the other
is withdrawn at the merge time rather than deleted, so that no id or position is ever reused and
undo can bring it back (docs/decisions/0020-merge-snapshot-and-exact-undo.md).
"""

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app import audit, paging
from app.admin.models import MergeRecord
from app.db import utcnow
from app.errors import BadRequest, Conflict, NotFound
from app.letters.models import Letter
from app.organisations import service as organisation_service
from app.organisations.models import Organisation, OrganisationName
from app.paging import Page
from app.resolution import judgements as judgement_service
from app.resolution import learned, registry
from app.resolution import queue as duplicate_queue
from app.resolution.models import Judgement, Verdict
from app.signatures import counting
from app.signatures import service as signature_service
from app.signatures.models import Signature
from app.webhooks import events as webhook_events

SNAPSHOT_VERSION = 1
# The columns a merge changes, snapshotted before and after so that undo restores them exactly.
# Every other column is never written by a merge, so a new column needs no entry here:
# tests/admin/test_merge_properties.py compares every column of every table (read from the
# schema) after undo, and tests/admin/test_merge_fields.py that these names are real columns.
ORG_FIELDS = ("kind", "country", "website", "merged_into")
NAME_FIELDS = ("organisation_id", "is_primary")
SIGNATURE_FIELDS = ("letter_id", "organisation_id", "anonymous", "position", "withdrawn_at")


def _dump(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def _load(field: str, value: Any) -> Any:
    if field == "withdrawn_at" and value is not None:
        return datetime.fromisoformat(value)
    return value


def _image(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {"id": row.id} | {f: _dump(getattr(row, f)) for f in fields}


def _lock(session: Session, *, organisation_ids: list[int]) -> None:
    """Take the letters' locks, then the organisations', in the order signing and imports
    take them.

    Signing and imports lock their letter first (signatures/service.py:lock_letter), then
    share-lock the existing organisations they sign for. The registry counter is no longer
    held through a transaction: everyone takes it in its last statements, at commit, after
    every other lock (decision 0090). On SQLite the request already holds the database write
    lock.
    """
    letter_ids = sorted(
        set(
            session.exec(
                select(Signature.letter_id).where(
                    col(Signature.organisation_id).in_(organisation_ids)
                )
            )
        )
    )
    if letter_ids:
        # In-flight signers of these letters finish first, new ones wait (decision 0087).
        signature_service.exclude_signers(session, letter_ids=letter_ids)
        # One SELECT … FOR UPDATE in id order: the same row locks lock_letter takes, at once.
        session.exec(
            select(Letter.id)
            .where(col(Letter.id).in_(letter_ids))
            .order_by(col(Letter.id))
            .with_for_update()
        ).all()
    # populate_existing: a row loaded before the lock is re-read as the lock holder sees it,
    # so the checks that follow never act on a merge that committed while we waited.
    session.exec(
        select(Organisation)
        .where(col(Organisation.id).in_(organisation_ids))
        .order_by(col(Organisation.id))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()


def _validate(
    session: Session, *, survivor_id: int, merged_ids: list[int]
) -> tuple[Organisation, list[Organisation]]:
    if not merged_ids:
        raise BadRequest("merged_ids must name at least one organisation", field="merged_ids")
    if len(set(merged_ids)) != len(merged_ids):
        raise BadRequest("merged_ids lists an organisation twice", field="merged_ids")
    if survivor_id in merged_ids:
        raise Conflict(
            f"organisation {survivor_id} cannot be merged into itself",
            field="merged_ids",
            error="merge_into_itself",
        )
    survivor = organisation_service.get(session, organisation_id=survivor_id)
    if survivor.merged_into is not None:
        raise Conflict(
            f"organisation {survivor_id} was merged into {survivor.merged_into}; "
            "merge into the surviving organisation instead",
            field="survivor_id",
            error="merged_away",
        )
    merged = []
    for index, merged_id in enumerate(merged_ids):
        organisation = organisation_service.get(session, organisation_id=merged_id)
        if organisation.merged_into is not None:
            raise Conflict(
                f"organisation {merged_id} was already merged into {organisation.merged_into}",
                field=f"merged_ids.{index}",
                error="merged_away",
            )
        merged.append(organisation)
    clusters = {i: judgement_service.members(session, organisation_id=i) for i in merged_ids}
    clusters[survivor_id] = judgement_service.members(session, organisation_id=survivor_id)
    ids = [survivor_id, *merged_ids]
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            verdict = judgement_service.different_between(
                session, cluster_a=clusters[first], cluster_b=clusters[second]
            )
            if verdict is not None:
                pair = (verdict.organisation_a, verdict.organisation_b)
                via = (
                    ""
                    if set(pair) == {first, second}
                    else f" (through organisations {pair[0]} and {pair[1]} of their clusters)"
                )
                raise Conflict(
                    f"organisations {first} and {second} were judged different{via} "
                    f"by {verdict.actor}; they cannot be merged",
                    field="merged_ids",
                    error="judged_different",
                )
    return survivor, merged


def merge(
    session: Session, *, survivor_id: int, merged_ids: list[int], actor: str
) -> tuple[MergeRecord, dict[str, Any]]:
    """Merge organisations into a survivor in the caller's transaction; returns the record."""
    involved = [survivor_id, *merged_ids]
    # Lock, then validate: validating first let two racing merges of one pair both pass
    # (two records, or A into B and B into A at once).
    _lock(session, organisation_ids=involved)
    survivor, merged = _validate(session, survivor_id=survivor_id, merged_ids=merged_ids)
    now = utcnow()

    before: dict[str, list[dict[str, Any]]] = {"organisations": [], "names": [], "signatures": []}
    after: dict[str, list[dict[str, Any]]] = {"organisations": [], "names": [], "signatures": []}

    # Organisations: the merged ones point at the survivor; the survivor fills its blanks.
    for organisation in [survivor, *merged]:
        before["organisations"].append(_image(organisation, ORG_FIELDS))
    for organisation in merged:
        organisation.merged_into = survivor_id
        for field in ("country", "website"):
            if getattr(survivor, field) is None and getattr(organisation, field) is not None:
                setattr(survivor, field, getattr(organisation, field))
    for organisation in [survivor, *merged]:
        session.add(organisation)
        after["organisations"].append(_image(organisation, ORG_FIELDS))

    # Names: the survivor gains every name it does not already have (same normalised key).
    names = organisation_service.names_of(session, organisation_ids=involved)
    known = {n.normalised for n in names[survivor_id]}
    moved_names = 0
    for merged_id in merged_ids:
        for name in names[merged_id]:
            if name.normalised in known:
                continue
            known.add(name.normalised)
            before["names"].append(_image(name, NAME_FIELDS))
            name.organisation_id, name.is_primary = survivor_id, False
            session.add(name)
            after["names"].append(_image(name, NAME_FIELDS))
            moved_names += 1

    # Signatures: all move; two live ones on a letter become the earlier one.
    signatures = list(
        session.exec(
            select(Signature)
            .where(col(Signature.organisation_id).in_(involved))
            .order_by(col(Signature.id))
        )
    )
    live_by_letter: dict[int, list[Signature]] = defaultdict(list)
    for signature in signatures:
        if signature.withdrawn_at is None:
            live_by_letter[signature.letter_id].append(signature)
    changed: dict[int, Signature] = {}
    originals = {s.id: _image(s, SIGNATURE_FIELDS) for s in signatures}
    # Letters whose counts change (a duplicate retired, or anonymity spread): their count
    # caches key on letter.revision. A signature that only moves leaves every count as it was.
    touched_letters: set[int] = set()
    retired = 0
    for letter_id, live in live_by_letter.items():
        if len(live) < 2:
            continue
        live.sort(key=lambda s: s.position)
        keeper, duplicates = live[0], live[1:]
        # A merge never unmasks anyone: one anonymous signature makes the kept one anonymous.
        if any(s.anonymous for s in live) and not keeper.anonymous:
            keeper.anonymous = True
            changed[keeper.id] = keeper  # type: ignore[index]
        for duplicate in duplicates:
            duplicate.withdrawn_at = now
            changed[duplicate.id] = duplicate  # type: ignore[index]
            retired += 1
        touched_letters.add(letter_id)
    # Withdraw duplicates before moving the kept ones: the live (letter, organisation) index
    # must hold after every statement.
    for signature in changed.values():
        session.add(signature)
    session.flush()
    moved = 0
    for signature in signatures:
        if signature.organisation_id != survivor_id:
            signature.organisation_id = survivor_id
            changed[signature.id] = signature  # type: ignore[index]
            session.add(signature)
            moved += 1
    for signature_id in sorted(changed):
        before["signatures"].append(originals[signature_id])
        after["signatures"].append(_image(changed[signature_id], SIGNATURE_FIELDS))

    # Verdicts: remember what each pair had, then record `same`.
    previous_judgements = []
    for merged_id in merged_ids:
        existing = judgement_service.get_pair(session, a=survivor_id, b=merged_id)
        previous_judgements.append(
            {
                "pair": list(judgement_service.ordered(survivor_id, merged_id)),
                "verdict": existing.verdict if existing else None,
                "actor": existing.actor if existing else None,
                "created_at": existing.created_at.isoformat() if existing else None,
            }
        )
        judgement_service.put(
            session, a=survivor_id, b=merged_id, verdict=Verdict.same, actor=actor
        )

    letters = _touch_letters(session, letter_ids=touched_letters)
    webhook_events.signatures_moved(
        session,
        signatures=list(changed.values()),
        recounted=touched_letters,
        counts=lambda letter_id: counting.counts(session, letter_id=letter_id),
    )
    registry.touch(session, organisations=[survivor, *merged])
    # The queue loses the merged organisations' pairs and scores the survivor's again: only
    # the pairs of the organisations involved change.
    duplicate_queue.refresh(session, organisation_ids=involved)
    record = MergeRecord(
        survivor_id=survivor_id,
        merged_ids=list(merged_ids),
        snapshot={
            "version": SNAPSHOT_VERSION,
            "before": before,
            "after": after,
            "judgements": previous_judgements,
        },
        actor=actor,
    )
    session.add(record)
    session.flush()
    summary = {
        "moved_signatures": moved,
        "retired_signatures": retired,
        "moved_names": moved_names,
        "letters": sorted(letter.slug for letter in letters),
    }
    audit.record(
        session,
        actor=actor,
        action="organisation.merge",
        target_type="merge",
        target_id=record.id,
        # Counts only: which letters an anonymous signer signed stays in the admin-only record.
        details={
            "survivor_id": survivor_id,
            "merged_ids": list(merged_ids),
            "moved_signatures": moved,
            "retired_signatures": retired,
            "moved_names": moved_names,
        },
    )
    return record, summary


def _touch_letters(session: Session, *, letter_ids: set[int]) -> list[Letter]:
    letters = list(session.exec(select(Letter).where(col(Letter.id).in_(letter_ids))))
    for letter in letters:
        signature_service.touch_counts(session, letter=letter)
    session.flush()
    return letters


def get(session: Session, *, merge_id: int) -> MergeRecord:
    record = session.get(MergeRecord, merge_id)
    if record is None:
        raise NotFound(f"no merge with id {merge_id}", field="merge_id")
    return record


def _refuse(reason: str, error: str = "undo_impossible") -> Conflict:
    return Conflict(f"this merge cannot be undone exactly: {reason}", error=error)


def _check_undoable(session: Session, *, record: MergeRecord) -> None:
    if record.undone_at is not None:
        raise Conflict(
            f"merge {record.id} was already undone at {record.undone_at.isoformat()}",
            error="already_undone",
        )
    if record.snapshot.get("version") != SNAPSHOT_VERSION:
        raise _refuse("its snapshot has an unknown format")
    involved = {record.survivor_id, *record.merged_ids}
    later = session.exec(
        select(MergeRecord)
        .where(col(MergeRecord.id) > record.id, col(MergeRecord.undone_at).is_(None))
        .order_by(col(MergeRecord.id).desc())
    )
    for other in later:
        overlap = involved & {other.survivor_id, *other.merged_ids}
        if overlap:
            raise _refuse(
                f"a later merge ({other.id}) involves organisation {min(overlap)}; "
                f"undo merge {other.id} first"
            )
    after = record.snapshot["after"]
    tables: tuple[tuple[str, Any, tuple[str, ...]], ...] = (
        ("organisations", Organisation, ORG_FIELDS),
        ("names", OrganisationName, NAME_FIELDS),
        ("signatures", Signature, SIGNATURE_FIELDS),
    )
    for kind, model, fields in tables:
        expected = {row["id"]: row for row in after[kind]}
        current = {
            row.id: row
            for row in session.exec(select(model).where(col(model.id).in_(list(expected))))
        }
        singular = kind[:-1]
        for row_id, image in expected.items():
            row = current.get(row_id)
            if row is None:
                raise _refuse(f"{singular} {row_id} no longer exists")
            for field in fields:
                if _dump(getattr(row, field)) != image[field]:
                    raise _refuse(f"{singular} {row_id} changed after the merge ({field})")


def _check_live_slots(session: Session, *, before: list[dict[str, Any]]) -> None:
    """A signature coming back to life must not meet another live one of its organisation."""
    restored = {row["id"] for row in before}
    wanted = {
        (row["letter_id"], row["organisation_id"]): row["id"]
        for row in before
        if row["withdrawn_at"] is None and row["organisation_id"] is not None
    }
    if not wanted:
        return
    rows = session.exec(
        select(Signature.id, Signature.letter_id, Signature.organisation_id).where(
            col(Signature.letter_id).in_({letter for letter, _ in wanted}),
            col(Signature.organisation_id).in_({organisation for _, organisation in wanted}),
            col(Signature.withdrawn_at).is_(None),
        )
    )
    for signature_id, letter_id, organisation_id in rows:
        if signature_id not in restored and (letter_id, organisation_id) in wanted:
            raise _refuse(
                f"signature {signature_id} was added after the merge where signature "
                f"{wanted[(letter_id, organisation_id)]} would come back"
            )


def undo(
    session: Session, *, merge_id: int, actor: str, record_different: bool = True
) -> MergeRecord:
    """Restore the state before a merge exactly, or refuse with the reason."""
    record = get(session, merge_id=merge_id)
    involved = [record.survivor_id, *record.merged_ids]
    _lock(session, organisation_ids=involved)
    session.refresh(record, with_for_update=True)
    _check_undoable(session, record=record)
    before = record.snapshot["before"]
    _check_live_slots(session, before=before["signatures"])

    # Signatures: first everything except a return to life, then the returns to life, so the
    # live (letter, organisation) index holds after every statement.
    rows = {
        s.id: s
        for s in session.exec(
            select(Signature).where(col(Signature.id).in_([r["id"] for r in before["signatures"]]))
        )
    }
    revived = []
    touched_letters = set()
    for image in before["signatures"]:
        signature = rows[image["id"]]
        if _dump(signature.withdrawn_at) != image["withdrawn_at"] or (
            signature.anonymous != image["anonymous"]
        ):
            touched_letters.add(signature.letter_id)
        for field in SIGNATURE_FIELDS:
            if field == "withdrawn_at" and image[field] is None and signature.withdrawn_at:
                revived.append(signature)
                continue
            setattr(signature, field, _load(field, image[field]))
        session.add(signature)
    session.flush()
    for signature in revived:
        signature.withdrawn_at = None
        session.add(signature)
    try:
        session.flush()
    except IntegrityError:
        raise _refuse("a signature added since the merge takes a restored one's place") from None

    for kind, model, fields in (
        ("names", OrganisationName, NAME_FIELDS),
        ("organisations", Organisation, ORG_FIELDS),
    ):
        for image in before[kind]:
            row = session.get(model, image["id"])
            assert row is not None
            for field in fields:
                setattr(row, field, _load(field, image[field]))
            session.add(row)
    session.flush()

    for previous in record.snapshot["judgements"]:
        a, b = previous["pair"]
        judgement = judgement_service.get_pair(session, a=a, b=b)
        if previous["verdict"] is not None and judgement is not None:
            judgement.verdict, judgement.actor = previous["verdict"], previous["actor"]
            judgement.created_at = datetime.fromisoformat(previous["created_at"])
            session.add(judgement)
        elif judgement is not None:
            session.delete(judgement)
    session.flush()
    if record_different:
        for merged_id in record.merged_ids:
            judgement_service.put(
                session, a=record.survivor_id, b=merged_id, verdict=Verdict.different, actor=actor
            )

    organisations = list(
        session.exec(select(Organisation).where(col(Organisation.id).in_(involved)))
    )
    registry.touch(session, organisations=organisations)
    if record_different:
        # After the touch: the registry must hold the merged organisations live again.
        for merged_id in record.merged_ids:
            learned.record_different(session, a=record.survivor_id, b=merged_id, actor=actor)
    duplicate_queue.refresh(session, organisation_ids=involved)
    _touch_letters(session, letter_ids=touched_letters)
    webhook_events.signatures_moved(
        session,
        signatures=list(rows.values()),
        recounted=touched_letters,
        counts=lambda letter_id: counting.counts(session, letter_id=letter_id),
    )
    record.undone_at, record.undone_by = utcnow(), actor
    session.add(record)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="organisation.merge_undo",
        target_type="merge",
        target_id=record.id,
        details={
            "survivor_id": record.survivor_id,
            "merged_ids": list(record.merged_ids),
            "recorded_different": record_different,
        },
    )
    return record


def history(session: Session, *, limit: int, cursor: str | None) -> Page[MergeRecord]:
    """Merges, newest first."""
    return paging.keyset(
        session,
        select(MergeRecord),
        key=MergeRecord.id,
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def to_public(record: MergeRecord) -> dict[str, Any]:
    snapshot = record.snapshot
    return {
        "merge_id": record.id,
        "survivor_id": record.survivor_id,
        "merged_ids": list(record.merged_ids),
        "actor": record.actor,
        "created_at": record.created_at.isoformat(),
        "undone_at": record.undone_at.isoformat() if record.undone_at else None,
        "undone_by": record.undone_by,
        "moved_names": len(snapshot.get("after", {}).get("names", [])),
    }


def judgement_blocks_pair(session: Session, *, a: int, b: int) -> Judgement | None:
    """The `different` verdict keeping two organisations' clusters apart, if any."""
    return judgement_service.different_between(
        session,
        cluster_a=judgement_service.members(session, organisation_id=a),
        cluster_b=judgement_service.members(session, organisation_id=b),
    )
