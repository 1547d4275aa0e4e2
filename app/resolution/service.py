"""Organisation identity: which organisation submitted names are, or a new one.

The one entry point for signing, `GET /organisations/match` and imports. The caller's
`Viewer` decides which organisations resolution may consider at all: organisations hidden
from the caller are left out before the exact-name shortcut and before scoring
(registry.view), so that every answer, and the work behind it, is what it would be if they
did not exist. A new organisation is compared with them after the response (checks.py).

Public API (what other packages call):
- `parse_names(name=..., other_names=...) -> [ParsedName]`: every name of a submitted
  organisation (the printed line split, then the extra names).
- `resolve(session, names=..., website=..., country=..., viewer=..., limit=...) ->
  Resolution`: existing (auto-link), needs_review or new, with candidates and reasons.
- `identify(session, name=..., other_names=..., lang=..., kind=..., country=...,
  website=..., viewer=..., batch=...) -> Resolution`: resolve, and create the organisation
  when it is new (under the registry lock, deciding again if others created meanwhile;
  queueing review pairs and the check against hidden organisations). Several visible
  organisations bearing the submitted name that fit it equally well raise `Ambiguous` (409)
  instead.
- `warm(session)` at start-up; `reset_cache()` after wiping the database.
- Elsewhere in the package: `registry.touch`/`touch_ids` (names, merges, standing changes),
  `registry.standings`/`changes_standing`, `registry.Batch` (bulk creation),
  `visibility.Viewer` and the signature predicates (`shows`, `shows_publicly`),
  `proposals.add_name`/`pending`/`decide`, `queue.candidate_pairs`/`refresh`/`rescan`,
  `learned.record_different`, `judgements.*`,
  `checks.drain`.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache

from sqlmodel import Session, col, select

from app.errors import Conflict
from app.resolution import candidates as candidate_queue
from app.resolution import checks, glosses, learned, registry
from app.resolution import queue as duplicate_queue
from app.resolution.decide import LINK, REVIEW, ambiguous_namesakes, decide
from app.resolution.index import Index
from app.resolution.models import Judgement
from app.resolution.names import ParsedName, split_signatory_line
from app.resolution.normalise import NameKey, name_key, normalise
from app.resolution.registry import Batch, View
from app.resolution.scoring import OrgScore
from app.resolution.visibility import Viewer

_MAX_NAME = 1000


@dataclass
class Candidate:
    organisation_id: int
    name: str
    matched_name: str
    score: float
    decision: str  # "same" | "review"
    reasons: list[str] = field(default_factory=list)


@dataclass
class Resolution:
    status: str  # "existing" | "new" | "needs_review"
    organisation_id: int | None = None
    score: float = 0.0
    matched_name: str | None = None
    candidates: list[Candidate] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    # Organisations (the caller may see) bearing one of the submitted names exactly.
    namesakes: list[int] = field(default_factory=list)


class Ambiguous(Conflict):
    """Several organisations the caller may see bear the submitted name and fit it equally
    well: a new one would be one more of that name, and picking one a guess."""

    error = "ambiguous_organisation"


def reset_cache() -> None:
    """Forget the in-process registry (tests that wipe the database call this)."""
    registry.reset_cache()
    learned.reset_cache()


def warm(session: Session) -> int:
    """At start-up: build the registry now rather than on the first request (its size)."""
    return registry.warm(session)


def start_background() -> None:
    """The resolver's background work (app/main.py starts it with the server): identity checks
    and the duplicate queue's catch-up, resuming what a stopped process left queued."""
    checks.start()
    duplicate_queue.start()


def parse_names(*, name: str, other_names: Sequence[str] = ()) -> list[ParsedName]:
    """Every name of a submitted organisation: the printed line split, then the extra names."""
    parsed = split_signatory_line(name)
    seen = {normalise(p.name) for p in parsed}
    for other in other_names:
        for extra in split_signatory_line(other):
            key = normalise(extra.name)
            if key and key not in seen:
                seen.add(key)
                parsed.append(ParsedName(extra.name, extra.script, extra.is_acronym, False))
    return parsed


