"""The write machinery every service call goes through, written once.

`_Core._write` runs one operation as one transaction holding the guarded change (done by the
operation's function), the audit row and the idempotency record. Failures roll back and are
audited in a transaction of their own; a write above an approval threshold records an
`Approval` row there too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar, cast

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, func, insert, select, tuple_, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.sql.dml import Insert

from orchestrator.errors import (
    ApprovalRejected,
    ApprovalRequired,
    HiddenRecord,
    IdempotencyConflict,
    InsufficientStock,
    InvalidInput,
    InvalidTransition,
    NotFound,
    OrchestratorError,
    PermissionDenied,
    StoreError,
    UnknownSku,
    WriteConflict,
)
from orchestrator.settings import Settings
from orchestrator.store.models import (
    TRANSITIONS,
    Approval,
    ApprovalStatus,
    AuditLog,
    Customer,
    IdempotencyRecord,
    IntegrationTransaction,
    Location,
    Order,
    OrderLine,
    Payment,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    Return,
    ReturnLine,
    Shipment,
    Stock,
    StockLedger,
    Supplier,
    SupplierOffer,
    SupportTicket,
    utcnow,
)
from orchestrator.store.services._record import (
    MAX_TEXT,
    PERSONAL_FIELDS,
    bad_text,
    mask,
    needs_care,
    recordable,
    redact_personal,
    storable,
)

__all__ = ["HINTS", "MAX_AMOUNT_CENTS", "MAX_QTY", "Actor", "CallOrigin"]

V = TypeVar("V", bound=BaseModel)


def _table(model: Any) -> Table:
    return cast(Table, model.__table__)


PRODUCT = _table(Product)
LOCATION = _table(Location)
STOCK = _table(Stock)
LEDGER = _table(StockLedger)
RESERVATION = _table(Reservation)
CUSTOMER = _table(Customer)
ORDERS = _table(Order)
ORDER_LINE = _table(OrderLine)
PAYMENT = _table(Payment)
SHIPMENT = _table(Shipment)
RETURNS = _table(Return)
RETURN_LINE = _table(ReturnLine)
TICKET = _table(SupportTicket)
SUPPLIER = _table(Supplier)
OFFER = _table(SupplierOffer)
PO = _table(PurchaseOrder)
PO_LINE = _table(PurchaseOrderLine)
INTEGRATION = _table(IntegrationTransaction)
APPROVAL = _table(Approval)
AUDIT = _table(AuditLog)
IDEMPOTENCY = _table(IdempotencyRecord)

# Statements of the write path, built once: building a Core statement costs more than running
# a cached one.
AUDIT_INSERT = insert(AUDIT)
IDEMPOTENCY_INSERT = insert(IDEMPOTENCY)
IDEMPOTENCY_SELECT = select(
    IDEMPOTENCY.c.operation, IDEMPOTENCY.c.request_hash, IDEMPOTENCY.c.result
).where(IDEMPOTENCY.c.key == bindparam("key_"))

_LOCK_STOCK = (
    select(STOCK.c.sku, STOCK.c.location)
    .where(tuple_(STOCK.c.sku, STOCK.c.location).in_(bindparam("keys_", expanding=True)))
    .order_by(STOCK.c.sku, STOCK.c.location)
    .with_for_update(key_share=True)
)
"""Lock stock rows in (sku, location) order: PostgreSQL's LockRows runs above the Sort."""

HINTS: dict[str, str] = {
    "order": "check the id with get_order or customer_orders",
    "customer": "check the id with get_customer",
    "reservation": "list them with list_reservations",
    "ticket": "check the id with get_ticket",
    "return": "check the id with get_return",
    "purchase order": "check the id with get_purchase_order",
    "integration transaction": "list them with list_integration_transactions",
    "approval": "list waiting ones with pending_approvals",
}
"""What to do when an id names nothing, per entity (the second half of a NotFound message)."""

MAX_QTY = 1_000_000
"""The largest quantity one call may move; more is refused as absurd."""
MAX_AMOUNT_CENTS = 10_000_000_000
"""The largest amount of money (100 million in the store currency) one call may move."""
MAX_ID = 2**31 - 1
"""The largest row id: the id columns are 32-bit on PostgreSQL, and both engines refuse more
the same way (`InvalidInput`), before any SQL runs."""

_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#@+-]*$")


@dataclass(frozen=True, slots=True)
class CallOrigin:
    """Where a service call comes from when an agent's tool (or a graph node) makes it.

    Recorded on the audit row (`tool`, `thread_id`, `tool_call_id`) and on an approval the
    call asks for, so "what did run X do" is one indexed query and an approval belongs to the
    one call that asked.

    Attributes:
        tool: the agent's tool (or the graph step) that made the call.
        tool_arguments: that tool's validated arguments, as a human sees them in an approval.
        thread_id: the LangGraph thread, if any.
        checkpoint_ns: the checkpoint namespace (node and task) of the call, if any.
        tool_call_id: the model's tool-call id, or the node's step id.
    """

    tool: str | None = None
    tool_arguments: Mapping[str, Any] | None = None
    thread_id: str | None = None
    checkpoint_ns: str | None = None
    tool_call_id: str | None = None


