"""The service layer: the only code that changes domain rows.

Every write is one transaction holding the guarded change, the stock-ledger rows, the audit
row and the idempotency record; see docs/services.md for the contract.

Example:
    >>> from orchestrator.store import create_all, make_engine
    >>> from orchestrator.store.services import Actor, StoreService
    >>> engine = make_engine("sqlite://")
    >>> create_all(engine)
    >>> svc = StoreService(engine)
    >>> svc.low_stock()
    []
"""

from __future__ import annotations

from orchestrator.store.services._core import MAX_AMOUNT_CENTS, MAX_QTY, Actor, CallOrigin
from orchestrator.store.services._service import StoreService
from orchestrator.store.services.prices import PriceChangeView
from orchestrator.store.services.views import (
    ApprovalView,
    AuditEntryView,
    CustomerView,
    IntegrationTxnView,
    InventoryPolicyView,
    LedgerEntryView,
    OrderLineIn,
    OrderLineView,
    OrderView,
    PaymentView,
    POLineIn,
    POLineView,
    ProductView,
    PurchaseOrderView,
    ReservationView,
    ReturnLineIn,
    ReturnLineView,
    ReturnView,
    ShipmentView,
    StockView,
    SupplierOfferView,
    SupplierView,
    TicketView,
    TransferView,
)

__all__ = [
    "MAX_AMOUNT_CENTS",
    "MAX_QTY",
    "Actor",
    "ApprovalView",
    "AuditEntryView",
    "CallOrigin",
    "CustomerView",
    "IntegrationTxnView",
    "InventoryPolicyView",
    "LedgerEntryView",
    "OrderLineIn",
    "OrderLineView",
    "OrderView",
    "POLineIn",
    "POLineView",
    "PaymentView",
    "PriceChangeView",
    "ProductView",
    "PurchaseOrderView",
    "ReservationView",
    "ReturnLineIn",
    "ReturnLineView",
    "ReturnView",
    "ShipmentView",
    "StockView",
    "StoreService",
    "SupplierOfferView",
    "SupplierView",
    "TicketView",
    "TransferView",
]
