"""`undersigned import` and `undersigned export` against the test database."""

import csv
import io
from pathlib import Path

from fastapi.testclient import TestClient
from typer.testing import CliRunner

from app.cli import app
from tests.imports.test_imports_api import DATA, signatures_of


def test_cli_import_dry_run_then_real_then_export(
    client: TestClient, admin_headers, seeded: str, make_letter, tmp_path: Path
) -> None:
    make_letter(admin_headers, slug="cli-letter")
    runner = CliRunner()
    paste = str(DATA / "seed004_signatories.txt")
    dry = runner.invoke(app, ["import", paste, "--letter", "cli-letter", "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "dry run: nothing written" in dry.output
    assert "existing" in dry.output and "281" in dry.output
    assert signatures_of("cli-letter") == []

    real = runner.invoke(app, ["import", paste, "--letter", "cli-letter"])
    assert real.exit_code == 0, real.output
    assert "applied" in real.output
    assert len(signatures_of("cli-letter")) == 281

    out = tmp_path / "export.csv"
    exported = runner.invoke(
        app, ["export", "--letter", seeded, "--format", "csv", "--output", str(out)]
    )
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 320 and sum(r["anonymous"] == "true" for r in rows) == 39

    public = runner.invoke(app, ["export", "--letter", seeded, "--format", "json", "--public"])
    assert public.exit_code == 0
    assert '"full": false' in public.output and '"anonymous": true' not in public.output


def test_cli_import_with_errors_writes_nothing(
    client: TestClient, admin_headers, make_letter, tmp_path: Path
) -> None:
    make_letter(admin_headers)
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "position,name,other_names,kind,lang,country,website,anonymous\n"
        "1,Good Org,,,,,,false\n"
        "2,Bad Org,,alien,,,,false\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    refused = runner.invoke(app, ["import", str(bad), "--letter", "test-letter"])
    assert refused.exit_code == 1
    assert "kind" in refused.output
    assert signatures_of("test-letter") == []
    skipped = runner.invoke(app, ["import", str(bad), "--letter", "test-letter", "--skip-errors"])
    assert skipped.exit_code == 0, skipped.output
    assert [r[3] for r in signatures_of("test-letter")] == ["Good Org"]
