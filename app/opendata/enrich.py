"""Wikidata enrichment (issue 12.5): the labels and aliases of an organisation's Wikidata
item, in every language, added as names with their source.

Everything is fetched before anything is written: offline (or when Wikidata fails) the
command says so and changes nothing. A label is skipped, never forced, when it could make
resolution link the wrong organisation: when another organisation already bears it, when it
is a one- or two-letter acronym, or when it is not a valid name. Names added here are like any
name an admin adds (the resolver knows them at once); `name_source` says where each came from.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx
from sqlmodel import Session, col, select

from app.auth.models import Role
from app.auth.service import Principal
from app.opendata.models import ExternalIdentifier, NameSource
from app.organisations.models import Organisation, OrganisationName
from app.fields import check_lang
from app.resolution import proposals
from app.resolution.names import NameError_, validate_name
from app.resolution.normalise import is_acronym, normalise
from app.resolution.visibility import Viewer

BATCH = 50  # wbgetentities takes at most 50 ids per request
USER_AGENT = "Undersigned/1.0 (open-letter registry; enrichment)"


class Offline(Exception):
    """The API could not be reached, or answered with something else than entities."""


@dataclass
class Report:
    organisations: int = 0
    added: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def targets(session: Session, *, organisation_id: int | None = None) -> list[tuple[int, str]]:
    """(organisation id, QID) of the live organisations with a Wikidata identifier."""
    query = (
        select(ExternalIdentifier.organisation_id, ExternalIdentifier.value)
        .join(Organisation, col(Organisation.id) == ExternalIdentifier.organisation_id)
        .where(ExternalIdentifier.scheme == "wikidata", col(Organisation.merged_into).is_(None))
        .order_by(col(ExternalIdentifier.organisation_id), col(ExternalIdentifier.value))
    )
    if organisation_id is not None:
        query = query.where(ExternalIdentifier.organisation_id == organisation_id)
    return [(oid, qid) for oid, qid in session.exec(query)]


def fetch(
    qids: Iterable[str],
    *,
    api_url: str,
    timeout: float,
    transport: httpx.BaseTransport | None = None,
) -> dict[str, list[tuple[str, str]]]:
    """QID → [(Wikidata language code, text)] of its labels then aliases."""
    wanted = sorted(set(qids))
    found: dict[str, list[tuple[str, str]]] = {}
    host = urlsplit(api_url).hostname or api_url
    with httpx.Client(
        timeout=timeout, headers={"User-Agent": USER_AGENT}, transport=transport
    ) as client:
        for start in range(0, len(wanted), BATCH):
            params = {
                "action": "wbgetentities",
                "ids": "|".join(wanted[start : start + BATCH]),
                "props": "labels|aliases",
                "format": "json",
            }
            try:
                response = client.get(api_url, params=params)
            except httpx.TransportError as exc:
                raise Offline(f"cannot reach {host} ({type(exc).__name__})") from None
            if response.status_code != 200:
                raise Offline(f"{host} answered HTTP {response.status_code}")
            try:
                entities = response.json()["entities"]
            except (ValueError, KeyError, TypeError):
                raise Offline(f"{host} did not answer with Wikidata entities") from None
            for qid, entity in entities.items():
                if not isinstance(entity, dict) or "missing" in entity:
                    continue
                texts: list[tuple[str, str]] = []
                for label in (entity.get("labels") or {}).values():
                    texts.append((label.get("language", ""), label.get("value", "")))
                for aliases in (entity.get("aliases") or {}).values():
                    texts += [(a.get("language", ""), a.get("value", "")) for a in aliases]
                found[qid] = texts
    return found


def _lang(code: str) -> str | None:
    """A Wikidata language code as a BCP 47 tag the app accepts (zh-hant → zh-Hant), or its
    base language, or None ('mul', private codes)."""
    parts = code.split("-")
    fixed = [parts[0].lower()] + [
        p.title() if len(p) == 4 else p.upper() if len(p) == 2 else p.lower() for p in parts[1:]
    ]
    for candidate in ("-".join(fixed), fixed[0]):
        try:
            return check_lang(candidate)
        except ValueError:
            continue
    return None


def _taken(session: Session, *, key: str, organisation_id: int) -> bool:
    row = session.exec(
        select(OrganisationName.organisation_id)
        .join(Organisation, col(Organisation.id) == OrganisationName.organisation_id)
        .where(
            OrganisationName.normalised == key,
            OrganisationName.organisation_id != organisation_id,
            col(Organisation.merged_into).is_(None),
        )
        .limit(1)
    ).first()
    return row is not None


def apply(
    session: Session,
    *,
    pairs: list[tuple[int, str]],
    fetched: dict[str, list[tuple[str, str]]],
    actor: str,
) -> Report:
    """Add the fetched labels as names (one transaction: the caller commits)."""
    admin = Viewer(Principal(role=Role.admin, token_id=None))
    report = Report()
    for organisation_id, qid in pairs:
        organisation = session.get(Organisation, organisation_id)
        if organisation is None or qid not in fetched:
            report.skip("item missing")
            continue
        report.organisations += 1
        have = {
            n.normalised
            for n in session.exec(
                select(OrganisationName).where(OrganisationName.organisation_id == organisation_id)
            )
        }
        for code, raw in fetched[qid]:
            try:
                name = validate_name(re.sub(r"\s+", " ", raw).strip())
            except NameError_:
                report.skip("not a valid name")
                continue
            key = normalise(name)
            if not key or key in have:
                continue  # already known: not a skip worth reporting
            acronym = is_acronym(name)
            if acronym and len(key.replace(" ", "")) <= 2:
                report.skip("acronym too short")
                continue
            if _taken(session, key=key, organisation_id=organisation_id):
                report.skip("another organisation bears it")
                continue
            added = proposals.add_name(
                session,
                organisation=organisation,
                name=name,
                lang=_lang(code),
                acronym=None,
                viewer=admin,
                actor=actor,
            )
            session.flush()
            assert added.name is not None and added.name.id is not None
            session.add(NameSource(organisation_name_id=added.name.id, source=f"wikidata:{qid}"))
            have.add(key)
            report.added += 1
    session.flush()
    return report
