"""Benchmark the resolver's in-process index on a generated multilingual registry.

    .venv/bin/python bench/resolution.py [--orgs 100000] [--queries 2000] [--naive 40]

Generates organisations with 2–3 names each (Latin with diacritics, CJK, Cyrillic, Arabic,
acronyms, chapters of one brand in several countries), builds the index, times resolution of
each query (normalisation + blocking + scoring, one core, no database round trip), and in the
same run times the naive reference `rapidfuzz.process.extractOne(query, all_names,
scorer=WRatio)` on a sample of the same queries. Prints one JSON report with wall-clock and
CPU-time (thread_time: what one core spends, unaffected by other processes on a shared
machine) figures.
"""

import argparse
import gc
import json
import os
import platform
import random
import statistics
import time

from babel import Locale
from rapidfuzz import process
from rapidfuzz.fuzz import WRatio

from app import listeners
from app.resolution.decide import LINK, MARGIN, REVIEW
from app.resolution.index import Index, settle
from app.resolution.lemmas import lemma
from app.resolution.normalise import name_key

listeners.install()

LATIN = [
    "human",
    "rights",
    "solidarity",
    "justice",
    "freedom",
    "democracy",
    "peace",
    "tibet",
    "uyghur",
    "defenders",
    "lawyers",
    "women",
    "youth",
    "media",
    "education",
    "environment",
    "legal",
    "aid",
    "refugees",
    "liberty",
    "dignity",
    "voice",
    "watch",
    "action",
    "development",
    "truth",
    "memory",
    "labour",
    "workers",
    "citizens",
    "future",
    "hope",
    "earth",
    "water",
    "land",
    "défense",
    "égalité",
    "liberté",
    "société",
    "avenir",
    "mémoire",
    "vérité",
    "paz",
    "derechos",
    "libertad",
    "educación",
    "niñez",
    "comunicación",
    "acción",
    "mujeres",
    "jóvenes",
    "tierra",
    "agua",
    "esperanza",
    "dignidad",
    "ciudadanos",
    "ŁódźBridge",
    "Đoàn",
    "Kết",
    "Việt",
    "Tân",
    "Øresund",
    "Straße",
    "Grønland",
    "Kraków",
    "Ñandú",
    "São",
    "Paulo",
    "Açaí",
]
TYPES = [
    "Association",
    "Society",
    "Foundation",
    "Network",
    "Centre",
    "Council",
    "Committee",
    "Group",
    "Campaign",
    "Coalition",
    "Alliance",
    "Federation",
    "Union",
    "Institute",
    "Movement",
    "League",
    "Project",
    "Trust",
    "Forum",
    "Initiative",
]
CYRILLIC = [
    "права",
    "человека",
    "свобода",
    "правда",
    "память",
    "центр",
    "общество",
    "союз",
    "защита",
    "голос",
    "мир",
    "земля",
]
ARABIC = [
    "حقوق",
    "الإنسان",
    "مرصد",
    "الحرية",
    "العدالة",
    "السلام",
    "جمعية",
    "مركز",
    "شبكة",
    "الديمقراطية",
]
HAN = "人权民主自由台湾香港中国日本协会联盟基金会中心网络团体社会和平正义法律援助青年妇女学生教育环境媒体"


def generate(orgs: int, rng: random.Random) -> list[list[str]]:
    countries = [v for k, v in Locale.parse("en").territories.items() if k.isalpha()]
    registry: list[list[str]] = []
    while len(registry) < orgs:
        brand = " ".join(rng.choice(LATIN) for _ in range(rng.randint(1, 3))).title()
        brand += f" {rng.choice(LATIN).title()}{rng.randint(0, 999)}"
        kind = rng.choice(TYPES)
        chapters = rng.choice([1, 1, 1, 2, 3, 5])
        for _ in range(chapters):
            country = rng.choice(countries)
            long_name = f"{brand} {kind}" + (f" {country}" if chapters > 1 else "")
            names = [long_name]
            acronym = "".join(w[0] for w in long_name.split() if w[0].isalpha()).upper()
            if len(acronym) >= 3 and rng.random() < 0.85:
                names.append(acronym)
            script = rng.random()
            if script < 0.35:
                names.append("".join(rng.choice(HAN) for _ in range(rng.randint(4, 8))))
            elif script < 0.5:
                names.append(" ".join(rng.choice(CYRILLIC) for _ in range(3)).title())
            elif script < 0.6:
                names.append(" ".join(rng.choice(ARABIC) for _ in range(3)))
            registry.append(names)
    return registry[:orgs]


