"""Payloads of the events, built where the change happens (signatures, letters, merges).

Public-safe by default: an anonymous signature carries no organisation and no printed name;
`include_anonymous` (a subscription of the letter's own coordinators) adds them. Organisation
ids are public ids (app/opendata/publicid.py)."""

from collections.abc import Callable
from typing import Any

from sqlmodel import Session

from app.letters.models import Letter
from app.opendata.publicid import public_org_id
from app.signatures.models import Signature
from app.webhooks import service


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
) -> None:
    """`signature.created` / `.withdrawn` / `.moved`, then `count.changed`."""
    service.emit(
        session,
        letter=letter,
        event=event,
        data=lambda private: {"signature": _signature(signature, private)},
    )
    counted(session, letter=letter, counts=counts)


def counted(session: Session, *, letter: Letter, counts: Callable[[], tuple[int, int]]) -> None:
    """Counted only when someone subscribed (signing pays nothing otherwise)."""

    def payload(_private: bool) -> dict[str, int]:
        named, anonymous = counts()
        return {"total": named + anonymous, "named": named, "anonymous": anonymous}

    service.emit(session, letter=letter, event="count.changed", data=payload)


def letter_updated(session: Session, *, letter: Letter, fields: list[str]) -> None:
    service.emit(
        session,
        letter=letter,
        event="letter.updated",
        data=lambda _private: {"slug": letter.slug, "status": letter.status, "fields": fields},
    )
