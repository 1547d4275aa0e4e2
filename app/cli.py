"""The `undersigned` command: serve, migrate, seed, import, export, token, backup, restore."""

from pathlib import Path
from typing import Annotated, Any

import typer
from alembic.config import Config
from rich.console import Console
from rich.table import Table

from app import audit
from app.auth import service as auth_service
from app.config import get_settings
from app.db import open_session

app = typer.Typer(help="Undersigned: open-letter signatory registry.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")
console = Console()
err_console = Console(stderr=True)


def _alembic_config() -> Config:

    root = Path(__file__).resolve().parent.parent
    if not (root / "migrations").is_dir():
        root = Path.cwd()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", get_settings().database_url.replace("%", "%%"))
    return config


def run_migrations() -> None:
    from alembic import command

    command.upgrade(_alembic_config(), "head")


def run_seed() -> bool:
    from app.imports.seed import load_seed

    with open_session(write=True) as session:
        created = load_seed(session)
        session.commit()
    return created


@app.command()
def migrate() -> None:
    """Apply database migrations (alembic upgrade head)."""
    run_migrations()
    console.print("database migrated")


@app.command()
def seed() -> None:
    """Load the seed letter (idempotent)."""
    console.print("seed letter loaded" if run_seed() else "seed letter already present")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes")] = 1,
) -> None:
    """Migrate, seed if empty, and serve the API."""
    import uvicorn

    run_migrations()
    run_seed()
    console.print(f"serving on http://{host}:{port} (API docs at /docs)")
    from app.security.logs import log_config

    settings = get_settings()
    uvicorn.run(
        "app.main:app",
        host=host,
        port=port,
        workers=workers,
        log_level=settings.log_level,
        log_config=log_config(settings.log_level),
        proxy_headers=bool(settings.forwarded_allow_ips),
        forwarded_allow_ips=settings.forwarded_allow_ips or None,
    )


def _import_format(path: Path, given: str) -> str:
    if given != "auto":
        return given
    return "csv" if path.suffix.lower() == ".csv" else "text"


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV (import columns) or a pasted numbered list")],
    letter: Annotated[str, typer.Option(help="Slug of the letter to sign")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only; write nothing")] = False,
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors", help="Import the rows without errors")
    ] = False,
    format: Annotated[
        str, typer.Option(help="csv, text, or auto (by the file extension)")
    ] = "auto",
) -> None:
    """Import signatories into a letter, as POST /letters/{slug}/imports does."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from app.errors import AppError
    from app.imports import parsing
    from app.imports import service as import_service
    from app.imports.seed import SEED_ACTOR
    from app.letters import service as letter_service

    kind = _import_format(file, format)
    if kind not in ("csv", "text"):
        err_console.print("--format must be csv, text or auto")
        raise typer.Exit(code=2)
    with open_session(write=True) as session:
        found = letter_service.get_by_slug(session, slug=letter)
        if found is None:
            err_console.print(f"no letter '{letter}'")
            raise typer.Exit(code=1)
        try:
            parsed = parsing.parse(
                file.read_bytes(), media_type="text/csv" if kind == "csv" else "text/plain"
            )
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
            ) as progress:
                task = progress.add_task("resolving", total=len(parsed.rows))
                report = import_service.run_import(
                    session,
                    letter=found,
                    parsed=parsed,
                    principal=SEED_ACTOR,
                    dry_run=dry_run,
                    skip_errors=skip_errors,
                    progress=lambda done: progress.update(task, completed=done),
                )
        except AppError as exc:
            if "report" in exc.extra:
                _print_import_report(exc.extra["report"])
            err_console.print(f"[red]{exc.detail}[/red]")
            raise typer.Exit(code=1) from None
        if dry_run:
            session.rollback()
        else:
            session.commit()
    _print_import_report(report)


def _print_import_report(report: dict[str, Any]) -> None:
    problems = [r for r in report["rows"] if r["status"] in ("error", "needs_review")]
    if problems:
        table = Table("line", "status", "name", "reason or candidates", title="rows to look at")
        for row in problems:
            why = row["reason"] or ", ".join(
                f"{c['name']} ({c['score']})" for c in row["candidates"]
            )
            table.add_row(str(row["line"]), row["status"], row["name"] or "", why)
        console.print(table)
    for note in report["notes"]:
        console.print(f"note, line {note['line']}: {note['text']}")
    summary = Table("", "rows", title=f"import into {report['letter']}")
    for key, value in report["summary"].items():
        summary.add_row(key, str(value))
    console.print(summary)
    if report["applied"]:
        console.print("[green]applied[/green]")
    else:
        console.print("dry run: nothing written" if report["dry_run"] else "nothing written")


@app.command("export")
def export_letter(
    letter: Annotated[str, typer.Option(help="Slug of the letter")],
    format: Annotated[str, typer.Option(help="csv or json")] = "csv",
    output: Annotated[Path | None, typer.Option(help="File to write (default: stdout)")] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Named signatories only, as the public sees them")
    ] = False,
    bom: Annotated[bool, typer.Option("--bom", help="Start the CSV with a BOM (Excel)")] = False,
) -> None:
    """Export a letter's signatories (all, with anonymous flags, unless --public)."""
    import json
    import sys

    from app.imports import export
    from app.letters import service as letter_service

    if format not in ("csv", "json"):
        err_console.print("--format must be csv or json")
        raise typer.Exit(code=2)
    with open_session() as session:
        found = letter_service.get_by_slug(session, slug=letter)
        if found is None:
            err_console.print(f"no letter '{letter}'")
            raise typer.Exit(code=1)
        rows = export.signatories(session, letter=found, full=not public)
        if format == "csv":
            text = export.to_csv(rows, bom=bom)
        else:
            body = export.to_json(session, letter=found, rows=rows, full=not public)
            text = json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8", newline="")
        err_console.print(f"{len(rows)} signatories written to {output}")


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="File to write the backup to")],
    force: Annotated[bool, typer.Option(help="Overwrite an existing file")] = False,
) -> None:
    """Back up the SQLite database (online, consistent while serving); PostgreSQL: pg_dump."""
    from app.backup import BackupError
    from app.backup import backup as run_backup

    try:
        run_backup(database_url=get_settings().database_url, destination=path, overwrite=force)
    except BackupError as exc:
        err_console.print(str(exc))
        raise typer.Exit(code=1) from None
    console.print(f"backup written to {path} (integrity check passed)")