def _judgements(session: Session, ids: list[int]) -> dict[tuple[int, int], str]:
    if len(ids) < 2:
        return {}
    rows = session.exec(
        select(Judgement).where(
            col(Judgement.organisation_a).in_(ids), col(Judgement.organisation_b).in_(ids)
        )
    ).all()
    return {(j.organisation_a, j.organisation_b): j.verdict for j in rows}


def query_keys(names: list[str]) -> list[NameKey]:
    keys = []
    seen = set()
    for name in names:
        key = name_key(name[:_MAX_NAME])
        if key.norm and key.norm not in seen:
            seen.add(key.norm)
            keys.append(key)
    return keys


def resolve(
    session: Session,
    *,
    names: list[str],
    viewer: Viewer | None,
    website: str | None = None,
    country: str | None = None,
    limit: int = 5,
) -> Resolution:
    """existing (auto-link: score ≥ LINK, a clear margin, no `different` judgement in the way),
    needs_review (a plausible candidate, score ≥ REVIEW) or new; reasons on every candidate.
    Only organisations `viewer` may see take part (None: all, for admin tools)."""
    keys = query_keys(names)
    if not keys:
        return Resolution(status="new", reasons=["no usable name"])
    seen = registry.view(session, viewer=viewer)

    # An admin's `different` verdict refused some of these spellings for some organisations:
    # one refusing them all is no candidate at all, one refusing some is never linked without
    # review (learned.py). No score overrides it. Read only once some organisation the
    # caller may see is a candidate: a name that meets none (most new organisations) has
    # nothing to refuse, and what the caller may see is all this depends on.
    @cache
    def refusals() -> learned.Refusals:
        return learned.refusals(session, keys=keys)

    hits = {i: held for i, held in seen.exact(keys).items() if not refusals().excluded(i)}
    if not any(refusals().partial(i) for i in hits):
        shortcut = _exact_link(seen, hits, keys, website=website, country=country)
        if shortcut is not None:
            return shortcut
    scored = {
        i: result
        for i, result in seen.score(keys, website=website, country=country, minimum=REVIEW).items()
        if not refusals().excluded(i)
    }
    ranked = sorted(scored.items(), key=lambda pair: (-pair[1].score, pair[0]))
    plausible = [(oid, s) for oid, s in ranked if s.score >= REVIEW]
    reasons: list[str] = []
    if plausible:
        judgements = _judgements(session, [oid for oid, _ in plausible[:20]])
        reasons = decide([(oid, r.score) for oid, r in plausible], judgements)
    if reasons or not plausible:
        # Nothing links: translations found through dictionaries are offered to a person
        # (never linked, and never in the way of a link: glosses.py).
        translated = glosses.candidates(seen, keys)
        known = {oid for oid, _ in plausible}
        extra = [
            (oid, s)
            for oid, s in translated.items()
            if oid not in known and not refusals().excluded(oid)
        ]
        if extra:
            plausible = sorted([*plausible, *extra], key=lambda pair: (-pair[1].score, pair[0]))
            reasons = reasons or [
                "only a translation of the name fits (dictionary glosses): a person confirms it"
            ]
    if not plausible:
        return Resolution(status="new", score=ranked[0][1].score if ranked else 0.0)
    best_id, best = plausible[0]
    if not reasons and refusals().partial(best_id):
        reasons = ["an admin judged one of these names to be a different organisation"]
    status = "needs_review" if reasons else "existing"
    listed = []
    for oid, result in plausible[: max(1, limit)]:
        decision = "same" if status == "existing" and oid == best_id else "review"
        listed.append(_candidate(oid, result, decision))
    if status == "existing":
        return Resolution(
            "existing", best_id, best.score, best.matched_name, listed, list(best.reasons)
        )
    return Resolution("needs_review", None, best.score, None, listed, reasons, sorted(hits))


def _candidate(organisation_id: int, result: OrgScore, decision: str) -> Candidate:
    return Candidate(
        organisation_id=organisation_id,
        name=result.matched_name,
        matched_name=result.matched_name,
        score=result.score,
        decision=decision,
        reasons=list(result.reasons),
    )


