"""A worker process for the supply-chain durability test: runs the graph and can die on purpose.

    SUPPLY_KILL_AT=send|receive python supply_worker.py URL ACTION THREAD [ARG]

ACTION: `order` starts an urgent order for SKU ARG (30 more, waits for the caller's approval);
`approve` approves it and resumes; `receive` starts a receive run for purchase order ARG;
`resume` continues a stopped run. `SUPPLY_KILL_AT=send|receive` SIGKILLs the process right
after the store committed the purchase order (or the receipt), before LangGraph checkpoints
the node. It prints the run's status and values as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from orchestrator import load_settings
from orchestrator.runtime import Orchestrator
from orchestrator.store.services import StoreService

KILL_ENV = "SUPPLY_KILL_AT"


def _dying(method: str) -> None:
    original = getattr(StoreService, method)

    def wrapped(self: StoreService, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        sys.stdout.flush()
        os.kill(os.getpid(), signal.SIGKILL)
        return result

    setattr(StoreService, method, wrapped)


def main() -> None:
    url, action, thread = sys.argv[1:4]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    kill_at = os.environ.get(KILL_ENV, "")
    if kill_at == "send":
        _dying("submit_purchase_order")
    elif kill_at == "receive":
        _dying("receive_purchase_order")
    with Orchestrator(load_settings(store={"url": url})) as orch:
        context = {"actor": "buyer"}
        if action == "order":
            result = orch.run(
                "supply_chain",
                {
                    "as_of": "2026-11-01",
                    "items": [{"sku": arg, "qty": 30, "additional": True}],
                    "escalate": False,
                },
                context=context,
                thread_id=thread,
            )
        elif action == "approve":
            result = orch.resume(thread, "approve", by="head-of-stem")
        elif action == "receive":
            result = orch.run(
                "supply_chain",
                {"mode": "receive", "po_id": int(arg), "as_of": "2026-11-12"},
                context=context,
                thread_id=thread,
            )
        else:
            result = orch.resume(thread)
        print(json.dumps({"status": result.status, "values": result.values}, default=str))


if __name__ == "__main__":
    main()
