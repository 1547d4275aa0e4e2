"""Admin API: duplicate queue, merges and undo, judgements, name proposals, audit log."""

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from sqlmodel import Session

from app import audit
from app.admin import merges as merge_service
from app.admin import review
from app.admin.schemas import (
    AuditEventAdmin,
    AuditEventsAdmin,
    DuplicateGroupsAdmin,
    JudgementAdmin,
    JudgementCreate,
    MergeAdmin,
    MergeCreate,
    MergesAdmin,
    NameProposalAdmin,
    NameProposalsAdmin,
    UndoCreate,
)
from app.auth.dependencies import AdminUser
from app.db import SessionDep
from app.paging import Cursor
from app.resolution import judgements as judgement_service
from app.resolution import proposals
from app.resolution import queue as duplicate_service

router = APIRouter(prefix="/admin", tags=["admin"])
MergeId = Annotated[int, Path(ge=1, le=2**31 - 1)]
ProposalId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.get("/duplicates", response_model=DuplicateGroupsAdmin)
def list_duplicates(
    session: SessionDep, _: AdminUser, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> DuplicateGroupsAdmin:
    """Candidate duplicate organisations not yet judged, best first, with score and reasons."""
    pairs = duplicate_service.candidate_pairs(session, limit=limit)
    groups = review.groups_out(session, pairs)
    return DuplicateGroupsAdmin(data=groups, count=len(groups))


def _merge_out(record: Any, extra: dict[str, Any] | None = None) -> MergeAdmin:
    return MergeAdmin.model_validate(merge_service.to_public(record) | (extra or {}))


@router.post("/merges", status_code=201, response_model=MergeAdmin)
def create_merge(data: MergeCreate, session: SessionDep, principal: AdminUser) -> MergeAdmin:
    """Merge organisations into a survivor (names unioned, signatures moved, undoable)."""
    record, summary = merge_service.merge(
        session, survivor_id=data.survivor_id, merged_ids=data.merged_ids, actor=principal.actor
    )
    return _merge_out(record, summary)


@router.get("/merges", response_model=MergesAdmin)
def list_merges(
    session: SessionDep,
    _: AdminUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Cursor = None,
) -> MergesAdmin:
    """Merge history, newest first."""
    page = merge_service.history(session, limit=limit, cursor=cursor)
    return MergesAdmin(data=[_merge_out(r) for r in page.items], next_cursor=page.next_cursor)


@router.post("/merges/{merge_id}/undo", response_model=MergeAdmin)
def undo_merge(
    merge_id: MergeId,
    session: SessionDep,
    principal: AdminUser,
    data: Annotated[UndoCreate | None, Body()] = None,
) -> MergeAdmin:
    """Restore the state before a merge exactly; 409 with the reason when that is impossible."""
    record = merge_service.undo(
        session,
        merge_id=merge_id,
        actor=principal.actor,
        record_different=(data or UndoCreate()).record_different,
    )
    return _merge_out(record)


@router.post("/judgements", status_code=201, response_model=JudgementAdmin)
def create_judgement(
    data: JudgementCreate, session: SessionDep, principal: AdminUser
) -> JudgementAdmin:
    """Record that two organisations are different: their clusters are never suggested again."""
    a, b = data.organisation_ids
    judgement, _ = review.record_different(session, a=a, b=b, actor=principal.actor)
    return JudgementAdmin.model_validate(judgement_service.to_public(judgement))


@router.get("/name-proposals", response_model=NameProposalsAdmin)
def list_name_proposals(
    session: SessionDep, _: AdminUser, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> NameProposalsAdmin:
    """Names coordinators proposed for organisations other letters show, oldest first."""
    data = review.proposals_out(session, proposals.pending(session, limit=limit))
    return NameProposalsAdmin(data=data, count=len(data))


def _decided(session: Session, proposal_id: int, *, accept: bool, actor: str) -> NameProposalAdmin:
    proposal = proposals.decide(session, proposal_id=proposal_id, accept=accept, actor=actor)
    return review.proposals_out(session, [proposal])[0]


@router.post("/name-proposals/{proposal_id}/accept", response_model=NameProposalAdmin)
def accept_name_proposal(
    proposal_id: ProposalId, session: SessionDep, principal: AdminUser
) -> NameProposalAdmin:
    """Add the proposed name to the organisation (shown and matched from now on)."""
    return _decided(session, proposal_id, accept=True, actor=principal.actor)


@router.post("/name-proposals/{proposal_id}/reject", response_model=NameProposalAdmin)
def reject_name_proposal(
    proposal_id: ProposalId, session: SessionDep, principal: AdminUser
) -> NameProposalAdmin:
    """Refuse the proposed name; it is never shown nor matched."""
    return _decided(session, proposal_id, accept=False, actor=principal.actor)


@router.get("/audit", response_model=AuditEventsAdmin)
def list_audit(
    session: SessionDep,
    _: AdminUser,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Cursor = None,
) -> AuditEventsAdmin:
    """Audit events of every coordinator and admin write, newest first."""
    page = audit.events(session, limit=limit, cursor=cursor)
    return AuditEventsAdmin(
        data=[AuditEventAdmin.model_validate(r, from_attributes=True) for r in page.items],
        next_cursor=page.next_cursor,
    )
