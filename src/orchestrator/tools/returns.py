"""Returns tools: start a return for the current customer's shipped order."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from orchestrator.store.services.views import ReturnLineIn, ReturnView
from orchestrator.tools._core import ToolContext, tool
from orchestrator.tools.orders import load_owned_order
from orchestrator.tools.types import Id, Reason, ReturnLineArg

__all__ = ["TOOLS", "initiate_return"]


@tool(access="write", scope="returns")
def initiate_return(
    ctx: ToolContext,
    order_id: Id,
    lines: Annotated[list[ReturnLineArg], Field(min_length=1, max_length=100)],
    reason: Reason,
) -> ReturnView:
    """Start a return of units from a shipped or delivered order.

    Args:
        order_id: the order the goods came from.
        lines: what comes back, e.g. [{"sku": "ARD-UNO-R3", "qty": 1}]; at most the units
            shipped minus those already returned.
        reason: why the customer returns them, e.g. "arrived damaged".
    """
    load_owned_order(ctx, order_id)
    return ctx.service.initiate_return(
        order_id,
        [ReturnLineIn(sku=line.sku, qty=line.qty) for line in lines],
        reason=reason,
        **ctx.write_options(),
    )


TOOLS = [initiate_return]
