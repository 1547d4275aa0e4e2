"""Planted duplicates in the duplicate queue, this checkout and a previous revision side by side
(run by hand): `.venv/bin/python bench/planted.py [--orgs 100000 300000] [--previous main]`.

For each size, bench/admin.py's `generate(n)` (its registry and planted pairs, seed 4) is filed
in the registry's `Index` in memory, with no database, and scanned in full (`scan.scan`, every
pair at the review line, `--workers` forked processes), once with the previous revision's
`app` (extracted by `git archive`) and once with this checkout's, one after the other, each in
a process of its own; the index is settled (index.settle) as the registry settles its own. Prints the share of planted duplicates in the queue (by how each was
made), the pairs at the review line, the pairs the near-miss rule lifted to it (decision 0112)
with a few of those that were not planted, CPU and wall time, and the load average before and
after each run.
"""

import argparse
import contextlib
import importlib.util
import itertools
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def measure(organisations: int, workers: int, pairs_out: Path | None = None) -> dict[str, Any]:
    """The scan with whichever `app` is first on sys.path (see `main`); with `pairs_out`, every
    pair at the review line is written there (pickled (a, b, score, reasons), sorted), for
    `compare`."""
    from app.resolution.index import Index, settle
    from app.resolution.registry import Layer, View
    from app.resolution.scan import scan

    spec = importlib.util.spec_from_file_location("bench_admin", ROOT / "bench" / "admin.py")
    assert spec is not None and spec.loader is not None
    admin = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(admin)
    _, name_rows = admin.generate(organisations)
    names: dict[int, list[str]] = {}
    for row in name_rows:
        names.setdefault(row["organisation_id"], []).append(row["name"])
    index = Index()
    for organisation_id, its_names in names.items():
        index.upsert(organisation_id, its_names)
    # As the registry does after building its index (registry.py): what was built stays out
    # of full collections' way, in this process and in the scan's forked workers.
    settle()
    load_before = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    pairs = scan(View([Layer(index)]), keep=None, workers=workers)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    forked = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    queued = {(p.a, p.b) for p in pairs}
    if pairs_out is not None:
        with pairs_out.open("wb") as handle:
            pickle.dump(sorted((p.a, p.b, p.score, p.reasons) for p in pairs), handle)
    kinds: dict[str, list[int]] = {}
    for pair, kind in admin.PLANTED.items():
        hits = kinds.setdefault(kind, [0, 0])
        hits[0] += (min(pair), max(pair)) in queued
        hits[1] += 1
    planted = {(min(pair), max(pair)) for pair in admin.PLANTED}
    others = [
        " / ".join(names[p.a] + names[p.b])
        for p in pairs
        if "a typo, or another body?" in " ".join(p.reasons) and (p.a, p.b) not in planted
    ]
    return {
        "organisations": organisations,
        "other_near_misses": len(others),
        "examples": others[:: max(1, len(others) // 8)][:8],
        "planted": len(admin.PLANTED),
        "found": sum(hits[0] for hits in kinds.values()),
        "kinds": kinds,
        "pairs": len(pairs),
        "near_misses": sum("a typo, or another body?" in " ".join(p.reasons) for p in pairs),
        "cpu": cpu,
        "forked_cpu": forked,
        "wall": wall,
        "load_before": load_before,
        "load_after": os.getloadavg(),
    }


@contextlib.contextmanager
def previous_app(revision: str) -> Iterator[Path]:
    """The previous revision's `app` package in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="undersigned-planted-") as directory:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", revision, "app"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", directory], input=archive, check=True)
        yield Path(directory)


def run(app_root: Path, organisations: int, workers: int, pairs_out: Path | None) -> dict[str, Any]:
    command = [sys.executable, __file__, "--measure", str(organisations)]
    command += ["--app-root", str(app_root), "--workers", str(workers)]
    if pairs_out is not None:
        command += ["--pairs-out", str(pairs_out)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def show(label: str, result: dict[str, Any]) -> None:
    share = result["found"] / max(1, result["planted"])
    kinds = ", ".join(
        f"{kind} {found / total:.1%} of {total}"
        for kind, (found, total) in sorted(result["kinds"].items())
    )
    load = " → ".join(
        "/".join(f"{x:.2f}" for x in result[at]) for at in ("load_before", "load_after")
    )
    print(
        f"{result['organisations']:>9,} {label:<9} planted in the queue {share:.2%} "
        f"({result['found']:,} of {result['planted']:,}: {kinds}); {result['pairs']:,} pairs at "
        f"the review line ({result['near_misses']:,} near misses); CPU {result['cpu']:.1f} s + "
        f"{result['forked_cpu']:.1f} s in workers, wall {result['wall']:.1f} s; load {load}",
        flush=True,
    )
    if result.get("other_near_misses"):
        print(f"{'':>19} near misses not planted: {result['other_near_misses']:,}, e.g.:")
        for example in result["examples"]:
            print(f"{'':>21}{example}")


def compare(before: Path, after: Path) -> bool:
    """Whether two scans stored the same pairs with the same scores and reasons; prints how
    they differ (the queue's pairs must not move when only the scan's speed changes)."""
    with before.open("rb") as handle:
        old = {(a, b): (score, reasons) for a, b, score, reasons in pickle.load(handle)}
    with after.open("rb") as handle:
        new = {(a, b): (score, reasons) for a, b, score, reasons in pickle.load(handle)}
    lost = sorted(old.keys() - new.keys())
    gained = sorted(new.keys() - old.keys())
    rescored = sorted(k for k in old.keys() & new.keys() if old[k][0] != new[k][0])
    explained = sorted(k for k in old.keys() & new.keys() if old[k] != new[k])
    same = not (lost or gained or explained)
    print(
        f"{'':>19} {before.name} → {after.name}: {len(old):,} → {len(new):,} pairs; "
        f"lost {len(lost):,}, gained {len(gained):,}, score changed {len(rescored):,}, "
        f"reasons changed {len(explained) - len(rescored):,}: "
        + ("IDENTICAL" if same else f"DIFFERENT, e.g. {(lost + gained + explained)[:5]}"),
        flush=True,
    )
    return same


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orgs", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--previous", default="main", help="git revision; '' to skip")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--pairs",
        type=Path,
        help="keep each run's pairs in this directory ({label}-{orgs}.pickle) and compare a "
        "size's runs with each other and with a `--baseline` directory's",
    )
    parser.add_argument("--baseline", type=Path, help="a `--pairs` directory of an earlier run")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pairs-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--app-root", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        sys.path.insert(0, str(args.app_root))
        print(json.dumps(measure(args.measure, args.workers, args.pairs_out)))
        return
    print(f"previous = {args.previous or '-'}, {args.workers} worker processes", flush=True)
    with contextlib.ExitStack() as stack:
        roots = {"this": ROOT}
        if args.previous:
            roots = {"previous": stack.enter_context(previous_app(args.previous))} | roots
        if args.pairs is not None:
            args.pairs.mkdir(parents=True, exist_ok=True)
        for organisations in args.orgs:
            kept: list[Path] = []
            for label, app_root in roots.items():
                out = None if args.pairs is None else args.pairs / f"{label}-{organisations}.pickle"
                show(label, run(app_root, organisations, args.workers, out))
                if out is not None:
                    kept.append(out)
            if args.baseline is not None and args.pairs is not None:
                earlier = args.baseline / f"previous-{organisations}.pickle"
                if not earlier.exists():
                    earlier = args.baseline / f"this-{organisations}.pickle"
                if earlier.exists():
                    kept.insert(0, earlier)
            for before, after in itertools.pairwise(kept):
                compare(before, after)


if __name__ == "__main__":
    main()
