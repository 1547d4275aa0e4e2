"""The `undersigned` command: serve, migrate, seed, import, export, enrich, scan, token, backup,
restore, purge.

A mistake of the user (a missing file, an unknown letter or token, a database that is missing
or not migrated, contradictory options) is one line on stderr, `error: …`, with what to do
next, and a non-zero exit; a traceback only with `undersigned --debug …`.
"""

import sys
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from alembic.config import Config
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import Session, col, select
from typer._click.exceptions import NoArgsIsHelpError, UsageError
from typer.core import TyperGroup

from app import audit, db, listeners
from app.auth import service as auth_service
from app.auth.models import LetterGrant, Role
from app.config import get_settings
from app.errors import AppError

# Piped output (a file, grep) is not cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)
_debug = False
# `--database URL` of the command being run (reset for each run: tests run many in one process).
_database: str | None = None


class CliError(Exception):
    """A user error: printed as one line with a hint, exit code 1 (2 for bad usage)."""

    def __init__(self, message: str, *, hint: str | None = None, code: int = 1) -> None:
        super().__init__(message)
        self.message, self.hint, self.code = message, hint, code

    def line(self) -> str:
        return f"error: {self.message}" + (f" ({self.hint})" if self.hint else "")


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _Group(TyperGroup):
    """Turns every failure into one line on stderr (unless --debug)."""

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        global _database
        _database = None
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except NoArgsIsHelpError as exc:
            err_console.print(exc.format_message(), markup=False)
            code = 2
        except UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "undersigned"
            code = _fail(
                CliError(_one_line(exc.format_message()), hint=f"see {where} --help", code=2)
            )
        except typer.TyperException as exc:
            code = _fail(CliError(_one_line(exc.format_message()), code=exc.exit_code))
        except typer.Abort:
            code = _fail(CliError("aborted"))
        except CliError as exc:
            code = _fail(exc)
        except Exception as exc:
            if _debug:
                raise
            code = _fail(_unexpected(exc))
        if not standalone_mode:
            return code
        sys.exit(code if isinstance(code, int) else 0)


def _fail(error: CliError) -> int:
    err_console.print(error.line(), markup=False)
    return error.code


def _unexpected(exc: Exception) -> CliError:
    if isinstance(exc, SQLAlchemyError):
        # Only type names: a database error may quote a row (a signer's name).
        origin = type(getattr(exc, "orig", None) or exc).__name__
        return CliError(f"database error ({origin})", hint="run again with --debug for details")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return CliError(
        f"{type(exc).__name__}{': ' + first if first else ''}",
        hint="run again with --debug for the traceback",
    )


if TYPE_CHECKING:
    from app.evaluation import QueryResult

app = typer.Typer(
    cls=_Group,
    help="Undersigned: open-letter signatory registry.",
    no_args_is_help=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")


@app.callback()
def main(
    debug: Annotated[
        bool, typer.Option("--debug", help="Show the traceback of an unexpected error")
    ] = False,
) -> None:
    global _debug
    _debug = debug
    listeners.install()


Database = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        show_default=False,
        help="Database URL (default: UNDERSIGNED_DATABASE_URL, else sqlite:///./undersigned.db)",
    ),
]


def _use_database(url: str | None) -> None:
    """Point this command at `--database URL` when given."""
    if url is None:
        return
    try:
        make_url(url)
    except Exception:
        raise CliError(
            "--database is not a database URL",
            hint="e.g. sqlite:///./undersigned.db or postgresql+psycopg://user@host/db",
            code=2,
        ) from None
    global _database
    _database = url
    db.set_engine(db.make_engine(url))


def _database_url() -> str:
    return _database or get_settings().database_url


def _describe(url: URL) -> str:
    if url.get_backend_name() == "sqlite" and url.database:
        return str(Path(url.database).resolve())
    return url.render_as_string(hide_password=True)


def _alembic_config(url: str | None = None) -> Config:
    root = Path(__file__).resolve().parent.parent
    if not (root / "migrations").is_dir():
        root = Path.cwd()
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.set_main_option("sqlalchemy.url", (url or _database_url()).replace("%", "%%"))
    return config


