"""Integration transactions: stock movements reported by outside systems (POS, marketplace).

A transaction is recorded `pending`, then posted to the ledger (ref_type `integration`,
ref_id its id) exactly once, or failed with an error and reprocessed later.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import case, func, select

from orchestrator.errors import InsufficientStock, InvalidInput, InvalidTransition, NotFound
from orchestrator.store.models import TRANSITIONS, IntegrationTxnStatus, LedgerKind
from orchestrator.store.services._core import (
    INTEGRATION,
    LEDGER,
    Actor,
    Tx,
    check_choice,
    check_code,
    check_delta,
    check_id,
    check_text,
)
from orchestrator.store.services.stock import StockMixin, stock_view
from orchestrator.store.services.views import IntegrationTxnView, ReversalView

__all__ = ["INTEGRATION_KINDS", "REVERSAL_REF_TYPE", "IntegrationsMixin"]

REVERSAL_REF_TYPE = "integration_reversal"
"""The ledger `ref_type` of a row reversing one extra posting of an integration transaction
(`ref_id` the transaction's id); the `duplicate_posting` invariant nets them out."""

INTEGRATION_KINDS = ("sale", "receipt", "adjustment", "return")
"""The ledger kinds an outside system may post."""


def _view(row: Any, **changes: Any) -> IntegrationTxnView:
    data = {k: row[k] for k in IntegrationTxnView.model_fields if k != "replayed"}
    data.update(changes)
    return IntegrationTxnView(**data)


class IntegrationsMixin(StockMixin):
    """Integration transactions."""

    def record_integration_transaction(
        self,
        source: str,
        external_id: str,
        kind: str,
        sku: str,
        location: str,
        delta: int,
        *,
        payload: dict[str, Any] | None = None,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> IntegrationTxnView:
        """Record a movement reported by `source` as `pending` (not yet on the ledger).

        (source, external_id) is unique: reporting the same movement again returns the
        first record; the same id with other figures is refused.

        Raises:
            InvalidInput: a bad kind, a sign that contradicts it (sales are negative,
                receipts and returns positive), the same external id with other figures.
            UnknownSku, NotFound: the SKU or location does not exist.
        """
        args = {
            "source": source,
            "external_id": external_id,
            "kind": kind,
            "sku": sku,
            "location": location,
            "delta": delta,
            "payload": payload,
        }

        def run(tx: Tx) -> IntegrationTxnView:
            check_code("source", source, max_len=32)
            check_code("external_id", external_id)
            check_choice("kind", kind, INTEGRATION_KINDS)
            check_code("sku", sku)
            check_code("location", location, max_len=32)
            check_delta("delta", delta)
            if payload is not None and not isinstance(payload, dict):
                raise InvalidInput("payload", payload, "expected a JSON object (dict) or None")
            if kind == "sale" and delta > 0:
                raise InvalidInput("delta", delta, "a sale takes units out: pass a negative delta")
            if kind in ("receipt", "return") and delta < 0:
                raise InvalidInput("delta", delta, f"a {kind} adds units: pass a positive delta")
            self._staff_only(tx)
            existing = (
                tx.conn.execute(
                    select(INTEGRATION).where(
                        INTEGRATION.c.source == source, INTEGRATION.c.external_id == external_id
                    )
                )
                .mappings()
                .first()
            )
            if existing is not None:
                same = (existing["kind"], existing["sku"], existing["location"], existing["delta"])
                if same != (kind, sku, location, delta):
                    raise InvalidInput(
                        "external_id",
                        external_id,
                        f"{source} already reported it as transaction {existing['id']} "
                        f"({existing['kind']} {existing['delta']} of {existing['sku']} at "
                        f"{existing['location']})",
                    )
                tx.after = {"txn_id": existing["id"], "duplicate": True}
                return _view(existing)
            self._product(tx.conn, sku)
            self._location(tx.conn, location)
            values = {
                "source": source,
                "external_id": external_id,
                "kind": kind,
                "sku": sku,
                "location": location,
                "delta": delta,
                "status": IntegrationTxnStatus.PENDING.value,
                "attempts": 0,
                "error": None,
                "payload": payload or {},
                "created_at": tx.now,
                "updated_at": tx.now,
                "posted_at": None,
            }
            txn_id = self._insert_id(tx.conn, INTEGRATION, values)
            tx.after = {"txn_id": txn_id, "status": IntegrationTxnStatus.PENDING.value}
            return IntegrationTxnView(id=txn_id, **values)

        return self._write(
            "record_integration_transaction",
            args,
            run,
            view=IntegrationTxnView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def _post(self, tx: Tx, txn: Any) -> IntegrationTxnView:
        """Post `txn` to the ledger and mark it posted (raises if stock does not allow it)."""
        self._move(
            tx,
            INTEGRATION,
            "integration_transaction",
            txn["id"],
            txn["status"],
            IntegrationTxnStatus.POSTED,
            attempts=txn["attempts"] + 1,
            error=None,
            posted_at=tx.now,
            updated_at=tx.now,
        )
        on_ledger = self._postings(tx, txn["id"])
        if on_ledger > 0:
            # Its status says otherwise, but the movement is on the ledger already (a status
            # written around the services): posting it again would count it twice.
            raise InvalidInput(
                "txn_id",
                txn["id"],
                f"it is {txn['status']}, but already posted to the ledger {on_ledger} time(s): "
                "posting again would count it twice; fix its status instead",
            )
        before, after = self._change_on_hand(
            tx,
            txn["sku"],
            txn["location"],
            txn["delta"],
            kind=LedgerKind(txn["kind"]),
            reason=f"{txn['source']} {txn['external_id']}",
            ref_type="integration",
            ref_id=str(txn["id"]),
        )
        tx.before = {"status": txn["status"], "on_hand": before.on_hand}
        tx.after = {"status": IntegrationTxnStatus.POSTED.value, "on_hand": after.on_hand}
        return _view(
            txn,
            status=IntegrationTxnStatus.POSTED.value,
            attempts=txn["attempts"] + 1,
            error=None,
            posted_at=tx.now,
            updated_at=tx.now,
        )

    @staticmethod
    def _postings(tx: Tx, txn_id: int) -> int:
        """How many times the transaction is on the ledger, net of reversals."""
        net = tx.conn.execute(
            select(
                func.coalesce(func.sum(case((LEDGER.c.ref_type == "integration", 1), else_=-1)), 0)
            ).where(
                LEDGER.c.ref_type.in_(["integration", REVERSAL_REF_TYPE]),
                LEDGER.c.ref_id == str(txn_id),
            )
        ).scalar_one()
        return int(net)

    def _lock_txn(self, tx: Tx, txn_id: int) -> Any:
        check_id("txn_id", txn_id)
        self._staff_only(tx)
        return self._locked(tx.conn, INTEGRATION, "integration transaction", txn_id)

    def post_integration_transaction(
        self, txn_id: int, *, actor: Actor, idempotency_key: str | None = None
    ) -> IntegrationTxnView:
        """Post a pending or failed transaction: one ledger row, the status `posted`.

        Raises:
            InvalidTransition: it is posted already (never posted twice).
            InsufficientStock: a decrease that available stock does not cover.
        """

        def run(tx: Tx) -> IntegrationTxnView:
            return self._post(tx, self._lock_txn(tx, txn_id))

        return self._write(
            "post_integration_transaction",
            {"txn_id": txn_id},
            run,
            view=IntegrationTxnView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def fail_integration_transaction(
        self, txn_id: int, *, error: str, actor: Actor, idempotency_key: str | None = None
    ) -> IntegrationTxnView:
        """Mark a pending transaction failed with the error that stopped it.

        Raises:
            InvalidTransition: it is not pending.
        """
        args = {"txn_id": txn_id, "error": error}

        def run(tx: Tx) -> IntegrationTxnView:
            check_text("error", error, max_len=2000, required=True)
            txn = self._lock_txn(tx, txn_id)
            self._move(
                tx,
                INTEGRATION,
                "integration_transaction",
                txn_id,
                txn["status"],
                IntegrationTxnStatus.FAILED,
                error=error,
                updated_at=tx.now,
            )
            tx.before = {"status": txn["status"]}
            tx.after = {"status": IntegrationTxnStatus.FAILED.value}
            return _view(
                txn, status=IntegrationTxnStatus.FAILED.value, error=error, updated_at=tx.now
            )

        return self._write(
            "fail_integration_transaction",
            args,
            run,
            view=IntegrationTxnView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=error if isinstance(error, str) else "",
        )

    def reprocess_transaction(
        self, txn_id: int, *, actor: Actor, idempotency_key: str | None = None
    ) -> IntegrationTxnView:
        """Try again to post a failed or stuck pending transaction.

        When stock still does not allow it, the transaction is left (or marked) `failed`
        with the reason and one more attempt counted, and that view is returned: no raise.

        Raises:
            InvalidTransition: it is posted already.
        """

        def run(tx: Tx) -> IntegrationTxnView:
            txn = self._lock_txn(tx, txn_id)
            try:
                return self._post(tx, txn)
            except (InsufficientStock, NotFound) as exc:
                if txn["status"] == IntegrationTxnStatus.POSTED:
                    raise
                # The guarded changes refused: nothing was written yet but the status
                # move; record the failure instead.
                tx.conn.execute(
                    INTEGRATION.update()
                    .where(INTEGRATION.c.id == txn_id)
                    .values(
                        status=IntegrationTxnStatus.FAILED.value,
                        attempts=txn["attempts"] + 1,
                        error=str(exc),
                        posted_at=None,
                        updated_at=tx.now,
                    )
                )
                tx.before = {"status": txn["status"]}
                tx.after = {"status": IntegrationTxnStatus.FAILED.value, "error": str(exc)}
                return _view(
                    txn,
                    status=IntegrationTxnStatus.FAILED.value,
                    attempts=txn["attempts"] + 1,
                    error=str(exc),
                    updated_at=tx.now,
                )

        return self._write(
            "reprocess_transaction",
            {"txn_id": txn_id},
            run,
            view=IntegrationTxnView,
            actor=actor,
            idempotency_key=idempotency_key,
        )

    def set_transaction_status(
        self,
        txn_id: int,
        status: str,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
    ) -> IntegrationTxnView:
        """Move a transaction along `TRANSITIONS["integration_transaction"]`.

        `posted` posts it (ledger row), `failed` records `reason` as the error, `pending`
        queues a failed one again.

        Raises:
            InvalidTransition: the move is not allowed.
            InvalidInput: an unknown status, an empty reason.
        """
        args = {"txn_id": txn_id, "status": status, "reason": reason}

        def run(tx: Tx) -> IntegrationTxnView:
            check_choice("status", status, tuple(s.value for s in IntegrationTxnStatus))
            check_text("reason", reason, required=True)
            txn = self._lock_txn(tx, txn_id)
            if status == IntegrationTxnStatus.POSTED:
                return self._post(tx, txn)
            if status not in TRANSITIONS["integration_transaction"].get(txn["status"], ()):
                raise InvalidTransition("integration_transaction", txn_id, txn["status"], status)
            error = reason if status == IntegrationTxnStatus.FAILED else txn["error"]
            self._move(
                tx,
                INTEGRATION,
                "integration_transaction",
                txn_id,
                txn["status"],
                status,
                error=error,
                updated_at=tx.now,
            )
            tx.before = {"status": txn["status"]}
            tx.after = {"status": status}
            return _view(txn, status=status, error=error, updated_at=tx.now)

        return self._write(
            "set_transaction_status",
            args,
            run,
            view=IntegrationTxnView,
            actor=actor,
            idempotency_key=idempotency_key,
            reason=reason if isinstance(reason, str) else "",
        )

    def reverse_duplicate_posting(
        self,
        txn_id: int,
        *,
        reason: str,
        actor: Actor,
        idempotency_key: str | None = None,
        approval_id: int | None = None,
    ) -> ReversalView:
        """Reverse the extra ledger postings of a transaction posted more than once.

        Appends one `correction` ledger row (ref_type `integration_reversal`) of minus the
        posting's delta per extra posting, and changes on-hand by the same, so that the
        transaction counts exactly once again. The ledger stays append-only: nothing is
        deleted. Reversing more units than `adjustment_units` needs an approval.

        Raises:
            InvalidInput: it is posted at most once (nothing to reverse), an empty reason.
            NotFound: no such transaction.
            ApprovalRequired: the reversal is above the threshold.
            InsufficientStock: the reversal would take on-hand below what is reserved.
        """
        args = {"txn_id": txn_id, "reason": reason}

        def run(tx: Tx) -> ReversalView:
            check_text("reason", reason, required=True)
            txn = self._lock_txn(tx, txn_id)
            ref = str(txn_id)
            rows = tx.conn.execute(
                select(
                    LEDGER.c.ref_type,
                    func.count().label("n"),
                    func.max(LEDGER.c.id).label("last_id"),
                )
                .where(
                    LEDGER.c.ref_type.in_(["integration", REVERSAL_REF_TYPE]),
                    LEDGER.c.ref_id == ref,
                )
                .group_by(LEDGER.c.ref_type)
            ).all()
            counts = {r.ref_type: int(r.n) for r in rows}
            postings = counts.get("integration", 0)
            extra = postings - counts.get(REVERSAL_REF_TYPE, 0) - 1
            if extra <= 0:
                raise InvalidInput(
                    "txn_id",
                    txn_id,
                    f"it is posted {postings} time(s) with "
                    f"{counts.get(REVERSAL_REF_TYPE, 0)} reversal(s): nothing to reverse",
                )
            last = next(r.last_id for r in rows if r.ref_type == "integration")
            posted = tx.conn.execute(
                select(LEDGER.c.sku, LEDGER.c.location, LEDGER.c.delta).where(LEDGER.c.id == last)
            ).one()
            units = abs(int(posted.delta)) * extra
            limit = self.settings.approvals.adjustment_units
            self._require_approval(
                tx,
                units > limit,
                f"reversing {extra} duplicate posting(s) of transaction {txn_id} moves "
                f"{units} units of {posted.sku} at {posted.location}, more than {limit}",
            )
            before = after = None
            for _ in range(extra):
                step_before, after = self._change_on_hand(
                    tx,
                    posted.sku,
                    posted.location,
                    -int(posted.delta),
                    kind=LedgerKind.CORRECTION,
                    reason=f"reverse duplicate posting of {txn['source']} "
                    f"{txn['external_id']}: {reason}",
                    ref_type=REVERSAL_REF_TYPE,
                    ref_id=ref,
                )
                before = before or step_before
            assert before is not None and after is not None
            delta = -int(posted.delta) * extra
            tx.before = {"on_hand": before.on_hand, "postings": postings}
            tx.after = {"on_hand": after.on_hand, "reversed": extra, "delta": delta}
            return ReversalView(
                txn_id=txn_id,
                sku=posted.sku,
                location=posted.location,
                postings=postings,
                reversed=extra,
                delta=delta,
                stock=stock_view(posted.sku, posted.location, after),
            )

        return self._write(
            "reverse_duplicate_posting",
            args,
            run,
            view=ReversalView,
            actor=actor,
            idempotency_key=idempotency_key,
            approval_id=approval_id,
            reason=reason if isinstance(reason, str) else "",
        )
