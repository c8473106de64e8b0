"""How every `orchestrator` command fails: one line naming the cause and the fix, one exit code.

`OrchestratorGroup` is the click group class of the root `app`. Every command, including the
command groups other modules add later with `app.add_typer(...)` or `app.command(...)`, runs
inside its `invoke`, so an exception any of them raises is turned here into one line on
stderr and an exit code from `ExitCode`. Commands therefore raise (the `orchestrator.errors`
tree, or whatever their libraries raise) and never catch an error just to print it.

`--debug` (anywhere on the command line) or `ORCH_DEBUG=1` prints the traceback as well; the
exit code stays the same.
"""

from __future__ import annotations

import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

import typer
from typer.core import TyperGroup

__all__ = ["ExitCode", "Failure", "OrchestratorGroup", "describe_failure"]


class ExitCode(IntEnum):
    """The exit codes of every `orchestrator` command (documented in the README)."""

    OK = 0
    """Done; every check held."""
    FAILED = 1
    """A check failed or the request was refused: invariant violations, an import with bad
    rows, the demo's checks, insufficient stock, an id that names nothing."""
    USAGE = 2
    """A bad option, argument, file name or setting (`ORCH_*`, `.env`)."""
    UNAVAILABLE = 3
    """A service did not answer: the database server or database, a model server."""
    NO_SCHEMA = 4
    """The store does not exist or its schema is missing or older: run `orchestrator db upgrade`."""
    APPROVAL_REQUIRED = 5
    """A write is held for a human's approval; nothing was changed yet."""
    PERMISSION_DENIED = 6
    """The actor or agent may not do this; the refusal was audited."""
    INTERNAL = 70
    """A bug: an error nobody anticipated (rerun with `--debug` and report the traceback)."""
    INTERRUPTED = 130
    """Stopped with Ctrl-C."""


@dataclass(frozen=True)
class Failure:
    """What to print and which code to exit with for one exception."""

    code: ExitCode
    message: str
    """One line: what went wrong, with the offending value, and what to do."""
    details: list[str] = field(default_factory=list)
    """Further lines worth showing (an import's bad rows, a server's last output)."""


