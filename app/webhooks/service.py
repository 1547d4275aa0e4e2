"""Subscriptions, the outbox, and delivery.

`emit` writes one delivery row per subscription that wants the event, in the caller's
transaction: the change and its events commit or vanish together, so a crash (kill -9)
between the change and the delivery loses nothing. The worker (`deliver_due`) leases rows
(`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite serialises writers), one per subscription at
a time and oldest first, so each receiver gets a letter's events in order; it retries with
exponential backoff for 24 hours, then marks the delivery failed.
"""

import hashlib
import hmac
import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import and_, bindparam, exists, update
from sqlalchemy.orm import aliased
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app import audit
from app.config import get_settings
from app.db import open_session, utcnow
from app.errors import AppError, BadRequest, NotFound
from app.letters.models import Letter
from app.webhooks import urls
from app.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookSubscription

logger = logging.getLogger("undersigned.webhooks")
EVENTS = (
    "signature.created",
    "signature.withdrawn",
    "signature.moved",
    "count.changed",
    "letter.updated",
)
TEST_EVENT = "ping"
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = 10.0  # seconds; doubles each attempt
MAX_RETRY = 3600.0
LEASE = timedelta(seconds=60)
TIMEOUT = 10.0
BATCH = 20


def sign(secret: str, *, timestamp: int, body: bytes) -> str:
    """`Undersigned-Signature`: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, *, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver does: the signature matches and is recent (replay window)."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (ValueError, KeyError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp=timestamp, body=body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, fields.get("v1", ""))


# --- subscriptions ---------------------------------------------------------------------------


def _check_events(events: list[str]) -> list[str]:
    if not events:
        raise BadRequest("give at least one event", field="events")
    for event in events:
        if event not in EVENTS:
            raise BadRequest(
                f"unknown event '{event[:40]}'; known: {', '.join(EVENTS)}", field="events"
            )
    return sorted(set(events), key=EVENTS.index)


def subscribe(
    session: Session,
    *,
    letter: Letter,
    url: str,
    events: list[str],
    include_anonymous: bool,
    may_see_anonymous: bool,
    actor: str,
) -> WebhookSubscription:
    if include_anonymous and not may_see_anonymous:
        raise BadRequest(
            "only the letter's own coordinators may receive anonymous signers' organisations",
            field="include_anonymous",
        )
    assert letter.id is not None
    row = WebhookSubscription(
        letter_id=letter.id,
        url=urls.check(url),
        events=_check_events(events),
        secret="whsec_" + secrets.token_urlsafe(32),
        include_anonymous=include_anonymous,
        created_by=actor,
    )
    session.add(row)
    session.flush()
    # In the statement, not by flushing the loaded row: signers bump other columns of it
    # meanwhile. The loaded copy follows, for whatever this transaction emits next.
    count = session.execute(
        update(Letter)
        .where(col(Letter.id) == letter.id)
        .values(webhooks=Letter.webhooks + 1)
        .returning(col(Letter.webhooks))
    ).scalar_one()
    set_committed_value(letter, "webhooks", int(count))
    audit.record(
        session,
        actor=actor,
        action="webhook.create",
        target_type="webhook",
        target_id=row.id,
        details={"letter": letter.slug},
    )
    return row


def get(session: Session, *, subscription_id: int) -> WebhookSubscription:
    row = session.get(WebhookSubscription, subscription_id)
    if row is None:
        raise NotFound(f"no webhook {subscription_id}", field="id")
    return row


def of_letter(session: Session, *, letter_id: int) -> list[WebhookSubscription]:
    """A letter's subscriptions, oldest first."""
    query = (
        select(WebhookSubscription)
        .where(WebhookSubscription.letter_id == letter_id)
        .order_by(col(WebhookSubscription.id))
    )
    return list(session.exec(query))


def letter_of(session: Session, *, subscription: WebhookSubscription) -> Letter | None:
    return session.get(Letter, subscription.letter_id)


