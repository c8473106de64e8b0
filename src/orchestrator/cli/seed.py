"""CLI commands: `orchestrator seed` (demo data) and `orchestrator import products|stock|sales`.

Both read the store URL from settings (`ORCH_STORE__URL`); `--db URL` overrides it. The
schema is created (Alembic migrations where installed) when the database is empty.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import typer

__all__ = [
    "import_app",
    "import_products_command",
    "import_sales_command",
    "import_stock_command",
    "register",
    "seed_command",
]

_DB_OPTION = typer.Option(
    None,
    "--db",
    help="Store URL (sqlite:///file.db or postgresql+psycopg://...); default ORCH_STORE__URL.",
)

import_app = typer.Typer(
    name="import",
    help="Import products, stock or sales history from CSV or JSON files (all rows or none).",
    no_args_is_help=True,
)


def _engine(db: str | None) -> Any:
    from orchestrator import load_settings
    from orchestrator.store.engine import make_engine

    settings = load_settings() if db is None else load_settings(store={"url": db})
    return make_engine(settings.store)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.secho(message, fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


def seed_command(
    db: str | None = _DB_OPTION,
    skus: int = typer.Option(300, "--skus", min=10, help="Products in the catalogue."),
    days: int = typer.Option(730, "--days", min=28, help="Days of sales history."),
    anomalies: int = typer.Option(6, "--anomalies", min=0, help="Anomalies to inject."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same arguments, same data."),
    customers: int = typer.Option(1000, "--customers", min=10, help="Customers (fake PII)."),
    suppliers: int = typer.Option(24, "--suppliers", min=3, help="Suppliers (3 to 26)."),
    end_date: str = typer.Option(
        "2026-11-01", "--end-date", help="The world's 'today' (YYYY-MM-DD); history ends before."
    ),
    force: bool = typer.Option(
        False, "--force", help="Drop and recreate every table of a non-empty store first."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Fill an empty store with a deterministic demo shop, its history and injected anomalies."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.table import Table

    from orchestrator import OrchestratorError
    from orchestrator.store.seed import seed as run_seed

    try:
        end = date.fromisoformat(end_date)
    except ValueError as exc:
        raise _fail(f"--end-date={end_date!r}: not a date; write it as YYYY-MM-DD") from exc
    console = Console(stderr=True)
    progress = Progress(
        TextColumn("{task.description:<28}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet,
        transient=False,
    )
    tasks: dict[str, TaskID] = {}

    def on_progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            tasks[phase] = progress.add_task(phase, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    try:
        engine = _engine(db)
        try:
            with progress:
                report = run_seed(
                    engine,
                    skus=skus,
                    days=days,
                    anomalies=anomalies,
                    seed=seed,
                    customers=customers,
                    suppliers=suppliers,
                    end_date=end,
                    reset=force,
                    progress=on_progress,
                )
        finally:
            engine.dispose()
    except OrchestratorError as exc:
        raise _fail(str(exc)) from exc
    out = Console(soft_wrap=True)
    counts = Table(title=f"Seeded (seed {seed}, {days} days to {end.isoformat()})")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, n in report.counts.items():
        counts.add_row(name, f"{n:,}")
    out.print(counts)
    rate = report.ledger_rows / report.seconds if report.seconds else 0.0
    out.print(
        f"{report.ledger_rows:,} ledger rows in {report.seconds:.1f} s ({rate:,.0f} rows/s); "
        + ", ".join(f"{k} {v:.1f}s" for k, v in report.phase_seconds.items())
    )
    if report.anomalies:
        table = Table(title=f"{len(report.anomalies)} anomalies injected")
        for col in ("kind", "sku", "location", "detail"):
            table.add_column(col)
        for a in report.anomalies:
            table.add_row(a.kind, a.sku, a.location, a.detail)
        out.print(table)


def _import(kind: str, file: Path, db: str | None, fmt: str | None) -> None:
    from rich.console import Console

    from orchestrator import ImportFailed, OrchestratorError
    from orchestrator.store.importer import import_file
    from orchestrator.store.seed import ensure_schema

    try:
        engine = _engine(db)
        try:
            ensure_schema(engine)
            report = import_file(engine, kind, file, format=fmt)  # type: ignore[arg-type]
        finally:
            engine.dispose()
    except ImportFailed as exc:
        typer.secho(
            f"{exc.source}: {len(exc.errors)} bad row(s); nothing was imported",
            fg=typer.colors.RED,
            err=True,
        )
        for line, message in exc.errors:
            typer.echo(f"  line {line}: {message}", err=True)
        raise typer.Exit(code=1) from exc
    except OrchestratorError as exc:
        raise _fail(str(exc)) from exc
    Console(soft_wrap=True).print(
        f"{file}: {report.rows} row(s) imported as {kind} "
        f"(created {report.created}, updated {report.updated}, "
        f"ledger rows {report.ledger_rows})"
    )


_FILE = typer.Argument(..., help="A .csv or .json file (see docs/data.md for the columns).")
_FORMAT = typer.Option(None, "--format", help="csv or json (default: from the extension).")


@import_app.command("products")
def import_products_command(
    file: Path = _FILE, db: str | None = _DB_OPTION, fmt: str | None = _FORMAT
) -> None:
    """Create or update products: sku,name,category,unit,price,cost[,...]."""
    _import("products", file, db, fmt)


@import_app.command("stock")
def import_stock_command(
    file: Path = _FILE, db: str | None = _DB_OPTION, fmt: str | None = _FORMAT
) -> None:
    """Set on-hand counts: sku,location,on_hand[,reorder_point]."""
    _import("stock", file, db, fmt)


@import_app.command("sales")
def import_sales_command(
    file: Path = _FILE, db: str | None = _DB_OPTION, fmt: str | None = _FORMAT
) -> None:
    """Append historic daily sales: date,sku,location,quantity."""
    _import("sales", file, db, fmt)


def register(app: typer.Typer) -> None:
    """Add `seed` and the `import` group to `app`."""
    app.command("seed")(seed_command)
    app.add_typer(import_app, name="import")
