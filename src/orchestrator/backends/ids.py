"""Model ids: `provider:model`, parsed in exactly one function.

Examples of ids: `llamacpp:smollm2`, `vllm:Qwen/Qwen2.5-7B-Instruct`, `ollama:qwen2.5:7b`,
`openai:gpt-4o-mini`, `openai-compatible:my-model`, `test:scripted`. Only the first colon
separates the provider, so model names may contain colons (Ollama tags) and slashes.

The parser lives in `orchestrator._model_ids`, which imports nothing heavy, so that settings
can check every id when they load without importing this package.
"""

from __future__ import annotations

from orchestrator._model_ids import ModelId, parse_model_id

__all__ = ["ModelId", "parse_model_id"]