def recent(session: Session, *, subscription_id: int, limit: int) -> list[WebhookDelivery]:
    return list(
        session.exec(
            select(WebhookDelivery)
            .where(WebhookDelivery.subscription_id == subscription_id)
            .order_by(col(WebhookDelivery.id).desc())
            .limit(limit)
        )
    )


# --- the outbox ------------------------------------------------------------------------------


def _queue(
    session: Session, *, subscription: WebhookSubscription, event: str, data: Any, letter_slug: str
) -> WebhookDelivery:
    uid = str(uuid.uuid4())
    body = json.dumps(
        {
            "id": uid,
            "event": event,
            "letter": letter_slug,
            "created_at": utcnow().isoformat().replace("+00:00", "Z"),
            "data": data,
        },
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )
    assert subscription.id is not None
    row = WebhookDelivery(uid=uid, subscription_id=subscription.id, event=event, body=body)
    session.add(row)
    return row


# Built once: every signature reads it.
_SUBSCRIBED = select(WebhookSubscription).where(
    WebhookSubscription.letter_id == bindparam("letter_id")
)


def subscribed(session: Session, *, letter: Letter) -> list[WebhookSubscription]:
    """The letter's subscriptions, for `emit_all`: a signer reads them before it takes the
    letter's row lock, so that the lock is held for one round trip less; none, without a
    round trip, for a letter nobody subscribed to when the caller read it (a subscription
    committed later gets the signatures committed after it, as when the rows are read)."""
    if not letter.webhooks:
        return []
    return list(session.exec(_SUBSCRIBED, params={"letter_id": letter.id}))


def has_subscriptions(session: Session, *, letter: Letter) -> bool:
    query = select(WebhookSubscription.id).where(WebhookSubscription.letter_id == letter.id)
    return session.exec(query.limit(1)).first() is not None


def emit(
    session: Session,
    *,
    letter: Letter,
    event: str,
    data: Callable[[bool], Any],
) -> int:
    """Queue `event` for the letter's subscriptions that want it, in the caller's transaction.
    `data(include_anonymous)` builds the payload: public-safe unless the subscription opted
    in. Costs one indexed query when nobody subscribed."""
    return emit_all(session, letter=letter, events=[(event, data)])


def emit_all(
    session: Session,
    *,
    letter: Letter,
    events: Sequence[tuple[str, Callable[[bool], Any]]],
    subscriptions: Sequence[WebhookSubscription] | None = None,
) -> int:
    """`emit` for several events of one change, in order, reading the letter's subscriptions
    once (a signature is `signature.created` then `count.changed`) or taking those read
    earlier (`subscriptions`); how many were queued."""
    assert all(event in EVENTS for event, _ in events)
    if subscriptions is None:
        subscriptions = subscribed(session, letter=letter)
    queued = 0
    for event, data in events:
        for subscription in subscriptions:
            if event not in subscription.events:
                continue
            _queue(
                session,
                subscription=subscription,
                event=event,
                data=data(subscription.include_anonymous),
                letter_slug=letter.slug,
            )
            queued += 1
    if queued:
        session.flush()
        wake()
    return queued


def test_event(
    session: Session, *, subscription: WebhookSubscription, letter: Letter
) -> WebhookDelivery:
    row = _queue(
        session,
        subscription=subscription,
        event=TEST_EVENT,
        data={"message": "test event"},
        letter_slug=letter.slug,
    )
    session.flush()
    wake()
    return row


# --- delivery --------------------------------------------------------------------------------


