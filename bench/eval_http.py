"""Resolution quality through the HTTP API, as the recall issue is checked (run by hand):

    .venv/bin/python bench/eval_http.py QUERIES.tsv [QUERIES.tsv ...]

Starts `undersigned serve` on a throwaway SQLite database (the seed letter loads itself),
mints a coordinator token with the CLI, and sends every query of each file to
`GET /api/v1/organisations/match`. A query counts as linked when the first candidate's
decision is `same`; its organisation is mapped back to the seed entry by the seed letter's
signature positions. Precision, recall and F1 are counted like `undersigned eval-resolution`
(queries of the category `translation` are left out of them; the real set's `real-translation`
counts), and the script then compares
query by query with `undersigned eval-resolution --json` on the same file: the API and the
signing code path must take the same decisions.
"""

import json
import os
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SLUG = "global-call-un-mechanism-china"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def read(path: Path) -> list[tuple[str, set[int] | None, str]]:
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        query, expected, category = line.split("\t")[:3]
        wanted = None if expected.strip() == "NEW" else {int(e) for e in expected.split("|")}
        rows.append((query, wanted, category.strip()))
    return rows


def match(client: httpx.Client, name: str) -> dict[str, object] | None:
    while True:
        response = client.get("/api/v1/organisations/match", params={"name": name, "limit": 5})
        if response.status_code == 429:
            time.sleep(float(response.headers.get("Retry-After", "1")))
            continue
        response.raise_for_status()
        candidates = response.json()
        return candidates[0] if candidates else None


def evaluate(client: httpx.Client, db: Path, path: Path) -> dict[str, object]:
    with sqlite3.connect(db) as conn:
        entry_of = dict(
            conn.execute(
                "SELECT s.organisation_id, s.position FROM signature s JOIN letter l"
                " ON l.id = s.letter_id WHERE l.slug = ? AND s.organisation_id IS NOT NULL",
                (SLUG,),
            ).fetchall()
        )
    true_links = false_links = expected_links = 0
    decisions = {}
    for query, wanted, category in read(path):
        counted = category != "translation"
        top = match(client, query)
        linked = None
        if top is not None and top["decision"] == "same":
            linked = entry_of.get(int(str(top["organisation_id"])), -1)
        decisions[query] = linked
        if linked is not None and (wanted is None or linked not in wanted):
            false_links += 1
        elif linked is not None and counted:
            true_links += 1
        if wanted is not None and counted:
            expected_links += 1
    predicted = true_links + false_links
    precision = true_links / predicted if predicted else 1.0
    recall = true_links / expected_links if expected_links else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "false_links": false_links,
        "decisions": decisions,
    }


def compare(path: Path, decisions: dict[str, object]) -> list[str]:
    """Queries where the signing path (eval-resolution) links otherwise than the API."""
    report = json.loads(
        subprocess.run(
            [BIN / "undersigned", "eval-resolution", "--queries", str(path), "--json", "--all"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    differ = []
    for result in report["results"]:
        linked = result["linked_entry"] if result["status"] == "existing" else None
        if decisions.get(result["query"]) != linked:
            differ.append(f"{result['query']}: API {decisions.get(result['query'])}, sign {linked}")
    return differ


def main(paths: list[Path]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "eval.db"
        url = f"sqlite:///{db}"
        port = free_port()
        env = {**os.environ, "UNDERSIGNED_DATABASE_URL": url}
        server = subprocess.Popen(
            [BIN / "undersigned", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            for _ in range(600):
                try:
                    if httpx.get(base + "/api/v1/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.1)
            minted = subprocess.run(
                [BIN / "undersigned", "token", "create", "--role", "coordinator", "--letter", SLUG],
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout
            token = minted.strip().splitlines()[-1].strip()
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
                for path in paths:
                    figures = evaluate(client, db, path)
                    decisions = figures.pop("decisions")
                    assert isinstance(decisions, dict)
                    differ = compare(path, decisions)
                    print(
                        f"{path.name}: {json.dumps(figures)}; differs from signing: {len(differ)}"
                    )
                    for line in differ:
                        print("   ", line)
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main([Path(p) for p in sys.argv[1:]])
