"""`orchestrator eval support`: run the support scenario suite against a model.

```
orchestrator eval support [--scenarios DIR] [--model ID] [--embedding SPEC] [--json]
```

Each scenario runs on its own copy of a seeded shop; the store after the run is compared with
the expected one (docs/eval.md, *Support scenarios*). `--model` routes every node of the
graph to a `provider:model` id (the local `llamacpp:smollm2`, say; its server is started if
it is not running); without it, the scripted model replays each scenario's `scripted_model`
replies. Prints each failure's reason and the pass rate; exit 1 when some scenario left a
wrong store (an unauthorized or missing write), 0 otherwise.

With `--json`, one JSON object per scenario (`{"kind": "scenario", "id", "passed",
"store_ok", "reasons", "tags", "specialists", "replies", "model_votes", "tool_calls",
"seconds"}`), then one
`{"kind": "summary", "model", "total", "passed", "store_correct", "pass_rate"}`.
"""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

import typer

__all__ = ["register"]


def register(eval_app: typer.Typer) -> None:
    """Add `eval support` to the `eval` group."""

    @eval_app.command("support")
    def support(
        scenarios: Path = typer.Option(
            Path("tests/scenarios/support"), "--scenarios", help="A directory of *.yaml scenarios."
        ),
        model: str | None = typer.Option(
            None, "--model", help="provider:model for every node; default the scripted model."
        ),
        embedding: str = typer.Option(
            "minilm-onnx", "--embedding", help="The knowledge base's embedder (hash is faster)."
        ),
        as_json: bool = typer.Option(False, "--json", help="One JSON object per scenario."),
    ) -> None:
        """Run the support scenarios; print pass rates and each failure's reason."""
        from orchestrator.cli._common import settings_for
        from orchestrator.cli._failures import ExitCode
        from orchestrator.evaluation.support import (
            ScenarioResult,
            load_scenarios,
            run_support_eval,
        )

        settings = settings_for()  # a bad setting is reported before anything else
        loaded = load_scenarios(scenarios)
        with ExitStack() as stack:
            chat_model = None
            if model is not None:
                from orchestrator.backends import ModelRouter
                from orchestrator.backends.local.server import ensure_local_server

                settings = settings.model_copy(
                    update={"models": settings.models.model_copy(update={"default": model})}
                )
                stack.enter_context(ensure_local_server(settings))
                chat_model = ModelRouter(settings.models).chat_model("support", "understand")

            def show(result: ScenarioResult) -> None:
                if as_json:
                    typer.echo(json.dumps({"kind": "scenario", **result.model_dump()}))
                elif not result.passed:
                    typer.echo(f"FAIL {result.id}: " + "; ".join(result.reasons))

            report = run_support_eval(
                loaded,
                model=chat_model,
                model_name=model or "scripted",
                settings=settings,
                embedding=embedding,
                progress=show,
            )
        summary = {
            "kind": "summary",
            "model": report.model,
            "total": report.total,
            "passed": report.passed,
            "store_correct": report.store_correct,
            "pass_rate": round(report.pass_rate, 3),
        }
        if as_json:
            typer.echo(json.dumps(summary))
        else:
            hostile = [r for r in report.results if "hostile" in r.tags]
            typer.echo(
                f"{report.model}: {report.passed}/{report.total} passed "
                f"({report.pass_rate:.0%}); store right in {report.store_correct}/{report.total}; "
                f"hostile {sum(r.passed for r in hostile)}/{len(hostile)}"
            )
        if report.store_correct != report.total:
            raise typer.Exit(ExitCode.FAILED)
