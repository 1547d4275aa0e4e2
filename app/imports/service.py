"""Plan and apply a bulk import of signatories, row by row through the signing code path.

Every named row goes through `signatures.service.resolve_or_create` — the resolver signing
uses — so an import links exactly what signing one by one would link. The rows are resolved
inside a SAVEPOINT: organisations a row creates are visible to the resolver for the later
rows (two rows naming one new organisation become `duplicate_in_file`), and a dry run (or a
refused run) rolls the savepoint back, so its plan is the real run's plan and nothing stays
behind. See docs/decisions/0040-import-plan-in-a-savepoint.md.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert, select
from sqlmodel import Session, col

from app import audit
from app.auth.service import Principal
from app.db import utcnow
from app.errors import AppError, BadRequest
from app.imports.parsing import SIGNATURE_COLUMNS, ImportRow, ParsedImport
from app.letters.models import Letter
from app.organisations.models import Organisation
from app.organisations.schemas import OrganisationCreate
from app.resolution import registry
from app.resolution import service as identity
from app.resolution.visibility import Viewer
from app.signatures import counting
from app.signatures import service as signature_service
from app.signatures.models import Signature, SignatureSource
from app.signatures.schemas import SignatureCreate
from app.webhooks import events as webhook_events

# Row statuses. "anonymous" is an anonymous signer recorded without identity (a CSV row with
# anonymous=true and no name).
EXISTING, NEW, NEEDS_REVIEW = "existing", "new", "needs_review"
ALREADY_SIGNED, DUPLICATE, ANONYMOUS, ERROR = (
    "already_signed",
    "duplicate_in_file",
    "anonymous",
    "error",
)
STATUSES = (EXISTING, NEW, NEEDS_REVIEW, ALREADY_SIGNED, DUPLICATE, ANONYMOUS, ERROR)
_TO_SIGN = frozenset({EXISTING, NEW, NEEDS_REVIEW, ANONYMOUS})

Progress = Callable[[int], None]


@dataclass
class RowPlan:
    row: ImportRow
    status: str
    organisation_id: int | None = None
    score: float | None = None
    matched_name: str | None = None
    candidates: list[dict[str, Any]] = field(default_factory=list)
    signature_position: int | None = None
    duplicate_of_line: int | None = None
    reason: str | None = None
    note: str | None = None
    display_name: str | None = None
    # The signature's own columns (parsing.SIGNATURE_COLUMNS), validated: what it is signed with.
    values: dict[str, Any] = field(default_factory=dict)


def _validation_reason(exc: ValidationError) -> str:
    """The first problem of a row, naming the column but never repeating its value."""
    first = exc.errors()[0]
    location = [str(p) for p in first.get("loc", ()) if p != "organisation"]
    column = location[0] if location else "row"
    message = str(first.get("msg", "invalid value")).removeprefix("Value error, ")
    return f"{column}: {message}"


def _plan_named_row(
    session: Session,
    *,
    row: ImportRow,
    viewer: Viewer,
    live_by_organisation: dict[int, Signature],
    first_line: dict[int, int],
    created_by_line: dict[int, int],
    batch: registry.Batch,
) -> RowPlan:
    try:
        organisation = OrganisationCreate(
            name=row.name,
            other_names=row.other_names,
            lang=row.lang,
            country=row.country,
            website=row.website,
            kind=row.kind,
        )
        data = SignatureCreate.model_validate(
            row.cells | {"organisation": organisation, "anonymous": row.anonymous}
        )
    except ValidationError as exc:
        return RowPlan(row=row, status=ERROR, reason=_validation_reason(exc))
    assert data.organisation is not None
    try:
        organisation_id, resolution = signature_service.resolve_or_create(
            session, data=data, viewer=viewer, batch=batch
        )
    except identity.Ambiguous as exc:
        return RowPlan(row=row, status=ERROR, reason=exc.detail, candidates=exc.extra["candidates"])
    except AppError as exc:  # the resolver refuses a name it cannot work with
        return RowPlan(row=row, status=ERROR, reason=exc.detail)
    assert organisation_id is not None and resolution is not None
    plan = RowPlan(
        row=row,
        status=resolution.status,
        organisation_id=organisation_id,
        score=round(resolution.score, 2),
        matched_name=resolution.matched_name,
        candidates=[
            {
                "organisation_id": c.organisation_id,
                "name": c.name,
                "score": round(c.score, 2),
                "reasons": c.reasons,
            }
            for c in resolution.candidates
        ],
        display_name=data.organisation.name,
        values=data.model_dump(include=set(SIGNATURE_COLUMNS)),
    )
    if resolution.status in (NEW, NEEDS_REVIEW):
        created_by_line[organisation_id] = row.line
    if organisation_id in first_line:
        plan.status = DUPLICATE
        plan.duplicate_of_line = first_line[organisation_id]
    elif organisation_id in live_by_organisation:
        existing = live_by_organisation[organisation_id]
        plan.status = ALREADY_SIGNED
        plan.signature_position = existing.position
        if existing.anonymous != row.anonymous:
            plan.note = (
                f"the letter lists this signature as {'anonymous' if existing.anonymous else 'named'};"
                " the import does not change it"
            )
    first_line.setdefault(organisation_id, row.line)
    return plan


def _plan_anonymous_row(row: ImportRow) -> RowPlan:
    """An anonymous signer without identity: only the signature's own cells to validate."""
    try:
        data = SignatureCreate.model_validate(row.cells | {"anonymous": True})
    except ValidationError as exc:
        return RowPlan(row=row, status=ERROR, reason=_validation_reason(exc))
    return RowPlan(
        row=row, status=ANONYMOUS, values=data.model_dump(include=set(SIGNATURE_COLUMNS))
    )


