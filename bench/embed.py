"""Public pages under load with wrk: this checkout, the previous commit, and a bare app.

Usage: .venv/bin/python bench/embed.py [--seconds 3] [--rounds 3] [--connections 16]
       [--workers 1 2] [--previous REV] [--port 8500]

Starts, side by side on one machine:
- `bare`: a FastAPI app outside the project (no database, no middleware: bench/embed_bare.py)
  serving from memory the exact bytes the project serves for each path;
- `this`: this checkout's app (`app.main:app`, every middleware in front) on a seeded
  temporary SQLite database;
- `previous`: the same for `--previous` (default HEAD~1 of this checkout; `--previous ''` to
  skip), checked out into a temporary worktree.
The project's servers run at their defaults except the per-IP read budget, raised so that
wrk's one address is never refused (the limiter still runs its whole path on every request:
its cost is in the figures). Targets are interleaved round by round, and each figure is
the median of its rounds; ratios are taken to the bare app round by round. Prints the load
average before and after. Needs Debian's `wrk` (apt-get install -y wrk).
"""

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "global-call-un-mechanism-china"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}
PATHS = {
    "letter page": f"/letters/{SLUG}?locale=en",
    "widget": f"/embed/{SLUG}?locale=en",
    "count": f"/api/v1/letters/{SLUG}/count?locale=en",
    "badge": f"/api/v1/letters/{SLUG}/badge.svg?locale=en",
}
# Revalidations (If-None-Match with the current ETag): only the project answers them.
CONDITIONAL = ("letter page", "count")
# Raised so that one wrk address is never refused; everything else stays at its default.
BUDGET = {
    "UNDERSIGNED_RATE_LIMIT_READ_PER_SECOND": "10000000",
    "UNDERSIGNED_RATE_LIMIT_READ_BURST": "10000000",
}


def load_average() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def prepare_database(root: Path, directory: Path) -> str:
    url = f"sqlite:///{directory}/bench.db"
    env = os.environ | {"UNDERSIGNED_DATABASE_URL": url}
    code = (
        "from app import listeners; from app.cli import run_migrations, run_seed; "
        "listeners.install(); run_migrations(); run_seed()"
    )
    subprocess.run([sys.executable, "-c", code], cwd=root, env=env, check=True)
    return url


def start(
    command: list[str], *, cwd: Path, env: dict[str, str], ready: str
) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(command, cwd=cwd, env=os.environ | env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(ready, timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"the server for {ready} did not start")


def uvicorn(app: str, port: int, workers: int) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", str(port),
        "--workers", str(workers), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip


def wrk(
    url: str, *, seconds: int, connections: int, headers: dict[str, str]
) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) of one wrk run; any error response aborts."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise SystemExit(f"errors from {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rps, float(value) * _UNITS[unit]


def fetch(url: str) -> tuple[str, bytes, str]:
    with urllib.request.urlopen(url) as response:
        return response.headers["Content-Type"], response.read(), response.headers.get("ETag", "")


@contextlib.contextmanager
def previous_checkout(revision: str) -> Iterator[Path | None]:
    if not revision:
        yield None
        return
    directory = Path(tempfile.mkdtemp(prefix="undersigned-previous-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(directory), revision],
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "compile", "-d",
             "app/i18n/locales", "-D", "messages"],
            cwd=directory, check=False,
        )  # fmt: skip
        yield directory
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(directory)], check=False
        )


def run(
    workers: int, roots: dict[str, Path], args: argparse.Namespace, directory: Path
) -> dict[tuple[str, str], list[tuple[float, float]]]:
    servers = []
    bases: dict[str, str] = {}
    etags: dict[tuple[str, str], str] = {}
    try:
        for index, (name, root) in enumerate(roots.items(), start=1):
            url = prepare_database(root, directory / f"{name}-{workers}")
            port = args.port + index
            env = BUDGET | {"UNDERSIGNED_DATABASE_URL": url, "UNDERSIGNED_LOG_LEVEL": "warning"}
            servers.append(
                start(
                    uvicorn("app.main:app", port, workers),
                    cwd=root,
                    env=env,
                    ready=f"http://127.0.0.1:{port}/api/v1/healthz",
                )
            )
            bases[name] = f"http://127.0.0.1:{port}"
        # The bare app serves the bytes this checkout serves, path for path.
        captured = {}
        for kind, path in PATHS.items():
            media_type, body, etag = fetch(bases["this"] + path)
            captured[path.split("?")[0]] = (media_type, body.hex())
            for name, base in bases.items():
                etags[(name, kind)] = fetch(base + path)[2] if name != "this" else etag
        bytes_file = directory / f"bare-{workers}.json"
        bytes_file.write_text(json.dumps(captured))
        servers.append(
            start(
                uvicorn("bench.embed_bare:app", args.port, workers),
                cwd=ROOT,
                env={"BENCH_BARE_BYTES": str(bytes_file)},
                ready=f"http://127.0.0.1:{args.port}" + PATHS["count"].split("?")[0],
            )
        )
        bases = {"bare": f"http://127.0.0.1:{args.port}"} | bases
        targets: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}
        for kind, path in PATHS.items():
            for name, base in bases.items():
                targets[(name, kind)] = (base + path, {})
                if kind in CONDITIONAL and name != "bare" and etags.get((name, kind)):
                    targets[(name, kind + " 304")] = (
                        base + path,
                        {"If-None-Match": etags[(name, kind)]},
                    )
        for url, headers in targets.values():  # warm-up: caches, imports, first renders
            wrk(url, seconds=1, connections=args.connections, headers=headers)
        samples: dict[tuple[str, str], list[tuple[float, float]]] = {key: [] for key in targets}
        for _ in range(args.rounds):
            for key, (url, headers) in targets.items():
                samples[key].append(
                    wrk(url, seconds=args.seconds, connections=args.connections, headers=headers)
                )
        return samples
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--previous", default="HEAD~1", help="git revision; '' to skip")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install -y wrk")
    started = load_average()
    with (
        tempfile.TemporaryDirectory(prefix="undersigned-bench-") as temporary,
        previous_checkout(args.previous) as previous,
    ):
        directory = Path(temporary)
        roots = {"this": ROOT} | ({"previous": previous} if previous else {})
        for name in roots:
            for workers in args.workers:
                (directory / f"{name}-{workers}").mkdir()
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, {cpu_model()}, "
            f"Python {platform.python_version()}, SQLite (seed letter), wrk -t2 "
            f"-c{args.connections} -d{args.seconds}s, medians of {args.rounds} interleaved "
            f"rounds, previous = {args.previous or '-'}; load average at start {started}\n"
        )
        print("| workers | route | server | req/s | p99 ms | req/s ÷ bare |")
        print("|---|---|---|---|---|---|")
        for workers in args.workers:
            samples = run(workers, roots, args, directory)
            for (name, kind), runs in samples.items():
                bare = samples[("bare", kind.removesuffix(" 304"))]
                ratio = statistics.median(r[0] / b[0] for r, b in zip(runs, bare, strict=True))
                print(
                    f"| {workers} | {kind} | {name} | "
                    f"{statistics.median(r[0] for r in runs):,.0f} | "
                    f"{statistics.median(r[1] for r in runs):.1f} | {ratio:.3f} |"
                )
    print(f"\nload average at end {load_average()}")


if __name__ == "__main__":
    main()
