"""Dynamic pricing: markdowns and price moves from the shop's own elasticity, within guard rails.

```
START -> load -> estimate -> propose -> guard -> explain -> apply -> approve -> report -> END
```

`load` reads prices, costs, stock and cover, open promotions and expiry (markdown
candidates) from the store; `estimate` fits price elasticity per SKU, pooled to the category
where a SKU's prices hardly varied; `propose` turns them into markdowns and price moves;
`guard` applies the guard rails (`PricingSettings`: margin floor, maximum change per run, no
change under an open promotion); `explain` asks the model for an explanation (checked: it may
not state a number the facts do not hold; else a template); `apply` writes each price within
the approval threshold with the `set_price` tool as the `pricing` agent, and `approve` the
larger ones, each after a person's decision;
`report` writes the markdown report and a long-term memory insight. The model never sets a
number. See docs/pricing.md.
"""

from __future__ import annotations

from orchestrator.graphs.pricing.demo import demo_steps
from orchestrator.graphs.pricing.graph import build_pricing_graph
from orchestrator.graphs.pricing.rules import PriceChange, guard_price
from orchestrator.graphs.pricing.state import PricingInput, PricingState

__all__ = [
    "PriceChange",
    "PricingInput",
    "PricingState",
    "build_pricing_graph",
    "demo_steps",
    "guard_price",
]
