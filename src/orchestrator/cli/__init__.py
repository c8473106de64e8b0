"""The `orchestrator` command line (typer + rich).

Each command group lives in a module of its own beside this one and registers itself on `app`
through its `register(app)` function; heavy imports happen inside the commands.
"""

from __future__ import annotations

import importlib

import typer

__all__ = ["app", "main"]

app = typer.Typer(
    name="orchestrator",
    help="Run a shop's or warehouse's operations with cooperating AI agents.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

_COMMAND_MODULES = ("store", "seed", "local_model", "demo", "runs")

for _name in _COMMAND_MODULES:
    importlib.import_module(f"orchestrator.cli.{_name}").register(app)


@app.callback()
def _root() -> None:
    """Run a shop's or warehouse's operations with cooperating AI agents."""


@app.command()
def version() -> None:
    """Print orchestrator's version."""
    from orchestrator import __version__

    typer.echo(__version__)


def main() -> None:
    """Entry point of the `orchestrator` console script."""
    app()
