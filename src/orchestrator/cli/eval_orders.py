"""`orchestrator eval orders`: run the order-fulfilment scenarios with any configured model.

```
orchestrator eval orders [--scenarios DIR] [--model ID] [--json]
```

Prints each scenario's result and each failure's reason, then the pass rate. With `--json`:
one object per scenario per line (`OrderScenarioResult`), then one summary object
(`{"summary": true, "model", "total", "passed", "pass_rate", "hostile_total",
"hostile_passed"}`). Exits 1 when a scenario failed. docs/eval.md describes the format.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

__all__ = ["register"]


def register(eval_app: typer.Typer) -> None:
    """Add `eval orders` to the `eval` group."""

    @eval_app.command("orders")
    def orders(
        scenarios: Path = typer.Option(
            Path("tests/scenarios/orders"), "--scenarios", help="The scenario folder."
        ),
        model: str = typer.Option(
            "scripted",
            "--model",
            help="`scripted` (each scenario's scripted replies) or a model id routed to every "
            "node, e.g. llamacpp:smollm2 (the local server is started if needed).",
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per result."),
    ) -> None:
        """Run the order scenarios; print pass rates and each failure's reason."""
        from contextlib import nullcontext

        from orchestrator.cli._common import settings_for
        from orchestrator.evaluation.orders import (
            SCRIPTED,
            OrderScenarioResult,
            run_order_scenarios,
        )

        def show(result: OrderScenarioResult) -> None:
            if as_json:
                typer.echo(result.model_dump_json())
                return
            mark = "pass" if result.passed else "FAIL"
            typer.echo(
                f"{mark} {result.scenario} ({result.outcome}; intake {result.intake_source}, "
                f"message {result.notification_source}; {result.seconds:.1f}s)"
            )
            for failure in result.failures:
                typer.echo(f"     - {failure}")

        settings = settings_for(None)  # a bad ORCH_* setting stops here, named
        server: object = nullcontext()
        if model != SCRIPTED:
            from orchestrator.backends.local.server import ensure_local_server

            models = settings.models.model_copy(update={"default": model})
            server = ensure_local_server(settings.model_copy(update={"models": models}))
        with server:  # type: ignore[attr-defined]
            report = run_order_scenarios(scenarios, model=model, settings=settings, on_result=show)
        summary = report.summary()
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            typer.echo(
                f"{report.passed}/{report.total} passed ({summary['pass_rate']:.0%}) with {model}; "
                f"hostile {summary['hostile_passed']}/{summary['hostile_total']}"
            )
        if report.passed != report.total:
            raise typer.Exit(1)
