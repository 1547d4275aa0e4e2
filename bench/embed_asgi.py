"""In-process ASGI loop: the public routes against the bare app, without network or wrk.

Usage: .venv/bin/python bench/embed_asgi.py [--rounds 15] [--requests 2000] [--profile ROUTE]

The project's app (`app.main.create_app()`, every middleware in front, per-IP read budget
raised as in bench/embed.py) and the bare app of bench/embed_bare.py (serving the bytes the
project serves, path for path) are called alternately in one event loop on a seeded temporary
SQLite database. No HTTP parsing and no sockets, so what differs between the two is only what
each app does per request: the least noisy view of the project's own cost (uvicorn's part,
the same for both, is what makes wrk's ratios higher than these). `--profile ROUTE` runs
cProfile over the project's hits of one route and prints the top of the profile.
"""

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SLUG = "global-call-un-mechanism-china"
ROUTES = {
    "letter page": (f"/letters/{SLUG}", b"locale=en"),
    "widget": (f"/embed/{SLUG}", b"locale=en"),
    "count": (f"/api/v1/letters/{SLUG}/count", b"locale=en"),
    "badge": (f"/api/v1/letters/{SLUG}/badge.svg", b"locale=en"),
}


def scope(path: str, query: bytes, headers: list[tuple[bytes, bytes]]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [
            (b"host", b"127.0.0.1:8501"),
            (b"user-agent", b"wrk"),
            (b"accept", b"*/*"),
            *headers,
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8501),
        "state": {},
    }


async def receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def discard(message: MutableMapping[str, Any]) -> None:
    return None


async def capture(app: Any, target: dict[str, Any]) -> tuple[int, dict[bytes, bytes], bytes]:
    got: dict[str, Any] = {"body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            got["status"], got["headers"] = message["status"], dict(message["headers"])
        else:
            got["body"] += message.get("body", b"")

    await app(dict(target), receive, send)
    return got["status"], got["headers"], got["body"]


async def main(args: argparse.Namespace, directory: Path) -> None:
    from app import listeners
    from app.cli import run_migrations, run_seed

    listeners.install()
    run_migrations()
    run_seed()
    from app.main import create_app

    project = create_app()
    targets: dict[tuple[str, str], dict[str, Any]] = {}
    captured: dict[str, tuple[str, str]] = {}
    for kind, (path, query) in ROUTES.items():
        status, headers, body = await capture(project, scope(path, query, []))
        assert status == 200, (kind, status)
        captured[path] = (headers[b"content-type"].decode(), body.hex())
        targets[("this", kind)] = scope(path, query, [])
        targets[("this", kind + " 304")] = scope(
            path, query, [(b"if-none-match", headers[b"etag"])]
        )
    bytes_file = directory / "bare.json"
    bytes_file.write_text(json.dumps(captured))
    os.environ["BENCH_BARE_BYTES"] = str(bytes_file)
    sys.path.insert(0, str(ROOT))
    from bench.embed_bare import app as bare

    apps = {"bare": bare, "this": project}
    for kind, (path, query) in ROUTES.items():
        targets[("bare", kind)] = scope(path, query, [])
    targets = dict(sorted(targets.items(), key=lambda item: (item[0][1], item[0][0] != "bare")))

    async def per_request(app: Any, target: dict[str, Any]) -> float:
        start = time.perf_counter()
        for _ in range(args.requests):
            await app(dict(target), receive, discard)
        return (time.perf_counter() - start) / args.requests * 1e6

    if args.profile:
        target = targets[("this", args.profile)]
        await per_request(project, target)
        profiler = cProfile.Profile()
        profiler.enable()
        await per_request(project, target)
        profiler.disable()
        pstats.Stats(profiler).sort_stats("tottime").print_stats(35)
        return
    times: dict[tuple[str, str], list[float]] = {key: [] for key in targets}
    for _ in range(args.rounds):
        for key, target in targets.items():
            times[key].append(await per_request(apps[key[0]], target))
    print("| route | app | µs per request | speed ÷ bare |\n|---|---|---|---|")
    for (name, kind), values in times.items():
        base = times[("bare", kind.removesuffix(" 304"))]
        ratio = statistics.median(b / v for b, v in zip(base, values, strict=True))
        print(f"| {kind} | {name} | {statistics.median(values):.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--profile", choices=[*ROUTES, *(k + " 304" for k in ROUTES)])
    directory = Path(tempfile.mkdtemp(prefix="undersigned-bench-"))
    os.environ["UNDERSIGNED_DATABASE_URL"] = f"sqlite:///{directory}/bench.db"
    os.environ["UNDERSIGNED_LOG_LEVEL"] = "warning"
    os.environ["UNDERSIGNED_RATE_LIMIT_READ_PER_SECOND"] = "10000000"
    os.environ["UNDERSIGNED_RATE_LIMIT_READ_BURST"] = "10000000"
    asyncio.run(main(parser.parse_args(), directory))