def _lease(session: Session) -> list[tuple[WebhookDelivery, WebhookSubscription]]:
    """Due deliveries, the oldest pending one of each active subscription, leased to this
    worker until LEASE from now."""
    now = utcnow()
    earlier = aliased(WebhookDelivery)
    query = (
        select(WebhookDelivery)
        .join(WebhookSubscription, col(WebhookSubscription.id) == WebhookDelivery.subscription_id)
        .where(
            WebhookDelivery.status == DeliveryStatus.pending,
            col(WebhookSubscription.paused).is_(False),
            col(WebhookDelivery.next_attempt_at) <= now,
            (col(WebhookDelivery.leased_until).is_(None))
            | (col(WebhookDelivery.leased_until) < now),
            ~exists().where(
                and_(
                    col(earlier.subscription_id) == col(WebhookDelivery.subscription_id),
                    col(earlier.status) == DeliveryStatus.pending,
                    col(earlier.id) < col(WebhookDelivery.id),
                )
            ),
        )
        .order_by(col(WebhookDelivery.id))
        .limit(BATCH)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(of=WebhookDelivery, skip_locked=True)
    rows = list(session.exec(query))
    leased = []
    for row in rows:
        row.leased_until = now + LEASE
        session.add(row)
        leased.append((row, get(session, subscription_id=row.subscription_id)))
    session.flush()
    return leased


def _send(
    client: httpx.Client, delivery: WebhookDelivery, subscription: WebhookSubscription
) -> tuple[int | None, str | None]:
    try:
        urls.check(subscription.url)
    except AppError as exc:
        return None, exc.detail[:200]
    body = delivery.body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Undersigned-Webhooks/1.0",
        "Undersigned-Event": delivery.event,
        "Undersigned-Delivery": delivery.uid,
        "Undersigned-Signature": sign(subscription.secret, timestamp=int(time.time()), body=body),
    }
    try:
        response = client.post(subscription.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    return response.status_code, None


def _record(delivery_id: int, *, status_code: int | None, error: str | None) -> None:
    with open_session(write=True) as session:
        row = session.get(WebhookDelivery, delivery_id)
        if row is None:
            return
        now = utcnow()
        row.attempts += 1
        row.last_status_code, row.last_error, row.leased_until = status_code, error, None
        if status_code is not None and 200 <= status_code < 300:
            row.status, row.delivered_at = DeliveryStatus.delivered, now
        elif now - row.created_at >= RETRY_FOR:
            row.status = DeliveryStatus.failed
        else:
            delay = min(FIRST_RETRY * 2 ** (row.attempts - 1), MAX_RETRY)
            row.next_attempt_at = now + timedelta(seconds=delay)
        session.add(row)
        session.commit()


def deliver_due(*, transport: httpx.BaseTransport | None = None) -> int:
    """Send what is due (one round); returns how many were attempted."""
    with open_session() as session:  # a cheap read first: no write lock every poll
        due = session.exec(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == DeliveryStatus.pending,
                col(WebhookDelivery.next_attempt_at) <= utcnow(),
            )
            .limit(1)
        ).first()
    if due is None:
        return 0
    with open_session(write=True) as session:
        leased = _lease(session)
        work = [(d.id, d.model_copy(), s.model_copy()) for d, s in leased]
        session.commit()
    if not work:
        return 0
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False, transport=transport) as client:
        for delivery_id, delivery, subscription in work:
            assert delivery_id is not None
            status_code, error = _send(client, delivery, subscription)
            _record(delivery_id, status_code=status_code, error=error)
    return len(work)


_wake = threading.Event()
_started = threading.Lock()
_thread: threading.Thread | None = None
POLL_SECONDS = 2.0


def wake() -> None:
    _wake.set()


def _loop() -> None:
    while True:
        _wake.wait(timeout=POLL_SECONDS)
        _wake.clear()
        try:
            while deliver_due():
                pass
        except Exception as exc:  # rows stay pending for the next round
            logger.warning("webhook deliveries postponed: %s", type(exc).__name__)


def start() -> None:
    """Run deliveries in a thread of this process (once). Off in tests unless asked."""
    global _thread
    if not get_settings().webhooks_in_background:
        return
    with _started:
        if _thread is None or not _thread.is_alive():
            _thread = threading.Thread(target=_loop, name="webhook-delivery", daemon=True)
            _thread.start()
    _wake.set()


def reset_leases(session: Session) -> None:
    """Tests: forget leases (a worker 'killed' while holding them)."""
    session.execute(update(WebhookDelivery).values(leased_until=None))
