"""Every command fails the same way: one line naming the cause and the fix, a documented code.

The commands are found by walking the `orchestrator` app, so a command group added later is
run against the same causes without touching this file: a bad setting (every command), a
PostgreSQL database that does not exist and a server that does not answer (every command
with a `--db` option), a store without tables (the commands that only read it).
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.main import get_command
from typer.testing import CliRunner

from orchestrator import errors
from orchestrator.backends import LocalServerError
from orchestrator.cli import ExitCode, app
from orchestrator.cli._failures import describe_failure

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FILE = ROOT / "tests" / "store" / "fixtures" / "products_good.csv"

SETTINGS_FREE = {("version",)}
"""Commands that read no settings, so a bad setting cannot stop them."""

READ_ONLY = {("check-invariants",)}
"""Commands that only read a store: they must not create one."""


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in sorted(group.commands.items()):
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield (*path, name), command


COMMANDS = list(_commands(get_command(app)))
DB_COMMANDS = [(p, c) for p, c in COMMANDS if any("--db" in q.opts for q in c.params)]


def _sample(param: Any) -> str:
    """A plausible value for a required parameter, from its annotation."""
    import enum
    import typing

    descriptor = getattr(param, "type_descriptor", None)
    annotation = getattr(descriptor, "annotation", str)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return str(next(iter(annotation)).value)
    if typing.get_origin(annotation) is typing.Literal:
        return str(typing.get_args(annotation)[0])
    if annotation in (int, float):
        return "1"
    if annotation is Path or "file" in str(param.name):
        return str(SAMPLE_FILE)
    return "x"


def _argv(path: tuple[str, ...], command: Any, *extra: str) -> list[str]:
    argv = list(path)
    for param in command.params:
        if not param.required:
            continue
        if param.param_type_name == "argument":
            argv.append(_sample(param))
        else:
            argv += [param.opts[0], _sample(param)]
    return [*argv, *extra]


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run the CLI in an empty directory, with a private cache and a store under tmp_path."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in __import__("os").environ if n.upper().startswith("ORCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("ORCH_STORE__URL", f"sqlite:///{tmp_path / 'default.db'}")

    def invoke(argv: list[str], **env: str) -> Any:
        return CliRunner().invoke(app, argv, env=env)

    return invoke


def _ids(items: list[tuple[tuple[str, ...], Any]]) -> list[str]:
    return [" ".join(p) for p, _ in items]


def _one_error_line(result: Any) -> str:
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]


def test_the_walk_finds_every_command() -> None:
    names = set(_ids(COMMANDS))
    assert {"seed", "demo", "check-invariants", "db upgrade", "local-model status"} <= names
    assert {"import locations", "import opening-stock", "import sales"} <= names


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ORCH_MODELS__GRAPHS", "{bad json"),
        ("ORCH_LOCAL_MODEL__PORT", "abc"),
        ("ORCH_MODELS__DEFAULT", "nonsense:x"),
    ],
    ids=["bad-json", "bad-port", "unknown-model"],
)
@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=_ids(COMMANDS))
def test_a_bad_setting_stops_every_command_in_one_line(
    run: Any, path: tuple[str, ...], command: Any, variable: str, value: str
) -> None:
    result = run(_argv(path, command), **{variable: value})
    if path in SETTINGS_FREE:
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == ExitCode.USAGE, result.output
    line = _one_error_line(result)
    assert f"invalid setting {variable}={value!r}" in line


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.postgres
@pytest.mark.parametrize(("path", "command"), DB_COMMANDS, ids=_ids(DB_COMMANDS))
def test_a_missing_postgres_database_is_named_with_its_fix(
    run: Any, postgres_admin_url: str, path: tuple[str, ...], command: Any
) -> None:
    base = postgres_admin_url.rsplit("/", 1)[0]
    result = run(_argv(path, command, "--db", f"{base}/orch_no_such_db"))
    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    line = _one_error_line(result)
    assert "database 'orch_no_such_db' does not exist" in line
    assert "createdb orch_no_such_db" in line and "--db" in line


@pytest.mark.postgres
@pytest.mark.parametrize(("path", "command"), DB_COMMANDS, ids=_ids(DB_COMMANDS))
def test_a_postgres_server_that_does_not_answer_is_named(
    run: Any, path: tuple[str, ...], command: Any
) -> None:
    port = _free_port()
    result = run(_argv(path, command, "--db", f"postgresql+psycopg://u@127.0.0.1:{port}/shop"))
    assert result.exit_code == ExitCode.UNAVAILABLE, result.output
    line = _one_error_line(result)
    assert f"no PostgreSQL server answers at 127.0.0.1:{port}" in line


@pytest.mark.parametrize(("path", "command"), DB_COMMANDS, ids=_ids(DB_COMMANDS))
def test_a_bad_db_url_is_a_usage_error(run: Any, path: tuple[str, ...], command: Any) -> None:
    result = run(_argv(path, command, "--db", "mysql://shop"))
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "--db: 'mysql://shop' is neither a SQLite nor a PostgreSQL URL" in _one_error_line(
        result
    )


@pytest.mark.parametrize("path", sorted(READ_ONLY))
def test_a_store_without_tables_says_to_upgrade_and_creates_nothing(
    run: Any, tmp_path: Path, path: tuple[str, ...]
) -> None:
    db = tmp_path / "absent.db"
    result = run([*path, "--db", f"sqlite:///{db}"])
    assert result.exit_code == ExitCode.NO_SCHEMA, result.output
    line = _one_error_line(result)
    assert "does not exist" in line and "orchestrator db upgrade --db sqlite:///" in line
    assert not db.exists()
    assert not list(tmp_path.glob("*.db*"))

    empty = tmp_path / "empty.db"
    empty.touch()
    result = run([*path, "--db", f"sqlite:///{empty}"])
    assert result.exit_code == ExitCode.NO_SCHEMA, result.output
    assert "has no store tables" in _one_error_line(result)
    assert "no such table" not in result.output


@pytest.mark.postgres
def test_a_postgres_store_without_tables_says_to_upgrade(run: Any, postgres_url: str) -> None:
    result = run(["check-invariants", "--db", postgres_url])
    assert result.exit_code == ExitCode.NO_SCHEMA, result.output
    assert "orchestrator db upgrade" in _one_error_line(result)


def test_debug_adds_the_traceback_anywhere_on_the_line(run: Any, tmp_path: Path) -> None:
    argv = ["check-invariants", "--db", f"sqlite:///{tmp_path / 'absent.db'}"]
    for with_debug in ([*argv, "--debug"], ["--debug", *argv]):
        result = run(with_debug)
        assert result.exit_code == ExitCode.NO_SCHEMA
        assert "Traceback (most recent call last)" in result.stderr
        assert "SchemaMissing" in result.stderr
        assert result.stderr.strip().splitlines()[-1].startswith("error: the store")
    result = run(argv, ORCH_DEBUG="1")
    assert "Traceback" in result.stderr


def test_usage_errors_exit_2(run: Any) -> None:
    result = run(["seed", "--skus", "many"])
    assert result.exit_code == ExitCode.USAGE
    result = run(["seed", "--end-date", "yesterday"])
    assert result.exit_code == ExitCode.USAGE
    assert "YYYY-MM-DD" in result.output
    result = run(["import", "products", "missing.csv"])
    assert result.exit_code == ExitCode.USAGE
    assert "no such file" in _one_error_line(result)
    result = run(["import", "products", str(ROOT / "README.md")])
    assert result.exit_code == ExitCode.USAGE
    assert "--format csv" in _one_error_line(result)


def test_a_command_group_added_later_fails_the_same_way(run: Any) -> None:
    """A group registered on `app` like the built-in ones gets the handler for free."""
    later = typer.Typer(name="later")

    @later.command("boom")
    def boom(kind: str = typer.Argument(...)) -> None:
        if kind == "stock":
            raise errors.InsufficientStock("SKU-1", "WH-MAIN", 5, 2)
        if kind == "approval":
            raise errors.ApprovalRequired("refund", {"amount": 500}, "above 100", approval_id=7)
        raise ZeroDivisionError("division by zero")

    app.add_typer(later, name="later")
    try:
        result = run(["later", "boom", "stock"])
        assert result.exit_code == ExitCode.FAILED
        assert "insufficient stock of 'SKU-1'" in _one_error_line(result)
        result = run(["later", "boom", "approval"])
        assert result.exit_code == ExitCode.APPROVAL_REQUIRED
        assert "approval 7 is pending" in _one_error_line(result)
        result = run(["later", "boom", "bug"])
        assert result.exit_code == ExitCode.INTERNAL
        line = _one_error_line(result)
        assert "ZeroDivisionError" in line and "--debug" in line
    finally:
        app.registered_groups = [g for g in app.registered_groups if g.typer_instance is not later]


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (errors.ImportFailed("f.csv", [(2, "bad")]), ExitCode.FAILED),
        (errors.InvariantViolation(["ledger_mismatch"]), ExitCode.FAILED),
        (errors.InsufficientStock("S", "L", 2, 1), ExitCode.FAILED),
        (errors.UnknownSku("S"), ExitCode.FAILED),
        (errors.InvalidTransition("order", 1, "placed", "draft"), ExitCode.FAILED),
        (errors.StructuredOutputError("no valid output"), ExitCode.FAILED),
        (errors.ConfigError("bad"), ExitCode.USAGE),
        (errors.InvalidInput("qty", 0, "at least 1"), ExitCode.USAGE),
        (FileNotFoundError(2, "No such file or directory", "x.gguf"), ExitCode.USAGE),
        (errors.BackendUnavailable("nothing answers"), ExitCode.UNAVAILABLE),
        (errors.BackendTimeout("slow"), ExitCode.UNAVAILABLE),
        (LocalServerError("exited", "last line"), ExitCode.UNAVAILABLE),
        (ConnectionRefusedError("refused"), ExitCode.UNAVAILABLE),
        (errors.SchemaMissing("sqlite:///x.db", []), ExitCode.NO_SCHEMA),
        (errors.ApprovalRequired("refund", {}, "above 100"), ExitCode.APPROVAL_REQUIRED),
        (errors.PermissionDenied("support", "refund", "not allowed"), ExitCode.PERMISSION_DENIED),
        (KeyError("x"), ExitCode.INTERNAL),
        (KeyboardInterrupt(), ExitCode.INTERRUPTED),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_every_error_kind_has_its_code(exc: BaseException, code: ExitCode) -> None:
    failure = describe_failure(exc)
    assert failure.code == code
    assert "\n" not in failure.message and failure.message


def test_database_errors_are_classified() -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    def wrap(message: str) -> OperationalError:
        return OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))

    missing = describe_failure(wrap("no such table: stock"))
    assert missing.code == ExitCode.NO_SCHEMA and "orchestrator db upgrade" in missing.message
    older = describe_failure(wrap("no such column: audit_log.thread_id"))
    assert older.code == ExitCode.NO_SCHEMA and "older" in older.message
    locked = describe_failure(wrap("database is locked"))
    assert locked.code == ExitCode.UNAVAILABLE and "BUSY_TIMEOUT" in locked.message
    other = describe_failure(wrap("disk I/O error"))
    assert other.code == ExitCode.INTERNAL and "--debug" in other.message


def test_the_readme_documents_every_exit_code() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Exit codes", 1)[1].split("\n#", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| `?(\d+)`? \|", section, re.MULTILINE)}
    assert documented == {int(code) for code in ExitCode}


def test_wide_tables_keep_identifiers_whole_when_piped(run: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'shop.db'}"
    seeded = run(["seed", "--db", db, "--skus", "30", "--days", "60", "-q"])
    assert seeded.exit_code == 0, seeded.output
    result = run(["check-invariants", "--db", db])
    assert result.exit_code == ExitCode.FAILED
    assert "…" not in result.stdout
    for rule in (
        "negative_on_hand",
        "negative_available",
        "ledger_mismatch",
        "orphan_reservation",
        "stuck_transaction",
        "duplicate_posting",
    ):
        assert re.search(rf"│ {rule}\s+│ \w+\s+│ \S+@?\S*\s+│", result.stdout), rule
    assert "…" not in seeded.stdout
