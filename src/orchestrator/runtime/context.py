"""The run context: per-run, read-only values every node and tool of a graph sees.

It is the graphs' LangGraph `context_schema`: passed as `context=` when a run starts (the
`Orchestrator` does it), read by nodes through `runtime.context` and by tools through the
injected `ToolRuntime`. It never goes into the graph's state (which is checkpointed and may be
shown to a model) and never comes from a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from orchestrator.errors import ConfigError
from orchestrator.tools._core import run_context_values

__all__ = ["RunContext"]


@dataclass(frozen=True, slots=True)
class RunContext:
    """Who a run acts for, and where it comes from.

    Attributes:
        actor: who the run acts for in the audit log: a user name, a service's name, or
            `customer:<id>` (1-64 characters).
        customer_id: the authenticated customer of a customer-facing run, set by the code that
            authenticated them; customer-facing agents act only on this customer's records.
        channel: where the run comes from (`api`, `web`, `email`, `cli`, ...).
        tenant: the shop, for deployments serving several.

    Example:
        >>> RunContext(actor="customer:7", customer_id=7, channel="web")
        RunContext(actor='customer:7', customer_id=7, channel='web', tenant=None)
    """

    actor: str
    customer_id: int | None = None
    channel: str = "api"
    tenant: str | None = None

    def __post_init__(self) -> None:
        run_context_values(self)
        if len(self.actor) > 64:
            raise ConfigError(f"run context actor={self.actor[:20]!r}...: at most 64 characters")
        if len(self.channel) > 32:
            raise ConfigError(f"run context channel={self.channel!r}: at most 32 characters")
        if self.tenant is not None and len(self.tenant) > 64:
            raise ConfigError(f"run context tenant={self.tenant!r}: at most 64 characters")

    @classmethod
    def coerce(cls, value: RunContext | Mapping[str, Any]) -> RunContext:
        """A `RunContext` from itself or a mapping with the same keys (what an API receives).

        Raises:
            ConfigError: unknown keys or bad values.
        """
        if isinstance(value, RunContext):
            return value
        if isinstance(value, Mapping):
            values = run_context_values(value)
            if not values.get("actor"):
                raise ConfigError("a run context needs an actor, e.g. {'actor': 'alice'}")
            return cls(**{k: v for k, v in values.items() if v is not None})
        raise ConfigError(
            f"context={value!r}: pass RunContext(actor=..., customer_id=...) or a mapping"
        )

    def to_dict(self) -> dict[str, Any]:
        """The context as a JSON-serializable dict."""
        return asdict(self)
