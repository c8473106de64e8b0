"""CLI commands: `orchestrator seed` (demo data) and `orchestrator import KIND FILE`.

Both read the store URL from settings (`ORCH_STORE__URL`); `--db URL` overrides it. The
schema is created (Alembic migrations) when the database is empty.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import typer

from orchestrator.cli._common import DB_OPTION, open_store, print_table, settings_for

__all__ = ["import_app", "register", "seed_command"]

import_app = typer.Typer(
    name="import",
    help="Import your shop from CSV or JSON files: all rows or none, re-imports skip what is "
    "already there (docs/data.md).",
    no_args_is_help=True,
)


def seed_command(
    db: str | None = DB_OPTION,
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

    from orchestrator.store.engine import make_engine
    from orchestrator.store.seed import seed as run_seed

    try:
        end = date.fromisoformat(end_date)
    except ValueError:
        raise typer.BadParameter(
            f"{end_date!r} is not a date; write it as YYYY-MM-DD", param_hint="--end-date"
        ) from None
    settings = settings_for(db)
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

    engine = make_engine(settings.store)  # seed() creates or migrates the schema itself
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
    out = Console(soft_wrap=True)
    counts = Table(title=f"Seeded (seed {seed}, {days} days to {end.isoformat()})")
    counts.add_column("table")
    counts.add_column("rows", justify="right")
    for name, n in report.counts.items():
        counts.add_row(name, f"{n:,}")
    print_table(counts, out)
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
        print_table(table, out)


_FILE = typer.Argument(..., help="A .csv or .json file (docs/data.md lists the columns).")
_FORMAT = typer.Option(None, "--format", help="csv or json (default: from the file's extension).")
_JSON = typer.Option(False, "--json", help="Print the report as one JSON object.")

_HELP = {
    "locations": "Create or update locations (warehouses, shops): code,name[,kind].",
    "products": "Create or update products: sku[,name,category,unit,price,cost,...]; an "
    "existing SKU changes only in the columns given.",
    "suppliers": "Create or update suppliers: name[,email,country,active].",
    "offers": "Create or update supplier offers: supplier,sku[,unit_cost,lead_time_days,...].",
    "customers": "Create or update customers, keyed by e-mail: email,name[,phone,address,...].",
    "opening_stock": "Open stock rows with their opening balance: sku,location,on_hand"
    "[,reorder_point,date]; pairs already stocked are skipped.",
    "stock": "Set counted on-hand stock: sku,location,on_hand[,reorder_point]; a file "
    "imported before is skipped unless --recount.",
    "sales": "Append historic daily sales: date,sku,location,quantity[,id]; rows imported "
    "before are skipped.",
}


def _run_import(
    kind: str, file: Path, db: str | None, fmt: str | None, as_json: bool, **options: object
) -> None:
    from orchestrator.store.importer import import_file

    settings = settings_for(db)
    with open_store(settings, create=True) as engine:
        report = import_file(engine, kind, file, format=fmt, **options)  # type: ignore[arg-type]
    typer.echo(report.model_dump_json() if as_json else report.summary())


def _import_command(kind: str) -> Callable[..., None]:
    def command(
        file: Path = _FILE,
        db: str | None = DB_OPTION,
        fmt: str | None = _FORMAT,
        as_json: bool = _JSON,
    ) -> None:
        _run_import(kind, file, db, fmt, as_json)

    command.__doc__ = _HELP[kind]
    return command


def import_stock_command(
    file: Path = _FILE,
    db: str | None = DB_OPTION,
    fmt: str | None = _FORMAT,
    as_json: bool = _JSON,
    recount: bool = typer.Option(
        False, "--recount", help="Apply a file that was imported as counts before, again."
    ),
) -> None:
    _run_import("stock", file, db, fmt, as_json, recount=recount)


import_stock_command.__doc__ = _HELP["stock"]

for _kind in _HELP:
    import_app.command(_kind.replace("_", "-"))(
        import_stock_command if _kind == "stock" else _import_command(_kind)
    )


def register(app: typer.Typer) -> None:
    """Add `seed` and the `import` group to `app`."""
    app.command("seed")(seed_command)
    app.add_typer(import_app, name="import")
