"""The `undersigned` command: serve, migrate, seed, token."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from alembic.config import Config
from rich.console import Console
from rich.table import Table

from app.admin import audit
from app.auth import service as auth_service
from app.config import get_settings
from app.db import open_session

app = typer.Typer(help="Undersigned: open-letter signatory registry.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens: create, list, revoke.", no_args_is_help=True)
app.add_typer(token_app, name="token")
if TYPE_CHECKING:
    from alembic.config import Config

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
    uvicorn.run(
        "app.main:app", host=host, port=port, workers=workers, log_level=get_settings().log_level
    )


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

    from app.resolution.evaluation import evaluate

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
