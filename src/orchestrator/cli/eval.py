"""`orchestrator eval ...`: run a scenario directory or a seeded benchmark against a model.

Each evaluation lives in a module of its own, `orchestrator.cli.eval_<name>`, whose
`register(eval_app)` adds one `eval <name>` command; this module only groups them, so the
graphs' evaluations land independently. Every `--json` mode prints one JSON object per result
(docs/eval.md).
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

__all__ = ["eval_app", "register"]

eval_app = typer.Typer(
    help="Evaluate a graph on scenarios or seeded anomalies, with any configured model.",
    no_args_is_help=True,
)

#: The evaluations, by module name under `orchestrator.cli` (each optional until it lands).
EVAL_MODULES = ("eval_support", "eval_orders", "eval_audit")


def register(app: typer.Typer) -> None:
    """Add the `eval` command group (with every evaluation that is installed) to `app`."""
    for name in EVAL_MODULES:
        if importlib.util.find_spec(f"orchestrator.cli.{name}") is not None:
            importlib.import_module(f"orchestrator.cli.{name}").register(eval_app)
    app.add_typer(eval_app, name="eval")
