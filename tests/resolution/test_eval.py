"""The evaluation command on the development set: 0 false links, F1 ≥ 0.97."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# A copy of shared/data/dedup_dev_queries.tsv, so that CI never depends on a path outside the repo.
DEV_SET = Path(
    os.environ.get(
        "UNDERSIGNED_DEV_QUERIES", Path(__file__).parent / "data" / "dedup_dev_queries.tsv"
    )
)
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_eval_resolution_on_dev_set(tmp_path: Path) -> None:
    env = os.environ | {"UNDERSIGNED_DATABASE_URL": f"sqlite:///{tmp_path}/unused.db"}
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "eval-resolution", "--queries", str(DEV_SET), "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["false_links"] == 0
    assert report["f1"] >= 0.97
    statuses = {r["status"] for r in report["results"]}
    assert statuses <= {"existing", "needs_review", "new"}
    assert all(r["reasons"] or r["status"] == "new" for r in report["results"])
