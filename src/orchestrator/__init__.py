"""orchestrator: run a shop's or warehouse's operations with cooperating AI agents.

The model proposes, the code disposes: language models parse, rank and explain; every change
to stock, money or an order's state is decided and checked by the services in
`orchestrator.store`, inside one audited, idempotent transaction.

Subpackages: `store` (operations store and its services), `tools` (the agent-facing tool
catalogue), `backends` (model backends), `analytics` (forecasting and inventory policy),
`graphs` (LangGraph state machines), `crews` (CrewAI analyst crews), `memory` (Chroma-backed
long-term memory). Heavy optional dependencies are imported only by the modules that need them.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from orchestrator.errors import (
    ApprovalRejected,
    ApprovalRequired,
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    HiddenRecord,
    IdempotencyConflict,
    ImportFailed,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    InvariantViolation,
    NotFound,
    OrchestratorError,
    PermissionDenied,
    SchemaMissing,
    StoreError,
    StructuredOutputError,
    ToolCallError,
    UnknownSku,
    WriteConflict,
)
from orchestrator.settings import Settings, load_settings

try:
    __version__ = version("commerce-orchestrator")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "ApprovalRejected",
    "ApprovalRequired",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "ConfigError",
    "HiddenRecord",
    "IdempotencyConflict",
    "ImportFailed",
    "InsufficientStock",
    "InvalidInput",
    "InvalidTransition",
    "InvariantViolation",
    "NotFound",
    "OrchestratorError",
    "PermissionDenied",
    "SchemaMissing",
    "Settings",
    "StoreError",
    "StructuredOutputError",
    "ToolCallError",
    "UnknownSku",
    "WriteConflict",
    "__version__",
    "load_settings",
]