def _restanding(session: Session, *, plans: list[RowPlan], created: set[int]) -> set[int]:
    """Lines of rows whose signature changes who may see an existing organisation (its first
    public signature, or the first anonymous one of an organisation nothing showed)."""
    signing = [
        p
        for p in plans
        if p.status in _TO_SIGN
        and p.organisation_id is not None
        and p.organisation_id not in created
    ]
    held = registry.standings(session, [p.organisation_id for p in signing])  # type: ignore[misc]
    return {
        p.row.line
        for p in signing
        if registry.changes_standing(held[p.organisation_id], shows_publicly=not p.row.anonymous)  # type: ignore[index]
    }


def _follow_merges(
    session: Session,
    *,
    plans: list[RowPlan],
    created: set[int],
    live_by_organisation: dict[int, Signature],
) -> None:
    """Share-lock the existing organisations the plan names and follow merges that committed
    while it was planned, as signing does (signatures/service.py:lock_live_organisation).

    A merge holds its organisations FOR UPDATE and takes only the letters they signed, so it
    can commit while an import of another letter is planning: without this, a row resolved
    before the merge would be signed for the merged-away organisation. Organisations this
    import created are invisible to others and need no lock.
    """
    pending = sorted({p.organisation_id for p in plans if p.organisation_id is not None} - created)
    parents: dict[int, int | None] = {}
    while pending:
        for start in range(0, len(pending), 5000):  # bounded IN lists
            rows = session.execute(
                select(col(Organisation.id), col(Organisation.merged_into))
                .where(col(Organisation.id).in_(pending[start : start + 5000]))
                .order_by(col(Organisation.id))
                .with_for_update(read=True)
            )
            parents.update({row[0]: row[1] for row in rows})
        pending = sorted({m for m in parents.values() if m is not None and m not in parents})
    if all(m is None for m in parents.values()):
        return

    def root(organisation_id: int) -> int:
        seen = set()
        while parents.get(organisation_id) is not None and organisation_id not in seen:
            seen.add(organisation_id)
            organisation_id = parents[organisation_id]  # type: ignore[assignment]
        return organisation_id

    # Re-derive, in file order, what the planning loop decided by organisation: a row now
    # naming the survivor is already signed (the survivor signed the letter) or a duplicate.
    first_line: dict[int, int] = {}
    for plan in plans:
        if plan.organisation_id is None:
            continue
        plan.organisation_id = root(plan.organisation_id)
        if plan.status in _TO_SIGN:
            existing = live_by_organisation.get(plan.organisation_id)
            if existing is not None:
                plan.status = ALREADY_SIGNED
                plan.signature_position = existing.position
            elif plan.organisation_id in first_line:
                plan.status = DUPLICATE
                plan.duplicate_of_line = first_line[plan.organisation_id]
        first_line.setdefault(plan.organisation_id, plan.row.line)


def _aligned(
    plans: list[RowPlan], *, by_position: dict[int, Signature], last_position: int
) -> bool:
    """Whether the file's positions are the letter's: every row that sits at or before the
    letter's last position is the signature already there. Only then can an anonymous row
    without identity be recognised (by its position) as already signed."""
    seen: set[int] = set()
    for plan in plans:
        if plan.status not in _TO_SIGN and plan.status != ALREADY_SIGNED:
            continue
        position = plan.row.position
        if position is None or position in seen:
            return False
        seen.add(position)
        if position > last_position:
            continue
        there = by_position.get(position)
        if there is None:
            return False
        if plan.status == ALREADY_SIGNED:
            if there.organisation_id != plan.organisation_id:
                return False
        elif plan.status != ANONYMOUS or there.organisation_id is not None or not there.anonymous:
            return False
    return True


