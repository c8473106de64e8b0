"""orchestrator.graphs: see README for what lands here."""

__all__: list[str] = []
