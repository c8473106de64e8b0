"""`demo_steps`: the pricing graph's part of `orchestrator demo`, on a small seeded shop."""

from __future__ import annotations

from pathlib import Path

from orchestrator.backends.none import NoModel
from orchestrator.graphs.pricing import demo_steps
from orchestrator.testing import seeded_shop


def test_demo_steps(tmp_path: Path) -> None:
    with seeded_shop(tmp_path / "shop.db", memory={"enabled": False}) as shop:
        orch = shop.orchestrator(models=NoModel(model_name="rules"))
        steps = demo_steps(orch, None)
    assert [name for name, _, _ in steps] == [
        "pricing: dry run proposes, writes nothing",
        "pricing: prices applied, large ones after approval",
        "pricing: every price at or above its margin floor, written once",
        "pricing: report",
    ]
    assert all(ok for _, ok, _ in steps), steps
    assert "edit" in steps[1][2] and "reject" in steps[1][2]
