"""Supply chain: reorder what runs low, choose suppliers, approve, send, receive, escalate.

Run it through the runtime (`Orchestrator.run("supply_chain", {...})`), from the command line
(`orchestrator replenish`, `orchestrator receive PO_ID`), or see docs/supply_chain.md. The
supplier score and the inventory-position formula are in `scoring` and `queries`.
"""

from __future__ import annotations

from orchestrator.graphs.supply_chain.demo import demo_steps
from orchestrator.graphs.supply_chain.graph import build_supply_chain_graph
from orchestrator.graphs.supply_chain.report import render_html, render_markdown, summary
from orchestrator.graphs.supply_chain.request import parse_need_date, parse_request
from orchestrator.graphs.supply_chain.scoring import score_offers
from orchestrator.graphs.supply_chain.state import (
    Choice,
    DraftOrder,
    LateAction,
    Need,
    Receipt,
    SentOrder,
    SupplierOption,
    SupplyChainInput,
    SupplyChainState,
)

__all__ = [
    "Choice",
    "DraftOrder",
    "LateAction",
    "Need",
    "Receipt",
    "SentOrder",
    "SupplierOption",
    "SupplyChainInput",
    "SupplyChainState",
    "build_supply_chain_graph",
    "demo_steps",
    "parse_need_date",
    "parse_request",
    "render_html",
    "render_markdown",
    "score_offers",
    "summary",
]
