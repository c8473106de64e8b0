"""Agents and tasks from `config/agents.yaml` and `config/tasks.yaml` (CrewAI's convention)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache
from importlib import resources
from typing import Any

from orchestrator.errors import ConfigError

__all__ = ["ROLES", "agent_config", "crewai", "make_agent", "make_task", "task_config"]

ROLES = (
    "inventory_manager",
    "sales_customer_service",
    "financial_pricing_analyst",
    "operations_coordinator",
    "analytics_insights_specialist",
)
"""The five analyst roles of agents.yaml."""


@cache
def _load(name: str) -> dict[str, dict[str, Any]]:
    import yaml

    text = resources.files("orchestrator.crews").joinpath("config", name).read_text("utf-8")
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ConfigError(f"orchestrator/crews/config/{name} is not a mapping")
    return data


def agent_config(name: str) -> dict[str, Any]:
    """One agent's entry of agents.yaml (role, goal, backstory)."""
    agents = _load("agents.yaml")
    if name not in agents:
        raise ConfigError(f"no agent {name!r} in agents.yaml; known: {', '.join(agents)}")
    return dict(agents[name])


def task_config(name: str) -> dict[str, Any]:
    """One task's entry of tasks.yaml (description, expected_output, agent)."""
    tasks = _load("tasks.yaml")
    if name not in tasks:
        raise ConfigError(f"no task {name!r} in tasks.yaml; known: {', '.join(tasks)}")
    return dict(tasks[name])


def crewai() -> Any:
    """The crewai module, imported with its telemetry off (it takes seconds to import)."""
    os.environ.setdefault("CREWAI_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("CREWAI_DISABLE_TRACKING", "true")
    os.environ.setdefault("OTEL_SDK_DISABLED", "true")
    try:
        import crewai as module
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ConfigError("crews need crewai: pip install 'commerce-orchestrator[crews]'") from exc
    return module


def make_agent(name: str, *, llm: Any, tools: Sequence[Any] = (), max_iter: int = 3) -> Any:
    """A CrewAI `Agent` from agents.yaml with the given LLM and tools (no delegation)."""
    cfg = agent_config(name)
    return crewai().Agent(
        role=cfg["role"].strip(),
        goal=cfg["goal"].strip(),
        backstory=cfg["backstory"].strip(),
        llm=llm,
        tools=list(tools),
        allow_delegation=False,
        max_iter=max_iter,
        # One retry of a failed model call: a local model that timed out once will time out
        # again, and the caller falls back to code instead of waiting three times as long.
        max_retry_limit=1,
        verbose=False,
    )


def make_task(
    name: str, *, agent: Any, output_pydantic: type[Any] | None = None, context: Sequence[Any] = ()
) -> Any:
    """A CrewAI `Task` from tasks.yaml for `agent`."""
    cfg = task_config(name)
    kwargs: dict[str, Any] = {}
    if output_pydantic is not None:
        kwargs["output_pydantic"] = output_pydantic
    if context:
        kwargs["context"] = list(context)
    return crewai().Task(
        description=cfg["description"].strip(),
        expected_output=cfg["expected_output"].strip(),
        agent=agent,
        **kwargs,
    )
