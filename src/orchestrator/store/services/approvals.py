"""Human decisions on writes that crossed an approval threshold, and approval gates."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from orchestrator.errors import InvalidInput, InvalidTransition, PermissionDenied
from orchestrator.store.models import ApprovalStatus
from orchestrator.store.services._core import (
    APPROVAL,
    Actor,
    Tx,
    _Core,
    check_code,
    check_id,
    check_text,
)
from orchestrator.store.services.views import ApprovalView

__all__ = ["ApprovalsMixin"]

_MAX_EDIT_BYTES = 20_000


def _check_arguments(field: str, value: object) -> dict[str, Any]:
    """A JSON object of arguments (an edit, or a gate's subject), bounded in size."""
    if not isinstance(value, Mapping):
        raise InvalidInput(field, value, "expected a JSON object of arguments")
    try:
        text = json.dumps(dict(value), sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(field, value, f"not JSON-serializable: {exc}") from None
    if len(text) > _MAX_EDIT_BYTES:
        raise InvalidInput(field, text[:40] + "...", f"longer than {_MAX_EDIT_BYTES} characters")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


class ApprovalsMixin(_Core):
    """Deciding approvals, and gates that wait for one."""

    def decide_approval(
        self,
        approval_id: int,
        *,
        approve: bool,
        note: str = "",
        arguments: Mapping[str, Any] | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ApprovalView:
        """Record a human's decision on a pending approval: approve, edit, or reject.

        Agents and customers cannot decide approvals: `actor` must be a person (no `agent`,
        no `customer_id`). Once approved, the original call (re-run by its graph, or called
        again with `approval_id=`) is performed once. An edit is an approval with changed
        `arguments`: the call is then performed with those, after the same validation as any
        call (the runtime checks them against the tool's schema before recording them).

        Args:
            approval_id: the pending approval.
            approve: True to approve (or edit), False to reject.
            note: why, for the audit log and the agent.
            arguments: approve with these arguments instead of the requested ones (an edit).
            actor: the person deciding.
            idempotency_key: makes the decision itself safe to retry.

        Raises:
            PermissionDenied: an agent or a customer tried to decide.
            InvalidTransition: the approval was decided already.
            InvalidInput: an edit on a rejection, or arguments that are not a JSON object.
            NotFound: no such approval.
        """
        args: dict[str, Any] = {"approval_id": approval_id, "approve": approve, "note": note}
        if arguments is not None:
            args["arguments"] = arguments

        def run(tx: Tx) -> ApprovalView:
            check_id("approval_id", approval_id)
            if not isinstance(approve, bool):
                raise InvalidInput("approve", approve, "expected True or False")
            check_text("note", note, max_len=2000)
            edited = None
            if arguments is not None:
                if not approve:
                    raise InvalidInput(
                        "arguments", arguments, "a rejection takes no arguments; edit = approve"
                    )
                edited = _check_arguments("arguments", arguments)
            if tx.actor.agent is not None or tx.actor.customer_id is not None:
                raise PermissionDenied(
                    tx.actor.agent or tx.actor.name,
                    "decide_approval",
                    "approvals are decided by a person, not by an agent or a customer",
                )
            row = self._locked(tx.conn, APPROVAL, "approval", approval_id)
            target = ApprovalStatus.APPROVED if approve else ApprovalStatus.REJECTED
            if row["status"] != ApprovalStatus.PENDING:
                raise InvalidTransition("approval", approval_id, row["status"], target.value)
            if edited is not None and edited == row["arguments"]:
                edited = None  # "edited" to what was asked: a plain approval
            moved = tx.conn.execute(
                APPROVAL.update()
                .where(
                    APPROVAL.c.id == approval_id,
                    APPROVAL.c.status == ApprovalStatus.PENDING.value,
                )
                .values(
                    status=target.value,
                    decided_by=tx.actor.name,
                    decision_note=note,
                    decided_at=tx.now,
                    approved_arguments=edited,
                )
            ).rowcount
            if moved != 1:
                raise InvalidTransition("approval", approval_id, "decided", target.value)
            tx.before = {"status": row["status"]}
            tx.after = {"status": target.value}
            if edited is not None:
                tx.after["approved_arguments"] = edited
            fields = {k: row[k] for k in ApprovalView.model_fields if k in row}
            return ApprovalView(
                **{
                    **fields,
                    "status": target.value,
                    "decided_by": tx.actor.name,
                    "decision_note": note,
                    "decided_at": tx.now,
                    "approved_arguments": edited,
                }
            )

        return self._write(
            "decide_approval",
            args,
            run,
            view=ApprovalView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=note if isinstance(note, str) else "",
        )

    def approval_gate(
        self,
        subject: str,
        arguments: Mapping[str, Any],
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> ApprovalView:
        """Pass only once a human approved `subject` with `arguments`: a graph's own gate.

        For decisions that are not one service write (release a large order, trust a new
        customer): the first call records a pending approval and raises `ApprovalRequired`;
        once a human approved it, the same call (same idempotency key, or `approval_id=`)
        consumes the approval and returns it. A human may approve with changed arguments:
        the caller then acts on the result's `effective_arguments`.

        Args:
            subject: what is decided, e.g. `"release_order"` (letters, digits, `._:-`).
            arguments: what the human sees and decides on.
            reason: why a human must decide, with the figures.
            actor: who asks (the agent's run).
            idempotency_key: the call's key (a graph's step key).
            approval_id: an approved approval, if the caller holds its id.

        Raises:
            ApprovalRequired: no decision yet.
            ApprovalRejected: a human rejected it.
        """
        args = _check_arguments("arguments", arguments)
        check_code("subject", subject)
        check_text("reason", reason, max_len=500, required=True)

        def run(tx: Tx) -> ApprovalView:
            used = self._require_approval(tx, True, reason, match="requested")
            row = self._locked(tx.conn, APPROVAL, "approval", used or 0)
            tx.after = {"approval_id": used}
            return ApprovalView(**{k: row[k] for k in ApprovalView.model_fields if k in row})

        return self._write(
            subject,
            args,
            run,
            view=ApprovalView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason,
        )