_MAX_DETAILS = 100
_DB_FIX = "or fix --db / ORCH_STORE__URL"


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def describe_failure(exc: BaseException) -> Failure:
    """Map an exception to its exit code and its one-line message (and any detail lines)."""
    from orchestrator import errors

    if isinstance(exc, KeyboardInterrupt):
        return Failure(ExitCode.INTERRUPTED, "interrupted")
    if isinstance(exc, errors.ImportFailed):
        rows = [f"line {line}: {message}" for line, message in exc.errors]
        if len(rows) > _MAX_DETAILS:
            rows = [*rows[:_MAX_DETAILS], f"... and {len(rows) - _MAX_DETAILS} more"]
        return Failure(
            ExitCode.FAILED,
            f"{exc.source}: {len(exc.errors)} bad row(s); nothing was imported. "
            "Fix the rows below and import the file again",
            rows,
        )
    if isinstance(exc, errors.OrchestratorError):
        return _domain(exc)
    db = _database(exc)
    if db is not None:
        return db
    settings = _settings_error(exc)
    if settings is not None:
        return settings
    if isinstance(exc, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        return Failure(ExitCode.USAGE, f"{exc.strerror or exc}: {exc.filename!s}; check the path")
    if isinstance(exc, PermissionError):
        return Failure(
            ExitCode.FAILED,
            f"permission denied: {exc.filename!s}; check the file's owner and mode",
        )
    if isinstance(exc, ConnectionError | TimeoutError) or _is_http_connect_error(exc):
        return Failure(
            ExitCode.UNAVAILABLE,
            f"could not connect: {_one_line(str(exc)) or type(exc).__name__}; check that the "
            "service is running and its URL in the settings",
        )
    return Failure(
        ExitCode.INTERNAL,
        f"internal error: {type(exc).__name__}: {_one_line(str(exc))[:300]}. This is a bug: "
        "rerun with --debug and report the traceback",
    )


def _domain(exc: BaseException) -> Failure:
    from orchestrator import errors

    text = str(exc)
    first, _, rest = text.partition("\n")
    details = [line for line in rest.splitlines() if line.strip()]
    if isinstance(exc, errors.SchemaMissing):
        return Failure(ExitCode.NO_SCHEMA, _one_line(text))
    if isinstance(exc, errors.ConfigError | errors.InvalidInput):
        return Failure(ExitCode.USAGE, _one_line(text))
    if isinstance(exc, errors.ApprovalRequired):
        pending = f" (approval {exc.approval_id} is pending)" if exc.approval_id else ""
        return Failure(
            ExitCode.APPROVAL_REQUIRED,
            f"{_one_line(text)}{pending}; nothing was changed: a person must approve it first",
        )
    if isinstance(exc, errors.PermissionDenied):
        return Failure(ExitCode.PERMISSION_DENIED, _one_line(text))
    if isinstance(exc, errors.BackendUnavailable | errors.BackendTimeout):
        return Failure(ExitCode.UNAVAILABLE, _one_line(first), details)
    return Failure(ExitCode.FAILED, _one_line(first), details)


def _settings_error(exc: BaseException) -> Failure | None:
    """Settings built without `load_settings` (which names the variable itself)."""
    pydantic_settings = sys.modules.get("pydantic_settings")
    if pydantic_settings is not None and isinstance(exc, pydantic_settings.SettingsError):
        return Failure(
            ExitCode.USAGE,
            f"invalid settings: {_one_line(str(exc))} ({_one_line(str(exc.__cause__ or ''))}); "
            "check the ORCH_* variables and .env",
        )
    pydantic = sys.modules.get("pydantic")
    if pydantic is not None and isinstance(exc, pydantic.ValidationError):
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(part) for part in first["loc"]) or exc.title
        return Failure(
            ExitCode.USAGE,
            f"invalid value for {where}: {first['msg']} ({exc.error_count()} error(s) in "
            f"{exc.title}); fix the value",
        )
    return None


def _is_http_connect_error(exc: BaseException) -> bool:
    httpx = sys.modules.get("httpx")
    return httpx is not None and isinstance(exc, httpx.TransportError)


# --- database errors ----------------------------------------------------------------------

_PG_SERVER = re.compile(r'(?:server at|connection to server on socket) "([^"]+)"(?:.*?port (\d+))?')
_PG_DATABASE = re.compile(r'database "([^"]+)" does not exist')
_PG_ROLE = re.compile(r'role "([^"]+)" does not exist')
_NO_TABLE = re.compile(r'no such table: (\S+)|relation "([^"]+)" does not exist')
_NO_COLUMN = re.compile(
    r"no such column: (\S+)|has no column named (\S+)|column (\S+) does not exist"
)


