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


def test_upgrade_adopts_a_create_all_database(store_url: str) -> None:
    engine = make_engine(store_url)
    try:
        create_all(engine)
        assert current_revision(engine) is None
        assert upgrade(engine) == head_revision()
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


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
