"""A worker process for the auditor's durability test: one audit pass that can die mid-fix.

    AUDIT_KILL_AT=N python audit_worker.py URL start|resume THREAD

`build_killable_auditor` is the auditor graph (playbooks only) whose services SIGKILL the
process right after the N-th write tool call returns, before LangGraph checkpoints the `act`
node. `start` runs a pass with THREAD as its thread id; `resume` runs `run_pass`, which
first resumes every pass a killed process left unfinished. It prints each result as JSON.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

from orchestrator import load_settings
from orchestrator.graphs.auditor import build_auditor_graph
from orchestrator.graphs.auditor.passes import run_pass
from orchestrator.runtime import NodeModels, Orchestrator, Services

KILL_ENV = "AUDIT_KILL_AT"


def build_killable_auditor(*, models: NodeModels, services: Services, **_: Any) -> Any:
    kill_at = int(os.environ.get(KILL_ENV) or 0)
    real = services.invoke
    writes = {"n": 0}

    def invoke(ctx: Any, name: str, args: Any, **kwargs: Any) -> Any:
        result = real(ctx, name, args, **kwargs)
        spec = services.catalog.tools.get(name)
        if spec is not None and spec.is_write:
            writes["n"] += 1
            if writes["n"] == kill_at:
                sys.stdout.flush()
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    services.invoke = invoke  # type: ignore[method-assign]
    return build_auditor_graph(models=models, services=services, use_model=False)


def main() -> None:
    url, action, thread = sys.argv[1:4]
    with Orchestrator(load_settings(store={"url": url})) as orch:
        if action == "start":
            results = [
                orch.run("auditor", {"full": True}, context={"actor": "auditor"}, thread_id=thread)
            ]
        else:
            results = run_pass(orch, actor="auditor")
        for result in results:
            print(
                json.dumps(
                    {
                        "thread_id": result.thread_id,
                        "status": result.status,
                        "cases": result.values.get("cases", []),
                    }
                )
            )


if __name__ == "__main__":
    main()
