"""`orchestrator eval audit`: inject anomalies into a seeded store, run the auditor, measure.

```
orchestrator eval audit [--model ID] [--k N] [--skus N] [--days N] [--seed N] [--kind K]...
                        [--keep DIR] [--json]
```

`--model`: `scripted` (default: a scripted model proposing each rule's usual fix), `none`
(the deterministic playbooks only), or a `provider:model` id (`llamacpp:smollm2` needs the
local server: `orchestrator local-model start`). With `--json`: one object per anomaly kind
`{"kind", "injected", "recall", "fixed", "escalated", "clean_after", "expected"}`, then one
summary object `{"kind": "summary", "model", "precision", "recall", "fixed", "escalated",
"findings", "approvals_granted", "model_plans", "rejected_proposals", "invariants_ok_after",
"remaining_violations", "ledger_rows", "seconds_seed", "seconds_audit"}`.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import typer

__all__ = ["register"]


def register(eval_app: typer.Typer) -> None:
    """Add `eval audit` to the `eval` group."""

    @eval_app.command("audit")
    def audit(
        model: str = typer.Option("scripted", "--model", help="scripted, none, or provider:model."),
        k: int = typer.Option(3, "--k", min=1, help="Anomalies per kind."),
        skus: int = typer.Option(120, "--skus", min=20, help="SKUs of the seeded shop."),
        days: int = typer.Option(120, "--days", min=14, help="Days of seeded history."),
        seed: int = typer.Option(0, "--seed", help="The seed of the shop and the injection."),
        kinds: list[str] = typer.Option(
            None, "--kind", help="Only this anomaly kind (repeatable)."
        ),
        keep: Path | None = typer.Option(None, "--keep", help="Keep the store in this directory."),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per kind + summary."),
    ) -> None:
        """Seed a shop, inject anomalies of each kind, run one audit pass, report the figures."""
        from orchestrator.cli._common import settings_for
        from orchestrator.evaluation.audit import evaluate_audit

        settings = settings_for()
        folder = keep or Path(tempfile.mkdtemp(prefix="orch-eval-audit-"))
        result = evaluate_audit(
            folder,
            model=model,
            k=k,
            skus=skus,
            days=days,
            seed=seed,
            kinds=kinds or None,
            settings=settings,
        )
        summary = {
            "kind": "summary",
            **result.model_dump(
                include={
                    "model",
                    "precision",
                    "recall",
                    "fixed",
                    "escalated",
                    "findings",
                    "approvals_granted",
                    "model_plans",
                    "rejected_proposals",
                    "invariants_ok_after",
                    "remaining_violations",
                    "ledger_rows",
                    "seconds_seed",
                    "seconds_audit",
                }
            ),
        }
        if as_json:
            for row in result.rows():
                typer.echo(json.dumps(row))
            typer.echo(json.dumps(summary))
            return
        from rich.console import Console
        from rich.table import Table

        from orchestrator.cli._common import print_table

        table = Table(title=f"audit evaluation: model {result.model}, k={k}, {skus} SKUs")
        for col in ("kind", "injected", "recall", "fixed", "escalated", "clean after", "expected"):
            table.add_column(col)
        for row in result.rows():
            table.add_row(
                str(row["kind"]),
                str(row["injected"]),
                f"{row['recall']:.0%}",
                f"{row['fixed']:.0%}",
                f"{row['escalated']:.0%}",
                str(row["clean_after"]),
                str(row["expected"]),
            )
        console = Console()
        print_table(table, console)
        console.print(
            f"precision {result.precision:.0%}, recall {result.recall:.0%}; "
            f"{result.fixed} fixed, {result.escalated} escalated; check-invariants after: "
            f"{'ok' if result.invariants_ok_after else result.remaining_violations}; "
            f"{result.model_plans} model plans, {result.rejected_proposals} refused; "
            f"audit {result.seconds_audit:.1f} s"
        )
