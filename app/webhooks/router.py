"""Webhook endpoints: subscribe a letter, send a test event, list deliveries, pause."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.auth.dependencies import CoordinatorUser
from app.db import SessionDep
from app.errors import NotFound
from app.letters.dependencies import ManagedLetter
from app.letters.models import Letter
from app.resolution.visibility import Viewer
from app.webhooks import service
from app.webhooks.models import WebhookSubscription
from app.webhooks.schemas import (
    DeliveriesPublic,
    DeliveryPublic,
    WebhookCreate,
    WebhookCreatedPublic,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(tags=["webhooks"])
WebhookId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _out(row: WebhookSubscription, letter: Letter) -> WebhookPublic:
    assert row.id is not None
    return WebhookPublic(
        id=row.id,
        letter=letter.slug,
        url=row.url,
        events=row.events,
        include_anonymous=row.include_anonymous,
        paused=row.paused,
        created_at=row.created_at,
    )


def _managed(
    session: SessionDep, principal: CoordinatorUser, webhook_id: int
) -> tuple[WebhookSubscription, Letter]:
    """The subscription and its letter, when the caller manages the letter (404 otherwise:
    another letter's webhooks are not the caller's business)."""
    row = service.get(session, subscription_id=webhook_id)
    letter = service.letter_of(session, subscription=row)
    viewer = Viewer(principal)
    if letter is None or not (viewer.is_admin or row.letter_id in viewer.managed(session)):
        raise NotFound(f"no webhook {webhook_id}", field="id")
    return row, letter


@router.post("/letters/{slug}/webhooks", status_code=201)
def create_webhook(
    data: WebhookCreate, letter: ManagedLetter, session: SessionDep, principal: CoordinatorUser
) -> WebhookCreatedPublic:
    """Subscribe an HTTPS URL to a letter's events; the secret is shown once."""
    viewer = Viewer(principal)
    assert letter.id is not None
    row = service.subscribe(
        session,
        letter=letter,
        url=data.url,
        events=data.events,
        include_anonymous=data.include_anonymous,
        may_see_anonymous=not viewer.is_admin and letter.id in viewer.managed(session),
        actor=principal.actor,
    )
    return WebhookCreatedPublic(**_out(row, letter).model_dump(), secret=row.secret)


@router.get("/letters/{slug}/webhooks")
def list_webhooks(letter: ManagedLetter, session: SessionDep) -> list[WebhookPublic]:
    assert letter.id is not None
    return [_out(r, letter) for r in service.of_letter(session, letter_id=letter.id)]


@router.post("/webhooks/{webhook_id}/test", status_code=202)
def send_test_event(
    webhook_id: WebhookId, session: SessionDep, principal: CoordinatorUser
) -> DeliveryPublic:
    """Queue a `ping` event for this subscription only."""
    row, letter = _managed(session, principal, webhook_id)
    delivery = service.test_event(session, subscription=row, letter=letter)
    return DeliveryPublic(
        id=delivery.uid,
        event=delivery.event,
        status=delivery.status,
        attempts=delivery.attempts,
        last_status_code=None,
        last_error=None,
        next_attempt_at=delivery.next_attempt_at,
        delivered_at=None,
        created_at=delivery.created_at,
    )


@router.get("/webhooks/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: WebhookId,
    session: SessionDep,
    principal: CoordinatorUser,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> DeliveriesPublic:
    """The most recent deliveries, newest first, with their status."""
    row, _ = _managed(session, principal, webhook_id)
    assert row.id is not None
    return DeliveriesPublic(
        data=[
            DeliveryPublic(
                id=d.uid,
                event=d.event,
                status=d.status,
                attempts=d.attempts,
                last_status_code=d.last_status_code,
                last_error=d.last_error,
                next_attempt_at=d.next_attempt_at if d.status == "pending" else None,
                delivered_at=d.delivered_at,
                created_at=d.created_at,
            )
            for d in service.recent(session, subscription_id=row.id, limit=limit)
        ]
    )


@router.patch("/webhooks/{webhook_id}")
def pause_webhook(
    webhook_id: WebhookId, data: WebhookUpdate, session: SessionDep, principal: CoordinatorUser
) -> WebhookPublic:
    """Pause (events still queue, nothing is sent) or resume."""
    row, letter = _managed(session, principal, webhook_id)
    row.paused = data.paused
    session.add(row)
    session.flush()
    if not row.paused:
        service.wake()
    return _out(row, letter)
