"""CLI commands: `orchestrator db upgrade` and `orchestrator check-invariants`.

Both read the store URL from settings (`ORCH_STORE__URL`); `--db URL` overrides it.
"""

from __future__ import annotations

import typer

from orchestrator.settings import StoreSettings

db_app = typer.Typer(
    name="db",
    help="Manage the operations store's database schema.",
    no_args_is_help=True,
)

_DB_OPTION = typer.Option(
    None,
    "--db",
    help="Store URL (sqlite:///file.db or postgresql+psycopg://...); default ORCH_STORE__URL.",
)


def _fail(message: str) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=2)


def _store_settings(db: str | None) -> StoreSettings:
    from orchestrator import load_settings

    settings = load_settings() if db is None else load_settings(store={"url": db})
    return settings.store


@db_app.command("upgrade")
def upgrade(
    db: str | None = _DB_OPTION,
    revision: str = typer.Option("head", "--revision", help="Revision to reach."),
) -> None:
    """Create or upgrade the store's schema to the newest Alembic revision."""
    from orchestrator import OrchestratorError
    from orchestrator.store.migrate import upgrade as run_upgrade

    try:
        store = _store_settings(db)
        reached = run_upgrade(store, revision)
    except OrchestratorError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _fail(f"upgrade failed: {type(exc).__name__}: {exc}") from exc
    typer.echo(f"{_safe_url(store.url)}: at revision {reached}")


def check_invariants_command(
    db: str | None = _DB_OPTION,
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    stuck_after_minutes: int = typer.Option(
        60,
        "--stuck-after-minutes",
        min=1,
        help="Pending integration transactions older than this are stuck.",
    ),
) -> None:
    """Check that the books balance; exit 1 when an invariant is violated."""
    from datetime import timedelta

    from rich.console import Console
    from rich.table import Table

    from orchestrator import OrchestratorError
    from orchestrator.store.engine import make_engine
    from orchestrator.store.invariants import check_invariants

    try:
        store = _store_settings(db)
        engine = make_engine(store)
        try:
            report = check_invariants(
                engine,
                stuck_after=timedelta(minutes=stuck_after_minutes),
                allow_backorders=store.allow_backorders,
            )
        finally:
            engine.dispose()
    except OrchestratorError as exc:
        raise _fail(str(exc)) from exc
    except Exception as exc:
        raise _fail(f"check failed: {type(exc).__name__}: {exc}") from exc
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
            console.print(table)
    if not report.ok:
        raise typer.Exit(code=1)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(db_app, name="db")
    app.command("check-invariants")(check_invariants_command)
