"""CLI commands about customers' personal data.

```
orchestrator customers erase ID --reason TEXT [--by NAME] [--json] [--db URL]
```

`erase` removes the customer's personal data from every table of the store (name, email,
phone, address, shipping addresses, ticket text, return reasons, and any copy of them), keeps
orders, payments, stock and the ledger as they are, and records the erasure in the audit log.
Running it again erases whatever was added since. `--json` prints one JSON object: the `ErasureView`
(`customer_id`, `rewritten` rows per table, `audit_rows_with_personal_data`, `replayed`).
"""

from __future__ import annotations

import getpass
import json

import typer

from orchestrator.cli._common import DB_OPTION, open_store, settings_for

customers_app = typer.Typer(
    name="customers", help="Customers' personal data: erasure.", no_args_is_help=True
)


@customers_app.command("erase")
def erase(
    customer_id: int = typer.Argument(..., help="The customer's id."),
    reason: str = typer.Option(
        "erasure requested by the customer", "--reason", help="Why (recorded in the audit log)."
    ),
    by: str | None = typer.Option(
        None, "--by", help="Who erases (recorded); default your login name."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
    db: str | None = DB_OPTION,
) -> None:
    """Erase a customer's personal data everywhere in the store; the books stay intact."""
    from orchestrator.store.services import Actor, StoreService

    settings = settings_for(db)
    with open_store(settings, create=False) as engine:
        svc = StoreService(engine, settings=settings)
        result = svc.erase_customer(
            customer_id,
            reason=reason,
            actor=Actor(by or getpass.getuser() or "cli"),
        )
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json")))
        return
    rows = ", ".join(f"{n} {t}" for t, n in sorted(result.rewritten.items())) or "nothing"
    typer.echo(f"customer {customer_id} erased: rewrote {rows}")
    if result.audit_rows_with_personal_data:
        typer.echo(
            f"note: {result.audit_rows_with_personal_data} audit row(s) written before the log "
            "was redacted still hold the customer's data (the log is append-only)"
        )


def register(app: typer.Typer) -> None:
    """Add the `customers` command group to `app`."""
    app.add_typer(customers_app, name="customers")
