"""A letter's signatories as CSV (the import columns) or JSON, safe to open in a spreadsheet.

Public callers get named signatories only, numbered 1, 2, 3, … among themselves, with no
organisation id or details beyond the name the letter prints (decision 0085); the letter's coordinators get every live signature with its anonymous flag, in
the columns the import reads, so an export imports back as the same list.
"""

import csv
import io
from typing import Any

from sqlmodel import Session, col, select

from app.imports.parsing import (
    FORMULA_TRIGGERS,
    IMPORT_COLUMNS,
    OTHER_NAMES_SEPARATOR,
    SIGNATURE_COLUMNS,
)
from app.letters.models import Letter
from app.organisations.models import Organisation, OrganisationName
from app.resolution.lookalike import strip_invisible
from app.resolution.names import NameError_, split_signatory_line
from app.resolution.normalise import normalise
from app.signatures import counting
from app.signatures import service as signature_service
from app.signatures.models import Signature


def neutralise(cell: str) -> str:
    """Prefix an apostrophe to a cell a spreadsheet would run as a formula (=, +, -, @, tab,
    carriage return first); spreadsheets show the cell as text and hide the apostrophe."""
    # A zero-width space, BOM or bidi mark before "=" shows nothing, and a spreadsheet may
    # skip it: the guard looks past them.
    return "'" + cell if strip_invisible(cell).startswith(FORMULA_TRIGGERS) else cell


def _other_names(display_name: str, names: list[OrganisationName]) -> list[str]:
    """The organisation's names the printed line does not already give."""
    try:
        printed = {normalise(p.name) for p in split_signatory_line(display_name)}
    except NameError_:
        printed = set()
    printed.add(normalise(display_name))
    # A name holding the separator could not be read back; it stays in the registry.
    return [
        n.name
        for n in names
        if normalise(n.name) not in printed and OTHER_NAMES_SEPARATOR not in n.name
    ]


def _registry_rows(
    session: Session, *, letter_id: int
) -> tuple[dict[int, Organisation], dict[int, list[OrganisationName]]]:
    """The organisations signing a letter and their names, by join (no id lists: SQLite caps
    the number of bound parameters)."""
    signing = select(Signature.organisation_id).where(
        Signature.letter_id == letter_id, col(Signature.withdrawn_at).is_(None)
    )
    organisations = {
        o.id: o
        for o in session.exec(select(Organisation).where(col(Organisation.id).in_(signing)))
        if o.id is not None
    }
    names: dict[int, list[OrganisationName]] = {}
    for name in session.exec(
        select(OrganisationName)
        .where(col(OrganisationName.organisation_id).in_(signing))
        .order_by(col(OrganisationName.is_primary).desc(), col(OrganisationName.id))
    ):
        names.setdefault(name.organisation_id, []).append(name)
    return organisations, names


def signatories(session: Session, *, letter: Letter, full: bool) -> list[dict[str, Any]]:
    """Live signatures in letter order; without `full`, named ones and public fields only."""
    assert letter.id is not None
    rows = signature_service.live_signatures(session, letter_id=letter.id, shown=not full)
    organisations, names = _registry_rows(session, letter_id=letter.id)
    result = []
    for rank, signature in enumerate(rows, start=1):
        organisation = organisations.get(signature.organisation_id or 0)
        own_names = names.get(signature.organisation_id or 0, [])
        name = signature.display_name or (own_names[0].name if own_names else "")
        primary = next((n for n in own_names if n.is_primary), None)
        entry: dict[str, Any] = {
            # Public: the rank among the public entries, no gap where a hidden signature sits
            # (decision 0085); the coordinator's export keeps the real position.
            "position": signature.position if full else rank,
            "name": name if organisation else "",
            "kind": organisation.kind if organisation else "",
            "lang": (primary.lang if primary else None) or "",
        }
        if full:
            entry |= {
                "other_names": _other_names(name, own_names) if organisation else [],
                "country": (organisation.country if organisation else None) or "",
                "website": (organisation.website if organisation else None) or "",
                "anonymous": signature.anonymous,
                "organisation_id": signature.organisation_id,
                "signed_at": signature.signed_at.isoformat(),
                "source": signature.source,
            } | {c: getattr(signature, c) for c in SIGNATURE_COLUMNS}
        result.append(entry)
    return result


def _text(value: Any) -> str:
    """A signature's own value as its SignatureCreate field reads it back; empty for None (and
    in public exports, which do not carry these columns)."""
    return "" if value is None else str(value)


def to_csv(rows: list[dict[str, Any]], *, bom: bool) -> str:
    """CSV with the import columns; every cell neutralised against formula injection."""
    buffer = io.StringIO()
    if bom:
        buffer.write("\ufeff")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(IMPORT_COLUMNS)
    for row in rows:
        cells = {
            "position": str(row["position"]),
            "name": row["name"],
            "other_names": OTHER_NAMES_SEPARATOR.join(
                neutralise(n) for n in row.get("other_names", [])
            ),
            "kind": row["kind"],
            "lang": row["lang"],
            "country": row.get("country", ""),
            "website": row.get("website", ""),
            "anonymous": "true" if row.get("anonymous") else "false",
        } | {c: _text(row.get(c)) for c in SIGNATURE_COLUMNS}
        writer.writerow([neutralise(cells[c]) for c in IMPORT_COLUMNS])
    return buffer.getvalue()


def to_json(
    session: Session, *, letter: Letter, rows: list[dict[str, Any]], full: bool
) -> dict[str, Any]:
    assert letter.id is not None
    named, anonymous = counting.counts(session, letter_id=letter.id)
    return {
        "letter": letter.slug,
        "full": full,
        "named_count": named,
        "anonymous_count": anonymous,
        "signatories": rows,
    }
