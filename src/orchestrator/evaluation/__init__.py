"""Evaluations of the graphs on seeded data: what a model (or the deterministic path) gets
right, measured; each evaluation is a module of its own (`orchestrator.evaluation.audit`)."""

from __future__ import annotations

__all__: list[str] = []
