"""Orders from intake to a shipped parcel with the built-in `order_fulfilment` graph.

Seeds a small shop in a temporary folder and places four orders through the graph:

1. an order written as text; the model reads it (SmolLM2 through the local llama-server by
   default), code keeps only what the text supports, and the parser backs it up;
2. a large order that waits for a person's approval, approved by the store manager;
3. an order with an item the catalogue does not have: refused with the reason, no write;
4. an order whose payment the (in-process) gateway declines: its reservations are released.

    python examples/order_fulfilment.py              # the routed model (local by default)
    python examples/order_fulfilment.py --no-model   # the parser and the template only

Everything runs offline. docs/orders.md describes the flow and the settings.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any


def _show(title: str, result: Any) -> None:
    values = result.values
    print(f"== {title}")
    print(f"   run {result.status}: {values.get('reply', values.get('status'))}")
    for event in values.get("events", []):
        print(f"   - {event}")
    if values.get("notification"):
        first = values["notification"].splitlines()[0]
        print(f"   message ({values.get('notification_source')}): {first}")


def main(argv: list[str] | None = None) -> int:
    """Seed a shop and run four orders through the graph."""
    from orchestrator import load_settings
    from orchestrator.backends.local.server import ensure_local_server
    from orchestrator.graphs.order_fulfilment import InProcessGateway
    from orchestrator.runtime import Orchestrator, RunContext
    from orchestrator.store import make_engine
    from orchestrator.store.seed import seed

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-model", action="store_true", help="parser and template only")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        overrides: dict[str, Any] = {
            "store": {"url": f"sqlite:///{Path(tmp) / 'shop.db'}"},
            "memory": {"enabled": False},
        }
        if args.no_model:
            overrides["models"] = {"default": "none:rules"}
        settings = load_settings(**overrides)
        engine = make_engine(settings.store)
        seed(engine, skus=20, days=35, customers=12, anomalies=0, reset=True)
        engine.dispose()
        # The demo gateway declines customer 9's card (a real one implements PaymentGateway).
        gateway = InProcessGateway(decline_customers=[9])
        desk = RunContext(actor="order-desk", channel="cli")
        with ensure_local_server(settings), Orchestrator(settings, payments=gateway) as orch:
            text = "3 Arduino Uno kits to Lincoln High, ship ground"
            _show(
                f"text order: {text!r}",
                orch.run("order_fulfilment", {"customer_id": 7, "text": text}, context=desk),
            )

            big = orch.run(
                "order_fulfilment",
                {"customer_id": 4, "lines": [{"sku": "MICRO-SCOPE-001", "qty": 6}]},
                context=desk,
            )
            print(
                f"== large order waits for approval {big.approval_id}: "
                f"{orch.service.get_approval(big.approval_id).reason}"
            )
            _show(
                "approved by store-manager",
                orch.resume(big.thread_id, "approve", by="store-manager"),
            )

            _show(
                "unknown item",
                orch.run(
                    "order_fulfilment",
                    {"customer_id": 7, "text": "2 microscopes and 10 breadboards"},
                    context=desk,
                ),
            )
            _show(
                "declined payment",
                orch.run(
                    "order_fulfilment",
                    {"customer_id": 9, "lines": [{"sku": "ARD-UNO-001", "qty": 1}]},
                    context=desk,
                ),
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
