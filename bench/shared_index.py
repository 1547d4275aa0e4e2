"""The machine's shared resolution index against the per-worker index, side by side in one run.

    .venv/bin/python bench/shared_index.py [--orgs 100000] [--queries 2000] [--workers 2]

On one generated registry (bench/resolution.py's generator and queries), for each method:
`--workers` worker processes started together, as after a deploy, each either building its
own in-memory Index from the registry rows (what every worker did before decision 0093) or
mapping the machine's snapshot file (written once, its build timed apart: wall, and CPU
with its parsing processes'); then per worker its memory (RSS, PSS: shared pages divided
among the processes mapping them, USS: its own, anonymous: its heap), the time from its
process start to its first answered resolution, and the latency of every query (wall and
CPU). Then one worker restarted alone while the others run. Both methods'
decisions (best organisation and score per query) are compared. Prints one JSON report with
the load average before and after.

    .venv/bin/python bench/shared_index.py --orgs 1000000 --database postgresql+psycopg://...

The first worker's real path instead (decision 0125): the registry copied into a fresh
PostgreSQL database (`--database`: a server URL; the database `bench_shared_index` is
dropped and created there; revision 1, no signatures), then, timed in a process of its own,
`registry._machine_index` as the first worker of a machine runs it: the rows read from the
database and the snapshot written from them (wall, CPU with the parsing processes', peak
RSS), and the snapshot opened.
"""

import argparse
import gc
import hashlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

STARTED = time.time()

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resolution import cpu_model, decide, generate, make_queries  # noqa: E402

from app.resolution import snapshot  # noqa: E402
from app.resolution.decide import REVIEW  # noqa: E402
from app.resolution.index import Index, settle  # noqa: E402
from app.resolution.normalise import name_key  # noqa: E402


def memory() -> dict[str, float]:
    """RSS, PSS and USS of this process in MB (/proc/self/smaps_rollup), and its anonymous
    memory (heap: its own whatever the other processes map; USS also counts the file's
    pages once no other process maps them)."""
    fields: dict[str, float] = {}
    with open("/proc/self/smaps_rollup") as handle:
        for line in handle:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                fields[parts[0][:-1]] = int(parts[1]) / 1000
    return {
        "rss_mb": round(fields["Rss"], 1),
        "pss_mb": round(fields["Pss"], 1),
        "uss_mb": round(fields.get("Private_Clean", 0) + fields.get("Private_Dirty", 0), 1),
        "anon_mb": round(fields["Anonymous"], 1),
    }


def worker(args: argparse.Namespace) -> None:
    queries = json.loads(Path(args.data, "queries.json").read_text())
    gc.collect()
    before = memory()
    t0, c0 = time.perf_counter(), time.process_time()
    index: Index
    if args.role == "index":
        registry = json.loads(Path(args.data, "registry.json").read_text())
        index = Index()
        for organisation_id, names in enumerate(registry, start=1):
            index.upsert(organisation_id, names)
        del registry
        settle()
    else:
        opened = snapshot.usable(Path(args.data, "r.idx"), identity="bench", committed=1)
        assert opened is not None
        index = opened.public
        settle()  # as registry.py does after mapping
    ready, ready_cpu = time.perf_counter() - t0, time.process_time() - c0
    first = index.score([name_key(queries[0])], minimum=REVIEW)
    first_answer = time.time() - args.spawned
    first_answer_cpu = time.process_time()  # since the process started: imports included
    name_key.cache_clear()
    timings, cpu, decisions = [], [], []
    for query in queries:
        w0, c0 = time.perf_counter(), time.thread_time()
        scored = index.score([name_key(query)], minimum=REVIEW)
        outcome = decide(scored)
        cpu.append((time.thread_time() - c0) * 1000)
        timings.append((time.perf_counter() - w0) * 1000)
        decisions.append(
            (outcome, scored[0][0] if scored else None, scored[0][1].score if scored else 0)
        )
    del first
    gc.collect()
    time.sleep(args.hold)  # the other workers are mapped and warm by now: PSS shares pages
    after = memory()
    timings.sort()
    cpu.sort()
    print(
        json.dumps(
            {
                "role": args.role,
                "index_ready_s": round(ready, 3),
                "index_ready_cpu_s": round(ready_cpu, 3),
                "process_start_to_first_answer_s": round(first_answer, 3),
                "process_cpu_to_first_answer_s": round(first_answer_cpu, 3),
                "memory_before_index": before,
                "memory": after,
                "index_rss_mb": round(after["rss_mb"] - before["rss_mb"], 1),
                "p50_ms": round(statistics.median(timings), 3),
                "p99_ms": round(timings[int(len(timings) * 0.99) - 1], 3),
                "cpu_p99_ms": round(cpu[int(len(cpu) * 0.99) - 1], 3),
                "max_ms": round(timings[-1], 3),
                "decisions": hashlib.sha256(json.dumps(decisions).encode()).hexdigest()[:16],
            }
        )
    )