@app.command()
def restore(
    path: Annotated[Path, typer.Argument(help="Backup file made by `undersigned backup`")],
) -> None:
    """Replace the SQLite database with a backup; stop the server first. PostgreSQL: pg_restore."""
    from app.backup import BackupError
    from app.backup import restore as run_restore

    try:
        run_restore(database_url=get_settings().database_url, source=path)
    except BackupError as exc:
        err_console.print(str(exc))
        raise typer.Exit(code=1) from None
    console.print(f"database restored from {path}")


@token_app.command("create")
def token_create(
    role: Annotated[str, typer.Option(help="coordinator or admin")],
    letter: Annotated[
        list[str] | None, typer.Option(help="Letter slug to grant (repeatable)")
    ] = None,
    label: Annotated[str | None, typer.Option(help="Who the token is for")] = None,
) -> None:
    """Mint a token; it is printed once and only its hash is stored."""
    from app.errors import AppError
    from app.letters import service as letter_service

    try:
        parsed_role = auth_service.parse_role(role)
    except AppError as exc:
        err_console.print(f"--role: {exc.detail}")
        raise typer.Exit(code=2) from None
    with open_session(write=True) as session:
        letter_ids = []
        for slug in letter or []:
            found = letter_service.get_by_slug(session, slug=slug)
            if found is None:
                err_console.print(f"no letter '{slug}'")
                raise typer.Exit(code=1)
            assert found.id is not None
            letter_ids.append(found.id)
        token, clear = auth_service.create(
            session, role=parsed_role, letter_ids=letter_ids, label=label
        )
        audit.record(
            session,
            actor="cli",
            action="token.create",
            target_type="token",
            target_id=token.id,
            details={"role": token.role, "letter_ids": letter_ids},
        )
        session.commit()
    err_console.print(
        f"token {token.id} ({token.role}) created; store it now, it is not shown again:"
    )
    print(clear)


@token_app.command("list")
def token_list() -> None:
    """List tokens (id, role, prefix, revoked) without revealing them."""
    table = Table("id", "role", "prefix", "label", "created", "revoked")
    with open_session() as session:
        for token in auth_service.list_tokens(session):
            table.add_row(
                str(token.id),
                token.role,
                token.prefix + "…",
                token.label or "",
                token.created_at.isoformat(timespec="seconds"),
                token.revoked_at.isoformat(timespec="seconds") if token.revoked_at else "",
            )
    console.print(table)


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(help="Token id (see token list)")],
) -> None:
    """Revoke a token; it stops working at once."""
    with open_session(write=True) as session:
        auth_service.revoke(session, token_id=token_id)
        audit.record(
            session, actor="cli", action="token.revoke", target_type="token", target_id=token_id
        )
        session.commit()
    console.print(f"token {token_id} revoked")


@app.command("eval-resolution")
def eval_resolution(
    queries: Annotated[
        Path, typer.Option(help="TSV: query, expected entry number(s) or NEW, category")
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
) -> None:
    """Resolve each query against the seed letter in a throwaway database; print the scores."""
    import json

    from app.evaluation import evaluate

    if not queries.is_file():
        err_console.print(f"no such file: {queries}")
        raise typer.Exit(code=2)
    report = evaluate(queries)
    if as_json:
        print(json.dumps(report.as_dict(), ensure_ascii=False, indent=2))
    else:
        table = Table("query", "expected", "category", "status", "linked", "score", "outcome")
        for r in report.results:
            expected = "NEW" if r.expected is None else "|".join(map(str, r.expected))
            table.add_row(
                r.query,
                expected,
                r.category,
                r.status,
                "" if r.linked_entry is None else str(r.linked_entry),
                f"{r.score:.1f}",
                r.outcome,
            )
        console.print(table)
        console.print(
            f"precision {report.precision:.4f}  recall {report.recall:.4f}  F1 {report.f1:.4f}"
            f"  (excluding translation)  false links {report.false_links}  "
            f"needs_review {report.needs_review}"
        )
    if report.false_links:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