def _assign_positions(plans: list[RowPlan], *, last_position: int) -> str:
    """Keep the file's positions when they can all be kept, else append in file order."""
    to_sign = [p for p in plans if p.status in _TO_SIGN]
    wanted = [p.row.position for p in to_sign]
    keep = all(w is not None for w in wanted) and all(
        a is not None and b is not None and a < b
        for a, b in zip([last_position, *wanted], wanted, strict=False)
    )
    for offset, plan in enumerate(to_sign, start=1):
        plan.signature_position = plan.row.position if keep else last_position + offset
    return "kept" if keep else "appended"


def _plan_rows(
    session: Session,
    *,
    parsed: ParsedImport,
    viewer: Viewer,
    live_by_organisation: dict[int, Signature],
    progress: Progress | None,
) -> tuple[list[RowPlan], dict[int, int]]:
    """Every row resolved in file order (organisations created as it goes); the plans and the
    line that created each new organisation."""
    plans: list[RowPlan] = []
    first_line: dict[int, int] = {}
    created_by_line: dict[int, int] = {}
    batch = registry.Batch()
    for index, row in enumerate(parsed.rows, start=1):
        if row.error is not None:
            plans.append(RowPlan(row=row, status=ERROR, reason=row.error))
        elif not row.name:
            plans.append(_plan_anonymous_row(row))
        else:
            plans.append(
                _plan_named_row(
                    session,
                    row=row,
                    viewer=viewer,
                    live_by_organisation=live_by_organisation,
                    first_line=first_line,
                    created_by_line=created_by_line,
                    batch=batch,
                )
            )
        if progress is not None:
            progress(index)
    identity.finish(session, batch=batch, viewer=viewer)
    return plans, created_by_line


