"""Reconciliation Service API 0.2 (W3C Entity Reconciliation CG) over the public registry.

Candidates come from the resolver (`resolution.service.resolve`) with the public viewer:
organisations the public may not see are never scored, never a rival and never in a word's
rarity (decision 0065), so every answer is what it would be if they did not exist. `match`
is true only where resolution would link (its `existing` decision), or where an external
identifier given as a property names exactly one public organisation.
"""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.errors import AppError, BadRequest, PayloadTooLarge
from app.fields import check_country, check_website
from app.opendata import identifiers
from app.opendata.public import PUBLIC, display_name
from app.opendata.publicid import public_org_id
from app.organisations import service as organisations
from app.organisations.models import Organisation, OrganisationName
from app.resolution import service as identity
from app.resolution.names import MAX_NAME_LENGTH
from app.resolution.normalise import normalise

BATCH_SIZE = 50
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
SUGGEST_LIMIT = 10
PREVIEW_WIDTH, PREVIEW_HEIGHT = 400, 200
TYPES = {"organisation": "Organisation", "individual": "Individual signatory"}
DEFAULT_TYPE = "organisation"
PROPERTIES: dict[str, str] = {
    "country": "Country (ISO 3166-1 alpha-2)",
    "website": "Website",
} | {name: f"{scheme.label} identifier" for name, scheme in identifiers.SCHEMES.items()}
_QUERY_KEYS = {"query", "type", "limit", "properties", "type_strict"}


class UnknownType(AppError):
    status_code = 400
    error = "unknown_type"


class UnknownProperty(AppError):
    status_code = 400
    error = "unknown_property"


def manifest(*, base_url: str) -> dict[str, Any]:
    api = f"{base_url}/api/v1/reconcile"
    return {
        "versions": ["0.2"],
        "name": "Undersigned organisations",
        "identifierSpace": f"{base_url}/organisations/",
        "schemaSpace": f"{api}/schema",
        "documentation": f"{base_url}/docs",
        "view": {"url": f"{base_url}/organisations/{{{{id}}}}"},
        "preview": {
            "url": f"{api}/preview?id={{{{id}}}}",
            "width": PREVIEW_WIDTH,
            "height": PREVIEW_HEIGHT,
        },
        "suggest": {
            "entity": {"service_url": base_url, "service_path": "/api/v1/reconcile/suggest"},
            "property": {
                "service_url": base_url,
                "service_path": "/api/v1/reconcile/suggest/property",
            },
            "type": {"service_url": base_url, "service_path": "/api/v1/reconcile/suggest/type"},
        },
        "defaultTypes": [{"id": DEFAULT_TYPE, "name": TYPES[DEFAULT_TYPE]}],
        "batchSize": BATCH_SIZE,
    }


@dataclass
class Query:
    key: str
    text: str | None
    types: list[str]
    limit: int
    country: str | None = None
    website: str | None = None
    ids: list[tuple[str, str]] = field(default_factory=list)


def _values(raw: Any) -> list[Any]:
    values = raw if isinstance(raw, list) else [raw]
    return [v.get("id") if isinstance(v, dict) else v for v in values]


def _one_string(raw: Any, *, where: str) -> str:
    values = [v for v in _values(raw) if v not in (None, "")]
    if len(values) != 1 or not isinstance(values[0], str):
        raise BadRequest("expected one string value", field=where)
    return values[0]


def parse_batch(raw: str | None) -> list[Query]:
    """The `queries` parameter → validated queries, or a 4xx naming the field."""
    if raw is None or not raw.strip():
        raise BadRequest("queries is required (a JSON object of queries)", field="queries")
    try:
        batch = json.loads(raw)
    except ValueError:
        raise BadRequest("queries is not valid JSON", field="queries") from None
    if not isinstance(batch, dict) or not batch:
        raise BadRequest("queries must be a non-empty JSON object", field="queries")
    if len(batch) > BATCH_SIZE:
        raise PayloadTooLarge(
            f"at most {BATCH_SIZE} queries per batch (the manifest's batchSize)", field="queries"
        )
    return [_parse_query(str(key)[:60], value) for key, value in batch.items()]


