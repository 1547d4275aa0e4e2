"""`undersigned eval-resolution` with the seed served from the machine's snapshot.

    .venv/bin/python bench/eval_snapshot.py QUERIES.tsv [--json]

As the evaluation command, but after the seed is loaded the snapshot is written afresh and
the registry reloaded from it (UNDERSIGNED_RESOLUTION_INDEX_MIN=0, a temporary directory):
every organisation is then served from the mapped file, none from the per-worker delta.
Prints the report (the same JSON as the command's `--json`, without its `misses` list) so
that it can be compared with the command's output (decision 0093).
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

FOLDER = tempfile.mkdtemp(prefix="eval-snapshot-")
os.environ["UNDERSIGNED_RESOLUTION_INDEX_MIN"] = "0"
os.environ["UNDERSIGNED_RESOLUTION_INDEX_DIR"] = FOLDER

import app.evaluation as evaluation  # noqa: E402
from app import listeners  # noqa: E402
from app.resolution import registry, snapshot  # noqa: E402
from app.resolution import service as identity  # noqa: E402

_load_seed = evaluation.load_seed  # type: ignore[attr-defined]


def _seeded(session):  # type: ignore[no-untyped-def]
    found = _load_seed(session)
    session.commit()
    shutil.rmtree(FOLDER, ignore_errors=True)  # written while seeding: at version 0
    identity.reset_cache()
    return found


def main() -> None:
    listeners.install()
    evaluation.load_seed = _seeded  # type: ignore[attr-defined,assignment]
    report = evaluation.evaluate(Path(sys.argv[1]))
    public = registry._shared.public
    assert isinstance(public, snapshot.MappedIndex) and public.delta_size == 0
    print(f"served from the snapshot: {len(public)} organisations", file=sys.stderr)
    print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
