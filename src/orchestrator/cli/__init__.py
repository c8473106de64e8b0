"""The `orchestrator` command line (typer + rich).

Each command group lives in a module of its own beside this one and registers itself on `app`
through its `register(app)` function; heavy imports happen inside the commands.

Errors: every command runs inside `OrchestratorGroup.invoke`, which prints one line naming the
cause and the fix and exits with an `ExitCode` (see the README's table); `--debug` adds the
traceback. A command raises (`orchestrator.errors`, or its libraries' errors) and never
catches an error only to print it; `orchestrator.cli._common` has the shared `--db` option,
settings and store helpers and `print_table`.
"""

from __future__ import annotations

import importlib

import typer

from orchestrator.cli._failures import ExitCode, OrchestratorGroup

__all__ = ["ExitCode", "app", "main"]

app = typer.Typer(
    name="orchestrator",
    cls=OrchestratorGroup,
    help="Run a shop's or warehouse's operations with cooperating AI agents.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

_COMMAND_MODULES = (
    "store",
    "seed",
    "local_model",
    "demo",
    "runs",
    "kb",
    "eval",
    "review",
    "supply",
    "price",
    "tune",
    "support",
    "order",
)

for _name in _COMMAND_MODULES:
    importlib.import_module(f"orchestrator.cli.{_name}").register(app)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False,
        "--debug",
        envvar="ORCH_DEBUG",
        help="On an error, print the traceback too (the exit code stays the same). May be "
        "written anywhere on the command line.",
    ),
) -> None:
    """Run a shop's or warehouse's operations with cooperating AI agents."""


@app.command()
def version() -> None:
    """Print orchestrator's version."""
    from orchestrator import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the `orchestrator` console script."""
    app()