def _exact_link(
    seen: View,
    hits: dict[int, Index],
    keys: list[NameKey],
    *,
    website: str | None,
    country: str | None,
) -> Resolution | None:
    """API.md rule 2: a name equal, after normalisation, to a name of exactly one live
    organisation (`hits`) links to it without fuzzy scoring of the rest — unless that
    organisation's own score says otherwise (a different country or website pulls it under
    the link line)."""
    if len(hits) != 1:
        return None
    ((organisation_id, index),) = hits.items()
    result = seen.score_one(keys, organisation_id, index, website=website, country=country)
    if result is None or result.score < LINK:
        return None
    candidate = _candidate(organisation_id, result, "same")
    return Resolution(
        "existing",
        organisation_id,
        result.score,
        result.matched_name,
        [candidate],
        list(result.reasons),
    )


def _refuse_ambiguity(resolution: Resolution, *, name: str) -> None:
    """Several namesakes that each reach the link line: never a guess, never one more."""
    if resolution.status != "needs_review":
        return
    ambiguous = ambiguous_namesakes(
        [(c.organisation_id, c.score) for c in resolution.candidates], resolution.namesakes
    )
    if not ambiguous:
        return
    linkable = [c for c in resolution.candidates if c.organisation_id in ambiguous]
    listed = ", ".join(f"{c.organisation_id} ({c.name})" for c in linkable)
    raise Ambiguous(
        f"{len(linkable)} organisations are named '{name}' and fit it equally well: {listed}; "
        "sign with the organisation_id of the right one (an admin can merge them if they are "
        "one)",
        field="organisation.name",
        extra={
            "candidates": [
                {
                    "organisation_id": c.organisation_id,
                    "name": c.name,
                    "score": round(c.score, 2),
                    "reasons": c.reasons,
                }
                for c in linkable
            ]
        },
    )


def identify(
    session: Session,
    *,
    name: str,
    viewer: Viewer,
    other_names: Sequence[str] = (),
    lang: str | None = None,
    kind: str = "organisation",
    country: str | None = None,
    website: str | None = None,
    batch: Batch | None = None,
) -> Resolution:
    """The organisation these names are: resolved, or created (its id in the resolution).

    With `batch` (a bulk import), the new organisation is written when the batch is flushed,
    and the owner queues `batch.created` for the hidden check when it is done."""
    names = parse_names(name=name, other_names=other_names)
    plain = [n.name for n in names]

    def decided() -> Resolution:
        resolution = resolve(session, names=plain, website=website, country=country, viewer=viewer)
        if resolution.status != "existing":
            _refuse_ambiguity(resolution, name=name)
        return resolution

    # One organisation per name: creating takes the advisory locks of the names' buckets,
    # which a concurrent creator of the same name holds until it has committed. If the
    # registry moved since this transaction resolved, that creator may just have made this
    # very organisation: decide again (decisions 0066, 0090). A name no organisation the
    # caller may see bears as it is (a first signature, the usual new organisation) is
    # claimed before it is decided, and so decided once: claimed after, it would be decided
    # again whenever anyone created an organisation meanwhile, which under load is nearly
    # every time. Either way the decision is the one taken after the claim. (Whether a name
    # is borne is asked of the public index as this process holds it: only public names
    # choose the order, which changes no answer.)
    claimed = not registry.bears_exactly(query_keys(plain))
    if claimed:
        registry.claim(session, names=plain, bulk=batch is not None)
    resolution = decided()
    if (
        not claimed
        and resolution.status != "existing"
        and registry.claim(session, names=plain, bulk=batch is not None)
    ):
        resolution = decided()
    if resolution.status == "existing":
        return resolution
    organisation_id = registry.create(
        session, names=names, lang=lang, kind=kind, country=country, website=website, batch=batch
    )
    resolution.organisation_id = organisation_id
    review = [
        (c.organisation_id, c.score, c.reasons)
        for c in resolution.candidates
        if c.decision == "review"
    ]
    if review:
        if batch is not None:
            batch.flush(session)  # the review queue refers to the new organisation
        candidate_queue.queue(session, organisation_id=organisation_id, pairs=review)
    if batch is None and not viewer.is_admin:
        checks.queue(session, organisation_ids=[organisation_id])
    return resolution


def finish(session: Session, *, batch: Batch, viewer: Viewer) -> None:
    """Write what a bulk import's batch still holds, and queue its new organisations for the
    check against the organisations hidden from its caller."""
    batch.flush(session)
    if not viewer.is_admin:
        checks.queue(session, organisation_ids=batch.created)
