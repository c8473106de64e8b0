"""A worker process for the tuning durability test: runs `inventory_tuning`, can die mid-apply.

    TUNING_KILL_AFTER=N python tuning_worker.py URL start|resume THREAD

`TUNING_KILL_AFTER=N` SIGKILLs the process once the apply step has written N policies (its
progress callback fires after each write), before LangGraph checkpoints the node. It prints
the run's status as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys

from orchestrator import load_settings
from orchestrator.runtime import Orchestrator


def main() -> None:
    url, action, thread = sys.argv[1:4]
    kill_after = int(os.environ.get("TUNING_KILL_AFTER", "0") or 0)
    settings = load_settings(store={"url": url}, tuning={"approve_above": 1000.0})
    with Orchestrator(settings) as orch:

        def progress(phase: str, done: int, total: int) -> None:
            if kill_after and phase == "apply" and done >= kill_after:
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)

        orch.services.extras["tuning_progress"] = progress
        if action == "start":
            result = orch.run("inventory_tuning", {}, context={"actor": "w"}, thread_id=thread)
        else:
            result = orch.resume(thread)
        print(json.dumps({"status": result.status, "counts": result.values.get("counts")}))


if __name__ == "__main__":
    main()
