"""What the public may know of an organisation, by its public id (issue 16.2).

One lookup for every public route (page, JSON, reconciliation preview): an id that decodes to
nothing, an organisation that does not exist and one the public may not see all raise the
same NotFound, with the same words; a merged-away id gives its survivor.
"""

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session

from app.errors import NotFound
from app.opendata import identifiers
from app.opendata.publicid import internal_org_id, public_org_id
from app.organisations import service as organisations
from app.organisations.models import Organisation, OrganisationName
from app.resolution.visibility import Viewer, public_signatures

PUBLIC = Viewer(principal=None)


@dataclass
class Found:
    organisation: Organisation
    merged: bool  # the id asked for was merged away: answer with a permanent redirect


def not_found(public_id: str) -> NotFound:
    return NotFound(f"no organisation with id {public_id[:40]}", field="id")


def lookup(session: Session, *, public_id: str) -> Found:
    internal = internal_org_id(public_id)
    if internal is None or session.get(Organisation, internal) is None:
        raise not_found(public_id)
    survivor = organisations.get_live(session, organisation_id=internal)
    assert survivor.id is not None
    if not PUBLIC.sees(session, survivor.id):
        raise not_found(public_id)
    return Found(survivor, merged=survivor.id != internal)


def display_name(names: list[OrganisationName]) -> str:
    """The name to show first: the primary one, else the first full name."""
    for name in names:
        if name.is_primary:
            return name.name
    for name in names:
        if not name.is_acronym:
            return name.name
    return names[0].name if names else ""


def document(session: Session, *, organisation: Organisation, base_url: str) -> dict[str, Any]:
    """The public JSON of an organisation: names with language and script, country, website,
    external identifiers, and the letters that show it publicly (never an anonymous
    signature, never a draft letter: `shows_publicly`)."""
    assert organisation.id is not None
    names = organisations.names_of(session, organisation_ids=[organisation.id])[organisation.id]
    ids = identifiers.of(session, organisation_ids=[organisation.id])[organisation.id]
    letters: list[dict[str, Any]] = []
    seen: set[int] = set()
    for _signature, letter in public_signatures(session, organisation_id=organisation.id):
        if letter.id in seen:
            continue
        seen.add(letter.id)  # type: ignore[arg-type]
        letters.append(
            {
                "slug": letter.slug,
                "title": letter.title,
                "lang": letter.lang,
                "status": letter.status,
                "url": f"{base_url}/letters/{letter.slug}",
            }
        )
    public_id = public_org_id(organisation)
    return {
        "id": public_id,
        "name": display_name(names),
        "kind": organisation.kind,
        "country": organisation.country,
        "website": organisation.website,
        "names": [
            {
                "name": n.name,
                "lang": n.lang,
                "script": n.script,
                "is_acronym": n.is_acronym,
                "is_primary": n.is_primary,
            }
            for n in names
        ],
        "identifiers": [
            {"scheme": i.scheme, "value": i.value, "url": identifiers.url_of(i)} for i in ids
        ],
        "letters": letters,
        "url": f"{base_url}/organisations/{public_id}",
    }
