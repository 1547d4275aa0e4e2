"""Audit trail of every write by a coordinator or admin."""

from typing import Any

from sqlalchemy import insert
from sqlmodel import Session

from app.admin.models import AuditEvent
from app.db import utcnow


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
