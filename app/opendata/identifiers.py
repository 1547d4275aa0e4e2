"""External identifiers: an organisation's id in another register, validated by scheme.

Written `scheme:value` (`wikidata:Q42`). Each scheme normalises its value (case, spaces)
and checks its form and, where the register defines one, its check digit, so that a typo is
refused rather than stored as a second identity.

One organisation per identifier among those the caller may see: the same identifier on
another visible organisation is a 409 naming it (merge them). On an organisation hidden from
the caller it is stored all the same, with the pair queued for the admins — a refusal would
tell the caller that a hidden organisation holds it.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlmodel import Session, col, select

from app import audit
from app.errors import BadRequest, Conflict, Forbidden, NotFound
from app.opendata.models import ExternalIdentifier
from app.organisations.models import Organisation
from app.resolution import candidates as candidate_queue
from app.resolution.visibility import Viewer


@dataclass(frozen=True)
class Scheme:
    name: str
    label: str
    pattern: str
    url: str  # `{}` is the value
    normalise: Callable[[str], str] = str.strip
    check: Callable[[str], bool] = lambda _: True


def _mod97(value: str) -> bool:  # ISO 17442 (LEI)
    digits = "".join(str(int(c, 36)) for c in value)
    return int(digits) % 97 == 1


def _mod11_2(value: str) -> bool:  # ISO 7064 MOD 11-2 (ISNI)
    total = 0
    for char in value[:-1]:
        total = (total + int(char)) * 2
    check = (12 - total % 11) % 11
    return value[-1] == ("X" if check == 10 else str(check))


def _luhn(value: str) -> bool:  # SIREN
    total = 0
    for index, char in enumerate(reversed(value)):
        digit = int(char) * (2 if index % 2 else 1)
        total += digit - 9 if digit > 9 else digit
    return total % 10 == 0


def _upper(value: str) -> str:
    return re.sub(r"\s+", "", value).upper()


SCHEMES: dict[str, Scheme] = {
    s.name: s
    for s in (
        Scheme(
            "wikidata", "Wikidata", r"Q[1-9][0-9]{0,11}", "https://www.wikidata.org/wiki/{}", _upper
        ),
        Scheme(
            "ror",
            "Research Organization Registry",
            r"0[a-z0-9]{6}[0-9]{2}",
            "https://ror.org/{}",
            lambda v: v.strip().lower().removeprefix("https://ror.org/"),
        ),
        Scheme("isni", "ISNI", r"[0-9]{15}[0-9X]", "https://isni.org/isni/{}", _upper, _mod11_2),
        Scheme(
            "lei",
            "Legal Entity Identifier",
            r"[0-9A-Z]{18}[0-9]{2}",
            "https://search.gleif.org/#/record/{}",
            _upper,
            _mod97,
        ),
        Scheme(
            "gb-chc",
            "Charity Commission for England and Wales",
            r"[0-9]{6,8}",
            "https://register-of-charities.charitycommission.gov.uk/charity-search/-/charity-details/{}",
            _upper,
        ),
        Scheme(
            "gb-coh",
            "Companies House (UK)",
            r"(?:[0-9]{8}|(?:SC|NI|OC|SO|NC|R0|FC|GE|LP|SL|SF|NL|NF|NP|RC|SR|ZC)[0-9]{6})",
            "https://find-and-update.company-information.service.gov.uk/company/{}",
            _upper,
        ),
        Scheme(
            "fr-siren",
            "SIREN (France)",
            r"[0-9]{9}",
            "https://annuaire-entreprises.data.gouv.fr/entreprise/{}",
            _upper,
            _luhn,
        ),
    )
}


def parse(text: str, *, field: str = "identifier") -> tuple[str, str]:
    """`scheme:value` → (scheme, normalised value), or 400 naming the field."""
    scheme, sep, value = text.partition(":")
    scheme = scheme.strip().lower()
    if not sep or not value.strip():
        raise BadRequest("an identifier is written scheme:value, e.g. wikidata:Q42", field=field)
    return scheme, validate(scheme=scheme, value=value, field=field)


def validate(*, scheme: str, value: str, field: str = "identifier") -> str:
    known = SCHEMES.get(scheme)
    if known is None:
        raise BadRequest(
            f"unknown identifier scheme '{scheme[:40]}'; known: {', '.join(SCHEMES)}",
            field=field,
            error="unknown_scheme",
        )
    clean = known.normalise(value)
    if not re.fullmatch(known.pattern, clean) or not known.check(clean):
        raise BadRequest(f"'{value[:60]}' is not a valid {known.label} identifier", field=field)
    return clean


def url_of(identifier: ExternalIdentifier) -> str | None:
    scheme = SCHEMES.get(identifier.scheme)
    return scheme.url.format(identifier.value) if scheme else None


def of(session: Session, *, organisation_ids: Iterable[int]) -> dict[int, list[ExternalIdentifier]]:
    ids = sorted(set(organisation_ids))
    result: dict[int, list[ExternalIdentifier]] = {i: [] for i in ids}
    for start in range(0, len(ids), 5000):
        rows = session.exec(
            select(ExternalIdentifier)
            .where(col(ExternalIdentifier.organisation_id).in_(ids[start : start + 5000]))
            .order_by(col(ExternalIdentifier.scheme), col(ExternalIdentifier.value))
        )
        for row in rows:
            result[row.organisation_id].append(row)
    return result


def holders(session: Session, *, scheme: str, value: str) -> list[int]:
    """The organisations holding this identifier (visibility is the caller's business)."""
    rows = session.exec(
        select(ExternalIdentifier.organisation_id)
        .where(ExternalIdentifier.scheme == scheme, ExternalIdentifier.value == value)
        .order_by(col(ExternalIdentifier.organisation_id))
    )
    return list(rows)


def _may_edit(session: Session, *, organisation: Organisation, viewer: Viewer) -> None:
    """Admins; a coordinator when every letter that shows the organisation is theirs (the
    scope rule of names, decision 0067)."""
    assert organisation.id is not None
    if not viewer.may_edit(session, organisation_id=organisation.id):
        raise Forbidden(
            "letters you do not manage show this organisation: ask an admin to set its identifiers",
            field="organisation_id",
        )


def add(
    session: Session, *, organisation: Organisation, text: str, viewer: Viewer, actor: str
) -> ExternalIdentifier:
    """Attach an identifier (the caller may see the organisation: checked by the route)."""
    if organisation.merged_into is not None:
        raise Conflict("this organisation was merged; use the survivor", field="organisation_id")
    scheme, value = parse(text)
    _may_edit(session, organisation=organisation, viewer=viewer)
    assert organisation.id is not None
    held = holders(session, scheme=scheme, value=value)
    if organisation.id in held:
        raise Conflict(
            "the organisation already has this identifier",
            field="identifier",
            error="duplicate_identifier",
        )
    others = [h for h in held if h != organisation.id]
    hidden = viewer.hidden_among(session, others)
    visible = [h for h in others if h not in hidden]
    if visible:
        raise Conflict(
            f"organisation {visible[0]} already has {scheme}:{value}; if they are one, merge them",
            field="identifier",
            error="identifier_taken",
        )
    row = ExternalIdentifier(
        organisation_id=organisation.id, scheme=scheme, value=value, added_by=actor
    )
    session.add(row)
    session.flush()
    if hidden:
        # Strong evidence that they are one: the admins decide (never the caller's business).
        candidate_queue.queue(
            session,
            organisation_id=organisation.id,
            pairs=[(h, 1.0, [f"same identifier {scheme}:{value}"]) for h in sorted(hidden)],
        )
    audit.record(
        session,
        actor=actor,
        action="organisation.add_identifier",
        target_type="organisation",
        target_id=organisation.id,
        details={"identifier_id": row.id},
    )
    return row


def remove(
    session: Session, *, organisation: Organisation, text: str, viewer: Viewer, actor: str
) -> None:
    scheme, value = parse(text)
    _may_edit(session, organisation=organisation, viewer=viewer)
    row = session.exec(
        select(ExternalIdentifier).where(
            ExternalIdentifier.organisation_id == organisation.id,
            ExternalIdentifier.scheme == scheme,
            ExternalIdentifier.value == value,
        )
    ).first()
    if row is None:
        raise NotFound(f"the organisation has no identifier {scheme}:{value}", field="identifier")
    assert organisation.id is not None
    audit.record(
        session,
        actor=actor,
        action="organisation.remove_identifier",
        target_type="organisation",
        target_id=organisation.id,
        details={"identifier_id": row.id},
    )
    session.delete(row)
    session.flush()