def run_import(
    session: Session,
    *,
    letter: Letter,
    parsed: ParsedImport,
    principal: Principal,
    dry_run: bool,
    skip_errors: bool = False,
    source: str = SignatureSource.imported,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Resolve every row and, unless dry_run, sign the letter for them in this transaction.

    Raises BadRequest (error "import_has_errors", the plan under "report") for a real run
    with error rows when skip_errors is false; nothing is written then.
    """
    assert letter.id is not None
    signature_service.lock_letter(session, letter=letter)
    if not dry_run:  # checked under the lock, as signing does: a plan may target any letter
        signature_service.ensure_open(letter=letter)
    live = signature_service.live_signatures(session, letter_id=letter.id)
    live_by_organisation = {s.organisation_id: s for s in live if s.organisation_id is not None}
    by_position = {s.position: s for s in live}
    last_position = signature_service.next_position(session, letter=letter) - 1

    # What the caller may see is read once per import (its letters' anonymous signers); the
    # registry follows every other change row by row.
    viewer = Viewer(principal)
    savepoint = session.begin_nested()
    plans, created_by_line = _plan_rows(
        session,
        parsed=parsed,
        viewer=viewer,
        live_by_organisation=live_by_organisation,
        progress=progress,
    )
    restanding = (
        set() if dry_run else _restanding(session, plans=plans, created=set(created_by_line))
    )
    if restanding:
        registry.claim(session)  # before the organisations' locks (decision 0052)
    _follow_merges(
        session,
        plans=plans,
        created=set(created_by_line),
        live_by_organisation=live_by_organisation,
    )
    if restanding:
        roots = {p.row.line: p.organisation_id for p in plans if p.organisation_id is not None}
        registry.touch_ids(session, organisation_ids={roots[line] for line in restanding})
    if _aligned(plans, by_position=by_position, last_position=last_position):
        for plan in plans:
            position = plan.row.position
            if plan.status == ANONYMOUS and position is not None and position <= last_position:
                plan.status = ALREADY_SIGNED
                plan.signature_position = position
    positions = _assign_positions(plans, last_position=last_position)
    errors = sum(p.status == ERROR for p in plans)
    apply = not dry_run and (errors == 0 or skip_errors)
    if apply:
        savepoint.commit()
        created = _sign(session, letter=letter, plans=plans, principal=principal, source=source)
    else:
        savepoint.rollback()
        created = []
    report = _report(
        letter=letter,
        parsed=parsed,
        plans=plans,
        dry_run=dry_run,
        applied=apply,
        positions=positions,
        created_by_line=created_by_line,
        signatures_created=len(created),
    )
    if apply:
        audit.record(
            session,
            actor=principal.actor,
            action="letter.import",
            target_type="letter",
            target_id=letter.slug,
            details={"format": parsed.format, "source": source} | report["summary"],
        )
        session.flush()
    elif not dry_run:
        raise BadRequest(
            f"{errors} row(s) have errors; nothing was imported. Fix them, or pass "
            "skip_errors=true to import the other rows",
            error="import_has_errors",
            field="body",
            extra={"report": report},
        )
    return report


def _sign(
    session: Session, *, letter: Letter, plans: list[RowPlan], principal: Principal, source: str
) -> list[int]:
    """Insert the planned signatures in one statement, and one audit event each; their ids."""
    assert letter.id is not None
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for plan in plans:
        if plan.status not in _TO_SIGN:
            continue
        assert plan.signature_position is not None  # _assign_positions gave every one
        rows.append(
            {
                "letter_id": letter.id,
                "organisation_id": plan.organisation_id,
                "anonymous": plan.row.anonymous or plan.status == ANONYMOUS,
                "display_name": plan.display_name,
                "position": plan.signature_position,
                "signed_at": now,
                "source": source,
                "withdrawn_at": None,
                **plan.values,
            }
        )
    if not rows:
        return []
    table = Signature.__table__  # type: ignore[attr-defined]
    # Core, not ORM objects: ten thousand SQLModel instances and a unit-of-work flush cost
    # seconds (docs/decisions/0041-import-performance.md). The ids are read back by position
    # (unique per letter) rather than with RETURNING, which SQLite would run row by row.
    session.execute(insert(table), rows)
    by_position = {
        position: signature_id
        for position, signature_id in session.execute(
            select(table.c.position, table.c.id).where(
                table.c.letter_id == letter.id,
                table.c.position >= min(row["position"] for row in rows),
            )
        )
    }
    ids = [by_position[row["position"]] for row in rows]
    signature_service.touch_counts(
        session, letter=letter, placed=max(row["position"] for row in rows)
    )
    audit.record_many(
        session,
        actor=principal.actor,
        action="signature.create",
        target_type="signature",
        events=[
            (
                signature_id,
                signature_service.created_details(
                    letter=letter,
                    anonymous=row["anonymous"],
                    organisation_id=row["organisation_id"],
                ),
            )
            for signature_id, row in zip(ids, rows, strict=True)
        ],
    )
    webhook_events.signatures_imported(
        session,
        letter=letter,
        signatures=lambda: [
            Signature(id=signature_id, **row) for signature_id, row in zip(ids, rows, strict=True)
        ],
        counts=lambda: counting.counts(session, letter_id=letter.id),  # type: ignore[arg-type]
    )
    return ids


def _report(
    *,
    letter: Letter,
    parsed: ParsedImport,
    plans: list[RowPlan],
    dry_run: bool,
    applied: bool,
    positions: str,
    created_by_line: dict[int, int],
    signatures_created: int,
) -> dict[str, Any]:
    def shown(organisation_id: int | None) -> int | None:
        # Organisations this import created do not exist unless it was applied.
        if organisation_id in created_by_line and not applied:
            return None
        return organisation_id

    rows = []
    for plan in plans:
        candidates = [c | {"organisation_id": shown(c["organisation_id"])} for c in plan.candidates]
        rows.append(
            {
                "line": plan.row.line,
                "position": plan.row.position,
                "name": plan.row.name or None,
                "anonymous": plan.row.anonymous,
                "status": plan.status,
                "organisation_id": shown(plan.organisation_id),
                "score": plan.score,
                "matched_name": plan.matched_name,
                "candidates": candidates,
                "signature_position": plan.signature_position,
                "duplicate_of_line": plan.duplicate_of_line,
                "reason": plan.reason,
                "note": plan.note,
            }
        )
    summary: dict[str, int] = {"rows": len(plans)} | {
        status: sum(p.status == status for p in plans) for status in STATUSES
    }
    summary["signatures_created"] = signatures_created
    summary["organisations_created"] = len(created_by_line) if applied else 0
    summary["organisations_to_create"] = len(created_by_line)
    return {
        "letter": letter.slug,
        "format": parsed.format,
        "dry_run": dry_run,
        "applied": applied,
        "positions": positions,
        "summary": summary,
        "rows": rows,
        "notes": [{"line": n.line, "text": n.text} for n in parsed.notes],
    }
