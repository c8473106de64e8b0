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
    as_json: bool = typer.Option(
        False, "--json", help="Print the report as one JSON object on one line."
    ),
    rules: list[str] | None = typer.Option(
        None,
        "--rule",
        help="Check only this rule (repeatable); also names rules not run by default "
        "(failed_transaction, no_movement). Default: the books-balance rules.",
    ),
    evidence: bool = typer.Option(
        False, "--evidence", help="Attach the rows that show each violation."
    ),
    stuck_after_minutes: int | None = typer.Option(
        None,
        "--stuck-after-minutes",
        min=1,
        help="Pending integration transactions older than this are stuck "
        "(default ORCH_AUDITOR__STUCK_AFTER_MINUTES, 60).",
    ),
    no_movement_days: int | None = typer.Option(
        None,
        "--no-movement-days",
        min=1,
        help="Stock idle this long is reported by --rule no_movement "
        "(default ORCH_AUDITOR__NO_MOVEMENT_DAYS, 30).",
    ),
) -> None:
    """Check that the books balance; exit 1 when an invariant is violated.

    Report-only rules (no_movement) never fail the check. The store must exist with its
    tables (`orchestrator db upgrade`); nothing is created.
    """
    from datetime import timedelta

    from rich.console import Console
    from rich.table import Table

    from orchestrator.store.invariants import check_invariants

    settings = settings_for(db)
    auditor = settings.auditor
    with open_store(settings, create=False) as engine:
        report = check_invariants(
            engine,
            rules=rules or None,
            stuck_after=timedelta(minutes=stuck_after_minutes or auditor.stuck_after_minutes),
            no_movement_after=timedelta(days=no_movement_days or auditor.no_movement_days),
            allow_backorders=settings.store.allow_backorders,
            evidence=evidence,
            evidence_rows=auditor.evidence_rows,
        )
    if as_json:
        typer.echo(report.model_dump_json())
    else:
        console = Console()
        if not report.violations:
            console.print(f"[green]ok[/green]: every invariant holds ({report.duration_s:.2f} s)")
        else:
            table = Table(title=f"{len(report.violations)} invariant violation(s)")
            for column in ("rule", "entity", "key", "expected", "actual", "detail", "severity"):
                table.add_column(column)
            for v in report.violations:
                table.add_row(
                    v.rule,
                    v.entity,
                    v.key,
                    "" if v.expected is None else str(v.expected),
                    "" if v.actual is None else str(v.actual),
                    v.detail,
                    v.severity,
                )
            print_table(table, console)
            if evidence:
                for v in report.violations:
                    console.print(f"[bold]{v.rule} {v.key}[/bold]")
                    for row in v.evidence:
                        fields = ", ".join(f"{k}={val}" for k, val in row.items() if k != "table")
                        console.print(f"  {row['table']}: {fields}", markup=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(code=ExitCode.FAILED)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(db_app, name="db")
    app.command("check-invariants")(check_invariants_command)
