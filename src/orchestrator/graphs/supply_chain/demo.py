"""`demo_steps`: the urgent Arduino request, approved, sent and received, on the demo store."""

from __future__ import annotations

from typing import Any

__all__ = ["demo_steps"]


def demo_steps(orch: Any, console: Any) -> list[tuple[str, bool, str]]:
    """Placeholder until the demo is written."""
    return []
