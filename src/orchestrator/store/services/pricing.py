"""Money the services decide: shipping quotes and discounts, from `orchestrator.store.rules`.

The rate and discount tables live below the services, so every caller (a person's script,
an agent's tool, a graph node) gets the same figure: `place_order` prices the order itself
(best eligible discount, standard shipping to the customer), `ship_order` charges the rate
table's cost, and the reads below give the same numbers to whoever asks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.engine import Connection

from orchestrator.errors import InvalidInput, NotFound
from orchestrator.store.rules.discounts import (
    COUNTED_STATUSES,
    DiscountEligibility,
    evaluate_discounts,
)
from orchestrator.store.rules.shipping import Service, ShippingQuote, quote_shipping
from orchestrator.store.services._core import (
    CUSTOMER,
    HINTS,
    ORDER_LINE,
    ORDERS,
    PRODUCT,
    Tx,
    _Core,
    check_id,
)
from orchestrator.store.services.views import OrderLineIn

__all__ = ["PricingMixin"]

_SERVICES: tuple[str, ...] = ("standard", "express", "next_day")


class PricingMixin(_Core):
    """Shipping quotes and discounts."""

    @contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn = conn.execution_options(sqlite_begin="DEFERRED")
            with conn.begin():
                yield conn

    # -- facts ----------------------------------------------------------------------------

    @staticmethod
    def _customer_facts(
        conn: Connection, customer_id: int, *, before_order: int | None = None
    ) -> tuple[Any, int, int]:
        """(customer row, counted earlier orders, their total spend) for the discount table."""
        customer = conn.execute(
            select(CUSTOMER.c.tier, CUSTOMER.c.country, CUSTOMER.c.postcode).where(
                CUSTOMER.c.id == customer_id
            )
        ).first()
        if customer is None:
            raise NotFound("customer", customer_id, HINTS["customer"])
        stmt = select(func.count(), func.coalesce(func.sum(ORDERS.c.total_cents), 0)).where(
            ORDERS.c.customer_id == customer_id, ORDERS.c.status.in_(sorted(COUNTED_STATUSES))
        )
        if before_order is not None:
            stmt = stmt.where(ORDERS.c.id != before_order)
        count, spend = conn.execute(stmt).one()
        return customer, int(count), int(spend)

    @staticmethod
    def _basket(
        conn: Connection, lines: Sequence[tuple[str, int]]
    ) -> list[tuple[str, int, int, int]]:
        """(sku, qty, unit price, unit weight) per line, from the catalogue."""
        skus = sorted({sku for sku, _ in lines})
        rows = {
            r.sku: r
            for r in conn.execute(
                select(PRODUCT.c.sku, PRODUCT.c.price_cents, PRODUCT.c.weight_grams).where(
                    PRODUCT.c.sku.in_(skus)
                )
            )
        }
        basket = []
        for sku, qty in lines:
            row = rows.get(sku)
            if row is None:
                from orchestrator.errors import UnknownSku

                raise UnknownSku(sku)
            basket.append((sku, qty, int(row.price_cents), int(row.weight_grams)))
        return basket

    @staticmethod
    def _order_lines(conn: Connection, order_id: int) -> list[tuple[str, int, int, int]]:
        """(sku, qty, unit price as ordered, unit weight) per line of an order."""
        rows = conn.execute(
            select(
                ORDER_LINE.c.sku,
                ORDER_LINE.c.qty,
                ORDER_LINE.c.unit_price_cents,
                PRODUCT.c.weight_grams,
            )
            .join(PRODUCT, PRODUCT.c.sku == ORDER_LINE.c.sku)
            .where(ORDER_LINE.c.order_id == order_id)
            .order_by(ORDER_LINE.c.sku)
        ).all()
        return [(r[0], int(r[1]), int(r[2]), int(r[3])) for r in rows]

    @staticmethod
    def _quote(
        basket: Sequence[tuple[str, int, int, int]], country: str, postcode: str, service: str
    ) -> ShippingQuote:
        if service not in _SERVICES:
            raise InvalidInput("service", service, f"expected one of {', '.join(_SERVICES)}")
        return quote_shipping(
            country=country or "GB",
            postcode=postcode or "",
            service=service,  # type: ignore[arg-type]
            goods_weight_grams=sum(qty * weight for _, qty, _, weight in basket),
            goods_value_cents=sum(qty * price for _, qty, price, _ in basket),
        )

    def _price_order(self, tx: Tx, order_id: int) -> tuple[int, int, int]:
        """Set an order's discount, shipping and total from the tables; (discount, shipping, total).

        The best eligible discount on the order's lines (earlier orders of the customer
        count, this one does not) and standard shipping to the customer's country and
        postcode.
        """
        order = tx.conn.execute(select(ORDERS.c.customer_id).where(ORDERS.c.id == order_id)).one()
        customer, count, spend = self._customer_facts(
            tx.conn, int(order.customer_id), before_order=order_id
        )
        basket = self._order_lines(tx.conn, order_id)
        subtotal = sum(qty * price for _, qty, price, _ in basket)
        _, best = evaluate_discounts(
            tier=customer.tier,
            order_count=count,
            lifetime_spend_cents=spend,
            basket=[(qty, price) for _, qty, price, _ in basket],
        )
        discount = best.amount_cents or 0 if best is not None else 0
        shipping = self._quote(basket, customer.country, customer.postcode, "standard").cost_cents
        total = subtotal - discount + shipping
        tx.conn.execute(
            update(ORDERS)
            .where(ORDERS.c.id == order_id)
            .values(
                subtotal_cents=subtotal,
                discount_cents=discount,
                shipping_cents=shipping,
                total_cents=total,
                updated_at=tx.now,
            )
        )
        return discount, shipping, total

    # -- reads ----------------------------------------------------------------------------

    def discount_eligibility(
        self, customer_id: int, lines: Sequence[OrderLineIn] | None = None
    ) -> DiscountEligibility:
        """The discounts a customer is eligible for (on `lines`, if given) and the best one.

        Raises:
            NotFound: no such customer; UnknownSku: a line's SKU is not in the catalogue.
        """
        check_id("customer_id", customer_id)
        from orchestrator.store.services.orders import parse_lines  # orders builds on pricing

        parsed = parse_lines("lines", lines, OrderLineIn) if lines else []
        pairs = [(ln.sku, ln.qty) for ln in parsed]
        with self._snapshot() as conn:
            customer, count, spend = self._customer_facts(conn, customer_id)
            basket = self._basket(conn, pairs) if pairs else []
        eligible, best = evaluate_discounts(
            tier=customer.tier,
            order_count=count,
            lifetime_spend_cents=spend,
            basket=[(qty, price) for _, qty, price, _ in basket],
        )
        return DiscountEligibility(
            customer_id=customer_id,
            tier=customer.tier,
            order_count=count,
            lifetime_spend_cents=spend,
            eligible=eligible,
            best=best,
        )

    def quote_shipping(
        self,
        *,
        order_id: int | None = None,
        lines: Sequence[OrderLineIn] | None = None,
        country: str | None = None,
        postcode: str | None = None,
        service: Service = "standard",
    ) -> ShippingQuote:
        """What shipping an order (or some lines) costs, from the rate table.

        Args:
            order_id: an order: its lines at their ordered prices; destination default the
                customer's country and postcode.
            lines: some products and quantities instead (catalogue prices).
            country: the destination's ISO code (required with `lines`).
            postcode: the destination's postcode (remote UK areas pay more).
            service: `standard`, `express` or `next_day`.

        Raises:
            InvalidInput: neither or both of `order_id` and `lines`, a service not offered.
            NotFound / UnknownSku: the order or a SKU does not exist.
        """
        if (order_id is None) == (lines is None):
            raise InvalidInput("lines", lines, "give either order_id or lines (exactly one)")
        with self._snapshot() as conn:
            if order_id is not None:
                check_id("order_id", order_id)
                row = conn.execute(
                    select(ORDERS.c.customer_id).where(ORDERS.c.id == order_id)
                ).first()
                if row is None:
                    raise NotFound("order", order_id, HINTS["order"])
                customer, _, _ = self._customer_facts(conn, int(row.customer_id))
                basket = self._order_lines(conn, order_id)
                country = country or customer.country
                postcode = customer.postcode if postcode is None else postcode
            else:
                assert lines is not None
                if not country:
                    raise InvalidInput("country", country, "give the destination country")
                basket = self._basket(conn, [(ln.sku, ln.qty) for ln in lines])
        return self._quote(basket, country or "GB", postcode or "", service)
