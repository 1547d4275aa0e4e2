"""What the admin's review views show (the API's duplicate groups and proposals, the review
page's queue, history and letters) and the "different" judgement: the queries behind the admin
router and page, which only call these."""

from collections import defaultdict
from typing import Any

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from app import audit
from app.admin import merges as merge_service
from app.admin.schemas import (
    DuplicateGroupAdmin,
    DuplicateNameAdmin,
    DuplicateOrganisationAdmin,
    NameProposalAdmin,
)
from app.errors import Conflict
from app.letters.models import Letter
from app.organisations import service as organisation_service
from app.organisations.models import Organisation, OrganisationName
from app.resolution import judgements as judgement_service
from app.resolution import learned, proposals, scan
from app.resolution import queue as duplicate_service
from app.resolution.models import Judgement, NameProposal, Verdict
from app.signatures.models import Signature

QUEUE_SIZE = 20
HISTORY_SIZE = 20


def groups_out(session: Session, pairs: list[scan.Pair]) -> list[DuplicateGroupAdmin]:
    ids = {i for p in pairs for i in (p.a, p.b)}
    names = organisation_service.names_of(session, organisation_ids=ids)
    organisations = {
        o.id: o for o in session.exec(select(Organisation).where(col(Organisation.id).in_(ids)))
    }

    def one(organisation_id: int) -> DuplicateOrganisationAdmin:
        organisation = organisations[organisation_id]
        return DuplicateOrganisationAdmin(
            id=organisation_id,
            country=organisation.country,
            website=organisation.website,
            names=[
                DuplicateNameAdmin(
                    name=n.name, script=n.script, lang=n.lang, is_acronym=n.is_acronym
                )
                for n in names[organisation_id]
            ],
        )

    return [
        DuplicateGroupAdmin(
            organisation_ids=[p.a, p.b],
            score=p.score,
            reasons=p.reasons,
            source=p.source,
            organisations=[one(p.a), one(p.b)],
        )
        for p in pairs
    ]


def record_different(session: Session, *, a: int, b: int, actor: str) -> tuple[Judgement, bool]:
    """Record that two organisations are different; (judgement, created)."""
    for organisation_id in (a, b):
        organisation_service.get(session, organisation_id=organisation_id)
    parents = judgement_service.merged_parents(session)
    if judgement_service.root_of(a, parents) == judgement_service.root_of(b, parents):
        raise Conflict(
            f"organisations {a} and {b} are merged into one; undo the merge instead",
            field="organisation_ids",
            error="already_merged",
        )
    existing = judgement_service.get_pair(session, a=a, b=b)
    if existing is not None and existing.verdict == Verdict.different:
        return existing, False
    judgement = judgement_service.put(session, a=a, b=b, verdict=Verdict.different, actor=actor)
    # Each side's spellings become negatives of the other, for the resolver and the queue.
    learned.record_different(
        session,
        a=judgement_service.root_of(a, parents),
        b=judgement_service.root_of(b, parents),
        actor=actor,
    )
    audit.record(
        session,
        actor=actor,
        action="judgement.create",
        target_type="judgement",
        target_id=judgement.id,
        details={"organisation_ids": [a, b], "verdict": Verdict.different.value},
    )
    return judgement, True


def proposals_out(session: Session, rows: list[NameProposal]) -> list[NameProposalAdmin]:
    names = organisation_service.names_of(
        session, organisation_ids={r.organisation_id for r in rows}
    )
    return [
        NameProposalAdmin.model_validate(
            row.model_dump() | {"organisation_names": [n.name for n in names[row.organisation_id]]}
        )
        for row in rows
    ]


def page_context(
    session: Session, *, skip: set[tuple[int, int]], limit: int = QUEUE_SIZE
) -> dict[str, Any]:
    """Everything the review page shows, in a fixed number of queries."""
    pairs = duplicate_service.candidate_pairs(session, limit=limit, skip=skip)
    ids = {i for p in pairs for i in (p.a, p.b)}
    names = organisation_service.names_of(session, organisation_ids=ids)
    organisations = {
        o.id: o for o in session.exec(select(Organisation).where(col(Organisation.id).in_(ids)))
    }
    signed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = session.exec(
        select(Signature, Letter)
        .join(Letter, col(Letter.id) == Signature.letter_id)
        .where(col(Signature.organisation_id).in_(ids))
        .order_by(col(Letter.slug), col(Signature.position))
    )
    for signature, letter in rows:
        assert signature.organisation_id is not None
        signed[signature.organisation_id].append(
            {
                "slug": letter.slug,
                "title": letter.title,
                "position": signature.position,
                "anonymous": signature.anonymous,
                "withdrawn": signature.withdrawn_at is not None,
            }
        )

    def card(organisation_id: int) -> dict[str, Any]:
        organisation = organisations[organisation_id]
        live = [s for s in signed[organisation_id] if not s["withdrawn"]]
        return {
            "id": organisation_id,
            "kind": organisation.kind,
            "country": organisation.country,
            "website": organisation.website,
            "names": names[organisation_id],
            "letters": signed[organisation_id],
            "named": sum(not s["anonymous"] for s in live),
            "anonymous": sum(s["anonymous"] for s in live),
        }

    queue = [
        {
            "left": card(p.a),
            "right": card(p.b),
            "score": p.score,
            "reasons": p.reasons,
            "source": p.source,
        }
        for p in pairs
    ]
    history = merge_service.history(session, limit=HISTORY_SIZE, cursor=None).items
    history_names = organisation_service.names_of(
        session, organisation_ids={i for r in history for i in (r.survivor_id, *r.merged_ids)}
    )
    # A merged organisation's names moved to the survivor: name it as it was before the merge.
    moved: dict[int, int] = {}
    for record in history:
        for image in record.snapshot.get("before", {}).get("names", []):
            moved.setdefault(image["id"], image["organisation_id"])
    if moved:
        for row in session.exec(
            select(OrganisationName).where(col(OrganisationName.id).in_(list(moved)))
        ):
            assert row.id is not None
            owner = moved[row.id]
            if not history_names.get(owner):
                history_names[owner] = [row]
    letter_rows = session.exec(
        select(
            Letter.slug,
            Letter.title,
            func.count(case((col(Signature.anonymous).is_(False), 1))),
            func.count(case((col(Signature.anonymous).is_(True), 1))),
        )
        .outerjoin(
            Signature,
            (col(Signature.letter_id) == Letter.id) & col(Signature.withdrawn_at).is_(None),
        )
        .group_by(col(Letter.id), col(Letter.slug), col(Letter.title))
        .order_by(col(Letter.slug))
        .limit(100)
    ).all()
    return {
        "queue": queue,
        "proposals": proposals_out(session, proposals.pending(session, limit=limit)),
        "skip": sorted(skip),
        "history": history,
        "history_names": {i: (n[0].name if n else f"#{i}") for i, n in history_names.items()},
        "letters": [
            {"slug": s, "title": t, "named": n, "anonymous": a, "total": n + a}
            for s, t, n, a in letter_rows
        ],
    }