def build(args: argparse.Namespace) -> None:
    """The snapshot as the first worker of a machine writes it (from the registry rows)."""
    registry = json.loads(Path(args.data, "registry.json").read_text())
    t0, c0 = time.perf_counter(), time.process_time()
    snapshot.write(
        Path(args.data, "r.idx"),
        version=1,
        identity="bench",
        public=(snapshot.Row(i, names, None, None) for i, names in enumerate(registry, start=1)),
        hidden=[],
        unsigned=[],
    )
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    report = {"build_s": round(wall, 2)} | _build_cpu(cpu, prefix="build_")
    print(json.dumps(report | {"file_mb": round(Path(args.data, "r.idx").stat().st_size / 1e6, 1)}))


def _bench_url(server: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server).set(database="bench_shared_index").render_as_string(False)


def fill(args: argparse.Namespace) -> None:
    """A fresh database holding the generated registry (COPY), migrated by alembic first."""
    import psycopg
    from sqlalchemy.engine import make_url

    from app.cli import run_migrations

    server = make_url(args.database)
    admin = server.set(drivername="postgresql", database="postgres").render_as_string(False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute("DROP DATABASE IF EXISTS bench_shared_index")
        connection.execute("CREATE DATABASE bench_shared_index")
    url = _bench_url(args.database)
    run_migrations(url)
    registry = json.loads(Path(args.data, "registry.json").read_text())
    plain = make_url(url).set(drivername="postgresql").render_as_string(False)
    with psycopg.connect(plain) as connection, connection.cursor() as cursor:
        created = datetime.now(UTC)
        columns = "id, kind, revision, created_at"
        with cursor.copy(f"COPY organisation ({columns}) FROM STDIN") as copy:
            for organisation_id in range(1, len(registry) + 1):
                copy.write_row((organisation_id, "organisation", 1, created))
        columns = "organisation_id, name, normalised, is_acronym, is_primary, created_at"
        with cursor.copy(f"COPY organisation_name ({columns}) FROM STDIN") as copy:
            for organisation_id, names in enumerate(registry, start=1):
                for number, name in enumerate(names):
                    copy.write_row(
                        (organisation_id, name, name.lower(), False, number == 0, created)
                    )
        cursor.execute("SELECT setval('organisation_id_seq', %s)", (len(registry),))
        cursor.execute("UPDATE registry_state SET version = 1 WHERE id = 1")
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE organisation")
        cursor.execute("VACUUM ANALYZE organisation_name")


def database_build(args: argparse.Namespace) -> None:
    """registry._machine_index as a machine's first worker runs it, timed."""
    os.environ["UNDERSIGNED_DATABASE_URL"] = _bench_url(args.database)
    os.environ["UNDERSIGNED_RESOLUTION_INDEX_DIR"] = args.data
    os.environ["UNDERSIGNED_RESOLUTION_INDEX_MIN"] = "0"
    from app import db
    from app.resolution import registry

    with db.open_session() as session:
        t0, c0 = time.perf_counter(), time.process_time()
        opened = registry._machine_index(session, committed=1)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert opened is not None
    report = {"database_to_snapshot_s": round(wall, 2)} | _build_cpu(cpu)
    print(json.dumps(report | {"organisations": len(opened.public)}))


def _build_cpu(cpu: float, prefix: str = "") -> dict[str, float]:
    """A build's CPU, this process's and its parsing processes' (exited and waited for by
    now), and both peak memories."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        f"{prefix}cpu_s": round(cpu + children.ru_utime + children.ru_stime, 2),
        f"{prefix}cpu_main_s": round(cpu, 2),
        "builder_peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000, 1),
        "parser_peak_rss_mb": round(children.ru_maxrss / 1000, 1),
    }


def spawn(args: argparse.Namespace, role: str, hold: float) -> subprocess.Popen[str]:
    command = [sys.executable, __file__, "--role", role, "--data", args.data]
    command += ["--spawned", repr(time.time()), "--hold", str(hold)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def collect(processes: list[subprocess.Popen[str]]) -> list[dict[str, object]]:
    results = []
    for process in processes:
        out, _ = process.communicate()
        assert process.returncode == 0, out
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--role", choices=["index", "mapped", "build", "fill", "database"])
    parser.add_argument("--database", default="", help="a PostgreSQL server URL")
    parser.add_argument("--data", default="")
    parser.add_argument("--spawned", type=float, default=0.0)
    parser.add_argument("--hold", type=float, default=0.0)
    parser.add_argument("--methods", default="index,mapped", help="comma-separated")
    args = parser.parse_args()
    if args.role == "build":
        return build(args)
    if args.role == "fill":
        return fill(args)
    if args.role == "database":
        return database_build(args)
    if args.role:
        return worker(args)
    load_before = os.getloadavg()
    if not (args.database and args.data):  # --data DIR with --database: its registry again
        rng = random.Random(args.seed)
        registry = generate(args.orgs, rng)
        names = [n for org in registry for n in org]
        queries = make_queries(names, rng, args.queries)
        args.data = tempfile.mkdtemp(prefix="bench-shared-index-")
        Path(args.data, "registry.json").write_text(json.dumps(registry))
        Path(args.data, "queries.json").write_text(json.dumps(queries))
        del registry, names
    report: dict[str, object] = {
        "machine": {"nproc": os.cpu_count(), "cpu": cpu_model()},
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "organisations": args.orgs,
        "queries": args.queries,
        "workers": args.workers,
    }
    if args.database:
        return database_report(args, report, load_before)
    built = subprocess.run(
        [sys.executable, __file__, "--role", "build", "--data", args.data],
        capture_output=True,
        text=True,
        check=True,
    )
    report["snapshot_build"] = json.loads(built.stdout)
    methods = args.methods.split(",")
    for role in methods:
        together = collect([spawn(args, role, 3.0) for _ in range(args.workers)])
        # One worker restarted while another keeps running (holding its index or mapping).
        running = spawn(args, role, 6.0)
        time.sleep(1.0 if role == "mapped" else 0.0)
        restarted = collect([spawn(args, role, 0.0)])[0]
        collect([running])
        report[role] = {"workers": together, "restarted": restarted}
    ones = {w["decisions"] for role in methods for w in report[role]["workers"]}  # type: ignore[index]
    report["same_decisions"] = len(ones) == 1
    report["load_average_before"] = [round(x, 2) for x in load_before]
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


def database_report(
    args: argparse.Namespace, report: dict[str, object], load_before: tuple[float, ...]
) -> None:
    base = [sys.executable, __file__, "--data", args.data, "--database", args.database]
    t0 = time.perf_counter()
    subprocess.run([*base, "--role", "fill"], check=True)
    report["fill_s"] = round(time.perf_counter() - t0, 1)
    report["load_average_before_build"] = [round(x, 2) for x in os.getloadavg()]
    built = subprocess.run([*base, "--role", "database"], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr
    report["database_build"] = json.loads(built.stdout.strip().splitlines()[-1])
    report["load_average_before"] = [round(x, 2) for x in load_before]
    report["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
