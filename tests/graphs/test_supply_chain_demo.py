"""`demo_steps` of the supply-chain graph on a demo-like store: every step as expected."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from rich.console import Console

from orchestrator.backends.none import NoModel
from orchestrator.graphs.supply_chain import demo_steps
from orchestrator.testing import seeded_shop


@pytest.mark.parametrize("skus", [30, 120])
def test_demo_steps_urgent_arduino_path(tmp_path: Path, skus: int) -> None:
    with seeded_shop(tmp_path / "demo.db", skus=skus, days=60, anomalies=6) as shop:
        out = io.StringIO()
        steps = demo_steps(shop.orchestrator(models=NoModel()), Console(file=out, width=120))
    assert [name for name, _, _ in steps] == [
        "urgent Arduino request proposes an order and waits for the caller",
        "approved by the caller, one purchase order sent",
        "received in two deliveries",
    ]
    assert all(ok for _, ok, _ in steps), steps
    assert "supplier options" in out.getvalue()
