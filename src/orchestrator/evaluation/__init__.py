"""Evaluations of the built-in graphs on scenario files, with any configured model (docs/eval.md)."""

from __future__ import annotations

__all__: list[str] = []
