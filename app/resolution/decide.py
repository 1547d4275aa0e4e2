"""The decision policy: what a score means, and when the best candidate may be linked.

Scale: ≥ LINK (90) may be linked automatically when the runner-up is MARGIN (8) points
behind; ≥ REVIEW (70) is plausible and goes to a person; below is a different organisation.
How scores are made is rules.py (summed up by scoring.py); this module only reads them, with
the judgements admins recorded between organisations.
"""

from collections.abc import Collection, Mapping, Sequence

LINK = 90.0
REVIEW = 70.0
MARGIN = 8.0


def _verdict(judgements: Mapping[tuple[int, int], str], a: int, b: int) -> str | None:
    return judgements.get((min(a, b), max(a, b)))


def decide(
    ranked: Sequence[tuple[int, float]], judgements: Mapping[tuple[int, int], str]
) -> list[str]:
    """Why the best of `ranked` (organisation id, score; best first) may NOT be auto-linked.

    An empty list means: link. Rules: the best must reach LINK; the runner-up must trail by
    MARGIN (organisations an admin judged `same` as the best are not rivals); no organisation
    an admin judged `different` from the best may also reach LINK, and a query matching two
    organisations judged different exactly (100 each) is never linked to either.
    """
    if not ranked:
        return ["no candidate"]
    best_id, best = ranked[0]
    rivals = [s for oid, s in ranked[1:] if _verdict(judgements, best_id, oid) != "same"]
    runner_up = rivals[0] if rivals else 0.0
    blocked = any(
        s >= LINK and _verdict(judgements, best_id, oid) == "different" for oid, s in ranked[1:]
    )
    if best < LINK:
        return [f"best score {best:.0f} is below the auto-link threshold {LINK:.0f}"]
    if best - runner_up < MARGIN:
        return [f"runner-up scores {runner_up:.0f}, within {MARGIN:.0f} of the best {best:.0f}"]
    if blocked:
        return ["the names also match an organisation an admin judged different"]
    return []


def ambiguous_namesakes(
    candidates: Sequence[tuple[int, float]], namesakes: Collection[int]
) -> list[int]:
    """The namesakes among `candidates` (organisation id, score) that each reach LINK, when
    there are two or more of them (else none): organisations bearing a submitted name exactly
    and fitting it equally well. Then nothing is decided for the caller: linking one would be
    a guess, creating another one more of that name (service.identify refuses: Ambiguous)."""
    found = [oid for oid, score in candidates if score >= LINK and oid in namesakes]
    return found if len(found) >= 2 else []
