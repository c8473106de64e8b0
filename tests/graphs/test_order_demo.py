"""`demo_steps`: the order part of `orchestrator demo` on a seeded store."""

from __future__ import annotations

import io
from pathlib import Path

from orders_shop import OrderShop, make_template
from rich.console import Console

from orchestrator.graphs.order_fulfilment import demo_steps


def test_demo_steps_place_approve_and_ship(tmp_path: Path) -> None:
    template = make_template(tmp_path)
    (tmp_path / "copy").mkdir()
    shop = OrderShop.copy(template, tmp_path / "copy")
    try:
        out = io.StringIO()
        steps = demo_steps(shop.orchestrator(), Console(file=out))
        assert [name for name, _, _ in steps] == [
            "order: placed and waiting for approval",
            "order: approved, paid and shipped",
            "order: customer notified",
        ]
        assert all(ok for _, ok, _ in steps), steps
        assert "approving as store-manager" in out.getvalue()
        assert "shipped" in steps[1][2] and "tracking" in steps[1][2]
    finally:
        shop.close()