@dataclass(frozen=True, slots=True)
class Actor:
    """Who asks for a read or a write.

    Attributes:
        name: a user name, `system`, or `customer:<id>`; recorded in every audit row.
        agent: the agent profile when an agent asks (`support`, `order`, `inventory`, ...).
        customer_id: set for customer-facing runs: the actor may then touch only that
            customer's orders, returns and tickets, and no stock, procurement, integration
            or approval operation.
        origin: the tool call (run, node, call id) the request comes from, if any.

    Example:
        >>> Actor("alice")
        Actor(name='alice', agent=None, customer_id=None, origin=None)
    """

    name: str
    agent: str | None = None
    customer_id: int | None = None
    origin: CallOrigin | None = None

    @property
    def principal(self) -> str:
        """Who is answerable for a write: the name, and the customer for customer runs.

        An idempotency key's replay is answered only to the principal that made the first
        call.
        """
        if self.customer_id is None or self.name == f"customer:{self.customer_id}":
            return self.name
        return f"{self.name}@customer:{self.customer_id}"


# --- canonical arguments -------------------------------------------------------------------


def _json_default(value: object) -> object:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def canonical_json(args: Mapping[str, Any]) -> str:
    """The arguments as compact JSON with sorted keys: the same call always gives the same text."""
    return json.dumps(
        args, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_json_default
    )


def _plain(args: Mapping[str, Any]) -> bool:
    return all(v is None or type(v) in (str, int, bool, float) for v in args.values())


def request_hash(operation: str, canonical: str) -> str:
    """The SHA-256 of an operation and its canonical arguments (64 hex digits)."""
    return hashlib.sha256(f"{operation}\n{canonical}".encode("utf-8", "surrogatepass")).hexdigest()


# --- input validation ----------------------------------------------------------------------


def check_qty(field: str, value: object, *, maximum: int = MAX_QTY) -> int:
    """A positive integer quantity no larger than `maximum`."""
    if type(value) is not int:
        raise InvalidInput(
            field, value, f"expected a whole number of units, got {type(value).__name__}"
        )
    if value <= 0:
        raise InvalidInput(field, value, "a quantity must be at least 1")
    if value > maximum:
        raise InvalidInput(
            field, value, f"more than {maximum} units in one call is refused as absurd"
        )
    return value


def check_delta(field: str, value: object) -> int:
    """A non-zero signed integer quantity no larger than `MAX_QTY` either way."""
    if type(value) is not int:
        raise InvalidInput(
            field, value, f"expected a whole number of units, got {type(value).__name__}"
        )
    if value == 0:
        raise InvalidInput(
            field, value, "a change of zero units does nothing; pass a non-zero delta"
        )
    if abs(value) > MAX_QTY:
        raise InvalidInput(
            field, value, f"more than {MAX_QTY} units in one call is refused as absurd"
        )
    return value


def check_count(field: str, value: object) -> int:
    """A non-negative integer quantity (a target level rather than a change)."""
    if type(value) is not int:
        raise InvalidInput(
            field, value, f"expected a whole number of units, got {type(value).__name__}"
        )
    if value < 0 or value > 100 * MAX_QTY:
        raise InvalidInput(field, value, f"expected 0..{100 * MAX_QTY} units")
    return value


def check_cents(field: str, value: object, *, allow_zero: bool = False) -> int:
    """A positive (or non-negative) integer amount of cents, not absurdly large."""
    if type(value) is not int:
        raise InvalidInput(field, value, f"expected integer cents, got {type(value).__name__}")
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(field, value, "an amount must be positive (integer cents)")
    if value > MAX_AMOUNT_CENTS:
        raise InvalidInput(field, value, f"more than {MAX_AMOUNT_CENTS} cents is refused as absurd")
    return value


def check_id(field: str, value: object) -> int:
    """A positive integer row id."""
    if type(value) is not int:
        raise InvalidInput(field, value, f"expected an integer id, got {type(value).__name__}")
    if value <= 0 or value > MAX_ID:
        raise InvalidInput(field, value, f"ids are positive integers up to {MAX_ID}")
    return value


def check_code(field: str, value: object, *, max_len: int = 64) -> str:
    """A SKU, location code or similar key: non-empty, no spaces, at most `max_len` chars."""
    if not isinstance(value, str):
        raise InvalidInput(field, value, f"expected a string, got {type(value).__name__}")
    if not value or len(value) > max_len or not _CODE.match(value):
        raise InvalidInput(
            field,
            value,
            f"expected 1..{max_len} letters, digits or ._:/#@+- (no spaces), starting with a "
            "letter or digit",
        )
    return value


def check_text(field: str, value: object, *, max_len: int = 500, required: bool = False) -> str:
    """Free text of at most `max_len` characters; non-blank when `required`.

    Text both engines can store: no NUL characters, no lone surrogates. The value of a
    personal field (`PERSONAL_FIELDS`) is never quoted in the error, only its length.
    """
    if not isinstance(value, str):
        raise InvalidInput(
            field, _shown(field, value), f"expected a string, got {type(value).__name__}"
        )
    if required and not value.strip():
        raise InvalidInput(field, value, "must not be empty: say why")
    if len(value) > max_len:
        raise InvalidInput(
            field, _shown(field, value[:40] + "..."), f"longer than {max_len} characters"
        )
    problem = bad_text(value)
    if problem is not None:
        raise InvalidInput(field, _shown(field, storable(value[:40])), problem)
    return value


def _shown(field: str, value: object) -> object:
    """How an error quotes a refused value: personal fields by their length only."""
    if field in PERSONAL_FIELDS and isinstance(value, str):
        return f"<{len(value)} characters>"
    return value