def _check_database() -> None:
    """Refuse, naming the fix, a database that is missing, unreachable or not migrated."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    engine = db.get_engine()
    url = engine.url
    where = _describe(url)
    migrate = "create it with `undersigned migrate`, or pass --database URL"
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        path = Path(url.database or "")
        # Connecting would create an empty file here: check first.
        if not path.is_file():
            raise CliError(f"there is no database at {where}", hint=migrate)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        origin = _one_line(str(exc.orig)).split(" (Background")[0] if exc.orig else ""
        raise CliError(
            f"cannot connect to the database at {where}: {origin}",
            hint="is the server running? check --database or UNDERSIGNED_DATABASE_URL",
        ) from None
    heads = ScriptDirectory.from_config(_alembic_config(url.render_as_string(False))).get_heads()
    if current is None:
        raise CliError(f"the database at {where} is not migrated", hint="run `undersigned migrate`")
    if current not in heads:
        raise CliError(
            f"the database at {where} is at revision {current}; this version needs "
            f"{', '.join(heads)}",
            hint="run `undersigned migrate`",
        )


def _session(*, write: bool = False) -> Session:
    _check_database()
    return db.open_session(write=write)


def _readable_file(path: Path, *, what: str) -> bytes:
    if path.is_dir():
        raise CliError(f"{path} is a directory", hint=f"give the {what} file itself")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise CliError(f"no such file: {path}", hint="check the path") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {exc.strerror}") from None


def _letter(session: Session, slug: str) -> Any:
    from app.letters import service as letter_service

    found = letter_service.get_by_slug(session, slug=slug)
    if found is None:
        raise CliError(
            f"no letter '{slug}'", hint="check the slug: GET /api/v1/letters lists the letters"
        )
    return found


def run_migrations(url: str | None = None) -> None:
    from alembic import command

    command.upgrade(_alembic_config(url), "head")


def run_seed() -> bool:
    from app.imports.seed import load_seed

    with db.open_session(write=True) as session:
        created = load_seed(session)
        session.commit()
    return created


@app.command()
def migrate(database: Database = None) -> None:
    """Create or upgrade the database (alembic upgrade head)."""
    _use_database(database)
    run_migrations()
    console.print(f"database migrated: {_describe(make_url(_database_url()))}")


@app.command()
def seed(database: Database = None) -> None:
    """Load the seed letter (idempotent)."""
    _use_database(database)
    _check_database()
    console.print("seed letter loaded" if run_seed() else "seed letter already present")


@app.command()
def serve(
    host: Annotated[str, typer.Option(metavar="ADDRESS", help="Interface to bind")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port")] = 8000,
    workers: Annotated[int, typer.Option(metavar="N", help="Worker processes")] = 1,
    database: Database = None,
) -> None:
    """Migrate, seed if empty, and serve the API."""
    import os

    from app import serving
    from app.security import uvicorn_options

    _use_database(database)
    if database is not None:
        # Worker processes read the URL from the environment.
        os.environ["UNDERSIGNED_DATABASE_URL"] = database
        get_settings.cache_clear()
    run_migrations()
    run_seed()
    console.print(f"database: {_describe(make_url(_database_url()))}")
    console.print(f"serving on http://{host}:{port} (API docs at /docs)")
    serving.run(host=host, port=port, workers=workers, options=uvicorn_options(get_settings()))


class ImportFormat(StrEnum):
    auto = "auto"
    csv = "csv"
    text = "text"


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(metavar="FILE", help="CSV (import columns) or a pasted numbered list")
    ],
    letter: Annotated[str, typer.Option(metavar="SLUG", help="Slug of the letter to sign")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan only; write nothing")] = False,
    skip_errors: Annotated[
        bool, typer.Option("--skip-errors", help="Import the rows without errors")
    ] = False,
    format: Annotated[
        ImportFormat, typer.Option(help="auto: CSV for a .csv file, else a pasted list")
    ] = ImportFormat.auto,
    database: Database = None,
) -> None:
    """Import signatories into a letter, as POST /letters/{slug}/imports does."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from app.imports import parsing
    from app.imports import service as import_service
    from app.imports.seed import SEED_ACTOR

    _use_database(database)
    data = _readable_file(file, what="CSV or text")
    kind = format.value
    if format == ImportFormat.auto:
        kind = "csv" if file.suffix.lower() == ".csv" else "text"
    with _session(write=True) as session:
        found = _letter(session, letter)
        try:
            parsed = parsing.parse(data, media_type="text/csv" if kind == "csv" else "text/plain")
            with Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err_console,
                transient=True,
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
            if exc.error == "import_has_errors":
                _print_import_report(exc.extra["report"])
                errors = exc.extra["report"]["summary"].get("error", 0)
                raise CliError(
                    f"{errors} row(s) have errors; nothing was imported",
                    hint="fix them, or pass --skip-errors to import the other rows",
                ) from None
            raise CliError(f"{file}: {_one_line(exc.detail)}") from None
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
    letter: Annotated[str, typer.Option(metavar="SLUG", help="Slug of the letter")],
    format: Annotated[ExportFormat, typer.Option(help="File format")] = ExportFormat.csv,
    output: Annotated[
        Path | None, typer.Option(metavar="FILE", help="File to write (default: stdout)")
    ] = None,
    public: Annotated[
        bool, typer.Option("--public", help="Named signatories only, as the public sees them")
    ] = False,
    bom: Annotated[bool, typer.Option("--bom", help="Start the CSV with a BOM (Excel)")] = False,
    database: Database = None,
) -> None:
    """Export a letter's signatories (all, with anonymous flags, unless --public)."""
    import json

    from app.imports import export

    _use_database(database)
    if output is not None and output.is_dir():
        raise CliError(f"{output} is a directory", hint="give a file name inside it")
    with _session() as session:
        found = _letter(session, letter)
        rows = export.signatories(session, letter=found, full=not public)
        if format == ExportFormat.csv:
            text = export.to_csv(rows, bom=bom)
        else:
            body = export.to_json(session, letter=found, rows=rows, full=not public)
            text = json.dumps(body, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    try:
        output.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise CliError(f"cannot write {output}: {exc.strerror}") from None
    err_console.print(f"{len(rows)} signatories written to {output}")


@app.command()
def purge(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be erased, erase nothing")
    ] = False,
    database: Database = None,
) -> None:
    """Erase self-signers' contact details and links: of letters closed more than
    UNDERSIGNED_SELF_SIGN_PURGE_DAYS ago, and of requests never confirmed (idempotent)."""
    from app.selfsign import service as selfsign_service

    _use_database(database)
    with _session(write=True) as session:
        result = selfsign_service.purge(session, dry_run=dry_run)
        if not dry_run:
            session.commit()
    verb = "would erase" if dry_run else "erased"
    console.print(
        f"{verb} the contact details of {result.self_signatures} self-signatures "
        f"and {result.tokens} links"
    )


