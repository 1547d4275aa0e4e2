"""The audit trail of every write by a coordinator or admin (ground level: every domain writes
to it, and it imports no domain)."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, insert
from sqlmodel import Field, Session, SQLModel, select

from app import paging
from app.db import UTCDateTime, utcnow


class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"

    id: int | None = Field(default=None, primary_key=True)
    # "token:<id>" or "env-admin"; never the token itself.
    actor: str = Field(max_length=40, index=True)
    action: str = Field(max_length=60)
    target_type: str = Field(max_length=40)
    target_id: str | None = Field(default=None, max_length=80)
    # Ids and counts only: an anonymous signer's identity never goes here in clear text.
    details: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    target_id: str | int | None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event; callers pass ids and counts, never an anonymous signer's name."""
    event = AuditEvent(
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        details=details or {},
    )
    session.add(event)
    return event


def record_many(
    session: Session,
    *,
    actor: str,
    action: str,
    target_type: str,
    events: list[tuple[str | int | None, dict[str, Any]]],
) -> None:
    """Add one audit event per (target id, details) in a single statement (bulk imports)."""
    if not events:
        return
    now = utcnow()
    session.execute(
        insert(AuditEvent.__table__),  # type: ignore[attr-defined]
        [
            {
                "actor": actor,
                "action": action,
                "target_type": target_type,
                "target_id": None if target_id is None else str(target_id),
                "details": details,
                "created_at": now,
            }
            for target_id, details in events
        ],
    )


def events(session: Session, *, limit: int, cursor: str | None) -> paging.Page[AuditEvent]:
    """Audit events, newest first."""
    return paging.keyset(
        session, select(AuditEvent), key=AuditEvent.id, limit=limit, cursor=cursor, descending=True
    )
