"""Admin review benchmarks (run by hand): `.venv/bin/python bench/admin.py [--orgs 100000]`.

1. Duplicate scan over N organisations (cold: load every live name from the database into the
   registry's index, walk its blocking keys, score the blocked pairs), target ≤ 60 s for
   100,000.
2. Merging an organisation that has 1,000 signatures (half of them on letters the survivor also
   signed), in one transaction with commit, target ≤ 1 s; and its undo.
3. The review page rendering a queue of 50 groups (scan cached, as between two clicks),
   target ≤ 200 ms.

Uses a throwaway SQLite file (or UNDERSIGNED_BENCH_DATABASE_URL) built by the migrations.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("UNDERSIGNED_ADMIN_TOKEN", "bench-admin-token-0123456789")

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402

from app import db  # noqa: E402
from app.admin import merges  # noqa: E402
from app.config import get_settings  # noqa: E402
from app.db import utcnow  # noqa: E402
from app.letters.models import Letter  # noqa: E402
from app.organisations.models import Organisation, OrganisationName  # noqa: E402
from app.resolution import scan  # noqa: E402
from app.resolution import service as identity  # noqa: E402
from app.resolution.names import detect_script  # noqa: E402
from app.resolution.normalise import normalise  # noqa: E402
from app.signatures.models import Signature  # noqa: E402

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


def variant(rng: random.Random, names: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    """A plausible duplicate: its acronym alone, a typo, or a reordered name."""
    name = names[0][0]
    roll = rng.random()
    if roll < 0.3 and len(names) > 1:
        return [names[1]]
    if roll < 0.6 and len(name) > 6:
        i = rng.randrange(1, len(name) - 1)
        return [(name[:i] + name[i + 1 :], False)]
    return [(" ".join(reversed(name.split())), False)]


def build(url: str, organisations: int) -> None:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")
    rng = random.Random(4)
    org_rows, name_rows = [], []
    previous: list[list[tuple[str, bool]]] = []
    for index in range(1, organisations + 1):
        names = variant(rng, rng.choice(previous)) if previous and rng.random() < 0.05 else None
        names = names or names_for(rng, index)
        previous.append(names)
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
    engine = db.get_engine()
    with engine.begin() as conn:
        conn.execute(insert(Organisation), org_rows)
        conn.execute(insert(OrganisationName), name_rows)
        conn.execute(text("UPDATE registry_state SET version = 1"))


def bench_scan() -> float:
    # Cold: the registry (the resolver's index, which the scan walks) is built first.
    identity.reset_cache()
    scan.reset_cache()
    with db.open_session() as session:
        start, cpu = time.perf_counter(), time.process_time()
        pairs = scan.candidate_pairs(session, limit=50)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(
        f"scan: {elapsed:.2f} s wall ({cpu:.2f} s CPU), "
        f"{len(scan._cache.pairs)} candidate pairs kept, top {len(pairs)} served"
    )
    return elapsed


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
        # The scan above left its result cached, as the previous page view would have.
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
    scan = bench_scan()
    page = bench_page()
    merge_time, _ = bench_merge()
    ok = scan <= 60 and merge_time <= 1 and page <= 0.2
    print("targets met" if ok else "TARGET MISSED")


if __name__ == "__main__":
    main()