def perturb(name: str, rng: random.Random) -> str:
    choice = rng.random()
    if choice < 0.3:
        return name.upper()
    if choice < 0.6 and len(name) > 6:
        i = rng.randrange(1, len(name) - 1)
        return name[:i] + name[i + 1 :]
    if choice < 0.8:
        return name.replace(" ", "-", 1)
    return name + " " + rng.choice(TYPES)


def make_queries(names: list[str], rng: random.Random, count: int) -> list[str]:
    """Queries as coordinators send them: 40 % names the registry has, 40 % misspelt, 20 %
    new organisations."""
    queries = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.4:
            queries.append(rng.choice(names))
        elif kind < 0.8:
            queries.append(perturb(rng.choice(names), rng))
        else:
            queries.append(generate(1, rng)[0][0])
    return queries


def cpu_model() -> str:
    with open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def decide(scored: list) -> str:  # type: ignore[type-arg]
    if not scored or scored[0][1].score < 70:
        return "new"
    best = scored[0][1].score
    runner = scored[1][1].score if len(scored) > 1 else 0.0
    return "existing" if best >= LINK and best - runner >= MARGIN else "needs_review"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--naive", type=int, default=40)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    registry = generate(args.orgs, rng)
    all_names = [n for names in registry for n in names]
    # Dictionaries the normalisation loads once per process whatever the registry's size
    # (pymorphy3's Russian one, for Cyrillic lemmas): measured apart from the index.
    gc.collect()
    loaded = rss_mb()
    lemma("центра")
    dictionaries_mb = rss_mb() - loaded
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    build_cpu = time.thread_time()
    index = Index()
    for organisation_id, names in enumerate(registry, start=1):
        index.upsert(organisation_id, names)
    settle()  # as the service does after a full build
    build_s = time.perf_counter() - started
    build_cpu = time.thread_time() - build_cpu
    name_key.cache_clear()  # queries must pay for their own normalisation
    index_mb = rss_mb() - before

    queries = make_queries(all_names, rng, args.queries)
    timings = []
    cpu = []
    outcomes: dict[str, int] = {}
    for query in queries:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        # As the resolver calls it: candidates that can be neither plausible nor the best
        # are bounded, not scored (Index.score).
        scored = index.score([name_key(query)], minimum=REVIEW)
        outcome = decide(scored)
        cpu.append((time.thread_time() - c0) * 1000)
        timings.append((time.perf_counter() - t0) * 1000)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    cpu.sort()
    slowest = sorted(zip(timings, queries, strict=True), reverse=True)[:5]
    timings.sort()
    naive = []
    naive_cpu = []
    for query in queries[: args.naive]:
        t0 = time.perf_counter()
        c0 = time.thread_time()
        process.extractOne(query, all_names, scorer=WRatio)
        naive_cpu.append((time.thread_time() - c0) * 1000)
        naive.append((time.perf_counter() - t0) * 1000)
    naive.sort()
    naive_cpu.sort()
    p50 = statistics.median(timings)
    report = {
        "machine": {
            "nproc": os.cpu_count(),
            "cpu": cpu_model(),
            "python": platform.python_version(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "organisations": len(registry),
        "names": len(all_names),
        "build_seconds": round(build_s, 2),
        "build_cpu_seconds": round(build_cpu, 2),
        "index_rss_mb": round(index_mb, 1),
        "dictionaries_rss_mb": round(dictionaries_mb, 1),
        "queries": len(queries),
        "p50_ms": round(p50, 3),
        "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3),
        "max_ms": round(timings[-1], 3),
        "outcomes": outcomes,
        "slowest": [[round(t, 2), q] for t, q in slowest],
        "naive_queries": len(naive),
        "naive_p50_ms": round(statistics.median(naive), 1),
        "naive_p99_ms": round(naive[int(len(naive) * 0.99) - 1], 1),
        "speedup_p50": round(statistics.median(naive) / p50, 1),
        "cpu_p50_ms": round(statistics.median(cpu), 3),
        "cpu_p99_ms": round(cpu[int(len(cpu) * 0.99) - 1], 3),
        "naive_cpu_p50_ms": round(statistics.median(naive_cpu), 1),
        "speedup_cpu_p50": round(statistics.median(naive_cpu) / statistics.median(cpu), 1),
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
