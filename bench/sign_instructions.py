"""Instructions per signature, this checkout against another, counted by callgrind.

    .venv/bin/python bench/sign_instructions.py [--previous REV] [--signatures 150]
        [--clients 1 4]

Timings on a shared machine move by a third with other sessions' load; the number of
instructions a worker runs per signature does not (±0.5 % run to run). For each checkout: a
throwaway PostgreSQL database (migrated, seeded), `undersigned serve --workers 1` under
`valgrind --tool=callgrind --instr-atstart=no`, one open letter, 40 signatures to warm up,
then counting switched on for `--signatures` signatures of new organisations over HTTP from
`--clients` threads, as `bench/hot_letter.py` signs (the environment's admin token, names that
differ by a number). Background threads that do not serve requests are off (identity checks,
the duplicate queue's catch-up, webhook deliveries), so what is counted is the request path
and what it leaves to the worker's own threads. PostgreSQL's work is not counted (another
process). The checkouts run side by side; valgrind serialises each worker's threads, so a
request takes ~0.3 s and CPU contention changes no count.
"""

import argparse
import concurrent.futures
import glob
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg
from hot_letter import PG_ADMIN, ROOT, checkout


def count(root: Path, *, port: int, signatures: int, clients: int) -> float:
    """Millions of instructions per signature of one worker serving this checkout."""
    name = f"undersigned_instr_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    token = "instr-admin-" + secrets.token_hex(8)
    dsn = PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    env = os.environ | {
        "UNDERSIGNED_DATABASE_URL": dsn.replace("postgresql://", "postgresql+psycopg://"),
        "UNDERSIGNED_ADMIN_TOKEN": token,
        "UNDERSIGNED_RATE_LIMIT_ENABLED": "false",
        "UNDERSIGNED_LOG_LEVEL": "warning",
        "UNDERSIGNED_IDENTITY_CHECKS_IN_BACKGROUND": "false",
        "UNDERSIGNED_WEBHOOKS_IN_BACKGROUND": "false",
    }
    out = Path(tempfile.mkdtemp(prefix="undersigned-callgrind-")) / "callgrind.out"
    process = None
    try:
        for step in ("migrate", "seed"):
            subprocess.run(
                [sys.executable, "-m", "app.cli", step],
                cwd=root, env=env, check=True, capture_output=True,
            )  # fmt: skip
        process = subprocess.Popen(
            ["valgrind", "--tool=callgrind", "--instr-atstart=no",
             f"--callgrind-out-file={out}", sys.executable, "-m", "app.cli", "serve",
             "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
            cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/api/v1/healthz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(1)
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{base}/api/v1/letters",
            json={"slug": "hot", "title": "Hot", "lang": "en", "body": "We ask.",
                  "status": "open"},
            headers=headers, timeout=300,
        )  # fmt: skip
        assert created.status_code == 201, created.text
        limits = httpx.Limits(max_connections=clients)
        with httpx.Client(base_url=base, headers=headers, timeout=600, limits=limits) as client:

            def sign(number: int) -> None:
                # As wrk's two threads name them (bench/hot_letter.py): the thread, 1 or 2,
                # then its own count, so that both threads write every count.
                name = f"Hot Letter Signer hot-1 {1 + number % 2} {1 + number // 2:07d}"
                answer = client.post(
                    "/api/v1/letters/hot/signatures", json={"organisation": {"name": name}}
                )
                assert answer.status_code == 201, answer.text

            for number in range(40):
                sign(number)
            for switch in (["-z"], ["-i", "on"]):
                subprocess.run(["callgrind_control", *switch, str(process.pid)], check=True,
                               capture_output=True)  # fmt: skip
            with concurrent.futures.ThreadPoolExecutor(clients) as pool:
                list(pool.map(sign, range(1000, 1000 + signatures)))
            for switch in (["-i", "off"], ["-d"]):
                subprocess.run(["callgrind_control", *switch, str(process.pid)], check=True,
                               capture_output=True)  # fmt: skip
        time.sleep(1)
        total = 0
        for dump in glob.glob(f"{out}*"):
            with open(dump) as lines:
                total += sum(int(line.split()[1]) for line in lines if line.startswith("totals:"))
        return total / signatures / 1e6
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=120)
        for dump in glob.glob(f"{out}*"):
            os.remove(dump)
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--previous", default="HEAD~1")
    parser.add_argument("--signatures", type=int, default=150)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--port", type=int, default=8750)  # outside the tests' 8700-8719
    args = parser.parse_args()
    print(f"previous = {args.previous}; load average {os.getloadavg()[0]:.2f}\n")
    print("| clients | this, M instructions per signature | previous | change |")
    print("|---|---|---|---|")
    with checkout(args.previous) as previous, concurrent.futures.ThreadPoolExecutor(2) as pool:
        for clients in args.clients:
            ours, theirs = (
                pool.submit(
                    count, root, port=args.port + n, signatures=args.signatures, clients=clients
                )
                for n, root in enumerate((ROOT, previous))
            )
            mine, before = ours.result(), theirs.result()
            print(f"| {clients} | {mine:.2f} | {before:.2f} | {100 * (mine / before - 1):+.1f} % |")


if __name__ == "__main__":
    main()
