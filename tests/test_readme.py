"""The README's Python blocks run as written (in order, in one namespace, in a temp dir)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_blocks_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.DOTALL)
    assert len(blocks) >= 2, "the README lost its quick start"
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    for block in blocks:
        exec(compile(block, str(README), "exec"), namespace)
    assert namespace["order"].status == "placed"  # type: ignore[attr-defined]
    assert (tmp_path / "shop.db").exists()
    assert len(namespace["tools"]) > 5  # type: ignore[arg-type]
