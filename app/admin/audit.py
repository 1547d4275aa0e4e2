"""Audit trail of every write by a coordinator or admin."""

from typing import Any

from sqlmodel import Session

from app.admin.models import AuditEvent


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
