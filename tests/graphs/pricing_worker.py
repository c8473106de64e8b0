"""A worker process for the pricing durability test: runs the pricing graph and can die.

    PRICING_KILL_AFTER_FIRST=1 python pricing_worker.py URL start|resume THREAD

With the variable set, the process SIGKILLs itself right after the first `set_price` commits,
inside the `apply` node (before LangGraph checkpoints it). Prints the run's status as JSON.
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


def main() -> None:
    url, action, thread = sys.argv[1:4]
    if os.environ.get("PRICING_KILL_AFTER_FIRST"):
        original = StoreService.set_price

        def set_price_then_die(self: StoreService, *args: Any, **kwargs: Any) -> Any:
            result = original(self, *args, **kwargs)
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)
            return result

        StoreService.set_price = set_price_then_die  # type: ignore[method-assign]
    with Orchestrator(load_settings(store={"url": url})) as orch:
        if action == "start":
            result = orch.run("pricing", {}, context={"actor": "w"}, thread_id=thread)
        else:
            result = orch.resume(thread)
        print(json.dumps({"status": result.status, "error": result.error}))


if __name__ == "__main__":
    main()
