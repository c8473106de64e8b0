"""The index of graph runs (`graph_run`): which graph, for whom, in what state, per thread.

Written by `orchestrator.runtime.Orchestrator` as runs start, pause and finish; read by
`orchestrator runs list|show` and by `Orchestrator.resume` in any process, which needs the
run's graph and context to resume it. It holds no domain data: the run's state lives in the
checkpointer, its writes in the audit log (`audit_log.thread_id`).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Table, insert, select, update
from sqlalchemy.engine import Engine

from orchestrator.errors import NotFound
from orchestrator.store.models import GraphRun, utcnow

__all__ = ["RunIndex", "RunView"]

_RUNS = cast(Table, GraphRun.__table__)  # type: ignore[attr-defined]


class RunView(BaseModel):
    """One row of the run index."""

    model_config = ConfigDict(frozen=True)

    thread_id: str
    graph: str
    status: str
    """`running`, `waiting`, `completed` or `failed`."""
    actor: str
    customer_id: int | None
    channel: str
    tenant: str | None
    error: str | None
    created_at: datetime
    updated_at: datetime


class RunIndex:
    """Reads and writes `graph_run` rows on the store's engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def start(
        self,
        thread_id: str,
        graph: str,
        *,
        actor: str,
        customer_id: int | None,
        channel: str,
        tenant: str | None,
    ) -> None:
        """Record a run as `running` (a new thread, or another turn of a known one).

        Raises:
            ConfigError: the thread belongs to another graph or another principal.
        """
        from orchestrator.errors import ConfigError

        now = utcnow()
        with self.engine.begin() as conn:
            row = conn.execute(select(_RUNS).where(_RUNS.c.thread_id == thread_id)).mappings()
            found = row.first()
            if found is None:
                conn.execute(
                    insert(_RUNS),
                    {
                        "thread_id": thread_id,
                        "graph": graph,
                        "status": "running",
                        "actor": actor,
                        "customer_id": customer_id,
                        "channel": channel,
                        "tenant": tenant,
                        "error": None,
                        "created_at": now,
                        "updated_at": now,
                    },
                )
                return
            if found["graph"] != graph:
                raise ConfigError(
                    f"thread {thread_id!r} is a run of graph {found['graph']!r}, not {graph!r}; "
                    "use a new thread id"
                )
            if found["customer_id"] != customer_id:
                raise ConfigError(
                    f"thread {thread_id!r} belongs to another customer; use a new thread id"
                )
            conn.execute(
                update(_RUNS)
                .where(_RUNS.c.thread_id == thread_id)
                .values(status="running", error=None, updated_at=now)
            )

    def finish(self, thread_id: str, status: str, error: str | None = None) -> None:
        """Record where a run stopped: `waiting`, `completed` or `failed`."""
        with self.engine.begin() as conn:
            conn.execute(
                update(_RUNS)
                .where(_RUNS.c.thread_id == thread_id)
                .values(status=status, error=error[:2000] if error else None, updated_at=utcnow())
            )

    def get(self, thread_id: str) -> RunView:
        """One run.

        Raises:
            NotFound: no run has that thread id.
        """
        with self.engine.connect() as conn:
            row = (
                conn.execute(select(_RUNS).where(_RUNS.c.thread_id == thread_id)).mappings().first()
            )
        if row is None:
            raise NotFound("run", thread_id, "list runs with `orchestrator runs list`")
        return RunView(**dict(row))

    def list(
        self,
        *,
        status: str | None = None,
        graph: str | None = None,
        customer_id: int | None = None,
        limit: int = 50,
    ) -> list[RunView]:
        """Runs, newest first, filtered by status, graph or customer."""
        stmt: Any = select(_RUNS)
        if status is not None:
            stmt = stmt.where(_RUNS.c.status == status)
        if graph is not None:
            stmt = stmt.where(_RUNS.c.graph == graph)
        if customer_id is not None:
            stmt = stmt.where(_RUNS.c.customer_id == customer_id)
        stmt = stmt.order_by(_RUNS.c.updated_at.desc(), _RUNS.c.thread_id).limit(max(1, limit))
        with self.engine.connect() as conn:
            return [RunView(**dict(r)) for r in conn.execute(stmt).mappings()]
