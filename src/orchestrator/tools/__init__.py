"""The agent-facing tool catalogue: typed, read/write-tagged, scoped per agent profile.

Tools are plain typed functions made into `ToolSpec`s by `@tool`; a `ToolCatalog` holds them
with the agent profiles (allow-lists) that select from them; a `ToolRunner` runs a model's
call: validates the arguments, checks the profile and the customer, audits refusals, derives
the write's idempotency key from the run and calls the service layer. Adapters give a
profile's tools as LangChain tools and as CrewAI tools. See docs/tools.md.

Example:
    >>> from orchestrator.tools import ToolContext, invoke
    >>> ctx = ToolContext(service=svc, agent="support", customer_id=7, thread_id="t-1",
    ...                   node="support_agent")
    >>> invoke(ctx, "get_order_status", {"order_id": 12}).status
    'placed'
"""

from __future__ import annotations

from orchestrator.tools._core import (
    CallInfo,
    KnowledgeSource,
    ToolContext,
    ToolSpec,
    current_customer,
    idempotency_key,
    require_owner,
    step_key,
    tool,
)
from orchestrator.tools.adapters import approval_payload, as_crewai_tools, as_langchain_tools
from orchestrator.tools.fulfilment import ShippingQuote, quote_shipping
from orchestrator.tools.knowledge import KnowledgePassage, KnowledgeSearchResult
from orchestrator.tools.pricing import Discount, DiscountEligibility, evaluate_discounts
from orchestrator.tools.registry import (
    BUILTIN_PROFILES,
    AgentProfile,
    ToolCatalog,
    builtin_tools,
    default_catalog,
)
from orchestrator.tools.runner import ToolRunner, invoke

__all__ = [
    "BUILTIN_PROFILES",
    "AgentProfile",
    "CallInfo",
    "Discount",
    "DiscountEligibility",
    "KnowledgePassage",
    "KnowledgeSearchResult",
    "KnowledgeSource",
    "ShippingQuote",
    "ToolCatalog",
    "ToolContext",
    "ToolRunner",
    "ToolSpec",
    "approval_payload",
    "as_crewai_tools",
    "as_langchain_tools",
    "builtin_tools",
    "current_customer",
    "default_catalog",
    "evaluate_discounts",
    "idempotency_key",
    "invoke",
    "quote_shipping",
    "require_owner",
    "step_key",
    "tool",
]
