"""Human decisions on writes that crossed an approval threshold."""

from __future__ import annotations

from orchestrator.errors import InvalidInput, InvalidTransition, PermissionDenied
from orchestrator.store.models import ApprovalStatus
from orchestrator.store.services._core import (
    APPROVAL,
    Actor,
    Tx,
    _Core,
    check_id,
    check_text,
)
from orchestrator.store.services.views import ApprovalView

__all__ = ["ApprovalsMixin"]


class ApprovalsMixin(_Core):
    """Deciding approvals."""

    def decide_approval(
        self,
        approval_id: int,
        *,
        approve: bool,
        note: str = "",
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> ApprovalView:
        """Record a human's decision on a pending approval.

        Agents and customers cannot decide approvals: `actor` must be a person (no `agent`,
        no `customer_id`). Once approved, the original write is called again with
        `approval_id=` and performed once.

        Raises:
            PermissionDenied: an agent or a customer tried to decide.
            InvalidTransition: the approval was decided already.
            NotFound: no such approval.
        """
        args = {"approval_id": approval_id, "approve": approve, "note": note}

        def run(tx: Tx) -> ApprovalView:
            check_id("approval_id", approval_id)
            if not isinstance(approve, bool):
                raise InvalidInput("approve", approve, "expected True or False")
            check_text("note", note, max_len=2000)
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
                )
            ).rowcount
            if moved != 1:
                raise InvalidTransition("approval", approval_id, "decided", target.value)
            tx.before = {"status": row["status"]}
            tx.after = {"status": target.value}
            return ApprovalView(
                **{
                    **{k: row[k] for k in ApprovalView.model_fields},
                    "status": target.value,
                    "decided_by": tx.actor.name,
                    "decision_note": note,
                    "decided_at": tx.now,
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
