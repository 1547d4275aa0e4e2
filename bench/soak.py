"""Soak: mixed traffic against 2 uvicorn workers on a throwaway PostgreSQL database.

    .venv/bin/python bench/soak.py [--duration 600] [--readers 8] [--signers 2]

Count reads at a high rate, signatory pages, signings (named and anonymous);
every 30 s a 200-row import and a real admin merge (two organisations that both signed two
letters), undone every other round. Reports per-kind p50/p99 latency, every non-2xx answer,
and the workers' resident memory over time. Run by hand; results go to docs/benchmarks.md.
"""

import argparse
import asyncio
import os
import random
import secrets
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN = os.environ.get(
    "UNDERSIGNED_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
PORT = int(os.environ.get("SOAK_PORT", "8719"))
TOKEN = "soak-admin-token-" + secrets.token_hex(8)
ADMIN = {"Authorization": f"Bearer {TOKEN}"}


def rss_mb(parent: int) -> list[float]:
    children = subprocess.run(
        ["ps", "-o", "pid=", "--ppid", str(parent)], capture_output=True, text=True
    ).stdout.split()
    sizes = []
    for pid in children:
        status = Path(f"/proc/{pid}/status")
        if status.exists():
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
    return sizes


async def main(args: argparse.Namespace) -> None:
    name = f"undersigned_soak_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    env = os.environ | {
        "UNDERSIGNED_DATABASE_URL": url,
        "UNDERSIGNED_ADMIN_TOKEN": TOKEN,
        "UNDERSIGNED_RATE_LIMIT_ENABLED": "false",  # one loopback client stands for many
        "UNDERSIGNED_DB_POOL_SIZE": "8",
        "UNDERSIGNED_DB_MAX_OVERFLOW": "4",
    }
    subprocess.run([sys.executable, "-m", "app.cli", "migrate"], cwd=ROOT, env=env, check=True)
    subprocess.run([sys.executable, "-m", "app.cli", "seed"], cwd=ROOT, env=env, check=True)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app.main:app", "--port", str(PORT), "--workers", "2",
         "--log-level", "warning"],
        cwd=ROOT, env=env, start_new_session=True,
    )  # fmt: skip
    base = f"http://127.0.0.1:{PORT}"
    latencies: dict[str, list[float]] = {}
    errors: dict[str, int] = {}
    memory: list[tuple[float, list[float]]] = []
    merges = [0, 0]  # merges made, merges undone
    try:
        async with httpx.AsyncClient(base_url=base, timeout=60) as client:
            for _ in range(300):
                try:
                    if (await client.get("/api/v1/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.1)
            slug = "global-call-un-mechanism-china"
            soak = {"slug": "soak-letter", "title": "Soak", "lang": "en", "status": "open"}
            await client.post("/api/v1/letters", json=soak, headers=ADMIN)
            await client.post(
                "/api/v1/letters", json=soak | {"slug": "soak-letter-2"}, headers=ADMIN
            )
            deadline = time.monotonic() + args.duration

            async def timed(kind: str, method: str, path: str, **kw: object) -> httpx.Response:
                start = time.perf_counter()
                response = await client.request(method, path, **kw)  # type: ignore[arg-type]
                latencies.setdefault(kind, []).append(time.perf_counter() - start)
                if response.status_code >= 400:
                    key = f"{kind} {response.status_code}"
                    errors[key] = errors.get(key, 0) + 1
                return response

            async def reader(index: int) -> None:
                rng = random.Random(index)
                while time.monotonic() < deadline:
                    if rng.random() < 0.9:
                        await timed("count", "GET", f"/api/v1/letters/{slug}/count")
                    else:
                        await timed(
                            "signatories", "GET", f"/api/v1/letters/{slug}/signatories?lang=en"
                        )

            async def signer(index: int) -> None:
                counter = 0
                while time.monotonic() < deadline:
                    counter += 1
                    body = (
                        {"anonymous": True}
                        if counter % 5 == 0
                        else {"organisation": {"name": f"Soak Org {index}-{counter}"}}
                    )
                    await timed(
                        "sign",
                        "POST",
                        "/api/v1/letters/soak-letter/signatures",
                        json=body,
                        headers=ADMIN,
                    )
                    await asyncio.sleep(0.05)

            async def bulk() -> None:
                # Every 30 s: a 200-row import, then a real merge of two organisations that
                # both signed both soak letters (one duplicate per letter is retired), undone
                # every other round so undo runs under load too.
                counter = 0
                while time.monotonic() < deadline:
                    counter += 1
                    rows = "\n".join(f"{i}. Imported Org {counter}-{i}" for i in range(1, 201))
                    await timed("import", "POST", "/api/v1/letters/soak-letter/imports",
                                content=rows.encode(), headers=ADMIN | {"content-type": "text/plain"})  # fmt: skip
                    tag = secrets.token_hex(4)
                    ids = []
                    for name in (f"Merge Survivor {tag}", f"Duplicate Body {counter} {tag}"):
                        for letter in ("soak-letter", "soak-letter-2"):
                            response = await timed(
                                "sign", "POST", f"/api/v1/letters/{letter}/signatures",
                                json={"organisation": {"name": name}}, headers=ADMIN,
                            )  # fmt: skip
                            ids.append(response.json().get("organisation_id"))
                    survivor, duplicate = ids[0], ids[2]
                    if survivor and duplicate and survivor != duplicate:
                        merged = await timed(
                            "merge", "POST", "/api/v1/admin/merges",
                            json={"survivor_id": survivor, "merged_ids": [duplicate]}, headers=ADMIN,
                        )  # fmt: skip
                        merges[0] += merged.status_code == 201
                        if merged.status_code == 201 and counter % 2 == 0:
                            undone = await timed(
                                "undo", "POST",
                                f"/api/v1/admin/merges/{merged.json()['merge_id']}/undo",
                                json={"record_different": True}, headers=ADMIN,
                            )  # fmt: skip
                            merges[1] += undone.status_code == 200
                    await asyncio.sleep(30)

            async def sampler() -> None:
                start = time.monotonic()
                while time.monotonic() < deadline:
                    memory.append((time.monotonic() - start, rss_mb(server.pid)))
                    await asyncio.sleep(10)
                memory.append((time.monotonic() - start, rss_mb(server.pid)))

            await asyncio.gather(
                *(reader(i) for i in range(args.readers)),
                *(signer(i) for i in range(args.signers)),
                bulk(),
                sampler(),
            )
            count = (await client.get("/api/v1/letters/soak-letter/count")).json()
        plain = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain) as conn:
            recount = conn.execute(
                "SELECT count(*) FROM signature s JOIN letter l ON l.id = s.letter_id "
                "WHERE l.slug = 'soak-letter' AND s.withdrawn_at IS NULL"
            ).fetchone()
            # One live signature per (letter, organisation), none on a merged-away one.
            duplicates = sum(
                int((conn.execute(sql).fetchone() or (0,))[0])
                for sql in (
                    "SELECT count(*) FROM signature s JOIN organisation o "
                    "ON o.id = s.organisation_id "
                    "WHERE s.withdrawn_at IS NULL AND o.merged_into IS NOT NULL",
                    "SELECT count(*) FROM (SELECT letter_id, organisation_id FROM signature "
                    "WHERE withdrawn_at IS NULL AND organisation_id IS NOT NULL "
                    "GROUP BY 1, 2 HAVING count(*) > 1) d",
                )
            )
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    print(f"duration {args.duration}s, readers {args.readers}, signers {args.signers}")
    print("| kind | requests | req/s | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|")
    for kind, values in sorted(latencies.items()):
        values.sort()
        p99 = values[min(len(values) - 1, int(len(values) * 0.99))]
        print(
            f"| {kind} | {len(values)} | {len(values) / args.duration:.1f} | "
            f"{statistics.median(values) * 1000:.1f} | {p99 * 1000:.1f} | {values[-1] * 1000:.1f} |"
        )
    print("errors:", errors or "none")
    print(f"merges {merges[0]}, undone {merges[1]}, live duplicates {duplicates}")
    print("count total", count["total"], "recount", recount[0] if recount else None)
    for elapsed, sizes in memory[:: max(1, len(memory) // 8)] + memory[-1:]:
        print(f"t={elapsed:5.0f}s worker RSS MB: {', '.join(f'{s:.1f}' for s in sizes)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=600)
    parser.add_argument("--readers", type=int, default=8)
    parser.add_argument("--signers", type=int, default=2)
    asyncio.run(main(parser.parse_args()))
