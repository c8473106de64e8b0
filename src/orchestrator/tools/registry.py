"""The tool catalogue and the agent profiles (allow-lists) that select from it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from orchestrator.errors import ConfigError
from orchestrator.tools._core import ToolSpec

__all__ = ["BUILTIN_PROFILES", "AgentProfile", "ToolCatalog", "builtin_tools", "default_catalog"]


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent's allow-list of tool names.

    A call to a tool outside `allowed` is refused with `PermissionDenied` and audited.
    """

    name: str
    """The profile's name; also the `agent` recorded in the audit log."""
    allowed: frozenset[str]
    """The tools this agent may call."""
    customer_facing: bool = False
    """Talks to a customer: acts only on the authenticated customer's own records."""
    read_only: bool = False
    """Refuse every write tool, even one named in `allowed`."""
    description: str = ""

    def allows(self, spec: ToolSpec) -> bool:
        """Whether the profile may call the tool."""
        return spec.name in self.allowed and not (self.read_only and spec.is_write)


def builtin_tools() -> list[ToolSpec]:
    """Every tool orchestrator ships, in catalogue order."""
    from orchestrator.tools import (
        audit,
        catalog,
        fulfilment,
        inventory,
        knowledge,
        orders,
        pricing,
        procurement,
        returns,
        support,
    )

    return [
        *catalog.TOOLS,
        *inventory.TOOLS,
        *orders.TOOLS,
        *fulfilment.TOOLS,
        *returns.TOOLS,
        *pricing.TOOLS,
        *support.TOOLS,
        *procurement.TOOLS,
        *audit.TOOLS,
        *knowledge.TOOLS,
    ]


_CATALOG_READS = ("search_products", "get_product_info", "get_similar_products")
_INVENTORY_READS = ("get_inventory", "low_stock_report")

BUILTIN_PROFILES: dict[str, tuple[tuple[str, ...], bool, str]] = {
    "support": (
        (
            *_CATALOG_READS,
            "get_inventory",
            "get_order_status",
            "get_customer_orders",
            "calculate_shipping",
            "initiate_return",
            "get_discount_eligibility",
            "create_support_ticket",
            "cancel_order",
            "modify_order",
            "search_knowledge_base",
        ),
        True,
        "Answers a customer; acts only on that customer's orders, returns and tickets.",
    ),
    "order": (
        (
            *_CATALOG_READS,
            *_INVENTORY_READS,
            "draft_order",
            "place_order",
            "get_order_status",
            "modify_order",
            "cancel_order",
            "calculate_shipping",
            "get_discount_eligibility",
        ),
        False,
        "Takes orders: drafts, places, modifies and cancels them.",
    ),
    "inventory": (
        (
            *_CATALOG_READS,
            *_INVENTORY_READS,
            "adjust_quantity",
            "transfer_stock",
            "set_inventory_policy",
            "list_suppliers",
        ),
        False,
        "Keeps stock right: counts, adjustments, transfers and reorder policies.",
    ),
    "procurement": (
        (
            *_CATALOG_READS,
            *_INVENTORY_READS,
            "list_suppliers",
            "get_supplier_offers",
            "create_purchase_order",
            "receive_purchase_order",
        ),
        False,
        "Buys stock: compares supplier offers, raises and receives purchase orders.",
    ),
    "auditor": (
        (
            *_INVENTORY_READS,
            "list_integration_transactions",
            "reprocess_transaction",
            "set_transaction_status",
            "release_reservation",
            "adjust_quantity",
        ),
        False,
        "Finds and fixes discrepancies: stuck integrations, stale reservations, wrong counts.",
    ),
    "pricing": (
        ("get_product_info", "get_inventory", "set_price"),
        False,
        "Sets list prices (markdowns and price moves) within the margin floor; nothing else.",
    ),
}
"""Built-in profiles: name -> (allowed tools, customer-facing, description). `analyst` is
built from the catalogue: every read tool, no writes."""


@dataclass(slots=True)
class ToolCatalog:
    """All tools by name, and the agent profiles that select from them.

    Example:
        >>> catalog = default_catalog()
        >>> catalog.register(my_tool)
        >>> catalog.register_profile(AgentProfile("pricing", frozenset({"my_tool"})))
    """

    tools: dict[str, ToolSpec] = field(default_factory=dict)
    profiles: dict[str, AgentProfile] = field(default_factory=dict)

    def register(self, spec: ToolSpec, *, replace: bool = False) -> ToolSpec:
        """Add a tool; a second tool with the same name is a `ConfigError` unless `replace`.

        Args:
            spec: the tool, as made by `@tool`.
            replace: overwrite a tool with the same name.
        """
        if not isinstance(spec, ToolSpec):
            raise ConfigError(f"{spec!r} is not a ToolSpec: decorate the function with @tool")
        if spec.name in self.tools and not replace:
            raise ConfigError(f"a tool named {spec.name!r} is already registered")
        self.tools[spec.name] = spec
        return spec

    def register_profile(self, profile: AgentProfile, *, replace: bool = False) -> AgentProfile:
        """Add an agent profile; every tool it allows must be registered.

        Args:
            profile: the profile.
            replace: overwrite a profile with the same name.
        """
        unknown = sorted(profile.allowed - self.tools.keys())
        if unknown:
            raise ConfigError(
                f"profile {profile.name!r} allows unregistered tools {unknown}; register them first"
            )
        if profile.name in self.profiles and not replace:
            raise ConfigError(f"a profile named {profile.name!r} is already registered")
        self.profiles[profile.name] = profile
        return profile

    def get(self, name: str) -> ToolSpec:
        """The tool called `name`; `ConfigError` listing the known ones otherwise."""
        try:
            return self.tools[name]
        except KeyError:
            raise ConfigError(
                f"unknown tool {name!r}; known tools: {', '.join(sorted(self.tools))}"
            ) from None

    def profile(self, name: str) -> AgentProfile:
        """The profile called `name`; `ConfigError` listing the known ones otherwise."""
        try:
            return self.profiles[name]
        except KeyError:
            raise ConfigError(
                f"unknown agent profile {name!r}; known profiles: "
                f"{', '.join(sorted(self.profiles))}"
            ) from None

    def tools_for(self, profile: AgentProfile | str) -> list[ToolSpec]:
        """The tools a profile may call, in catalogue order."""
        prof = self.profile(profile) if isinstance(profile, str) else profile
        return [spec for spec in self.tools.values() if prof.allows(spec)]

    def read_tools(self) -> list[str]:
        """Names of every read tool."""
        return [spec.name for spec in self.tools.values() if spec.access == "read"]

    def __iter__(self) -> Iterator[ToolSpec]:
        return iter(self.tools.values())

    def __contains__(self, name: object) -> bool:
        return name in self.tools

    def __len__(self) -> int:
        return len(self.tools)


def default_catalog(extra_tools: Iterable[ToolSpec] = ()) -> ToolCatalog:
    """A fresh catalogue with every built-in tool and the built-in profiles.

    Args:
        extra_tools: your own tools, registered before the profiles are built (so `analyst`
            gets your read tools too).
    """
    catalog = ToolCatalog()
    for spec in (*builtin_tools(), *extra_tools):
        catalog.register(spec)
    for name, (allowed, customer_facing, description) in BUILTIN_PROFILES.items():
        catalog.register_profile(
            AgentProfile(
                name,
                frozenset(allowed),
                customer_facing=customer_facing,
                description=description,
            )
        )
    catalog.register_profile(
        AgentProfile(
            "analyst",
            frozenset(catalog.read_tools()),
            read_only=True,
            description="Reads everything, changes nothing.",
        )
    )
    return catalog
