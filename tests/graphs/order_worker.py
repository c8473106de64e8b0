"""A worker process for the order durability test: runs the order graph and dies on purpose.

    ORDER_KILL_AT=reserve|payment|ship|waiting python order_worker.py URL start|resume|approve THREAD

`reserve`, `payment` and `ship` SIGKILL the process right after that node's writes, before
LangGraph checkpoints the node; `waiting` once the run waits for the release approval.
`approve` records a person's approval and resumes the run (in this new process). It prints
the run's status as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from orchestrator import load_settings
from orchestrator.graphs.order_fulfilment import nodes
from orchestrator.runtime import Orchestrator

KILL_ENV = "ORDER_KILL_AT"
LINES = [{"sku": "ARD-UNO-001", "qty": 8}, {"sku": "CHEM-SET-001", "qty": 2}]


def _die() -> None:
    sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _dying(name: str) -> None:
    original = getattr(nodes, name)

    def node(*args: Any, **kwargs: Any) -> Any:
        update = original(*args, **kwargs)
        _die()
        return update

    node.__name__ = name
    setattr(nodes, name, node)


def main() -> None:
    url, action, thread = sys.argv[1:4]
    kill_at = os.environ.get(KILL_ENV, "")
    if kill_at in ("reserve", "payment", "ship"):
        _dying(kill_at)  # before the graph is built: it binds the node functions then
    with Orchestrator(load_settings(store={"url": url})) as orch:
        if action == "start":
            result = orch.run(
                "order_fulfilment",
                {"customer_id": 7, "lines": LINES},
                context={"actor": "order-desk"},
                thread_id=thread,
            )
        elif action == "approve":
            result = orch.resume(thread, "approve", by="manager")
        else:
            result = orch.resume(thread)
        print(
            json.dumps(
                {
                    "status": result.status,
                    "approvals": result.approval_ids,
                    "outcome": result.values.get("status"),
                    "order_id": result.values.get("order_id"),
                }
            )
        )
        if kill_at == "waiting" and result.status == "waiting":
            _die()


if __name__ == "__main__":
    main()
