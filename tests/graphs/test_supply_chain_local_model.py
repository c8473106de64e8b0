"""The supply-chain graph on the real local model (SmolLM2 through llama-server).

Whatever the small model reads or writes, the numbers and the order are code's: the need date,
the quantity, the supplier and the totals are the same as on the rules-only path, and an
explanation is kept only when it names the chosen supplier and changes no number.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

from orchestrator.backends.none import NoModel
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

REQUEST = "We're running low on Arduino kits for tomorrow's robotics class, need 40 more"


@pytest.mark.integration
@pytest.mark.slow
def test_urgent_request_on_the_local_model(tmp_path: Path, llama_server: object) -> None:
    models = {
        "default": "llamacpp:smollm2",
        "base_urls": {"llamacpp": llama_server.base_url},  # type: ignore[attr-defined]
        "timeout_s": 120,
        "max_retries": 1,
        "max_tokens": 400,
    }
    ask = {"text": REQUEST, "as_of": "2026-11-01"}
    with seeded_shop(tmp_path / "shop.db", models=models) as shop:
        started = time.perf_counter()
        local = shop.orchestrator().run("supply_chain", ask, context=RunContext(actor="buyer"))
        seconds = time.perf_counter() - started
        rules = shop.orchestrator(models=NoModel()).run(
            "supply_chain", ask, context=RunContext(actor="buyer")
        )
    for key in ("need_by", "needs", "orders"):
        assert local.values[key] == rules.values[key], key
    assert local.status == rules.status == "waiting"
    sources = [c["explanation_source"] for c in local.values["choices"]]
    print(
        f"\nlocal model: request read by {local.values['request_source']}, explanations "
        f"{sources}, {seconds:.1f} s; notes {local.values['request'].get('notes')}"
    )
    for choice in local.values["choices"]:
        assert choice["chosen"]["supplier_name"] in choice["explanation"]
