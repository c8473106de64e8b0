"""The errors orchestrator raises, one tree under `OrchestratorError`.

```
OrchestratorError
├── ConfigError (also ValueError)          misuse: bad settings, bad arguments to the library
├── StoreError                             the operations store
│   ├── InvalidInput (also ValueError)     a bad value from a caller: quantity, id, type
│   ├── NotFound (also LookupError)        an id that names nothing
│   │   ├── UnknownSku
│   │   └── HiddenRecord                   another customer's record, answered as not found
│   ├── InsufficientStock                  the guarded change found too little available stock
│   ├── InvalidTransition                  a status change the state machine does not allow
│   ├── IdempotencyConflict                a key replayed with different arguments
│   ├── WriteConflict                      concurrent writes kept conflicting; nothing changed
│   ├── ImportFailed                       a CSV/JSON import with bad rows; nothing was imported
│   ├── InvariantViolation                 check_invariants() found broken books
│   └── SchemaMissing                      the store has no tables (or older ones): migrate it
├── PermissionDenied                       a tool outside the agent's allow-list, or another
│   │                                      customer's records
│   └── ApprovalRejected                   a human rejected the write
├── ApprovalRequired                       a write above a threshold waits for a human
└── BackendError                           model backends
    ├── BackendUnavailable                 nothing answers at the URL, or it died mid-request
    ├── BackendTimeout                     the backend did not answer within the timeout
    ├── StructuredOutputError              no schema-valid output, even after repair
    └── ToolCallError                      no valid tool call could be had from the model
```

Every message says what was wrong, with the offending value, and what to do about it.
Graphs catch `BackendError` to take their deterministic path; a human-facing entry point
catches `OrchestratorError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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
    "StoreError",
    "StructuredOutputError",
    "ToolCallError",
    "UnknownSku",
    "WriteConflict",
]


class OrchestratorError(Exception):
    """Base class of every error orchestrator raises on purpose."""


class ConfigError(OrchestratorError, ValueError):
    """The library was configured or called wrongly (settings, arguments, model ids)."""


class StoreError(OrchestratorError):
    """Base class of the operations store's errors."""


class InvalidInput(StoreError, ValueError):
    """A caller passed a bad value: a zero or negative quantity, a malformed id, a wrong type.

    Attributes:
        field: the name of the offending argument.
        value: the value that was refused.
    """

    def __init__(self, field: str, value: object, problem: str) -> None:
        self.field = field
        self.value = value
        self.problem = problem
        super().__init__(f"invalid {field}={value!r}: {problem}")


class NotFound(StoreError, LookupError):
    """An id names no row.

    Attributes:
        entity: what kind of thing was looked up ("order", "customer", ...).
        key: the id that matched nothing.
    """

    def __init__(self, entity: str, key: object, hint: str = "") -> None:
        self.entity = entity
        self.key = key
        message = f"no {entity} with id {key!r}"
        super().__init__(f"{message}; {hint}" if hint else message)


class UnknownSku(NotFound):
    """A SKU that is not in the catalogue."""

    def __init__(self, sku: str) -> None:
        super().__init__("product", sku, "check the SKU with search_products or get_product_info")
        self.sku = sku


class HiddenRecord(NotFound):
    """Another customer's record, asked for in a customer's run: answered exactly as a missing
    id, so a customer cannot learn which ids exist. The audit log keeps the difference.

    Attributes:
        reason: what really happened (whose record it is), for the audit log only.
    """

    def __init__(self, entity: str, key: object, reason: str, hint: str = "") -> None:
        super().__init__(entity, key, hint)
        self.reason = reason


class InsufficientStock(StoreError):
    """Too little available stock for the requested quantity; nothing was changed.

    Attributes:
        sku, location: where stock was asked for.
        requested: the quantity asked for.
        available: on hand minus reserved at the moment of the guarded change.
    """

    def __init__(self, sku: str, location: str, requested: int, available: int) -> None:
        self.sku = sku
        self.location = location
        self.requested = requested
        self.available = available
        super().__init__(
            f"insufficient stock of {sku!r} at {location!r}: requested {requested}, "
            f"available {available}"
        )


class InvalidTransition(StoreError):
    """A status change the entity's state machine does not allow; nothing was changed."""

    def __init__(self, entity: str, key: object, current: str, target: str) -> None:
        self.entity = entity
        self.key = key
        # str() of a StrEnum member is its value: the message shows 'placed', not the repr.
        self.current = str(current)
        self.target = str(target)
        super().__init__(f"cannot move {entity} {key!r} from {self.current!r} to {self.target!r}")


