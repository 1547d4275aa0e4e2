"""Organisations and their names: reads, following merges, and what a caller may see.

Creating organisations and adding names belong to organisation identity (app/resolution:
`service.identify`, `proposals.add_name`); who may see which organisation to
`resolution.visibility`.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, func, select

from app.errors import Conflict, NotFound
from app.organisations.models import Organisation, OrganisationName
from app.resolution.visibility import Viewer, public_signatures, shows
from app.signatures.models import Signature


@dataclass(frozen=True)
class ShownSignature:
    """A signature that shows an organisation publicly: the letter, never an anonymous one."""

    letter: str
    position: int
    signed_at: datetime


@dataclass(frozen=True)
class Profile:
    """An organisation with every name it bears and the signatures that show it publicly."""

    id: int
    kind: str
    country: str | None
    website: str | None
    merged_into: int | None
    created_at: datetime
    names: list[OrganisationName]
    signatures: list[ShownSignature]


def get(session: Session, *, organisation_id: int) -> Organisation:
    organisation = session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation with id {organisation_id}", field="organisation_id")
    return organisation


def get_live(session: Session, *, organisation_id: int) -> Organisation:
    """The organisation, or the survivor it was merged into."""
    organisation = get(session, organisation_id=organisation_id)
    seen = {organisation.id}
    while organisation.merged_into is not None:
        organisation = get(session, organisation_id=organisation.merged_into)
        if organisation.id in seen:  # defensive: a cycle would be a bug elsewhere
            raise Conflict("organisation merge chain is cyclic")
        seen.add(organisation.id)
    return organisation


def get_visible(session: Session, *, organisation_id: int, viewer: Viewer) -> Organisation:
    """The organisation, or 404 when the caller must not learn that it exists."""
    organisation = get(session, organisation_id=organisation_id)
    if not viewer.sees(session, organisation_id):
        raise NotFound(f"no organisation with id {organisation_id}", field="organisation_id")
    return organisation


def names_of(
    session: Session, *, organisation_ids: Iterable[int]
) -> dict[int, list[OrganisationName]]:
    ids = list(set(organisation_ids))
    result: dict[int, list[OrganisationName]] = {i: [] for i in ids}
    if not ids:
        return result
    rows = session.exec(
        select(OrganisationName)
        .where(col(OrganisationName.organisation_id).in_(ids))
        .order_by(col(OrganisationName.is_primary).desc(), col(OrganisationName.id))
    )
    for row in rows:
        result[row.organisation_id].append(row)
    return result


def profile(session: Session, *, organisation: Organisation) -> Profile:
    assert organisation.id is not None
    names = names_of(session, organisation_ids=[organisation.id])[organisation.id]
    # Signatures that show it publicly only: an anonymous signature is never revealed here,
    # and the position is the public rank on the letter (decision 0085), not the real one,
    # whose gaps would tell where anonymous signatures sit.
    shown = [
        ShownSignature(
            letter=letter.slug,
            position=public_rank(session, letter_id=s.letter_id, position=s.position),
            signed_at=s.signed_at,
        )
        for s, letter in public_signatures(session, organisation_id=organisation.id)
    ]
    return Profile(
        id=organisation.id,
        kind=organisation.kind,
        country=organisation.country,
        website=organisation.website,
        merged_into=organisation.merged_into,
        created_at=organisation.created_at,
        names=names,
        signatures=shown,
    )


def public_rank(session: Session, *, letter_id: int, position: int) -> int:
    """The number a public list gives the signature at `position`: 1 + the public entries
    before it."""
    before = select(func.count()).where(
        Signature.letter_id == letter_id, shows(), col(Signature.position) < position
    )
    return int(session.exec(before).one()) + 1
