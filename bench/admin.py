"""Admin review benchmarks (run by hand): `.venv/bin/python bench/admin.py [--orgs 100000]`.

1. Full duplicate scan over N organisations, stored (`undersigned scan`; cold: load every
   live name into the registry's index, walk its blocking keys, score the blocked pairs),
   target ≤ 60 s for 100,000; the share of planted duplicates it queues (target ≥ 90 %), by
   how each was made (variant: acronym alone, a letter deleted, words reversed).
4. After a merge: the merge with its queue upkeep, then the review page's pairs from the
   stored queue (`--per-view`: alternated with the computation before decision 0091, a full
   scan whenever the registry version moved), targets ≤ 1 s each.
5. 200 new organisations not yet caught up: the review pairs (scored by the page), and the
   catch-up.
2. Merging an organisation that has 1,000 signatures (half of them on letters the survivor also
   signed), in one transaction with commit, target ≤ 1 s; and its undo.
3. The review page rendering a queue of 50 groups (scan cached, as between two clicks),
   target ≤ 200 ms.

Uses a throwaway SQLite file (or UNDERSIGNED_BENCH_DATABASE_URL) built by the migrations.
"""

import argparse
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("UNDERSIGNED_ADMIN_TOKEN", "bench-admin-token-0123456789")
# No catch-up thread: the benchmark measures the page before and after catching up itself.
os.environ.setdefault("UNDERSIGNED_IDENTITY_CHECKS_IN_BACKGROUND", "false")

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlmodel import select  # noqa: E402

from app import db, listeners  # noqa: E402
from app.admin import merges  # noqa: E402
from app.auth.models import Role  # noqa: E402
from app.auth.service import Principal  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.letters.models import Letter  # noqa: E402
from app.organisations.models import Organisation, OrganisationName  # noqa: E402
from app.resolution import queue, registry, scan  # noqa: E402
from app.resolution import service as identity  # noqa: E402
from app.resolution.models import DuplicateCandidate  # noqa: E402
from app.resolution.names import detect_script  # noqa: E402
from app.resolution.normalise import normalise  # noqa: E402
from app.resolution.visibility import Viewer  # noqa: E402
from app.signatures.models import Signature  # noqa: E402

listeners.install()

KINDS = [
    "Watch",
    "Network",
    "Foundation",
    "Institute",
    "Coalition",
    "Alliance",
    "Association",
    "Campaign",
    "Forum",
    "Project",
    "Centre",
    "Council",
    "Society",
    "Union",
    "Committee",
]
TOPICS = [
    "Human Rights",
    "Democracy",
    "Press Freedom",
    "Justice",
    "Labour Rights",
    "Women's Rights",
    "Tibet",
    "Uyghur Rights",
    "Refugees",
    "Environmental Defenders",
    "Digital Rights",
    "Religious Freedom",
    "Torture Prevention",
    "Child Rights",
    "Minority Rights",
]
PLACES = [
    "Hong Kong",
    "Taiwan",
    "Belgium",
    "Switzerland",
    "Kenya",
    "Chile",
    "Nepal",
    "Japan",
    "Germany",
    "France",
    "Canada",
    "Brazil",
    "Uganda",
    "Mongolia",
    "Sweden",
]
HAN = "人權民主自由中國台灣香港聯盟協會基金會觀察網絡正義婦女勞工宗教難民環境數碼少數族裔"
SYLLABLES = "ka lo ri ta me su na vo le pi ra du ko sa ne mi ba to"
SYL = SYLLABLES.split()
NOW = utcnow()
# (original, duplicate) organisation ids, and how the duplicate was made (variant's kinds).
PLANTED: dict[tuple[int, int], str] = {}
ADMIN_VIEWER = Viewer(Principal(role=Role.admin, token_id=None))