@app.command()
def enrich(
    organisation: Annotated[
        int | None,
        typer.Option(metavar="ID", help="Only this organisation (default: every one with a QID)"),
    ] = None,
    api_url: Annotated[
        str | None,
        typer.Option(metavar="URL", help="Wikidata API (default: UNDERSIGNED_WIKIDATA_API_URL)"),
    ] = None,
    database: Database = None,
) -> None:
    """Add the Wikidata labels and aliases of organisations with a wikidata: identifier as
    names, with their source. Offline, it says so and changes nothing."""
    from app.opendata import enrich as enrichment

    _use_database(database)
    settings = get_settings()
    with _session() as session:
        pairs = enrichment.targets(session, organisation_id=organisation)
    if not pairs:
        console.print("no organisation has a wikidata identifier: nothing to do")
        return
    try:
        fetched = enrichment.fetch(
            [qid for _, qid in pairs],
            api_url=api_url or settings.wikidata_api_url,
            timeout=settings.wikidata_timeout,
        )
    except enrichment.Offline as exc:
        raise CliError(
            f"offline: {exc}; nothing changed", hint="run it again with network access"
        ) from None
    with _session(write=True) as session:
        report = enrichment.apply(session, pairs=pairs, fetched=fetched, actor="cli:enrich")
        session.commit()
    skipped = ", ".join(f"{n} {why}" for why, n in sorted(report.skipped.items()))
    console.print(
        f"{report.added} names added to {report.organisations} organisations"
        + (f"; skipped: {skipped}" if skipped else "")
    )


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(metavar="FILE", help="File to write the backup to")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file")] = False,
    database: Database = None,
) -> None:
    """Back up the SQLite database (online, consistent while serving); PostgreSQL: pg_dump."""
    from app.backup import BackupError
    from app.backup import backup as run_backup

    _use_database(database)
    try:
        run_backup(database_url=_database_url(), destination=path, overwrite=force)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    console.print(f"backup written to {path} (integrity check passed)")


