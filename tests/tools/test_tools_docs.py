"""docs/tools.md's catalogue table matches the code."""

from __future__ import annotations

import re
from pathlib import Path

from orchestrator.tools import default_catalog

DOC = Path(__file__).resolve().parents[2] / "docs" / "tools.md"
ROW = re.compile(r"^\| `(\w+)` \| (read|write) \| (\w+) \| ([\w, ]+) \| (.+) \|$")
ORDER = ["support", "order", "inventory", "procurement", "auditor", "pricing", "analyst"]


def test_catalogue_table_matches_the_code() -> None:
    catalog = default_catalog()
    documented = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line)
        if match:
            name, access, scope, profiles, description = match.groups()
            documented[name] = (access, scope, profiles, description)
    actual = {
        spec.name: (
            spec.access,
            spec.scope,
            ", ".join(p for p in ORDER if catalog.profile(p).allows(spec)),
            spec.description,
        )
        for spec in catalog
    }
    assert documented == actual