def check_filter(field: str, value: object, *, max_len: int = 200) -> str | None:
    """A read's optional text filter: None, or text both engines can compare."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len or _KEY_BAD.search(value):
        raise InvalidInput(
            field,
            storable(value[:40]) if isinstance(value, str) else type(value).__name__,
            f"expected None or up to {max_len} printable characters",
        )
    return value


def check_choice(field: str, value: object, choices: tuple[str, ...]) -> str:
    """One of a fixed set of strings."""
    if not isinstance(value, str) or value not in choices:
        raise InvalidInput(field, value, f"expected one of {', '.join(choices)}")
    return value


def check_key(value: object) -> str | None:
    """An idempotency key: None, or 1..200 characters."""
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > 200:
        shown = storable(value[:40]) if isinstance(value, str) else type(value).__name__
        raise InvalidInput(
            "idempotency_key", shown, "expected None or a string of 1..200 characters"
        )
    if _KEY_BAD.search(value) is not None:
        raise InvalidInput(
            "idempotency_key",
            storable(value[:40]),
            "control characters (NUL, ...) and lone surrogates are not allowed in a key",
        )
    return value


_KEY_BAD = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")


def check_actor(actor: object) -> Actor:
    """An `Actor` with a usable name."""
    if not isinstance(actor, Actor):
        raise InvalidInput("actor", actor, "pass orchestrator.store.services.Actor(name, ...)")
    name, agent = actor.name, actor.agent
    if (
        not isinstance(name, str)
        or not name.strip()
        or len(name) > 64
        or _KEY_BAD.search(name) is not None
    ):
        raise InvalidInput(
            "actor.name", storable(str(name)[:64]), "expected 1..64 printable characters"
        )
    if agent is not None and (
        not isinstance(agent, str) or len(agent) > 32 or _KEY_BAD.search(agent) is not None
    ):
        raise InvalidInput(
            "actor.agent", storable(str(agent)[:32]), "expected None or 1..32 printable characters"
        )
    if actor.customer_id is not None:
        check_id("actor.customer_id", actor.customer_id)
    return actor


# --- the transaction -----------------------------------------------------------------------


class Tx:
    """What an operation's function gets: the connection, who asks, and slots for the audit."""

    __slots__ = (
        "actor",
        "after",
        "approval_id",
        "approval_used",
        "args",
        "backorders",
        "before",
        "conn",
        "key",
        "now",
        "operation",
        "reason",
        "settings",
    )

    def __init__(
        self,
        conn: Connection,
        *,
        operation: str,
        args: Mapping[str, Any],
        actor: Actor,
        approval_id: int | None,
        reason: str,
        settings: Settings,
        key: str | None = None,
    ) -> None:
        self.conn = conn
        self.key = key
        self.operation = operation
        self.args = args
        self.actor = actor
        self.approval_id = approval_id
        self.approval_used = False
        self.reason = reason
        self.settings = settings
        self.backorders = settings.store.allow_backorders
        self.now = utcnow()
        self.before: dict[str, Any] | None = None
        self.after: dict[str, Any] | None = None


class _NoReplay(Exception):
    pass


_RETRYABLE_SQLSTATES = frozenset({"40001", "40P01"})  # serialization failure, deadlock

_AUDIT_COLUMNS = (
    "at",
    "actor",
    "agent",
    "operation",
    "arguments",
    "before",
    "after",
    "outcome",
    "reason",
    "idempotency_key",
    "error",
    "tool",
    "thread_id",
    "tool_call_id",
)


def origin_columns(actor: object) -> dict[str, str | None]:
    """The audit row's `tool`, `thread_id` and `tool_call_id` from an actor's call origin."""
    origin = getattr(actor, "origin", None)
    if not isinstance(origin, CallOrigin):
        return {"tool": None, "thread_id": None, "tool_call_id": None}
    return {
        "tool": storable(origin.tool)[:64] if isinstance(origin.tool, str) else None,
        "thread_id": (
            storable(origin.thread_id)[:200] if isinstance(origin.thread_id, str) else None
        ),
        "tool_call_id": (
            storable(origin.tool_call_id)[:200] if isinstance(origin.tool_call_id, str) else None
        ),
    }


_JSON_COLUMNS = frozenset({"arguments", "before", "after", "result"})


class _Encoded(str):
    """JSON text already encoded (the canonical arguments), written as is on SQLite."""