def _seed_vocabulary() -> list[str]:
    """Words of the real signatory names of the seed letter: realistic initials and tokens."""
    import csv

    words: set[str] = set()
    with (ROOT / "seeds" / "signatories.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            for token in row["name"].replace("(", " ").replace(")", " ").split():
                if token.isalpha() and token.isascii() and len(token) > 2:
                    words.add(token)
    return sorted(words)


VOCABULARY = _seed_vocabulary()


def word(rng: random.Random) -> str:
    return "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))).capitalize()


def names_for(rng: random.Random, index: int) -> list[tuple[str, bool]]:
    roll = rng.random()
    if roll < 0.1:
        han = "".join(rng.choice(HAN) for _ in range(rng.randint(4, 8)))
        return [(han, False)]
    words = [rng.choice(VOCABULARY) for _ in range(rng.randint(1, 4))]
    words.insert(rng.randrange(len(words) + 1), word(rng))
    name = " ".join(words) + f" {rng.choice(KINDS)}"
    if roll < 0.35:
        name += f" {rng.choice(PLACES)}"
    result = [(name, False)]
    if roll > 0.75:
        initials = "".join(w[0] for w in name.split() if w[0].isupper())
        result.append((initials.upper(), True))
    return result


ACRONYM, DELETION, REVERSED = "acronym alone", "one character deleted", "words reversed"


def variant(
    rng: random.Random, names: list[tuple[str, bool]]
) -> tuple[list[tuple[str, bool]], str]:
    """A plausible duplicate: its acronym alone, a typo, or a reordered name; and which."""
    name = names[0][0]
    roll = rng.random()
    if roll < 0.3 and len(names) > 1:
        return [names[1]], ACRONYM
    if roll < 0.6 and len(name) > 6:
        i = rng.randrange(1, len(name) - 1)
        return [(name[:i] + name[i + 1 :], False)], DELETION
    return [(" ".join(reversed(name.split())), False)], REVERSED


def generate(organisations: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Organisation and name rows, 5 % of them planted duplicates of a recent one (PLANTED)."""
    rng = random.Random(4)
    org_rows: list[dict[str, Any]] = []
    name_rows: list[dict[str, Any]] = []
    previous: list[tuple[int, list[tuple[str, bool]]]] = []
    for index in range(1, organisations + 1):
        names = None
        if previous and rng.random() < 0.05:
            original, original_names = rng.choice(previous)
            names, kind = variant(rng, original_names)
            PLANTED[(original, index)] = kind
        names = names or names_for(rng, index)
        previous.append((index, names))
        if len(previous) > 5000:
            previous.pop(0)
        org_rows.append({"id": index, "kind": "organisation", "revision": 1, "created_at": NOW})
        for position, (name, acronym) in enumerate(names):
            name_rows.append(
                {
                    "organisation_id": index,
                    "name": name,
                    "normalised": normalise(name),
                    "script": detect_script(name),
                    "is_acronym": acronym,
                    "is_primary": position == 0,
                    "created_at": NOW,
                }
            )
    return org_rows, name_rows


def build(url: str, organisations: int) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    org_rows, name_rows = generate(organisations)
    engine = db.get_engine()
    with engine.begin() as conn:
        conn.execute(insert(Organisation), org_rows)
        conn.execute(insert(OrganisationName), name_rows)
        conn.execute(text("UPDATE registry_state SET version = 1"))


def bench_scan(workers: int | None) -> float:
    """The full scan, stored (`undersigned scan`), cold: the registry's index built first."""
    identity.reset_cache()
    with db.open_session(write=True) as session:
        start, cpu = time.perf_counter(), time.process_time()
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        stored = queue.rescan(session, workers=workers)
        session.commit()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    print(
        f"full scan, stored ({workers or os.cpu_count()} processes): {elapsed:.2f} s wall "
        f"({cpu:.2f} s CPU, + {forked:.2f} s in worker processes), {stored} candidate pairs; "
        f"load average {os.getloadavg()}"
    )
    return elapsed


def planted_recall() -> float:
    """Share of the planted duplicates in the stored queue, by how each was made."""
    with db.open_session() as session:
        rows = session.exec(
            select(DuplicateCandidate.organisation_a, DuplicateCandidate.organisation_b)
        )
        stored = {(int(a), int(b)) for a, b in rows}
    kinds: dict[str, list[bool]] = {}
    for pair, kind in PLANTED.items():
        kinds.setdefault(kind, []).append(pair in stored)
    found = sum(pair in stored for pair in PLANTED) / max(1, len(PLANTED))
    by_kind = ", ".join(
        f"{kind} {sum(hits) / len(hits):.1%} of {len(hits)}" for kind, hits in sorted(kinds.items())
    )
    print(f"planted duplicates in the queue: {found:.1%} of {len(PLANTED)} ({by_kind})")
    return found


def bench_after_merge(runs: int = 5, *, per_view: bool = False) -> tuple[float, float, float]:
    """Merge a queued pair, then the review page's pairs from the stored queue; with
    `per_view`, alternated with the computation of the release before the stored queue (a full
    scan whenever the registry moved). `runs` times each; medians of (merge, stored page,
    per-view page or 0)."""
    merge_times, stored_times, rescan_times = [], [], []
    with db.open_session() as session:
        pairs = queue.candidate_pairs(session, limit=runs * 3)
    chosen = []
    used: set[int] = set()
    for pair in pairs:
        if pair.a not in used and pair.b not in used:
            chosen.append(pair)
            used |= {pair.a, pair.b}
    for pair in chosen[:runs]:
        with db.open_session(write=True) as session:
            start = time.perf_counter()
            merges.merge(session, survivor_id=pair.a, merged_ids=[pair.b], actor="bench")
            session.commit()
            merge_times.append(time.perf_counter() - start)
        with db.open_session() as session:
            start = time.perf_counter()
            listed = queue.candidate_pairs(session, limit=50)
            stored_times.append(time.perf_counter() - start)
            assert (pair.a, pair.b) not in {(p.a, p.b) for p in listed}
        if per_view:
            with db.open_session() as session:
                start = time.perf_counter()
                scan.scan(registry.view(session, viewer=None))
                rescan_times.append(time.perf_counter() - start)
    merge, stored, rescan = (
        statistics.median(t or [0.0]) for t in (merge_times, stored_times, rescan_times)
    )
    compared = f" vs per-view scan {rescan * 1000:.0f} ms" if per_view else ""
    print(
        f"after a merge ({len(merge_times)} merges): merge with queue upkeep "
        f"{merge * 1000:.0f} ms; review pairs from the stored queue {stored * 1000:.0f} ms"
        f"{compared}"
    )
    return merge, stored, rescan


def bench_new_organisations(count: int = 200) -> float:
    """Organisations created since the last catch-up are scored by the page itself."""
    with db.open_session(write=True) as session:
        rng = random.Random(9)
        for _ in range(count):
            names = [n for n, _ in names_for(rng, 0)]
            identity.identify(session, name=names[0], viewer=ADMIN_VIEWER)
        session.commit()
    with db.open_session() as session:
        start = time.perf_counter()
        queue.candidate_pairs(session, limit=50)
        page = time.perf_counter() - start
    start = time.perf_counter()
    caught = queue.catch_up_all()
    catch_up = time.perf_counter() - start
    print(
        f"{count} new organisations: review pairs before the catch-up {page * 1000:.0f} ms; "
        f"catch-up of {caught} organisations {catch_up * 1000:.0f} ms"
    )
    return page


def bench_merge(signatures: int = 1000) -> tuple[float, float]:
    engine = db.get_engine()
    with engine.begin() as conn:
        start_id = conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM letter")).scalar_one() + 1
        conn.execute(
            insert(Letter),
            [
                {
                    "id": start_id + i,
                    "slug": f"bench-{start_id + i}",
                    "title": "Bench",
                    "lang": "en",
                    "status": "open",
                    "revision": 0,
                    "created_at": NOW,
                    "counts_changed_at": NOW,
                    "body": "",
                    "recipients": "",
                }
                for i in range(signatures)
            ],
        )
        survivor, merged = 1, 2
        rows = []
        for i in range(signatures):
            rows.append(
                {
                    "letter_id": start_id + i,
                    "organisation_id": merged,
                    "position": 1,
                    "anonymous": i % 7 == 0,
                    "source": "api",
                    "signed_at": NOW,
                }
            )
            if i % 2 == 0:
                rows.append(
                    {
                        "letter_id": start_id + i,
                        "organisation_id": survivor,
                        "position": 2,
                        "anonymous": False,
                        "source": "api",
                        "signed_at": NOW,
                    }
                )
        conn.execute(insert(Signature), rows)
    with db.open_session(write=True) as session:
        start = time.perf_counter()
        record, summary = merges.merge(
            session, survivor_id=survivor, merged_ids=[merged], actor="bench"
        )
        session.commit()
        merge_time = time.perf_counter() - start
    with db.open_session(write=True) as session:
        start = time.perf_counter()
        assert record.id is not None
        merges.undo(session, merge_id=record.id, actor="bench", record_different=False)
        session.commit()
        undo_time = time.perf_counter() - start
    print(
        f"merge of an organisation with {signatures} signatures: {merge_time * 1000:.0f} ms "
        f"({summary['retired_signatures']} duplicates retired); undo {undo_time * 1000:.0f} ms"
    )
    return merge_time, undo_time


def bench_page(runs: int = 15) -> float:
    from fastapi.testclient import TestClient

    from app.admin import sessions
    from app.main import app

    with db.open_session() as session:
        cookie = sessions.issue(session, clear_token=os.environ["UNDERSIGNED_ADMIN_TOKEN"])
    assert cookie is not None
    timings = []
    with TestClient(app) as client:
        client.cookies.set(sessions.COOKIE, cookie, path="/admin")
        first = client.get("/admin?size=50")
        assert first.status_code == 200 and first.text.count('class="group"') == 50
        for _ in range(runs):
            start = time.perf_counter()
            response = client.get("/admin?size=50")
            timings.append(time.perf_counter() - start)
            assert response.status_code == 200
    median = statistics.median(timings)
    print(
        f"review page, 50 groups: median {median * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms"
    )
    return median


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument(
        "--per-view",
        action="store_true",
        help="after each merge, also time a full in-memory scan (the page before 0091)",
    )
    parser.add_argument(
        "--workers", type=int, default=None, help="processes of the full scan (default: cores)"
    )
    args = parser.parse_args()
    url = os.environ.get("UNDERSIGNED_BENCH_DATABASE_URL")
    if url is None:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='undersigned-bench-')}/bench.db"
    os.environ["UNDERSIGNED_DATABASE_URL"] = url
    get_settings.cache_clear()
    db.set_engine(db.make_engine(url))
    start = time.perf_counter()
    build(url, args.orgs)
    print(
        f"built {args.orgs} organisations in {time.perf_counter() - start:.1f} s ({url.split(':')[0]})"
    )
    scanned = bench_scan(args.workers)
    recall = planted_recall()
    page = bench_page()
    merge_time, _ = bench_merge()
    after_merge, stored, _ = bench_after_merge(per_view=args.per_view)
    bench_new_organisations()
    ok = (
        scanned <= 60
        and recall >= 0.9
        and merge_time <= 1
        and page <= 0.2
        and stored <= 1
        and after_merge <= 1
    )
    print(f"load average: {os.getloadavg()}")
    print("targets met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
