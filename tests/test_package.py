"""The package's public surface: importable with the core install, `__all__` complete."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

PUBLIC_MODULES = [
    "orchestrator",
    "orchestrator.backends",
    "orchestrator.errors",
    "orchestrator.settings",
    "orchestrator.store",
    "orchestrator.analytics",
    "orchestrator.store.services",
    "orchestrator.tools",
    "orchestrator.testing",
    "orchestrator.store.invariants",
    "orchestrator.store.seed",
    "orchestrator.store.importer",
    "orchestrator.backends.local",
    "orchestrator.memory",
    "orchestrator.memory.embeddings",
    "orchestrator.memory.kb",
    "orchestrator.memory.namespaces",
    "orchestrator.memory.store",
    "orchestrator.crews",
    "orchestrator.crews.kpis",
    "orchestrator.crews.review",
    "orchestrator.crews.pricing",
    "orchestrator.tools.knowledge",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    exported = set(module.__all__)
    # A package's public surface is what it re-exports from orchestrator; a module's is
    # what it defines itself.
    is_package = hasattr(module, "__path__")
    public = {
        attr
        for attr, value in vars(module).items()
        if not attr.startswith("_")
        and not isinstance(value, type(sys))
        and (
            getattr(value, "__module__", "").startswith("orchestrator")
            if is_package
            else getattr(value, "__module__", None) == name
        )
    }
    assert public <= exported, f"{name}: public names missing from __all__: {public - exported}"
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names {attr!r}, which does not exist"


def test_import_does_not_load_heavy_dependencies() -> None:
    code = (
        "import sys, orchestrator, orchestrator.store, orchestrator.cli;"
        "heavy = [m for m in ('crewai', 'chromadb', 'statsforecast', 'langchain_community')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "", f"import orchestrator loaded heavy dependencies: {out}"


def test_memory_and_crews_import_their_heavy_dependencies_lazily() -> None:
    code = (
        "import sys, orchestrator.memory, orchestrator.crews, orchestrator.cli.kb;"
        "heavy = [m for m in ('crewai', 'chromadb', 'onnxruntime', 'bm25s') if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.strip()
    assert out == "", f"orchestrator.memory / crews loaded heavy dependencies: {out}"