def _parse_query(key: str, raw: Any) -> Query:
    where = f"queries.{key}"
    if not isinstance(raw, dict):
        raise BadRequest("a query must be a JSON object", field=where)
    unknown = sorted(set(raw) - _QUERY_KEYS)
    if unknown:
        raise BadRequest(f"unknown member '{unknown[0][:40]}'", field=f"{where}.{unknown[0][:40]}")
    text = raw.get("query")
    if text is not None and (not isinstance(text, str) or len(text) > MAX_NAME_LENGTH):
        raise BadRequest(
            f"query must be a string of at most {MAX_NAME_LENGTH} characters",
            field=f"{where}.query",
        )
    types_raw = raw.get("type", DEFAULT_TYPE)
    types = [types_raw] if isinstance(types_raw, str) else types_raw
    if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
        raise BadRequest("type must be a string or a list of strings", field=f"{where}.type")
    for name in types:
        if name not in TYPES:
            raise UnknownType(
                f"unknown type '{name[:40]}'; known: {', '.join(TYPES)}", field=f"{where}.type"
            )
    if raw.get("type_strict") not in (None, "any", "should", "all"):
        raise BadRequest("type_strict must be any, should or all", field=f"{where}.type_strict")
    limit = raw.get("limit", DEFAULT_LIMIT)
    if isinstance(limit, bool) or not isinstance(limit, int | float) or not 1 <= limit <= MAX_LIMIT:
        raise BadRequest(f"limit must be a number from 1 to {MAX_LIMIT}", field=f"{where}.limit")
    query = Query(
        key=key,
        text=text.strip() if text else None,
        types=types or [DEFAULT_TYPE],
        limit=int(limit),
    )
    properties = raw.get("properties", [])
    if not isinstance(properties, list):
        raise BadRequest("properties must be a list", field=f"{where}.properties")
    for index, prop in enumerate(properties):
        at = f"{where}.properties[{index}]"
        if not isinstance(prop, dict) or not isinstance(prop.get("pid"), str) or "v" not in prop:
            raise BadRequest("a property is an object with pid and v", field=at)
        pid = prop["pid"]
        if pid not in PROPERTIES:
            raise UnknownProperty(
                f"unknown property '{pid[:40]}'; known: {', '.join(PROPERTIES)}", field=f"{at}.pid"
            )
        if pid == "country":
            try:
                query.country = check_country(_one_string(prop["v"], where=f"{at}.v").upper())
            except ValueError as exc:
                raise BadRequest(str(exc), field=f"{at}.v") from None
        elif pid == "website":
            try:
                query.website = check_website(_one_string(prop["v"], where=f"{at}.v"))
            except ValueError as exc:
                raise BadRequest(str(exc), field=f"{at}.v") from None
        else:
            for value in _values(prop["v"]):
                if not isinstance(value, str | int):
                    raise BadRequest("an identifier is a string", field=f"{at}.v")
                value = str(value).removeprefix(f"{pid}:")
                query.ids.append(
                    (pid, identifiers.validate(scheme=pid, value=value, field=f"{at}.v"))
                )
    if not query.text and not query.ids and not (query.country or query.website):
        raise BadRequest("a query needs query text or properties", field=f"{where}.query")
    if not query.text and not query.ids:
        raise BadRequest(
            "country and website refine a name; give query text too", field=f"{where}.query"
        )
    return query


def _public_ids(session: Session, ids: list[int]) -> list[int]:
    """Of `ids`, the live organisations the public may see (survivors of merged ones)."""
    live = []
    for internal in ids:
        survivor = organisations.get_live(session, organisation_id=internal)
        assert survivor.id is not None
        live.append(survivor.id)
    hidden = PUBLIC.hidden_among(session, live)
    return list(dict.fromkeys(i for i in live if i not in hidden))


def _entity(org: Organisation, names: list[OrganisationName]) -> dict[str, Any]:
    description = ", ".join(n.name for n in names if n.name != display_name(names))[:300]
    entity: dict[str, Any] = {
        "id": public_org_id(org),
        "name": display_name(names),
        "type": [{"id": org.kind, "name": TYPES.get(org.kind, org.kind)}],
    }
    if description:
        entity["description"] = description
    return entity


