"""The auditor's adapter to the detector: the finding store and the rule specs.

One place that imports `orchestrator.store.findings` and `orchestrator.store.invariants`'
rule table, so the graph's nodes depend only on the contract (`FindingStore`, `RuleSpec`).
"""

from __future__ import annotations

from typing import Any

__all__ = ["as_dict", "finding_store", "rule_spec", "rule_specs"]


def finding_store(services: Any) -> Any:
    """The `FindingStore` on the services' store (one per `Services`, built on first use)."""
    store = services.extras.get("finding_store")
    if store is None:
        from orchestrator.store.findings import FindingStore

        store = FindingStore(services.store.engine, settings=services.settings)
        services.extras["finding_store"] = store
    return store


def rule_specs() -> dict[str, Any]:
    """Every rule's spec (`RULE_SPECS`): severity, description, allowed fixes, report-only."""
    from orchestrator.store.invariants import RULE_SPECS

    return dict(RULE_SPECS)


def rule_spec(rule: str) -> Any:
    """The rule's spec, or None for a rule the detector does not describe."""
    return rule_specs().get(rule)


def as_dict(value: Any) -> dict[str, Any]:
    """A scan result (pydantic model, dataclass or mapping) as a JSON-safe dict."""
    import dataclasses
    import json

    if hasattr(value, "model_dump"):
        data = value.model_dump(mode="json")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        data = dataclasses.asdict(value)
    elif isinstance(value, dict):
        data = dict(value)
    else:
        data = {"result": str(value)}
    return dict(json.loads(json.dumps(data, default=str)))