class _Bookkeeping:
    """The audit and idempotency statements of every write, at the driver level.

    They run on the transaction's own DBAPI connection, skipping SQLAlchemy's per-statement
    machinery: on SQLite that machinery costs more than the statements. Values are written
    exactly as SQLAlchemy's column types would write them (SQLite: `YYYY-MM-DD HH:MM:SS.ffffff`
    UTC text and JSON text; PostgreSQL: timestamptz and json).
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        if self.sqlite:
            mark: Callable[[str], str] = lambda name: f":{name}"  # noqa: E731
        else:
            mark = lambda name: f"%({name})s"  # noqa: E731
            from psycopg.types.json import Json

            self._json_type = Json
        self.audit_sql = (
            f"INSERT INTO audit_log ({', '.join(_AUDIT_COLUMNS)}) "
            f"VALUES ({', '.join(mark(c) for c in _AUDIT_COLUMNS)})"
        )
        idem = ("key", "operation", "request_hash", "result", "created_at", "principal")
        self.idem_insert_sql = (
            f"INSERT INTO idempotency_record ({', '.join(idem)}) "
            f"VALUES ({', '.join(mark(c) for c in idem)})"
        )
        self.both_sql = (
            f"WITH audit AS (INSERT INTO audit_log ({', '.join(_AUDIT_COLUMNS)}) "
            f"VALUES ({', '.join(mark('a_' + c) for c in _AUDIT_COLUMNS)})) "
            f"INSERT INTO idempotency_record ({', '.join(idem)}) "
            f"VALUES ({', '.join(mark('i_' + c) for c in idem)})"
        )
        self.idem_select_sql = (
            "SELECT operation, request_hash, result, principal FROM idempotency_record "
            f"WHERE key = {mark('key')}"
        )

    def _params(self, row: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in row.items():
            if name in _JSON_COLUMNS:
                if isinstance(value, _Encoded):
                    value = str(value) if self.sqlite else self._json_type(json.loads(value))
                elif value is None:
                    value = "null" if self.sqlite else None
                else:
                    value = json.dumps(value) if self.sqlite else self._json_type(value)
            elif isinstance(value, datetime):
                value = value.astimezone(UTC)
                if self.sqlite:
                    u = value
                    value = (
                        f"{u.year:04d}-{u.month:02d}-{u.day:02d} "
                        f"{u.hour:02d}:{u.minute:02d}:{u.second:02d}.{u.microsecond:06d}"
                    )
            out[name] = value
        return out

    def audit(self, conn: Connection, row: dict[str, Any]) -> None:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(self.audit_sql, self._params(row))
        cursor.close()

    def commit_write(
        self, conn: Connection, audit: dict[str, Any], remember: dict[str, Any] | None
    ) -> None:
        """Write the audit row and, with a key, the idempotency record.

        On PostgreSQL both go in one statement (a data-modifying CTE): one round trip.
        """
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        if remember is None:
            cursor.execute(self.audit_sql, self._params(audit))
        elif self.sqlite:
            cursor.execute(self.audit_sql, self._params(audit))
            cursor.execute(self.idem_insert_sql, self._params(remember))
        else:
            params = {f"a_{k}": v for k, v in self._params(audit).items()}
            params.update({f"i_{k}": v for k, v in self._params(remember).items()})
            cursor.execute(self.both_sql, params)
        cursor.close()

    def recall(self, conn: Connection, key: str) -> _FirstCall | None:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(self.idem_select_sql, {"key": key})
        row = cursor.fetchone()
        cursor.close()
        if row is None:
            return None
        result = json.loads(row[2]) if isinstance(row[2], str) else row[2]
        return _FirstCall(str(row[0]), str(row[1]), result, row[3])


@dataclass(frozen=True, slots=True)
class _FirstCall:
    """What the idempotency record remembers of the first call with a key."""

    operation: str
    request_hash: str
    result: Any
    principal: str | None


_ATTEMPTS = 5
"""How many times a write is tried when the database reports a deadlock or serialization
failure before it gives up with `WriteConflict`."""


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a driver error, wrapped by SQLAlchemy or raw (None on SQLite)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None)
    return state if isinstance(state, str) else None


class _Core:
    """The engine, the settings and the one write path that every operation uses."""

    def __init__(self, engine: Engine, *, settings: Settings | None = None) -> None:
        """Serve reads and writes on `engine`.

        Args:
            engine: from `orchestrator.store.make_engine`, with the schema in place
                (`create_all` or `orchestrator db upgrade`).
            settings: approval thresholds and the backorder policy; default the built-in
                defaults (`Settings.defaults()`: the environment is read only where the
                application builds its settings, e.g. `Orchestrator` or `load_settings`).
        """
        self.engine = engine
        self.settings = settings if settings is not None else Settings.defaults()
        self._postgres = engine.dialect.name == "postgresql"
        self._books = _Bookkeeping(engine.dialect.name)
        dbapi = engine.dialect.dbapi
        self._driver_integrity: type[Exception] = (
            dbapi.IntegrityError if dbapi is not None else IntegrityError
        )
        # The bookkeeping statements run on the driver's cursor: its errors arrive unwrapped.
        self._driver_error: type[Exception] = dbapi.Error if dbapi is not None else DBAPIError

    # -- the write path -----------------------------------------------------------------

    def _write(
        self,
        operation: str,
        args: dict[str, Any],
        fn: Callable[[Tx], V],
        *,
        view: type[V],
        actor: Actor,
        idempotency_key: str | None,
        approval_id: int | None = None,
        reason: str = "",
    ) -> V:
        """Run `fn` as one audited, idempotent transaction and return its result.

        `fn` validates, makes the guarded change, sets `tx.before`/`tx.after` and returns the
        result view; anything it raises rolls the transaction back.
        """
        canonical = canonical_json(args)
        careful = needs_care(canonical, args)
        audit_args: dict[str, Any]
        if careful:
            # Personal data, odd characters or a huge value: what the log may keep of it.
            audit_args = recordable(json.loads(canonical))
        else:
            audit_args = args if _plain(args) else json.loads(canonical)
        try:
            check_actor(actor)
            key = check_key(idempotency_key)
            if approval_id is not None:
                check_id("approval_id", approval_id)
        except InvalidInput as exc:
            self._audit_failure(operation, audit_args, actor, idempotency_key, reason, exc)
            raise
        digest = request_hash(operation, canonical) if key is not None else ""
        attempt = 0
        while True:
            attempt += 1
            try:
                with self.engine.begin() as conn:
                    tx = Tx(
                        conn,
                        operation=operation,
                        args=audit_args,
                        actor=actor,
                        approval_id=approval_id,
                        reason=reason,
                        settings=self.settings,
                        key=key,
                    )
                    if key is not None:
                        first = self._books.recall(conn, key)
                        if first is not None:
                            return self._replayed(tx, key, digest, view, first)
                    result = fn(tx)
                    if approval_id is not None and not tx.approval_used:
                        self._consume_bound_approval(tx)
                    self._books.commit_write(
                        conn,
                        {
                            "at": tx.now,
                            "actor": actor.name,
                            "agent": actor.agent,
                            "operation": operation,
                            "arguments": (
                                _Encoded(canonical)
                                if self._books.sqlite and not careful
                                else audit_args
                            ),
                            "before": tx.before,
                            "after": tx.after,
                            "outcome": "ok",
                            "reason": mask(tx.reason)[:500],
                            "idempotency_key": key,
                            "error": None,
                            **origin_columns(actor),
                        },
                        None
                        if key is None
                        else {
                            "key": key,
                            "operation": operation,
                            "request_hash": digest,
                            "result": redact_personal(result.model_dump(mode="json")),
                            "created_at": tx.now,
                            "principal": actor.principal[:100],
                        },
                    )
                    return result
            except ApprovalRequired as exc:
                if exc.approval_id is not None:
                    self._audit_failure(operation, audit_args, actor, key, reason, exc)
                    raise
                raise self._record_approval(operation, audit_args, actor, key, exc) from None
            except (OrchestratorError, IntegrityError, self._driver_integrity) as caught:
                failure: Exception = caught
                if key is not None and not isinstance(
                    failure, IdempotencyConflict | PermissionDenied
                ):
                    # Another worker may have committed the same key while we ran: its
                    # result is ours (the guard or the unique key refused our duplicate).
                    try:
                        return self._replay_after_race(
                            operation, audit_args, actor, key, digest, view
                        )
                    except _NoReplay:
                        pass
                    except (PermissionDenied, IdempotencyConflict) as refused:
                        failure = refused
                error: Exception = failure
                if not isinstance(failure, OrchestratorError):
                    cause = getattr(failure, "orig", None) or failure
                    error = StoreError(
                        f"{operation} conflicted with a concurrent change or a missing row "
                        f"({type(cause).__name__}: {str(cause).splitlines()[0]}); "
                        "nothing was changed, retry the call"
                    )
                self._audit_failure(operation, audit_args, actor, key, reason, error)
                if error is caught:
                    raise
                raise error from caught
            except (DBAPIError, self._driver_error) as exc:
                state = _sqlstate(exc)
                if state in _RETRYABLE_SQLSTATES and attempt < _ATTEMPTS:
                    # Lock order makes deadlocks impossible between the services' own writes;
                    # this covers serialization failures and writers outside the services.
                    time.sleep(random.uniform(0.0, 0.005 * 2**attempt))
                    continue
                error = self._driver_failure(operation, attempt, state, exc)
                self._audit_failure(operation, audit_args, actor, key, reason, error)
                raise error from None

    def _replayed(self, tx: Tx, key: str, digest: str, view: type[V], first: _FirstCall) -> V:
        if first.principal is not None and first.principal != tx.actor.principal[:100]:
            # The key is someone else's: their result is theirs. Same answer as any refusal,
            # audited as denied, nothing returned.
            raise PermissionDenied(
                tx.actor.agent or tx.actor.name,
                f"replay idempotency key {key!r}",
                "the key was first used by another principal; a replay is answered only to "
                "whoever made the first call; use a key of your own",
            )
        if first.operation != tx.operation or first.request_hash != digest:
            raise IdempotencyConflict(key, tx.operation, first.operation)
        result = view.model_validate(first.result)
        if "replayed" in view.model_fields:
            result = result.model_copy(update={"replayed": True})
        self._books.audit(
            tx.conn,
            {
                "at": tx.now,
                "actor": tx.actor.name,
                "agent": tx.actor.agent,
                "operation": tx.operation,
                "arguments": tx.args,
                "before": None,
                "after": None,
                "outcome": "replayed",
                "reason": mask(tx.reason)[:500],
                "idempotency_key": key,
                "error": None,
                **origin_columns(tx.actor),
            },
        )
        return result

    def _replay_after_race(
        self,
        operation: str,
        args: dict[str, Any],
        actor: Actor,
        key: str,
        digest: str,
        view: type[V],
    ) -> V:
        with self.engine.begin() as conn:
            first = self._books.recall(conn, key)
            if first is None:
                raise _NoReplay
            tx = Tx(
                conn,
                operation=operation,
                args=args,
                actor=actor,
                approval_id=None,
                reason="",
                settings=self.settings,
                key=key,
            )
            return self._replayed(tx, key, digest, view, first)

    def _audit_failure(
        self,
        operation: str,
        args: Mapping[str, Any],
        actor: object,
        key: object,
        reason: str,
        exc: BaseException,
    ) -> None:
        outcome = "error"
        error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, PermissionDenied):
            outcome = "denied"
        elif isinstance(exc, HiddenRecord):
            # The caller was told "not found"; the log keeps what really happened.
            outcome = "denied"
            error = f"HiddenRecord: {exc.reason}"
        elif isinstance(exc, ApprovalRequired):
            outcome = "approval_required"
        name = getattr(actor, "name", None)
        agent = getattr(actor, "agent", None)
        with contextlib.suppress(Exception):
            exc.audited = True  # type: ignore[attr-defined]  # the tool layer skips it
        # The original error matters more than a failed audit of it.
        with contextlib.suppress(Exception):
            self._insert_audit(
                actor=actor,
                actor_name=name if isinstance(name, str) and name else "unknown",
                agent=agent if isinstance(agent, str) else None,
                operation=operation,
                arguments=dict(args),
                outcome=outcome,
                reason=str(reason),
                idempotency_key=key if isinstance(key, str) else None,
                error=error,
            )

    def _insert_audit(
        self,
        *,
        actor: object,
        actor_name: str,
        agent: str | None,
        operation: str,
        arguments: dict[str, Any],
        outcome: str,
        reason: str,
        idempotency_key: str | None,
        error: str | None,
        after: dict[str, Any] | None = None,
        conn: Connection | None = None,
    ) -> None:
        """One audit row without `before`, in a transaction of its own unless `conn` is given."""
        # Whatever the call carried, this row must be writable: every value is made storable,
        # bounded and free of personal data first (see _record).
        row = {
            "at": utcnow(),
            "actor": storable(actor_name)[:64],
            "agent": storable(agent)[:32] if agent else None,
            "operation": storable(operation)[:64],
            "arguments": recordable(arguments),
            "before": None,
            "after": recordable(after) if after is not None else None,
            "outcome": outcome[:24],
            "reason": mask(storable(reason))[:500],
            "idempotency_key": storable(idempotency_key)[:200] if idempotency_key else None,
            "error": mask(storable(error))[:MAX_TEXT] if error is not None else None,
            **origin_columns(actor),
        }
        if conn is not None:
            conn.execute(AUDIT_INSERT, row)
            return
        with self.engine.begin() as own:
            own.execute(AUDIT_INSERT, row)

    def _record_approval(
        self,
        operation: str,
        args: dict[str, Any],
        actor: Actor,
        key: str | None,
        exc: ApprovalRequired,
    ) -> ApprovalRequired:
        """Record the approval `exc` asks for (or find the one this call already has)."""
        origin = actor.origin if isinstance(actor.origin, CallOrigin) else None
        tool = origin.tool if origin and origin.tool else operation
        tool_args = dict(origin.tool_arguments) if origin and origin.tool_arguments else args
        with self.engine.begin() as conn:
            # A graph resumed after a crash or an interrupt asks again for the same write:
            # it gets the approval that is already waiting, not a second one.
            approval_id = self._waiting_approval(conn, tool, tool_args, actor, key)
            if approval_id is None:
                approval_id = conn.execute(
                    insert(APPROVAL).returning(APPROVAL.c.id),
                    {
                        "tool": tool[:64],
                        "arguments": tool_args,
                        "reason": exc.reason[:500],
                        "status": ApprovalStatus.PENDING.value,
                        "actor": actor.name,
                        "agent": actor.agent,
                        "created_at": utcnow(),
                        "operation": operation,
                        "idempotency_key": key,
                        "thread_id": origin.thread_id if origin else None,
                        "checkpoint_ns": (
                            origin.checkpoint_ns[:500] if origin and origin.checkpoint_ns else None
                        ),
                        "tool_call_id": origin.tool_call_id if origin else None,
                    },
                ).scalar_one()
            self._insert_audit(
                actor=actor,
                actor_name=actor.name,
                agent=actor.agent,
                operation=operation,
                arguments=args,
                outcome="approval_required",
                reason=exc.reason,
                idempotency_key=key,
                error=str(exc),
                after={"approval_id": approval_id},
                conn=conn,
            )
        return ApprovalRequired(
            tool,
            tool_args,
            f"{exc.reason}; approval {approval_id} recorded: the call goes ahead once a human "
            "approves it (resume the run, or call again with "
            f"approval_id={approval_id})",
            approval_id=approval_id,
        )

    @staticmethod
    def _waiting_approval(
        conn: Connection, tool: str, args: Mapping[str, Any], actor: Actor, key: str | None
    ) -> int | None:
        """The pending approval this very call asked for before, if any.

        With a key, the call is the key; without one (a script), the same tool, arguments and
        actor.
        """
        if key is not None:
            found = conn.execute(
                select(APPROVAL.c.id)
                .where(
                    APPROVAL.c.idempotency_key == key,
                    APPROVAL.c.status == ApprovalStatus.PENDING.value,
                )
                .order_by(APPROVAL.c.id.desc())
                .limit(1)
            ).scalar_one_or_none()
            return int(found) if found is not None else None
        wanted = canonical_json(args)
        rows = conn.execute(
            select(APPROVAL.c.id, APPROVAL.c.arguments)
            .where(
                APPROVAL.c.tool == tool,
                APPROVAL.c.actor == actor.name,
                APPROVAL.c.status == ApprovalStatus.PENDING.value,
                APPROVAL.c.idempotency_key.is_(None),
            )
            .order_by(APPROVAL.c.id)
        )
        for approval_id, arguments in rows:
            if canonical_json(arguments) == wanted:
                return int(approval_id)
        return None

    def record_audit(
        self,
        operation: str,
        arguments: Mapping[str, Any],
        *,
        actor: Actor,
        outcome: str,
        reason: str = "",
        error: str | None = None,
    ) -> None:
        """Write one audit row, in a transaction of its own, for something decided above us.

        The services audit their own calls; layers above them (the tool runner refusing a
        tool outside an agent's allow-list, or auditing reads) record what they decided here,
        in the same audit log.

        Args:
            operation: the tool or operation name.
            arguments: the call's arguments (made JSON-safe).
            actor: who asked (with the call's origin, if any).
            outcome: `denied`, `ok`, `error`, ...
            reason: why, in a sentence.
            error: the refusal's message, if any.
        """
        self._insert_audit(
            actor=actor,
            actor_name=actor.name,
            agent=actor.agent,
            operation=operation,
            arguments=json.loads(json.dumps(dict(arguments), default=str)),
            outcome=outcome,
            reason=reason,
            idempotency_key=None,
            error=error,
        )

    def _require_approval(
        self, tx: Tx, needed: bool, reason: str, *, match: str = "effective"
    ) -> int | None:
        """Raise `ApprovalRequired` unless not `needed` or an approved approval covers this call.

        The approval is `tx.approval_id` if given, else the one recorded for this call's
        idempotency key (a call re-run after the decision finds its own approval: no second
        one is ever recorded). It must be for this tool and these arguments (the approved ones,
        after an edit), approved, and unused; it is consumed (good for one write) in the same
        transaction.

        Args:
            tx: the transaction.
            needed: whether this call crossed a threshold.
            reason: why, with the figures (shown to the human).
            match: `effective` (default): the call must carry the approved arguments (the
                edited ones after an edit); `requested`: the arguments as first asked (a gate,
                whose caller reads the edit from the result).

        Returns:
            The id of the approval consumed, or None when none was needed.

        Raises:
            ApprovalRequired: no approval yet, or it is still pending.
            ApprovalRejected: a human rejected it.
            PermissionDenied: it was given for another call, or was used already.
        """
        if not needed:
            return None
        who = tx.actor.agent or tx.actor.name
        if tx.approval_id is not None:
            row = (
                tx.conn.execute(select(APPROVAL).where(APPROVAL.c.id == tx.approval_id))
                .mappings()
                .first()
            )
            if row is None:
                raise NotFound(
                    "approval", tx.approval_id, "pass the approval_id of ApprovalRequired"
                )
        elif tx.key is not None:
            row = (
                tx.conn.execute(
                    select(APPROVAL)
                    .where(APPROVAL.c.idempotency_key == tx.key)
                    .order_by(APPROVAL.c.id.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
            if row is None:
                raise ApprovalRequired(tx.operation, tx.args, reason)
        else:
            raise ApprovalRequired(tx.operation, tx.args, reason)
        approval_id = int(row["id"])
        origin = tx.actor.origin if isinstance(tx.actor.origin, CallOrigin) else None
        tool = origin.tool if origin and origin.tool else tx.operation
        actual = dict(origin.tool_arguments) if origin and origin.tool_arguments else dict(tx.args)
        expected = row["arguments"]
        if match == "effective" and row["approved_arguments"] is not None:
            expected = row["approved_arguments"]
        if row["tool"] != tool or canonical_json(expected) != canonical_json(actual):
            raise PermissionDenied(
                who,
                tx.operation,
                f"approval {approval_id} was given for {row['tool']} with "
                f"{canonical_json(expected)}, not for this call; ask for a new approval",
            )
        if row["status"] == ApprovalStatus.PENDING:
            raise ApprovalRequired(
                tool,
                actual,
                f"{reason}; approval {approval_id} is still pending a human decision",
                approval_id=approval_id,
            )
        if row["status"] == ApprovalStatus.REJECTED:
            raise ApprovalRejected(
                who, tx.operation, approval_id, row["decided_by"], row["decision_note"] or ""
            )
        if row["status"] != ApprovalStatus.APPROVED:
            raise PermissionDenied(who, tx.operation, f"approval {approval_id} was {row['status']}")
        used = tx.conn.execute(
            update(APPROVAL)
            .where(
                APPROVAL.c.id == approval_id,
                APPROVAL.c.status == ApprovalStatus.APPROVED.value,
                APPROVAL.c.consumed_at.is_(None),
            )
            .values(consumed_at=tx.now)
        ).rowcount
        if used != 1:
            raise PermissionDenied(
                who,
                tx.operation,
                f"approval {approval_id} was already used for one write; ask for a new one",
            )
        tx.approval_used = True
        return approval_id

    @staticmethod
    def _consume_bound_approval(tx: Tx) -> None:
        """Use up the approval this call carried even though it turned out not to need it.

        A person can edit a call below its threshold (approve 40 units instead of 60): the
        write then needs no approval, but the decision was for this call and must not stay
        usable for another one.
        """
        if tx.key is None:
            return
        tx.conn.execute(
            update(APPROVAL)
            .where(
                APPROVAL.c.id == tx.approval_id,
                APPROVAL.c.idempotency_key == tx.key,
                APPROVAL.c.status == ApprovalStatus.APPROVED.value,
                APPROVAL.c.consumed_at.is_(None),
            )
            .values(consumed_at=tx.now)
        )

    # -- shared checks --------------------------------------------------------------------

    @staticmethod
    def _staff_only(tx: Tx) -> None:
        """Refuse customer-scoped actors: stock, procurement and the like are staff work."""
        if tx.actor.customer_id is not None:
            raise PermissionDenied(
                tx.actor.agent or tx.actor.name,
                tx.operation,
                f"customer {tx.actor.customer_id}'s runs may act only on their own orders, "
                "returns and tickets",
            )

    @staticmethod
    def _own_customer(tx: Tx, customer_id: int, what: str) -> None:
        """Refuse a customer-scoped actor acting on another customer's records.

        The refusal is a `HiddenRecord`: the same answer as a missing id (customers cannot
        probe which ids exist); the audit log records it as denied, with the real reason.

        Args:
            tx: the transaction.
            customer_id: the record's owner.
            what: `"<entity> <id>"`, e.g. `"order 12"`.
        """
        if tx.actor.customer_id is not None and tx.actor.customer_id != customer_id:
            entity, _, key = what.rpartition(" ")
            entity = entity or what
            raise HiddenRecord(
                entity,
                int(key) if key.isdigit() else key,
                f"{what} belongs to another customer, not customer {tx.actor.customer_id}",
                HINTS.get(entity, ""),
            )

    @staticmethod
    def _product(conn: Connection, sku: str) -> Any:
        row = conn.execute(
            select(
                PRODUCT.c.sku, PRODUCT.c.price_cents, PRODUCT.c.cost_cents, PRODUCT.c.active
            ).where(PRODUCT.c.sku == sku)
        ).first()
        if row is None:
            raise UnknownSku(sku)
        return row

    @staticmethod
    def _location(conn: Connection, code: str) -> None:
        if conn.execute(select(LOCATION.c.code).where(LOCATION.c.code == code)).first() is None:
            raise NotFound("location", code, "list locations with get_stock or the seed data")

    @staticmethod
    def _driver_failure(
        operation: str, attempt: int, state: str | None, exc: BaseException
    ) -> StoreError:
        """The domain error for a database error the write could not get past.

        Never the driver's message: it can quote row values.
        """
        if state is not None and state.startswith("22"):
            # Data exception: a value the column cannot hold slipped past validation.
            return InvalidInput(
                "arguments",
                f"SQLSTATE {state}",
                "a value does not fit the store's columns (too large, or a character the "
                "database cannot store); nothing was changed",
            )
        if state in _RETRYABLE_SQLSTATES:
            cause = "deadlock" if state == "40P01" else "serialization failure"
        else:
            cause = f"{type(exc).__name__}" + (f", SQLSTATE {state}" if state else "")
        return WriteConflict(operation, attempt, cause)

    def _locked(self, conn: Connection, table: Table, entity: str, key: int) -> Any:
        """The row with id `key`, locked for this transaction on PostgreSQL.

        `FOR NO KEY UPDATE`: it blocks other writers of the row but not the key-share locks
        that inserting a row referencing it takes (a reservation for an order), so a write
        holding a stock row never waits on an order row's lock for its foreign key.
        """
        stmt = select(table).where(table.c.id == key)
        if self._postgres:
            stmt = stmt.with_for_update(key_share=True)
        row = conn.execute(stmt).mappings().first()
        if row is None:
            raise NotFound(entity, key, HINTS.get(entity, ""))
        return row

    def _lock_stock(self, tx: Tx, keys: Iterable[tuple[str, str]]) -> None:
        """Lock the stock rows of `keys` up front, in one global order (PostgreSQL).

        The lock order of the write path: the entity row a write is about (order, purchase
        order, return, approval) first, then every stock row the write will touch, all at once,
        ordered by (sku, location), then reservation rows. Two writes then never hold one
        stock row each while waiting for the other's: no deadlocks. A write that touches one
        stock row needs no up-front lock (its guarded UPDATE takes it). Missing rows are not
        created here (a receipt creates its row when it first adds stock).
        """
        if not self._postgres:
            return  # SQLite: BEGIN IMMEDIATE serializes writers
        wanted = sorted(set(keys))
        if len(wanted) < 2:
            return
        tx.conn.execute(_LOCK_STOCK, {"keys_": wanted}).all()

    @staticmethod
    def _move(
        tx: Tx,
        table: Table,
        entity: str,
        key: int,
        current: str,
        target: str,
        **values: Any,
    ) -> None:
        """Move a status from `current` to `target`: checked against TRANSITIONS, then guarded.

        Raises:
            InvalidTransition: the move is not allowed, or another writer moved it first.
        """
        if target not in TRANSITIONS[entity].get(current, frozenset()):
            raise InvalidTransition(entity, key, str(current), str(target))
        moved = tx.conn.execute(
            update(table)
            .where(table.c.id == key, table.c.status == current)
            .values(status=target, **values)
        ).rowcount
        if moved != 1:
            now_status = tx.conn.execute(
                select(table.c.status).where(table.c.id == key)
            ).scalar_one_or_none()
            raise InvalidTransition(entity, key, str(now_status), str(target))

    @staticmethod
    def _insufficient(conn: Connection, sku: str, location: str, qty: int) -> InsufficientStock:
        """Diagnose a failed stock guard: an unknown SKU or location, or too little stock."""
        row = conn.execute(
            select(STOCK.c.on_hand, STOCK.c.reserved).where(
                STOCK.c.sku == sku, STOCK.c.location == location
            )
        ).first()
        if row is None:
            _Core._product(conn, sku)
            _Core._location(conn, location)
            return InsufficientStock(sku, location, qty, 0)
        return InsufficientStock(sku, location, qty, int(row.on_hand) - int(row.reserved))

    @staticmethod
    def _insert_id(conn: Connection, table: Table | Insert, values: Mapping[str, Any]) -> int:
        """Insert one row (into a table, or with a prebuilt INSERT) and return its new id."""
        stmt = table if isinstance(table, Insert) else insert(table)
        pk = conn.execute(stmt, dict(values)).inserted_primary_key
        assert pk is not None
        return int(pk[0])

    @staticmethod
    def _count(conn: Connection, table: Table) -> int:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