def run(session: Session, *, queries: list[Query]) -> dict[str, Any]:
    return {q.key: {"result": _run_one(session, q)} for q in queries}


def _run_one(session: Session, query: Query) -> list[dict[str, Any]]:
    # internal id → (score 0..100, match, features)
    found: dict[int, tuple[float, bool, list[dict[str, Any]]]] = {}
    if query.ids:
        holders: list[int] = []
        for scheme, value in query.ids:
            holders += identifiers.holders(session, scheme=scheme, value=value)
        visible = _public_ids(session, holders)
        for internal in visible:
            found[internal] = (100.0, len(visible) == 1, [{"id": "identifier", "value": True}])
    if query.text:
        names = [n.name for n in identity.parse_names(name=query.text)]
        resolution = identity.resolve(
            session,
            names=names,
            viewer=PUBLIC,
            website=query.website,
            country=query.country,
            limit=query.limit,
        )
        for candidate in resolution.candidates[: query.limit]:
            if candidate.organisation_id in found:
                continue
            features: list[dict[str, Any]] = [
                {"id": "name", "value": round(candidate.score, 4)},
                {
                    "id": "exact_name",
                    "value": normalise(candidate.matched_name) in {normalise(n) for n in names},
                },
            ]
            found[candidate.organisation_id] = (
                round(candidate.score, 2),  # the resolver's 0..100, like an identifier's 100
                candidate.decision == "same" and not query.ids,
                features,
            )
    if not found:
        return []
    orgs = {
        o.id: o
        for o in session.exec(select(Organisation).where(col(Organisation.id).in_(list(found))))
    }
    org_names = organisations.names_of(session, organisation_ids=list(found))
    results = []
    for internal, (score, match, features) in found.items():
        org = orgs.get(internal)
        if org is None or org.kind not in query.types:
            continue
        if query.country and org.country:
            features = [*features, {"id": "country", "value": org.country == query.country}]
        result = _entity(org, org_names[internal]) | {
            "score": score,
            "match": match,
            "features": features,
        }
        results.append(result)
    results.sort(key=lambda r: (-r["score"], r["name"], r["id"]))
    return results[: query.limit]


def _escape_like(text: str) -> str:
    return re.sub(r"([\\%_])", r"\\\1", text)


def suggest(session: Session, *, prefix: str, limit: int = SUGGEST_LIMIT) -> list[dict[str, Any]]:
    """Public organisations with a name starting with `prefix` (after normalisation): the
    shortest names first. Hidden ones are dropped before ranking, and the rows read do not
    depend on them beyond the bounded over-read."""
    key = normalise(prefix[:MAX_NAME_LENGTH])
    if not key:
        return []
    rows = session.exec(
        select(OrganisationName.organisation_id, func.min(func.length(OrganisationName.normalised)))
        .join(Organisation, col(Organisation.id) == OrganisationName.organisation_id)
        .where(
            col(OrganisationName.normalised).like(_escape_like(key) + "%", escape="\\"),
            col(Organisation.merged_into).is_(None),
        )
        .group_by(col(OrganisationName.organisation_id))
    ).all()
    hidden = PUBLIC.hidden_among(session, [r[0] for r in rows])
    ranked = sorted((length, oid) for oid, length in rows if oid not in hidden)[:limit]
    ids = [oid for _, oid in ranked]
    if not ids:
        return []
    orgs = {
        o.id: o for o in session.exec(select(Organisation).where(col(Organisation.id).in_(ids)))
    }
    names = organisations.names_of(session, organisation_ids=ids)
    out = []
    for oid in ids:
        entity = _entity(orgs[oid], names[oid])
        entity["notable"] = entity.pop("type")
        out.append(entity)
    return out


def suggest_types(prefix: str) -> list[dict[str, Any]]:
    key = prefix.strip().lower()
    return [
        {"id": t, "name": n}
        for t, n in TYPES.items()
        if t.startswith(key) or n.lower().startswith(key)
    ]


def suggest_properties(prefix: str) -> list[dict[str, Any]]:
    key = prefix.strip().lower()
    return [
        {"id": p, "name": n}
        for p, n in PROPERTIES.items()
        if p.startswith(key) or n.lower().startswith(key)
    ]
