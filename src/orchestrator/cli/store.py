"""CLI commands: `orchestrator db upgrade` and `orchestrator check-invariants`.

Both read the store URL from settings (`ORCH_STORE__URL`); `--db URL` overrides it.
"""

from __future__ import annotations

import typer

from orchestrator.cli._common import DB_OPTION, open_store, print_table, settings_for
from orchestrator.cli._failures import ExitCode

__all__ = ["check_invariants_command", "db_app", "register", "upgrade"]

db_app = typer.Typer(
    name="db",
    help="Manage the operations store's database schema.",
    no_args_is_help=True,
)


@db_app.command("upgrade")
def upgrade(
    db: str | None = DB_OPTION,
    revision: str = typer.Option("head", "--revision", help="Revision to reach."),
) -> None:
    """Create or upgrade the store's schema to the newest Alembic revision."""
    from orchestrator.store.engine import safe_url
    from orchestrator.store.migrate import upgrade as run_upgrade

    store = settings_for(db).store
    reached = run_upgrade(store, revision)
    typer.echo(f"{safe_url(store.url)}: at revision {reached}")


def check_invariants_command(
    db: str | None = DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the report as one JSON object."),
    stuck_after_minutes: int = typer.Option(
        60,
        "--stuck-after-minutes",
        min=1,
        help="Pending integration transactions older than this are stuck.",
    ),
) -> None:
    """Check that the books balance; exit 1 when an invariant is violated.

    The store must exist with its tables (`orchestrator db upgrade`); nothing is created.
    """
    from datetime import timedelta

    from rich.console import Console
    from rich.table import Table

    from orchestrator.store.invariants import check_invariants

    settings = settings_for(db)
    with open_store(settings, create=False) as engine:
        report = check_invariants(
            engine,
            stuck_after=timedelta(minutes=stuck_after_minutes),
            allow_backorders=settings.store.allow_backorders,
        )
    if as_json:
        typer.echo(report.model_dump_json(indent=2))
    else:
        console = Console()
        if report.ok:
            console.print(f"[green]ok[/green]: every invariant holds ({report.duration_s:.2f} s)")
        else:
            table = Table(title=f"{len(report.violations)} invariant violation(s)")
            for column in ("rule", "entity", "key", "expected", "actual", "detail"):
                table.add_column(column)
            for v in report.violations:
                table.add_row(
                    v.rule,
                    v.entity,
                    v.key,
                    "" if v.expected is None else str(v.expected),
                    "" if v.actual is None else str(v.actual),
                    v.detail,
                )
            print_table(table, console)
    if not report.ok:
        raise typer.Exit(code=ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(db_app, name="db")
    app.command("check-invariants")(check_invariants_command)
