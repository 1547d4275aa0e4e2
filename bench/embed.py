"""Load test of the partner endpoints with wrk, against a bare constant route in the same server.

Usage: .venv/bin/python bench/embed.py [--seconds 8] [--rounds 3] [--port 8500]
Needs Debian's `wrk`. Starts uvicorn (1 worker, then 4) on a seeded temporary SQLite database,
and for each target runs wrk --latency; targets are interleaved round by round so that noise
from other processes on the machine hits them alike. Prints a Markdown table (medians).
"""

import argparse
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
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SLUG = "global-call-un-mechanism-china"
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def prepare_database(directory: Path) -> str:
    url = f"sqlite:///{directory}/bench.db"
    env = os.environ | {"UNDERSIGNED_DATABASE_URL": url}
    code = "from app.cli import run_migrations, run_seed; run_migrations(); run_seed()"
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True)
    return url


def start_server(url: str, port: int, workers: int) -> subprocess.Popen[bytes]:
    env = os.environ | {"UNDERSIGNED_DATABASE_URL": url, "UNDERSIGNED_LOG_LEVEL": "warning"}
    command = [
        sys.executable, "-m", "uvicorn", "bench.embed_app:app",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/healthz", timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def wrk(
    url: str, *, seconds: int, connections: int, headers: dict[str, str]
) -> tuple[float, float]:
    """(requests per second, p99 latency in ms) of one wrk run."""
    command = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    if "Non-2xx or 3xx responses" in output:
        raise SystemExit(f"errors from {url}:\n{output}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"\s99%\s+([\d.]+)(us|ms|s)", output).groups()  # type: ignore[union-attr]
    return rps, float(value) * _UNITS[unit]


def run(
    port: int, workers: int, url: str, args: argparse.Namespace
) -> dict[str, list[tuple[float, float]]]:
    server = start_server(url, port, workers)
    base = f"http://127.0.0.1:{port}"
    try:
        with urllib.request.urlopen(f"{base}/api/v1/letters/{SLUG}/count?locale=en") as response:
            etag = response.headers["ETag"]
            assert json.load(response)["total"] == 320
        targets = {
            "constant (def)": (f"{base}/bench/constant", {}),
            "constant (async def)": (f"{base}/bench/constant-async", {}),
            "count 200": (f"{base}/api/v1/letters/{SLUG}/count?locale=en", {}),
            "count 304": (f"{base}/api/v1/letters/{SLUG}/count?locale=en", {"If-None-Match": etag}),
            "count 200, Accept-Language": (
                f"{base}/api/v1/letters/{SLUG}/count",
                {"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"},
            ),
            "badge 200 (ar)": (f"{base}/api/v1/letters/{SLUG}/badge.svg?locale=ar", {}),
        }
        for target, headers in targets.values():  # warm-up: caches, JIT-less but page cache
            wrk(target, seconds=1, connections=args.connections, headers=headers)
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (target, headers) in targets.items():
                samples[name].append(
                    wrk(target, seconds=args.seconds, connections=args.connections, headers=headers)
                )
        return samples
    finally:
        server.terminate()
        server.wait(timeout=20)


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8500)
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="undersigned-bench-") as directory:
        url = prepare_database(Path(directory))
        print(
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, nproc {os.cpu_count()}, {cpu_model()}, "
            f"Python {platform.python_version()}, SQLite, wrk -t2 -c{args.connections} "
            f"-d{args.seconds}s, medians of {args.rounds} interleaved rounds\n"
        )
        print(
            "| workers | endpoint | req/s | p99 ms | req/s ÷ constant (async def) | "
            "p99 ÷ constant (async def) | req/s ÷ constant (def) |"
        )
        print("|---|---|---|---|---|---|---|")
        for workers in args.workers:
            samples = run(args.port, workers, url, args)
            fast = samples["constant (async def)"]
            plain = samples["constant (def)"]
            for name, runs in samples.items():
                # Ratios are taken round by round (each pair ran back to back), then the median.
                rps_ratio = statistics.median(r[0] / b[0] for r, b in zip(runs, fast, strict=True))
                p99_ratio = statistics.median(r[1] / b[1] for r, b in zip(runs, fast, strict=True))
                plain_ratio = statistics.median(
                    r[0] / b[0] for r, b in zip(runs, plain, strict=True)
                )
                print(
                    f"| {workers} | {name} | {statistics.median(r[0] for r in runs):,.0f} | "
                    f"{statistics.median(r[1] for r in runs):.1f} | {rps_ratio:.2f} | "
                    f"{p99_ratio:.2f} | {plain_ratio:.2f} |"
                )


if __name__ == "__main__":
    main()
