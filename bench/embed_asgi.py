"""In-process ASGI loop: count route vs the bare constant route, without network or wrk.

Usage: .venv/bin/python bench/embed_asgi.py [--rounds 15] [--requests 500]
Less sensitive to other load on the machine than bench/embed.py: both routes are called
alternately in the same loop on a seeded temporary SQLite database; prints per-request time
and the median of the per-round speed ratios.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SLUG = "global-call-un-mechanism-china"


def scope(
    path: str, query: bytes = b"", headers: tuple[tuple[bytes, bytes], ...] = ()
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": query,
        "headers": [(b"host", b"bench"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }


async def main(args: argparse.Namespace) -> None:
    from app.cli import run_migrations, run_seed

    run_migrations()
    run_seed()
    sys.path.insert(0, str(ROOT))
    from bench.embed_app import app

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        return None

    async def per_request(target: dict[str, Any]) -> float:
        start = time.perf_counter()
        for _ in range(args.requests):
            await app(target, receive, send)
        return (time.perf_counter() - start) / args.requests * 1e6

    targets = {
        "constant (async def)": scope("/bench/constant-async"),
        "count 200": scope(f"/api/v1/letters/{SLUG}/count", b"locale=en"),
        "count 304": scope(f"/api/v1/letters/{SLUG}/count", b"locale=en"),
        "count 200, Accept-Language": scope(
            f"/api/v1/letters/{SLUG}/count", headers=((b"accept-language", b"ru-RU,ru;q=0.9"),)
        ),
        "badge 200 (ar)": scope(f"/api/v1/letters/{SLUG}/badge.svg", b"locale=ar"),
    }
    etag: list[bytes] = []

    async def capture(message: MutableMapping[str, Any]) -> None:
        etag.extend(v for k, v in message.get("headers", []) if k == b"etag")

    await app(targets["count 200"], receive, capture)
    targets["count 304"]["headers"].append((b"if-none-match", etag[0]))
    times: dict[str, list[float]] = {name: [] for name in targets}
    for _ in range(args.rounds):
        for name, target in targets.items():
            times[name].append(await per_request(target))
    base = times["constant (async def)"]
    print("| endpoint | µs per request | speed ÷ constant (async def) |\n|---|---|---|")
    for name, values in times.items():
        ratio = statistics.median(b / v for b, v in zip(base, values, strict=True))
        print(f"| {name} | {statistics.median(values):.0f} | {ratio:.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--requests", type=int, default=500)
    directory = tempfile.mkdtemp(prefix="undersigned-bench-")
    os.environ["UNDERSIGNED_DATABASE_URL"] = f"sqlite:///{directory}/bench.db"
    asyncio.run(main(parser.parse_args()))