@app.command()
def restore(
    path: Annotated[
        Path, typer.Argument(metavar="FILE", help="Backup file made by `undersigned backup`")
    ],
    database: Database = None,
) -> None:
    """Replace the SQLite database with a backup (refused while a server uses it)."""
    from app.backup import BackupError
    from app.backup import restore as run_restore

    _use_database(database)
    try:
        run_restore(database_url=_database_url(), source=path)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    console.print(f"database restored from {path}")


@token_app.command("create")
def token_create(
    role: Annotated[Role, typer.Option(help="admin: everything; coordinator: its letters")],
    letter: Annotated[
        list[str] | None,
        typer.Option(metavar="SLUG", help="Letter a coordinator manages (repeatable)"),
    ] = None,
    label: Annotated[str | None, typer.Option(metavar="TEXT", help="Who the token is for")] = None,
    database: Database = None,
) -> None:
    """Mint a token; it is printed once and only its hash is stored."""
    _use_database(database)
    if role == Role.admin and letter:
        raise CliError(
            "--letter is for coordinator tokens; an admin token manages every letter",
            hint="drop --letter, or use --role coordinator",
            code=2,
        )
    with _session(write=True) as session:
        letter_ids = []
        for slug in letter or []:
            found = _letter(session, slug)
            letter_ids.append(found.id)
        token, clear = auth_service.create(session, role=role, letter_ids=letter_ids, label=label)
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


def _managed_letters(session: Session) -> dict[int, list[str]]:
    """Slugs of the letters each token manages: granted, or created with it."""
    from app.letters.models import Letter

    letters = session.exec(select(Letter.id, Letter.slug, Letter.created_by_token_id)).all()
    slugs = {letter_id: slug for letter_id, slug, _ in letters}
    managed: dict[int, set[str]] = {}
    for _, slug, creator in letters:
        if creator is not None:
            managed.setdefault(creator, set()).add(slug)
    for grant in session.exec(select(LetterGrant).order_by(col(LetterGrant.id))):
        managed.setdefault(grant.token_id, set()).add(slugs[grant.letter_id])
    return {token_id: sorted(found) for token_id, found in managed.items()}


@token_app.command("list")
def token_list(database: Database = None) -> None:
    """List tokens (role, letters, last use) without revealing them."""
    from rich import box

    _use_database(database)
    table = Table(
        "id", "role", "letters", "label", "prefix", "created", "last used", box=box.SIMPLE
    )
    with _session() as session:
        managed = _managed_letters(session)
        for token in auth_service.list_tokens(session):
            assert token.id is not None
            letters = "all" if token.role == Role.admin else ", ".join(managed.get(token.id, []))
            revoked = f" (revoked {token.revoked_at:%Y-%m-%d})" if token.revoked_at else ""
            table.add_row(
                str(token.id),
                token.role + revoked,
                letters or "none yet",
                token.label or "",
                token.prefix + "…",
                f"{token.created_at:%Y-%m-%d}",
                f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never",
            )
    console.print(table)
    console.print("(last use is recorded at most once an hour)")


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[int, typer.Argument(metavar="ID", help="Token id (see token list)")],
    database: Database = None,
) -> None:
    """Revoke a token; it stops working at once."""
    _use_database(database)
    with _session(write=True) as session:
        try:
            auth_service.revoke(session, token_id=token_id)
        except AppError:
            raise CliError(
                f"no token with id {token_id}", hint="`undersigned token list` shows them"
            ) from None
        audit.record(
            session, actor="cli", action="token.revoke", target_type="token", target_id=token_id
        )
        session.commit()
    console.print(f"token {token_id} revoked")


