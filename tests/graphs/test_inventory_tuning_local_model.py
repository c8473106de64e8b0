"""The tuning graph's reasons on the real local model (SmolLM2 on llama-server).

Whatever the small model writes, a reason that reaches the store states only figures the
code computed; the test prints what the model wrote and what code kept.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest

from orchestrator.graphs.inventory_tuning import PairPlan, check_rationale
from orchestrator.runtime import RunContext
from orchestrator.testing import seeded_shop

_spec = importlib.util.spec_from_file_location(
    "_backends_conftest", Path(__file__).parents[1] / "backends" / "conftest.py"
)
assert _spec is not None and _spec.loader is not None
_backends = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_backends)
local_pieces = _backends.local_pieces
llama_server = _backends.llama_server

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_smollm2_reasons_are_checked(llama_server: Any, tmp_path: Path) -> None:
    with seeded_shop(
        tmp_path / "shop.db",
        skus=10,
        days=120,
        models={
            "default": "llamacpp:smollm2",
            "base_urls": {"llamacpp": llama_server.base_url},
            "timeout_s": 300,
            "max_retries": 0,
            "max_tokens": 200,
        },
        tuning={"max_explained": 3, "approve_above": 1000.0, "charts": 0},
    ) as shop:
        orch = shop.orchestrator()
        done = orch.run("inventory_tuning", {"location": "WH-MAIN"}, context=RunContext(actor="t"))
        assert done.status == "completed"
        plans = [PairPlan.model_validate(p) for p in done.values["pairs"]]
        from_model = [p for p in plans if p.reason_source == "model"]
        print(f"\n{len(from_model)} reasons kept from the model; notes: {done.values['notes']}")
        for p in plans:
            if p.reason_source == "model":
                print(f"  model  {p.sku}: {p.reason}")
                assert check_rationale(p, p.reason) is None
            policy = shop.service.get_inventory_policy(p.sku, p.location)
            if p.status == "applied":
                assert policy is not None and policy.reason == p.reason
