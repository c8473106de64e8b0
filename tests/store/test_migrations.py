"""Alembic: upgrade on an empty database equals create_all, and autogenerate finds no diff."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from orchestrator.store import create_all, make_engine
from orchestrator.store.migrate import (
    MIGRATIONS_DIR,
    current_revision,
    head_revision,
    schema_diff,
    upgrade,
)


def _shape(engine: Engine) -> dict[str, object]:
    insp = inspect(engine)
    shape: dict[str, object] = {}
    for table in sorted(set(insp.get_table_names()) - {"alembic_version"}):
        shape[table] = (
            sorted((c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)),
            sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
            ),
            sorted(
                (*tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in insp.get_foreign_keys(table)
            ),
            insp.get_pk_constraint(table)["constrained_columns"],
        )
    return shape


def _triggers(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))
        return {r[0] for r in rows}


@pytest.fixture
def second_url(store_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'other.db'}"
    return request.getfixturevalue("postgres_url")  # a second fresh database


def test_upgrade_matches_create_all(store_url: str, second_url: str) -> None:
    migrated, created = make_engine(store_url), make_engine(second_url)
    try:
        assert upgrade(migrated) == head_revision()
        create_all(created)
        assert _shape(migrated) == _shape(created)
        assert _triggers(migrated) == _triggers(created) != set()
        assert schema_diff(migrated) == []
        assert schema_diff(created) == []
        assert upgrade(migrated) == head_revision()  # idempotent
    finally:
        migrated.dispose()
        created.dispose()


def test_create_all_stamps_the_newest_revision(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        create_all(engine)
        assert current_revision(engine) == head_revision()
        assert upgrade(engine) == head_revision()  # nothing to do
        create_all(engine)  # and again: idempotent
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_upgrade_adopts_an_unversioned_initial_database(store_url: str) -> None:
    # Databases made by create_all before the store was versioned have the initial tables
    # and no alembic_version: upgrade stamps them initial and migrates from there.
    engine = make_engine(store_url)
    try:
        assert upgrade(engine, "0001_initial") == "0001_initial"
        with engine.begin() as conn:
            conn.execute(text("DROP TABLE alembic_version"))
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        assert schema_diff(engine) == []
    finally:
        engine.dispose()


def test_runtime_revision_keeps_every_row(store_url: str) -> None:
    """0001 -> 0002: approvals, audit rows and idempotency records survive, new columns null."""
    engine = make_engine(store_url)
    try:
        upgrade(engine, "0001_initial")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO approval (tool, arguments, reason, status, actor, created_at) "
                    "VALUES ('adjust_stock', '{\"delta\": 60}', 'big', 'pending', 'ann', "
                    "CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, actor, operation, arguments, outcome, reason) "
                    "VALUES (CURRENT_TIMESTAMP, 'ann', 'adjust_stock', '{}', 'ok', '')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO idempotency_record (key, operation, request_hash, result, "
                    "created_at) VALUES ('k1', 'adjust_stock', 'h', '{}', CURRENT_TIMESTAMP)"
                )
            )
        assert upgrade(engine) == head_revision()
        with engine.connect() as conn:
            approval = conn.execute(
                text("SELECT tool, status, idempotency_key, approved_arguments FROM approval")
            ).one()
            audit = conn.execute(text("SELECT operation, thread_id FROM audit_log")).one()
            record = conn.execute(text("SELECT key, principal FROM idempotency_record")).one()
        assert tuple(approval) == ("adjust_stock", "pending", None, None)
        assert tuple(audit) == ("adjust_stock", None)
        assert tuple(record) == ("k1", None)
        assert schema_diff(engine) == []
        assert "append-only" in _append_only_refusal(engine)
    finally:
        engine.dispose()


def _append_only_refusal(engine: Engine) -> str:
    try:
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM audit_log"))
    except Exception as exc:
        return str(exc)
    return "audit_log accepted a DELETE"


def test_cli_db_upgrade(store_url: str) -> None:
    from orchestrator.cli import app

    result = CliRunner().invoke(app, ["db", "upgrade", "--db", store_url])
    assert result.exit_code == 0, result.output
    assert head_revision() in result.output
    assert current_revision(store_url) == head_revision()


def test_migrations_ship_inside_the_package() -> None:
    assert (MIGRATIONS_DIR / "env.py").is_file()
    assert (MIGRATIONS_DIR / "script.py.mako").is_file()
    assert any(MIGRATIONS_DIR.joinpath("versions").glob("0001_*.py"))