class IdempotencyConflict(StoreError):
    """An idempotency key was replayed with different arguments or for another operation."""

    def __init__(self, key: str, operation: str, first_operation: str) -> None:
        self.key = key
        self.operation = operation
        self.first_operation = first_operation
        super().__init__(
            f"idempotency key {key!r} was first used for {first_operation!r} with other "
            f"arguments; a replay must repeat the same call ({operation!r}), or use a new key"
        )


class WriteConflict(StoreError):
    """A write kept conflicting with concurrent writes (or the database refused it) after its
    retries; nothing was changed, and calling again (with the same idempotency key) is safe.

    Attributes:
        operation: the service operation.
        attempts: how many times it was tried.
        cause: the database's reason, in a few words (no row values).
    """

    def __init__(self, operation: str, attempts: int, cause: str) -> None:
        self.operation = operation
        self.attempts = attempts
        self.cause = cause
        super().__init__(
            f"{operation} conflicted with concurrent writes {attempts} time(s) ({cause}); "
            "nothing was changed: retry the call with the same idempotency key"
        )


class ImportFailed(StoreError):
    """An import found bad rows; nothing was imported.

    Attributes:
        errors: (line number, message) for each bad row, in file order.
    """

    def __init__(self, source: str, errors: list[tuple[int, str]]) -> None:
        self.source = source
        self.errors = errors
        shown = "\n".join(f"  line {line}: {msg}" for line, msg in errors[:20])
        more = f"\n  ... and {len(errors) - 20} more" if len(errors) > 20 else ""
        super().__init__(f"{source}: {len(errors)} bad row(s), nothing imported:\n{shown}{more}")


class InvariantViolation(StoreError):
    """The store's books do not balance (raised by `check_invariants(raise_on_error=True)`)."""

    def __init__(self, violations: list[str]) -> None:
        self.violations = violations
        super().__init__(f"{len(violations)} invariant violation(s): " + "; ".join(violations[:10]))


class SchemaMissing(StoreError):
    """The store does not exist, has no tables, or lacks tables or columns this version needs.

    Nothing was read or written (and no empty database file was left behind).

    Attributes:
        url: the store's URL (password hidden).
        missing: the missing tables, or `table.column` for missing columns; empty when the
            database itself does not exist.
    """

    def __init__(self, url: str, missing: list[str]) -> None:
        self.url = url
        self.missing = missing
        if not missing:
            what = "does not exist"
        else:
            shown = ", ".join(missing[:5]) + (
                f" and {len(missing) - 5} more" if len(missing) > 5 else ""
            )
            what = f"has no {shown}"
        super().__init__(
            f"the store {url} {what}: create or migrate its schema with "
            f"`orchestrator db upgrade --db {url}`, or fill it with `orchestrator seed --db {url}`"
        )


class PermissionDenied(OrchestratorError):
    """A call outside the caller's allow-list, or on another customer's records.

    The refusal itself is audited.
    """

    def __init__(self, agent: str, action: str, reason: str) -> None:
        self.agent = agent
        self.action = action
        self.reason = reason
        super().__init__(f"agent {agent!r} may not {action}: {reason}")


class ApprovalRejected(PermissionDenied):
    """A human rejected the write this call asked approval for; nothing was changed.

    Attributes:
        approval_id: the rejected approval.
        decided_by: who rejected it.
        note: what they said.
    """

    def __init__(
        self, agent: str, action: str, approval_id: int, decided_by: str | None, note: str = ""
    ) -> None:
        self.approval_id = approval_id
        self.decided_by = decided_by
        self.note = note
        who = decided_by or "a human"
        reason = f"approval {approval_id} was rejected by {who}" + (f": {note}" if note else "")
        super().__init__(agent, action, reason)


class ApprovalRequired(OrchestratorError):
    """A write above a configured threshold needs a human decision; nothing was changed yet.

    Attributes:
        tool: the tool (or service operation) that asked.
        arguments: what it was called with, for the human to approve, edit or reject.
        reason: which threshold was crossed, with the figures.
        approval_id: the approval row recorded for it, when the store recorded one.
    """

    def __init__(
        self,
        tool: str,
        arguments: Mapping[str, Any],
        reason: str,
        approval_id: int | None = None,
    ) -> None:
        self.tool = tool
        self.arguments = dict(arguments)
        self.reason = reason
        self.approval_id = approval_id
        super().__init__(f"{tool} needs approval: {reason}")


class BackendError(OrchestratorError):
    """Base class of model backend errors; graphs catch it to take their deterministic path."""


class BackendUnavailable(BackendError):
    """Nothing answers at the backend's URL, or the server went away mid-request."""


class BackendTimeout(BackendError):
    """The backend did not answer within the configured timeout."""


class StructuredOutputError(BackendError):
    """The model gave no output that validates against the schema, even after one repair."""


class ToolCallError(BackendError):
    """The model gave no valid tool call (none, an unknown tool, or arguments that fail)."""
