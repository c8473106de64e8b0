"""The payment gateway the order graph talks to, and an in-process one for demos and tests.

A `PaymentGateway` authorises, captures, voids and refunds money at a payment provider. Every
call carries an idempotency key (the graph's write key for that step): a provider must answer
a repeated key with the first answer, so a node that re-runs after a crash never charges
twice. The store records what the provider answered (`record_payment`,
`void_authorization`, `refund`); the gateway never writes to the store.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from pydantic import BaseModel

__all__ = ["InProcessGateway", "PaymentGateway", "PaymentResult"]


class PaymentResult(BaseModel):
    """What the provider answered."""

    approved: bool
    """True when the provider did what was asked."""
    reference: str
    """The provider's reference of the authorisation (the same for its capture, void, refund)."""
    reason: str = ""
    """Why it declined, in the provider's words."""


@runtime_checkable
class PaymentGateway(Protocol):
    """A payment provider. Every method is idempotent by `idempotency_key`."""

    def authorize(
        self, *, order_id: int, customer_id: int, amount_cents: int, idempotency_key: str
    ) -> PaymentResult:
        """Hold `amount_cents` on the customer's payment method (declines are not errors)."""
        ...

    def capture(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        """Take the money an authorisation holds."""
        ...

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        """Release an authorisation that was not captured."""
        ...

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        """Give back captured money."""
        ...


Op = Literal["authorize", "capture", "void", "refund"]


@dataclass
class InProcessGateway:
    """A gateway that lives in the process: deterministic, offline, and told when to decline.

    References are derived from the idempotency key, so a process that resumes a run after
    a crash gets the same reference for the same step. `calls` records every call (a
    repeated key is recorded once, as a provider would see one charge).

    Args:
        decline_over_cents: decline authorisations above this amount.
        decline_customers: decline these customers' authorisations.
        decline_all: decline every authorisation.

    Example:
        >>> gw = InProcessGateway(decline_over_cents=10_000)
        >>> gw.authorize(order_id=1, customer_id=2, amount_cents=20_000, idempotency_key="k").approved
        False
    """

    decline_over_cents: int | None = None
    decline_customers: Iterable[int] = ()
    decline_all: bool = False
    calls: dict[str, tuple[Op, PaymentResult]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_settings(cls, orders: object) -> InProcessGateway:
        """The gateway `settings.orders` describes (`decline_over_cents`, `decline_customers`)."""
        return cls(
            decline_over_cents=getattr(orders, "decline_over_cents", None),
            decline_customers=tuple(getattr(orders, "decline_customers", ())),
        )

    def _once(self, op: Op, key: str, result: PaymentResult) -> PaymentResult:
        with self._lock:
            first = self.calls.setdefault(key, (op, result))
        return first[1]

    @staticmethod
    def _ref(key: str) -> str:
        return "auth_" + hashlib.sha256(key.encode()).hexdigest()[:16]

    def authorize(
        self, *, order_id: int, customer_id: int, amount_cents: int, idempotency_key: str
    ) -> PaymentResult:
        """Approve, unless told to decline this customer or amount."""
        ref = self._ref(idempotency_key)
        reason = ""
        if self.decline_all:
            reason = "card declined"
        elif customer_id in set(self.decline_customers):
            reason = f"card declined for customer {customer_id}"
        elif self.decline_over_cents is not None and amount_cents > self.decline_over_cents:
            reason = f"amount {amount_cents} cents is over the card's limit"
        result = PaymentResult(approved=not reason, reference=ref, reason=reason)
        return self._once("authorize", idempotency_key, result)

    def capture(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        """Always succeeds."""
        return self._once(
            "capture", idempotency_key, PaymentResult(approved=True, reference=reference)
        )

    def void(self, *, reference: str, idempotency_key: str) -> PaymentResult:
        """Always succeeds."""
        return self._once(
            "void", idempotency_key, PaymentResult(approved=True, reference=reference)
        )

    def refund(self, *, reference: str, amount_cents: int, idempotency_key: str) -> PaymentResult:
        """Always succeeds."""
        return self._once(
            "refund", idempotency_key, PaymentResult(approved=True, reference=reference)
        )
