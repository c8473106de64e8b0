"""Nodes of the cycle-count graph: compare counts with the books, adjust, report.

The deltas are computed once, in `compare`, and checkpointed: `adjust` posts exactly those
(a count is a snapshot, and stock that moved since is real movement the count did not see),
so a re-run after a crash or an approval posts the same adjustments under the same keys and
replays instead of writing twice.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from orchestrator.errors import ApprovalRejected, OrchestratorError
from orchestrator.graphs.cycle_count.state import CountLine, CountResult, CycleCountState
from orchestrator.runtime.deps import Services

__all__ = ["AGENT", "adjust", "compare", "report"]

AGENT = "inventory"
"""The agent profile the graph's writes are made as (its allow-list applies)."""


def compare(state: CycleCountState, *, services: Services) -> dict[str, Any]:
    """Read the books for every counted line and compute the adjustment it needs."""
    results: list[dict[str, Any]] = []
    for raw in state.get("counts", []):
        try:
            line = CountLine.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(p) for p in first["loc"]) or "line"
            results.append(
                CountResult(
                    sku=str(raw.get("sku", "?")) if isinstance(raw, dict) else "?",
                    location=str(raw.get("location", "?")) if isinstance(raw, dict) else "?",
                    counted=0,
                    status="invalid",
                    detail=f"invalid {field}: {first['msg']}",
                ).model_dump()
            )
            continue
        try:
            levels = services.store.get_stock(line.sku, line.location)
        except OrchestratorError as exc:
            results.append(
                CountResult(
                    sku=line.sku,
                    location=line.location,
                    counted=line.counted,
                    status="invalid",
                    detail=str(exc),
                ).model_dump()
            )
            continue
        on_hand = levels[0].on_hand if levels else 0
        delta = line.counted - on_hand
        results.append(
            CountResult(
                sku=line.sku,
                location=line.location,
                counted=line.counted,
                on_hand=on_hand,
                delta=delta,
                status="matches" if delta == 0 else "pending",
                detail="" if delta == 0 else f"books say {on_hand}",
            ).model_dump()
        )
    return {"lines": results}


def adjust(
    state: CycleCountState, config: Any, runtime: Any, *, services: Services
) -> dict[str, Any]:
    """Post each pending line's adjustment; large ones wait for a person's approval."""
    ctx = services.node_context(config, runtime.context, agent=AGENT)
    reason = state.get("reason") or "cycle count"
    lines = [dict(line) for line in state.get("lines", [])]
    for line in lines:
        if line["status"] != "pending":
            continue
        args = {
            "sku": line["sku"],
            "location": line["location"],
            "delta": line["delta"],
            "reason": f"{reason}: counted {line['counted']}, books {line['on_hand']}"[:200],
        }
        call_id = f"adjust:{line['sku']}@{line['location']}"

        try:
            view = services.invoke(ctx, "adjust_quantity", args, call_id=call_id)
        except ApprovalRejected as exc:
            line["status"], line["detail"] = "rejected", exc.reason
            continue
        except OrchestratorError as exc:
            line["status"], line["detail"] = "refused", f"{type(exc).__name__}: {exc}"
            continue
        line["status"] = "adjusted"
        line["detail"] = f"on hand now {view.on_hand}"
        edited = _edited_delta(services, ctx.write_key(call_id))
        if edited is not None and edited != line["delta"]:
            line["detail"] += f"; a person changed the adjustment to {edited:+d}"
            line["delta"] = edited
    return {"lines": lines}


def _edited_delta(services: Services, key: str | None) -> int | None:
    """The delta a person approved instead of the counted one, if they edited it."""
    if key is None:
        return None
    found = services.store.approvals(idempotency_key=key, limit=1)
    if not found or found[0].approved_arguments is None:
        return None
    delta = found[0].approved_arguments.get("delta")
    return delta if isinstance(delta, int) else None


def report(state: CycleCountState) -> dict[str, Any]:
    """Write the summary a person reads (built by code from the results)."""
    lines = [CountResult.model_validate(line) for line in state.get("lines", [])]
    counts: dict[str, int] = {}
    for line in lines:
        counts[line.status] = counts.get(line.status, 0) + 1
    head = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "nothing counted"
    body = [
        f"- {line.sku} @ {line.location}: counted {line.counted}"
        + (f", books {line.on_hand}, delta {line.delta:+d}" if line.on_hand is not None else "")
        + f" -> {line.status}"
        + (f" ({line.detail})" if line.detail else "")
        for line in lines
    ]
    return {"report": f"Cycle count: {head}.\n" + "\n".join(body)}
