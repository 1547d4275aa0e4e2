"""Evaluate the resolver on a query file against the seed letter (`undersigned eval-resolution`).

File format (tab-separated, `#` comments): query, expected seed entry number(s) separated by
`|` or `NEW`, category. Each query goes through the signing code path
(`resolution.service.parse_names` then `resolution.service.resolve`) in a transaction that
is rolled back, so nothing is written. A tool on top of the application (it builds a
database and loads the seed), beside the CLI that runs it.

Counting: a prediction is a link only when the status is `existing`. Precision, recall and F1
are over queries whose category is not `translation`; false links (linked to a wrong entry, or
linked at all when NEW) are counted over every query.
"""

import csv
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlmodel import Session, select

from app import db
from app.imports.seed import load_seed, seeds_dir
from app.organisations.models import OrganisationName
from app.resolution import service as identity


@dataclass
class QueryResult:
    query: str
    expected: list[int] | None  # seed entry numbers; None for NEW
    category: str
    status: str
    linked_entry: int | None
    score: float
    outcome: str  # "correct", "false_link", "missed", "correct_new"
    reasons: list[str]


@dataclass
class CategoryFigures:
    """Figures of one category of a query file (every query counted, translations too)."""

    queries: int
    expected_links: int
    true_links: int
    false_links: int
    needs_review: int
    precision: float
    recall: float
    f1: float


@dataclass
class Report:
    results: list[QueryResult]
    precision: float
    recall: float
    f1: float
    false_links: int
    true_links: int
    needs_review: int
    categories: dict[str, CategoryFigures] = field(default_factory=dict)

    @property
    def misses(self) -> list[QueryResult]:
        """Queries that should have linked and did not, and false links."""
        return [r for r in self.results if r.outcome in ("missed", "false_link")]

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def read_queries(path: Path) -> list[tuple[str, list[int] | None, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2:
            raise ValueError(f"expected query<TAB>expected[<TAB>category]: {line!r}")
        expected = (
            None
            if parts[1].strip().upper() == "NEW"
            else [int(p) for p in parts[1].split("|") if p.strip()]
        )
        rows.append((parts[0], expected, parts[2].strip() if len(parts) > 2 else ""))
    return rows


def _throwaway_database() -> str:
    directory = tempfile.mkdtemp(prefix="undersigned-eval-")
    url = f"sqlite:///{directory}/eval.db"
    config = Config()
    config.set_main_option(
        "script_location", str(Path(__file__).resolve().parents[1] / "migrations")
    )
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    db.set_engine(db.make_engine(url))
    identity.reset_cache()
    with db.open_session(write=True) as session:
        load_seed(session)
        session.commit()
    return url


def _seed_entries(session: Session) -> dict[int, set[int]]:
    """Organisation id → seed entry numbers it holds (several if the seed itself was merged)."""
    by_name: dict[str, int] = {}
    for owner, name in session.exec(
        select(OrganisationName.organisation_id, OrganisationName.name)
    ).all():
        by_name.setdefault(name, owner)
    result: dict[int, set[int]] = {}
    path = seeds_dir() / "signatories.csv"
    with path.open(encoding="utf-8-sig", newline="") as handle:
        for row in csv.DictReader(handle):
            if not row["name"].strip():
                continue
            first = identity.parse_names(name=row["name"])[0].name
            found = by_name.get(first)
            if found is not None:
                result.setdefault(found, set()).add(int(row["position"]))
    return result


def evaluate(path: Path) -> Report:
    queries = read_queries(path)
    _throwaway_database()
    results = []
    with db.open_session() as session:
        entries_of = _seed_entries(session)
        for query, expected, category in queries:
            names = [n.name for n in identity.parse_names(name=query)]
            resolution = identity.resolve(session, names=names, viewer=None)
            session.rollback()
            linked = None
            if resolution.status == "existing" and resolution.organisation_id is not None:
                entries = entries_of.get(resolution.organisation_id, set())
                right = entries & set(expected or ())
                linked = min(right) if right else min(entries, default=-1)
            if linked is not None:
                outcome = "correct" if expected and linked in expected else "false_link"
            else:
                outcome = "correct_new" if expected is None else "missed"
            reasons = resolution.reasons or (
                resolution.candidates[0].reasons if resolution.candidates else []
            )
            results.append(
                QueryResult(
                    query,
                    expected,
                    category,
                    resolution.status,
                    linked,
                    round(resolution.score, 1),
                    outcome,
                    reasons,
                )
            )
    scored = [r for r in results if r.category != "translation"]
    precision, recall, f1 = _figures(scored)
    categories = {}
    for category in sorted({r.category for r in results}):
        rows = [r for r in results if r.category == category]
        c_precision, c_recall, c_f1 = _figures(rows)
        categories[category] = CategoryFigures(
            queries=len(rows),
            expected_links=sum(r.expected is not None for r in rows),
            true_links=sum(r.outcome == "correct" for r in rows),
            false_links=sum(r.outcome == "false_link" for r in rows),
            needs_review=sum(r.status == "needs_review" for r in rows),
            precision=c_precision,
            recall=c_recall,
            f1=c_f1,
        )
    return Report(
        results=results,
        precision=precision,
        recall=recall,
        f1=f1,
        false_links=sum(r.outcome == "false_link" for r in results),
        true_links=sum(r.outcome == "correct" for r in scored),
        needs_review=sum(r.status == "needs_review" for r in results),
        categories=categories,
    )


def _figures(rows: list[QueryResult]) -> tuple[float, float, float]:
    """Precision, recall and F1 of the links among `rows` (1.0 when there is nothing to
    find or nothing was linked)."""
    true_links = sum(r.outcome == "correct" for r in rows)
    predicted = sum(r.linked_entry is not None for r in rows)
    actual = sum(r.expected is not None for r in rows)
    precision = true_links / predicted if predicted else 1.0
    recall = true_links / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return round(precision, 4), round(recall, 4), round(f1, 4)