@app.command("scan")
def scan_duplicates(
    changed: Annotated[
        bool,
        typer.Option(
            "--changed",
            help="Only the organisations changed since the queue was last brought up to date",
        ),
    ] = False,
    database: Database = None,
) -> None:
    """Rebuild the stored duplicate queue: score every blocked pair of organisations again
    (a batch job with a progress bar; the review page reads what it stores)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from app.resolution import queue

    _use_database(database)
    if changed:
        with _session(write=True):
            pass  # checks the database is there and migrated
        console.print(f"{queue.catch_up_all()} changed organisations rescored")
        return
    with _session(write=True) as session:
        with Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=err_console,
            transient=not sys.stderr.isatty(),
        ) as bar:
            task = bar.add_task("organisations", total=None)

            def progress(done: int, total: int) -> None:
                bar.update(task, completed=done, total=total)

            pairs = queue.rescan(session, progress=progress)
        session.commit()
    console.print(f"{pairs} candidate pairs stored")


def _eval_row(r: "QueryResult") -> tuple[str, ...]:
    expected = "NEW" if r.expected is None else "|".join(map(str, r.expected))
    linked = "" if r.linked_entry is None else str(r.linked_entry)
    return (r.query, expected, r.category, r.status, linked, f"{r.score:.1f}", r.outcome)


@app.command("eval-resolution")
def eval_resolution(
    queries: Annotated[
        Path,
        typer.Option(metavar="FILE", help="TSV: query, expected entry number(s) or NEW, category"),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="Also list every query, not only the misses")
    ] = False,
) -> None:
    """Resolve each query against the seed letter in a throwaway database; print the figures
    per category and the list of misses (queries that should have linked, false links)."""
    import json
    from dataclasses import asdict

    from app.evaluation import evaluate

    _readable_file(queries, what="TSV")
    report = evaluate(queries)
    if as_json:
        data = report.as_dict()
        data["misses"] = [asdict(r) for r in report.misses]
        print(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        if show_all:
            table = Table("query", "expected", "category", "status", "linked", "score", "outcome")
            for r in report.results:
                table.add_row(*_eval_row(r))
            console.print(table)
        by_category = Table(
            "category",
            "queries",
            "to link",
            "linked right",
            "false links",
            "review",
            "P",
            "R",
            "F1",
        )
        for name, c in report.categories.items():
            by_category.add_row(
                name or "-",
                str(c.queries),
                str(c.expected_links),
                str(c.true_links),
                str(c.false_links),
                str(c.needs_review),
                f"{c.precision:.3f}",
                f"{c.recall:.3f}",
                f"{c.f1:.3f}",
            )
        console.print(by_category)
        misses = Table(
            "query",
            "expected",
            "category",
            "status",
            "linked",
            "score",
            "outcome",
            "why",
            title="misses and false links",
        )
        for r in report.misses:
            misses.add_row(*_eval_row(r), "; ".join(r.reasons[:2]))
        console.print(misses)
        console.print(
            f"precision {report.precision:.4f}  recall {report.recall:.4f}  F1 {report.f1:.4f}"
            f"  (excluding translation)  false links {report.false_links}  "
            f"needs_review {report.needs_review}"
        )
    if report.false_links:
        raise typer.Exit(code=1)


if __name__ == "__main__":
    app()
