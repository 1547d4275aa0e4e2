"""Payloads of the events, built where the change happens (signatures, letters, merges).

Public-safe by default: an anonymous signature carries no organisation and no printed name;
`include_anonymous` (a subscription of the letter's own coordinators) adds them. Organisation
ids are public ids (app/opendata/publicid.py)."""

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlmodel import Session, col, select

from app.letters.models import Letter
from app.opendata.publicid import public_org_id
from app.signatures.models import Signature
from app.webhooks import service
from app.webhooks.models import WebhookSubscription


def _signature(signature: Signature, include_anonymous: bool) -> dict[str, Any]:
    shown = not signature.anonymous or include_anonymous
    organisation = (
        public_org_id(signature.organisation_id)
        if shown and signature.organisation_id is not None
        else None
    )
    return {
        "id": signature.id,
        "position": signature.position,
        "anonymous": signature.anonymous,
        "organisation_id": organisation,
        "name": signature.display_name if shown else None,
    }


def signature_event(
    session: Session,
    *,
    letter: Letter,
    event: str,
    signature: Signature,
    counts: Callable[[], tuple[int, int]],
    subscriptions: Sequence[WebhookSubscription] | None = None,
) -> None:
    """`signature.created` / `.withdrawn` / `.moved`, then `count.changed` (the letter's
    subscriptions read once for both, or given: `service.subscribed`)."""
    service.emit_all(
        session,
        letter=letter,
        events=[
            (event, lambda private: {"signature": _signature(signature, private)}),
            ("count.changed", _count_payload(counts)),
        ],
        subscriptions=subscriptions,
    )


def _count_payload(counts: Callable[[], tuple[int, int]]) -> Callable[[bool], dict[str, int]]:
    """Counted only when someone subscribed (signing pays nothing otherwise)."""

    taken: list[tuple[int, int]] = []  # once, however many subscriptions want it

    def payload(_private: bool) -> dict[str, int]:
        if not taken:
            taken.append(counts())
        named, anonymous = taken[0]
        return {"total": named + anonymous, "named": named, "anonymous": anonymous}

    return payload


def counted(session: Session, *, letter: Letter, counts: Callable[[], tuple[int, int]]) -> None:
    service.emit(session, letter=letter, event="count.changed", data=_count_payload(counts))


def letter_updated(session: Session, *, letter: Letter, fields: list[str]) -> None:
    service.emit(
        session,
        letter=letter,
        event="letter.updated",
        data=lambda _private: {"slug": letter.slug, "status": letter.status, "fields": fields},
    )


def signatures_moved(
    session: Session,
    *,
    signatures: Iterable[Signature],
    recounted: set[int],
    counts: Callable[[int], tuple[int, int]],
) -> None:
    """After a merge or its undo: `signature.moved` for each signature whose organisation or
    state changed, then `count.changed` on the letters in `recounted` (a retired duplicate, a
    signature brought back)."""
    by_letter: dict[int, list[Signature]] = defaultdict(list)
    for signature in signatures:
        by_letter[signature.letter_id].append(signature)
    letter_ids = set(by_letter) | recounted
    if not letter_ids:
        return
    letters = {
        letter.id: letter
        for letter in session.exec(select(Letter).where(col(Letter.id).in_(letter_ids)))
    }
    for letter_id in sorted(letter_ids):
        letter = letters[letter_id]
        for signature in sorted(by_letter.get(letter_id, []), key=lambda s: s.position):
            service.emit(
                session,
                letter=letter,
                event="signature.moved",
                data=lambda private, signature=signature: {  # type: ignore[misc]
                    "signature": _signature(signature, private)
                },
            )
        if letter_id in recounted:
            counted(session, letter=letter, counts=lambda letter_id=letter_id: counts(letter_id))  # type: ignore[misc]


def signatures_imported(
    session: Session,
    *,
    letter: Letter,
    signatures: Callable[[], list[Signature]],
    counts: Callable[[], tuple[int, int]],
) -> None:
    """An import's `signature.created` events, one per signature in letter order, then one
    `count.changed`. `signatures` is called only when the letter has subscriptions: an import
    of ten thousand rows pays one query otherwise."""
    if not service.has_subscriptions(session, letter=letter):
        return
    for signature in signatures():
        service.emit(
            session,
            letter=letter,
            event="signature.created",
            data=lambda private, signature=signature: {  # type: ignore[misc]
                "signature": _signature(signature, private)
            },
        )
    counted(session, letter=letter, counts=counts)