def _database(exc: BaseException) -> Failure | None:
    """SQLAlchemy, psycopg and sqlite3 errors, without importing any of them."""
    orig: Any = exc
    sa_exc = sys.modules.get("sqlalchemy.exc")
    if sa_exc is not None and isinstance(exc, sa_exc.DBAPIError) and exc.orig is not None:
        orig = exc.orig
    elif sa_exc is not None and isinstance(exc, sa_exc.SQLAlchemyError):
        return Failure(
            ExitCode.INTERNAL,
            f"database error: {_one_line(str(exc))[:300]}. Rerun with --debug for the traceback",
        )
    module = type(orig).__module__
    if not (module.startswith("psycopg") or module == "sqlite3"):
        return None
    text = str(orig).strip()
    line = _one_line(text.splitlines()[0] if text else type(orig).__name__)
    sqlstate = getattr(orig, "sqlstate", None)

    table = _NO_TABLE.search(text)
    if sqlstate == "42P01" or table:
        name = next((g for g in table.groups() if g), "?") if table else "?"
        return Failure(
            ExitCode.NO_SCHEMA,
            f"the store has no table {name!r}: create or migrate its schema with "
            "`orchestrator db upgrade` (with the same --db / ORCH_STORE__URL)",
        )
    column = _NO_COLUMN.search(text)
    if sqlstate == "42703" or column:
        return Failure(
            ExitCode.NO_SCHEMA,
            f"the store's schema is older than this version ({line}): migrate it with "
            "`orchestrator db upgrade` (with the same --db / ORCH_STORE__URL)",
        )

    server = _PG_SERVER.search(text)
    where = f"{server.group(1)}:{server.group(2) or 5432}" if server else "the configured server"
    if database := _PG_DATABASE.search(text):
        name = database.group(1)
        return Failure(
            ExitCode.UNAVAILABLE,
            f"PostgreSQL database {name!r} does not exist on {where}: create it "
            f"(`createdb {name}`, then `orchestrator db upgrade`), {_DB_FIX}",
        )
    if role := _PG_ROLE.search(text):
        return Failure(
            ExitCode.UNAVAILABLE,
            f"PostgreSQL role {role.group(1)!r} does not exist on {where}: create it, or put "
            f"another user in the URL ({_DB_FIX})",
        )
    if "password authentication failed" in text or "no password supplied" in text:
        return Failure(
            ExitCode.UNAVAILABLE,
            f"PostgreSQL at {where} refused the login ({line}): check the user and password "
            f"in the URL, {_DB_FIX}",
        )
    if any(
        marker in text
        for marker in (
            "Connection refused",
            "could not connect",
            "No such file or directory",
            "timeout expired",
            "Name or service not known",
            "could not translate host",
        )
    ):
        return Failure(
            ExitCode.UNAVAILABLE,
            f"no PostgreSQL server answers at {where} ({line}): start it, {_DB_FIX}",
        )
    if module == "sqlite3" and "unable to open database file" in text:
        return Failure(
            ExitCode.UNAVAILABLE,
            f"cannot open the SQLite database ({line}): check the file's path and permissions, "
            f"{_DB_FIX}",
        )
    if module == "sqlite3" and "database is locked" in text:
        return Failure(
            ExitCode.UNAVAILABLE,
            "the SQLite database is locked by another process: retry when it has finished, or "
            "raise ORCH_STORE__BUSY_TIMEOUT_MS",
        )
    if type(orig).__name__ == "OperationalError" and "FATAL" in text:
        return Failure(
            ExitCode.UNAVAILABLE, f"PostgreSQL at {where}: {line}; {_DB_FIX.removeprefix('or ')}"
        )
    return Failure(
        ExitCode.INTERNAL,
        f"database error: {type(orig).__name__}: {line[:300]}. This is a bug: rerun with "
        "--debug and report the traceback",
    )


# --- the group ------------------------------------------------------------------------------

DEBUG_FLAG = "--debug"


def _hoist_debug(args: Sequence[str]) -> list[str]:
    """Move `--debug` to the front, so that it may be written after the command too."""
    args = list(args)
    end = args.index("--") if "--" in args else len(args)
    if DEBUG_FLAG not in args[:end]:
        return args
    head = [a for a in args[:end] if a != DEBUG_FLAG]
    return [DEBUG_FLAG, *head, *args[end:]]


def report_failure(failure: Failure) -> None:
    """Print a failure to stderr: the one line, then its detail lines indented."""
    typer.secho(f"error: {failure.message}", err=True, fg=typer.colors.RED)
    for line in failure.details:
        typer.echo(f"  {line}", err=True)


class OrchestratorGroup(TyperGroup):
    """The root command group: runs every command and turns its errors into `Failure`s."""

    def main(self, args: Sequence[str] | None = None, *rest: Any, **kwargs: Any) -> Any:
        argv = sys.argv[1:] if args is None else args
        return super().main(_hoist_debug(argv), *rest, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException, BrokenPipeError):
            # Exit codes, usage errors (2), help, and a closed pipe (`| head`): typer's own.
            raise
        except (Exception, KeyboardInterrupt) as exc:
            failure = describe_failure(exc)
            if ctx.params.get("debug"):
                traceback.print_exception(exc, file=sys.stderr)
            report_failure(failure)
            raise typer.Exit(int(failure.code)) from None
