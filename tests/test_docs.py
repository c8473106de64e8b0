"""Every snippet in README.md and docs/*.md runs as written.

Pages are found by globbing, so a new docs page is tested without touching this file. Each
page runs in a fresh temporary directory that holds a copy of `examples/` (so relative paths
such as `examples/data/products.csv` work), with no `ORCH_*` variables set and a private
cache, so a snippet's default store (`sqlite:///orchestrator.db`) is a new file there.

What runs is decided by the fence's info string (see CONTRIBUTING.md, "Docs that run"):

- ```` ```python ```` runs; a page's Python blocks share one namespace and run in order;
- ```` ```python no-run ```` is shown, not run: only for code that needs a running server or a
  running graph around it (say so in the text next to it);
- ```` ```console run ```` runs each `$ orchestrator ...` line through the CLI (in-process) and
  `$ export NAME=value` sets a variable for the lines and blocks after it; a command must exit
  0, and every line printed under it in the block must appear in its output;
- any other block (`console`, `bash`, `csv`, `json`, ...) is not run.
"""

from __future__ import annotations

import re
import shlex
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    """The line of the block's first content line in the page (1-based)."""
    info: list[str]
    code: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks(page: Path) -> Iterator[Block]:
    text = page.read_text()
    for match in FENCE.finditer(text):
        line = text.count("\n", 0, match.start(2)) + 1
        yield Block(page, line, match.group(1).split(), match.group(2))


def _runs(block: Block) -> bool:
    if block.info[:1] == ["python"]:
        return "no-run" not in block.info
    return block.info[:2] == ["console", "run"]


def _run_python(block: Block, namespace: dict[str, Any]) -> None:
    # Padding puts the page's own line numbers into any traceback.
    code = compile("\n" * (block.line - 1) + block.code, str(block.page), "exec")
    exec(code, namespace)


def _run_console(block: Block, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from orchestrator.cli import app

    steps: list[tuple[int, str, list[str]]] = []
    for offset, raw in enumerate(block.code.splitlines()):
        if raw.startswith("$ "):
            steps.append((block.line + offset, raw[2:], []))
        elif raw.strip():
            assert steps, f"{block.where}: output before any command: {raw!r}"
            steps[-1][2].append(raw.strip())
    for line, command, expected in steps:
        argv = shlex.split(command, comments=True)
        where = f"{block.page.relative_to(ROOT)}:{line}"
        if argv[0] == "export":
            name, _, value = argv[1].partition("=")
            monkeypatch.setenv(name, value)
            continue
        assert argv[0] == "orchestrator", f"{where}: only orchestrator and export run: {command}"
        result = CliRunner().invoke(app, argv[1:])
        assert result.exit_code == 0, (
            f"{where}: `{command}` exited {result.exit_code}:\n{result.output}"
        )
        for want in expected:
            assert want in result.output, (
                f"{where}: `{command}` did not print {want!r}:\n{result.output}"
            )


@pytest.fixture
def page_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh directory with examples/, no ORCH_* settings, and the provider registry restored."""
    import os

    from orchestrator.backends import registry

    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.upper().startswith("ORCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name, value in (("CREWAI_DISABLE_TELEMETRY", "true"), ("OTEL_SDK_DISABLED", "true")):
        monkeypatch.setenv(name, value)
    providers = dict(registry._registry)
    try:
        yield tmp_path
    finally:
        registry._registry.clear()
        registry._registry.update(providers)


def run_page(page: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Run every runnable block of a page in order; return the Python namespace."""
    namespace: dict[str, Any] = {"__name__": f"docs:{page.name}"}
    for block in blocks(page):
        if not _runs(block):
            continue
        if block.info[0] == "python":
            _run_python(block, namespace)
        else:
            _run_console(block, monkeypatch)
    return namespace


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_runs(page: Path, page_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    namespace = run_page(page, monkeypatch)
    if page.name == "README.md":
        assert namespace["order"].status == "placed"
        assert (page_env / "shop.db").exists()
        assert len(namespace["tools"]) > 5


def test_every_page_is_found_and_snippets_are_marked() -> None:
    names = {p.name for p in PAGES}
    assert {"README.md", "data.md", "services.md", "tools.md", "backends.md"} <= names
    python = [b for page in PAGES for b in blocks(page) if b.info[:1] == ["python"]]
    assert len([b for b in python if _runs(b)]) >= 8
    for block in python:
        assert set(block.info[1:]) <= {"no-run"}, f"{block.where}: unknown marker {block.info}"


def test_the_walkthrough_builds_a_shop_that_takes_orders(
    page_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """docs/data.md's walk-through, checked beyond its printed lines."""
    namespace = run_page(ROOT / "docs" / "data.md", monkeypatch)
    order = namespace["order"]
    assert (order.status, order.lines[0].unit_price_cents) == ("placed", 3699)
    svc = namespace["svc"]
    (shop,) = svc.get_stock("PW-UNO-KIT", "PW-SHOP")
    assert (shop.on_hand, shop.reserved) == (2, 1)
    assert len(svc.stock_ledger("PW-LED-100", "PW-SHOP", limit=1000)) > 10
    assert (page_env / "pinewood.db").exists()
